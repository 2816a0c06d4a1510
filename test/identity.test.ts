// Identity on the real stack: API-key proofs bound to one start, key states, revocation honoured by
// the enforcement point within the staleness bound (and everything denied past it), signing-key
// rotation with an in-flight workflow, and delegation that only narrows.
import { Client, type WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { DefaultLogger, Runtime, Worker, type LogEntry } from '@temporalio/worker';
import { MongoClient } from 'mongodb';
import { HEADER_START_PROOF } from '../src/common/constants';
import { SignedArtifactSchema } from '../src/common/schemas';
import { generateSigningKey, KeyError, retireSigningKey } from '../src/crypto/keys';
import { generateApiKey } from '../src/identity/api-key';
import { createApiKey, createPrincipal, expireApiKey, revoke } from '../src/identity/store';
import { GovernancePlugin } from '../src/plugin';
import { join } from 'node:path';
import { bodyRuns, runsOf } from './fixtures/activities';
import { delegatingMalformed, delegatingRoot, goSignal, payAfterSignal, payAfterTimer, payOnce, payOnQueue, payOnSecondAttempt } from './fixtures/workflows';
import { expectGovernanceDenied, governedEnv, mongoUri, uniqueName, activities, workflowsPath, type Env } from './helpers/harness';

// Everything the Temporal runtime logs in this process (workers, governance worker, lineage).
const logs: string[] = [];
Runtime.install({ logger: new DefaultLogger('DEBUG', (entry: LogEntry) => logs.push(`${entry.level} ${entry.message} ${JSON.stringify(entry.meta ?? {})}`)) });

/** Staleness bound the workers run with (the default), plus a refresh period of margin. */
const STALENESS_MS = 5_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let env: Env;
let mongo: MongoClient;
beforeAll(async () => {
  env = await governedEnv();
  mongo = await MongoClient.connect(mongoUri());
});
afterAll(async () => {
  await mongo?.close();
  await env?.close();
});

const db = () => mongo.db(env.lineageDatabase);

/** Everything a value holds as searchable text: bytes (payload data) as base64 and as UTF-8. */
function textOf(value: unknown): string {
  if (value instanceof Uint8Array) return ` ${Buffer.from(value).toString('base64')} ${Buffer.from(value).toString('utf8')} `;
  if (Array.isArray(value)) return value.map(textOf).join(',');
  if (value && typeof value === 'object') return Object.entries(value).map(([k, v]) => `${k}:${textOf(v)}`).join(',');
  return String(value);
}
const code = (failure: { details?: unknown[] | null }) => (failure.details?.[0] as { code: string }).code;

/** A client that starts workflows with another API key (or none), same connection. */
function clientWith(apiKey?: string): Client {
  return new Client({ connection: env.client.connection, plugins: apiKey ? [new GovernancePlugin({ apiKey })] : [] });
}

/** A client that sends a given start-proof header verbatim (what an attacker copying history can do). */
function clientReplaying(proof: Payload): Client {
  return new Client({
    connection: env.client.connection,
    interceptors: { workflow: [{ startWithDetails: (input, next) => next({ ...input, headers: { ...input.headers, [HEADER_START_PROOF]: proof } }) }] },
  });
}

async function startProofOf(handle: WorkflowHandle): Promise<Payload> {
  const history = await handle.fetchHistory();
  const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
  const proof = started?.header?.fields?.[HEADER_START_PROOF];
  if (!proof) throw new Error('no start proof in the start event');
  return proof as Payload;
}

/** Waits until the run has scheduled an activity of `type` (so its artifact has been issued). */
async function waitForScheduled(handle: WorkflowHandle, type: string): Promise<void> {
  for (let i = 0; i < 150; i++) {
    const history = await handle.fetchHistory();
    if ((history.events ?? []).some((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === type)) return;
    await sleep(200);
  }
  throw new Error(`${type} was never scheduled`);
}

/** Waits until an activity body recorded `marker`. */
async function waitForRun(marker: string): Promise<void> {
  for (let i = 0; i < 150 && runsOf(marker) === 0; i++) await sleep(200);
  if (runsOf(marker) === 0) throw new Error(`${marker} never ran`);
}

describe('API keys and start proofs', () => {
  test('after a full run the API key appears in no workflow history, no MongoDB document and no log line', async () => {
    const marker = uniqueName('secret-scan');
    const started = new Date(Date.now() - 1_000);
    await env.run(async () => {
      const handle = await env.client.workflow.start(payOnce, { taskQueue: env.taskQueue, workflowId: uniqueName('scan'), args: [10, marker] });
      await handle.result();
      const denied = await env.client.workflow.start(payOnce, { taskQueue: env.taskQueue, workflowId: uniqueName('scan-denied'), args: [5_000, `${marker}:denied`] });
      await expectGovernanceDenied(denied);
      await sleep(2_000); // let lineage persist
    });
    expect(runsOf(marker)).toBe(1);
    const secret = env.apiKey.split('.')[2]!;
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const needles = [env.apiKey, secret, Buffer.from(secret, 'base64url').toString('hex'), Buffer.from(secret, 'base64url').toString('base64')];

    // Every workflow of this test's window: the runs, their lineage workflows, everything on the server.
    let histories = 0;
    let text = '';
    for await (const wf of env.client.workflow.list({ query: `StartTime >= "${started.toISOString()}"` })) {
      const history = await env.client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
      text += textOf(history);
      histories += 1;
    }
    expect(histories).toBeGreaterThanOrEqual(3); // two runs and at least one lineage workflow
    expect(text).toContain(HEADER_START_PROOF); // the proof is there; the key is not

    let documents = 0;
    let stored = '';
    for (const c of await db().listCollections().toArray()) {
      for (const doc of await db().collection(c.name).find({}).toArray()) {
        stored += JSON.stringify(doc);
        documents += 1;
      }
    }
    expect(documents).toBeGreaterThan(5);
    expect(stored).toContain('publicKey'); // the api_keys documents were scanned

    expect(logs.length).toBeGreaterThan(0);
    const logText = logs.join('\n');
    for (const needle of needles) {
      expect(text.includes(needle)).toBe(false);
      expect(stored.includes(needle)).toBe(false);
      expect(logText.includes(needle)).toBe(false);
    }
  });

  test('a proof copied from one start cannot start another: not the same workflow again, not another one', async () => {
    const marker = uniqueName('replay');
    const workflowId = uniqueName('original');
    const [again, elsewhere] = await env.run(async () => {
      const original = await env.client.workflow.start(payOnce, { taskQueue: env.taskQueue, workflowId, args: [10, marker] });
      await original.result();
      const proof = await startProofOf(original);
      const attacker = clientReplaying(proof);
      // Same id, type and arguments: only the single-use claim can tell this start from the original.
      const sameStart = await attacker.workflow.start(payOnce, { taskQueue: env.taskQueue, workflowId, args: [10, marker] });
      const otherStart = await attacker.workflow.start(payOnce, { taskQueue: env.taskQueue, workflowId: uniqueName('stolen'), args: [10, marker] });
      return [await expectGovernanceDenied(sameStart), await expectGovernanceDenied(otherStart)];
    });
    expect(code(again)).toBe('PROOF_REPLAYED');
    expect(code(elsewhere)).toBe('INVALID_PROOF');
    expect(elsewhere.message).toContain('a proof starts one workflow only');
    expect(runsOf(marker)).toBe(1); // the original's charge, nothing more
  });

  test('a workflow retry re-delivers its start proof and is admitted; the first run claimed it', async () => {
    const marker = uniqueName('retry');
    const handle = await env.run(async () => {
      const h = await env.client.workflow.start(payOnSecondAttempt, {
        taskQueue: env.taskQueue,
        workflowId: uniqueName('retry'),
        args: [10, marker],
        retry: { maximumAttempts: 2, initialInterval: '100ms' },
      });
      expect(await h.result()).toBe('charged 10 EUR');
      return h;
    });
    const { runId } = await handle.describe();
    expect(runId).not.toBe(handle.firstExecutionRunId); // the result came from the retry run
    expect(runsOf(marker)).toBe(1);
    const claims = await db().collection('start_proofs').find({ workflowId: handle.workflowId }).toArray();
    expect(claims).toEqual([expect.objectContaining({ firstExecutionRunId: handle.firstExecutionRunId })]);
  });

  test('unknown, revoked and expired keys, a revoked principal and no key at all are denied at the root grant', async () => {
    const revokedKey = await createApiKey(db(), { principal: 'alice' });
    await revoke(db(), 'api-key', revokedKey.document._id, 'test: leaked');
    const expiringKey = await createApiKey(db(), { principal: 'alice' });
    await expireApiKey(db(), expiringKey.document._id);
    await createPrincipal(db(), { id: 'dave', roles: ['operator'] });
    const daveKey = await createApiKey(db(), { principal: 'dave' });
    await revoke(db(), 'principal', 'dave', 'test: left the company');
    await sleep(2_500); // two refresh periods: the governance worker sees the new state

    const cases: Array<[string, string | undefined, string]> = [
      ['unknown key', generateApiKey().apiKey, 'UNKNOWN_API_KEY'],
      ['revoked key', revokedKey.apiKey, 'API_KEY_REVOKED'],
      ['expired key', expiringKey.apiKey, 'API_KEY_EXPIRED'],
      ['revoked principal', daveKey.apiKey, 'PRINCIPAL_REVOKED'],
      ['no key', undefined, 'UNAUTHENTICATED'],
    ];
    const marker = uniqueName('bad-keys');
    const failures = await env.run(async () =>
      Promise.all(
        cases.map(async ([label, key]) => {
          const handle = await clientWith(key).workflow.start(payOnce, { taskQueue: env.taskQueue, workflowId: uniqueName(label.replace(/ /g, '-')), args: [10, marker] });
          return expectGovernanceDenied(handle);
        }),
      ),
    );
    cases.forEach(([, key, expected], i) => {
      expect(code(failures[i]!)).toBe(expected);
      expect(failures[i]!.details?.[0]).toMatchObject({ action: 'workflow', target: 'payOnce' });
      if (key) {
        const secret = key.split('.')[2]!;
        expect(JSON.stringify(failures[i]!.details)).not.toContain(secret);
        expect(failures[i]!.message).not.toContain(secret);
      }
    });
    expect(runsOf(marker)).toBe(0);
  });
});

describe('revocation at the enforcement point, within the staleness bound', () => {
  /**
   * Issues the artifact for a charge on a queue nobody polls, revokes with `revokeWhat`, waits for the
   * staleness bound, then lets a worker pick the charge up: the enforcement point must deny it.
   */
  async function revokedBeforeExecution(revokeWhat: (artifactId: string, grant: { id: string; principal: string; credential: string; kid: string }) => Promise<void>) {
    const marker = uniqueName('revoked');
    const laterQueue = uniqueName('later');
    const handle = await env.run(async () => {
      const h = await env.client.workflow.start(payOnQueue, { taskQueue: env.taskQueue, workflowId: uniqueName('revoke'), args: [laterQueue, 10, marker] });
      await waitForScheduled(h, 'charge');
      return h;
    });
    const history = await handle.fetchHistory();
    const scheduled = (history.events ?? []).map((e) => e.activityTaskScheduledEventAttributes).find((a) => a?.activityType?.name === 'charge');
    const artifact = SignedArtifactSchema.parse(defaultPayloadConverter.fromPayload(scheduled!.header!.fields!['temporal-governance-artifact']!));
    const p = artifact.payload;
    await revokeWhat(p.id, { id: p.ancestors[0]!, principal: p.principal, credential: p.credential, kid: p.kid });
    await sleep(STALENESS_MS);
    const failure = await env.run(async () => expectGovernanceDenied(handle), [await env.appWorker(), await env.appWorker({ taskQueue: laterQueue }), await env.governanceWorker()]);
    expect(runsOf(marker)).toBe(0);
    return { failure, artifact };
  }

  test('a revoked single authorization (the per-call artifact) is denied', async () => {
    const { failure } = await revokedBeforeExecution((id) => revoke(db(), 'authorization', id, 'test').then(() => undefined));
    expect(code(failure)).toBe('AUTHORIZATION_REVOKED');
  });

  test('revoking an authorization revokes its descendants: the run grant above an issued artifact', async () => {
    const { failure, artifact } = await revokedBeforeExecution((_id, grant) => revoke(db(), 'authorization', grant.id, 'test').then(() => undefined));
    expect(code(failure)).toBe('AUTHORIZATION_REVOKED');
    expect(failure.message).toContain(`descends from revoked authorization ${artifact.payload.ancestors[0]}`);
  });

  test('a revoked API key mid-run: the next protected activity is denied', async () => {
    const key = await createApiKey(db(), { principal: 'alice' });
    const marker = uniqueName('mid-run');
    const failure = await env.run(async () => {
      // A timer, not a signal, carries the run past the revocation: a signal into the revoked chain
      // would be refused itself (messages.test.ts).
      const handle = await clientWith(key.apiKey).workflow.start(payAfterTimer, { taskQueue: env.taskQueue, workflowId: uniqueName('mid-run'), args: [10, marker, STALENESS_MS + 4_000] });
      await waitForRun(`${marker}:before`);
      await revoke(db(), 'api-key', key.document._id, 'test: revoked mid-run');
      return expectGovernanceDenied(handle);
    });
    expect(code(failure)).toBe('API_KEY_REVOKED');
    expect(runsOf(`${marker}:before`)).toBe(1);
    expect(runsOf(`${marker}:exempt-after`)).toBe(0); // even the exempt activity: it carries the revoked chain's grant
    expect(runsOf(`${marker}:after`)).toBe(0);
  });

  test('an enforcement point whose revocation state is stale denies everything (MongoDB unreachable)', async () => {
    const marker = uniqueName('stale');
    const blind = new GovernancePlugin({
      trustBundle: env.keys.bundlePath,
      // Started during the outage on purpose (the start-up check would refuse it): this is about the runtime.
      identity: { mongoUri: 'mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=500', maxStalenessMs: STALENESS_MS, outageWaitMs: 1_000, checkAtStartup: false },
      workflow: { taskQueue: env.governanceTaskQueue, authorizationTimeoutMs: 20_000 },
    });
    const laterQueue = uniqueName('blind');
    const blindWorker = await Worker.create({ connection: env.connection, taskQueue: laterQueue, activities, plugins: [blind] });
    const failure = await env.run(async () => {
      const handle = await env.client.workflow.start(payOnQueue, { taskQueue: env.taskQueue, workflowId: uniqueName('stale'), args: [laterQueue, 10, marker] });
      return expectGovernanceDenied(handle);
    }, [await env.appWorker(), blindWorker, await env.governanceWorker()]);
    await blind.close();
    expect(code(failure)).toBe('IDENTITY_STATE_STALE');
    expect(failure.message).toContain('denied, never allowed');
    expect(runsOf(marker)).toBe(0);
  });
});

describe('signing keys', () => {
  test('rotation with an in-flight workflow: no spurious denial; then revoking the old key denies what it signed', async () => {
    // An env of its own: this test retires the env's signing key.
    const outer = env;
    env = await governedEnv();
    try {
      await rotation();
    } finally {
      await env.close();
      env = outer;
    }
  });

  async function rotation(): Promise<void> {
    const marker = uniqueName('rotation');
    const oldWorker = await env.governanceWorker();
    const oldRuns = oldWorker.run();
    let app = await env.appWorker();
    let appRuns = app.run();
    try {
      const inFlight = await env.client.workflow.start(payAfterSignal, { taskQueue: env.taskQueue, workflowId: uniqueName('in-flight'), args: [10, marker] });
      await waitForRun(`${marker}:before`);
      // A second run whose charge waits on an unpolled queue with an artifact signed by the old key.
      const laterQueue = uniqueName('old-key');
      const pending = await env.client.workflow.start(payOnQueue, { taskQueue: env.taskQueue, workflowId: uniqueName('old-key'), args: [laterQueue, 10, `${marker}:old-key`] });
      await waitForScheduled(pending, 'charge');
      oldWorker.shutdown();
      await oldRuns;

      // Rotate: new key in the bundle, governance signs with it, the old key is retired.
      const newKeyPath = join(env.keys.dir, 'signing-key-2.json');
      generateSigningKey({ keyPath: newKeyPath, bundlePath: env.keys.bundlePath, kid: 'test-key-2' });
      retireSigningKey({ bundlePath: env.keys.bundlePath, kid: 'test-key-1' });
      await expect(env.governanceWorker()).rejects.toThrow(KeyError); // the retired key signs nothing more
      const newWorker = await env.governanceWorker({ signingKeyPath: newKeyPath });
      const newRuns = newWorker.run();
      // The app worker restarts too, as the rotation runbook says: its workflow bundle bakes in the
      // keys that signal decisions are verified against, and `go` is decided with the new key.
      app.shutdown();
      await appRuns;
      const { bundleWorkflowCode } = await import('@temporalio/worker');
      const restarted = await env.appWorker({ workflowBundle: await bundleWorkflowCode({ workflowsPath, plugins: [env.plugin] }) });
      appRuns = restarted.run();
      app = restarted;
      try {
        await inFlight.signal(goSignal);
        await inFlight.result(); // the run grant (old key, issued before retirement) still carries the run
        const history = await inFlight.fetchHistory();
        const kids = (history.events ?? [])
          .map((e) => e.activityTaskScheduledEventAttributes)
          .filter((a) => a?.activityType?.name === 'charge')
          .map((a) => SignedArtifactSchema.parse(defaultPayloadConverter.fromPayload(a!.header!.fields!['temporal-governance-artifact']!)).payload.kid);
        expect(kids).toEqual(['test-key-1', 'test-key-2']);
        expect(runsOf(`${marker}:after`)).toBe(1);

        // Revoke the old key: what it signed is void at the enforcement point.
        await revoke(db(), 'signing-key', 'test-key-1', 'test: compromised');
        await sleep(STALENESS_MS);
        const late = await env.appWorker({ taskQueue: laterQueue });
        const failure = await env.run(async () => expectGovernanceDenied(pending), [late]); // the app worker still runs
        expect(code(failure)).toBe('SIGNING_KEY_REVOKED');
        expect(runsOf(`${marker}:old-key`)).toBe(0);
      } finally {
        newWorker.shutdown();
        await newRuns;
      }
    } finally {
      if (app.getState() === 'RUNNING') app.shutdown();
      await appRuns;
    }
  }
});

describe('delegation only narrows', () => {
  test('control: without narrowing, the grandchild of an auditor may read the audit trail', async () => {
    const marker = uniqueName('delegation-control');
    const result = await env.run(async () =>
      env.client.workflow.execute(delegatingRoot, { taskQueue: env.taskQueue, workflowId: uniqueName('delegation-control'), args: [marker, null, null] }),
    );
    expect(result).toBe(`audit trail for ${marker}`);
    expect(runsOf(marker)).toBe(1);
  });

  test('a child narrowed to [operator] passes only that on: its grandchild cannot read the audit trail', async () => {
    const marker = uniqueName('narrowed');
    const failure = await env.run(async () => {
      const handle = await env.client.workflow.start(delegatingRoot, { taskQueue: env.taskQueue, workflowId: uniqueName('narrowed'), args: [marker, ['operator'], null] });
      await handle.result().catch(() => undefined);
      return expectGovernanceDenied(env.client.workflow.getHandle(`${handle.workflowId}-child-grandchild`));
    });
    expect(code(failure)).toBe('NO_MATCHING_ALLOW');
    expect(runsOf(marker)).toBe(0);
  });

  test('widening through nested children is denied: the grandchild asks back for a role its parent gave up', async () => {
    const marker = uniqueName('widen');
    const failure = await env.run(async () => {
      const handle = await env.client.workflow.start(delegatingRoot, {
        taskQueue: env.taskQueue,
        workflowId: uniqueName('widen'),
        args: [marker, ['operator'], ['operator', 'auditor']],
      });
      await handle.result().catch(() => undefined);
      return expectGovernanceDenied(env.client.workflow.getHandle(`${handle.workflowId}-child`));
    });
    expect(code(failure)).toBe('DELEGATION_WIDENS');
    expect(failure.message).toContain('auditor');
    expect(runsOf(marker)).toBe(0);
    expect(bodyRuns.some((m) => m.startsWith(marker))).toBe(false);
  });

  test('a malformed delegation memo fails the parent closed and starts no child', async () => {
    const marker = uniqueName('malformed-delegation');
    const workflowId = uniqueName('malformed-delegation');
    const failure = await env.run(async () => expectGovernanceDenied(await env.client.workflow.start(delegatingMalformed, { taskQueue: env.taskQueue, workflowId, args: [marker] })));
    expect(code(failure)).toBe('MALFORMED_REQUEST');
    expect(failure.message).toContain('temporal-governance.delegate');
    await expect(env.client.workflow.getHandle(`${workflowId}-child`).describe()).rejects.toThrow(/not found/i);
    expect(runsOf(marker)).toBe(0);
  });

  test('a child cannot claim a role the whole chain never had', async () => {
    const marker = uniqueName('never-had');
    const failure = await env.run(async () => {
      const handle = await env.client.workflow.start(delegatingRoot, { taskQueue: env.taskQueue, workflowId: uniqueName('never-had'), args: [marker, ['admin'], null] });
      return expectGovernanceDenied(handle);
    });
    expect(code(failure)).toBe('DELEGATION_WIDENS');
    expect(runsOf(marker)).toBe(0);
  });
});
