// Throughput section: W workflows (default 50) started together, each with A stamp calls in flight
// at once (default 10, Promise.all), ungoverned vs governed, in alternating rounds on one dev server.
// Prints activities/s for each, the governed/ungoverned ratio, and CPU per activity call of each
// process from /proc/<pid>/stat: this process (client + both app workers), the governance worker
// (its own child process, bench/governance-process.ts, so its CPU is not mixed with the app
// worker's), the Temporal server and FerretDB.
//
// A round's time runs from the first workflow start to the last result, so it includes workflow
// starts and, governed, each workflow's run grant (one extra decision per A calls).
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Worker } from '@temporalio/worker';
import { join } from 'node:path';
import type { SupervisedServer } from '../src/stack/stack';
import * as activities from './activities';
import { benchPlugin, createBenchIdentity, createBenchWorkerKey, startGovernanceProcess } from './harness';
import { benchClients, type BenchKeys } from './latency';
import { readCpuMs } from './proc';
import { classifyFailure } from './scale';
import { fmt, ratio, table } from './util';
import type { benchParallel } from './workflows';

const WORKFLOWS_PATH = join(__dirname, 'workflows.ts');

export interface ThroughputOptions {
  readonly address: string;
  readonly namespace: string;
  readonly mongoUri: string;
  readonly keys: BenchKeys;
  readonly servers: { readonly temporal?: SupervisedServer; readonly mongo?: SupervisedServer };
  readonly workflows: number;
  readonly activitiesPerWorkflow: number;
  readonly rounds: number;
  readonly log: (line: string) => void;
}

type Variant = 'ungoverned' | 'governed' | 'direct';
const PROCESSES = ['app', 'governance', 'server', 'mongo'] as const;
type ProcessName = (typeof PROCESSES)[number];

export interface ThroughputRound {
  readonly variant: Variant;
  readonly calls: number;
  readonly seconds: number;
  /** CPU ms each process used during the round (null: pid unknown, e.g. an external server). */
  readonly cpuMs: Record<ProcessName, number | null>;
  /** Workflows that did not complete, by deny code or failure type (their calls are not counted). */
  readonly failed: Record<string, number>;
}

export interface ThroughputResult {
  readonly workflows: number;
  readonly activitiesPerWorkflow: number;
  readonly rounds: ThroughputRound[];
}

