// Direct authorization on the real dev server and MongoDB-wire server: the workflow authorizes by a
// local activity that asks the governance worker's endpoint, signed with a worker API key. The same
// promise holds (no authorization, no execution; denial fails closed; every decision in lineage),
// and the endpoint refuses every request a live worker key did not sign for that very request.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { bundleWorkflowCode, DefaultLogger, Worker } from '@temporalio/worker';
import type { WorkflowHandle } from '@temporalio/client';
import { AUTHORIZE_ACTIVITY, WORKER_ROLE } from '../src/common/constants';
import { requestDigest } from '../src/direct/wire';
import { signWorkerRequest } from '../src/direct/worker-request';
import { parseApiKey, signWithApiKey } from '../src/identity/api-key';
import { createApiKey, createPrincipal, revoke } from '../src/identity/store';
import { connectLineage } from '../src/lineage/store';
import { verifyLineage } from '../src/lineage/verify';
import { loadTrustBundle } from '../src/crypto/keys';
import { GovernancePlugin } from '../src/plugin';
import { governanceDirectUrl } from '../src/worker/governance-worker';
import { activities, expectGovernanceDenied, governedEnv, mongoUri, uniqueName, workflowsPath, type Env } from './helpers/harness';
import { historyEvents, waitForRecords } from './helpers/lineage';
import { runsOf } from './fixtures/activities';
import { parentPays, payAfterSignal, payOnce, payThenContinue, payTwice, goSignal } from './fixtures/workflows';

let env: Env;
let governance: Worker;
let governanceRun: Promise<void>;
let endpoint: string;
let workerKey: string;
let aliceKey: string;

beforeAll(async () => {
  env = await governedEnv({ governance: false });
  aliceKey = env.apiKey;
  const { client, db } = await connectLineage(mongoUri(), env.lineageDatabase);
  try {
    await createPrincipal(db, { id: 'worker-payments', roles: [WORKER_ROLE] });
    workerKey = (await createApiKey(db, { principal: 'worker-payments' })).apiKey;
  } finally {
    await client.close();
  }
  governance = await env.governanceWorker({ directAuthorization: { port: 0 } });
  governanceRun = governance.run();
  endpoint = governanceDirectUrl(governance)!;
});

afterAll(async () => {
  if (governance?.getState() === 'RUNNING') governance.shutdown();
  await governanceRun;
  await env?.close();
});

const bundles = new Map<number, Promise<{ code: string }>>();
/** The bake-in depends on the settings, not the endpoints: one bundle per authorization timeout. */
function bundleFor(authorizationTimeoutMs: number, plugin: GovernancePlugin): Promise<{ code: string }> {
  if (!bundles.has(authorizationTimeoutMs)) bundles.set(authorizationTimeoutMs, bundleWorkflowCode({ workflowsPath, plugins: [plugin], logger: new DefaultLogger('WARN') }));
  return bundles.get(authorizationTimeoutMs)!;
}

/** An app worker whose workflows authorize directly, against `endpoints`. */
async function directWorker(endpoints: string[] = [endpoint], authorizationTimeoutMs = 20_000): Promise<{ worker: Worker; plugin: GovernancePlugin }> {
  const plugin = new GovernancePlugin({
    identity: { mongoUri: mongoUri(), database: env.lineageDatabase },
    trustBundle: env.keys.bundlePath,
    workflow: { authorizationTimeoutMs, taskQueue: env.governanceTaskQueue },
    directAuthorization: { endpoints, apiKey: workerKey },
  });
  const bundle = await bundleFor(authorizationTimeoutMs, plugin);
  const worker = await Worker.create({ connection: env.connection, taskQueue: env.taskQueue, workflowBundle: bundle, activities, plugins: [plugin] });
  return { worker, plugin };
}

async function withWorker<T>(w: { worker: Worker; plugin: GovernancePlugin }, fn: () => Promise<T>): Promise<T> {
  const run = w.worker.run();
  try {
    return await fn();
  } finally {
    w.worker.shutdown();
    await run;
    await w.plugin.close();
  }
}

const start = <A extends unknown[]>(wf: (...args: A) => Promise<unknown>, ...args: A) =>
  env.client.workflow.start(wf, { taskQueue: env.taskQueue, workflowId: uniqueName(wf.name), args });

