// Prometheus text exposition of OpenTelemetry metrics: a pull MetricReader (@opentelemetry/sdk-metrics)
// collected on each scrape and written by @opentelemetry/exporter-prometheus's PrometheusSerializer
// (the serializer of the OpenTelemetry Prometheus exporter, without its own HTTP server: the console
// and the governance worker serve /metrics from their Fastify apps).
//
// The console's own numbers (its health checks) are observable gauges on a MeterProvider of its own,
// never the global one: they are read when scraped, from one run of the health checks.
import { PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { ValueType, type Attributes, type ObservableGauge } from '@opentelemetry/api';
import { AttributeNames, denyCodeAttribute } from '../observability/metrics';
import { PACKAGE_NAME, packageVersion } from '../observability/version';
import type { HealthStatus } from './check';
import type { HealthReport } from './report';

/** Prometheus text format 0.0.4. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** A reader that exports nothing by itself: /metrics collects it on each scrape. */
export class PullMetricReader extends MetricReader {
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

/**
 * Collects `reader` and writes Prometheus text. `withoutTargetInfo` leaves out `target_info` (the
 * resource) for providers of our own, whose resource says nothing. Collection errors (a callback
 * that threw) are returned beside the text: what was collected is still served.
 */
export async function prometheusText(reader: Pick<MetricReader, 'collect'>, options: { withoutTargetInfo?: boolean; timeoutMillis?: number } = {}): Promise<{ text: string; errors: unknown[] }> {
  const { resourceMetrics, errors } = await reader.collect({ timeoutMillis: options.timeoutMillis ?? 10_000 });
  const serializer = new PrometheusSerializer(undefined, false, undefined, options.withoutTargetInfo ?? false);
  return { text: serializer.serialize(resourceMetrics), errors };
}

/** Attribute names of the console's gauges (Prometheus labels: dots become underscores). */
export const ConsoleAttributeNames = {
  check: 'governance.check',
  taskQueueType: 'governance.task_queue_type',
  window: 'governance.window',
  kid: 'governance.kid',
  policyId: 'governance.policy.id',
  policyVersion: 'governance.policy.version',
  outcome: AttributeNames.outcome,
  denyCode: AttributeNames.denyCode,
} as const;

/** The console's gauges: OpenTelemetry name -> description. docs/console.md lists them with their Prometheus names. */
export const CONSOLE_GAUGES = {
  status: ['governance.health.status', 'Status of each console health check: 0 ok, 1 warn, 2 fail'],
  pollers: ['governance.task_queue.pollers', 'Pollers of the governance task queue that polled within the threshold (DescribeTaskQueue), by task queue type'],
  backlog: ['governance.task_queue.backlog', 'Approximate backlog of the governance task queue (tasks waiting for a poller), by task queue type'],
  backlogAge: ['governance.task_queue.backlog_age_seconds', 'Approximate age of the oldest task in the governance task queue backlog, by task queue type'],
  policyWorkers: ['governance.policy.workers', 'Governance workers polling now that announce this policy id and version in their poller identity'],
  policyDecisions: ['governance.policy.recent_decisions', 'Signed decisions of the last hour made under this policy id and version (lineage)'],
  identityAge: ['governance.identity.snapshot_age_seconds', "Age of the console's newest good read of the identity store (principals, API keys, revocations)"],
  outboxPending: ['governance.lineage.outbox.pending', 'Decisions in lineage_outbox: durable, not chained into lineage yet'],
  outboxOldest: ['governance.lineage.outbox.oldest_age_seconds', 'Time since the oldest decision waiting in lineage_outbox was issued (0 when none waits)'],
  deadLetters: ['governance.lineage.dead_letters', 'Decisions in lineage_dead_letters: issued but never chained'],
  lagMax: ['governance.lineage.recent_lag_max_seconds', 'Largest issue-to-stored lag of the decisions issued in the last 15 minutes'],
  lagMedian: ['governance.lineage.recent_lag_median_seconds', 'Median issue-to-stored lag of the decisions issued in the last 15 minutes'],
  decisions: ['governance.decisions.recent', 'Signed decisions recorded in lineage in the window (15m or 1h), by outcome'],
  denials: ['governance.denials.recent', 'Denials recorded in lineage in the window (15m or 1h), by deny code'],
  keyValid: ['governance.signing_key.valid', 'Whether the trust bundle accepts signatures of this key now (1) or not (0: pending or retired)'],
  keyNotAfter: ['governance.signing_key.not_after_timestamp_seconds', 'End of the key\'s validity window (Unix time); absent for a key without an end'],
} as const satisfies Record<string, readonly [string, string]>;

const STATUS_VALUE: Record<HealthStatus, number> = { ok: 0, warn: 1, fail: 2 };

export interface ConsoleMetrics {
  /** Runs the health checks once and returns the Prometheus text of every gauge. */
  scrape(): Promise<{ text: string; errors: unknown[] }>;
  shutdown(): Promise<void>;
}

export function consoleMetrics(report: () => Promise<HealthReport>): ConsoleMetrics {
  const reader = new PullMetricReader();
  const provider = new MeterProvider({ readers: [reader] });
  const meter = provider.getMeter(`${PACKAGE_NAME}/console`, packageVersion());
  const gauges = Object.fromEntries(
    Object.entries(CONSOLE_GAUGES).map(([key, [name, description]]) => [key, meter.createObservableGauge(name, { description, valueType: ValueType.DOUBLE })]),
  ) as Record<keyof typeof CONSOLE_GAUGES, ObservableGauge>;
  const A = ConsoleAttributeNames;

  meter.addBatchObservableCallback(async (result) => {
    const r = await report();
    const observe = (gauge: ObservableGauge, value: number, attributes: Attributes = {}) => result.observe(gauge, value, attributes);
    for (const [name, check] of Object.entries(r.checks) as Array<[string, { status: HealthStatus }]>) observe(gauges.status, STATUS_VALUE[check.status], { [A.check]: name });
    for (const t of r.checks.pollers.details?.types ?? []) {
      observe(gauges.pollers, t.recentPollers, { [A.taskQueueType]: t.type });
      if (t.backlog) {
        observe(gauges.backlog, t.backlog.count, { [A.taskQueueType]: t.type });
        observe(gauges.backlogAge, t.backlog.ageMs / 1000, { [A.taskQueueType]: t.type });
      }
    }
    const announced = new Map<string, { id: string; version: string; workers: number }>();
    for (const w of r.checks.policy.details?.workers ?? []) {
      if (!w.policy) continue;
      const key = `${w.policy.id}@${w.policy.version}`;
      announced.set(key, { ...w.policy, workers: (announced.get(key)?.workers ?? 0) + 1 });
    }
    for (const p of announced.values()) observe(gauges.policyWorkers, p.workers, { [A.policyId]: p.id, [A.policyVersion]: p.version });
    for (const p of r.checks.policy.details?.decided ?? []) observe(gauges.policyDecisions, p.decisions, { [A.policyId]: p.id, [A.policyVersion]: p.version });
    const identity = r.checks.identity.details;
    if (identity && identity.ageMs !== null) observe(gauges.identityAge, identity.ageMs / 1000);
    const lineage = r.checks.lineage.details;
    if (lineage) {
      observe(gauges.outboxPending, lineage.outbox.pending);
      observe(gauges.outboxOldest, (lineage.outbox.oldestAgeMs ?? 0) / 1000);
      observe(gauges.deadLetters, lineage.outbox.deadLetters);
      if (lineage.stored.maxLagMs !== null) observe(gauges.lagMax, lineage.stored.maxLagMs / 1000);
      if (lineage.stored.medianLagMs !== null) observe(gauges.lagMedian, lineage.stored.medianLagMs / 1000);
    }
    for (const w of r.checks.decisions.details?.windows ?? []) {
      observe(gauges.decisions, w.allow, { [A.window]: w.key, [A.outcome]: 'allow' });
      observe(gauges.decisions, w.deny, { [A.window]: w.key, [A.outcome]: 'deny' });
      for (const c of w.denyCodes) observe(gauges.denials, c.count, { [A.window]: w.key, [A.denyCode]: denyCodeAttribute(c.code) });
    }
    for (const k of r.checks.keys.details?.keys ?? []) {
      observe(gauges.keyValid, k.state === 'active' || k.state === 'expiring' ? 1 : 0, { [A.kid]: k.kid });
      if (k.notAfter !== null) observe(gauges.keyNotAfter, k.notAfter / 1000, { [A.kid]: k.kid });
    }
  }, Object.values(gauges));

  return {
    scrape: () => prometheusText(reader, { withoutTargetInfo: true }),
    shutdown: () => provider.shutdown(),
  };
}
