// In-memory OpenTelemetry SDKs for tests: spans into an InMemorySpanExporter, metrics into a reader
// the test collects from, both registered as the global providers the way an application would.
import { AsyncLocalStorage } from 'node:async_hooks';
import { context, metrics, ROOT_CONTEXT, trace, type Context, type ContextManager } from '@opentelemetry/api';
import { MeterProvider, MetricReader, type DataPoint, type MetricData } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { OpenTelemetryActivityInboundInterceptor, OpenTelemetryActivityOutboundInterceptor } from '@temporalio/interceptors-opentelemetry';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';

/**
 * Carries the active span across awaits, as @opentelemetry/context-async-hooks'
 * AsyncLocalStorageContextManager does (the Node SDK registers that one; it is not a dependency
 * here). Without an async context manager no span can have a parent across an await.
 */
export class AsyncLocalStorageContextManager implements ContextManager {
  readonly #storage = new AsyncLocalStorage<Context>();
  active(): Context {
    return this.#storage.getStore() ?? ROOT_CONTEXT;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(ctx: Context, fn: F, thisArg?: ThisParameterType<F>, ...args: A): ReturnType<F> {
    return this.#storage.run(ctx, () => fn.call(thisArg, ...args));
  }
  bind<T>(ctx: Context, target: T): T {
    if (typeof target !== 'function') return target;
    const manager = this;
    return function (this: unknown, ...args: unknown[]) {
      return manager.with(ctx, () => (target as (...a: unknown[]) => unknown).apply(this, args));
    } as T;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    this.#storage.disable();
    return this;
  }
}

/** A metric reader the test calls collect() on. */
export class CollectingReader extends MetricReader {
  protected async onShutdown(): Promise<void> {}
  protected async onForceFlush(): Promise<void> {}
}

export interface OtelSdk<E extends SpanExporter = InMemorySpanExporter> {
  readonly spans: E;
  readonly reader: CollectingReader;
  /** Every metric collected now, by name. */
  collect(): Promise<Map<string, MetricData>>;
  shutdown(): Promise<void>;
}

/** Installs the SDKs as global providers; spans go to `spans` (default: kept in memory for assertions). */
export function installOtelSdk(): OtelSdk;
export function installOtelSdk<E extends SpanExporter>(spans: E): OtelSdk<E>;
export function installOtelSdk(spans: SpanExporter = new InMemorySpanExporter()): OtelSdk<SpanExporter> {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
  trace.setGlobalTracerProvider(tracerProvider);
  const reader = new CollectingReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  metrics.setGlobalMeterProvider(meterProvider);
  return {
    spans,
    reader,
    async collect() {
      const { resourceMetrics, errors } = await reader.collect();
      if (errors.length > 0) throw new Error(`metric collection failed: ${errors.map(String).join('; ')}`);
      const byName = new Map<string, MetricData>();
      for (const scope of resourceMetrics.scopeMetrics) for (const m of scope.metrics) byName.set(m.descriptor.name, m);
      return byName;
    },
    async shutdown() {
      await tracerProvider.shutdown();
      await meterProvider.shutdown();
      trace.disable();
      metrics.disable();
      context.disable();
    },
  };
}

/** The activity interceptors of @temporalio/interceptors-opentelemetry, as a user would install them. */
export const temporalOtelActivityInterceptors: ActivityInterceptorsFactory = (ctx) => ({
  inbound: new OpenTelemetryActivityInboundInterceptor(ctx),
  outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
});

/** Sum of a counter's points (or a histogram's counts) whose attributes include `match`. */
export function total(metric: MetricData | undefined, match: Record<string, string> = {}): number {
  if (!metric) return 0;
  let sum = 0;
  for (const point of metric.dataPoints as DataPoint<unknown>[]) {
    if (!Object.entries(match).every(([k, v]) => point.attributes[k] === v)) continue;
    const value = point.value;
    sum += typeof value === 'number' ? value : (value as { count: number }).count;
  }
  return sum;
}

export function spansNamed(exporter: InMemorySpanExporter, name: string): ReadableSpan[] {
  return exporter.getFinishedSpans().filter((s) => s.name === name);
}

/** The span `child` names as its parent, among the finished spans. */
export function parentOf(exporter: InMemorySpanExporter, child: ReadableSpan): ReadableSpan | undefined {
  const parent = child.parentSpanContext;
  if (!parent) return undefined;
  return exporter.getFinishedSpans().find((s) => s.spanContext().spanId === parent.spanId && s.spanContext().traceId === parent.traceId);
}
