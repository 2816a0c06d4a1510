// The authorization activity. Runs only on governance workers, the only holders of the signing key.
import { ApplicationFailure } from '@temporalio/common';
import { hexToBytes } from '@noble/hashes/utils.js';
import { CLOCK_SKEW_MS, payloadHash, signArtifact, signDenial, verifySignedArtifact, type Ed25519, type SigningKey } from '../src/artifact/artifact';
import type { TrustBundle } from '../src/artifact/trust-bundle';
import { canonicalize, CanonicalEncodingError, wellFormed } from '../src/common/canonical';
import { ancestorKidsBelow, ancestorsBelow, chainOf, nestingProblem } from '../src/artifact/ancestry';
import { DenyCodes, IDENTITY_STALE_FAILURE, MAX_NESTING_DEPTH } from '../src/common/constants';
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
import { verifyStartProof, type ProvenIdentity } from '../src/identity/proof';
import { intersectRoles, revocationProblem, stalenessProblem, type IdentitySnapshot } from '../src/identity/snapshot';
import { rootOf, type LineageSignal } from '../src/lineage/schema';
import { evaluatePolicy } from '../src/policy/evaluate';
import type { Policy } from '../src/policy/schema';
import type { CallerFacts, DeliveredMessage, MessageLookup, RunStart } from './caller';
import { callerMismatch, describeClaim, startMismatch, type ClaimMismatch } from './claims';
import { DEFAULT_MESSAGE_PROOF_MAX_AGE_MS, proveSender } from './message';
import { decisionIdOf } from '../src/common/decision-id';
import { admitScheduledRun, type ScheduledRunOptions } from './schedule';

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
  /** How much older than its delivery a signal or update proof may be (default 5 minutes). */
  readonly messageProofMaxAgeMs?: number;
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
  /** How runs a Temporal Schedule started are confirmed and claimed (activities/schedule.ts); without it they are denied. */
  readonly scheduledRuns?: ScheduledRunOptions;
  /**
   * Most levels of child-workflow nesting below a root (default and maximum MAX_NESTING_DEPTH): a
   * child-workflow start whose child would nest deeper is denied NESTING_TOO_DEEP. Lowering it is
   * allowed (tests do); raising it is not, since every verifier holds artifacts to the constant.
   */
  readonly maxNestingDepth?: number;
}

/** What the Temporal server says about the call being authorized (never taken from the request). */
export interface CallContext {
  /** The run that scheduled the authorization activity (its server-set info); undefined if no workflow did. */
  readonly caller: CallerFacts | undefined;
  /** The calling run's start from its history; read only for run grants. */
  readonly runStart: (caller: CallerFacts) => Promise<RunStart>;
  /** A signal or update in the calling run's history (signal and update authorizations only). */
  readonly message?: (caller: CallerFacts, lookup: MessageLookup) => Promise<DeliveredMessage[]>;
  /**
   * Which authorization activity this is (server-set activity id and first-scheduled time): its
   * retries share it, another request does not. Defaults to the decision time.
   */
  readonly scheduling?: string;
  /** Server time this attempt was scheduled (`Info.currentAttemptScheduledTimestampMs`); defaults to the wall clock. */
  readonly attemptScheduledAt?: number;
  /**
   * Issue time of this decision: the authorization's first scheduled time, which its retries share
   * (so a retry signs the same artifact). Defaults to the authorizer's `now`.
   */
  readonly issuedAt?: number;
}

export interface StartProofRegistry {
  /** First use of a start proof by a start (see claimStartProof). */
  claim(claim: { proofId: string; firstExecutionRunId: string; workflowId: string }): Promise<'claimed' | 'same' | 'replayed'>;
  /** First use of a child-workflow or continue-as-new grant (keyed by its payload hash) by a run chain. */
  claimGrant(claim: { proofId: string; firstExecutionRunId: string; workflowId: string }): Promise<'claimed' | 'same' | 'replayed'>;
  /** First use of a signal or update proof, by one message of one run (a retry of the same authorization is 'same'). */
  claimMessage(claim: { _id: string; workflowId: string; runId: string; messageId: string }): Promise<'claimed' | 'same' | 'replayed'>;
  /** The start that claimed a proof, if any. */
  find(proofId: string): Promise<{ firstExecutionRunId: string; workflowId: string } | null>;
  /**
   * Records which authorization (`scheduling`) gave a run its grant, unless one already did: returns
   * the recorded one. One run grant per run, so revoking it cannot be undone by asking again; retries
   * of that authorization (same scheduling) still get through, even if decided differently.
   */
  runGrant(run: { namespace: string; runId: string; workflowId: string }, grant: { grantId: string; scheduling: string }): Promise<{ grantId: string; scheduling: string }>;
}

