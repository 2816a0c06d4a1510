// MongoDB registries that keep scheduled runs single-use: one run per (schedule, scheduled time),
// and one schedule (the one incarnation created at one server time) per schedule proof. Uses only
// what FerretDB also serves.
import type { Db } from 'mongodb';
import { z } from 'zod';
import { canonicalize } from '../common/canonical';
import { READ_DEADLINE_MS } from '../lineage/store';

const READ = { maxTimeMS: READ_DEADLINE_MS } as const;

export const SCHEDULE_COLLECTIONS = {
  /** schedule proof id -> the schedule (id and server creation time) whose runs it admits. */
  scheduleProofs: 'schedule_proofs',
  /** (namespace, schedule id, scheduled time) -> the run chain admitted for it. */
  scheduledRuns: 'scheduled_runs',
} as const;

const DIGEST = /^sha256:[0-9a-f]{64}$/;

export const ScheduleProofBindingSchema = z
  .object({
    _id: z.string().regex(DIGEST),
    namespace: z.string().min(1),
    scheduleId: z.string().min(1),
    /** DescribeSchedule's `info.createTime` (server time, RFC 3339 with nanoseconds). */
    scheduleCreatedAt: z.string().min(1),
    at: z.date(),
  })
  .strict();
export type ScheduleProofBinding = z.infer<typeof ScheduleProofBindingSchema>;

export const ScheduledRunClaimSchema = z
  .object({
    /** JCS of `[namespace, scheduleId, scheduledAt]`. */
    _id: z.string().min(1),
    namespace: z.string().min(1),
    scheduleId: z.string().min(1),
    /** The action's scheduled time from the schedule's record (server time, RFC 3339 with nanoseconds). */
    scheduledAt: z.string().min(1),
    workflowId: z.string().min(1),
    firstExecutionRunId: z.string().min(1),
    at: z.date(),
  })
  .strict();
export type ScheduledRunClaim = z.infer<typeof ScheduledRunClaimSchema>;

export class ScheduleStoreError extends Error {
  override readonly name = 'ScheduleStoreError';
}

const isDuplicateKey = (err: unknown) => (err as { code?: number }).code === 11000;

function parseOne<T>(schema: z.ZodType<T>, doc: unknown, what: string): T {
  const parsed = schema.safeParse(doc);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ScheduleStoreError(`${what} ${JSON.stringify((doc as { _id?: unknown } | null)?._id)} in MongoDB is malformed: ${issue ? `${issue.path.join('.') || '<root>'}: ${issue.message}` : 'invalid'}`);
  }
  return parsed.data;
}

export const scheduledRunClaimId = (namespace: string, scheduleId: string, scheduledAt: string) => canonicalize([namespace, scheduleId, scheduledAt]);

/**
 * Binds a schedule proof to the schedule incarnation that first used it: 'claimed' the first time,
 * 'same' for the same schedule (same id, same creation time), 'replayed' for any other (a copy of
 * the proof on a schedule created again under the same id, or in another namespace).
 */
export async function bindScheduleProof(db: Db, claim: Omit<ScheduleProofBinding, 'at'>, now = new Date()): Promise<'claimed' | 'same' | 'replayed'> {
  const collection = db.collection<ScheduleProofBinding>(SCHEDULE_COLLECTIONS.scheduleProofs);
  try {
    await collection.insertOne({ ...claim, at: now });
    return 'claimed';
  } catch (err) {
    if (!isDuplicateKey(err)) throw err;
    const stored = parseOne(ScheduleProofBindingSchema, await collection.findOne({ _id: claim._id }, READ), 'schedule proof binding');
    return stored.namespace === claim.namespace && stored.scheduleId === claim.scheduleId && stored.scheduleCreatedAt === claim.scheduleCreatedAt ? 'same' : 'replayed';
  }
}

/**
 * Claims a schedule's scheduled time for one run chain: 'claimed' the first time, 'same' for that
 * chain again (a retried authorization, a workflow retry of the run), 'replayed' for any other run.
 */
export async function claimScheduledTime(db: Db, claim: Omit<ScheduledRunClaim, '_id' | 'at'>, now = new Date()): Promise<'claimed' | 'same' | 'replayed'> {
  const collection = db.collection<ScheduledRunClaim>(SCHEDULE_COLLECTIONS.scheduledRuns);
  const _id = scheduledRunClaimId(claim.namespace, claim.scheduleId, claim.scheduledAt);
  try {
    await collection.insertOne({ _id, ...claim, at: now });
    return 'claimed';
  } catch (err) {
    if (!isDuplicateKey(err)) throw err;
    const stored = parseOne(ScheduledRunClaimSchema, await collection.findOne({ _id }, READ), 'scheduled run claim');
    return stored.workflowId === claim.workflowId && stored.firstExecutionRunId === claim.firstExecutionRunId ? 'same' : 'replayed';
  }
}

/** The scheduled time a run chain was admitted for (a workflow retry of a scheduled run looks it up). */
export async function findScheduledRun(
  db: Db,
  run: { namespace: string; scheduleId: string; workflowId: string; firstExecutionRunId: string },
): Promise<ScheduledRunClaim | null> {
  const doc = await db.collection<ScheduledRunClaim>(SCHEDULE_COLLECTIONS.scheduledRuns).findOne({
    namespace: run.namespace,
    scheduleId: run.scheduleId,
    workflowId: run.workflowId,
    firstExecutionRunId: run.firstExecutionRunId,
  }, READ);
  return doc ? parseOne(ScheduledRunClaimSchema, doc, 'scheduled run claim') : null;
}
