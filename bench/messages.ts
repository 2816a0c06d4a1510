// Section: per-message latency, ungoverned vs governed: what authorizing a signal or an update
// before its handler runs adds, against one dev server in one process.
//
// Method. One `benchMessages` workflow per variant and round receives, strictly one after another,
// a signal `set(n)` and an update `setAndRead(n)` per iteration:
//   - update: the client's executeUpdate round trip (send -> accepted -> handler ran -> result). The
//     result is the handler's own effect.
//   - signal: from the client's signal call until a query first returns the value the handler set
//     (queries are ungoverned and read-only; the client polls back to back). The time includes the
//     signal round trip, the handler's workflow task and at most one query round trip of slack, in
//     both variants alike.
// Governed, each message also carries a message proof the client signs with its API key, and the
// workflow's inbound interceptor waits for the governance decision (the authorization activity on
// the governance task queue: the server's record of the message read from history, the proof
// verified and claimed once in MongoDB, policy evaluated, the decision signed and handed to
// lineage) before the handler runs: exactly the added cost per message.
//
// Both variants use the same server, process and workflow code; all workers poll throughout.
// Rounds alternate the order of the variants, after one discarded warm-up workflow per variant.
import { join } from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Worker } from '@temporalio/worker';
import { connectLineage } from '../src/lineage/store';
import { createApiKey, createPrincipal } from '../src/identity/store';
import { GovernancePlugin } from '../src/plugin';
import * as activities from './activities';
import { benchGovernanceWorker, BENCH_PRINCIPAL, BENCH_ROLES, type BenchKeys } from './latency';
import { setAndReadUpdate, setSignal, stopSignal, valueQuery, type benchMessages } from './workflows';
import { ratio, summarize, table, type Summary } from './util';

const WORKFLOWS_PATH = join(__dirname, 'workflows.ts');

export interface MessageOptions {
  readonly mongoUri: string;
  readonly address: string;
  readonly namespace: string;
  readonly keys: BenchKeys;
  /** Measured signals, and as many updates, per variant. */
  readonly messages: number;
  readonly rounds: number;
  /** Signals and updates to the discarded warm-up workflow per variant. */
  readonly warmup: number;
  readonly log: (line: string) => void;
}

interface VariantSample {
  readonly signalMs: number[];
  readonly updateMs: number[];
  /** Round trip of the query that first saw a signal's effect. */
  readonly queryMs: number[];
  /** Queries per signal until its effect was seen. */
  readonly polls: number[];
}

export interface MessageResult {
  readonly ungoverned: VariantSample;
  readonly governed: VariantSample;
  readonly perRound: number;
  readonly rounds: number;
}

type Variant = 'ungoverned' | 'governed';

