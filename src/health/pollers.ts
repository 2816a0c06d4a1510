// Governance task queue pollers, from Temporal's DescribeTaskQueue: the activity pollers of the
// governance task queue (authorizations) and the workflow pollers of its lineage task queue
// (lineageTaskQueue(): lineage workflows), who polls, when each last polled, which policy each
// announces, and the queue's backlog.
//
// The server records a poller's time when a poll request arrives; a poll waits up to a minute for a
// task, so an idle, healthy worker shows ages up to about 60 s. It keeps listing a poller for 5
// minutes after its last poll. A poller counts as recent when it polled within `staleAfterMs`
// (default 90 s: the one-minute long poll plus 30 s for scheduling and clock skew between the
// console and the server, whose clock `lastAccessTime` is on).
import type { Client } from '@temporalio/client';
import { failed, formatDuration, withDeadline, type CheckResult } from './check';
import { policyOfIdentity, type ClaimedPolicy } from './worker-identity';
import { lineageTaskQueue } from '../lineage/schema';

export const DEFAULT_POLLER_STALE_AFTER_MS = 90_000;
/** Authorizations waiting this long in the activity backlog: governance workers are saturated. */
export const BACKLOG_WARN_AGE_MS = 10_000;

export type QueueType = 'workflow' | 'activity';

// temporal.api.enums.v1.TaskQueueType WORKFLOW = 1, ACTIVITY = 2; TaskQueueKind NORMAL = 1.
const TYPES: ReadonlyArray<readonly [QueueType, 1 | 2]> = [
  ['workflow', 1],
  ['activity', 2],
];
const TASK_QUEUE_KIND_NORMAL = 1;

/** Where a governance worker polls each type: authorizations on the governance task queue, lineage workflows on its lineage task queue. */
export function polledQueue(type: QueueType, governanceTaskQueue: string): string {
  return type === 'workflow' ? lineageTaskQueue(governanceTaskQueue) : governanceTaskQueue;
}

type DescribeTaskQueueResponse = Awaited<ReturnType<Client['workflowService']['describeTaskQueue']>>;

export interface PollerView {
  readonly identity: string;
  /** Server time of its last poll request (ms since epoch), when the server gave one. */
  readonly lastPollAt: number | null;
  readonly ageMs: number | null;
  /** Polled within the threshold. */
  readonly recent: boolean;
  readonly ratePerSecond: number;
  /** The policy the identity announces (a claim: see worker-identity.ts). */
  readonly policy: ClaimedPolicy | null;
}

export interface QueueTypeView {
  readonly type: QueueType;
  readonly pollers: readonly PollerView[];
  readonly recentPollers: number;
  /** Approximate backlog from the server's task queue stats (null when the server reports none). */
  readonly backlog: { readonly count: number; readonly ageMs: number } | null;
}

/** One row per poller identity: what a governance worker looks like across both queue types. */
export interface WorkerView {
  readonly identity: string;
  readonly policy: ClaimedPolicy | null;
  readonly workflowAgeMs: number | null;
  readonly activityAgeMs: number | null;
  readonly recent: boolean;
}

export interface TaskQueueDetails {
  readonly taskQueue: string;
  readonly staleAfterMs: number;
  readonly types: readonly QueueTypeView[];
  readonly workers: readonly WorkerView[];
  /** Distinct `id@version` policies announced by recent pollers. */
  readonly policies: readonly ClaimedPolicy[];
}

export interface PollerCheckOptions {
  readonly namespace: string;
  readonly taskQueue: string;
  readonly staleAfterMs?: number;
  readonly deadlineMs: number;
  readonly now?: () => number;
}

function timestampMs(ts: { seconds?: unknown; nanos?: number | null } | null | undefined): number | null {
  if (!ts || ts.seconds === undefined || ts.seconds === null) return null;
  return Number(ts.seconds) * 1000 + Math.floor((ts.nanos ?? 0) / 1e6);
}

function durationMs(d: { seconds?: unknown; nanos?: number | null } | null | undefined): number {
  return d ? Number(d.seconds ?? 0) * 1000 + Math.floor((d.nanos ?? 0) / 1e6) : 0;
}