async function scheduledActivityTypes(handle: WorkflowHandle): Promise<string[]> {
  const events = await historyEvents(env.client, handle.workflowId, (await handle.describe()).runId);
  return events.flatMap((e) => (e.activityTaskScheduledEventAttributes ? [e.activityTaskScheduledEventAttributes.activityType?.name ?? ''] : []));
}

async function lineageDb<T>(fn: (db: import('mongodb').Db) => Promise<T>): Promise<T> {
  const { client, db } = await connectLineage(mongoUri(), env.lineageDatabase);
  try {
    return await fn(db);
  } finally {
    await client.close();
  }
}

describe('a governed run that authorizes directly', () => {
  test('allowed calls run once each, only the run grant is an authorization activity, and every decision lands in lineage and verifies', async () => {
    const marker = uniqueName('direct-allow');
    const w = await directWorker();
    const handle = await withWorker(w, async () => {
      const h = await start(payTwice, 250, marker);
      expect(await h.result()).toEqual(['charged 250 EUR', 'charged 250 EUR']);
      return h;
    });
    expect(runsOf(`${marker}#1`)).toBe(1);
    expect(runsOf(`${marker}#2`)).toBe(1);
    // The run grant is the authorization activity (once per run); each call's decision is a local
    // activity marker, so only the protected calls themselves reach the server as activities.
    expect(await scheduledActivityTypes(handle)).toEqual([AUTHORIZE_ACTIVITY, 'charge', 'charge']);
    const events = await historyEvents(env.client, handle.workflowId, (await handle.describe()).runId);
    expect(events.filter((e) => e.markerRecordedEventAttributes).length).toBe(2);
    await lineageDb(async (db) => {
      let grant = null;
      for (let i = 0; i < 100 && !grant; i++) {
        grant = await db.collection('lineage').findOne({ workflowId: handle.workflowId, action: 'workflow' });
        if (!grant) await new Promise((r) => setTimeout(r, 200));
      }
      expect(grant).not.toBeNull();
      await waitForRecords(db, grant!.rootId as string, 3);
      expect((await verifyLineage(db, loadTrustBundle(env.keys.bundlePath))).violations).toEqual([]);
    });
  });

  test('a denied call fails the run closed (AMOUNT_OVER_LIMIT) and its body never runs', async () => {
    const marker = uniqueName('direct-deny');
    const w = await directWorker();
    const failure = await withWorker(w, async () => expectGovernanceDenied(await start(payOnce, 5000, marker)));
    expect(runsOf(marker)).toBe(0);
    expect(failure.details?.[0]).toMatchObject({ code: 'AMOUNT_OVER_LIMIT' });
  });

  test('children, continue-as-new and an admitted signal authorize directly too', async () => {
    const marker = uniqueName('direct-tree');
    const w = await directWorker();
    await withWorker(w, async () => {
      expect(await (await start(parentPays, 100, `${marker}:child`)).result()).toBe('charged 100 EUR');
      expect(await (await start(payThenContinue, 2, `${marker}:can`)).result()).toMatch(/^done in run continued from /);
      const signalled = await start(payAfterSignal, 40, `${marker}:signal`);
      await signalled.signal(goSignal);
      expect(await signalled.result()).toEqual(['charged 40 EUR', '1.1', 'charged 40 EUR']);
    });
    expect(runsOf(`${marker}:child`)).toBe(1);
    for (const n of [2, 1, 0]) expect(runsOf(`${marker}:can:${n}`)).toBe(1);
  });

  test('a retried authorization gets the same decision: three requests under one first scheduled time, one artifact', async () => {
    // In front of the real endpoint: every request is decided, but the first two answers of every
    // call are lost (the local activity sees a retryable failure and tries again).
    const seen = new Map<string, number>();
    const issued = new Map<string, string[]>();
    const proxy = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', async () => {
        const { request, proof } = JSON.parse(body) as { request: { action: string }; proof: { payload: { activityId: string; runId: string } } };
        const call = `${request.action}:${proof.payload.runId}/${proof.payload.activityId}`;
        const n = (seen.get(call) ?? 0) + 1;
        seen.set(call, n);
        const upstream = await fetch(`${endpoint}/v1/authorize`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        const text = await upstream.text();
        const result = (JSON.parse(text) as { result?: { decision: string; artifact?: { payload: { id: string } }; denial?: { payload: { code: string } } } }).result;
        issued.set(call, [...(issued.get(call) ?? []), result?.artifact?.payload.id ?? result?.denial?.payload.code ?? 'none']);
        if (n <= 2) {
          res.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify({ failure: { type: 'GovernanceUnavailable', message: 'test: answer lost', nonRetryable: false } }));
          return;
        }
        res.writeHead(upstream.status, { 'content-type': 'application/json' }).end(text);
      });
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const marker = uniqueName('direct-retry');
    try {
      const w = await directWorker([`http://127.0.0.1:${(proxy.address() as AddressInfo).port}`]);
      expect(await withWorker(w, async () => (await start(payOnce, 30, marker)).result())).toBe('charged 30 EUR');
    } finally {
      await new Promise((resolve) => proxy.close(resolve));
    }
    expect(runsOf(marker)).toBe(1);
    // The charge's decision took three requests, all under one first scheduled time: governance
    // signed the same artifact three times, and the enforcement point admitted it once.
    expect([...seen.values()]).toEqual([3]);
    for (const ids of issued.values()) {
      expect(ids).toHaveLength(3);
      expect(new Set(ids).size).toBe(1);
      expect(ids[0]).toMatch(/^art_/);
    }
  });

  test('with no endpoint answering, the call waits out the authorization timeout and is denied GOVERNANCE_UNAVAILABLE; nothing runs', async () => {
    const marker = uniqueName('direct-down');
    const w = await directWorker(['http://127.0.0.1:9'], 3_000);
    const failure = await withWorker(w, async () => expectGovernanceDenied(await start(payOnce, 10, marker)));
    expect(runsOf(marker)).toBe(0);
    expect(failure.details?.[0]).toMatchObject({ code: 'GOVERNANCE_UNAVAILABLE' });
  });

  test('a replay of a direct run reproduces it (Worker.runReplayHistory)', async () => {
    const marker = uniqueName('direct-replay');
    const w = await directWorker();
    const handle = await withWorker(w, async () => {
      const h = await start(payTwice, 20, marker);
      await h.result();
      return h;
    });
    const history = await handle.fetchHistory();
    const plugin = new GovernancePlugin({ trustBundle: env.keys.bundlePath, workflow: { authorizationTimeoutMs: 20_000, taskQueue: env.governanceTaskQueue }, directAuthorization: { endpoints: [endpoint], apiKey: workerKey } });
    await Worker.runReplayHistory({ workflowBundle: await bundleFor(20_000, plugin), plugins: [plugin] }, history);
  });
});

