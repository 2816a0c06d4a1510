// `npm run bench -- --scale`: the scale test (issue #10). Against one dev stack, at once:
//   - a soak: N workflows (default 1,000) of K sequential governed stamp calls (default 3), C in flight
//     (default 15); every D-th workflow's last call is one the policy denies (NEGATIVE_SEQUENCE);
//   - a chain: one workflow that continues as new M times (default 1,000), one governed call per run;
//   - optionally a fault: `--fault mongo-restart` stops the stack's MongoDB server (FerretDB) for
//     `--fault-seconds` (default 20) once a third of the expected calls have run, then starts it again.
// Then it waits (bounded) until every decision the governance worker issued is stored in MongoDB and
// the lineage outbox is empty ("quiet"), reads every workflow history (soak, chain runs, lineage
// workflows) and prints: outcomes by deny code / failure type, decisions issued vs stored, time to
// quiet, lineage lag, RSS of each process, largest history and payloads, wall times.
//
// Processes: this one (client, app worker with the governed plugin, the stamp activity), the
// governance worker in a child process (bench/governance-process.ts), the Temporal dev server and
// FerretDB. "Issued" is counted on the governance side from the worker's per-decision log line (one
// per returned authorization, by record id); "stored" is what the lineage collection holds.
//
// Fails (non-zero exit) when an issued decision is missing from MongoDB once quiet (or quiet never
// came), or when a workflow did not end as the policy says (an allowed one not completed, an
// expected denial ending any other way).
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure, TimeoutFailure } from '@temporalio/common';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Worker } from '@temporalio/worker';
import { DenialDetailsSchema } from '../src/common/schemas';
import { findGovernanceDenial } from '../src/common/denial';
import { MongoClient } from 'mongodb';
import { lineageCollection, outboxCollection } from '../src/lineage/store';
import { DEAD_LETTER_COLLECTION, LINEAGE_WORKFLOW_TYPE, lineageTaskQueue } from '../src/lineage/schema';
import type { SupervisedServer } from '../src/stack/stack';
import * as benchActivities from './activities';
import { benchPlugin, createBenchIdentity, startGovernanceProcess } from './harness';
import type { BenchKeys } from './latency';
import { sampleMemory, type MemorySample } from './proc';
import { fmt, summarize, table, type Cell, type Summary } from './util';
import { join } from 'node:path';

const WORKFLOWS_PATH = join(__dirname, 'workflows.ts');
/** The deny code of the bench policy's deny rule (stamp with a negative sequence number). */
export const EXPECTED_DENY_CODE = 'NEGATIVE_SEQUENCE';

export type Fault = 'none' | 'mongo-restart';

export interface ScaleOptions {
  readonly address: string;
  readonly namespace: string;
  readonly mongoUri: string;
  readonly keys: BenchKeys;
  /** The servers the bench's own stack started (the fault needs `mongo`, the RSS table reads both). */
  readonly servers: { readonly temporal?: SupervisedServer; readonly mongo?: SupervisedServer };
  readonly soakWorkflows: number;
  readonly soakCalls: number;
  readonly soakConcurrency: number;
  /** Every n-th soak workflow ends with a denied call (0: none). */
  readonly denyEvery: number;
  readonly chainDepth: number;
  readonly fault: Fault;
  readonly faultSeconds: number;
  readonly quietTimeoutSeconds: number;
  readonly log: (line: string) => void;
}

export type Outcome = { readonly status: 'completed' } | { readonly status: 'denied'; readonly code: string } | { readonly status: 'failed'; readonly type: string };

export interface SectionOutcomes {
  readonly workflows: number;
  readonly completed: number;
  /** By deny code. */
  readonly denied: Record<string, number>;
  /** By failure type. */
  readonly failed: Record<string, number>;
  /** Workflows that did not end as the policy says (allowed ones not completed, expected denials otherwise). */
  readonly unexpected: number;
  readonly wallSeconds: number;
  /** Client-side start-to-end time per workflow, ms. */
  readonly workflowMs: Summary | null;
}

