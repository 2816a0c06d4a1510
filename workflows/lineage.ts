// The lineage workflow: one per root execution, fed by signal-with-start from the authorization
// activity (decisions) and the enforcement point (outcomes). It batches what it receives and hands
// it to the persist activity; MongoDB being down only delays persistence, since the records are
// durable in this workflow's history. Runs on governance workers, without governance interceptors.
import { condition, continueAsNew, defineSignal, proxyActivities, setHandler, sleep, workflowInfo, allHandlersFinished } from '@temporalio/workflow';
import { LINEAGE_SIGNAL, LineageSignalSchema, PERSIST_LINEAGE_ACTIVITY, type LineageSignal, type LineageWorkflowInput } from '../src/lineage/schema';

export const lineageSignal = defineSignal<[unknown]>(LINEAGE_SIGNAL);

const BATCH = 500;
/** Well under Temporal's 10,000 signals per run; the carried-over backlog stays small. */
const SIGNALS_PER_RUN = 2_000;
const IDLE = '1 hour';

interface PersistResult {
  head: { seq: number; hash: string } | null;
  grants: Record<string, string[]>;
}
const RECENT = 5_000;

const persist = proxyActivities<Record<string, (rootId: string, batch: LineageSignal[], chain: { head: PersistResult['head']; grants: Record<string, string[]> }) => Promise<PersistResult>>>({
  startToCloseTimeout: '30 seconds',
  scheduleToCloseTimeout: '2 minutes',
  retry: { initialInterval: '200 milliseconds', maximumInterval: '5 seconds' },
})[PERSIST_LINEAGE_ACTIVITY]!;

export async function governanceLineage(input: LineageWorkflowInput): Promise<void> {
  const pending: LineageSignal[] = [...input.pending];
  let head = input.head ?? null;
  const grants: Record<string, string[]> = { ...(input.grants ?? {}) };
  const recentOrder: string[] = [...(input.recent ?? [])];
  const recent = new Set(recentOrder);
  let received = 0;
  setHandler(lineageSignal, (raw) => {
    const parsed = LineageSignalSchema.safeParse(raw);
    if (parsed.success) pending.push(parsed.data); // a malformed signal cannot carry a signed decision
    received += 1;
  });
  const mustRotate = () => received >= SIGNALS_PER_RUN || workflowInfo().continueAsNewSuggested;

  /** Persists the oldest batch; false when MongoDB is unavailable (the batch stays, durable in history). */
  async function flush(): Promise<boolean> {
    const taken = pending.slice(0, BATCH);
    // A repeated hand-off (an authorization retried after its signal landed) carries the same id.
    const batch = taken.filter((s) => s.kind === 'outcome' || !recent.has(s.signed.payload.id));
    try {
      const result = await persist(input.rootId, batch, { head, grants });
      head = result.head;
      Object.assign(grants, result.grants);
      for (const s of batch) {
        if (s.kind === 'outcome' || recent.has(s.signed.payload.id)) continue;
        recent.add(s.signed.payload.id);
        recentOrder.push(s.signed.payload.id);
      }
      while (recentOrder.length > RECENT) recent.delete(recentOrder.shift()!);
      pending.splice(0, taken.length);
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
      // Drain first so the next run starts with a small backlog; signals keep arriving meanwhile,
      // which is why the rotation threshold sits far below Temporal's 10,000 signals per run.
      while (pending.length > BATCH && (await flush()));
      await condition(allHandlersFinished);
      await continueAsNew<typeof governanceLineage>({ rootId: input.rootId, pending, head, grants, recent: recentOrder });
    }
    await flush();
  }
}