describe('the endpoint, asked by someone without a live worker key', () => {
  /** A plausible request for a run that exists, as a rogue would copy it from history. */
  async function copiedRequest(): Promise<{ request: Record<string, unknown>; caller: { namespace: string; workflowId: string; runId: string; workflowType: string; activityId: string; scheduledAt: number } }> {
    const w = await directWorker();
    const marker = uniqueName('direct-victim');
    const handle = await withWorker(w, async () => {
      const h = await start(payOnce, 10, marker);
      await h.result();
      return h;
    });
    const events = await historyEvents(env.client, handle.workflowId, (await handle.describe()).runId);
    // The run's own direct authorization of its charge, read back from the marker's input is not
    // in history; the rogue builds the request from what it reads: the grant from lineage.
    // Lineage is written a moment after the decisions (batched signals): wait for the grant's record.
    const grant = await lineageDb(async (db) => {
      for (let i = 0; i < 100; i++) {
        const found = await db.collection('lineage').findOne({ workflowId: handle.workflowId, action: 'workflow' });
        if (found) return found;
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error(`no lineage record of ${handle.workflowId}'s run grant after 20 s`);
    });
    expect(events.length).toBeGreaterThan(0);
    const args = [['json', { amount: 999, currency: 'EUR', marker: `${marker}:rogue` }]];
    const request = {
      v: 2,
      action: 'activity',
      target: 'charge',
      activityId: '99',
      childWorkflowId: null,
      messageId: null,
      taskQueue: env.taskQueue,
      args,
      argsDigest: `sha256:${require('../src/common/digest').sha256Hex(require('../src/common/canonical').canonicalize(args))}`,
      workflow: {
        namespace: 'default',
        workflowId: handle.workflowId,
        runId: grant!.runId,
        workflowType: 'payOnce',
        taskQueue: env.taskQueue,
        parent: null,
        continuedFromRunId: null,
        firstExecutionRunId: grant!.runId,
        startedAt: Date.now(),
      },
      proof: null,
      delegateRoles: null,
      parent: grant!.artifact,
    };
    return { request, caller: { namespace: 'default', workflowId: handle.workflowId, runId: grant!.runId as string, workflowType: 'payOnce', activityId: '99', scheduledAt: Date.now() } };
  }

  const post = async (body: unknown) => {
    const response = await fetch(`${endpoint}/v1/authorize`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: response.status, body: (await response.json()) as { result?: unknown; failure?: { type: string; message: string; nonRetryable: boolean } } };
  };

  test('a run grant asked directly, even with a live worker key, is refused: run grants come from the authorization activity only', async () => {
    const { request, caller } = await copiedRequest();
    const grantRequest = { ...request, action: 'workflow', target: 'payOnce', activityId: null };
    const answer = await post({ request: grantRequest, proof: signWorkerRequest(parseApiKey(workerKey), caller, grantRequest) });
    expect(answer).toMatchObject({ status: 400, body: { failure: { type: 'GovernanceMalformedRequest', nonRetryable: true } } });
    expect(answer.body.result).toBeUndefined();
  });

  test('junk, a missing proof and a wrong path are refused before anything is decided', async () => {
    expect(await post({ nonsense: true })).toMatchObject({ status: 400, body: { failure: { type: 'GovernanceMalformedRequest' } } });
    expect(await post({ request: {}, proof: null })).toMatchObject({ status: 400 });
    const wrongPath = await fetch(`${endpoint}/v1/authorise`, { method: 'POST', body: '{}' });
    expect(wrongPath.status).toBe(404);
  });

  test("an ordinary principal's API key (alice, no worker role), a tampered request, a stale signature and a revoked worker key get no decision", async () => {
    const { request, caller } = await copiedRequest();
    // alice's own key: a valid signature, but not a worker's credential.
    const alice = await post({ request, proof: signWorkerRequest(parseApiKey(aliceKey), caller, request) });
    expect(alice).toMatchObject({ status: 401, body: { failure: { type: 'GovernanceWorkerUnauthenticated', nonRetryable: true } } });
    // The reason (keys, principals) goes to the governance worker's log, not to whoever asked.
    expect(alice.body.failure!.message).toContain('(INVALID_PROOF)');
    expect(alice.body.failure!.message).not.toContain('alice');
    expect(alice.body.result).toBeUndefined();

    // The worker's key, but the request changed after it was signed.
    const worker = parseApiKey(workerKey);
    const signed = signWorkerRequest(worker, caller, request);
    const tampered = await post({ request: { ...request, target: 'chargeEverything' }, proof: signed });
    expect(tampered).toMatchObject({ status: 401, body: { failure: { message: expect.stringContaining('(INVALID_PROOF)') } } });

    // A caller edited after signing (another run's id) breaks the signature.
    const moved = await post({ request, proof: { ...signed, payload: { ...signed.payload, runId: 'another-run' } } });
    expect(moved).toMatchObject({ status: 401, body: { failure: { message: expect.stringContaining('(INVALID_PROOF)') } } });

    // A captured request replayed a minute later.
    const old = signWithApiKey({ ...signed.payload, issuedAt: Date.now() - 60_000 }, worker);
    expect(await post({ request, proof: old })).toMatchObject({ status: 401, body: { failure: { message: expect.stringContaining('(INVALID_PROOF)') } } });

    // An issue time far in the past (an artifact lifetime the worker may not choose).
    const backdated = signWorkerRequest(worker, { ...caller, scheduledAt: Date.now() - 3_600_000 }, request);
    expect(await post({ request, proof: backdated })).toMatchObject({ status: 401, body: { failure: { message: expect.stringContaining('(INVALID_PROOF)') } } });

    // The genuine worker key answers (a decision, signed for the caller it signed for)...
    const genuine = await post({ request, proof: signWorkerRequest(worker, caller, request) });
    expect(genuine.status).toBe(200);
    expect(genuine.body.result).toMatchObject({ decision: expect.any(String) });

    // ...until it is revoked.
    await lineageDb((db) => revoke(db, 'api-key', worker.keyId, 'test: worker retired'));
    await new Promise((r) => setTimeout(r, 2_500)); // the governance worker re-reads identity every second
    const revoked = await post({ request, proof: signWorkerRequest(worker, caller, request) });
    expect(revoked).toMatchObject({ status: 401, body: { failure: { message: expect.stringContaining('(API_KEY_REVOKED)') } } });
    expect(requestDigest(request)).toBe(signed.payload.requestDigest);
  });
});
