// The lineage workflow: one per root execution, fed by signal-with-start from the authorization
// activity (decisions) and the enforcement point (outcomes). It batches what it receives and hands
// it to the persist activity; MongoDB being down only delays persistence, since the records are
// durable in this workflow's history. Runs on governance workers' lineage task queue
// (lineageTaskQueue()), without governance interceptors; persist is a local activity of the same
// worker (runs of an earlier version keep the activity on that task queue).
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertMemo,
  workflowInfo,
} from '@temporalio/workflow';
import {
  LINEAGE_SIGNAL,
  LINEAGE_STATS_QUERY,
  LineageSignalSchema,
  LineageWorkflowInputSchema,
  MAX_LINEAGE_SIGNAL_CHARS,
  PERSIST_LINEAGE_ACTIVITY,
  rootOfLineageWorkflow,
  type LineageSignal,
  type LineageStats,
  type LineageWorkflowInput,
} from '../src/lineage/schema';
import { splitCarry, utf8Length } from '../src/lineage/carry';

/** One argument per record: a sender hands a root's records over together (LineageDispatcher). */
export const lineageSignal = defineSignal<unknown[]>(LINEAGE_SIGNAL);
export const lineageStatsQuery = defineQuery<LineageStats>(LINEAGE_STATS_QUERY);

const BATCH = 500;
/** A persist input stays far below Temporal's 2 MiB payload limit whatever the signals hold. */
const BATCH_CHARS = 1_000_000;
/** Well under Temporal's 10,000 signals per run; the carried-over backlog stays small. */
const SIGNALS_PER_RUN = 2_000;
/** A signal can carry many records (LineageDispatcher): a run's history is bounded by records too. */
const RECORDS_PER_RUN = 2_000;
/** Batches a rotation persists before it continues as new: a run's history stays bounded even when persistence cannot keep up. */
const ROTATION_FLUSHES = 4;
/** Runs started by an earlier version replay as they ran (see the patched() calls below). */
const BOUNDED_CARRY = 'temporal-governance.lineage-bounded-carry';
const LOCAL_PERSIST = 'temporal-governance.lineage-local-persist';
// An idle run completes and leaves the worker's cache; the next signal (or the outbox sweeper)
// starts a fresh one, whose first batch reads the chain head (a point read, src/lineage/store.ts).
// A minute keeps a root busy in bursts in one run, and bounds what open roots hold in memory.
const IDLE = '1 minute';

interface PersistResult {
  head: { seq: number; hash: string } | null;
  rejected: string[];
  droppedOutcomes: number;
  calls: string[];
}
const RECENT = 5_000;

type Persist = (rootId: string, batch: LineageSignal[], chain: { head: PersistResult['head']; calls: string[] }) => Promise<PersistResult>;
const PERSIST_RETRY = { initialInterval: '200 milliseconds', maximumInterval: '5 seconds' } as const;
/**
 * In the workflow task that asks for it, on the worker running this run: no activity task, no
 * dispatch, no second workflow task, and no copy of the batch in history (a local activity's marker
 * holds its result only). Its attempts are abandoned at the start-to-close timeout (cancelled, so
 * they stop their MongoDB calls); a worker that dies mid-task leaves the task to time out, and the
 * next worker replays it and persists again (persistence is idempotent).
 */
const persistLocally = proxyLocalActivities<Record<string, Persist>>({
  startToCloseTimeout: '30 seconds',
  scheduleToCloseTimeout: '2 minutes',
  retry: PERSIST_RETRY,
})[PERSIST_LINEAGE_ACTIVITY]!;
/** The activity runs of an earlier version scheduled (and replay). */
const persistRemotely = proxyActivities<Record<string, Persist>>({
  startToCloseTimeout: '30 seconds',
  // The attempt heartbeats every 2 s: a lost worker's attempt is retried after 10 s, and an
  // abandoned attempt learns it is cancelled (and stops its MongoDB calls).
  heartbeatTimeout: '10 seconds',
  scheduleToCloseTimeout: '2 minutes',
  retry: PERSIST_RETRY,
})[PERSIST_LINEAGE_ACTIVITY]!;