export interface DecisionCount {
  readonly issued: number;
  readonly issuedDenials: number;
  readonly stored: number;
  /** Issued but not in MongoDB: a breach of "no issued decision is ever missing once quiet". */
  readonly missing: number;
  /** Stored but never returned by an authorization (e.g. its attempts were abandoned after the write-ahead). */
  readonly storedNotIssued: number;
  /** Up to 10 of each, to look them up (`temporal-governance lineage show`). */
  readonly samples: { readonly missing: string[]; readonly storedNotIssued: { id: string; action: string; target: string }[] };
}

export interface Lag {
  readonly records: number;
  readonly p50: number;
  readonly p95: number;
  readonly max: number;
}

export interface HistoryFact {
  readonly workflowType: string;
  readonly workflowId: string;
  readonly runId: string;
  readonly events: number;
  readonly bytes: number;
}

export interface PayloadFact {
  /** Where in the history: event attribute path (indexes dropped), e.g. activityTaskScheduledEventAttributes.input.payloads. */
  readonly where: string;
  readonly workflowType: string;
  readonly workflowId: string;
  readonly bytes: number;
}

export interface ScaleReport {
  readonly options: {
    soakWorkflows: number;
    soakCalls: number;
    soakConcurrency: number;
    denyEvery: number;
    chainDepth: number;
    fault: Fault;
    faultSeconds: number;
  };
  readonly outcomes: { readonly soak: SectionOutcomes; readonly chain: SectionOutcomes & { readonly runs: number } };
  readonly decisions: { readonly soak: DecisionCount; readonly chain: DecisionCount; readonly other: DecisionCount; readonly total: DecisionCount };
  /** outboxLeft / deadLetters are -1 and storeError says why when the store could not be read. */
  readonly quiet: { readonly reached: boolean; readonly seconds: number; readonly outboxLeft: number; readonly deadLetters: number; readonly storeError: string | null };
  readonly lineageLagMs: { readonly soak: Lag | null; readonly chain: Lag | null; readonly all: Lag | null };
  readonly memory: MemorySample[];
  readonly histories: {
    readonly read: number;
    readonly largestByEvents: HistoryFact | null;
    readonly largestByBytes: HistoryFact | null;
    /** Largest history per workflow type. */
    readonly byType: HistoryFact[];
    /** Largest payload per place in the history, biggest first. */
    readonly payloads: PayloadFact[];
    /** Activity attempts after the first (ActivityTaskStarted.attempt > 1), by activity type. */
    readonly retriedAttempts: Record<string, number>;
  };
  readonly fault: { readonly downAtSeconds: number; readonly upAtSeconds: number } | null;
  readonly governanceWarnings: Record<string, number>;
  readonly wallSeconds: number;
  /** Why the run fails; empty when it passes. */
  readonly problems: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What ended a workflow, from the client's error: a governance denial's code, else the innermost failure's kind. */
export function classifyFailure(err: unknown): Outcome {
  const denial = findGovernanceDenial(err);
  if (denial) {
    const details = DenialDetailsSchema.safeParse(denial.details?.[0]);
    return { status: 'denied', code: details.success ? details.data.code : 'unparseable-denial' };
  }
  if (!(err instanceof WorkflowFailedError)) return { status: 'failed', type: `client:${(err as Error)?.name ?? typeof err}` };
  let innermost: unknown = err;
  while ((innermost as { cause?: unknown }).cause) innermost = (innermost as { cause: unknown }).cause;
  if (innermost instanceof ApplicationFailure) return { status: 'failed', type: `ApplicationFailure:${innermost.type ?? 'untyped'}` };
  if (innermost instanceof TimeoutFailure) return { status: 'failed', type: `TimeoutFailure:${innermost.timeoutType ?? 'unknown'}` };
  return { status: 'failed', type: (innermost as Error).name ?? 'unknown' };
}

function tally(outcomes: readonly { outcome: Outcome; expectDenial: boolean; ms: number }[], wallSeconds: number): SectionOutcomes {
  const denied: Record<string, number> = {};
  const failed: Record<string, number> = {};
  let completed = 0;
  let unexpected = 0;
  for (const { outcome, expectDenial } of outcomes) {
    if (outcome.status === 'completed') completed += 1;
    else if (outcome.status === 'denied') denied[outcome.code] = (denied[outcome.code] ?? 0) + 1;
    else failed[outcome.type] = (failed[outcome.type] ?? 0) + 1;
    const asExpected = expectDenial ? outcome.status === 'denied' && outcome.code === EXPECTED_DENY_CODE : outcome.status === 'completed';
    if (!asExpected) unexpected += 1;
  }
  return { workflows: outcomes.length, completed, denied, failed, unexpected, wallSeconds, workflowMs: outcomes.length > 0 ? summarize(outcomes.map((o) => o.ms)) : null };
}

function lagOf(docs: readonly { issuedAt: Date; recordedAt: Date }[]): Lag | null {
  if (docs.length === 0) return null;
  const s = summarize(docs.map((d) => d.recordedAt.getTime() - d.issuedAt.getTime()));
  return { records: s.n, p50: s.p50, p95: s.p95, max: s.max };
}

/** Calls `fn` on every item with at most `limit` running at once. */
async function pool<T>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const runners = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      await fn(items[index]!, index);
    }
  });
  await Promise.all(runners);
}