/** The pure part: a check result from the two DescribeTaskQueue answers. */
export function evaluatePollers(
  taskQueue: string,
  answers: ReadonlyArray<{ type: QueueType; response: DescribeTaskQueueResponse }>,
  staleAfterMs: number,
  now: number,
): CheckResult<TaskQueueDetails> {
  const types: QueueTypeView[] = answers.map(({ type, response }) => {
    const pollers = (response.pollers ?? []).map((p): PollerView => {
      const lastPollAt = timestampMs(p.lastAccessTime);
      const ageMs = lastPollAt === null ? null : Math.max(0, now - lastPollAt);
      return { identity: p.identity ?? '', lastPollAt, ageMs, recent: ageMs !== null && ageMs <= staleAfterMs, ratePerSecond: p.ratePerSecond ?? 0, policy: policyOfIdentity(p.identity ?? '') };
    });
    pollers.sort((a, b) => a.identity.localeCompare(b.identity));
    const stats = response.stats;
    return {
      type,
      pollers,
      recentPollers: pollers.filter((p) => p.recent).length,
      backlog: stats ? { count: Number(stats.approximateBacklogCount ?? 0), ageMs: durationMs(stats.approximateBacklogAge) } : null,
    };
  });

  const byIdentity = new Map<string, { policy: ClaimedPolicy | null; workflowAgeMs: number | null; activityAgeMs: number | null; recent: boolean }>();
  for (const t of types) {
    for (const p of t.pollers) {
      const row = byIdentity.get(p.identity) ?? { policy: p.policy, workflowAgeMs: null, activityAgeMs: null, recent: false };
      if (t.type === 'workflow') row.workflowAgeMs = p.ageMs;
      else row.activityAgeMs = p.ageMs;
      row.recent ||= p.recent;
      byIdentity.set(p.identity, row);
    }
  }
  const workers = [...byIdentity].map(([identity, row]) => ({ identity, ...row })).sort((a, b) => a.identity.localeCompare(b.identity));
  const policies = new Map<string, ClaimedPolicy>();
  for (const w of workers) if (w.recent && w.policy) policies.set(`${w.policy.id}@${w.policy.version}`, w.policy);
  const details: TaskQueueDetails = { taskQueue, staleAfterMs, types, workers, policies: [...policies.values()] };

  const missing = types.filter((t) => t.recentPollers === 0).map((t) => t.type);
  if (missing.length > 0) {
    const lastSeen = types
      .filter((t) => missing.includes(t.type))
      .flatMap((t) => t.pollers.map((p) => p.ageMs ?? Infinity))
      .reduce((a, b) => Math.min(a, b), Infinity);
    const since = Number.isFinite(lastSeen) ? `; the last one polled ${formatDuration(lastSeen)} ago` : '';
    return {
      status: 'fail',
      summary: `no governance worker polled ${missing.map((t) => `the ${t} task queue ${polledQueue(t, taskQueue)}`).join(' or ')} in the last ${formatDuration(staleAfterMs)}${since}: authorizations ${missing.includes('activity') ? 'wait and then fail' : 'are decided but lineage is not written'}`,
      details,
    };
  }
  const activity = types.find((t) => t.type === 'activity');
  if (activity?.backlog && activity.backlog.count > 0 && activity.backlog.ageMs > BACKLOG_WARN_AGE_MS) {
    return { status: 'warn', summary: `${activity.backlog.count} authorizations wait on ${taskQueue}, the oldest for ${formatDuration(activity.backlog.ageMs)}: governance workers are saturated`, details };
  }
  const recent = workers.filter((w) => w.recent).length;
  return { status: 'ok', summary: `${recent} governance worker${recent === 1 ? '' : 's'} polling ${taskQueue}`, details };
}

/** DescribeTaskQueue for both types of the governance task queue, each call under the deadline. */
export async function checkTaskQueuePollers(client: Client, options: PollerCheckOptions): Promise<CheckResult<TaskQueueDetails>> {
  const now = options.now ?? Date.now;
  try {
    const answers = await Promise.all(
      TYPES.map(async ([type, taskQueueType]) => ({
        type,
        response: await withDeadline(
          client.workflowService.describeTaskQueue({
            namespace: options.namespace,
            taskQueue: { name: polledQueue(type, options.taskQueue), kind: TASK_QUEUE_KIND_NORMAL },
            taskQueueType,
            reportStats: true,
          }),
          options.deadlineMs,
          `Temporal DescribeTaskQueue (${type})`,
        ),
      })),
    );
    return evaluatePollers(options.taskQueue, answers, options.staleAfterMs ?? DEFAULT_POLLER_STALE_AFTER_MS, now());
  } catch (err) {
    return failed(`cannot describe task queue ${options.taskQueue}`, err);
  }
}
