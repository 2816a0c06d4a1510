// The bench's governance worker in a process of its own (started by startGovernanceProcess in
// bench/harness.ts), so its CPU (/proc/<pid>/stat) and memory (/proc/<pid>/status) are separate
// from the app worker's and the client's, as in a deployment.
//
// It counts the decisions it issues from its own per-decision log line ("Governance decision",
// docs/observability.md), one per returned authorization, keyed by record id so a retried
// authorization (same id, same bytes) counts once. The parent compares them with what reached MongoDB.
//
// Protocol on the IPC channel (parsed with zod on both sides): parent -> child `start` (config; no
// secrets: key *paths*, and the MongoDB URI on the channel rather than the command line), `report`,
// `stop`; child -> parent `ready`, `report`, `stopped`, `failed`. The child exits when its parent goes.
import { DefaultLogger, NativeConnection, Runtime, type LogEntry } from '@temporalio/worker';
import { z } from 'zod';
import { createGovernanceWorker, governanceDirectUrl } from '../src/worker/governance-worker';
import { DECISION_LOG_MESSAGE } from '../src/observability/decision-log';

export const GovernanceProcessConfigSchema = z
  .object({
    address: z.string().min(1),
    namespace: z.string().min(1),
    taskQueue: z.string().min(1),
    mongoUri: z.string().min(1),
    database: z.string().min(1),
    policyPath: z.string().min(1),
    signingKeyPath: z.string().min(1),
    trustBundlePath: z.string().min(1),
    issuer: z.string().min(1),
    /** Also serve direct authorization (docs/direct-authorization.md) on a free loopback port. */
    direct: z.boolean().default(false),
  })
  .strict();
export type GovernanceProcessConfig = z.infer<typeof GovernanceProcessConfigSchema>;

export const IssuedDecisionSchema = z
  .object({
    recordId: z.string().min(1),
    decision: z.enum(['allow', 'deny']),
    denyCode: z.string().optional(),
    workflowId: z.string().optional(),
  })
  .strict();
export type IssuedDecision = z.infer<typeof IssuedDecisionSchema>;

export const ParentMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('start'), config: GovernanceProcessConfigSchema }).strict(),
  z.object({ type: z.literal('report') }).strict(),
  z.object({ type: z.literal('stop') }).strict(),
]);
export type ParentMessage = z.infer<typeof ParentMessageSchema>;

export const ChildMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready'), directUrl: z.string().url().optional() }).strict(),
  z
    .object({
      type: z.literal('report'),
      decisions: z.array(IssuedDecisionSchema),
      /** Warnings and errors the worker logged (other than denials), by message. */
      warnings: z.record(z.string(), z.number().int().nonnegative()),
    })
    .strict(),
  z.object({ type: z.literal('stopped') }).strict(),
  z.object({ type: z.literal('failed'), message: z.string() }).strict(),
]);
export type ChildMessage = z.infer<typeof ChildMessageSchema>;

const decisions = new Map<string, IssuedDecision>();
const warnings = new Map<string, number>();

const DecisionLogFieldsSchema = z.object({
  recordId: z.string().min(1),
  decision: z.enum(['allow', 'deny']),
  denyCode: z.string().optional(),
  workflowId: z.string().optional(),
});

function onLog(entry: LogEntry): void {
  if (entry.message === DECISION_LOG_MESSAGE) {
    const fields = DecisionLogFieldsSchema.safeParse(entry.meta);
    if (fields.success) {
      const { recordId, decision, denyCode, workflowId } = fields.data;
      decisions.set(recordId, { recordId, decision, ...(denyCode ? { denyCode } : {}), ...(workflowId ? { workflowId } : {}) });
    } else {
      count(`unparseable decision log line: ${fields.error.issues[0]?.message ?? 'unknown'}`);
    }
    return;
  }
  if (entry.level === 'WARN' || entry.level === 'ERROR') {
    // The SDK's "Activity failed" lines say which activity in their metadata.
    const activityType = typeof entry.meta?.activityType === 'string' ? ` (${entry.meta.activityType})` : '';
    count(`${entry.level} ${entry.message}${activityType}`.slice(0, 160));
  }
}

function count(key: string): void {
  if (warnings.size >= 200 && !warnings.has(key)) key = '(other messages)';
  warnings.set(key, (warnings.get(key) ?? 0) + 1);
}

function send(message: ChildMessage): void {
  process.send?.(message);
}

async function main(): Promise<void> {
  if (!process.send) throw new Error('bench/governance-process.ts runs as a child of the bench (it needs an IPC channel)');
  // Core's own warnings (e.g. "Activity not found on completion" under overload) are forwarded and
  // counted like the worker's, not printed one per task.
  Runtime.install({ logger: new DefaultLogger('INFO', onLog), telemetryOptions: { logging: { filter: { core: 'WARN', other: 'WARN' }, forward: {} } } });
  let stopWorker: (() => Promise<void>) | undefined;
  process.on('disconnect', () => process.exit(0)); // the bench has gone: so do we
  process.on('message', (raw: unknown) => {
    const parsed = ParentMessageSchema.safeParse(raw);
    if (!parsed.success) {
      send({ type: 'failed', message: `unexpected message from the bench: ${parsed.error.message}` });
      return;
    }
    const message = parsed.data;
    if (message.type === 'report') send({ type: 'report', decisions: [...decisions.values()], warnings: Object.fromEntries(warnings) });
    else if (message.type === 'stop') void (stopWorker ?? (async () => undefined))().then(() => send({ type: 'stopped' }));
    else
      void start(message.config).then(
        ({ stop, directUrl }) => {
          stopWorker = stop;
          send({ type: 'ready', ...(directUrl ? { directUrl } : {}) });
        },
        (err: unknown) => send({ type: 'failed', message: err instanceof Error ? err.message : String(err) }),
      );
  });
}

async function start(config: GovernanceProcessConfig): Promise<{ stop: () => Promise<void>; directUrl?: string }> {
  const connection = await NativeConnection.connect({ address: config.address });
  const worker = await createGovernanceWorker({
    connection,
    namespace: config.namespace,
    taskQueue: config.taskQueue,
    policy: config.policyPath,
    signingKeyPath: config.signingKeyPath,
    trustBundlePath: config.trustBundlePath,
    issuer: config.issuer,
    mongoUri: config.mongoUri,
    database: config.database,
    directAuthorization: config.direct ? { port: 0 } : undefined,
  });
  const run = worker.run();
  run.catch((err: unknown) => send({ type: 'failed', message: `governance worker stopped: ${err instanceof Error ? err.message : String(err)}` }));
  const stop = async () => {
    if (worker.getState() === 'RUNNING') worker.shutdown();
    await run.catch(() => undefined);
    await connection.close().catch(() => undefined);
  };
  return { stop, directUrl: governanceDirectUrl(worker) };
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`governance process: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