/** Every payload in a history event (an object with `data` bytes), with its attribute path and size. */
export function payloadsOf(value: unknown, path: string, out: { where: string; bytes: number }[]): void {
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return;
  const record = value as Record<string, unknown>;
  if (record.data instanceof Uint8Array) {
    const metadata = (record.metadata ?? {}) as Record<string, Uint8Array>;
    const metaBytes = Object.entries(metadata).reduce((s, [k, v]) => s + k.length + (v?.length ?? 0), 0);
    out.push({ where: path, bytes: record.data.length + metaBytes });
    return;
  }
  for (const key of Object.keys(record)) {
    const child = record[key];
    // Arrays and maps (header.fields) are summarized under their own name: indexes and map keys dropped, except header field names.
    const childPath = Array.isArray(record) ? path : path.endsWith('.fields') ? `${path}[${key}]` : path ? `${path}.${key}` : key;
    payloadsOf(child, childPath, out);
  }
}

export async function runScale(options: ScaleOptions): Promise<ScaleReport> {
  const started = Date.now();
  const seconds = () => (Date.now() - started) / 1000;
  if (options.fault === 'mongo-restart' && !options.servers.mongo) {
    throw new Error('--fault mongo-restart restarts the MongoDB server the bench started itself; unset MONGODB_URI');
  }
  const suffix = `${process.pid}-${Date.now().toString(36)}`;
  const database = `bench_scale_${Date.now().toString(36)}`;
  const queues = { app: `scale-app-${suffix}`, governance: `scale-governance-${suffix}` };
  const soakPrefix = `scale-soak-${suffix}-`;
  const chainId = `scale-chain-${suffix}`;

  const apiKey = await createBenchIdentity(options.mongoUri, database);
  const plugin = benchPlugin(apiKey, options.mongoUri, database, options.keys, queues.governance);
  options.log('scale: starting the governance worker process...');
  const governance = await startGovernanceProcess(
    { address: options.address, namespace: options.namespace, taskQueue: queues.governance, mongoUri: options.mongoUri, database, signingKeyPath: options.keys.keyPath, trustBundlePath: options.keys.bundlePath },
    options.log,
  );
  const memory = sampleMemory([
    { name: 'bench (client + app worker)', pid: () => process.pid },
    { name: 'governance worker', pid: () => governance.pid },
    { name: 'Temporal server', pid: () => options.servers.temporal?.pid() ?? null },
    { name: 'MongoDB server (FerretDB)', pid: () => options.servers.mongo?.pid() ?? null },
  ]);

  // Calls of the stamp activity that ran, so the fault starts under load (a third of the way in).
  let callsRun = 0;
  const activities = {
    stamp: async (seq: number) => {
      callsRun += 1;
      return benchActivities.stamp(seq);
    },
  };

  const connection = await NativeConnection.connect({ address: options.address });
  const clientConnection = await Connection.connect({ address: options.address });
  let worker: Worker | undefined;
  let workerRun: Promise<void> | undefined;
  try {
    options.log('scale: bundling the governed workflow code...');
    const bundle = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, plugins: [plugin], logger: new DefaultLogger('WARN') });
    worker = await Worker.create({ connection, namespace: options.namespace, taskQueue: queues.app, workflowBundle: bundle, activities, plugins: [plugin] });
    workerRun = worker.run();
    const client = new Client({ connection: clientConnection, namespace: options.namespace, plugins: [plugin] });
    const plainClient = new Client({ connection: clientConnection, namespace: options.namespace });

    const expectedCalls = options.soakWorkflows * options.soakCalls + (options.chainDepth > 0 || options.soakWorkflows === 0 ? options.chainDepth + 1 : 0);
    let fault: { downAtSeconds: number; upAtSeconds: number } | null = null;
    let workDone = false;
    const faultRun = (async () => {
      if (options.fault !== 'mongo-restart') return;
      while (!workDone && callsRun < expectedCalls / 3) await sleep(100);
      if (workDone) {
        options.log('scale: the work ended before the fault was due; no fault injected');
        return;
      }
      const down = seconds();
      options.log(`scale: stopping MongoDB for ${options.faultSeconds} s (after ${callsRun} of ${expectedCalls} calls)`);
      await options.servers.mongo!.stop();
      await sleep(options.faultSeconds * 1000);
      await options.servers.mongo!.start();
      fault = { downAtSeconds: down, upAtSeconds: seconds() };
      options.log(`scale: MongoDB is back after ${(fault.upAtSeconds - fault.downAtSeconds).toFixed(1)} s`);
    })();

    const soakRun = (async () => {
      const t0 = Date.now();
      const results: { outcome: Outcome; expectDenial: boolean; ms: number }[] = [];
      let done = 0;
      await pool(
        Array.from({ length: options.soakWorkflows }, (_, i) => i),
        options.soakConcurrency,
        async (i) => {
          const expectDenial = options.denyEvery > 0 && i % options.denyEvery === options.denyEvery - 1;
          const s = Date.now();
          let outcome: Outcome;
          try {
            await client.workflow.execute('scaleSoak', { taskQueue: queues.app, workflowId: `${soakPrefix}${i}`, args: [options.soakCalls, expectDenial], workflowExecutionTimeout: '30 minutes' });
            outcome = { status: 'completed' };
          } catch (err) {
            outcome = classifyFailure(err);
          }
          results.push({ outcome, expectDenial, ms: Date.now() - s });
          done += 1;
          if (done % 100 === 0) options.log(`scale: soak ${done}/${options.soakWorkflows} workflows done (${seconds().toFixed(0)} s)`);
        },
      );
      return tally(results, (Date.now() - t0) / 1000);
    })();

    const chainRun = (async () => {
      const t0 = Date.now();
      if (options.chainDepth === 0 && options.soakWorkflows > 0) return tally([], 0);
      let outcome: Outcome;
      try {
        await client.workflow.execute('scaleChain', { taskQueue: queues.app, workflowId: chainId, args: [options.chainDepth], workflowExecutionTimeout: '2 hours' });
        outcome = { status: 'completed' };
      } catch (err) {
        outcome = classifyFailure(err);
      }
      const ms = Date.now() - t0;
      options.log(`scale: chain ended (${outcome.status}) after ${(ms / 1000).toFixed(0)} s`);
      return tally([{ outcome, expectDenial: false, ms }], ms / 1000);
    })();

    const [soak, chainTally] = await Promise.all([soakRun, chainRun]);
    workDone = true;
    await faultRun;
    const settled = Date.now();
    options.log(`scale: all workflows settled after ${seconds().toFixed(0)} s; waiting for lineage to be quiet...`);

    // Quiet: every issued decision is stored and the outbox is empty (bounded).
    // The bench's own reads get long deadlines: the store under test may be slow (that is a finding), not the bench's failure.
    const mongo = new MongoClient(options.mongoUri, { serverSelectionTimeoutMS: 30_000, connectTimeoutMS: 30_000, socketTimeoutMS: 300_000 });
    await mongo.connect();
    const db = mongo.db(database);
    try {
      let issuedIds = new Set<string>();
      let reached = false;
      let outboxLeft = -1;
      const deadline = settled + options.quietTimeoutSeconds * 1000;
      let report = await governance.report();
      while (Date.now() < deadline) {
        try {
          report = await governance.report();
          issuedIds = new Set(report.decisions.map((d) => d.recordId));
          outboxLeft = await outboxCollection(db).countDocuments();
          const stored = await lineageCollection(db).countDocuments();
          if (outboxLeft === 0 && stored >= issuedIds.size) {
            const storedIds = new Set((await lineageCollection(db).find({}, { projection: { _id: 1 } }).toArray()).map((d) => d._id));
            if ([...issuedIds].every((id) => storedIds.has(id))) {
              reached = true;
              break;
            }
          }
        } catch (err) {
          options.log(`scale: quiet check failed (${(err as Error).message}); trying again`);
        }
        // Every second at first, then every 5 s: the check reads the store under test, which is slow enough already.
        await sleep(Date.now() - settled < 15_000 ? 1_000 : 5_000);
      }
      const quietSeconds = (Date.now() - settled) / 1000;
      options.log(reached ? `scale: quiet after ${quietSeconds.toFixed(1)} s` : `scale: NOT quiet within ${options.quietTimeoutSeconds} s`);
      let storeError: string | null = null;
      let docs: { _id: string; workflowId: string; action: string; target: string; issuedAt: Date; recordedAt: Date }[] = [];
      let deadLetters = -1;
      for (let attempt = 1; attempt <= 3; attempt++) {
        try {
          docs = await lineageCollection(db).find({}, { projection: { _id: 1, workflowId: 1, action: 1, target: 1, issuedAt: 1, recordedAt: 1 } }).toArray();
          deadLetters = await db.collection(DEAD_LETTER_COLLECTION).countDocuments();
          outboxLeft = await outboxCollection(db).countDocuments();
          storeError = null;
          break;
        } catch (err) {
          storeError = `cannot read the lineage store (attempt ${attempt} of 3): ${(err as Error).message}`;
          options.log(`scale: ${storeError}`);
        }
      }

      const sectionOf = (workflowId: string | undefined | null) => (workflowId?.startsWith(soakPrefix) ? 'soak' : workflowId === chainId ? 'chain' : 'other');
      const count = (section: 'soak' | 'chain' | 'other' | 'total'): DecisionCount => {
        const issued = report.decisions.filter((d) => section === 'total' || sectionOf(d.workflowId) === section);
        const stored = docs.filter((d) => section === 'total' || sectionOf(d.workflowId) === section);
        const storedIds = new Set(stored.map((d) => d._id));
        const issuedSet = new Set(issued.map((d) => d.recordId));
        return {
          issued: issued.length,
          issuedDenials: issued.filter((d) => d.decision === 'deny').length,
          stored: stored.length,
          missing: issued.filter((d) => !storedIds.has(d.recordId)).length,
          storedNotIssued: stored.filter((d) => !issuedSet.has(d._id)).length,
          samples: {
            missing: issued.filter((d) => !storedIds.has(d.recordId)).slice(0, 10).map((d) => d.recordId),
            storedNotIssued: stored.filter((d) => !issuedSet.has(d._id)).slice(0, 10).map((d) => ({ id: d._id, action: d.action, target: d.target })),
          },
        };
      };
      const decisions = { soak: count('soak'), chain: count('chain'), other: count('other'), total: count('total') };
      const lineageLagMs = {
        soak: lagOf(docs.filter((d) => sectionOf(d.workflowId) === 'soak')),
        chain: lagOf(docs.filter((d) => sectionOf(d.workflowId) === 'chain')),
        all: lagOf(docs),
      };

      options.log('scale: reading every workflow history...');
      // Lineage workflows run on the governance queue's lineage queue (lineageTaskQueue).
      const histories = await readHistories(plainClient, [queues.app, queues.governance, lineageTaskQueue(queues.governance)]);
      const chainRuns = histories.all.filter((h) => h.workflowId === chainId).length;

      const problems: string[] = [];
      if (storeError) problems.push(`${storeError}; the stored counts below are not known`);
      if (!reached) problems.push(`lineage was not quiet within ${options.quietTimeoutSeconds} s (outbox ${outboxLeft} entries)`);
      if (decisions.total.missing > 0) problems.push(`${decisions.total.missing} issued decision(s) are missing from MongoDB`);
      if (soak.unexpected > 0) problems.push(`${soak.unexpected} soak workflow(s) did not end as the policy says`);
      if (chainTally.unexpected > 0) problems.push('the chain did not complete');
      if (options.chainDepth > 0 && chainTally.completed === 1 && chainRuns !== options.chainDepth + 1) problems.push(`the chain ran ${chainRuns} runs, expected ${options.chainDepth + 1}`);

      const { all: _all, ...historyFacts } = histories;
      return {
        options: {
          soakWorkflows: options.soakWorkflows,
          soakCalls: options.soakCalls,
          soakConcurrency: options.soakConcurrency,
          denyEvery: options.denyEvery,
          chainDepth: options.chainDepth,
          fault: options.fault,
          faultSeconds: options.faultSeconds,
        },
        outcomes: { soak, chain: { ...chainTally, runs: chainRuns } },
        decisions,
        quiet: { reached, seconds: quietSeconds, outboxLeft, deadLetters, storeError },
        lineageLagMs,
        memory: memory.stop(),
        histories: historyFacts,
        fault,
        governanceWarnings: report.warnings,
        wallSeconds: seconds(),
        problems,
      };
    } finally {
      await mongo.close();
    }
  } finally {
    memory.stop();
    if (worker?.getState() === 'RUNNING') worker.shutdown();
    await workerRun?.catch(() => undefined);
    await governance.stop();
    await plugin.close();
    await clientConnection.close().catch(() => undefined);
    await connection.close().catch(() => undefined);
  }
}