export async function runThroughput(options: ThroughputOptions): Promise<ThroughputResult> {
  const suffix = `${process.pid}-${Date.now().toString(36)}`;
  const database = `bench_tp_${Date.now().toString(36)}`;
  const queues = { ungoverned: `tp-plain-${suffix}`, governed: `tp-governed-${suffix}`, direct: `tp-direct-${suffix}`, governance: `tp-governance-${suffix}` };
  const apiKey = await createBenchIdentity(options.mongoUri, database);
  const workerKey = await createBenchWorkerKey(options.mongoUri, database);
  const plugin = benchPlugin(apiKey, options.mongoUri, database, options.keys, queues.governance);
  options.log('throughput: starting the governance worker process...');
  const governance = await startGovernanceProcess(
    { address: options.address, namespace: options.namespace, taskQueue: queues.governance, mongoUri: options.mongoUri, database, signingKeyPath: options.keys.keyPath, trustBundlePath: options.keys.bundlePath, direct: true },
    options.log,
  );
  const directPlugin = benchPlugin(apiKey, options.mongoUri, database, options.keys, queues.governance, { endpoint: governance.directUrl!, workerKey });
  const pids: Record<ProcessName, () => number | null> = {
    app: () => process.pid,
    governance: () => governance.pid,
    server: () => options.servers.temporal?.pid() ?? null,
    mongo: () => options.servers.mongo?.pid() ?? null,
  };
  const cpuNow = () => Object.fromEntries(PROCESSES.map((p) => [p, ((pid) => (pid === null ? null : readCpuMs(pid)))(pids[p]())])) as Record<ProcessName, number | null>;

  const connection = await NativeConnection.connect({ address: options.address });
  const clientConnection = await Connection.connect({ address: options.address });
  const workers: Worker[] = [];
  const runs: Promise<void>[] = [];
  try {
    const logger = new DefaultLogger('WARN');
    const plainBundle = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger });
    const governedBundle = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, plugins: [plugin], logger });
    const directBundle = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, plugins: [directPlugin], logger });
    workers.push(
      await Worker.create({ connection, namespace: options.namespace, taskQueue: queues.direct, workflowBundle: directBundle, activities, plugins: [directPlugin] }),
      await Worker.create({ connection, namespace: options.namespace, taskQueue: queues.ungoverned, workflowBundle: plainBundle, activities }),
      await Worker.create({ connection, namespace: options.namespace, taskQueue: queues.governed, workflowBundle: governedBundle, activities, plugins: [plugin] }),
    );
    for (const worker of workers) runs.push(worker.run());
    const clients: Record<Variant, Client> = benchClients(clientConnection, options.namespace, plugin);
    let sequence = 0;
    const round = async (variant: Variant, workflows: number): Promise<ThroughputRound> => {
      const before = cpuNow();
      const t0 = performance.now();
      // allSettled: a failed workflow is counted, and no call is left running on a connection about to close.
      const settled = await Promise.allSettled(
        Array.from({ length: workflows }, () => {
          sequence += 1;
          return clients[variant].workflow.execute<typeof benchParallel>('benchParallel', {
            taskQueue: queues[variant],
            workflowId: `tp-${variant}-${suffix}-${sequence}`,
            args: [options.activitiesPerWorkflow],
            workflowExecutionTimeout: '10 minutes',
          });
        }),
      );
      const seconds = (performance.now() - t0) / 1000;
      const after = cpuNow();
      const failed: Record<string, number> = {};
      let completed = 0;
      for (const result of settled) {
        if (result.status === 'fulfilled' && result.value === options.activitiesPerWorkflow) completed += 1;
        else {
          const outcome = result.status === 'fulfilled' ? { status: 'failed' as const, type: `wrong count ${result.value}` } : classifyFailure(result.reason);
          const key = outcome.status === 'denied' ? `denied ${outcome.code}` : outcome.status === 'failed' ? outcome.type : 'completed';
          failed[key] = (failed[key] ?? 0) + 1;
        }
      }
      const cpuMs = Object.fromEntries(PROCESSES.map((p) => [p, before[p] === null || after[p] === null ? null : after[p]! - before[p]!])) as Record<ProcessName, number | null>;
      return { variant, calls: completed * options.activitiesPerWorkflow, seconds, cpuMs, failed };
    };

    options.log('throughput: warm-up round per variant...');
    const warmup = Math.min(10, options.workflows);
    await round('ungoverned', warmup);
    await round('governed', warmup);
    await round('direct', warmup);
    const rounds: ThroughputRound[] = [];
    for (let r = 0; r < options.rounds; r++) {
      const variants: Variant[] = ['ungoverned', 'governed', 'direct'];
      // Each variant goes first, second and last in turn, so drift falls on all alike.
      const order = variants.map((_, i) => variants[(i + r) % variants.length]!);
      for (const variant of order) rounds.push(await round(variant, options.workflows));
      options.log(`throughput: round ${r + 1}/${options.rounds} done`);
    }
    return { workflows: options.workflows, activitiesPerWorkflow: options.activitiesPerWorkflow, rounds };
  } finally {
    for (const worker of workers) if (worker.getState() === 'RUNNING') worker.shutdown();
    await Promise.allSettled(runs);
    await governance.stop();
    await plugin.close();
    await directPlugin.close();
    await clientConnection.close().catch(() => undefined);
    await connection.close().catch(() => undefined);
  }
}

interface VariantSummary {
  readonly callsPerSec: number;
  readonly minPerSec: number;
  readonly maxPerSec: number;
  /** CPU ms per activity call, per process (null: unknown). */
  readonly cpuPerCall: Record<ProcessName, number | null>;
  readonly failed: Record<string, number>;
}

