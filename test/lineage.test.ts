// Lineage on the real stack: every issued artifact and every denial lands in MongoDB exactly once,
// with its ancestry, in a gap-free hash chain per root.
import type { Db, MongoClient } from 'mongodb';
import { connectLineage, lineageCollection } from '../src/lineage/store';
import { LineageRecordSchema } from '../src/lineage/schema';
import { outcomesOf } from '../src/lineage/queries';
import { governedEnv, uniqueName, mongoUri, type Env } from './helpers/harness';
import { historyEvents, issuedDecisions, waitForRecords, type IssuedDecision } from './helpers/lineage';
import { nestedTree, payOnce, payThenContinue, manyCharges } from './fixtures/workflows';
import { runsOf } from './fixtures/activities';

let env: Env;
let mongo: MongoClient;
let db: Db;
beforeAll(async () => {
  env = await governedEnv();
  ({ client: mongo, db } = await connectLineage(mongoUri(), env.lineageDatabase));
});
afterAll(async () => {
  await mongo?.close();
  await env?.close();
});

async function recordsOf(rootId: string) {
  return (await lineageCollection(db).find({ rootId }).sort({ seq: 1 }).toArray()).map((d) => LineageRecordSchema.parse(d));
}

function expectChain(records: Array<{ seq: number; prevHash: string; hash: string }>) {
  expect(records.map((r) => r.seq)).toEqual(records.map((_, i) => i));
  records.forEach((r, i) => {
    if (i > 0) expect(r.prevHash).toBe(records[i - 1]!.hash);
  });
}

test('nested children, continue-as-new and a denial: every decision has exactly one document, with ancestry', async () => {
  const marker = uniqueName('tree');
  const ids = { tree: uniqueName('tree'), can: uniqueName('can'), denied: uniqueName('denied') };
  const decisions: Record<string, IssuedDecision[]> = {};
  await env.run(async () => {
    const handles = {
      tree: await env.client.workflow.start(nestedTree, { taskQueue: env.taskQueue, workflowId: ids.tree, args: [2, marker] }),
      can: await env.client.workflow.start(payThenContinue, { taskQueue: env.taskQueue, workflowId: ids.can, args: [2, marker] }),
      denied: await env.client.workflow.start(payOnce, { taskQueue: env.taskQueue, workflowId: ids.denied, args: [50_000, marker] }),
    };
    for (const [k, h] of Object.entries(handles)) {
      await h.result().catch(() => undefined);
      decisions[k] = await issuedDecisions(env.client, h.workflowId, h.firstExecutionRunId);
    }
    // Persistence is batched: wait while the governance worker still runs the lineage workflows.
    for (const list of Object.values(decisions)) await waitForRecords(db, list[0]!.rootId, list.length, 60_000, env.client);
    await new Promise((r) => setTimeout(r, 1_000)); // and give duplicates, if any, a chance to appear
  });

  for (const [name, list] of Object.entries(decisions)) {
    const rootId = list[0]!.rootId;
    expect(new Set(list.map((d) => d.rootId))).toEqual(new Set([rootId])); // one root per tree, CAN included
    const records = await recordsOf(rootId);
    expect({ name, ids: records.map((r) => r._id).sort() }).toEqual({ name, ids: list.map((d) => d.id).sort() });
    expectChain(records);
  }

  // nestedTree(2): root grant, 3 charges, 2 child-workflow grants, 2 child run grants.
  const tree = await recordsOf(decisions.tree![0]!.rootId);
  expect(tree.filter((r) => r.action === 'workflow')).toHaveLength(3);
  expect(tree.filter((r) => r.action === 'child-workflow')).toHaveLength(2);
  const leafCharge = tree.find((r) => r.action === 'activity' && r.depth === 5)!;
  expect(leafCharge).toBeDefined();
  const byId = new Map(tree.map((r) => [r._id, r]));
  expect(leafCharge.ancestors.map((a) => byId.get(a)!.action)).toEqual(['workflow', 'child-workflow', 'workflow', 'child-workflow', 'workflow']);
  expect(leafCharge.ancestors[0]).toBe(tree[0]!._id);
  // descendants of the first child-workflow grant: its run grant, its charge, the grandchild's grant, run grant and charge
  const firstChild = tree.find((r) => r.action === 'child-workflow' && r.depth === 1)!;
  expect(await lineageCollection(db).countDocuments({ ancestors: firstChild._id })).toBe(5);
  // outcomes reported by the enforcement point (sent without holding the call up: they may trail the records)
  for (const charge of tree.filter((r) => r.action === 'activity')) {
    const deadline = Date.now() + 30_000;
    let statuses = (await outcomesOf(db, charge._id)).map((o) => o.status);
    while (statuses.length < 2 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      statuses = (await outcomesOf(db, charge._id)).map((o) => o.status);
    }
    // Both reports carry the reporting worker's millisecond clock; a fast body reports both in one.
    expect(statuses.sort()).toEqual(['completed', 'started']);
  }

  // continue-as-new stays under the same root: 3 run grants, 2 continue-as-new grants, 3 charges
  const can = await recordsOf(decisions.can![0]!.rootId);
  expect(can.map((r) => r.action).sort()).toEqual(['activity', 'activity', 'activity', 'continue-as-new', 'continue-as-new', 'workflow', 'workflow', 'workflow']);

  // the denial is a document too, signed, under its run's root
  const denied = await recordsOf(decisions.denied![0]!.rootId);
  expect(denied.map((r) => [r.action, r.decision, r.denyCode])).toEqual([
    ['workflow', 'allow', null],
    ['activity', 'deny', 'AMOUNT_OVER_LIMIT'],
  ]);
  expect(denied[1]!.denial?.payload.code).toBe('AMOUNT_OVER_LIMIT');
  expect(runsOf(`${marker}:depth0`)).toBe(1);
});