export async function governanceLineage(claimed: unknown): Promise<void> {
  // Anyone can start this workflow under any id with any input, and can reach it by continue-as-new
  // from a workflow of their own. So the root is the one the server-set workflow id names, and the
  // input is a claim: only its pending signals are kept, checked like any signal (the persist
  // activity verifies them). The chain head is read from MongoDB on every run's first batch, and
  // what was recently stored is known only from this run's own persist results.
  const rootId = rootOfLineageWorkflow(workflowInfo().workflowId);
  if (rootId === null) return;
  // A run an earlier version started, replayed by this one (a worker upgrade while the root is
  // busy), keeps its old rotation and takes duplicates as they come; every new run bounds both.
  const bounded = patched(BOUNDED_CARRY);
  const persist = patched(LOCAL_PERSIST) ? persistLocally : persistRemotely;
  const parsed = LineageWorkflowInputSchema.safeParse(claimed);
  const carried = parsed.success && parsed.data.rootId === rootId ? parsed.data : { rootId, pending: [] };
  const input: LineageWorkflowInput = { rootId, pending: carried.pending.filter((s) => JSON.stringify(s).length <= MAX_LINEAGE_SIGNAL_CHARS), stats: carried.stats };
  const pending: LineageSignal[] = [...input.pending];
  // The exact JSON of each pending record: a re-delivery of one still waiting (the sweeper, a retried
  // hand-off) is taken once. Exact bytes, so a forged copy under a genuine id never hides the genuine one.
  const waiting = new Set<string>();
  for (const r of pending) waiting.add(JSON.stringify(r));
  let head: PersistResult['head'] = null;
  // Allowed per-call decisions stored recently: the calls outcomes may name without a lookup.
  const recentCallOrder: string[] = [];
  const recentCalls = new Set(recentCallOrder);
  let received = 0;
  let receivedRecords = 0;
  // Anyone with namespace access can signal this workflow. What cannot be a signed decision of this
  // root is dropped and counted here or by the persist activity (which checks signatures), so an
  // operator sees it (memo, current details, query) and it never holds back genuine records.
  const stats: LineageStats = { ...{ malformed: 0, oversized: 0, rejected: 0, shed: 0 }, ...input.stats };
  let reported = canonicalStats(stats);
  const report = () => {
    const now = canonicalStats(stats);
    if (now === reported) return;
    reported = now;
    upsertMemo({ governanceLineageDropped: stats });
    setCurrentDetails(`lineage of root ${input.rootId}: dropped ${stats.malformed} malformed, ${stats.oversized} oversized and ${stats.rejected} unsigned or foreign signals; shed ${stats.shed} outcomes at continue-as-new`);
    log.warn('lineage: dropped signals that are not signed decisions of this root', { rootId: input.rootId, ...stats });
  };
  // Sizes are UTF-8 bytes of JSON (what Temporal's payload limits measure) in a bounded run; runs of
  // an earlier version keep counting characters.
  const sizeOf = (json: string) => (bounded ? utf8Length(json) : json.length);
  const accept = (raw: unknown) => {
    let size: number;
    try {
      size = sizeOf(JSON.stringify(raw) ?? '');
    } catch {
      size = Infinity;
    }
    if (size > MAX_LINEAGE_SIGNAL_CHARS) {
      stats.oversized += 1;
      return;
    }
    const parsed = LineageSignalSchema.safeParse(raw);
    if (!parsed.success) {
      stats.malformed += 1;
      return;
    }
    if (bounded) {
      const key = JSON.stringify(parsed.data);
      if (waiting.has(key)) return;
      waiting.add(key);
    }
    pending.push(parsed.data);
  };
  setHandler(lineageSignal, (...records) => {
    received += 1;
    receivedRecords += records.length;
    // Each record is judged on its own: a bad one never takes the others with it.
    for (const raw of records) accept(raw);
  });
  setHandler(lineageStatsQuery, () => ({ ...stats }));
  const mustRotate = () => received >= SIGNALS_PER_RUN || receivedRecords >= RECORDS_PER_RUN || workflowInfo().continueAsNewSuggested;

  /** Persists the oldest batch; false when MongoDB is unavailable (the batch stays, durable in history). */
  async function flush(): Promise<boolean> {
    let chars = 0;
    let count = 0;
    while (count < pending.length && count < BATCH) {
      chars += sizeOf(JSON.stringify(pending[count]));
      if (count > 0 && chars > BATCH_CHARS) break;
      count += 1;
    }
    // Repeated hand-offs (a retried authorization, a sweeper re-delivery) go to persistence like
    // any other: it skips what is already chained and clears its outbox entry.
    const batch = pending.slice(0, count);
    const named = [...new Set(batch.flatMap((s) => (s.kind === 'outcome' && recentCalls.has(s.id) ? [s.id] : [])))];
    try {
      const result = await persist(input.rootId, batch, { head, calls: named });
      head = result.head;
      stats.rejected += result.rejected.length + result.droppedOutcomes;
      for (const id of result.calls) {
        recentCalls.add(id);
        recentCallOrder.push(id);
      }
      while (recentCallOrder.length > RECENT) recentCalls.delete(recentCallOrder.shift()!);
      report();
      for (const r of pending.splice(0, batch.length)) waiting.delete(JSON.stringify(r));
      return true;
    } catch {
      await sleep('5 seconds');
      return false;
    }
  }

  for (;;) {
    if (!(await condition(() => pending.length > 0 || mustRotate(), IDLE))) {
      return; // idle: the next signal-with-start begins a fresh run; the store keeps the chain head
    }
    if (mustRotate()) {
      if (bounded) {
        // Persist what the next run could not carry, while persistence keeps up, a few batches at
        // most: signals keep arriving meanwhile, and this run's history must stay bounded.
        for (let i = 0; i < ROTATION_FLUSHES && splitCarry(pending).left.length > 0; i++) {
          if (!(await flush())) break;
        }
        await condition(allHandlersFinished);
        const { next, left } = splitCarry(pending);
        const shed = left.filter((r) => r.kind === 'outcome').length;
        if (left.length > 0) {
          stats.shed += shed;
          report();
          log.warn('lineage: continuing as new with part of the backlog; the outbox holds the decisions left, the sweeper re-delivers them', { rootId, carried: next.length, decisionsLeft: left.length - shed, outcomesShed: shed });
        }
        await continueAsNew<typeof governanceLineage>({ rootId: input.rootId, pending: next, stats } satisfies LineageWorkflowInput);
      }
      // Drain first so the next run starts with a small backlog; signals keep arriving meanwhile,
      // which is why the rotation threshold sits far below Temporal's 10,000 signals per run.
      // Bounded in records and in characters: the carried backlog is the next run's input.
      let backlogChars = pending.reduce((n, s) => n + JSON.stringify(s).length, 0);
      while ((pending.length > BATCH || backlogChars > BATCH_CHARS) && (await flush())) {
        backlogChars = pending.reduce((n, s) => n + JSON.stringify(s).length, 0);
      }
      await condition(allHandlersFinished);
      await continueAsNew<typeof governanceLineage>({ rootId: input.rootId, pending, stats } satisfies LineageWorkflowInput);
    }
    await flush();
  }
}

function canonicalStats(s: LineageStats): string {
  return `${s.malformed}/${s.oversized}/${s.rejected}/${s.shed}`;
}
