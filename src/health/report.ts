// All health checks of the console, run in parallel, each read under a deadline; and the readiness
// subset (/readyz). The dashboard, /readyz and /metrics all come from here.
import type { Client } from '@temporalio/client';
import type { Db } from 'mongodb';
import type { TrustBundle } from '../artifact/trust-bundle';
import { countDecisionsSince, outboxBacklog, recentDecisions, type RecentDecisions } from '../lineage/queries';
import { failed, formatDuration, withDeadline, worst, type CheckResult, type HealthStatus } from './check';
import type { IdentityDetails, IdentityProbe } from './identity';
import { evaluateSigningKeys, type KeysDetails } from './keys';
import { evaluateDecisions, evaluateLineage, evaluatePolicies, RECENT_DECISIONS_LIMIT, OUTBOX_SAMPLE, signaturesByKey, WINDOWS, type DecisionsDetails, type LineageDetails, type PolicyDetails, type WindowKey } from './lineage';
import { checkTaskQueuePollers, type TaskQueueDetails } from './pollers';

/** Each dashboard read (DescribeTaskQueue, a MongoDB query) answers within this or counts as failed. */
export const CHECK_DEADLINE_MS = 5_000;
/** Each /readyz read: probes want an answer within a second or two. */
export const READINESS_DEADLINE_MS = 2_000;

export interface LatencyDetails {
  readonly latencyMs: number;
}

export interface HealthChecks {
  readonly temporal: CheckResult<LatencyDetails>;
  readonly mongodb: CheckResult<LatencyDetails>;
  readonly identity: CheckResult<IdentityDetails>;
  readonly pollers: CheckResult<TaskQueueDetails>;
  readonly policy: CheckResult<PolicyDetails>;
  readonly lineage: CheckResult<LineageDetails>;
  readonly keys: CheckResult<KeysDetails>;
  readonly decisions: CheckResult<DecisionsDetails>;
}
export type CheckName = keyof HealthChecks;

/** Order and titles on the dashboard. */
export const CHECK_TITLES: Readonly<Record<CheckName, string>> = {
  pollers: 'Governance task queue pollers',
  policy: 'Active policy per governance worker',
  identity: 'Identity store freshness',
  lineage: 'Lineage lag and backlog',
  keys: 'Signing keys',
  decisions: 'Recent decisions and denials',
  mongodb: 'MongoDB',
  temporal: 'Temporal',
};

export interface HealthReport {
  readonly checkedAt: number;
  readonly status: HealthStatus;
  readonly checks: HealthChecks;
}

export interface HealthSources {
  readonly db: Db;
  readonly temporal: Client;
  readonly namespace: string;
  readonly governanceTaskQueue: string;
  readonly trust: TrustBundle | undefined;
  readonly identity: IdentityProbe;
  readonly pollerStaleAfterMs?: number;
  readonly keyWarnDays?: number;
  readonly deadlineMs?: number;
  readonly now?: () => number;
}

async function timed(what: string, read: () => Promise<unknown>, deadlineMs: number, now: () => number): Promise<CheckResult<LatencyDetails>> {
  const started = now();
  try {
    await withDeadline(read(), deadlineMs, what);
    const latencyMs = now() - started;
    return { status: 'ok', summary: `${what} answered in ${formatDuration(latencyMs)}`, details: { latencyMs } };
  } catch (err) {
    return failed(`${what} is unreachable`, err);
  }
}

export function checkMongo(db: Db, deadlineMs: number, now: () => number = Date.now): Promise<CheckResult<LatencyDetails>> {
  return timed('MongoDB', () => db.command({ ping: 1 }), deadlineMs, now);
}

export function checkTemporal(client: Client, namespace: string, deadlineMs: number, now: () => number = Date.now): Promise<CheckResult<LatencyDetails>> {
  // DescribeNamespace: the server answers, and the namespace the console inspects exists.
  return timed(`Temporal (namespace ${namespace})`, () => client.workflowService.describeNamespace({ namespace }), deadlineMs, now);
}

