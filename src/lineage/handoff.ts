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

/** `taskQueue` is the lineage task queue (lineageTaskQueue() of the governance task queue): where governance's lineage workers poll. */
export async function handOffToLineage(client: Client, taskQueue: string, signal: LineageSignal, rootId: string): Promise<void> {
  const workflowId = lineageWorkflowId(rootId);
  let runId: string;
  try {
    const handle = await client.workflow.signalWithStart(LINEAGE_WORKFLOW_TYPE, {
      workflowId,
      taskQueue,
      args: [{ rootId, pending: [] }],
      signal: LINEAGE_SIGNAL,
      signalArgs: [signal],
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
