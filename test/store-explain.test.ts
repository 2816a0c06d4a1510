// Every MongoDB query governance makes per decision and per lineage record is an index read on the
// store in use: the real functions run against the real server with command monitoring on, and each
// filter they sent is explained there. On FerretDB that means `filterPushdown: true` and an SQLite
// plan that SEARCHes the `_id_` index (never SCAN); on MongoDB a winning plan without COLLSCAN.
import { MongoClient, type CommandStartedEvent, type Db, type Document } from 'mongodb';
import { clearOutbox, ensureLineageIndexes, LINEAGE_HEADS_COLLECTION, persistLineageBatch, readChainHead, writeToOutbox } from '../src/lineage/store';
import { claimArtifact, claimMessageProof, claimRunGrant, claimStartProof, findStartProofClaim, loadIdentitySnapshot } from '../src/identity/store';
import { bindScheduleProof, claimScheduledTime } from '../src/identity/schedule-store';
import type { LineageSignal } from '../src/lineage/schema';
import type { SignedArtifact, SignedDenial } from '../src/common/schemas';
import { signingInput } from '../src/artifact/artifact';
import { fromBase64Url } from '../src/common/base64url';
import { nodeEd25519 } from '../src/crypto/node';
import { buildLineageFixture, mongoUri, persistLargeRoot, uniqueDatabase, type LineageFixture } from './lineage-fixture';

const T0 = Date.parse('2025-07-01T09:00:00.000Z');
let f: LineageFixture;
let monitored: MongoClient;
let db: Db;
const sent: CommandStartedEvent[] = [];

beforeAll(async () => {
  f = await buildLineageFixture({ base: T0, prefix: 'store_explain_src' });
  monitored = await MongoClient.connect(mongoUri(), { monitorCommands: true, serverSelectionTimeoutMS: 10_000 });
  monitored.on('commandStarted', (e) => sent.push(e));
  db = monitored.db(uniqueDatabase('store_explain'));
  await ensureLineageIndexes(db);
  // Some bulk, so a scan would have something to scan (and SQLite's planner a table worth indexing).
  await persistLargeRoot(db, f.keys, 120, T0 + 86_400_000, { carryHead: true });
});
afterAll(async () => {
  await db?.dropDatabase();
  await monitored?.close();
  await f?.close();
});

const a = (signed: SignedArtifact): LineageSignal => ({ kind: 'artifact', signed });
const verify = (signed: SignedArtifact | SignedDenial) => {
  const key = f.keys.trust.keys.get(signed.payload.kid);
  return !!key && nodeEd25519.verify(fromBase64Url(signed.signature), signingInput(signed.payload), key);
};

/** The filters (collection, filter, sort) of the find, delete and update commands sent while `run` ran. */
async function queriesOf(run: () => Promise<unknown>): Promise<Array<{ command: string; collection: string; filter: Document; sort?: Document }>> {
  sent.length = 0;
  await run();
  return sent.flatMap((e) => {
    const c = e.command;
    if (e.commandName === 'find') return [{ command: 'find', collection: c.find as string, filter: (c.filter ?? {}) as Document, sort: c.sort as Document | undefined }];
    if (e.commandName === 'delete') return (c.deletes as Array<{ q: Document }>).map((d) => ({ command: 'delete', collection: c.delete as string, filter: d.q }));
    if (e.commandName === 'update') return (c.updates as Array<{ q: Document }>).map((u) => ({ command: 'update', collection: c.update as string, filter: u.q }));
    if (['aggregate', 'count', 'distinct', 'findAndModify'].includes(e.commandName)) return [{ command: e.commandName, collection: String(c[e.commandName]), filter: { unexplained: true } }];
    return []; // insert (index-maintained, no filter), createIndexes, hello, endSessions, ...
  });
}

/**
 * Explains a filter as a find. FerretDB's delete and update handlers run exactly this query to find
 * their documents (handler/msg_delete.go, msg_update.go: the same backend Query with the same
 * filter), and then delete or update by _id; its `explain` serves find, count and aggregate only.
 */
