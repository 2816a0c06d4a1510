// Root grants of runs a Temporal Schedule started. Such a run carries the schedule proof the
// creating client signed (the server copies the schedule action's headers into each run it starts);
// it is admitted on that key's authority only when:
//   1. the proof verifies with a live key of a live principal and is bound to what the run really
//      is (namespace, workflow id prefix, type, task queue, start input digest: from its history);
//   2. the schedule's own record says it started this very run (DescribeSchedule's recent actions
//      list its workflow id and first run id). `TemporalScheduledById` and
//      `TemporalScheduledStartTime` are no proof: any client may set them on its own start (checked
//      on Temporal Server 1.32); the scheduler records an action just after starting its run, so a
//      run not yet listed is retried for a short while before it is denied;
//   3. the proof is used by the one schedule incarnation (server creation time) that first used it,
//      so a copy on a schedule deleted and created again under the same id is refused;
//   4. the scheduled time is claimed once (MongoDB `scheduled_runs`): one run chain per scheduled time.
// Runs on governance workers.
import { ApplicationFailure } from '@temporalio/common';
import type { Client } from '@temporalio/client';
import type { Ed25519 } from '../src/artifact/artifact';
import { DenyCodes } from '../src/common/constants';
import { problem, type ProofProblem, type ProvenIdentity } from '../src/identity/proof';
import { verifyScheduleProof } from '../src/identity/schedule-proof';
import type { IdentitySnapshot } from '../src/identity/snapshot';
import type { CallerFacts, RunStart } from './caller';

/** Retryable failure type of an authorization attempt for a scheduled run the schedule has not recorded yet. */
export const SCHEDULE_NOT_RECORDED_FAILURE = 'GovernanceScheduleNotRecorded';
export const DEFAULT_SCHEDULE_CONFIRMATION_MS = 10_000;
const GRPC_NOT_FOUND = 5;

/** What the server's DescribeSchedule says about a schedule. Times are RFC 3339 with nanoseconds. */
export interface ScheduleRecord {
  readonly createdAt: string;
  /** The runs it started most recently (the server keeps the last 10), with their scheduled times. */
  readonly recentActions: ReadonlyArray<{ readonly scheduledAt: string; readonly workflowId: string; readonly firstExecutionRunId: string }>;
}

export interface ScheduleClaimRegistry {
  /** First use of a schedule proof binds it to one schedule incarnation (see bindScheduleProof). */
  bindProof(claim: { _id: string; namespace: string; scheduleId: string; scheduleCreatedAt: string }): Promise<'claimed' | 'same' | 'replayed'>;
  /** One run chain per scheduled time (see claimScheduledTime). */
  claimScheduledTime(claim: { namespace: string; scheduleId: string; scheduledAt: string; workflowId: string; firstExecutionRunId: string }): Promise<'claimed' | 'same' | 'replayed'>;
  /** The claim of a run chain, for a workflow retry whose first run left the recent actions. */
  findScheduledRun(run: { namespace: string; scheduleId: string; workflowId: string; firstExecutionRunId: string }): Promise<{ scheduledAt: string } | null>;
}

export interface ScheduledRunOptions {
  /** DescribeSchedule; null when the schedule does not exist. */
  readonly readSchedule: (namespace: string, scheduleId: string) => Promise<ScheduleRecord | null>;
  readonly claims: ScheduleClaimRegistry;
  /** How long after a run's start (server time) the schedule may take to list it (default 10 s). */
  readonly confirmWithinMs?: number;
}

export interface ScheduledRun {
  readonly caller: CallerFacts;
  readonly start: RunStart;
  readonly snapshot: IdentitySnapshot;
  /** Decision time (the authorization activity's first scheduled time). */
  readonly at: number;
  /** Server time this authorization attempt was scheduled: measures how long the record may lag. */
  readonly attemptAt: number;
}

/** RFC 3339 with nanoseconds, from a protobuf Timestamp (exact: no rounding to milliseconds). */
export function timestampText(t: { seconds?: { toString(): string } | number | null; nanos?: number | null } | null | undefined): string {
  const seconds = Number(t?.seconds?.toString() ?? 0);
  const whole = new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, '');
  return `${whole}.${String(t?.nanos ?? 0).padStart(9, '0')}Z`;
}

