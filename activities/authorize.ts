// The authorization activity. Runs only on governance workers, the only holders of the signing key.
import { ApplicationFailure } from '@temporalio/common';
import { hexToBytes } from '@noble/hashes/utils.js';
import { CLOCK_SKEW_MS, payloadHash, signArtifact, signDenial, verifySignedArtifact, type Ed25519, type SigningKey } from '../src/artifact/artifact';
import type { TrustBundle } from '../src/artifact/trust-bundle';
import { canonicalize } from '../src/common/canonical';
import { DenyCodes } from '../src/common/constants';
import { sha256Hex } from '../src/common/digest';
import {
  ARTIFACT_TYPE,
  AuthorizationRequestSchema,
  DENIAL_TYPE,
  type AuthorizationRequest,
  type AuthorizationResult,
  type SignedArtifact,
} from '../src/common/schemas';
import { DEFAULT_MAX_STALENESS_MS } from '../src/identity/cache';
import { verifyStartProof } from '../src/identity/proof';
import { intersectRoles, revocationProblem, stalenessProblem, type IdentitySnapshot } from '../src/identity/snapshot';
import { rootOf, type LineageSignal } from '../src/lineage/schema';
import { evaluatePolicy } from '../src/policy/evaluate';
import type { Policy } from '../src/policy/schema';

export interface AuthorizerOptions {
  readonly policy: Policy;
  readonly signingKey: SigningKey;
  /** The current trust bundle (a reloaded bundle takes effect at the next decision). */
  readonly trustBundle: () => TrustBundle;
  /** The newest identity snapshot (principals, API keys, revocations); undefined when it could not be read. */
  readonly identity: () => Promise<IdentitySnapshot | undefined>;
  /** Single-use registry of start proofs (MongoDB). */
  readonly startProofs: StartProofRegistry;
  readonly ed25519: Ed25519;
  /** Issuer name inside every artifact. */
  readonly issuer: string;
  /** Lifetime of per-call (activity and local activity) artifacts. */
  readonly artifactTtlMs: number;
  /** Identity state older than this denies everything (default 5 s). */
  readonly maxStalenessMs?: number;
  /** How much older than the workflow start a start proof may be (default 5 minutes). */
  readonly proofMaxAgeMs?: number;
  /**
   * Issue time of a decision. The governance worker passes the authorization activity's first
   * scheduled time, so a retried authorization reproduces the same artifact byte for byte (same
   * id, same signature) and lineage never sees two versions of one decision.
   */
  readonly now?: () => number;
  /** Real time, for the staleness of the identity state (default Date.now). */
  readonly wallClock?: () => number;
  /**
   * Durable hand-off of every decision to lineage, before it is returned. If it throws, no decision
   * is returned (the activity fails and is retried).
   */
  readonly handOff?: (signal: LineageSignal, rootId: string) => Promise<void>;
}

export interface StartProofRegistry {
  /** First use of a proof by a start (see claimStartProof). */
  claim(claim: { proofId: string; firstExecutionRunId: string; workflowId: string }): Promise<'claimed' | 'same' | 'replayed'>;
  /** The start that claimed a proof, if any. */
  find(proofId: string): Promise<{ firstExecutionRunId: string; workflowId: string } | null>;
}

export const DEFAULT_PROOF_MAX_AGE_MS = 5 * 60_000;

type Denied = { readonly code: string; readonly reason: string; readonly ruleIds?: string[]; readonly principal?: string };

/**
 * Same call, same decision id: the id is derived from the call's identity, so a retried
 * authorization is recognizable as the same decision.
 */
export function decisionIdFor(request: AuthorizationRequest): string {
  const key =
    request.action === 'activity' || request.action === 'local-activity'
      ? `${request.action}:${request.activityId}`
      : request.action === 'child-workflow'
        ? `child-workflow:${request.childWorkflowId}`
        : request.action;
  const { namespace, workflowId, runId } = request.workflow;
  return `dec_${sha256Hex(canonicalize([namespace, workflowId, runId, key])).slice(0, 32)}`;
}

/** Plain argument values, as the activity will see them, from the tagged view. */
function argumentValues(view: readonly unknown[]): unknown[] {
  return view.map((entry) => {
    if (!Array.isArray(entry)) return undefined;
    if (entry[0] === 'json') return entry[1];
    if (entry[0] === 'bytes' && typeof entry[1] === 'string') return hexToBytes(entry[1]);
    return undefined;
  });
}

interface Lineage {
  readonly principal: string;
  readonly credential: string;
  readonly roles: string[];
  readonly rootId: string | null;
  readonly parent: SignedArtifact | null;
  readonly ancestors: string[];
  readonly ancestorKids: string[];
}

