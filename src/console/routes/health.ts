// Health: the dashboard (/health), its JSON (/api/health), and the machine endpoints /healthz,
// /readyz and /metrics. Every number comes from src/health (one run of the checks per request,
// each read under a deadline); nothing here writes anywhere.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { formatDuration, type HealthStatus } from '../../health/check';
import { identityProbe } from '../../health/identity';
import { consoleMetrics, PROMETHEUS_CONTENT_TYPE } from '../../health/prometheus';
import { identityWithoutPolicy } from '../../health/worker-identity';
import { CHECK_TITLES, READINESS_DEADLINE_MS, runHealthChecks, runReadinessChecks, type CheckName, type HealthReport, type HealthSources } from '../../health/report';
import type { ConsoleContext } from '../context';
import { sendPage } from '../render';
import { ConsoleInputError } from '../server';

/** The dashboard takes no parameters: anything in the query is a mistake worth saying so. */
const NoQuerySchema = z.object({}).strict();

const ORDER: readonly CheckName[] = ['pollers', 'policy', 'identity', 'lineage', 'keys', 'decisions', 'mongodb', 'temporal'];

const time = (ms: number | null | undefined) => (ms === null || ms === undefined ? '—' : `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} UTC`);
const age = (ms: number | null | undefined) => (ms === null || ms === undefined ? '—' : formatDuration(ms));
const shortVersion = (v: string) => (v.length > 19 ? `${v.slice(0, 19)}…` : v);
const percent = (x: number) => `${(x * 100).toFixed(x > 0 && x < 0.1 ? 1 : 0)} %`;

