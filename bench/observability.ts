// Section: the cost of observability per decision (CPU, in process). The observation wrapper of the
// authorization activity (span, counter, two histograms, one log line) and of the enforcement point
// (span, histogram), around a decision that costs nothing, so what is measured is the observation
// alone: first with no OpenTelemetry SDK (the API's no-ops, what every user gets by default), then
// with the SDK registered (MeterProvider with a reader, BasicTracerProvider with a simple processor
// into a discarding exporter, an AsyncLocalStorage context manager). A batch processor would hide
// the export hand-off here: its timer never fires inside a loop of resolved promises, its queue
// fills and it drops spans.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { DefaultLogger } from '@temporalio/worker';
import type { Authorize } from '../activities/authorize';
import type { AuthorizationResult } from '../src/common/schemas';
import { observeAuthorizations } from '../src/observability/authorization';
import { observeEnforcement } from '../src/observability/enforcement';
import { installOtelSdk } from '../test/helpers/otel';
import { table, type Rate } from './util';

/** Only the fields observation reads; the decision itself is measured in the identity section. */
function result(decision: 'allow' | 'deny'): AuthorizationResult {
  const payload = {
    id: `${decision === 'allow' ? 'art' : 'den'}_0123456789abcdef0123456789abcdef`,
    decisionId: 'dec_0123456789abcdef0123456789abcdef',
    principal: 'alice',
    action: 'activity',
    target: 'charge',
    policy: { id: 'bench-policy', version: `sha256:${'a'.repeat(64)}` },
    rules: ['allow-small-charges'],
    issuedAt: Date.now(),
    code: 'AMOUNT_OVER_LIMIT',
    reason: 'charges above 1000 need a second approver',
  };
  return (decision === 'allow' ? { decision, artifact: { payload, signature: 'x' } } : { decision, denial: { payload, signature: 'x' } }) as unknown as AuthorizationResult;
}

const discard: SpanExporter = {
  export: (_spans: ReadableSpan[], done) => done({ code: 0 }),
  shutdown: async () => undefined,
};

async function asyncRate(fn: () => Promise<unknown>, timeBoxMs: number): Promise<Rate> {
  const warmUntil = performance.now() + Math.max(50, timeBoxMs / 5);
  while (performance.now() < warmUntil) await fn();
  let ops = 0;
  const t0 = performance.now();
  while (performance.now() < t0 + timeBoxMs) {
    for (let k = 0; k < 64; k++) await fn();
    ops += 64;
  }
  const seconds = (performance.now() - t0) / 1000;
  return { ops, seconds, opsPerSec: ops / seconds, meanUs: (seconds * 1e6) / ops };
}

function syncRate(fn: () => void, timeBoxMs: number): Rate {
  const warmUntil = performance.now() + Math.max(50, timeBoxMs / 5);
  while (performance.now() < warmUntil) fn();
  let ops = 0;
  const t0 = performance.now();
  while (performance.now() < t0 + timeBoxMs) {
    for (let k = 0; k < 256; k++) fn();
    ops += 256;
  }
  const seconds = (performance.now() - t0) / 1000;
  return { ops, seconds, opsPerSec: ops / seconds, meanUs: (seconds * 1e6) / ops };
}

const ROUNDS = 3;

export interface ObservabilityResult {
  readonly rows: { name: string; noSdk: Rate; sdk: Rate }[];
}

export async function runObservability(timeBoxMs: number): Promise<ObservabilityResult> {
  // Every worker already runs an AsyncLocalStorage (the activity Context), and with it Node's promise
  // hooks; start one here too, so both variants pay that and only the difference is measured.
  const activityStorage = new AsyncLocalStorage<number>();
  return activityStorage.run(1, () => measureAll(timeBoxMs));
}

async function measureAll(timeBoxMs: number): Promise<ObservabilityResult> {
  const allow = result('allow');
  const deny = result('deny');
  const input = { action: 'activity' };
  const callContext = { caller: undefined, runStart: async () => Promise.reject(new Error('unused')) };
  // Entries are built and level-filtered as the Runtime logger does, then dropped (no I/O measured).
  const log = new DefaultLogger('INFO', () => undefined);
  const raw = (r: AuthorizationResult): Authorize => async () => r;
  const observedAllow = observeAuthorizations(raw(allow));
  const observedDeny = observeAuthorizations(raw(deny));
  if (allow.decision !== 'allow') throw new Error('unreachable');
  const artifact = allow.artifact.payload;

  const cases: { name: string; measure: () => Promise<Rate> }[] = [
    { name: 'decision without observation (baseline async call)', measure: () => asyncRate(() => raw(allow)(input, callContext), timeBoxMs) },
    { name: 'observed decision: allow', measure: () => asyncRate(() => observedAllow(input, callContext, { log, scheduledAtMs: Date.now() }), timeBoxMs) },
    { name: 'observed decision: deny', measure: () => asyncRate(() => observedDeny(input, callContext, { log, scheduledAtMs: Date.now() }), timeBoxMs) },
    { name: 'observed enforcement check: admitted', measure: async () => syncRate(() => observeEnforcement({ activityType: 'charge', isLocal: false }, log).admitted(artifact), timeBoxMs) },
  ];

  // Alternating rounds, median per case: this machine's noise is larger than some differences.
  const noSdk: Rate[][] = cases.map(() => []);
  const withSdk: Rate[][] = cases.map(() => []);
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, c] of cases.entries()) noSdk[i]!.push(await c.measure());
    const sdk = installOtelSdk(discard);
    try {
      for (const [i, c] of cases.entries()) withSdk[i]!.push(await c.measure());
      await sdk.collect(); // throws if any metric failed during the benchmark
    } finally {
      await sdk.shutdown();
    }
  }
  const median = (rates: Rate[]) => [...rates].sort((a, b) => a.meanUs - b.meanUs)[Math.floor(rates.length / 2)]!;
  return { rows: cases.map((c, i) => ({ name: c.name, noSdk: median(noSdk[i]!), sdk: median(withSdk[i]!) })) };
}

export function observabilityTable(result: ObservabilityResult): string {
  const base = result.rows[0]!;
  return table(
    'Observability per decision (CPU; span + metrics + one log line, around a decision that costs nothing)',
    ['operation', 'no SDK µs/op', 'SDK µs/op', 'no SDK overhead µs', 'SDK overhead µs'],
    result.rows.map((r, i) => [
      r.name,
      r.noSdk.meanUs,
      r.sdk.meanUs,
      // The enforcement row observes nothing but itself: all of it is overhead.
      i === 0 ? '-' : r.name.includes('enforcement') ? r.noSdk.meanUs : r.noSdk.meanUs - base.noSdk.meanUs,
      i === 0 ? '-' : r.name.includes('enforcement') ? r.sdk.meanUs : r.sdk.meanUs - base.sdk.meanUs,
    ]),
    [
      'No SDK: @opentelemetry/api no-op instruments and non-recording spans (the default). SDK: in-memory MeterProvider (cumulative),',
      'BasicTracerProvider + SimpleSpanProcessor into a discarding exporter, AsyncLocalStorage context manager. The log line is built and',
      `level-filtered by a DefaultLogger that writes nothing. Median of ${ROUNDS} alternating rounds. Compare with "whole per-call decision" above.`,
    ],
  );
}