export async function runHealthChecks(sources: HealthSources): Promise<HealthReport> {
  const now = sources.now ?? Date.now;
  const deadlineMs = sources.deadlineMs ?? CHECK_DEADLINE_MS;
  const checkedAt = now();
  const recentRead: Promise<RecentDecisions> = withDeadline(recentDecisions(sources.db, { since: new Date(checkedAt - WINDOWS[1].ms), limit: RECENT_DECISIONS_LIMIT }), deadlineMs, 'the recent decisions read');
  const [temporal, mongodb, identity, pollers, lineage, decisions] = await Promise.all([
    checkTemporal(sources.temporal, sources.namespace, deadlineMs, now),
    checkMongo(sources.db, deadlineMs, now),
    sources.identity.check(),
    checkTaskQueuePollers(sources.temporal, { namespace: sources.namespace, taskQueue: sources.governanceTaskQueue, staleAfterMs: sources.pollerStaleAfterMs, deadlineMs, now }),
    (async (): Promise<CheckResult<LineageDetails>> => {
      try {
        const [backlog, recent] = await Promise.all([withDeadline(outboxBacklog(sources.db, OUTBOX_SAMPLE), deadlineMs, 'the lineage outbox read'), recentRead]);
        return evaluateLineage(backlog, recent, checkedAt);
      } catch (err) {
        return failed('cannot read lineage', err);
      }
    })(),
    (async (): Promise<CheckResult<DecisionsDetails>> => {
      try {
        const recent = await recentRead;
        let exact: Map<WindowKey, { allow: number; deny: number }> | undefined;
        if (recent.truncated) {
          // More than the read's limit in the last hour: count each window exactly (indexed counts).
          exact = new Map(await Promise.all(WINDOWS.map(async (w) => [w.key, await withDeadline(countDecisionsSince(sources.db, new Date(checkedAt - w.ms)), deadlineMs, 'the decision count')] as const)));
        }
        return evaluateDecisions(recent, checkedAt, exact);
      } catch (err) {
        return failed('cannot read recent decisions', err);
      }
    })(),
  ]);
  const recent = await recentRead.catch(() => null);
  const policy = evaluatePolicies(pollers.details, recent?.decisions ?? []);
  const keys = evaluateSigningKeys(sources.trust, { now: checkedAt, warnDays: sources.keyWarnDays, recentSignatures: recent ? signaturesByKey(recent.decisions) : undefined });
  const checks: HealthChecks = { temporal, mongodb, identity, pollers, policy, lineage, keys, decisions };
  return { checkedAt, status: worst(Object.values(checks).map((c) => c.status)), checks };
}

export interface Readiness {
  readonly ready: boolean;
  readonly checks: Readonly<Record<'mongodb' | 'temporal' | 'identity', { readonly status: HealthStatus; readonly summary: string }>>;
  /** Names of the checks that failed. */
  readonly failing: readonly string[];
}

/**
 * Ready when MongoDB answers, Temporal answers (and has the namespace), and the identity state is
 * fresh by the deciders' own rule. A warning (one identity read failed, the last good one is still
 * fresh) is ready.
 */
export async function runReadinessChecks(sources: Pick<HealthSources, 'db' | 'temporal' | 'namespace' | 'identity' | 'now'> & { deadlineMs?: number }): Promise<Readiness> {
  const deadlineMs = sources.deadlineMs ?? READINESS_DEADLINE_MS;
  const [mongodb, temporal, identity] = await Promise.all([
    checkMongo(sources.db, deadlineMs, sources.now),
    checkTemporal(sources.temporal, sources.namespace, deadlineMs, sources.now),
    sources.identity.check(),
  ]);
  const checks = { mongodb, temporal, identity };
  const failing = Object.entries(checks)
    .filter(([, c]) => c.status === 'fail')
    .map(([name]) => name);
  return {
    ready: failing.length === 0,
    checks: Object.fromEntries(Object.entries(checks).map(([name, c]) => [name, { status: c.status, summary: c.summary }])) as Readiness['checks'],
    failing,
  };
}
