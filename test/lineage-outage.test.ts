// MongoDB stopped: identity and revocation state goes stale, so governance and the enforcement
// point decide nothing (fail closed): calls wait, up to the authorization timeout, and are denied
// only after it. The hand-off is to Temporal, so once MongoDB is back every decision lands in
// lineage and the chain verifies.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { ensureFerretDb } from '../src/stack/tools';
import { freePort } from '../src/stack/stack';
import { loadTrustBundle } from '../src/crypto/keys';
import { verifyLineage } from '../src/lineage/verify';
import { Worker } from '@temporalio/worker';
import { GovernancePlugin } from '../src/plugin';
import { governedEnv, uniqueName, expectGovernanceDenied, workflowsPath, type Env } from './helpers/harness';
import { issuedDecisions, waitForRecords } from './helpers/lineage';
import { runsOf } from './fixtures/activities';
import { payOnce, payTwice } from './fixtures/workflows';

let binary: string;
beforeAll(async () => {
  binary = await ensureFerretDb();
});
const dataDir = mkdtempSync(join(tmpdir(), 'lineage-outage-'));
let port = 0;
let server: ChildProcess | undefined;


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

test('a MongoDB outage shorter than the authorization timeout delays governed work and fails none; every decision lands and verifies', async () => {
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
      await new Promise((r) => setTimeout(r, 6_000)); // past the maximum staleness (5 s): nothing may be decided now
      const during = await env.client.workflow.start(payTwice, { taskQueue: env.taskQueue, workflowId: uniqueName('during'), args: [20, `${marker}:during`] });
      await new Promise((r) => setTimeout(r, 4_000));
      expect(runsOf(`${marker}:during#1`)).toBe(0); // waiting, not running, not failed
      expect((await during.describe()).status.name).toBe('RUNNING');
      await startMongo();
      expect(await during.result()).toEqual(['charged 20 EUR', 'charged 20 EUR']);
      expect(runsOf(`${marker}:during#1`)).toBe(1);
      expect(runsOf(`${marker}:during#2`)).toBe(1);

      const decisions = await issuedDecisions(env.client, during.workflowId, during.firstExecutionRunId);
      expect(decisions.map((d) => d.decision)).toEqual(['allow', 'allow', 'allow']);
      expect(await waitForRecords(db, decisions[0]!.rootId, decisions.length, 90_000, env.client)).toBe(decisions.length);
      const summary = await verifyLineage(db, loadTrustBundle(env.keys.bundlePath));
      expect(summary.violations).toEqual([]);
      expect(summary.roots).toBe(2);
      expect(summary.records).toBe(beforeDecisions.length + decisions.length);
    });
  } finally {
    await mongo.close();
  }
}, 300_000);

test('an outage longer than the authorization timeout denies (IDENTITY_STATE_STALE), never allows', async () => {
  const marker = uniqueName('long-outage');
  const short = await governedEnv({ mongoUri: uri(), workflowConfig: { authorizationTimeoutMs: 4_000 } });
  try {
    await short.run(async () => {
      await stopMongo();
      await new Promise((r) => setTimeout(r, 6_000));
      const handle = await short.client.workflow.start(payOnce, { taskQueue: short.taskQueue, workflowId: uniqueName('long'), args: [20, marker] });
      const failure = await expectGovernanceDenied(handle);
      expect(failure.details?.[0]).toMatchObject({ code: 'IDENTITY_STATE_STALE', action: 'workflow' });
      expect(failure.message).toContain('denied, never allowed');
      expect(runsOf(marker)).toBe(0);
      // The workflow side of this path (a timed-out authorization whose last failure was stale
      // identity, mapped to IDENTITY_STATE_STALE) replays deterministically.
      await Worker.runReplayHistory(
        { workflowsPath, plugins: [new GovernancePlugin({ workflow: { taskQueue: short.governanceTaskQueue, authorizationTimeoutMs: 4_000 } })] },
        await handle.fetchHistory(),
        handle.workflowId,
      );
    });
  } finally {
    await startMongo();
    await short.close();
  }
}, 300_000);
