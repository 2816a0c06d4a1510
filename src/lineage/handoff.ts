// Hand-off to the lineage workflow by signal-with-start: durable in Temporal once it returns,
// whatever MongoDB is doing.
import type { Client } from '@temporalio/client';
import { LINEAGE_SIGNAL, LINEAGE_WORKFLOW_TYPE, lineageWorkflowId, type LineageSignal } from './schema';

export class LineageHandOffError extends Error {
  override readonly name = 'LineageHandOffError';
}

export async function handOffToLineage(client: Client, taskQueue: string, signal: LineageSignal, rootId: string): Promise<void> {
  try {
    await client.workflow.signalWithStart(LINEAGE_WORKFLOW_TYPE, {
      workflowId: lineageWorkflowId(rootId),
      taskQueue,
      args: [{ rootId, pending: [] }],
      signal: LINEAGE_SIGNAL,
      signalArgs: [signal],
    });
  } catch (err) {
    // Name the server's reason (the client wraps it in a generic ServiceError).
    const cause = (err as { cause?: { message?: string } }).cause?.message;
    throw new LineageHandOffError(`lineage hand-off for root ${rootId} failed: ${(err as Error).message}${cause ? `: ${cause}` : ''}`);
  }
}
