// Lineage health from MongoDB, in bounded reads: the hand-off backlog (lineage_outbox: decisions
// durable but not chained yet, per root, i.e. per lineage workflow; lineage_dead_letters), the lag
// from a decision's issue to its stored document, recent decision and denial rates by deny code,
// and the policies recent decisions were signed under. Pure evaluation of what the reads returned.
import type { OutboxBacklog, RecentDecision, RecentDecisions } from '../lineage/queries';
import { lineageWorkflowId } from '../lineage/schema';
import { denyCodeAttribute } from '../observability/metrics';
import { formatDuration, type CheckResult } from './check';
import type { ClaimedPolicy } from './worker-identity';
import type { TaskQueueDetails } from './pollers';

/**
 * A decision waits in the outbox until its record is chained: milliseconds normally; a lost signal
 * is re-delivered by the next outbox sweep (every 30 s by default), so two sweeps is late.
 */
export const OUTBOX_WARN_AGE_MS = 60_000;
/** Ten minutes without reaching lineage: the lineage workflows are not running (no workflow pollers, MongoDB down). */
export const OUTBOX_FAIL_AGE_MS = 600_000;
/** Entries the dashboard reads from the outbox (the due soonest); counts are exact whatever the backlog. */
export const OUTBOX_SAMPLE = 500;
/** Lag of stored records is measured over the decisions issued in this window. */
export const LAG_WINDOW_MS = 15 * 60_000;
/** Recent decisions are read newest first, at most this many (the 1 h window). */
export const RECENT_DECISIONS_LIMIT = 10_000;

export const WINDOWS = [
  { label: '15 min', key: '15m', ms: 15 * 60_000 },
  { label: '1 h', key: '1h', ms: 60 * 60_000 },
] as const;
export type WindowKey = (typeof WINDOWS)[number]['key'];

export interface RootBacklog {
  readonly rootId: string;
  readonly lineageWorkflowId: string;
  /** Entries of this root among the sampled ones. */
  readonly pending: number;
  /** Age of its oldest sampled decision (ms since issue). */
  readonly oldestAgeMs: number | null;
  readonly maxAttempts: number;
}

export interface LineageDetails {
  readonly outbox: {
    readonly pending: number;
    readonly deadLetters: number;
    /** Entries read (the due soonest); per-root numbers and the oldest age are over these. */
    readonly sampled: number;
    readonly oldestAgeMs: number | null;
    /** Per lineage workflow, oldest first, at most 20. */
    readonly roots: readonly RootBacklog[];
  };
  /** Issue-to-stored lag of the decisions issued in the last 15 minutes (as far as the bounded read went). */
  readonly stored: {
    readonly count: number;
    readonly maxLagMs: number | null;
    readonly medianLagMs: number | null;
    /** Lag of the newest stored decision. */
    readonly newestLagMs: number | null;
  };
}