test('5,000 authorizations under one root: one document each, gap-free, across lineage continue-as-new', async () => {
  const workflowId = uniqueName('many');
  const total = Number(process.env.LINEAGE_LOAD_TOTAL ?? 5_000);
  const perRun = Math.min(1_000, total);
  // every charge, one run grant per run, one continue-as-new grant between runs
  const runs = Math.ceil(total / perRun);
  const expected = total + runs + (runs - 1);
  const rootId = await env.run(async () => {
    const handle = await env.client.workflow.start(manyCharges, { taskQueue: env.taskQueue, workflowId, args: [total, perRun, 50, uniqueName('many')] });
    const started = Date.now();
    await handle.result();
    if (process.env.LINEAGE_LOAD_TOTAL) console.log(`workflow done after ${Date.now() - started} ms`);
    // In pages: the first run's history is ~4 MiB, the client's message limit.
    expect((await historyEvents(env.client, workflowId, handle.firstExecutionRunId)).length).toBeGreaterThan(0);
    const first = await issuedDecisions(env.client, workflowId, handle.firstExecutionRunId);
    const root = first[0]!.rootId;
    const t0 = Date.now();
    const got = await waitForRecords(db, root, expected, Number(process.env.LINEAGE_WAIT_MS ?? 240_000), env.client);
    if (process.env.LINEAGE_LOAD_TOTAL) console.log(`records ${got} after ${Date.now() - t0} ms of waiting`);
    return root;
  });
  const c = lineageCollection(db);
  expect(await c.countDocuments({ rootId })).toBe(expected);
  expect(await c.countDocuments({ rootId, action: 'activity' })).toBe(total);
  const seqs = (await c.find({ rootId }, { projection: { seq: 1 } }).sort({ seq: 1 }).toArray()).map((d) => d.seq);
  expect(seqs[0]).toBe(0);
  expect(seqs[seqs.length - 1]).toBe(expected - 1);
  expect(new Set(seqs).size).toBe(expected);
  // The lineage workflow continued-as-new at least once (2,000 signals per run).
  let lineageRuns = 0;
  for await (const _ of env.client.workflow.list({ query: `WorkflowId = "temporal-governance-lineage-${rootId}"` })) lineageRuns += 1;
  expect(lineageRuns).toBeGreaterThan(1);
}, 600_000);