export async function runMessages(options: MessageOptions): Promise<MessageResult> {
  const lineageDatabase = `bench_msg_${Date.now().toString(36)}`;
  const suffix = `${process.pid}-${Date.now().toString(36)}`;
  const queues = { ungoverned: `bench-msg-plain-${suffix}`, governed: `bench-msg-governed-${suffix}`, governance: `bench-msg-governance-${suffix}` };

  // Identity as `principals create` / `api-keys create` make it; the key stays in this process.
  const identity = await connectLineage(options.mongoUri, lineageDatabase);
  let apiKey: string;
  try {
    await createPrincipal(identity.db, { id: BENCH_PRINCIPAL, roles: BENCH_ROLES, description: 'benchmark client' });
    apiKey = (await createApiKey(identity.db, { principal: BENCH_PRINCIPAL })).apiKey;
  } finally {
    await identity.client.close();
  }
  const plugin = new GovernancePlugin({
    apiKey,
    identity: { mongoUri: options.mongoUri, database: lineageDatabase },
    trustBundle: options.keys.bundlePath,
    workflow: { taskQueue: queues.governance },
  });

  options.log('bundling workflow code for the message section (plain and governed)...');
  const bundlerLogger = new DefaultLogger('WARN');
  const plainBundle = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: bundlerLogger });
  const governedBundle = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, plugins: [plugin], logger: bundlerLogger });

  const connection = await NativeConnection.connect({ address: options.address });
  const clientConnection = await Connection.connect({ address: options.address });
  const workers: Worker[] = [];
  const runs: Promise<void>[] = [];
  try {
    workers.push(
      await Worker.create({ connection, namespace: options.namespace, taskQueue: queues.ungoverned, workflowBundle: plainBundle, activities }),
      await Worker.create({ connection, namespace: options.namespace, taskQueue: queues.governed, workflowBundle: governedBundle, activities, plugins: [plugin] }),
      await benchGovernanceWorker(connection, { namespace: options.namespace, taskQueue: queues.governance, mongoUri: options.mongoUri, database: lineageDatabase, keys: options.keys }),
    );
    for (const worker of workers) runs.push(worker.run());

    const clients: Record<Variant, Client> = {
      ungoverned: new Client({ connection: clientConnection, namespace: options.namespace }),
      governed: new Client({ connection: clientConnection, namespace: options.namespace, plugins: [plugin] }),
    };
    let sequence = 0;
    /** One workflow receiving `count` signals and `count` updates, one at a time. */
    const runOnce = async (variant: Variant, count: number, sample: VariantSample): Promise<void> => {
      sequence += 1;
      const handle: WorkflowHandle<typeof benchMessages> = await clients[variant].workflow.start<typeof benchMessages>('benchMessages', {
        taskQueue: queues[variant],
        workflowId: `bench-msg-${variant}-${suffix}-${sequence}`,
        workflowExecutionTimeout: '5 minutes',
      });
      // Not measured: the run is up (governed: holds its run grant, which every message waits for).
      let value = 0;
      await handle.executeUpdate(setAndReadUpdate, { args: [value] });
      for (let i = 0; i < count; i++) {
        value += 1;
        const signalStart = performance.now();
        await handle.signal(setSignal, value);
        let polls = 0;
        let queryStart: number;
        for (;;) {
          queryStart = performance.now();
          polls += 1;
          if ((await handle.query(valueQuery)) === value) break;
          if (performance.now() - signalStart > 30_000) throw new Error(`${variant}: signal ${value} had no effect within 30 s (refused?)`);
        }
        const seen = performance.now();
        sample.signalMs.push(seen - signalStart);
        sample.queryMs.push(seen - queryStart);
        sample.polls.push(polls);

        value += 1;
        const updateStart = performance.now();
        const returned = await handle.executeUpdate(setAndReadUpdate, { args: [value] });
        sample.updateMs.push(performance.now() - updateStart);
        if (returned !== value) throw new Error(`${variant}: update returned ${returned}, expected ${value}`);
      }
      await handle.signal(stopSignal);
      const handled = await handle.result();
      if (handled !== 2 * count + 1) throw new Error(`${variant}: ${handled} handlers ran, expected ${2 * count + 1}`);
    };
    const empty = (): VariantSample => ({ signalMs: [], updateMs: [], queryMs: [], polls: [] });

    options.log(`message warm-up: ${options.warmup} signals and updates per variant...`);
    await runOnce('ungoverned', options.warmup, empty());
    await runOnce('governed', options.warmup, empty());

    const perRound = Math.max(1, Math.ceil(options.messages / options.rounds));
    const result: Record<Variant, VariantSample> = { ungoverned: empty(), governed: empty() };
    for (let round = 0; round < options.rounds; round++) {
      const order: Variant[] = round % 2 === 0 ? ['ungoverned', 'governed'] : ['governed', 'ungoverned'];
      for (const variant of order) await runOnce(variant, perRound, result[variant]);
      options.log(`message round ${round + 1}/${options.rounds} done (${perRound} signals and ${perRound} updates per variant)`);
    }
    return { ...result, perRound, rounds: options.rounds };
  } finally {
    for (const worker of workers) if (worker.getState() === 'RUNNING') worker.shutdown();
    await Promise.allSettled(runs);
    await plugin.close();
    await clientConnection.close().catch(() => undefined);
    await connection.close().catch(() => undefined);
  }
}

export function messagesTable(result: MessageResult): string {
  const rows: (string | number)[][] = [];
  for (const [kind, of] of [
    ['signal', (v: VariantSample) => v.signalMs],
    ['update', (v: VariantSample) => v.updateMs],
  ] as const) {
    const u = summarize(of(result.ungoverned));
    const g = summarize(of(result.governed));
    const row = (variant: string, s: Summary) => [kind, variant, s.n, s.p50, s.p95, s.mean, s.min, s.max];
    rows.push(
      row('ungoverned', u),
      row('governed', g),
      [kind, 'governed - ungoverned', '', g.p50 - u.p50, g.p95 - u.p95, g.mean - u.mean, '', ''],
      [kind, 'governed / ungoverned', '', ratio(g.p50, u.p50), ratio(g.p95, u.p95), ratio(g.mean, u.mean), '', ''],
    );
  }
  const polls = (v: VariantSample) => (v.polls.reduce((s, x) => s + x, 0) / v.polls.length).toFixed(1);
  const lastQuery = (v: VariantSample) => summarize(v.queryMs).p50.toFixed(1);
  return table(
    'Per-message latency (ms): send until the handler\'s effect is observable',
    ['message', 'variant', 'n', 'p50', 'p95', 'mean', 'min', 'max'],
    rows,
    [
      `${result.rounds} alternating rounds x ${result.perRound} signals and ${result.perRound} updates per variant (one workflow each), after one discarded warm-up workflow per variant.`,
      'update = executeUpdate round trip (the result is the handler\'s effect); signal = signal call until a query first sees the value the',
      `handler set, queries back to back: ${polls(result.ungoverned)} ungoverned / ${polls(result.governed)} governed per signal; the slack is under one query round trip`,
      `(p50 of the last one: ${lastQuery(result.ungoverned)} ungoverned / ${lastQuery(result.governed)} ms governed; a query sent while the handler's workflow task is pending waits for it).`,
      'Governed = a message proof signed by the client, the decision (history read of the message, proof verified and claimed in MongoDB,',
      'policy, signature, lineage hand-off) on the governance task queue before the handler runs.',
    ],
  );
}
