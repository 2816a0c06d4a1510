// The schedule proof: a client with the plugin signs, with its API key, the action of a Temporal
// Schedule (schedule id, workflow id, type, task queue, argument digest) when it creates or updates
// the schedule. The server copies the action's headers into every run the schedule starts, so each
// run carries the proof; governance admits such a run as a root on that key's authority only after
// the server confirms the schedule started it (activities/schedule.ts). Signing is node-only
// (client side); verification is pure (the Ed25519 primitive and the snapshot are passed in).
import { z } from 'zod';
import type { Ed25519 } from '../artifact/artifact';
import { DenyCodes } from '../common/constants';
import { proofNonce, signWithApiKey, type ParsedApiKey } from './api-key';
import { problem, provenIdentity, verifyApiKeySignature, type ProofProblem, type ProvenIdentity } from './proof';
import { ApiKeyIdSchema } from './schema';
import type { IdentitySnapshot } from './snapshot';

export const SCHEDULE_PROOF_TYPE = 'temporal-governance/schedule-proof@1';

const DIGEST = /^sha256:[0-9a-f]{64}$/;

/** What a schedule proof binds: one schedule id and the action it starts, in one namespace. */
export const ScheduleProofPayloadSchema = z
  .object({
    typ: z.literal(SCHEDULE_PROOF_TYPE),
    keyId: ApiKeyIdSchema,
    namespace: z.string().min(1),
    scheduleId: z.string().min(1),
    /** The action's workflow id: each run's id is this id, `-`, and the scheduled time (set by the server). */
    workflowId: z.string().min(1),
    workflowType: z.string().min(1),
    taskQueue: z.string().min(1),
    argsDigest: z.string().regex(DIGEST),
    issuedAt: z.number().int().nonnegative(),
    nonce: z.string().regex(/^[0-9a-f]{32}$/),
  })
  .strict();
export type ScheduleProofPayload = z.infer<typeof ScheduleProofPayloadSchema>;

export const SignedScheduleProofSchema = z.object({ payload: ScheduleProofPayloadSchema, signature: z.string().regex(/^[A-Za-z0-9_-]+$/) }).strict();
export type SignedScheduleProof = z.infer<typeof SignedScheduleProofSchema>;

/** The schedule action a proof is signed for (the client's view, before payload conversion). */
export interface ScheduleActionBinding {
  readonly namespace: string;
  readonly scheduleId: string;
  readonly workflowId: string;
  readonly workflowType: string;
  readonly taskQueue: string;
  readonly argsDigest: string;
}

export function signScheduleProof(key: ParsedApiKey, action: ScheduleActionBinding, now: number = Date.now()): SignedScheduleProof {
  const payload: ScheduleProofPayload = {
    typ: SCHEDULE_PROOF_TYPE,
    keyId: key.keyId,
    namespace: action.namespace,
    scheduleId: action.scheduleId,
    workflowId: action.workflowId,
    workflowType: action.workflowType,
    taskQueue: action.taskQueue,
    argsDigest: action.argsDigest,
    issuedAt: now,
    nonce: proofNonce(),
  };
  return signWithApiKey(payload, key);
}

/** A scheduled run as the server recorded it (its WorkflowExecutionStarted event and activity info). */
export interface ScheduledRunStart {
  readonly namespace: string;
  readonly workflowId: string;
  readonly workflowType: string;
  readonly taskQueue: string;
  readonly argsDigest: string;
  /** Server time of the run's started event (ms). */
  readonly startedAt: number;
}

export interface ProvenSchedule extends ProvenIdentity {
  readonly scheduleId: string;
}

/**
 * Is `raw` a well-formed schedule proof signed by a live API key of a live principal, bound to this
 * run's namespace, workflow id, type, task queue and start input? (Whether the schedule really
 * started the run is the server's to say: see activities/schedule.ts.) There is no maximum age: a
 * schedule runs for as long as it exists; key expiry and revocation bound it.
 */
export function verifyScheduleProof(
  raw: unknown,
  run: ScheduledRunStart,
  snapshot: IdentitySnapshot,
  at: number,
  ed: Ed25519,
  options: { readonly skewMs: number },
): ProofProblem | ProvenSchedule {
  const parsed = SignedScheduleProofSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return problem(DenyCodes.invalidProof, `malformed schedule proof: ${issue ? `${issue.path.join('.') || '<root>'}: ${issue.message}` : 'invalid'}`);
  }
  const { payload, signature } = parsed.data;
  const key = verifyApiKeySignature(payload, signature, snapshot, at, ed, 'schedule proof');
  if ('code' in key) return key;

  const bound = (field: string, proven: string, recorded: string) =>
    problem(
      DenyCodes.invalidProof,
      `the schedule proof of schedule ${JSON.stringify(payload.scheduleId)} is bound to ${field} ${JSON.stringify(proven)}, but the run has ${JSON.stringify(recorded)}: the schedule's action was changed without a new proof`,
      key.principal,
    );
  if (payload.namespace !== run.namespace) return bound('namespace', payload.namespace, run.namespace);
  for (const field of ['workflowType', 'taskQueue', 'argsDigest'] as const) {
    if (payload[field] !== run[field]) return bound(field, payload[field], run[field]);
  }
  // The server names each scheduled run `<action workflow id>-<scheduled time>`.
  if (!run.workflowId.startsWith(`${payload.workflowId}-`)) return bound('workflow id prefix', `${payload.workflowId}-`, run.workflowId);
  if (payload.issuedAt > run.startedAt + options.skewMs) return problem(DenyCodes.invalidProof, 'the schedule proof was issued after the run started', key.principal);
  const proven = provenIdentity(key, snapshot, payload);
  return 'code' in proven ? proven : { ...proven, scheduleId: payload.scheduleId };
}
