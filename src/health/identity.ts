// Identity store freshness as the console sees it: the console reads the whole identity state
// (principals, API keys, revocations) the way every governance worker and enforcement point does
// (`loadIdentitySnapshot`), keeps the newest good snapshot, and applies the deciders' own rule
// (`stalenessProblem`, maximum staleness 5 s by default). A store that does not answer, or holds a
// malformed document (which fails the read, so deciders' state goes stale and denies), shows here
// as soon as the last good read is older than the maximum staleness.
import type { Db } from 'mongodb';
import { DEFAULT_MAX_STALENESS_MS } from '../identity/cache';
import { stalenessProblem, type IdentitySnapshot } from '../identity/snapshot';
import { loadIdentitySnapshot } from '../identity/store';
import { failureReason, formatDuration, withDeadline, type CheckResult } from './check';

export interface IdentityDetails {
  /** Whether this read answered (within the deadline, every document well formed). */
  readonly answered: boolean;
  /** Age of the newest good snapshot (ms); null if no read ever succeeded. */
  readonly ageMs: number | null;
  readonly maxStalenessMs: number;
  /** How long this read took, or ran before its deadline. */
  readonly readMs: number;
  /** Why this read failed. */
  readonly error: string | null;
}

export interface IdentityProbe {
  check(): Promise<CheckResult<IdentityDetails>>;
}

export function identityProbe(db: Db, options: { maxStalenessMs?: number; deadlineMs: number; now?: () => number }): IdentityProbe {
  const now = options.now ?? Date.now;
  const maxStalenessMs = options.maxStalenessMs ?? DEFAULT_MAX_STALENESS_MS;
  let latest: IdentitySnapshot | undefined;
  // Concurrent checks (a page and a scrape) share one read.
  let inFlight: Promise<{ error: string | null; readMs: number }> | undefined;

  const read = () =>
    (inFlight ??= (async () => {
      const started = now();
      try {
        const snapshot = await withDeadline(loadIdentitySnapshot(db, now), options.deadlineMs, 'the identity store');
        if (!latest || snapshot.loadedAt >= latest.loadedAt) latest = snapshot;
        return { error: null, readMs: now() - started };
      } catch (err) {
        return { error: failureReason(err), readMs: now() - started };
      }
    })().finally(() => {
      inFlight = undefined;
    }));

  return {
    async check() {
      const { error, readMs } = await read();
      const at = now();
      const details: IdentityDetails = { answered: error === null, ageMs: latest ? at - latest.loadedAt : null, maxStalenessMs, readMs, error };
      const problem = stalenessProblem(latest, at, maxStalenessMs);
      if (problem) {
        const age = latest ? `the last good read is ${formatDuration(at - latest.loadedAt)} old (maximum ${formatDuration(maxStalenessMs)})` : 'no read has succeeded yet';
        return { status: 'fail', summary: `identity state is stale: ${age}${error ? `; ${error}` : ''}. Governance workers and enforcement points deny everything once theirs is`, details };
      }
      if (error) return { status: 'warn', summary: `the identity store did not answer this read (${error}); the last good read is ${formatDuration(details.ageMs ?? 0)} old`, details };
      return { status: 'ok', summary: `the identity store answered in ${formatDuration(readMs)}`, details };
    },
  };
}
