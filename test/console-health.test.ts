// The console's health endpoints and the governance worker's health port, on the real stack:
// /healthz, /readyz (200 with everything up; 503 naming MongoDB or identity), /metrics as
// Prometheus text, the worker's port serving all three and closing when the worker stops.
import { Client, Connection } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import { MongoClient } from 'mongodb';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import parsePrometheusTextFormat, { type MetricFamily } from 'parse-prometheus-text-format';
import { parseConsoleOptions } from '../src/console/options';
import { startConsole, type RunningConsole } from '../src/console/server';
import { IDENTITY_COLLECTIONS } from '../src/identity/schema';
import { connectLineage } from '../src/lineage/store';
import { freePort } from '../src/stack/stack';
import { governanceHealthUrl } from '../src/worker/governance-worker';
import { closeGovernanceWorker, GovernanceStartupError } from '../src/worker/lifecycle';
import { payOnce } from './fixtures/workflows';
import { launchChromium } from './helpers/browser';
import { installOtelSdk } from './helpers/otel';
import { startTestConsole, type TestConsole } from './helpers/console';
import { address, expectGovernanceDenied, governedEnv, seedIdentity, uniqueName, type Env } from './helpers/harness';

jest.setTimeout(180_000);

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1_000));
  }
}

const json = async (url: string) => {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

/** Parses Prometheus text (throws on a malformed line) and checks every sample value is a number. */
function parseMetrics(text: string): Map<string, MetricFamily> {
  const families = parsePrometheusTextFormat(text);
  for (const f of families) {
    for (const m of f.metrics) {
      const values = [m.value, m.count, m.sum, ...Object.values(m.buckets ?? {})].filter((v): v is string => v !== undefined);
      expect(values.length).toBeGreaterThan(0);
      for (const v of values) expect(Number.isNaN(Number(v.replace('+Inf', 'Infinity')))).toBe(false);
    }
  }
  return new Map(families.map((f) => [f.name, f]));
}

function sample(families: Map<string, MetricFamily>, name: string, labels: Record<string, string> = {}): number | undefined {
  const m = families.get(name)?.metrics.find((s) => Object.entries(labels).every(([k, v]) => s.labels?.[k] === v));
  return m?.value === undefined ? undefined : Number(m.value);
}

let env: Env;
let web: TestConsole;
const started: Array<() => Promise<void>> = [];

beforeAll(async () => {
  env = await governedEnv();
  web = await startTestConsole({ database: env.lineageDatabase, bundlePath: env.keys.bundlePath, governanceTaskQueue: env.governanceTaskQueue });
});
afterAll(async () => {
  for (const stop of started.reverse()) await stop().catch(() => undefined);
  await web?.stop();
  await env?.close();
});

const start = (amount: number) => env.client.workflow.start(payOnce, { taskQueue: env.taskQueue, workflowId: uniqueName('health-pay'), args: [amount, uniqueName('marker')] });

describe('console /healthz, /readyz, /metrics', () => {
  test('/healthz answers 200 {status: "ok"} while the process is up', async () => {
    const res = await fetch(`${web.url}/healthz`);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  test('/readyz answers 200 with MongoDB and Temporal reachable and identity fresh', async () => {
    const { status, body } = await json(`${web.url}/readyz`);
    expect(status).toBe(200);
    expect(body).toMatchObject({ status: 'ready', failing: [], checks: { mongodb: { status: 'ok' }, temporal: { status: 'ok' }, identity: { status: 'ok' } } });
  });

  test('/metrics is Prometheus text with the health numbers, decisions and denials by code among them', async () => {
    // One allowed and one denied call, so lineage holds decisions of both kinds.
    await env.run(async () => {
      await (await start(250)).result();
      await expectGovernanceDenied(await start(5000));
      // Lineage is written by the governance worker's lineage workflow: wait while it runs.
      await until('both calls in lineage', async () => {
        const { body } = await json(`${web.url}/api/health`);
        const windows = (body.checks as { decisions: { details: { windows: Array<{ allow: number; deny: number }> } } }).decisions.details.windows;
        return windows[0]!.allow >= 2 && windows[0]!.deny >= 1 ? true : undefined;
      });
    });
    const res = await fetch(`${web.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await res.text();
    const families = parseMetrics(text);
    for (const name of ['governance_health_status', 'governance_task_queue_pollers', 'governance_lineage_outbox_pending', 'governance_decisions_recent', 'governance_signing_key_valid']) {
      expect(families.get(name)?.type).toBe('GAUGE');
      expect(families.get(name)?.help.length).toBeGreaterThan(10);
    }
    expect(sample(families, 'governance_health_status', { governance_check: 'mongodb' })).toBe(0);
    expect(sample(families, 'governance_health_status', { governance_check: 'identity' })).toBe(0);
    // A run grant and the charge allowed, the second run's grant allowed and its charge denied.
    expect(sample(families, 'governance_decisions_recent', { governance_window: '15m', governance_outcome: 'allow' })).toBeGreaterThanOrEqual(3);
    expect(sample(families, 'governance_decisions_recent', { governance_window: '1h', governance_outcome: 'deny' })).toBeGreaterThanOrEqual(1);
    expect(sample(families, 'governance_denials_recent', { governance_window: '15m', governance_deny_code: 'AMOUNT_OVER_LIMIT' })).toBeGreaterThanOrEqual(1);
    expect(sample(families, 'governance_signing_key_valid', { governance_kid: 'test-key-1' })).toBe(1);
    expect(sample(families, 'governance_policy_recent_decisions', { governance_policy_id: 'test-policy' })).toBeGreaterThanOrEqual(4);
    expect(sample(families, 'governance_lineage_dead_letters')).toBe(0);
    expect(sample(families, 'governance_lineage_recent_lag_max_seconds')).toBeGreaterThanOrEqual(0);
    // Never an id of a decision, workflow or principal in a label.
    expect(text).not.toMatch(/art_|den_|dec_|alice/);
  });

  test('/readyz answers 503 naming mongodb (and identity) when MongoDB is unreachable; /healthz still 200', async () => {
    const closedPort = await freePort();
    const mongo = new MongoClient(`mongodb://127.0.0.1:${closedPort}`, { serverSelectionTimeoutMS: 1_000, connectTimeoutMS: 1_000 });
    const connection = await Connection.connect({ address: address() });
    let running: RunningConsole | undefined;
    try {
      running = await startConsole({
        options: parseConsoleOptions({ port: 0, database: 'unreachable' }),
        db: mongo.db('unreachable'),
        temporal: new Client({ connection }),
        trust: undefined,
        trustDocument: undefined,
      });
      const { status, body } = await json(`${running.url}/readyz`);
      expect(status).toBe(503);
      expect(body.status).toBe('not ready');
      expect(body.failing).toEqual(['mongodb', 'identity']);
      expect(body.checks).toMatchObject({ mongodb: { status: 'fail' }, temporal: { status: 'ok' }, identity: { status: 'fail' } });
      expect(JSON.stringify(body)).not.toMatch(/at \S+ \(/);
      expect((await fetch(`${running.url}/healthz`)).status).toBe(200);
      // The dashboard still renders, with MongoDB failed.
      const page = await fetch(`${running.url}/health`);
      expect(page.status).toBe(200);
      expect(await page.text()).toMatch(/data-check="mongodb" data-status="fail"/);
    } finally {
      await running?.close();
      await connection.close();
      await mongo.close();
    }
  });

  test('/readyz answers 503 naming identity when the identity state is stale (a malformed document fails every read), and 200 again once it is fixed', async () => {
    const database = uniqueName('health_identity').replace(/-/g, '_');
    await seedIdentity(database, 'alice');
    const { client, db } = await connectLineage(process.env.MONGODB_URI!, database);
    const stale = await startTestConsole({ database, identityMaxStalenessMs: 1_000 });
    try {
      expect((await json(`${stale.url}/readyz`)).status).toBe(200);
      await db.collection(IDENTITY_COLLECTIONS.principals).insertOne({ _id: 'mallory', roles: 'not-a-list' } as never);
      const body = await until('identity to go stale', async () => {
        const r = await json(`${stale.url}/readyz`);
        return r.status === 503 ? r.body : undefined;
      }, 30_000);
      expect(body.failing).toEqual(['identity']);
      expect((body.checks as { identity: { summary: string } }).identity.summary).toMatch(/stale.*principal "mallory" in MongoDB is malformed/);
      await db.collection(IDENTITY_COLLECTIONS.principals).deleteOne({ _id: 'mallory' } as never);
      expect((await json(`${stale.url}/readyz`)).status).toBe(200);
    } finally {
      await stale.stop();
      await client.close();
    }
  });

  test('an unexpected query parameter is a clear 400, not ignored', async () => {
    const { status, body } = await json(`${web.url}/readyz?verbose=1`);
    expect(status).toBe(400);
    expect(body.message).toMatch(/takes no parameters \(got verbose\)/);
  });
});

describe('governance worker health port', () => {
  test('serves /healthz, /readyz (503 until it runs, then 200) and /metrics, and closes when the worker stops', async () => {
    const worker: Worker = await env.governanceWorker({ health: { port: 0 } });
    started.push(() => closeGovernanceWorker(worker));
    const url = governanceHealthUrl(worker)!;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    expect((await json(`${url}/healthz`)).body).toEqual({ status: 'ok' });
    const before = await json(`${url}/readyz`);
    expect(before.status).toBe(503);
    expect(before.body).toMatchObject({ status: 'not ready', failing: ['worker'], checks: { mongodb: { status: 'ok' }, identity: { status: 'ok' }, worker: { status: 'fail' } } });

    const app = await env.appWorker();
    const runs = [worker.run(), app.run()];
    try {
      const ready = await until('the worker to be ready', async () => {
        const r = await json(`${url}/readyz`);
        return r.status === 200 ? r.body : undefined;
      });
      expect(ready).toMatchObject({ status: 'ready', failing: [], taskQueue: env.governanceTaskQueue, policy: { id: 'test-policy' } });
      await (await start(100)).result();

      const res = await fetch(`${url}/metrics`);
      expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
      const families = parseMetrics(await res.text());
      expect(families.get('governance_decisions_total')?.type).toBe('COUNTER');
      expect(sample(families, 'governance_decisions_total', { governance_outcome: 'allow', governance_action: 'activity' })).toBeGreaterThanOrEqual(1);
      expect(families.get('governance_authorization_duration')?.type).toBe('HISTOGRAM');
      expect(sample(families, 'governance_identity_staleness', { governance_component: 'governance-worker' })).toBeLessThan(5);
      expect(sample(families, 'governance_worker_policy', { governance_policy_id: 'test-policy' })).toBe(1);
      expect(families.get('governance_worker_policy')!.metrics[0]!.labels!.governance_policy_version).toMatch(/^sha256:[0-9a-f]{64}$/);
    } finally {
      worker.shutdown();
      app.shutdown();
      await Promise.all(runs);
    }
    // The run released everything, the health port included.
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  });

  test("with the application's MeterProvider registered: refused without health.metricReader; with it, /metrics serializes that reader", async () => {
    const sdk = installOtelSdk();
    try {
      const refused = await env.governanceWorker({ health: { port: 0 } }).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(GovernanceStartupError);
      expect((refused as Error).message).toMatch(/MeterProvider is already registered .* pass it as health\.metricReader/);
      const worker = await env.governanceWorker({ health: { port: 0, metricReader: sdk.reader } });
      try {
        const families = parseMetrics(await (await fetch(`${governanceHealthUrl(worker)}/metrics`)).text());
        expect(sample(families, 'governance_worker_policy', { governance_policy_id: 'test-policy' })).toBe(1);
        // The application's resource, as its own exporters see it.
        expect(families.has('target_info')).toBe(true);
      } finally {
        await closeGovernanceWorker(worker);
      }
    } finally {
      await sdk.shutdown();
    }
  });

  test('a health port already in use stops the worker from starting, with the port named', async () => {
    const busy = await startTestConsole({ database: env.lineageDatabase });
    try {
      const port = Number(new URL(busy.url).port);
      const err = await env.governanceWorker({ health: { port } }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(GovernanceStartupError);
      expect((err as GovernanceStartupError).check).toBe('health-port');
      expect((err as Error).message).toContain(`cannot listen on 127.0.0.1:${port} (EADDRINUSE)`);
    } finally {
      await busy.stop();
    }
  });

  test('a bad health option is refused before anything connects', async () => {
    await expect(env.governanceWorker({ health: { port: 70_000 } })).rejects.toThrow(/health: port: /);
    await expect(env.governanceWorker({ health: { port: 1, extra: true } as never })).rejects.toThrow(/health: .*unrecognized/i);
  });
});

describe('health dashboard in chromium', () => {
  const screenshots = join(__dirname, '..', 'docs', 'screenshots');
  let browser: Browser;
  let own: Env;
  let dashboard: TestConsole;

  beforeAll(async () => {
    browser = await launchChromium();
    // A task queue of its own: no poller of the tests above is listed on it.
    own = await governedEnv();
    dashboard = await startTestConsole({ database: own.lineageDatabase, bundlePath: own.keys.bundlePath, governanceTaskQueue: own.governanceTaskQueue, webUiUrl: 'http://127.0.0.1:8233' });
  });
  afterAll(async () => {
    await browser?.close();
    await dashboard?.stop();
    await own?.close();
  });

  const statusOf = (page: Page, check: string) => page.locator(`.health-summary li[data-check="${check}"]`).getAttribute('data-status');

  test('ok with a governance worker running; after it stops, its pollers are flagged', async () => {
    const governance = await own.governanceWorker();
    const app = await own.appWorker();
    const runs = [governance.run(), app.run()];
    const pay = (amount: number) => own.client.workflow.start(payOnce, { taskQueue: own.taskQueue, workflowId: uniqueName('dashboard-pay'), args: [amount, uniqueName('marker')] });
    let stopped = false;
    const stop = async () => {
      if (stopped) return;
      stopped = true;
      governance.shutdown();
      app.shutdown();
      await Promise.all(runs);
    };
    try {
      await (await pay(120)).result();
      await (await pay(480)).result();
      await expectGovernanceDenied(await pay(5000));
      // Until lineage holds all of it (the overall status is ok only once nothing waits).
      await until('lineage caught up', async () => {
        const { body } = await json(`${dashboard.url}/api/health`);
        const checks = body.checks as { lineage: { details: { outbox: { pending: number }; stored: { count: number } } } };
        return body.status === 'ok' && checks.lineage.details.outbox.pending === 0 && checks.lineage.details.stored.count >= 6 ? true : undefined;
      });

      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      await page.goto(`${dashboard.url}/health`);
      expect(await page.locator('[data-overall]').getAttribute('data-overall')).toBe('ok');
      for (const check of ['pollers', 'policy', 'identity', 'lineage', 'keys', 'decisions', 'mongodb', 'temporal']) expect(await statusOf(page, check)).toBe('ok');
      await expect(page.locator('#check-policy').innerText()).resolves.toContain('test-policy');
      await expect(page.locator('#check-decisions').innerText()).resolves.toContain('AMOUNT_OVER_LIMIT');
      await expect(page.locator('#check-keys').innerText()).resolves.toContain('test-key-1');
      await page.screenshot({ path: join(screenshots, 'console-health.png'), fullPage: true });

      const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true });
      await phone.goto(`${dashboard.url}/health`);
      // Readable on a phone: nothing wider than the screen but the scrollable tables.
      const overflow = await phone.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth');
      expect(overflow).toBe(0);
      await phone.screenshot({ path: join(screenshots, 'console-health-phone.png'), fullPage: true });
      await phone.close();

      await stop();
      // Temporal keeps listing a stopped poller for 5 minutes; the check flags it once its last
      // poll is older than the threshold (90 s by default).
      await until('the stopped worker to be flagged on both task queue types', async () => {
        const { body } = await json(`${dashboard.url}/api/health`);
        const types = (body.checks as { pollers: { details: { types: Array<{ recentPollers: number }> } } }).pollers.details.types;
        return types.every((t) => t.recentPollers === 0) ? true : undefined;
      }, 200_000);
      await page.goto(`${dashboard.url}/health`);
      expect(await statusOf(page, 'pollers')).toBe('fail');
      expect(await page.locator('[data-overall]').getAttribute('data-overall')).toBe('fail');
      const pollers = await page.locator('#check-pollers').innerText();
      // Lineage workflows poll their own task queue, authorizations the governance task queue.
      expect(pollers).toContain(`no governance worker polled the workflow task queue ${own.governanceTaskQueue}-lineage or the activity task queue ${own.governanceTaskQueue} in the last`);
      expect(pollers).toMatch(/not polling/i);
      expect(await statusOf(page, 'policy')).toBe('warn');
      await page.screenshot({ path: join(screenshots, 'console-health-flagged.png'), fullPage: true });
      await page.close();
    } finally {
      await stop();
    }
  }, 300_000);
});
