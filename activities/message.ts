// Stage of a decision for signals and updates: who sent this message, according to a proof the
// sender signed and the server's own record of the message. The run's grant is the parent (the
// message acts inside that run's tree), the sender is the principal (it decides what the message
// may do). Everything compared here comes from the server: the message's name, update id,
// arguments, proof header and delivery time are read from the run's history, and the request's
// claims of them must match.
import { CLOCK_SKEW_MS, verifySignedArtifact, type Ed25519 } from '../src/artifact/artifact';
import type { TrustBundle } from '../src/artifact/trust-bundle';
import { DenyCodes } from '../src/common/constants';
import type { AuthorizationRequest } from '../src/common/schemas';
import { verifyApiKeySignature, verifyMessageProof, type ProvenIdentity } from '../src/identity/proof';
import { SignedMessageProofSchema } from '../src/identity/schema';
import { ARTIFACT_TYPE } from '../src/common/schemas';
import { intersectRoles, revocationProblem, type IdentitySnapshot } from '../src/identity/snapshot';
import type { CallerFacts, DeliveredMessage, MessageLookup } from './caller';
import { describeClaim, sameDocument } from './claims';
import { canonicalize } from '../src/common/canonical';
import { sha256Hex } from '../src/common/digest';

/** How much older than its delivery a message proof may be (default 5 minutes). */
export const DEFAULT_MESSAGE_PROOF_MAX_AGE_MS = 5 * 60_000;

export interface MessageFacts {
  readonly request: AuthorizationRequest & { readonly action: 'signal' | 'update' };
  readonly caller: CallerFacts;
  /** The run's task queue, from its run grant (which the server's start event bound). */
  readonly runTaskQueue: string;
  readonly snapshot: IdentitySnapshot;
  readonly at: number;
  readonly ed25519: Ed25519;
  /** Verifies the run grant a sending workflow attaches to its signals. */
  readonly trustBundle: TrustBundle;
  readonly maxAgeMs: number;
  readonly readMessage: (caller: CallerFacts, lookup: MessageLookup) => Promise<DeliveredMessage[]>;
  readonly claim: (claim: { _id: string; workflowId: string; runId: string; messageId: string }) => Promise<'claimed' | 'same' | 'replayed'>;
}

type Denied = { readonly code: string; readonly reason: string; readonly principal?: string };

const mismatch = (field: string, claimed: unknown, actual: unknown): Denied => ({
  code: DenyCodes.claimMismatch,
  reason: `the request claims ${field} ${describeClaim(claimed)} but the Temporal server recorded ${describeClaim(actual)}; governance acts on the server's record only`,
});

/** The sender of a signal or update, proven and claimed once, or why not. */
export async function proveSender(facts: MessageFacts): Promise<Denied | ProvenIdentity> {
  const { request, caller } = facts;
  const kind = request.action;
  if (request.messageId === null) return { code: DenyCodes.malformedRequest, reason: `a ${kind} authorization names its message (messageId)` };
  if (request.taskQueue !== facts.runTaskQueue) return mismatch('taskQueue', request.taskQueue, facts.runTaskQueue);
  if (request.proof === null || request.proof === undefined) {
    return {
      code: DenyCodes.unauthenticated,
      reason: `the ${kind} ${JSON.stringify(request.target)} was sent without an API key proof (send it through a client with GovernancePlugin, or \`temporal-governance workflow ${kind}\`)`,
    };
  }
  // A junk or dead proof is refused before the history is read (a reverse scan costs the server):
  // what is checked here is checked again, against the server's record, below.
  const early = earlyProofProblem(facts, request.proof, kind);
  if (early) return early;
  const candidates = await facts.readMessage(
    caller,
    kind === 'update' ? { kind, updateId: request.messageId } : { kind, proof: request.proof, name: request.target, argsDigest: request.argsDigest },
  );
  const delivered = candidates[0];
  if (!delivered) {
    return {
      code: DenyCodes.claimMismatch,
      reason: `the Temporal server recorded no ${kind} ${kind === 'update' ? `with update id ${describeClaim(request.messageId)}` : 'carrying this proof'} in run ${caller.runId}; governance acts on the server's record only`,
    };
  }
  if (delivered.name !== request.target) return mismatch('target', request.target, delivered.name);
  if (!sameDocument(request.proof, delivered.proof)) return mismatch('proof', request.proof, delivered.proof);
  if ('error' in delivered.args) return { code: DenyCodes.malformedRequest, reason: `the ${kind}'s input has no argument digest: ${delivered.args.error}` };
  if (delivered.args.digest !== request.argsDigest) return mismatch('argsDigest', request.argsDigest, delivered.args.digest);

  // Every candidate carries this proof, name and digest; each event admits one message, and a client
  // proof one message at all. A copy cannot borrow a genuine event twice, nor a genuine proof again.
  let refusal: Denied | undefined;
  for (const event of candidates) {
    const sender = event.sender ? senderRun(facts, event.sender, event.proof) : clientSender(facts, event);
    if ('code' in sender) {
      refusal ??= sender;
      continue;
    }
    const claimant = { workflowId: caller.workflowId, runId: caller.runId, messageId: request.messageId };
    const eventKey = `sha256:${sha256Hex(canonicalize(['message-event', caller.namespace, caller.workflowId, caller.runId, event.eventId]))}`;
    if ((await facts.claim({ _id: eventKey, ...claimant })) === 'replayed') {
      refusal ??= { code: DenyCodes.proofReplayed, reason: `this ${kind} was already admitted; one delivery admits one message`, principal: sender.principal };
      continue;
    }
    // A proof copied from history and sent again (to this run or the next one), or claimed by
    // workflow code for another message, is refused; a retry of this authorization is not.
    if (!event.sender && (await facts.claim({ _id: sender.proofId, ...claimant })) === 'replayed') {
      refusal ??= { code: DenyCodes.proofReplayed, reason: `this ${kind} proof was already used; a proof admits one message only`, principal: sender.principal };
      continue;
    }
    return sender;
  }
  return refusal!;
}

