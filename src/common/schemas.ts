// Every value that crosses a boundary (headers, activity inputs and results, artifacts) is parsed
// with these schemas; the TypeScript types are inferred from them. Sandbox-safe.
import { z } from 'zod';
import { MAX_NESTING_DEPTH } from './constants';

// @2: the binding gained `taskQueue`, and the namespace, workflow id, run id and type it names are
// the server's record of the caller, never the request's claims.
// @3: `chain` (continue-as-new chain id and hop); `ancestors` holds the levels of nesting only
// (bounded, independent of continue-as-new depth) and `ancestorKids` the sorted set of every key that
// signed an ancestor (docs/artifact.md section 5).
export const ARTIFACT_TYPE = 'temporal-governance/authorization-artifact@3';
export const DENIAL_TYPE = 'temporal-governance/denial@2';

/**
 * What a governed call does. `workflow` is the run grant a workflow run obtains on its first task;
 * `signal` and `update` admit a message to its handler (target = the handler name).
 */
export const ActionSchema = z.enum(['workflow', 'activity', 'local-activity', 'child-workflow', 'continue-as-new', 'signal', 'update']);
export type Action = z.infer<typeof ActionSchema>;

const DIGEST = /^sha256:[0-9a-f]{64}$/;
/** Longest name (type, id, task queue) a request may carry; Temporal's own limit is 1000. */
const MAX_NAME = 1000;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

export const PolicyRefSchema = z.object({ id: z.string().min(1), version: z.string().min(1) }).strict();
export const ParentRefSchema = z.object({ id: z.string().min(1), hash: z.string().regex(DIGEST) }).strict();
/**
 * The continue-as-new chain a run belongs to: `id` is the run grant of the chain's first run (a root
 * run or a child's first run), `hop` the run's place in it (1 for the first run, +1 per continue-as-new).
 */
export const ChainRefSchema = z.object({ id: z.string().min(1), hop: z.number().int().positive() }).strict();
export type ChainRef = z.infer<typeof ChainRefSchema>;
/** Longest `ancestors` list: two ids per level of nesting plus the chain's own first run grant. */
export const MAX_ANCESTORS = 2 * MAX_NESTING_DEPTH + 1;

/** The call an authorization is bound to. Shared by artifacts and denials. */
const bindingShape = {
  decisionId: z.string().min(1),
  action: ActionSchema,
  /** Activity type for activity actions, workflow type otherwise. */
  target: z.string().min(1),
  namespace: z.string().min(1),
  workflowId: z.string().min(1),
  runId: z.string().min(1),
  activityId: z.string().min(1).nullable(),
  childWorkflowId: z.string().min(1).nullable(),
  /**
   * Task queue of the governed call: the activity's queue (checked by the enforcement point), the
   * child's or continued run's queue (checked by that run's grant), the run's own queue for a run grant.
   */
  taskQueue: z.string().min(1),
  argsDigest: z.string().regex(DIGEST),
  policy: PolicyRefSchema,
  rules: z.array(z.string()),
  parent: ParentRefSchema.nullable(),
  issuedAt: z.number().int().nonnegative(),
};

export const ArtifactPayloadSchema = z
  .object({
    typ: z.literal(ARTIFACT_TYPE),
    id: z.string().min(1),
    kid: z.string().min(1),
    iss: z.string().min(1),
    principal: z.string().min(1),
    /** API key the root grant was proven with; every descendant inherits it (revoking the key revokes them). */
    credential: z.string().min(1),
    /** Roles this authorization was decided under, sorted; a descendant's roles are always a subset. */
    roles: z.array(z.string().min(1)),
    ...bindingShape,
    rootId: z.string().min(1),
    /** The continue-as-new chain of the run this authorization belongs to (a run grant: the run itself). */
    chain: ChainRefSchema,
    /**
     * The scope path, root first: for each enclosing level of nesting the first run grant of its
     * chain and the child-workflow artifact that started the next level, then (except on a chain's
     * first run grant) this run's chain id. Continue-as-new hops are not listed (their chain id is);
     * revoking any of them revokes this one. At most MAX_ANCESTORS ids.
     */
    ancestors: z.array(z.string().min(1)).max(MAX_ANCESTORS),
    /** Every key id that signed an ancestor on the full parent path (continue-as-new hops included), distinct and sorted: revoking one revokes this. */
    ancestorKids: z.array(z.string().min(1)),
    /** Activity-type globs this run may call without a per-call artifact (run grants only). */
    exempt: z.array(z.string()),
    /** Null for grants (workflow, child-workflow, continue-as-new): they are bound to a run, not a moment. */
    expiresAt: z.number().int().nonnegative().nullable(),
  })
  .strict();
export type ArtifactPayload = z.infer<typeof ArtifactPayloadSchema>;

export const SignedArtifactSchema = z
  .object({ payload: ArtifactPayloadSchema, signature: z.string().regex(BASE64URL) })
  .strict();
