// What every health check returns, and the deadline every read of a health check runs under. Pure
// (no I/O); shared by the console (dashboard, /readyz, /metrics) and the governance worker's health
// port. docs/console.md#health-dashboard lists every check and its thresholds.

/** ok: nothing to do. warn: look soon (it degrades, or will). fail: governance is not working as it must. */
export type HealthStatus = 'ok' | 'warn' | 'fail';

const RANK: Record<HealthStatus, number> = { ok: 0, warn: 1, fail: 2 };

/** The worst of the statuses (ok for none). */
export function worst(statuses: Iterable<HealthStatus>): HealthStatus {
  let result: HealthStatus = 'ok';
  for (const s of statuses) if (RANK[s] > RANK[result]) result = s;
  return result;
}

/** One check's result: a status, one sentence a human can act on, and the numbers behind it. */
export interface CheckResult<D> {
  readonly status: HealthStatus;
  readonly summary: string;
  /** The check's numbers; null when the read failed (summary says why). */
  readonly details: D | null;
}

/** A read of a health check that did not answer in time. */
export class HealthDeadlineError extends Error {
  override readonly name = 'HealthDeadlineError';
}

/**
 * Rejects when `promise` has not settled within `ms`. The read itself goes on (a driver call cannot
 * be cancelled from outside) but is bounded by its own client timeouts; the check answers now.
 */
export function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new HealthDeadlineError(`${what} did not answer within ${ms} ms`)), ms);
    timer.unref();
  });
  // A late rejection of the abandoned read must not surface as an unhandled rejection.
  promise.catch(() => undefined);
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/**
 * The first line of an error's message, with anything shaped like URI credentials removed: driver
 * and gRPC errors can quote the URI they were given. Shown on pages and in /readyz bodies.
 */
export function failureReason(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return (message.split('\n')[0] ?? '').replace(/\/\/[^\s/@]*@/g, '//').slice(0, 300);
}

/** A failed read as a check result. */
export function failed<D>(what: string, err: unknown): CheckResult<D> {
  return { status: 'fail', summary: `${what}: ${failureReason(err)}`, details: null };
}

/** "42 s", "3 min", "2 h", "5 d": an age or a duration for a sentence. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, ms) / 1000;
  if (s < 1) return `${Math.round(Math.max(0, ms))} ms`;
  if (s < 120) return `${Math.round(s)} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86_400)} d`;
}