function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function evaluateLineage(backlog: OutboxBacklog, recent: RecentDecisions, now: number): CheckResult<LineageDetails> {
  const roots = new Map<string, { pending: number; oldestIssuedAt: number | null; maxAttempts: number }>();
  let oldestIssuedAt: number | null = null;
  for (const e of backlog.sampled) {
    const row = roots.get(e.rootId) ?? { pending: 0, oldestIssuedAt: null, maxAttempts: 0 };
    row.pending += 1;
    row.maxAttempts = Math.max(row.maxAttempts, e.attempts);
    // An entry without a readable issue time counts from when it was first due (its write time, or later).
    const issued = e.issuedAt ?? e.dueAt.getTime();
    row.oldestIssuedAt = row.oldestIssuedAt === null ? issued : Math.min(row.oldestIssuedAt, issued);
    oldestIssuedAt = oldestIssuedAt === null ? issued : Math.min(oldestIssuedAt, issued);
    roots.set(e.rootId, row);
  }
  const rootRows: RootBacklog[] = [...roots]
    .map(([rootId, r]) => ({ rootId, lineageWorkflowId: lineageWorkflowId(rootId), pending: r.pending, oldestAgeMs: r.oldestIssuedAt === null ? null : Math.max(0, now - r.oldestIssuedAt), maxAttempts: r.maxAttempts }))
    .sort((a, b) => (b.oldestAgeMs ?? 0) - (a.oldestAgeMs ?? 0))
    .slice(0, 20);
  const lagWindowStart = now - LAG_WINDOW_MS;
  const lags = recent.decisions.filter((d) => d.issuedAt.getTime() >= lagWindowStart).map((d) => Math.max(0, d.recordedAt.getTime() - d.issuedAt.getTime()));
  const details: LineageDetails = {
    outbox: { pending: backlog.pending, deadLetters: backlog.deadLetters, sampled: backlog.sampled.length, oldestAgeMs: oldestIssuedAt === null ? null : Math.max(0, now - oldestIssuedAt), roots: rootRows },
    stored: { count: lags.length, maxLagMs: lags.length ? Math.max(...lags) : null, medianLagMs: median(lags), newestLagMs: lags[0] ?? null },
  };
  const oldest = details.outbox.oldestAgeMs ?? 0;
  const waiting = `${backlog.pending} decision${backlog.pending === 1 ? '' : 's'} wait${backlog.pending === 1 ? 's' : ''} for lineage, the oldest for ${formatDuration(oldest)}`;
  if (backlog.deadLetters > 0) {
    return { status: 'fail', summary: `${backlog.deadLetters} decision${backlog.deadLetters === 1 ? ' is' : 's are'} in lineage_dead_letters: issued but never chained; an operator must look (docs/lineage.md)`, details };
  }
  if (backlog.pending > 0 && oldest > OUTBOX_FAIL_AGE_MS) return { status: 'fail', summary: `${waiting}: lineage is not being written`, details };
  if (backlog.pending > 0 && oldest > OUTBOX_WARN_AGE_MS) return { status: 'warn', summary: `${waiting}: lineage lags`, details };
  const lag = details.stored.maxLagMs === null ? 'no decision in the last 15 min' : `recent lag at most ${formatDuration(details.stored.maxLagMs)} (median ${formatDuration(details.stored.medianLagMs ?? 0)})`;
  return { status: 'ok', summary: `lineage caught up (${backlog.pending} pending); ${lag}`, details };
}

export interface WindowRates {
  readonly key: WindowKey;
  readonly label: string;
  readonly allow: number;
  readonly deny: number;
  /** Decisions per minute over the window. */
  readonly perMinute: number;
  /** deny / (allow + deny), 0 with no decision. */
  readonly denyRatio: number;
  /** Denials by deny code, most first (codes folded as in metrics: `_OTHER` for anything not UPPER_SNAKE_CASE). */
  readonly denyCodes: ReadonlyArray<{ readonly code: string; readonly count: number }>;
}

export interface DecisionsDetails {
  readonly windows: readonly WindowRates[];
  /** The read reached its limit: counts are exact (counted separately), deny codes are over the newest `limit` decisions. */
  readonly truncated: boolean;
  readonly limit: number;
  readonly malformed: number;
}

