// The governance worker's opt-in health port (createGovernanceWorker's `health` option, the CLI's
// --health-port): GET /healthz, /readyz and /metrics on a Fastify app of its own, bound to
// 127.0.0.1 unless told otherwise. Read-only; it serves no id, argument, key or credential:
// readiness sentences name MongoDB hosts at most (never credentials), metrics carry bounded
// attributes only (docs/observability.md).
//
// /metrics is the Prometheus text of the governance metrics the worker records through
// @opentelemetry/api. They reach a reader only through a registered MeterProvider: with
// `metricReader` the application's own (a reader it added to its MeterProvider); without, the
// worker registers a MeterProvider of its own as the global one (shared by every governance worker
// with a health port in the process) and unregisters it when the last of them stops.
import { metrics, ValueType, type ObservableCallback } from '@opentelemetry/api';
import { MeterProvider, type MetricReader } from '@opentelemetry/sdk-metrics';
import Fastify, { type FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Db } from 'mongodb';
import { stalenessProblem, type IdentitySnapshot } from '../identity/snapshot';
import { governanceInstruments, METER_NAME } from '../observability/metrics';
import { packageVersion } from '../observability/version';
import { failureReason, formatDuration, withDeadline, type HealthStatus } from './check';
import { PROMETHEUS_CONTENT_TYPE, prometheusText, PullMetricReader } from './prometheus';

const LOOPBACK = '127.0.0.1';

export const WorkerHealthOptionsSchema = z
  .object({
    /** Port to listen on (0: any free port; the bound one is `healthServerOf(worker).url`). */
    port: z.number().int().min(0).max(65_535),
    /** Address to bind (default 127.0.0.1). */
    host: z.string().min(1).default(LOOPBACK),
    /**
     * A MetricReader you added to your own MeterProvider's readers: /metrics serializes what it
     * collects. Without it the worker registers its own MeterProvider as the global one (and
     * refuses to start if another is registered already).
     */
    metricReader: z.custom<Pick<MetricReader, 'collect'>>((v) => typeof (v as { collect?: unknown } | null)?.collect === 'function', 'metricReader must be a MetricReader (an object with collect())').optional(),
  })
  .strict();
export type WorkerHealthOptions = z.input<typeof WorkerHealthOptionsSchema>;

/** The worker's health port could not be set up as asked. */
export class WorkerHealthError extends Error {
  override readonly name = 'WorkerHealthError';
}

