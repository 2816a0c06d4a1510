// A governance worker killed (SIGKILL) in the middle of a batch loses and duplicates nothing:
// decisions are durable in the lineage workflow, persistence is idempotent, another worker resumes.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { loadTrustBundle } from '../src/crypto/keys';
import { verifyLineage } from '../src/lineage/verify';
import { governedEnv, uniqueName, fixtures, mongoUri, address, type Env } from './helpers/harness';
import { issuedDecisions, waitForRecords } from './helpers/lineage';
import { payTwice } from './fixtures/workflows';

const bin = join(__dirname, '..', 'bin', 'temporal-governance.js');
let env: Env;
beforeAll(async () => {
  env = await governedEnv({ governance: false });
});
afterAll(async () => env?.close());

function governanceProcess(): ChildProcess {
  return spawn(
    process.execPath,
    [bin, 'worker', 'governance', '--policy', join(fixtures, 'policy.yaml'), '--key', env.keys.keyPath, '--bundle', env.keys.bundlePath, '--task-queue', env.governanceTaskQueue, '--database', env.lineageDatabase],
    { env: { ...process.env, TEMPORAL_ADDRESS: address(), MONGODB_URI: mongoUri() }, stdio: 'ignore' },
  );
}

test('SIGKILL of the governance worker mid-batch: no lost and no duplicated lineage documents', async () => {
  const mongo = new MongoClient(mongoUri());
  const first = governanceProcess();
  let second: ChildProcess | undefined;
  try {
    const db = mongo.db(env.lineageDatabase);
    const handles = await env.run(async () => {
      const started = await Promise.all(
        Array.from({ length: 20 }, (_, i) => env.client.workflow.start(payTwice, { taskQueue: env.taskQueue, workflowId: uniqueName(`crash-${i}`), args: [10, uniqueName('crash')] })),
      );
      // Kill it once lineage is being written, with workflows still in flight.
      for (let i = 0; i < 200 && (await db.collection('lineage').countDocuments({ workflowId: { $in: started.map((h) => h.workflowId) } })) < 5; i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
      first.kill('SIGKILL');
      second = governanceProcess();
      await Promise.all(started.map((h) => h.result()));
      return started;
    }, [await env.appWorker()]);

    const trust = loadTrustBundle(env.keys.bundlePath);
    for (const handle of handles) {
      const decisions = await issuedDecisions(env.client, handle.workflowId, handle.firstExecutionRunId);
      const rootId = decisions[0]!.rootId;
      expect(await waitForRecords(db, rootId, decisions.length, 60_000, env.client)).toBe(decisions.length);
      const ids = (await db.collection('lineage').find({ rootId }, { projection: { _id: 1, seq: 1 } }).sort({ seq: 1 }).toArray());
      expect(ids.map((d) => d._id).sort()).toEqual(decisions.map((d) => d.id).sort());
      expect(ids.map((d) => d.seq)).toEqual(decisions.map((_, i) => i));
      expect((await verifyLineage(db, trust, { rootId })).violations).toEqual([]);
    }
  } finally {
    first.kill('SIGKILL');
    second?.kill('SIGTERM');
    await mongo.close();
  }
}, 300_000);
