// The authorization activity. Runs only on governance workers, the only holders of the signing key.
import { ApplicationFailure } from '@temporalio/common';
import { hexToBytes } from '@noble/hashes/utils.js';
import { payloadHash, signArtifact, signDenial, verifySignedArtifact, type Ed25519, type SigningKey } from '../src/artifact/artifact';
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
import type { PrincipalDirectory } from '../src/identity/principals';
import { rootOf, type LineageSignal } from '../src/lineage/schema';
import { evaluatePolicy } from '../src/policy/evaluate';
import type { Policy } from '../src/policy/schema';

export interface AuthorizerOptions {
  readonly policy: Policy;
  readonly signingKey: SigningKey;
  readonly trustBundle: TrustBundle;
  readonly principals: PrincipalDirectory;
  readonly ed25519: Ed25519;
  /** Issuer name inside every artifact. */
  readonly issuer: string;
  /** Lifetime of per-call (activity and local activity) artifacts. */
  readonly artifactTtlMs: number;
  /**
   * Issue time of a decision. The governance worker passes the authorization activity's first
   * scheduled time, so a retried authorization reproduces the same artifact byte for byte (same
   * id, same signature) and lineage never sees two versions of one decision.
   */
  readonly now?: () => number;
  /**
   * Durable hand-off of every decision to lineage, before it is returned. If it throws, no decision
   * is returned (the activity fails and is retried).
   */
  readonly handOff?: (signal: LineageSignal, rootId: string) => Promise<void>;
}

type Denied = { readonly code: string; readonly reason: string; readonly ruleIds?: string[] };

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

export function createAuthorizer(options: AuthorizerOptions): (input: unknown) => Promise<AuthorizationResult> {
  const now = options.now ?? Date.now;
  const { policy, signingKey, ed25519 } = options;
  const policyRef = { id: policy.id, version: policy.version };

  /** Resolves the principal, root and parent link of a request, or says why it cannot. */
  function lineageOf(request: AuthorizationRequest, at: number): Denied | { principal: string; rootId: string | null; parent: SignedArtifact | null } {
    const wf = request.workflow;
    if (request.parent === null) {
      if (request.action !== 'workflow') return { code: DenyCodes.invalidGrant, reason: 'the call carries no run grant' };
      if (!request.principal) return { code: DenyCodes.unauthenticated, reason: 'the workflow was started without a principal' };
      return { principal: request.principal, rootId: null, parent: null };
    }
    const verified = verifySignedArtifact(request.parent, options.trustBundle, at, ed25519);
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
      return { code: DenyCodes.invalidGrant, reason: `the parent grant ${p.id} (${p.action}) is not bound to this run` };
    }
    return { principal: p.principal, rootId: p.rootId, parent: verified.value };
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

    let principal: string | null = request.principal;
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
          principal,
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
    const lineage = lineageOf(request, at);
    if ('code' in lineage) return deny(lineage);
    ({ principal, rootId, parent } = lineage);

    const roles = options.principals.rolesOf(lineage.principal);
    if (roles === undefined) return deny({ code: DenyCodes.unknownPrincipal, reason: `principal ${lineage.principal} is not known to governance` });

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

    const id = idFor('art', 'allow');
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
          ...binding,
          rules: decision.ruleIds,
          parent: parent ? { id: parent.payload.id, hash: payloadHash(parent.payload) } : null,
          rootId: rootId ?? id,
          exempt: request.action === 'workflow' ? policy.exempt.activities : [],
          expiresAt: perCall ? at + options.artifactTtlMs : null,
        },
        signingKey,
        ed25519,
      ),
    };
  }
}