export function evaluateDecisions(recent: RecentDecisions, now: number, exactCounts?: ReadonlyMap<WindowKey, { allow: number; deny: number }>): CheckResult<DecisionsDetails> {
  const windows: WindowRates[] = WINDOWS.map((w) => {
    const inWindow = recent.decisions.filter((d) => d.issuedAt.getTime() >= now - w.ms);
    const counted = { allow: inWindow.filter((d) => d.decision === 'allow').length, deny: inWindow.filter((d) => d.decision === 'deny').length };
    const { allow, deny } = exactCounts?.get(w.key) ?? counted;
    const codes = new Map<string, number>();
    for (const d of inWindow) if (d.decision === 'deny') codes.set(denyCodeAttribute(d.denyCode ?? ''), (codes.get(denyCodeAttribute(d.denyCode ?? '')) ?? 0) + 1);
    return {
      key: w.key,
      label: w.label,
      allow,
      deny,
      perMinute: (allow + deny) / (w.ms / 60_000),
      denyRatio: allow + deny === 0 ? 0 : deny / (allow + deny),
      denyCodes: [...codes].map(([code, count]) => ({ code, count })).sort((a, b) => b.count - a.count || a.code.localeCompare(b.code)),
    };
  });
  const details: DecisionsDetails = { windows, truncated: recent.truncated, limit: RECENT_DECISIONS_LIMIT, malformed: recent.malformed };
  const [short] = windows;
  const summary = `${short!.allow + short!.deny} decisions in the last 15 min (${short!.deny} denied)`;
  if (recent.malformed > 0) return { status: 'warn', summary: `${summary}; ${recent.malformed} recent lineage documents do not parse (run "lineage verify")`, details };
  return { status: 'ok', summary, details };
}

export interface DecidedPolicy extends ClaimedPolicy {
  readonly decisions: number;
  readonly lastIssuedAt: number;
}

export interface PolicyDetails {
  /** What each polling governance worker announces (its poller identity: a claim). */
  readonly workers: ReadonlyArray<{ readonly identity: string; readonly policy: ClaimedPolicy | null }>;
  /** Policies the signed decisions of the last hour were made under, newest first. */
  readonly decided: readonly DecidedPolicy[];
}

export function evaluatePolicies(pollers: TaskQueueDetails | null, decisions: readonly RecentDecision[]): CheckResult<PolicyDetails> {
  const decided = new Map<string, { id: string; version: string; decisions: number; lastIssuedAt: number }>();
  for (const d of decisions) {
    const key = `${d.policy.id}@${d.policy.version}`;
    const row = decided.get(key) ?? { id: d.policy.id, version: d.policy.version, decisions: 0, lastIssuedAt: 0 };
    row.decisions += 1;
    row.lastIssuedAt = Math.max(row.lastIssuedAt, d.issuedAt.getTime());
    decided.set(key, row);
  }
  const workers = (pollers?.workers ?? []).filter((w) => w.recent).map((w) => ({ identity: w.identity, policy: w.policy }));
  const details: PolicyDetails = { workers, decided: [...decided.values()].sort((a, b) => b.lastIssuedAt - a.lastIssuedAt) };
  if (!pollers) return { status: 'warn', summary: 'the governance task queue could not be described: which policy the workers run is unknown', details };
  if (workers.length === 0) return { status: 'warn', summary: 'no governance worker is polling: no active policy', details };
  const silent = workers.filter((w) => w.policy === null).map((w) => w.identity);
  if (silent.length > 0) return { status: 'warn', summary: `pollers announcing no policy (not a governance worker, or an older one): ${silent.join(', ')}`, details };
  const announced = new Set(workers.map((w) => `${w.policy!.id}@${w.policy!.version}`));
  if (announced.size > 1) return { status: 'warn', summary: `governance workers announce ${announced.size} different policies (a rollout in progress?)`, details };
  const active = workers[0]!.policy!;
  const newest = details.decided[0];
  if (newest && !announced.has(`${newest.id}@${newest.version}`)) {
    return { status: 'warn', summary: `the newest decision was made under ${newest.id} ${newest.version.slice(0, 19)}…, which no polling worker announces`, details };
  }
  return { status: 'ok', summary: `every governance worker runs ${active.id} ${active.version.slice(0, 19)}…`, details };
}

/** Decisions signed per key among the recent ones (for the signing keys card). */
export function signaturesByKey(decisions: readonly RecentDecision[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const d of decisions) if (d.kid) counts.set(d.kid, (counts.get(d.kid) ?? 0) + 1);
  return counts;
}