async function readHistories(client: Client, taskQueues: readonly string[]) {
  const query = taskQueues.map((q) => `TaskQueue = '${q}'`).join(' OR ');
  const executions: { workflowId: string; runId: string; type: string }[] = [];
  for await (const info of client.workflow.list({ query })) executions.push({ workflowId: info.workflowId, runId: info.runId, type: info.type });
  const all: HistoryFact[] = [];
  const largestPayload = new Map<string, PayloadFact>();
  const retriedAttempts: Record<string, number> = {};
  await pool(executions, 8, async (execution) => {
    const handle = client.workflow.getHandle(execution.workflowId, execution.runId);
    // The server's own accounting of the history size (what its 50 MiB limit counts), fresh for running workflows too.
    const [history, described] = await Promise.all([handle.fetchHistory(), handle.describe()]);
    const events = history.events ?? [];
    all.push({ workflowType: execution.type, workflowId: execution.workflowId, runId: execution.runId, events: events.length, bytes: described.historySize ?? Number.NaN });
    const activityTypes = new Map<string, string>();
    for (const event of events) {
      const scheduled = event.activityTaskScheduledEventAttributes;
      if (scheduled) activityTypes.set(String(event.eventId), scheduled.activityType?.name ?? 'unknown');
      const startedAttrs = event.activityTaskStartedEventAttributes;
      if (startedAttrs && (startedAttrs.attempt ?? 1) > 1) {
        const type = activityTypes.get(String(startedAttrs.scheduledEventId)) ?? 'unknown';
        retriedAttempts[type] = (retriedAttempts[type] ?? 0) + 1;
      }
      const found: { where: string; bytes: number }[] = [];
      payloadsOf(event, '', found);
      for (const p of found) {
        const where = `${execution.type === LINEAGE_WORKFLOW_TYPE ? 'lineage ' : ''}${p.where}`;
        const best = largestPayload.get(where);
        if (!best || p.bytes > best.bytes) largestPayload.set(where, { where, workflowType: execution.type, workflowId: execution.workflowId, bytes: p.bytes });
      }
    }
  });
  const byEvents = [...all].sort((a, b) => b.events - a.events);
  const byBytes = [...all].sort((a, b) => b.bytes - a.bytes);
  const byType = new Map<string, HistoryFact>();
  for (const h of byBytes) if (!byType.has(h.workflowType)) byType.set(h.workflowType, h);
  return {
    all,
    read: all.length,
    largestByEvents: byEvents[0] ?? null,
    largestByBytes: byBytes[0] ?? null,
    byType: [...byType.values()],
    payloads: [...largestPayload.values()].sort((a, b) => b.bytes - a.bytes),
    retriedAttempts,
  };
}