export const DEFAULT_PROOF_MAX_AGE_MS = 5 * 60_000;

type Denied = { readonly code: string; readonly reason: string; readonly ruleIds?: string[]; readonly principal?: string; readonly failWorkflow?: true };

/**
 * Same call, same decision id: the id is derived from the call's identity, so a retried
 * authorization is recognizable as the same decision.
 */
export function decisionIdFor(request: AuthorizationRequest, caller: Pick<CallerFacts, 'namespace' | 'workflowId' | 'runId'>): string {
  return decisionIdOf(request, caller);
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
  /** What the decision's own `ancestors` and `ancestorKids` will be (derived from the parent, src/artifact/ancestry.ts). */
  readonly ancestors: string[];
  readonly ancestorKids: string[];
}

/** The call being decided, every field from the server except what only the request can say (what it wants). */
interface Call {
  readonly request: AuthorizationRequest;
  readonly caller: CallerFacts;
  /** Run grants only: the run's start as the server recorded it. */
  readonly start: RunStart | null;
  /** Tagged view of the arguments the decision covers (the start input for a run grant). */
  readonly args: readonly unknown[];
  /** Another run's start (the first run of this chain), from the server. */
  readonly runStartOf: (caller: CallerFacts) => Promise<RunStart>;
  /** Server time of this authorization attempt. */
  readonly attemptAt: number;
}

/** A root's lineage: the proven key's principal and roles, nothing above it. */
const rootLineage = (p: ProvenIdentity): Lineage => ({ principal: p.principal, credential: p.keyId, roles: p.roles, rootId: null, parent: null, ancestors: [], ancestorKids: [] });

const mismatchDenial = (m: ClaimMismatch): Denied => ({
  code: DenyCodes.claimMismatch,
  reason: `the request claims ${m.field} ${describeClaim(m.claimed)} but the Temporal server recorded ${describeClaim(m.actual)}; governance acts on the server's record only`,
});

export type Authorize = (input: unknown, context: CallContext) => Promise<AuthorizationResult>;

