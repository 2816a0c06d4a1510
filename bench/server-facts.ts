// Section: what taking facts from the server costs. A run grant reads the run's started event
// (GetWorkflowExecutionHistory, page size 1) once per run; a repeat hits the per-run cache.
// Per-call authorizations read nothing (the caller is in the activity's info). Real dev server.
import { Client, Connection } from '@temporalio/client';
import { readRunStart, runStartCache, type CallerFacts } from '../activities/caller';
import { summarize, table, type Summary } from './util';

export interface ServerFactsResult {
  readonly readMs: Summary;
  readonly cachedUs: Summary;
  readonly runs: number;
}

export async function runServerFacts(address: string, namespace: string, runs = 120): Promise<ServerFactsResult> {
  const connection = await Connection.connect({ address });
  const client = new Client({ connection, namespace });
  const taskQueue = `bench-facts-${process.pid}-${Date.now().toString(36)}`;
  const callers: CallerFacts[] = [];
  try {
    // Runs that nobody polls: their started event is all there is to read.
    for (let i = 0; i < runs; i++) {
      const handle = await client.workflow.start('benchIdle', { taskQueue, workflowId: `${taskQueue}-${i}`, args: [{ i, note: 'x'.repeat(200) }] });
      callers.push({ namespace, workflowId: handle.workflowId, runId: handle.firstExecutionRunId, workflowType: 'benchIdle' });
    }
    const read: number[] = [];
    for (const [i, caller] of callers.entries()) {
      const t0 = performance.now();
      await readRunStart(client, caller);
      if (i >= 20) read.push(performance.now() - t0);
    }
    const cached = runStartCache((c) => readRunStart(client, c));
    for (const caller of callers) await cached(caller);
    const hits: number[] = [];
    for (let round = 0; round < 10; round++) {
      for (const caller of callers) {
        const t0 = performance.now();
        await cached(caller);
        hits.push((performance.now() - t0) * 1000);
      }
    }
    return { readMs: summarize(read), cachedUs: summarize(hits), runs };
  } finally {
    await Promise.all(callers.map((c) => client.workflow.getHandle(c.workflowId, c.runId).terminate('benchmark done').catch(() => undefined)));
    await connection.close();
  }
}

export function serverFactsTable(result: ServerFactsResult): string {
  return table(
    `Server facts (the dev server of this run; ${result.runs} runs)`,
    ['operation', 'p50', 'p95', 'mean'],
    [
      ['read a run\'s started event (per run grant, ms)', result.readMs.p50, result.readMs.p95, result.readMs.mean],
      ['repeat from the per-run cache (a retried run grant, µs)', result.cachedUs.p50, result.cachedUs.p95, result.cachedUs.mean],
    ],
    ['Per-call authorizations (activity, local activity, child, continue-as-new) read nothing from the server: 0 ms.'],
  );
}