const counts = (record: Record<string, number>) =>
  Object.entries(record)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v}`)
    .join(', ') || '-';
const mib = (kib: number | null) => (kib === null ? 'n/a' : fmt(kib / 1024));
const kib = (bytes: number) => `${fmt(bytes / 1024)} KiB`;
const ms = (x: number | undefined) => (x === undefined ? '-' : fmt(x));

export function scaleTables(report: ScaleReport): string {
  const o = report.options;
  const out: string[] = [];
  const outcomeRow = (name: string, s: SectionOutcomes): Cell[] => [name, String(s.workflows), String(s.completed), counts(s.denied), counts(s.failed), String(s.unexpected), fmt(s.wallSeconds), ms(s.workflowMs?.p50), ms(s.workflowMs?.p95)];
  out.push(
    table(
      'Scale: workflow outcomes',
      ['section', 'workflows', 'completed', 'denied (by code)', 'failed (by type)', 'not as policy says', 'wall s', 'p50 ms', 'p95 ms'],
      [outcomeRow('soak', report.outcomes.soak), outcomeRow(`chain (${report.outcomes.chain.runs} runs)`, report.outcomes.chain)],
      [
        `soak: ${o.soakWorkflows} workflows x ${o.soakCalls} sequential governed calls, ${o.soakConcurrency} in flight; ` +
          (o.denyEvery > 0 ? `every ${o.denyEvery}th ends with a call the policy denies (${EXPECTED_DENY_CODE}, expected).` : 'no denied calls.'),
        `chain: one workflow, ${o.chainDepth} continue-as-new, one governed call per run; fault: ${o.fault}` +
          (report.fault ? ` (MongoDB down ${fmt(report.fault.downAtSeconds)}-${fmt(report.fault.upAtSeconds)} s into the run)` : ''),
        'p50/p95: client-side start-to-end per workflow (for the chain: all its runs).',
      ],
    ),
  );
  const d = report.decisions;
  const decisionRow = (name: string, c: DecisionCount): Cell[] => [name, ...[c.issued, c.issuedDenials, c.stored, c.missing, c.storedNotIssued].map(String)];
  out.push(
    table(
      'Scale: decisions issued (governance worker) vs stored (MongoDB) once quiet',
      ['section', 'issued', 'of which deny', 'stored', 'missing', 'stored, never returned'],
      [decisionRow('soak', d.soak), decisionRow('chain', d.chain), decisionRow('other', d.other), decisionRow('total', d.total)],
      [
        `quiet: ${report.quiet.reached ? `reached ${fmt(report.quiet.seconds)} s after the last workflow settled` : `NOT reached within ${fmt(report.quiet.seconds)} s`}; ` +
          `outbox left ${report.quiet.outboxLeft}, dead letters ${report.quiet.deadLetters}.` +
          (report.quiet.storeError ? ` STORE NOT READABLE: ${report.quiet.storeError}` : ''),
        'issued = distinct record ids of the worker\'s "Governance decision" log lines (one per returned authorization, run grants included);',
        'stored = lineage documents; "stored, never returned" = persisted from the write-ahead outbox by an attempt that then did not return.',
        ...(d.total.samples.missing.length > 0 ? [`missing (first ${d.total.samples.missing.length}): ${d.total.samples.missing.join(', ')}`] : []),
        ...(d.total.samples.storedNotIssued.length > 0
          ? [`stored, never returned (first ${d.total.samples.storedNotIssued.length}): ${d.total.samples.storedNotIssued.map((x) => `${x.id} (${x.action} ${x.target})`).join(', ')}`]
          : []),
      ],
    ),
  );
  const lagRow = (name: string, l: Lag | null): Cell[] => (l ? [name, String(l.records), l.p50, l.p95, l.max] : [name, '0', '-', '-', '-']);
  out.push(
    table('Scale: lineage lag (recordedAt - issuedAt of the stored documents, ms)', ['section', 'records', 'p50', 'p95', 'max'], [
      lagRow('soak', report.lineageLagMs.soak),
      lagRow('chain', report.lineageLagMs.chain),
      lagRow('all', report.lineageLagMs.all),
    ]),
  );
  out.push(
    table(
      'Scale: memory (MiB, /proc/<pid>/status)',
      ['process', 'pid', 'VmRSS at end', 'VmHWM (peak)', 'max sampled VmRSS'],
      report.memory.map((m) => [m.name, m.pid === null ? 'n/a' : String(m.pid), mib(m.rssKiB), mib(m.hwmKiB), mib(m.maxSampledRssKiB)]),
      ['n/a: a server the bench did not start (TEMPORAL_ADDRESS / MONGODB_URI) or not Linux. A restarted server\'s VmHWM counts from its restart.'],
    ),
  );
  const h = report.histories;
  const historyRow = (name: string, f: HistoryFact | null): Cell[] => (f ? [name, f.workflowType, `${f.workflowId} run ${f.runId.slice(0, 8)}`, String(f.events), kib(f.bytes)] : [name, '-', '-', '-', '-']);
  out.push(
    table(
      `Scale: largest histories (${h.read} histories read)`,
      ['which', 'workflow type', 'workflow id and run', 'events', 'size'],
      [historyRow('most events', h.largestByEvents), historyRow('most bytes', h.largestByBytes), ...h.byType.map((f) => historyRow(`largest ${f.workflowType}`, f))],
      [`activity attempts after the first: ${counts(h.retriedAttempts)}`],
    ),
  );
  out.push(
    table(
      'Scale: largest payloads by place in the history (bytes: data + metadata)',
      ['where', 'workflow type', 'bytes'],
      h.payloads.slice(0, 12).map((p) => [p.where, p.workflowType, p.bytes.toLocaleString('en-US')]),
      ['Temporal refuses a payload over 2 MiB (PayloadsTooLarge) and warns from 256 KiB; history size limits are 50 MiB / 51,200 events.'],
    ),
  );
  out.push(
    table(
      'Scale: governance worker warnings and errors (other than denials)',
      ['message', 'count'],
      Object.keys(report.governanceWarnings).length === 0
        ? [['(none)', '0']]
        : Object.entries(report.governanceWarnings)
            .sort((a, b) => b[1] - a[1])
            .slice(0, 10)
            .map(([message, n]) => [message, String(n)]),
    ),
  );
  out.push(`\nscale wall time ${fmt(report.wallSeconds)} s`);
  out.push(report.problems.length === 0 ? 'scale: PASS (every issued decision stored; every workflow ended as the policy says)' : `scale: FAIL\n${report.problems.map((p) => `  - ${p}`).join('\n')}`);
  return out.join('\n');
}
