// Hand-off to the lineage workflow by signal-with-start: durable in Temporal once it returns,
// whatever MongoDB is doing.
import type { Client } from '@temporalio/client';
import { LINEAGE_SIGNAL, LINEAGE_WORKFLOW_TYPE, lineageWorkflowId, type LineageSignal } from './schema';

export class LineageHandOffError extends Error {
  override readonly name = 'LineageHandOffError';
}

/** Lineage runs this process has seen to be governance's own (type and task queue), most recent last. */
const verifiedRuns = new Set<string>();
const MAX_VERIFIED_RUNS = 10_000;

/**
 * Signals one or more of a root's records (one signal, one argument each) to its lineage workflow,
 * starting it if it is not running. `taskQueue` is the lineage task queue (lineageTaskQueue() of
 * the governance task queue): where governance's lineage workers poll.
 */
export async function handOffToLineage(client: Client, taskQueue: string, signals: LineageSignal | readonly LineageSignal[], rootId: string): Promise<void> {
  const workflowId = lineageWorkflowId(rootId);
  let runId: string;
  try {
    const handle = await client.workflow.signalWithStart(LINEAGE_WORKFLOW_TYPE, {
      workflowId,
      taskQueue,
      args: [{ rootId, pending: [] }],
      signal: LINEAGE_SIGNAL,
      signalArgs: Array.isArray(signals) ? [...signals] : [signals],
    });
    runId = handle.signaledRunId;
  } catch (err) {
    // Name the server's reason (the client wraps it in a generic ServiceError).
    const cause = (err as { cause?: { message?: string } }).cause?.message;
    throw new LineageHandOffError(`lineage hand-off for root ${rootId} failed: ${(err as Error).message}${cause ? `: ${cause}` : ''}`);
  }
  if (verifiedRuns.has(runId)) return;
  await ensureGovernanceRun(client, taskQueue, workflowId, runId);
  verifiedRuns.add(runId);
  if (verifiedRuns.size > MAX_VERIFIED_RUNS) verifiedRuns.delete(verifiedRuns.values().next().value!);
}

/**
 * Anyone may start a workflow under a lineage workflow id before governance does (a root id is
 * predictable once its run is scheduled, and a lineage run ends when idle). Signal-with-start
 * would then hand decisions to that impostor. Each lineage run is checked once: not ours, it is
 * terminated and the hand-off fails, so the retry starts governance's own run.
 */
async function ensureGovernanceRun(client: Client, taskQueue: string, workflowId: string, runId: string): Promise<void> {
  const handle = client.workflow.getHandle(workflowId, runId);
  let description: { type: string; taskQueue: string };
  try {
    description = await handle.describe();
  } catch (err) {
    throw new LineageHandOffError(`lineage run ${workflowId}/${runId} could not be described: ${(err as Error).message}`);
  }
  if (description.type === LINEAGE_WORKFLOW_TYPE && description.taskQueue === taskQueue) return;
  await handle
    .terminate(`temporal-governance: not a lineage workflow of governance (type ${description.type} on task queue ${description.taskQueue})`)
    .catch(() => undefined); // already closed: the retry starts a fresh run either way
  throw new LineageHandOffError(
    `lineage workflow id ${workflowId} was held by a run governance did not start (type ${description.type} on task queue ${description.taskQueue}); it was terminated and the hand-off is retried`,
  );
}

/**
 * Hands records to their lineage workflows off the critical path, a root's records together: what
 * arrives for a root within `windowMs` (and while its previous signal is in flight) leaves as one
 * signal with one argument per record, so the server does one signal, one lineage workflow task and
 * one persist batch for many calls instead of one each. Per root, records leave in the order they
 * were sent, so parents reach the chain ahead of children. Decisions are already durable in the
 * outbox when they are sent here (a signal that is slow or lost costs lag, never a record: the
 * persist activity takes what a record names from the outbox, and the sweeper re-delivers what
 * lingers); outcomes are evidence on top, best effort.
 */
export class LineageDispatcher {
  private readonly roots = new Map<string, { pending: LineageSignal[]; chars: number; timer: NodeJS.Timeout | undefined; sending: Promise<void> | undefined }>();
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly options: {
      /** How long a root's first record waits for others (default WINDOW_MS): lag traded for server work. */
      readonly windowMs?: number;
      readonly deliver: (rootId: string, signals: readonly LineageSignal[]) => Promise<void>;
      /** Hears a failed delivery (the records are then the outbox sweeper's, or lost if they are outcomes). */
      readonly onError: (rootId: string, err: unknown) => void;
    },
  ) {}

  send(rootId: string, signal: LineageSignal): void {
    let root = this.roots.get(rootId);
    if (!root) {
      root = { pending: [], chars: 0, timer: undefined, sending: undefined };
      this.roots.set(rootId, root);
    }
    root.pending.push(signal);
    root.chars += JSON.stringify(signal).length;
    if (root.chars >= DELIVERY_CHARS) this.flush(rootId);
    else if (!root.timer && !root.sending) {
      root.timer = setTimeout(() => this.flush(rootId), this.options.windowMs ?? WINDOW_MS);
      root.timer.unref();
    }
  }

  private flush(rootId: string): void {
    const root = this.roots.get(rootId);
    if (!root) return;
    if (root.timer) clearTimeout(root.timer);
    root.timer = undefined;
    if (root.sending || root.pending.length === 0) return; // what is pending leaves when the signal in flight settles
    const batch: LineageSignal[] = [];
    let chars = 0;
    while (root.pending.length > 0 && (batch.length === 0 || chars + JSON.stringify(root.pending[0]).length <= DELIVERY_CHARS)) {
      const next = root.pending.shift()!;
      chars += JSON.stringify(next).length;
      batch.push(next);
    }
    root.chars = root.pending.reduce((n, s) => n + JSON.stringify(s).length, 0);
    const sent: Promise<void> = this.options.deliver(rootId, batch).catch((err: unknown) => {
      try {
        this.options.onError(rootId, err);
      } catch {
        // reporting is best effort
      }
    });
    root.sending = sent;
    this.inFlight.add(sent);
    void sent.finally(() => {
      this.inFlight.delete(sent);
      root.sending = undefined;
      if (root.pending.length > 0) this.flush(rootId);
      else if (!root.timer) this.roots.delete(rootId);
    });
  }

  /** Records not yet delivered or in flight (bounded by the calls in flight and one window). */
  get pending(): number {
    let n = this.inFlight.size;
    for (const root of this.roots.values()) n += root.pending.length;
    return n;
  }

  /** Sends what waits now and waits for the signals in flight, at most `ms`; what is left is the sweeper's. */
  async drain(ms: number): Promise<void> {
    const until = Date.now() + ms;
    while (this.pending > 0 && Date.now() < until) {
      for (const rootId of [...this.roots.keys()]) this.flush(rootId);
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, Math.max(1, until - Date.now()));
        timer.unref();
      });
      await Promise.race([Promise.all([...this.inFlight]), deadline]);
      clearTimeout(timer);
    }
  }
}

/**
 * A second: a sequential workflow's dozen calls (three records each) share one signal, one lineage
 * workflow task and one persist batch, where 100 ms sent about two signals per call and the server's
 * work for them slowed the calls themselves. Lineage lags by about this much.
 */
const WINDOW_MS = 1_000;

/**
 * One delivery stays below Temporal's 512 KiB payload warning (and far below its 2 MiB limit); a
 * single record may be larger (up to MAX_LINEAGE_SIGNAL_CHARS), and then travels alone.
 */
const DELIVERY_CHARS = 400_000;
