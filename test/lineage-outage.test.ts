// MongoDB stopped in the middle of a run: governance keeps enforcing (the hand-off is to Temporal),
// and once MongoDB is back every record lands and the chain verifies.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { ensureFerretDb } from '../src/stack/tools';
import { loadTrustBundle } from '../src/crypto/keys';
import { verifyLineage } from '../src/lineage/verify';
import { governedEnv, uniqueName, expectGovernanceDenied, type Env } from './helpers/harness';
import { issuedDecisions, waitForRecords } from './helpers/lineage';
import { runsOf } from './fixtures/activities';
import { payOnce, payTwice } from './fixtures/workflows';

const binary = ensureFerretDb();
const dataDir = mkdtempSync(join(tmpdir(), 'lineage-outage-'));
let port = 0;
let server: ChildProcess | undefined;

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

async function startMongo(): Promise<void> {
  server = spawn(binary, ['-listen', `127.0.0.1:${port}`, '-sqlite-url', `file:${dataDir}/`], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    const client = new MongoClient(uri(), { serverSelectionTimeoutMS: 500 });
    try {
      await client.db('admin').command({ ping: 1 });
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 200));
    } finally {
      await client.close();
    }
  }
  throw new Error('FerretDB did not start');
}

async function stopMongo(): Promise<void> {
  const s = server;
  if (!s || s.exitCode !== null) return;
  const exited = new Promise((r) => s.once('exit', r));
  s.kill('SIGKILL');
  await exited;
}

const uri = () => `mongodb://127.0.0.1:${port}/`;
let env: Env;

beforeAll(async () => {
  port = await freePort();
  await startMongo();
  env = await governedEnv({ governance: { mongoUri: uri() } });
});
afterAll(async () => {
  await stopMongo();
  await env?.close();
});

test('with MongoDB down governance keeps enforcing; when it is back every record lands and verifies', async () => {
  const marker = uniqueName('outage');
  const mongo = new MongoClient(uri());
  try {
    await env.run(async () => {
      const before = await env.client.workflow.start(payTwice, { taskQueue: env.taskQueue, workflowId: uniqueName('before'), args: [10, `${marker}:before`] });
      await before.result();
      const beforeDecisions = await issuedDecisions(env.client, before.workflowId, before.firstExecutionRunId);
      const db = mongo.db(env.lineageDatabase);
      await waitForRecords(db, beforeDecisions[0]!.rootId, beforeDecisions.length, 30_000, env.client);

      await stopMongo(); // MongoDB is gone: authorizations and enforcement must not notice
      const allowed = await env.client.workflow.start(payOnce, { taskQueue: env.taskQueue, workflowId: uniqueName('during'), args: [20, `${marker}:during`] });
      expect(await allowed.result()).toBe('charged 20 EUR');
      const denied = await env.client.workflow.start(payOnce, { taskQueue: env.taskQueue, workflowId: uniqueName('during-denied'), args: [20_000, `${marker}:denied`] });
      expect((await expectGovernanceDenied(denied)).details?.[0]).toMatchObject({ code: 'AMOUNT_OVER_LIMIT' });
      expect(runsOf(`${marker}:during`)).toBe(1);
      expect(runsOf(`${marker}:denied`)).toBe(0);

      await new Promise((r) => setTimeout(r, 2_000)); // persist attempts fail meanwhile
      await startMongo();
      for (const handle of [allowed, denied]) {
        const decisions = await issuedDecisions(env.client, handle.workflowId, handle.firstExecutionRunId);
        expect(await waitForRecords(db, decisions[0]!.rootId, decisions.length, 90_000, env.client)).toBe(decisions.length);
      }
      const summary = await verifyLineage(db, loadTrustBundle(env.keys.bundlePath));
      expect(summary.violations).toEqual([]);
      expect(summary.roots).toBe(3);
      expect(summary.records).toBe(beforeDecisions.length + 2 + 2);
    });
  } finally {
    await mongo.close();
  }
}, 300_000);