export function createAuthorizer(options: AuthorizerOptions): (input: unknown) => Promise<AuthorizationResult> {
  const now = options.now ?? Date.now;
  const wallClock = options.wallClock ?? Date.now;
  const maxStalenessMs = options.maxStalenessMs ?? DEFAULT_MAX_STALENESS_MS;
  const { policy, signingKey, ed25519 } = options;
  const policyRef = { id: policy.id, version: policy.version };

  /** The root of a chain: a start proven with a live API key, used by this start only. */
  async function rootOfTrust(request: AuthorizationRequest, snapshot: IdentitySnapshot, at: number): Promise<Denied | Lineage> {
    const wf = request.workflow;
    if (request.action !== 'workflow') return { code: DenyCodes.invalidGrant, reason: 'the call carries no run grant' };
    if (wf.parent !== null) return { code: DenyCodes.invalidGrant, reason: `a child run must carry its parent's child-workflow grant (parent ${wf.parent.workflowId})` };
    const firstRun = wf.firstExecutionRunId === wf.runId;
    const proven = verifyStartProof(
      request.proof,
      { namespace: wf.namespace, workflowId: wf.workflowId, workflowType: wf.workflowType, argsDigest: request.argsDigest, startedAt: wf.startedAt },
      snapshot,
      at,
      ed25519,
      { maxAgeMs: options.proofMaxAgeMs ?? DEFAULT_PROOF_MAX_AGE_MS, skewMs: CLOCK_SKEW_MS, checkAge: firstRun },
    );
    if ('code' in proven) return proven;
    const claim = { proofId: proven.proofId, firstExecutionRunId: wf.firstExecutionRunId, workflowId: wf.workflowId };
    if (firstRun) {
      if ((await options.startProofs.claim(claim)) === 'replayed') {
        return { code: DenyCodes.proofReplayed, reason: 'this start proof was already used by another start; a proof starts one workflow only', principal: proven.principal };
      }
    } else {
      // A workflow retry or cron run re-delivers its first run's proof: admit it only for that chain.
      const stored = await options.startProofs.find(proven.proofId);
      if (!stored || stored.firstExecutionRunId !== wf.firstExecutionRunId || stored.workflowId !== wf.workflowId) {
        return { code: DenyCodes.proofReplayed, reason: 'this start proof was not used by the first run of this workflow', principal: proven.principal };
      }
    }
    return { principal: proven.principal, credential: proven.keyId, roles: proven.roles, rootId: null, parent: null, ancestors: [], ancestorKids: [] };
  }

  /** Resolves the principal, roles, root and parent link of a request, or says why it cannot. */
  async function lineageOf(request: AuthorizationRequest, snapshot: IdentitySnapshot, at: number): Promise<Denied | Lineage> {
    const wf = request.workflow;
    if (request.parent === null) return rootOfTrust(request, snapshot, at);
    const verified = verifySignedArtifact(request.parent, options.trustBundle(), at, ed25519);
    if (!verified.ok) return { code: DenyCodes.invalidGrant, reason: `the parent grant is not valid: ${verified.reason}` };
    const p = verified.value.payload;
    const bound =
      request.action === 'workflow'
        ? p.target === wf.workflowType &&
          p.argsDigest === request.argsDigest &&
          ((p.action === 'child-workflow' && p.childWorkflowId === wf.workflowId && wf.parent?.workflowId === p.workflowId && wf.parent.runId === p.runId) ||
            (p.action === 'continue-as-new' && p.workflowId === wf.workflowId && wf.continuedFromRunId === p.runId))
        : p.action === 'workflow' && p.namespace === wf.namespace && p.workflowId === wf.workflowId && p.runId === wf.runId;
    if (!bound || p.namespace !== wf.namespace) {
      return { code: DenyCodes.invalidGrant, reason: `the parent grant ${p.id} (${p.action}) is not bound to this run`, principal: p.principal };
    }
    const revoked = revocationProblem(p, snapshot);
    if (revoked) return { ...revoked, principal: p.principal };
    const current = snapshot.rolesOf(p.principal);
    if (current === undefined) return { code: DenyCodes.unknownPrincipal, reason: `principal ${p.principal} is not known to governance`, principal: p.principal };
    // Authority only narrows down a chain: the parent's roles, less any the principal has since lost.
    const roles = intersectRoles(p.roles, current);
    return { principal: p.principal, credential: p.credential, roles, rootId: p.rootId, parent: verified.value, ancestors: [...p.ancestors, p.id], ancestorKids: [...p.ancestorKids, p.kid] };
  }

  return async function authorize(input: unknown): Promise<AuthorizationResult> {
    const result = await decide(input);
    if (options.handOff) {
      const signal: LineageSignal =
        result.decision === 'allow' ? { kind: 'artifact', signed: result.artifact } : { kind: 'denial', signed: result.denial };
      await options.handOff(signal, rootOf(signal.signed));
    }
    return result;
  };

  async function decide(input: unknown): Promise<AuthorizationResult> {
    const parsed = AuthorizationRequestSchema.safeParse(input);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw ApplicationFailure.create({
        type: 'GovernanceMalformedRequest',
        nonRetryable: true,
        message: `malformed authorization request: ${issue ? `${issue.path.join('.') || '<root>'}: ${issue.message}` : 'invalid'}`,
      });
    }
    const request = parsed.data;
    const at = now();
    // A key retired (or not yet valid) at issue time signs what every verifier refuses: let the
    // attempt fail and retry, on a worker with a current key, rather than hand out a dead artifact.
    const own = options.trustBundle().keys.get(signingKey.kid);
    if (!own || at < own.notBefore || (own.notAfter !== null && at >= own.notAfter)) {
      throw ApplicationFailure.create({
        type: 'GovernanceSigningKeyNotValid',
        message: `signing key ${signingKey.kid} is not valid in the trust bundle at ${new Date(at).toISOString()}; a governance worker with a current key must take this authorization`,
      });
    }
    const decisionId = decisionIdFor(request);
    const binding = {
      decisionId,
      action: request.action,
      target: request.target,
      namespace: request.workflow.namespace,
      workflowId: request.workflow.workflowId,
      runId: request.workflow.runId,
      activityId: request.activityId,
      childWorkflowId: request.childWorkflowId,
      argsDigest: request.argsDigest,
      policy: policyRef,
      issuedAt: at,
    };

    let principal: string | null = null;
    let rootId: string | null = null;
    let parent: SignedArtifact | null = null;

    // Same call, same time, same policy and key: same id. Anything else that differs gets a new one.
    const idFor = (prefix: string, decision: string) =>
      `${prefix}_${sha256Hex(canonicalize([decisionId, at, policy.version, signingKey.kid, decision])).slice(0, 32)}`;

    const deny = (d: Denied): AuthorizationResult => ({
      decision: 'deny',
      denial: signDenial(
        {
          typ: DENIAL_TYPE,
          id: idFor('den', `${d.code}:${d.reason}`),
          kid: signingKey.kid,
          iss: options.issuer,
          principal: principal ?? d.principal ?? null,
          ...binding,
          rules: d.ruleIds ?? [],
          parent: parent ? { id: parent.payload.id, hash: payloadHash(parent.payload) } : null,
          rootId,
          code: d.code,
          reason: d.reason,
        },
        signingKey,
        ed25519,
      ),
    });

    if (`sha256:${sha256Hex(canonicalize(request.args))}` !== request.argsDigest) {
      return deny({ code: DenyCodes.malformedRequest, reason: 'the argument digest does not match the arguments' });
    }
    if (request.delegateRoles !== null && request.action !== 'child-workflow') {
      return deny({ code: DenyCodes.malformedRequest, reason: 'only a child workflow start can delegate roles' });
    }
    const snapshot = await options.identity();
    const stale = stalenessProblem(snapshot, wallClock(), maxStalenessMs);
    if (stale || !snapshot) return deny(stale!);

    const lineage = await lineageOf(request, snapshot, at);
    if ('code' in lineage) return deny(lineage);
    ({ principal, rootId, parent } = lineage);

    let roles = lineage.roles;
    if (request.delegateRoles !== null) {
      const widening = request.delegateRoles.filter((r) => !lineage.roles.includes(r));
      if (widening.length > 0) {
        return deny({
          code: DenyCodes.delegationWidens,
          reason: `child workflow ${request.childWorkflowId} asks for ${widening.join(', ')}, which this run's grant does not hold (it holds ${lineage.roles.join(', ') || 'no roles'}); delegation only narrows`,
        });
      }
      roles = [...new Set(request.delegateRoles)].sort();
    }

    const decision = evaluatePolicy(policy, {
      principal: lineage.principal,
      roles,
      action: request.action,
      target: request.target,
      workflowType: request.workflow.workflowType,
      taskQueue: request.taskQueue,
      args: argumentValues(request.args),
    });
    if (decision.decision === 'deny') return deny(decision);

    // Everything the identity state contributes is in the id too: a retry after a revocation or a
    // role change signs a different artifact, never a different one under the same id.
    const id = idFor('art', canonicalize(['allow', lineage.credential, roles, lineage.ancestors, decision.ruleIds]));
    const perCall = request.action === 'activity' || request.action === 'local-activity';
    return {
      decision: 'allow',
      artifact: signArtifact(
        {
          typ: ARTIFACT_TYPE,
          id,
          kid: signingKey.kid,
          iss: options.issuer,
          principal: lineage.principal,
          credential: lineage.credential,
          roles,
          ...binding,
          rules: decision.ruleIds,
          parent: parent ? { id: parent.payload.id, hash: payloadHash(parent.payload) } : null,
          rootId: rootId ?? id,
          ancestors: lineage.ancestors,
          ancestorKids: lineage.ancestorKids,
          exempt: request.action === 'workflow' ? policy.exempt.activities : [],
          expiresAt: perCall ? at + options.artifactTtlMs : null,
        },
        signingKey,
        ed25519,
      ),
    };
  }
}