export function summarizeThroughput(result: ThroughputResult, variant: Variant): VariantSummary {
  const rounds = result.rounds.filter((r) => r.variant === variant);
  const calls = rounds.reduce((s, r) => s + r.calls, 0);
  const seconds = rounds.reduce((s, r) => s + r.seconds, 0);
  const rates = rounds.map((r) => r.calls / r.seconds);
  const cpuPerCall = Object.fromEntries(
    PROCESSES.map((p) => [p, rounds.some((r) => r.cpuMs[p] === null) ? null : rounds.reduce((s, r) => s + r.cpuMs[p]!, 0) / calls]),
  ) as Record<ProcessName, number | null>;
  const failed: Record<string, number> = {};
  for (const r of rounds) for (const [k, n] of Object.entries(r.failed)) failed[k] = (failed[k] ?? 0) + n;
  return { callsPerSec: calls / seconds, minPerSec: Math.min(...rates), maxPerSec: Math.max(...rates), cpuPerCall, failed };
}

export function throughputTable(result: ThroughputResult): string {
  const u = summarizeThroughput(result, 'ungoverned');
  const g = summarizeThroughput(result, 'governed');
  const d = summarizeThroughput(result, 'direct');
  const cpu = (x: number | null) => (x === null ? 'n/a' : fmt(x));
  const cpuRatio = (s: VariantSummary) => (p: ProcessName) => (u.cpuPerCall[p] && s.cpuPerCall[p] !== null ? ratio(s.cpuPerCall[p]!, u.cpuPerCall[p]!) : 'n/a');
  const cpuDiff = (s: VariantSummary) => (p: ProcessName) => (u.cpuPerCall[p] === null || s.cpuPerCall[p] === null ? 'n/a' : fmt(s.cpuPerCall[p]! - u.cpuPerCall[p]!));
  const row = (name: string, s: VariantSummary) => [name, fmt(s.callsPerSec), `${fmt(s.minPerSec)}-${fmt(s.maxPerSec)}`, ...PROCESSES.map((p) => cpu(s.cpuPerCall[p]))];
  const rounds = result.rounds.length / 3;
  return table(
    `Throughput: ${result.workflows} workflows x ${result.activitiesPerWorkflow} activities in flight`,
    ['variant', 'activities/s', 'per round', 'app CPU ms/call', 'governance CPU ms/call', 'server CPU ms/call', 'FerretDB CPU ms/call'],
    [
      row('ungoverned', u),
      row('governed', g),
      ['governed - ungoverned', fmt(g.callsPerSec - u.callsPerSec), '', ...PROCESSES.map(cpuDiff(g))],
      ['governed / ungoverned', ratio(g.callsPerSec, u.callsPerSec), '', ...PROCESSES.map(cpuRatio(g))],
      row('governed (direct)', d),
      ['direct - ungoverned', fmt(d.callsPerSec - u.callsPerSec), '', ...PROCESSES.map(cpuDiff(d))],
      ['direct / ungoverned', ratio(d.callsPerSec, u.callsPerSec), '', ...PROCESSES.map(cpuRatio(d))],
    ],
    [
      `${rounds} alternating rounds per variant after one warm-up round each; activities/s = calls / (first start to last result), summed over rounds.`,
      'CPU from /proc/<pid>/stat (utime + stime, 10 ms ticks) over each round / activity calls: app = this process (client and both',
      'app workers), governance = the governance worker in its own child process (it idles through the ungoverned rounds), server =',
      'Temporal dev server, FerretDB = the MongoDB-wire server. Governed CPU includes each workflow\'s run grant and lineage.',
      'Governed (direct) = each call authorized by a local activity asking the governance worker directly (docs/direct-authorization.md).',
      ...(['ungoverned', 'governed', 'direct'] as const).flatMap((v) => {
        const failed = Object.entries((v === 'ungoverned' ? u : v === 'governed' ? g : d).failed);
        return failed.length === 0 ? [] : [`FAILED ${v} workflows (their calls are not counted): ${failed.map(([k, n]) => `${k} ${n}`).join(', ')}`];
      }),
    ],
  );
}