async function explained(q: { collection: string; filter: Document; sort?: Document }): Promise<{ indexed: boolean; plan: string }> {
  const cursor = db.collection(q.collection).find(q.filter);
  if (q.sort) cursor.sort(q.sort);
  const out = (await cursor.explain()) as Document;
  if ('filterPushdown' in out) {
    // FerretDB: pushed down, and SQLite searches an index rather than scanning the table.
    const plan = ((out.queryPlanner as { Plan?: string[] }).Plan ?? []).join(' | ');
    return { indexed: out.filterPushdown === true && (!q.sort || out.sortPushdown === true) && /SEARCH \S+ USING INDEX/.test(plan) && !/\bSCAN\b/.test(plan), plan };
  }
  const plan = JSON.stringify((out.queryPlanner as Document).winningPlan);
  return { indexed: !plan.includes('COLLSCAN') && !plan.includes('"SORT"'), plan };
}

async function expectAllIndexed(run: () => Promise<unknown>, atLeast: number): Promise<void> {
  const queries = await queriesOf(run);
  expect(queries.length).toBeGreaterThanOrEqual(atLeast);
  const report = await Promise.all(queries.map(async (q) => ({ ...q, ...(q.filter.unexplained ? { indexed: false, plan: 'not a point query' } : await explained(q)) })));
  expect(report.filter((r) => !r.indexed)).toEqual([]);
}

test('per decision: outbox write, artifact, start-proof, grant, message, run-grant and schedule claims (first use and re-use) are index reads', async () => {
  const claim = { proofId: `sha256:${'1'.repeat(64)}`, firstExecutionRunId: 'run-1', workflowId: 'wf-1' };
  await expectAllIndexed(async () => {
    for (let i = 0; i < 2; i++) {
      await writeToOutbox(db, f.root.payload.id, a(f.root) as LineageSignal & { kind: 'artifact' });
      await claimArtifact(db, { _id: 'art-1', scheduledAt: T0, workflowId: 'wf-1', runId: 'run-1', activityId: '1' });
      await claimStartProof(db, claim);
      await findStartProofClaim(db, claim.proofId);
      await claimStartProof(db, claim, undefined, 'grant_claims');
      await claimMessageProof(db, { _id: `sha256:${'2'.repeat(64)}`, workflowId: 'wf-1', runId: 'run-1', messageId: 'm-1' });
      await claimRunGrant(db, { namespace: 'default', runId: 'run-1', workflowId: 'wf-1' }, { grantId: 'g-1', scheduling: 's-1' });
      await bindScheduleProof(db, { _id: `sha256:${'3'.repeat(64)}`, namespace: 'default', scheduleId: 'sch-1', scheduleCreatedAt: '2025-07-01T09:00:00Z' });
      await claimScheduledTime(db, { namespace: 'default', scheduleId: 'sch-1', scheduledAt: '2025-07-01T10:00:00Z', workflowId: 'wf-1', firstExecutionRunId: 'run-1' });
    }
    await clearOutbox(db, [f.root.payload.id, 'not-there']);
  }, 9);
});

test('per batch: a fresh lineage run reads its chain head by two point reads; persisting, outcome lookups, parents and outbox clearing are index reads', async () => {
  const rootId = f.root.payload.id;
  // First batch of a root: no head yet. Second: a fresh run (head null) of a root with records,
  // denials whose parents are stored, outcomes naming calls the run does not remember.
  await expectAllIndexed(() => persistLineageBatch(db, rootId, [a(f.root), a(f.charge1), a(f.childGrant)], verify, undefined, { head: null }), 2);
  expect(await db.collection(LINEAGE_HEADS_COLLECTION).findOne({ _id: rootId as never })).toMatchObject({ seq: 2, recordId: f.childGrant.payload.id });
  const outcome = (id: string): LineageSignal => ({ kind: 'outcome', id, outcome: { status: 'completed', failureType: null, attempt: 1, at: T0 } });
  await expectAllIndexed(
    () => persistLineageBatch(db, rootId, [a(f.childRun), a(f.childCharge), { kind: 'denial', signed: f.denial }, a(f.charge2), outcome(f.charge1.payload.id), outcome('unknown-call')], verify, undefined, { head: null }),
    4,
  );
  expect(await readChainHead(db, rootId)).toMatchObject({ seq: 6 });
});

test('the identity refresh reads whole identity collections (their size is the identity state, not the store), and nothing else', async () => {
  const queries = await queriesOf(() => loadIdentitySnapshot(db));
  expect(queries.map((q) => [q.collection, q.filter]).sort()).toEqual([
    ['api_keys', {}],
    ['principals', {}],
    ['revocations', {}],
  ]);
});
