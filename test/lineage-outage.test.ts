// MongoDB stopped: identity and revocation state goes stale, so governance and the enforcement
// point deny everything (fail closed); the hand-off of those denials is to Temporal, so once MongoDB
// is back every decision lands in lineage and the chain verifies.
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
  env = await governedEnv({ mongoUri: uri() }); // identity, revocations and lineage all on this server
});
afterAll(async () => {
  await stopMongo();
  await env?.close();
});

test('with MongoDB down everything is denied (stale identity state); when it is back every decision lands and verifies', async () => {
  const marker = uniqueName('outage');
  const mongo = new MongoClient(uri());
  try {
    await env.run(async () => {
      const before = await env.client.workflow.start(payTwice, { taskQueue: env.taskQueue, workflowId: uniqueName('before'), args: [10, `${marker}:before`] });
      await before.result();
      const beforeDecisions = await issuedDecisions(env.client, before.workflowId, before.firstExecutionRunId);
      const db = mongo.db(env.lineageDatabase);
      await waitForRecords(db, beforeDecisions[0]!.rootId, beforeDecisions.length, 30_000, env.client);

      await stopMongo();
      await new Promise((r) => setTimeout(r, 6_000)); // past the maximum staleness (5 s)
      const during = await env.client.workflow.start(payOnce, { taskQueue: env.taskQueue, workflowId: uniqueName('during'), args: [20, `${marker}:during`] });
      const failure = await expectGovernanceDenied(during);
      expect(failure.details?.[0]).toMatchObject({ code: 'IDENTITY_STATE_STALE', action: 'workflow' });
      expect(failure.message).toContain('denied, never allowed');
      expect(runsOf(`${marker}:during`)).toBe(0);

      await startMongo();
      const decisions = await issuedDecisions(env.client, during.workflowId, during.firstExecutionRunId);
      expect(decisions).toEqual([expect.objectContaining({ decision: 'deny', action: 'workflow' })]);
      expect(await waitForRecords(db, decisions[0]!.rootId, 1, 90_000, env.client)).toBe(1);
      const summary = await verifyLineage(db, loadTrustBundle(env.keys.bundlePath));
      expect(summary.violations).toEqual([]);
      expect(summary.roots).toBe(2);
      expect(summary.records).toBe(beforeDecisions.length + 1);

      // Fresh state again: the same start is allowed.
      await new Promise((r) => setTimeout(r, 2_000));
      const after = await env.client.workflow.start(payOnce, { taskQueue: env.taskQueue, workflowId: uniqueName('after'), args: [20, `${marker}:after`] });
      expect(await after.result()).toBe('charged 20 EUR');
    });
  } finally {
    await mongo.close();
  }
}, 300_000);