export function parseWorkerHealthOptions(input: unknown): z.output<typeof WorkerHealthOptionsSchema> {
  const parsed = WorkerHealthOptionsSchema.safeParse(input);
  if (!parsed.success) throw new WorkerHealthError(`health: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'options'}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

interface OwnedMetrics {
  readonly provider: MeterProvider;
  readonly reader: PullMetricReader;
  users: number;
}
let owned: OwnedMetrics | undefined;

/** The reader /metrics collects, and how to let go of it. */
function acquireMetrics(given: Pick<MetricReader, 'collect'> | undefined): { reader: Pick<MetricReader, 'collect'>; own: boolean; release(): Promise<void> } {
  if (given) return { reader: given, own: false, release: async () => undefined };
  if (!owned || metrics.getMeterProvider() !== owned.provider) {
    const reader = new PullMetricReader();
    const provider = new MeterProvider({ readers: [reader] });
    if (!metrics.setGlobalMeterProvider(provider)) {
      void provider.shutdown();
      throw new WorkerHealthError(
        'health: an OpenTelemetry MeterProvider is already registered in this process, so the worker cannot register its own for /metrics; add a MetricReader to your MeterProvider and pass it as health.metricReader',
      );
    }
    owned = { provider, reader, users: 0 };
  }
  const mine = owned;
  mine.users += 1;
  // Instruments are made per provider on first use: make them now, so /metrics lists the identity
  // staleness gauge before the first decision.
  governanceInstruments();
  return {
    reader: mine.reader,
    own: true,
    release: async () => {
      mine.users -= 1;
      if (mine.users > 0) return;
      if (owned === mine) owned = undefined;
      if (metrics.getMeterProvider() === mine.provider) metrics.disable();
      await mine.provider.shutdown();
    },
  };
}

export interface WorkerReadinessCheck {
  readonly status: HealthStatus;
  readonly summary: string;
}

export interface WorkerHealthSources {
  /** mongodb, identity, worker: each resolves within its own deadline and never rejects. */
  readonly readiness: () => Promise<Readonly<Record<'mongodb' | 'identity' | 'worker', WorkerReadinessCheck>>>;
  readonly taskQueue: string;
  readonly policy: { readonly id: string; readonly version: string };
}

export interface WorkerHealthServer {
  /** e.g. http://127.0.0.1:9464 */
  readonly url: string;
  close(): Promise<void>;
}

/** The policy a worker decides under, as a gauge (`governance.worker.policy`, value 1) on the metrics /metrics serves. */
function observePolicy(policy: { id: string; version: string }): () => void {
  const gauge = metrics.getMeterProvider().getMeter(METER_NAME, packageVersion()).createObservableGauge('governance.worker.policy', {
    description: 'The policy this governance worker decides under (value 1; the policy id and version hash are attributes)',
    valueType: ValueType.INT,
  });
  const callback: ObservableCallback = (result) => result.observe(1, { 'governance.policy.id': policy.id, 'governance.policy.version': policy.version });
  gauge.addCallback(callback);
  return () => gauge.removeCallback(callback);
}

export async function startWorkerHealthServer(options: z.output<typeof WorkerHealthOptionsSchema>, sources: WorkerHealthSources): Promise<WorkerHealthServer> {
  const acquired = acquireMetrics(options.metricReader);
  const unobservePolicy = observePolicy(sources.policy);
  const app: FastifyInstance = Fastify({ logger: false });
  const release = async () => {
    unobservePolicy();
    await acquired.release();
  };
  try {
    app.addHook('onRequest', async (_request, reply) => {
      reply.header('cache-control', 'no-store');
      reply.header('x-content-type-options', 'nosniff');
    });
    app.setErrorHandler((_error, _request, reply) => reply.code(500).send({ error: 'Internal error', message: 'the health port could not answer this request' }));
    app.setNotFoundHandler((request, reply) => reply.code(404).send({ error: 'Not found', message: `nothing at ${request.url.split('?')[0]}; this port serves /healthz, /readyz and /metrics` }));
    app.get('/healthz', async () => ({ status: 'ok' }));
    app.get('/readyz', async (_request, reply) => {
      const checks = await sources.readiness();
      const failing = Object.entries(checks)
        .filter(([, c]) => c.status === 'fail')
        .map(([name]) => name);
      return reply.code(failing.length === 0 ? 200 : 503).send({ status: failing.length === 0 ? 'ready' : 'not ready', failing, checks, taskQueue: sources.taskQueue, policy: sources.policy });
    });
    app.get('/metrics', async (request, reply) => {
      const { text } = await prometheusText(acquired.reader, { withoutTargetInfo: acquired.own });
      return reply.type(PROMETHEUS_CONTENT_TYPE).send(text);
    });
    await app.listen({ host: options.host, port: options.port });
  } catch (err) {
    await app.close().catch(() => undefined);
    await release();
    const code = (err as NodeJS.ErrnoException).code;
    throw new WorkerHealthError(`health: cannot listen on ${options.host}:${options.port}${code ? ` (${code})` : `: ${(err as Error).message}`}`);
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    close: () =>
      (closing ??= (async () => {
        await app.close();
        await release();
      })()),
  };
}


/** Each /readyz read of the worker (MongoDB ping, identity snapshot) answers within this. */
export const WORKER_READINESS_DEADLINE_MS = 2_000;

/**
 * The worker's readiness: MongoDB answers a ping, the identity snapshot it decides from is fresh by
 * its own rule (stalenessProblem with its maxStalenessMs), and the Temporal worker is running (not
 * starting, draining or stopped).
 */
export function workerReadiness(sources: {
  db: () => Promise<Db>;
  identity: () => Promise<IdentitySnapshot | undefined>;
  maxStalenessMs: number;
  state: () => string;
  now?: () => number;
}): WorkerHealthSources['readiness'] {
  const now = sources.now ?? Date.now;
  return async () => {
    const [mongodb, identity] = await Promise.all([
      (async (): Promise<WorkerReadinessCheck> => {
        const started = now();
        try {
          await withDeadline((async () => (await sources.db()).command({ ping: 1 }))(), WORKER_READINESS_DEADLINE_MS, 'MongoDB');
          return { status: 'ok', summary: `MongoDB answered in ${formatDuration(now() - started)}` };
        } catch (err) {
          return { status: 'fail', summary: `MongoDB is unreachable: ${failureReason(err)}` };
        }
      })(),
      (async (): Promise<WorkerReadinessCheck> => {
        let snapshot: IdentitySnapshot | undefined;
        try {
          snapshot = await withDeadline(sources.identity(), WORKER_READINESS_DEADLINE_MS, 'the identity state');
        } catch {
          snapshot = undefined;
        }
        const at = now();
        const problem = stalenessProblem(snapshot, at, sources.maxStalenessMs);
        if (problem) return { status: 'fail', summary: problem.reason };
        return { status: 'ok', summary: `identity state is ${formatDuration(at - snapshot!.loadedAt)} old (maximum ${formatDuration(sources.maxStalenessMs)})` };
      })(),
    ]);
    const state = sources.state();
    const worker: WorkerReadinessCheck = state === 'RUNNING' ? { status: 'ok', summary: 'the worker is polling' } : { status: 'fail', summary: `the worker is ${state.toLowerCase()}, not running` };
    return { mongodb, identity, worker };
  };
}