/** Reads the schedule's record from the server (DescribeSchedule). */
export async function readScheduleRecord(client: Client, namespace: string, scheduleId: string): Promise<ScheduleRecord | null> {
  let response;
  try {
    response = await client.workflowService.describeSchedule({ namespace, scheduleId });
  } catch (err) {
    if ((err as { code?: number }).code === GRPC_NOT_FOUND) return null;
    throw err;
  }
  return {
    createdAt: timestampText(response.info?.createTime),
    recentActions: (response.info?.recentActions ?? []).flatMap((action) => {
      const result = action.startWorkflowResult;
      return result?.workflowId && result.runId ? [{ scheduledAt: timestampText(action.scheduleTime), workflowId: result.workflowId, firstExecutionRunId: result.runId }] : [];
    }),
  };
}

/** The root of a run a Schedule started, or why it is not one. */
export async function admitScheduledRun(
  run: ScheduledRun,
  options: { readonly ed25519: Ed25519; readonly skewMs: number; readonly scheduledRuns: ScheduledRunOptions | undefined },
): Promise<ProofProblem | ProvenIdentity> {
  const { caller, start, snapshot } = run;
  if (start.proof !== undefined) return problem(DenyCodes.invalidProof, 'the run carries both a start proof and a schedule proof; a run has one root');
  if (!('digest' in start.args)) return problem(DenyCodes.malformedRequest, `the run's start input has no argument digest: ${start.args.error}`);
  const proven = verifyScheduleProof(
    start.scheduleProof,
    { namespace: caller.namespace, workflowId: caller.workflowId, workflowType: caller.workflowType, taskQueue: start.taskQueue, argsDigest: start.args.digest, startedAt: start.startedAt },
    snapshot,
    run.at,
    options.ed25519,
    { skewMs: options.skewMs },
  );
  if ('code' in proven) return proven;
  const { scheduleId, principal } = proven;
  const unconfirmed = (why: string) =>
    problem(DenyCodes.scheduleRunUnconfirmed, `run ${caller.workflowId}/${caller.runId} carries a proof of schedule ${JSON.stringify(scheduleId)}, but ${why}`, principal);
  const scheduled = options.scheduledRuns;
  if (!scheduled) return unconfirmed('this governance worker cannot read schedules');
  if (start.scheduledById !== scheduleId) return unconfirmed(`its TemporalScheduledById is ${JSON.stringify(start.scheduledById ?? null)}`);

  const record = await scheduled.readSchedule(caller.namespace, scheduleId);
  if (!record) return unconfirmed('that schedule does not exist');
  // A workflow retry of a scheduled run shares the first run's id; the schedule recorded that one.
  const chain = { namespace: caller.namespace, scheduleId, workflowId: caller.workflowId, firstExecutionRunId: start.firstExecutionRunId };
  const listed = record.recentActions.find((a) => a.workflowId === chain.workflowId && a.firstExecutionRunId === chain.firstExecutionRunId);
  let scheduledAt = listed?.scheduledAt;
  if (!scheduledAt && start.firstExecutionRunId !== caller.runId) scheduledAt = (await scheduled.claims.findScheduledRun(chain))?.scheduledAt;
  if (!scheduledAt) {
    const other = record.recentActions.find((a) => a.workflowId === chain.workflowId);
    if (other) return unconfirmed(`the schedule started run ${other.firstExecutionRunId} under this workflow id, not this one`);
    const waited = run.attemptAt - start.startedAt;
    const window = scheduled.confirmWithinMs ?? DEFAULT_SCHEDULE_CONFIRMATION_MS;
    if (waited > window) return unconfirmed(`the schedule's record does not list it ${Math.round(waited / 1000)} s after it started (its recent actions are the last ${record.recentActions.length})`);
    // The scheduler records an action just after the start returns: ask again shortly.
    throw ApplicationFailure.create({
      type: SCHEDULE_NOT_RECORDED_FAILURE,
      message: `schedule ${JSON.stringify(scheduleId)} does not list run ${caller.workflowId}/${caller.runId} yet; retrying for up to ${Math.round(window / 1000)} s after its start`,
    });
  }
  const binding = await scheduled.claims.bindProof({ _id: proven.proofId, namespace: caller.namespace, scheduleId, scheduleCreatedAt: record.createdAt });
  if (binding === 'replayed') {
    return problem(DenyCodes.proofReplayed, `this schedule proof already admitted runs of another schedule (or an earlier schedule under the id ${JSON.stringify(scheduleId)}); re-create or update the schedule through a client with the plugin`, principal);
  }
  if ((await scheduled.claims.claimScheduledTime({ ...chain, scheduledAt })) === 'replayed') {
    return problem(DenyCodes.scheduledTimeReplayed, `another run was already admitted for the time ${scheduledAt} of schedule ${JSON.stringify(scheduleId)}; each scheduled time admits one run`, principal);
  }
  return proven;
}