export function createAuthorizer(options: AuthorizerOptions): Authorize {
  const now = options.now ?? Date.now;
  const wallClock = options.wallClock ?? Date.now;
  const maxStalenessMs = options.maxStalenessMs ?? DEFAULT_MAX_STALENESS_MS;
  const { policy, signingKey, ed25519 } = options;
  const policyRef = { id: policy.id, version: policy.version };
  const maxNestingDepth = options.maxNestingDepth ?? MAX_NESTING_DEPTH;
  if (!Number.isInteger(maxNestingDepth) || maxNestingDepth < 1 || maxNestingDepth > MAX_NESTING_DEPTH) {
    throw new RangeError(`maxNestingDepth must be an integer from 1 to ${MAX_NESTING_DEPTH}, got ${String(options.maxNestingDepth)}`);
  }

  /** The root of a chain: a start proven with a live API key, used by this start only. */
  async function rootOfTrust(call: Call, snapshot: IdentitySnapshot, at: number): Promise<Denied | Lineage> {
    const { caller, start } = call;
    if (!start) return { code: DenyCodes.invalidGrant, reason: 'the call carries no run grant' };
    if (start.parent !== null) return { code: DenyCodes.invalidGrant, reason: `a child run must carry its parent's child-workflow grant (parent ${start.parent.workflowId})` };
    // Retries and cron runs re-deliver the first run's proof; a continue-as-new must carry its grant.
    if (start.continuedFromRunId !== null && start.initiator !== 'retry' && start.initiator !== 'cron') {
      return { code: DenyCodes.invalidGrant, reason: `a continued run must carry the continue-as-new grant of run ${start.continuedFromRunId}` };
    }
    if (start.scheduleProof !== undefined) {
      const scheduled = await admitScheduledRun(
        { caller, start, snapshot, at, attemptAt: call.attemptAt },
        { ed25519, skewMs: CLOCK_SKEW_MS, scheduledRuns: options.scheduledRuns },
      );
      return 'code' in scheduled ? scheduled : rootLineage(scheduled);
    }
    const firstRun = start.firstExecutionRunId === caller.runId;
    const wf = { ...caller, firstExecutionRunId: start.firstExecutionRunId };
    const verify = (startedAt: number, checkAge: boolean) =>
      verifyStartProof(
        start.proof,
        { namespace: caller.namespace, workflowId: caller.workflowId, workflowType: caller.workflowType, taskQueue: start.taskQueue, argsDigest: call.request.argsDigest, startedAt },
        snapshot,
        at,
        ed25519,
        { maxAgeMs: options.proofMaxAgeMs ?? DEFAULT_PROOF_MAX_AGE_MS, skewMs: CLOCK_SKEW_MS, checkAge },
      );
    let proven = verify(start.startedAt, firstRun);
    if ('code' in proven) return proven;
    const claim = { proofId: proven.proofId, firstExecutionRunId: wf.firstExecutionRunId, workflowId: wf.workflowId };
    if (!firstRun) {
      // A workflow retry or cron run re-delivers its first run's proof (the server copies the start
      // header). Admitted for the chain that claimed it; if none did (its first run never got that
      // far), the proof must have been fresh when that chain began, judged by the first run's start.
      const stored = await options.startProofs.find(proven.proofId);
      if (stored && (stored.firstExecutionRunId !== claim.firstExecutionRunId || stored.workflowId !== claim.workflowId)) {
        return { code: DenyCodes.proofReplayed, reason: 'this start proof was used by another start; a retried or cron run may only re-use its own chain\'s proof', principal: proven.principal };
      }
      if (stored) return rootLineage(proven);
      const first = await call.runStartOf({ ...caller, runId: start.firstExecutionRunId });
      proven = verify(first.startedAt, true);
      if ('code' in proven) return proven;
    }
    if ((await options.startProofs.claim(claim)) === 'replayed') {
      return { code: DenyCodes.proofReplayed, reason: 'this start proof was already used by another start; a proof starts one workflow only', principal: proven.principal };
    }
    return rootLineage(proven);
  }

  /** Resolves the principal, roles, root and parent link of a request, or says why it cannot. */
  async function lineageOf(call: Call, snapshot: IdentitySnapshot, at: number): Promise<Denied | Lineage> {
    const { request, caller: wf, start } = call;
    // A run grant rests on what the server recorded in the run's start headers, nothing else.
    const parentGrant = start ? (start.parentGrant ?? null) : request.parent;
    if (parentGrant === null) return rootOfTrust(call, snapshot, at);
    const verified = verifySignedArtifact(parentGrant, options.trustBundle(), at, ed25519);
    if (!verified.ok) return { code: DenyCodes.invalidGrant, reason: `the parent grant is not valid: ${verified.reason}` };
    const p = verified.value.payload;
    const bound = start
      ? p.target === wf.workflowType &&
        p.argsDigest === request.argsDigest &&
        p.taskQueue === start.taskQueue &&
        // A child grant starts the child's first run and its retries or cron runs; the child's own
        // continue-as-new needs a continue-as-new grant of its own.
        ((p.action === 'child-workflow' &&
          p.childWorkflowId === wf.workflowId &&
          start.parent?.workflowId === p.workflowId &&
          start.parent.runId === p.runId &&
          (start.continuedFromRunId === null || start.initiator === 'retry' || start.initiator === 'cron')) ||
          (p.action === 'continue-as-new' &&
            p.workflowId === wf.workflowId &&
            // A retry of a continued run re-delivers its grant; the claim below admits only that chain.
            ((start.initiator === 'continue-as-new' && start.continuedFromRunId === p.runId) || start.initiator === 'retry' || start.initiator === 'cron')))
      : p.action === 'workflow' && p.workflowId === wf.workflowId && p.runId === wf.runId;
    if (!bound || p.namespace !== wf.namespace) {
      return { code: DenyCodes.invalidGrant, reason: `the parent grant ${p.id} (${p.action}) is not bound to this run`, principal: p.principal };
    }
    const revoked = revocationProblem(p, snapshot);
    if (revoked) return { ...revoked, principal: p.principal };
    if (start) {
      // A child or continue-as-new grant admits one run chain (its retries share the first run id).
      const claim = { proofId: payloadHash(p), firstExecutionRunId: start.firstExecutionRunId, workflowId: wf.workflowId };
      if ((await options.startProofs.claimGrant(claim)) === 'replayed') {
        return { code: DenyCodes.grantReplayed, reason: `the ${p.action} grant ${p.id} already admitted another run; a grant starts one run chain only`, principal: p.principal };
      }
    }
    const current = snapshot.rolesOf(p.principal);
    if (current === undefined) return { code: DenyCodes.unknownPrincipal, reason: `principal ${p.principal} is not known to governance`, principal: p.principal };
    // Authority only narrows down a chain: the parent's roles, less any the principal has since lost.
    const roles = intersectRoles(p.roles, current);
    return { principal: p.principal, credential: p.credential, roles, rootId: p.rootId, parent: verified.value, ancestors: ancestorsBelow(p), ancestorKids: ancestorKidsBelow(p) };
  }

  return async function authorize(input: unknown, context: CallContext): Promise<AuthorizationResult> {
    const result = await decide(input, context);
    if (options.handOff) {
      const signal: LineageSignal =
        result.decision === 'allow' ? { kind: 'artifact', signed: result.artifact } : { kind: 'denial', signed: result.denial };
      await options.handOff(signal, rootOf(signal.signed));
    }
    return result;
  };

  async function decide(input: unknown, context: CallContext): Promise<AuthorizationResult> {
    const caller = context.caller;
    if (!caller) {
      throw ApplicationFailure.create({
        type: 'GovernanceMalformedRequest',
        nonRetryable: true,
        message: 'the authorization activity was not scheduled by a workflow run; only a run can be authorized',
      });
    }
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
    const at = context.issuedAt ?? now();
    // A key retired (or not yet valid) at issue time signs what every verifier refuses: let the
    // attempt fail and retry, on a worker with a current key, rather than hand out a dead artifact.
    const own = options.trustBundle().keys.get(signingKey.kid);
    if (!own || at < own.notBefore || (own.notAfter !== null && at >= own.notAfter)) {
      throw ApplicationFailure.create({
        type: 'GovernanceSigningKeyNotValid',
        message: `signing key ${signingKey.kid} is not valid in the trust bundle at ${new Date(at).toISOString()}; a governance worker with a current key must take this authorization`,
      });
    }
    let decisionId: string;
    try {
      decisionId = decisionIdFor(request, caller);
    } catch (err) {
      if (!(err instanceof CanonicalEncodingError)) throw err;
      throw ApplicationFailure.create({ type: 'GovernanceMalformedRequest', nonRetryable: true, message: `malformed authorization request: ${err.message}` });
    }
    const start = request.action === 'workflow' ? await context.runStart(caller) : null;
    const binding = {
      decisionId,
      action: request.action,
      target: request.target,
      namespace: caller.namespace,
      workflowId: caller.workflowId,
      runId: caller.runId,
      activityId: request.activityId,
      childWorkflowId: request.childWorkflowId,
      taskQueue: start ? start.taskQueue : request.taskQueue,
      argsDigest: start && 'digest' in start.args ? start.args.digest : request.argsDigest,
      policy: policyRef,
      issuedAt: at,
    };

    let principal: string | null = null;
    let rootId: string | null = null;
    let parent: SignedArtifact | null = null;

    // Same call, same time, same policy and key: same id. Anything else that differs gets a new one.
    const idFor = (prefix: string, decision: string) =>
      `${prefix}_${sha256Hex(canonicalize([decisionId, at, policy.version, signingKey.kid, decision])).slice(0, 32)}`;

    const deny = (d: Denied): AuthorizationResult => {
      const reason = wellFormed(d.reason);
      return {
        decision: 'deny',
        denial: signDenial(
          {
            typ: DENIAL_TYPE,
            id: idFor('den', `${d.code}:${reason}`),
            kid: signingKey.kid,
            iss: options.issuer,
            principal: principal ?? d.principal ?? null,
            ...binding,
            rules: d.ruleIds ?? [],
            parent: parent ? { id: parent.payload.id, hash: payloadHash(parent.payload) } : null,
            rootId,
            code: d.code,
            reason,
            ...(d.failWorkflow ? { failWorkflow: true as const } : {}),
          },
          signingKey,
          ed25519,
        ),
      };
    };

    const wrongCaller = callerMismatch(request, caller);
    if (wrongCaller) return deny(mismatchDenial(wrongCaller));
    if (start && 'error' in start.args) return deny({ code: DenyCodes.malformedRequest, reason: `the run's start input has no argument digest: ${start.args.error}` });
    const wrongStart = start ? startMismatch(request, start) : null;
    if (wrongStart) return deny(mismatchDenial(wrongStart));
    if (start?.originalRunId && start.originalRunId !== caller.runId) {
      // A reset copies the run's started event (proofs, grants, first run id): admitting it would
      // repeat, on the same authority, everything its chain was already granted.
      return deny({ code: DenyCodes.invalidGrant, reason: `run ${caller.runId} was made by resetting run ${start.originalRunId}; a reset run is not admitted (it would repeat what that run was granted): start a new workflow instead` });
    }
    if (request.action === 'workflow' && request.target !== caller.workflowType) {
      return deny(mismatchDenial({ field: 'target', claimed: request.target, actual: caller.workflowType }));
    }
    let viewDigest: string | null;
    try {
      viewDigest = `sha256:${sha256Hex(canonicalize(request.args))}`;
    } catch (err) {
      if (!(err instanceof CanonicalEncodingError)) throw err;
      viewDigest = null;
    }
    if (viewDigest !== request.argsDigest) {
      return deny({ code: DenyCodes.malformedRequest, reason: 'the argument digest does not match the arguments' });
    }
    const call: Call = { request, caller, start, args: start && 'view' in start.args ? start.args.view : request.args, runStartOf: context.runStart, attemptAt: context.attemptScheduledAt ?? wallClock() };
    if (request.delegateRoles !== null && request.action !== 'child-workflow') {
      return deny({ code: DenyCodes.malformedRequest, reason: 'only a child workflow start can delegate roles' });
    }
    const snapshot = await options.identity();
    const stale = stalenessProblem(snapshot, wallClock(), maxStalenessMs);
    if (stale || !snapshot) {
      // Nothing is decided on stale state, and nothing is denied for a transient outage either:
      // the attempt fails retryably and Temporal retries it until the caller's authorization
      // timeout, after which the workflow denies (IDENTITY_STATE_STALE, unsigned).
      throw ApplicationFailure.create({ type: IDENTITY_STALE_FAILURE, message: stale!.reason });
    }

    let lineage = await lineageOf(call, snapshot, at);
    if ('code' in lineage) return deny(lineage);
    if (request.action === 'signal' || request.action === 'update') {
      // The message acts inside the run's tree (its grant is the parent) on the sender's authority.
      ({ rootId, parent } = lineage);
      if (!context.message) throw new Error('the authorizer needs the server\'s record of messages (CallContext.message) to decide a signal or update');
      const sender = await proveSender({
        request: request as AuthorizationRequest & { action: 'signal' | 'update' },
        caller,
        runTaskQueue: lineage.parent!.payload.taskQueue,
        snapshot,
        at,
        ed25519,
        trustBundle: options.trustBundle(),
        maxAgeMs: options.messageProofMaxAgeMs ?? DEFAULT_MESSAGE_PROOF_MAX_AGE_MS,
        readMessage: context.message,
        claim: (claim) => options.startProofs.claimMessage(claim),
      });
      if ('code' in sender) return deny(sender);
      lineage = { ...lineage, principal: sender.principal, credential: sender.keyId, roles: sender.roles };
    }
    ({ principal, rootId, parent } = lineage);

    if (request.action === 'child-workflow') {
      // The child's artifacts would carry two more ancestors per level: depth is capped so every
      // artifact stays bounded (MAX_ANCESTORS ids), whatever a workflow does recursively.
      const tooDeep = nestingProblem(lineage.ancestors, maxNestingDepth);
      if (tooDeep) return deny({ code: DenyCodes.nestingTooDeep, reason: `child workflow ${request.childWorkflowId}: ${tooDeep}` });
    }

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
      workflowType: caller.workflowType,
      taskQueue: binding.taskQueue,
      args: argumentValues(call.args),
    });
    if (decision.decision === 'deny') return deny(decision);

    // Everything the identity state contributes is in the id too: a retry after a revocation or a
    // role change signs a different artifact, never a different one under the same id.
    const id = idFor('art', canonicalize(['allow', lineage.credential, roles, lineage.ancestors, decision.ruleIds]));
    if (request.action === 'workflow') {
      // Workflow code can ask for its run grant again; it gets the one it has or nothing. (A retried
      // authorization reproduces the same id and passes.)
      const scheduling = context.scheduling ?? `${at}`;
      const held = await options.startProofs.runGrant({ namespace: caller.namespace, runId: caller.runId, workflowId: caller.workflowId }, { grantId: id, scheduling });
      if (held.scheduling !== scheduling) {
        return deny({ code: DenyCodes.grantReplayed, reason: `run ${caller.runId} already holds run grant ${held.grantId}; a run holds one run grant (revoking it cannot be undone by asking again)` });
      }
    }
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
          chain: chainOf(request.action, id, parent ? parent.payload : null),
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
