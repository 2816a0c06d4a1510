// Hand-off to the lineage workflow by signal-with-start: durable in Temporal once it returns,
// whatever MongoDB is doing.
import type { Client } from '@temporalio/client';
import { LINEAGE_SIGNAL, LINEAGE_WORKFLOW_TYPE, lineageWorkflowId, type LineageSignal } from './schema';

export async function handOffToLineage(client: Client, taskQueue: string, signal: LineageSignal, rootId: string): Promise<void> {
  await client.workflow.signalWithStart(LINEAGE_WORKFLOW_TYPE, {
    workflowId: lineageWorkflowId(rootId),
    taskQueue,
    args: [{ rootId, pending: [] }],
    signal: LINEAGE_SIGNAL,
    signalArgs: [signal],
  });
}