export type SignedArtifact = z.infer<typeof SignedArtifactSchema>;

export const DenyCodeSchema = z.string().regex(/^[A-Z][A-Z0-9_]*$/);
export type DenyCode = z.infer<typeof DenyCodeSchema>;

export const DenialPayloadSchema = z
  .object({
    typ: z.literal(DENIAL_TYPE),
    id: z.string().min(1),
    kid: z.string().min(1),
    iss: z.string().min(1),
    principal: z.string().min(1).nullable(),
    ...bindingShape,
    rootId: z.string().min(1).nullable(),
    code: DenyCodeSchema,
    reason: z.string(),
    /** Signals and updates only, present only when true: the policy says this refusal fails the run too. */
    failWorkflow: z.literal(true).optional(),
  })
  .strict();
export type DenialPayload = z.infer<typeof DenialPayloadSchema>;

export const SignedDenialSchema = z
  .object({ payload: DenialPayloadSchema, signature: z.string().regex(BASE64URL) })
  .strict();
export type SignedDenial = z.infer<typeof SignedDenialSchema>;

export const WorkflowIdentitySchema = z
  .object({
    namespace: z.string().min(1),
    workflowId: z.string().min(1),
    runId: z.string().min(1),
    workflowType: z.string().min(1),
    taskQueue: z.string().min(1),
    parent: z.object({ workflowId: z.string().min(1), runId: z.string().min(1) }).strict().nullable(),
    continuedFromRunId: z.string().min(1).nullable(),
    /** First run of the chain of retries / cron runs this run belongs to. */
    firstExecutionRunId: z.string().min(1),
    /** When this run started (server time, ms). */
    startedAt: z.number().int().nonnegative(),
  })
  .strict();
export type WorkflowIdentity = z.infer<typeof WorkflowIdentitySchema>;

/**
 * Input of the authorization activity. Everything in it is a claim: governance takes the caller's
 * identity from the activity's server-set info and, for a run grant, the run's start (parent,
 * continued-from run, first run, start time, input, headers) from the server's history; a claim
 * that differs is denied (CLAIM_MISMATCH).
 */
export const AuthorizationRequestSchema = z
  .object({
    v: z.literal(2),
    action: ActionSchema,
    // Bounded: these are copied into signed decisions, which must stay small.
    target: z.string().min(1).max(MAX_NAME),
    activityId: z.string().min(1).max(MAX_NAME).nullable(),
    childWorkflowId: z.string().min(1).max(MAX_NAME).nullable(),
    /**
     * Signals and updates only: which message of the run this is (the update id; for a signal, the
     * run's own count of signals it received). Part of the decision id; null for every other action.
     */
    messageId: z.string().min(1).max(MAX_NAME).nullable(),
    /** Task queue the governed call runs on. */
    taskQueue: z.string().min(1).max(MAX_NAME),
    /** The tagged JSON view of the arguments (see argumentsView); argsDigest must be its digest. */
    args: z.array(z.unknown()),
    argsDigest: z.string().regex(DIGEST),
    workflow: WorkflowIdentitySchema,
    /** The client's start proof (root run grants) or the sender's message proof (signals, updates); anything else ignores it. */
    proof: z.unknown().nullable(),
    /** Roles a child workflow start asks to narrow to (child-workflow only; null = keep the parent's). */
    delegateRoles: z.array(z.string().min(1).max(200)).max(100).nullable(),
    /** The grant this request descends from: the run grant, or for a run grant the child/continue-as-new artifact. */
    parent: z.unknown().nullable(),
  })
  .strict();
export type AuthorizationRequest = z.infer<typeof AuthorizationRequestSchema>;

export const AuthorizationResultSchema = z.discriminatedUnion('decision', [
  z.object({ decision: z.literal('allow'), artifact: SignedArtifactSchema }).strict(),
  z.object({ decision: z.literal('deny'), denial: SignedDenialSchema }).strict(),
]);
export type AuthorizationResult = z.infer<typeof AuthorizationResultSchema>;

/** Structured details of every GovernanceDenied failure (`failure.details[0]`). */
export const DenialDetailsSchema = z
  .object({
    code: DenyCodeSchema,
    reason: z.string(),
    ruleIds: z.array(z.string()),
    policyId: z.string().nullable(),
    policyVersion: z.string().nullable(),
    decisionId: z.string().nullable(),
    principal: z.string().nullable(),
    action: ActionSchema.nullable(),
    target: z.string().nullable(),
    /** A refused signal or update that fails the run as well (policy `failWorkflow`). */
    failWorkflow: z.literal(true).optional(),
  })
  .strict();
export type DenialDetails = z.infer<typeof DenialDetailsSchema>;

/** What a workflow sets under DELEGATE_MEMO on a child workflow's memo. */
export const DelegationSchema = z.object({ roles: z.array(z.string().min(1)) }).strict();