/** What the template shows: strings and numbers only, formatted here (the template only escapes). */
function dashboardView(report: HealthReport, ctx: ConsoleContext) {
  const c = report.checks;
  const runLink = (workflowId: string) =>
    ctx.options.webUiUrl === undefined ? null : `${ctx.options.webUiUrl.replace(/\/$/, '')}/namespaces/${encodeURIComponent(ctx.options.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
  return {
    status: report.status,
    checkedAt: time(report.checkedAt),
    namespace: ctx.options.namespace,
    taskQueue: ctx.options.governanceTaskQueue,
    summary: ORDER.map((name) => ({
      name,
      anchor: name === 'mongodb' || name === 'temporal' ? 'check-connections' : `check-${name}`,
      title: CHECK_TITLES[name],
      status: c[name].status as HealthStatus,
      summary: c[name].summary,
    })),
    byName: Object.fromEntries(ORDER.map((name) => [name, { status: c[name].status as HealthStatus, summary: c[name].summary }])),
    pollers: c.pollers.details && {
      threshold: formatDuration(c.pollers.details.staleAfterMs),
      types: c.pollers.details.types.map((t) => ({
        type: t.type,
        recent: t.recentPollers,
        listed: t.pollers.length,
        backlog: t.backlog ? `${t.backlog.count}${t.backlog.count > 0 ? ` (oldest ${formatDuration(t.backlog.ageMs)})` : ''}` : 'not reported',
      })),
      workers: c.pollers.details.workers.map((w) => ({
        identity: w.identity,
        shown: identityWithoutPolicy(w.identity),
        policy: w.policy ? `${w.policy.id} ${shortVersion(w.policy.version)}` : 'none announced',
        workflowAge: age(w.workflowAgeMs),
        activityAge: age(w.activityAgeMs),
        recent: w.recent,
      })),
    },
    policy: c.policy.details && {
      workers: c.policy.details.workers.map((w) => ({ identity: w.identity, shown: identityWithoutPolicy(w.identity), id: w.policy?.id ?? 'none announced', version: w.policy?.version ?? '' })),
      decided: c.policy.details.decided.map((p) => ({ id: p.id, version: p.version, decisions: p.decisions, last: time(p.lastIssuedAt) })),
    },
    identity: c.identity.details && {
      answered: c.identity.details.answered ? 'yes' : 'no',
      age: c.identity.details.ageMs === null ? 'never read' : formatDuration(c.identity.details.ageMs),
      maxStaleness: formatDuration(c.identity.details.maxStalenessMs),
      read: formatDuration(c.identity.details.readMs),
      error: c.identity.details.error,
    },
    lineage: c.lineage.details && {
      pending: c.lineage.details.outbox.pending,
      deadLetters: c.lineage.details.outbox.deadLetters,
      oldest: age(c.lineage.details.outbox.oldestAgeMs),
      sampled: c.lineage.details.outbox.sampled,
      roots: c.lineage.details.outbox.roots.map((r) => ({ ...r, oldest: age(r.oldestAgeMs), link: runLink(r.lineageWorkflowId) })),
      stored: c.lineage.details.stored.count,
      maxLag: age(c.lineage.details.stored.maxLagMs),
      medianLag: age(c.lineage.details.stored.medianLagMs),
      newestLag: age(c.lineage.details.stored.newestLagMs),
    },
    keys: c.keys.details && {
      warnDays: c.keys.details.warnDays,
      keys: c.keys.details.keys.map((k) => ({
        kid: k.kid,
        state: k.state,
        status: (k.state === 'expiring' ? 'warn' : k.state === 'retired' ? 'fail' : 'ok') as HealthStatus,
        notBefore: time(k.notBefore),
        notAfter: k.notAfter === null ? 'no end' : time(k.notAfter),
        remaining: k.remainingMs === null ? '—' : k.remainingMs <= 0 ? 'ended' : formatDuration(k.remainingMs),
        signatures: k.recentSignatures ?? '—',
      })),
    },
    decisions: c.decisions.details && {
      truncated: c.decisions.details.truncated,
      limit: c.decisions.details.limit,
      windows: c.decisions.details.windows.map((w) => ({
        label: w.label,
        allow: w.allow,
        deny: w.deny,
        perMinute: w.perMinute.toFixed(w.perMinute < 10 ? 2 : 0),
        denyRatio: percent(w.denyRatio),
        codes: w.denyCodes,
      })),
    },
    connections: (['mongodb', 'temporal'] as const).map((name) => ({ name: CHECK_TITLES[name], status: c[name].status, summary: c[name].summary })),
  };
}

export async function healthRoutes(app: FastifyInstance, ctx: ConsoleContext): Promise<void> {
  // One probe for the console's life: it remembers the newest good identity read, so a failed
  // read turns stale only once the last good one is older than the maximum staleness.
  const identity = identityProbe(ctx.db, { maxStalenessMs: ctx.options.identityMaxStalenessMs, deadlineMs: READINESS_DEADLINE_MS });
  const sources: HealthSources = {
    db: ctx.db,
    temporal: ctx.temporal,
    namespace: ctx.options.namespace,
    governanceTaskQueue: ctx.options.governanceTaskQueue,
    trust: ctx.trust,
    identity,
    pollerStaleAfterMs: ctx.options.pollerStaleAfterMs,
    keyWarnDays: ctx.options.keyWarnDays,
  };
  const metrics = consoleMetrics(() => runHealthChecks(sources));
  app.addHook('onClose', async () => metrics.shutdown());

  const noQuery = (query: unknown) => {
    const parsed = NoQuerySchema.safeParse(query ?? {});
    if (!parsed.success) throw new ConsoleInputError(`this page takes no parameters (got ${Object.keys(query as object).join(', ')})`);
  };

  // Process up: answers as long as the event loop does; touches nothing else.
  app.get('/healthz', async (request, reply) => {
    noQuery(request.query);
    return reply.header('cache-control', 'no-store').send({ status: 'ok' });
  });

  app.get('/readyz', async (request, reply) => {
    noQuery(request.query);
    const readiness = await runReadinessChecks(sources);
    return reply
      .code(readiness.ready ? 200 : 503)
      .header('cache-control', 'no-store')
      .send({ status: readiness.ready ? 'ready' : 'not ready', failing: readiness.failing, checks: readiness.checks });
  });

  app.get('/metrics', async (request, reply) => {
    noQuery(request.query);
    const { text, errors } = await metrics.scrape();
    // A check that threw is a bug, not an outage (checks turn failures into results): log it, serve the rest.
    for (const err of errors) request.log.error(err);
    return reply.type(PROMETHEUS_CONTENT_TYPE).header('cache-control', 'no-store').send(text);
  });

  app.get('/api/health', async (request, reply) => {
    noQuery(request.query);
    return reply.header('cache-control', 'no-store').send(await runHealthChecks(sources));
  });

  app.get('/health', async (request, reply) => {
    noQuery(request.query);
    const report = await runHealthChecks(sources);
    return sendPage(reply.header('cache-control', 'no-store'), 'health', { title: 'Health', ...dashboardView(report, ctx) });
  });
}