/**
 * What can be refused about the claimed proof alone: a client proof that does not parse, names an
 * unknown, revoked or expired key, or does not verify; anything that is neither a client proof nor
 * an artifact (a workflow's signal carries its run grant, checked against the server's sender).
 */
function earlyProofProblem(facts: MessageFacts, proof: unknown, kind: 'signal' | 'update'): Denied | null {
  const parsed = SignedMessageProofSchema.safeParse(proof);
  if (parsed.success) {
    const key = verifyApiKeySignature(parsed.data.payload, parsed.data.signature, facts.snapshot, facts.at, facts.ed25519, `${kind} proof`);
    return 'code' in key ? key : null;
  }
  const typ = (proof as { payload?: { typ?: unknown } } | null)?.payload?.typ;
  if (kind === 'signal' && typ === ARTIFACT_TYPE) return null;
  return { code: DenyCodes.invalidProof, reason: `malformed ${kind} proof` };
}

/** A client's message proof, verified against the message the server recorded. */
function clientSender(facts: MessageFacts, delivered: DeliveredMessage): Denied | ProvenIdentity {
  const { caller } = facts;
  if ('error' in delivered.args) return { code: DenyCodes.malformedRequest, reason: `the input has no argument digest: ${delivered.args.error}` };
  return verifyMessageProof(
    delivered.proof,
    {
      kind: delivered.kind,
      namespace: caller.namespace,
      workflowId: caller.workflowId,
      runId: caller.runId,
      name: delivered.name,
      updateId: delivered.updateId,
      argsDigest: delivered.args.digest,
      deliveredAt: delivered.deliveredAt,
    },
    facts.snapshot,
    facts.at,
    facts.ed25519,
    { maxAgeMs: facts.maxAgeMs, skewMs: CLOCK_SKEW_MS },
  );
}

/**
 * A signal one workflow sent another: the server records the sending run on the signaled event,
 * and the sender attached its run grant. The signal acts on that grant's authority (its principal,
 * credential and roles, less any the principal has lost) if the grant is valid, unrevoked and
 * bound to the very run the server names. No single-use claim: the server alone writes the sender,
 * so the grant cannot be carried by anyone else's signal.
 */
function senderRun(facts: MessageFacts, sender: { workflowId: string; runId: string }, grant: unknown): Denied | ProvenIdentity {
  const verified = verifySignedArtifact(grant, facts.trustBundle, facts.at, facts.ed25519);
  if (!verified.ok) return { code: DenyCodes.invalidProof, reason: `the signal from workflow ${sender.workflowId} carries no valid run grant: ${verified.reason}` };
  const p = verified.value.payload;
  if (p.action !== 'workflow' || p.namespace !== facts.caller.namespace || p.workflowId !== sender.workflowId || p.runId !== sender.runId) {
    return { code: DenyCodes.invalidProof, reason: `the grant on the signal is ${p.action} ${p.id} of ${p.workflowId}/${p.runId}, not the run grant of its sender ${sender.workflowId}/${sender.runId} (as the server recorded it)`, principal: p.principal };
  }
  const revoked = revocationProblem(p, facts.snapshot);
  if (revoked) return { ...revoked, principal: p.principal };
  const current = facts.snapshot.rolesOf(p.principal);
  if (current === undefined) return { code: DenyCodes.unknownPrincipal, reason: `principal ${p.principal} is not known to governance`, principal: p.principal };
  return { keyId: p.credential, principal: p.principal, roles: intersectRoles(p.roles, current), proofId: p.id };
}
