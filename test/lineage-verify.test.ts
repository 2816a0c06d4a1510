// Lineage reads and offline verification against the real MongoDB-wire server (FerretDB by default),
// on records signed by the real authorizer and written by the real persistLineageBatch.
import { readFileSync, rmSync } from 'node:fs';
import { payloadHash, verifySignedArtifact } from '../src/artifact/artifact';
import { parseTrustBundle } from '../src/artifact/trust-bundle';
import { nodeEd25519 } from '../src/crypto/node';
import { exportRoot } from '../src/lineage/export';
import { ancestry, denials, descendants, getRecord, LineageDocumentError, outcomesOf, rootRecords } from '../src/lineage/queries';
import { chainHash, GENESIS_HASH, LineageRecordSchema, type LineageRecord } from '../src/lineage/schema';
import { lineageCollection } from '../src/lineage/store';
import { verifyLineage, ViolationCodes, type Violation } from '../src/lineage/verify';
import { MongoClient } from 'mongodb';
import { ensureLineageIndexes } from '../src/lineage/store';
import { buildLineageFixture, DAY, makeKeys, mongoUri, persistLargeRoot, uniqueDatabase, type LineageFixture } from './lineage-fixture';

const T0 = Date.parse('2025-06-01T09:00:00.000Z');

const open: LineageFixture[] = [];
async function fixture(): Promise<LineageFixture> {
  const f = await buildLineageFixture({ base: T0, prefix: 'lineage_verify' });
  open.push(f);
  return f;
}
afterAll(async () => {
  await Promise.all(open.map((f) => f.close()));
});

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

/** The (id, code) pairs of the violations, for exact comparison. */
const pairs = (violations: readonly Violation[]) => violations.map((v) => [v.id, v.code]).sort();

describe('a clean lineage', () => {
  let f: LineageFixture;
  beforeAll(async () => {
    f = await fixture();
  });

  test('every decision has exactly one document, re-sent batches changed nothing', async () => {
    expect(f.results.map((r) => [r.inserted, r.alreadyPresent, r.rejected.length])).toEqual([
      [3, 0, 0],
      [2, 0, 0],
      [0, 3, 0], // the duplicate re-send of the first batch
      [5, 1, 0], // childCharge again, among five new records
      [2, 0, 0],
      [1, 0, 0],
    ]);
    const all = await lineageCollection(f.db).find({}).toArray();
    const ids = [...f.order, f.otherRoot.payload.id, f.otherCharge.payload.id, f.deniedRoot.payload.id];
    expect(all.map((d) => d._id).sort()).toEqual([...ids].sort());
    expect(new Set(ids).size).toBe(13);
    for (const doc of all) expect(LineageRecordSchema.safeParse(doc).success).toBe(true);
  });

  test('verifies with no violation, all roots or one', async () => {
    expect(await verifyLineage(f.db, f.keys.trust)).toEqual({ roots: 3, records: 13, violations: [] });
    expect(await verifyLineage(f.db, f.keys.trust, { rootId: f.root.payload.id })).toEqual({ roots: 1, records: 10, violations: [] });
    expect(await verifyLineage(f.db, f.keys.trust, { rootId: f.deniedRoot.payload.id })).toEqual({ roots: 1, records: 1, violations: [] });
  });

  test('reports progress for every document against the counted total', async () => {
    const seen: Array<[number, number]> = [];
    await verifyLineage(f.db, f.keys.trust, { rootId: f.root.payload.id, onProgress: (done, total) => seen.push([done, total]) });
    expect(seen).toEqual(Array.from({ length: 10 }, (_, i) => [i + 1, 10]));
  });

  test('an unknown root is a violation, not a clean result', async () => {
    const summary = await verifyLineage(f.db, f.keys.trust, { rootId: 'art_nonexistent' });
    expect(summary).toMatchObject({ roots: 0, records: 0 });
    expect(pairs(summary.violations)).toEqual([['art_nonexistent', ViolationCodes.rootEmpty]]);
  });

  test('the stored chain is what the schema contract says: seq from 0, prevHash -> hash, ancestors root first', async () => {
    const records = await collect(rootRecords(f.db, f.root.payload.id));
    expect(records.map((r) => r._id)).toEqual(f.order);
    expect(records.map((r) => r.seq)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    let prev = GENESIS_HASH;
    for (const r of records) {
      expect(r.prevHash).toBe(prev);
      expect(r.hash).toBe(chainHash({ rootId: r.rootId, seq: r.seq, prevHash: r.prevHash, parentId: r.parentId, ancestors: r.ancestors, signed: (r.artifact ?? r.denial)! }));
      prev = r.hash;
    }
    const byId = new Map(records.map((r) => [r._id, r]));
    const root = f.root.payload.id;
    expect(byId.get(f.denial.payload.id)).toMatchObject({
      decision: 'deny',
      denyCode: 'AMOUNT_OVER_LIMIT',
      principal: 'alice',
      ancestors: [root, f.childGrant.payload.id, f.childRun.payload.id],
      depth: 3,
      rules: ['deny-large-charges'],
    });
    // A continue-as-new hop adds no level: the continued run's call lists the chain (the root grant) only.
    expect(byId.get(f.nextCharge.payload.id)).toMatchObject({ action: 'local-activity', activityType: 'chargeFee', ancestors: [root], depth: 1 });
    expect(byId.get(f.nextRun.payload.id)).toMatchObject({ action: 'workflow', ancestors: [root], depth: 1 });
    expect(f.nextRun.payload.chain).toEqual({ id: root, hop: 2 });
    expect((await outcomesOf(f.db, f.charge1.payload.id)).map((o) => [o.status, o.failureType])).toEqual([['started', null], ['completed', null]]);
    expect((await outcomesOf(f.db, f.childCharge.payload.id)).map((o) => [o.status, o.failureType])).toEqual([['failed', 'CardDeclined']]);
  });

  test('records signed by a key retired since still verify: the key is judged at issuedAt, not now', async () => {
    const bundle = JSON.parse(readFileSync(f.keys.bundlePath, 'utf8'));
    const retired = parseTrustBundle({ ...bundle, keys: bundle.keys.map((k: object) => ({ ...k, notAfter: new Date(T0 + DAY).toISOString() })) });
    // Enforcement and auditors judge the key the same way: at issuedAt (retiring does not void what was signed).
    expect(verifySignedArtifact(f.root, retired, Date.now(), nodeEd25519)).toMatchObject({ ok: true });
    expect(await verifyLineage(f.db, retired)).toEqual({ roots: 3, records: 13, violations: [] });

    // Retired before the decisions were issued: every record is refused.
    const early = parseTrustBundle({ ...bundle, keys: bundle.keys.map((k: object) => ({ ...k, notAfter: new Date(T0 - DAY).toISOString() })) });
    const summary = await verifyLineage(f.db, early);
    // The denied root was issued at T0 - 2 days, inside the window; everything else is outside it.
    expect(summary.violations.every((v) => v.code === ViolationCodes.keyNotValid)).toBe(true);
    expect(summary.violations.map((v) => v.id).sort()).toEqual([...f.order, f.otherRoot.payload.id, f.otherCharge.payload.id].sort());
  });

  test('a bundle without the signing key fails every record', async () => {
    const stranger = makeKeys('some-other-key', T0 - 3 * DAY);
    rmSync(stranger.dir, { recursive: true, force: true }); // the bundle is already in memory
    const summary = await verifyLineage(f.db, stranger.trust);
    expect(summary.violations).toHaveLength(13);
    expect(new Set(summary.violations.map((v) => v.code))).toEqual(new Set([ViolationCodes.untrustedKey]));
  });
});

describe('queries', () => {
  let f: LineageFixture;
  beforeAll(async () => {
    f = await fixture();
  });
  const ids = (records: readonly LineageRecord[]) => records.map((r) => r._id);

  test('getRecord parses one document, null when absent', async () => {
    const r = await getRecord(f.db, f.childRun.payload.id);
    expect(r).toMatchObject({ _id: f.childRun.payload.id, action: 'workflow', target: 'ShippingWorkflow', parentId: f.childGrant.payload.id, seq: 3, depth: 2 });
    expect(r!.issuedAt).toBeInstanceOf(Date);
    expect(r!.artifact).toEqual(f.childRun);
    expect(await getRecord(f.db, 'art_nope')).toBeNull();
  });

  test('ancestry: root first, through child workflows and continue-as-new', async () => {
    const root = f.root.payload.id;
    const child = await ancestry(f.db, f.childCharge.payload.id);
    expect(ids(child!.ancestors)).toEqual([root, f.childGrant.payload.id, f.childRun.payload.id]);
    expect(child!.record._id).toBe(f.childCharge.payload.id);
    expect(child!.missing).toEqual([]);
    // The scope path, then the parent a continue-as-new hop is (the hops between are parent links).
    expect(ids((await ancestry(f.db, f.nextCharge.payload.id))!.ancestors)).toEqual([root, f.nextRun.payload.id]);
    expect(ids((await ancestry(f.db, f.nextRun.payload.id))!.ancestors)).toEqual([root, f.continueGrant.payload.id]);
    expect(ids((await ancestry(f.db, f.denial.payload.id))!.ancestors)).toEqual([root, f.childGrant.payload.id, f.childRun.payload.id]);
    expect((await ancestry(f.db, root))!.ancestors).toEqual([]);
    expect(await ancestry(f.db, 'art_nope')).toBeNull();
    // Each signed parent link matches the ancestor's payload hash.
    const chain = [...child!.ancestors, child!.record];
    for (let i = 1; i < chain.length; i++) {
      const signed = chain[i]!.artifact ?? chain[i]!.denial;
      expect(signed!.payload.parent).toEqual({ id: chain[i - 1]!._id, hash: payloadHash(chain[i - 1]!.artifact!.payload) });
    }
  });

  test('ancestry names ancestors whose documents are missing', async () => {
    const c = lineageCollection(f.db);
    const saved = (await c.findOne({ _id: f.childGrant.payload.id }))!;
    await c.deleteOne({ _id: saved._id });
    const result = await ancestry(f.db, f.childCharge.payload.id);
    expect(ids(result!.ancestors)).toEqual([f.root.payload.id, f.childRun.payload.id]);
    expect(result!.missing).toEqual([f.childGrant.payload.id]);
    await c.insertOne(saved); // put back verbatim: the lineage verifies again
    expect((await verifyLineage(f.db, f.keys.trust)).violations).toEqual([]);
  });

  test('descendants: everything below, ordered by root and seq', async () => {
    const all = await descendants(f.db, f.root.payload.id);
    expect(ids(all)).toEqual(f.order.slice(1));
    expect(ids(await descendants(f.db, f.childGrant.payload.id))).toEqual([f.childRun.payload.id, f.childCharge.payload.id, f.denial.payload.id]);
    expect(ids(await descendants(f.db, f.continueGrant.payload.id))).toEqual([f.nextRun.payload.id, f.nextCharge.payload.id]);
    // A continued run's grant is listed by nothing below it (its chain id is): found through parent links.
    expect(ids(await descendants(f.db, f.nextRun.payload.id))).toEqual([f.nextCharge.payload.id]);
    expect(ids(await descendants(f.db, f.otherRoot.payload.id))).toEqual([f.otherCharge.payload.id]);
    expect(await descendants(f.db, f.charge1.payload.id)).toEqual([]);
  });

  test('rootRecords streams one root in seq order', async () => {
    expect(ids(await collect(rootRecords(f.db, f.root.payload.id)))).toEqual(f.order);
    expect(ids(await collect(rootRecords(f.db, f.otherRoot.payload.id)))).toEqual([f.otherRoot.payload.id, f.otherCharge.payload.id]);
    expect(await collect(rootRecords(f.db, 'art_nope'))).toEqual([]);
  });

  test('denials: newest first, by time and by principal, limited', async () => {
    const all = await denials(f.db, { limit: 10 });
    expect(ids(all)).toEqual([f.denial.payload.id, f.deniedRoot.payload.id]);
    expect(all.every((r) => r.decision === 'deny')).toBe(true);
    expect(ids(await denials(f.db, { limit: 1 }))).toEqual([f.denial.payload.id]);
    expect(ids(await denials(f.db, { limit: 10, principal: 'mallory' }))).toEqual([f.deniedRoot.payload.id]);
    expect(ids(await denials(f.db, { limit: 10, principal: 'alice' }))).toEqual([f.denial.payload.id]);
    expect(ids(await denials(f.db, { limit: 10, principal: 'carol' }))).toEqual([]);
    expect(ids(await denials(f.db, { limit: 10, since: new Date(T0 - DAY) }))).toEqual([f.denial.payload.id]);
    expect(ids(await denials(f.db, { limit: 10, since: new Date(T0 + DAY) }))).toEqual([]);
  });

  test('export draws one node per record and one edge per parent link', async () => {
    const records = await collect(rootRecords(f.db, f.root.payload.id));
    const mermaid = (await exportRoot(records, 'mermaid')).split('\n');
    expect(mermaid[0]).toBe('flowchart TD');
    expect(mermaid.filter((l) => /^ {2}n\d+\["/.test(l))).toHaveLength(10);
    expect(mermaid.filter((l) => l.includes(' --> '))).toHaveLength(9);
    expect(mermaid).toContain('  n5["activity chargeShipping<br/>denied: AMOUNT_OVER_LIMIT"]:::deny');
    expect(mermaid).toContain('  n0["workflow OrderWorkflow"]:::allow');
    expect(mermaid).toContain('  n3 --> n5'); // child run grant -> denial
    const dot = await exportRoot(records, 'dot');
    expect(dot.startsWith('digraph lineage {')).toBe(true);
    expect(dot.trimEnd().endsWith('}')).toBe(true);
    expect(dot).toContain(`"${f.childRun.payload.id}" -> "${f.denial.payload.id}";`);
    expect(dot.split('\n').filter((l) => l.includes(' -> '))).toHaveLength(9);
    const json = JSON.parse(await exportRoot(records, 'json'));
    expect(json.map((r: { _id: string }) => r._id)).toEqual(f.order);
    expect(json[5]).toMatchObject({ decision: 'deny', denial: JSON.parse(JSON.stringify(f.denial)) });
  });
});

describe('tampering is detected and names the document', () => {
  test('a changed derived field (rule id) is named', async () => {
    const f = await fixture();
    const id = f.charge1.payload.id;
    await lineageCollection(f.db).updateOne({ _id: id }, { $set: { rules: ['allow-everything'] } });
    const summary = await verifyLineage(f.db, f.keys.trust);
    expect(pairs(summary.violations)).toEqual([[id, ViolationCodes.fieldMismatch]]);
    expect(summary.violations[0]).toMatchObject({ rootId: f.root.payload.id, seq: 1 });
    expect(summary.violations[0]!.message).toContain('rules');
    expect(summary.violations[0]!.message).toContain('allow-everything');
  });

  test('a changed principal on a denial is named', async () => {
    const f = await fixture();
    const id = f.denial.payload.id;
    await lineageCollection(f.db).updateOne({ _id: id }, { $set: { principal: 'bob' } });
    const summary = await verifyLineage(f.db, f.keys.trust, { rootId: f.root.payload.id });
    expect(pairs(summary.violations)).toEqual([[id, ViolationCodes.fieldMismatch]]);
    expect(summary.violations[0]!.message).toBe('principal is "bob" in the document but "alice" in the signed payload');
  });

  test('a changed signed payload breaks its signature and its hash link', async () => {
    const f = await fixture();
    const id = f.charge2.payload.id;
    await lineageCollection(f.db).updateOne({ _id: id }, { $set: { 'artifact.payload.rules': ['allow-everything'], rules: ['allow-everything'] } });
    const summary = await verifyLineage(f.db, f.keys.trust);
    expect(pairs(summary.violations)).toEqual([
      [id, ViolationCodes.badSignature],
      [id, ViolationCodes.hashMismatch],
    ]);
  });

  test('a deleted document is a gap naming the missing seq and its neighbours', async () => {
    const f = await fixture();
    const [, , , , , before, deleted, after] = f.order;
    await lineageCollection(f.db).deleteOne({ _id: deleted! });
    const summary = await verifyLineage(f.db, f.keys.trust);
    expect(summary.records).toBe(12);
    expect(pairs(summary.violations)).toEqual([[after!, ViolationCodes.seqGap]]);
    expect(summary.violations[0]).toMatchObject({ seq: 6, rootId: f.root.payload.id });
    expect(summary.violations[0]!.message).toBe(`seq 6 missing between ${before} (seq 5) and ${after} (seq 7)`);
  });

  test('a deleted grant also orphans its children', async () => {
    const f = await fixture();
    await lineageCollection(f.db).deleteOne({ _id: f.childGrant.payload.id });
    const summary = await verifyLineage(f.db, f.keys.trust);
    expect(pairs(summary.violations)).toEqual(
      [
        [f.childRun.payload.id, ViolationCodes.seqGap],
        [f.childRun.payload.id, ViolationCodes.parentMissing],
      ].sort(),
    );
    expect(summary.violations.find((v) => v.code === ViolationCodes.seqGap)).toMatchObject({ seq: 2 });
  });

  test('a deleted root grant is a gap at seq 0 and orphans its children', async () => {
    const f = await fixture();
    await lineageCollection(f.db).deleteOne({ _id: f.root.payload.id });
    const summary = await verifyLineage(f.db, f.keys.trust, { rootId: f.root.payload.id });
    const gap = summary.violations.find((v) => v.code === ViolationCodes.seqGap);
    expect(gap).toMatchObject({ id: f.charge1.payload.id, seq: 0, message: `seq 0 missing: the first document of root ${f.root.payload.id} is ${f.charge1.payload.id} (seq 1)` });
    const orphans = summary.violations.filter((v) => v.code === ViolationCodes.parentMissing).map((v) => v.id);
    expect(orphans.sort()).toEqual([f.charge1, f.childGrant, f.charge2, f.continueGrant].map((s) => s.payload.id).sort());
  });

  test('two documents with swapped seq are both named', async () => {
    const f = await fixture();
    const c = lineageCollection(f.db);
    const a = f.charge1.payload.id; // seq 1
    const b = f.childCharge.payload.id; // seq 4
    // Through a free seq: the unique (rootId, seq) index forbids two documents on one seq.
    await c.updateOne({ _id: a }, { $set: { seq: 1000 } });
    await c.updateOne({ _id: b }, { $set: { seq: 1 } });
    await c.updateOne({ _id: a }, { $set: { seq: 4 } });
    const summary = await verifyLineage(f.db, f.keys.trust);
    const hashFailures = summary.violations.filter((v) => v.code === ViolationCodes.hashMismatch).map((v) => v.id);
    expect(hashFailures.sort()).toEqual([a, b].sort());
    // Every broken link is reported on a document next to the swap, nothing elsewhere.
    const named = new Set(summary.violations.map((v) => v.id));
    expect([...named].every((id) => [a, b, f.childGrant.payload.id, f.denial.payload.id].includes(id))).toBe(true);
    expect(summary.violations.filter((v) => v.code === ViolationCodes.prevHashMismatch).map((v) => v.id).sort()).toEqual(
      [a, b, f.childGrant.payload.id, f.denial.payload.id].sort(),
    );
  });

  test('changed ancestors and depth are named', async () => {
    const f = await fixture();
    const c = lineageCollection(f.db);
    await c.updateOne({ _id: f.nextCharge.payload.id }, { $set: { ancestors: [f.root.payload.id, f.nextRun.payload.id] } });
    await c.updateOne({ _id: f.otherCharge.payload.id }, { $set: { depth: 7 } });
    const summary = await verifyLineage(f.db, f.keys.trust);
    expect(pairs(summary.violations)).toEqual(
      [
        [f.nextCharge.payload.id, ViolationCodes.hashMismatch],
        [f.nextCharge.payload.id, ViolationCodes.ancestorsMismatch],
        [f.nextCharge.payload.id, ViolationCodes.depthMismatch],
        [f.otherCharge.payload.id, ViolationCodes.depthMismatch],
      ].sort(),
    );
  });

  test('a document that fails the schema is reported by id, not thrown; readers refuse it by id', async () => {
    const f = await fixture();
    const c = lineageCollection(f.db);
    const id = f.nextRun.payload.id;
    await c.updateOne({ _id: id }, { $set: { depth: 'deep' as unknown as number } });
    // A stray document in a root of its own.
    await (c as unknown as import('mongodb').Collection<{ _id: string; rootId: string; seq: number; note: string }>).insertOne({
      _id: 'stray',
      rootId: 'stray-root',
      seq: 0,
      note: 'not a lineage record',
    });
    const summary = await verifyLineage(f.db, f.keys.trust);
    expect(summary.records).toBe(14);
    expect(summary.roots).toBe(4);
    expect(pairs(summary.violations)).toEqual(
      [
        [id, ViolationCodes.schemaInvalid],
        ['stray', ViolationCodes.schemaInvalid],
        // Its child cannot be checked against an unreadable parent.
        [f.nextCharge.payload.id, ViolationCodes.parentInvalid],
      ].sort(),
    );
    expect(summary.violations.find((v) => v.id === id)).toMatchObject({ seq: 8, rootId: f.root.payload.id });
    expect(summary.violations.find((v) => v.id === id)!.message).toContain('depth');

    await expect(getRecord(f.db, id)).rejects.toThrow(LineageDocumentError);
    await expect(getRecord(f.db, id)).rejects.toThrow(`lineage document ${id} is not a valid lineage record`);
    await expect(collect(rootRecords(f.db, f.root.payload.id))).rejects.toThrow(id);
    await expect(descendants(f.db, f.continueGrant.payload.id)).rejects.toThrow(id);
  });

  test('a record under the wrong root is named', async () => {
    const f = await fixture();
    // Moved whole into another root's sequence, hash and all.
    const c = lineageCollection(f.db);
    const id = f.otherCharge.payload.id;
    await c.updateOne({ _id: id }, { $set: { rootId: f.root.payload.id, seq: 10, prevHash: (await getRecord(f.db, f.order[9]!))!.hash } });
    const summary = await verifyLineage(f.db, f.keys.trust);
    expect(pairs(summary.violations)).toEqual(
      [
        [id, ViolationCodes.fieldMismatch],
        [id, ViolationCodes.hashMismatch],
        [id, ViolationCodes.parentOtherRoot],
      ].sort(),
    );
  });
});

describe('a large root streams', () => {
  let client: MongoClient;
  afterAll(async () => client?.close());

  test('1,201 records (more than one cursor batch) verify in one pass; a document deleted in the middle is the only finding', async () => {
    client = await MongoClient.connect(mongoUri(), { serverSelectionTimeoutMS: 10_000 });
    const db = client.db(uniqueDatabase('lineage_large'));
    await ensureLineageIndexes(db);
    const keys = makeKeys('large-key', T0 - DAY);
    const ids = await persistLargeRoot(db, keys, 1_200, T0);
    const rootId = ids[0]!;

    const streamed: number[] = [];
    for await (const r of rootRecords(db, rootId)) streamed.push(r.seq);
    expect(streamed).toEqual(ids.map((_, i) => i));
    // Amounts above 1000 were denied: both kinds are in the chain.
    expect((await denials(db, { limit: 5_000 })).length).toBe(ids.filter((_, i) => i > 0 && i % 1500 > 1000).length);

    let last: [number, number] = [0, 0];
    expect(await verifyLineage(db, keys.trust, { onProgress: (done, total) => (last = [done, total]) })).toEqual({ roots: 1, records: 1_201, violations: [] });
    expect(last).toEqual([1_201, 1_201]);

    await lineageCollection(db).deleteOne({ _id: ids[600]! });
    const summary = await verifyLineage(db, keys.trust, { rootId });
    expect(summary.records).toBe(1_200);
    expect(summary.violations).toEqual([
      { id: ids[601], rootId, seq: 600, code: ViolationCodes.seqGap, message: `seq 600 missing between ${ids[599]} (seq 599) and ${ids[601]} (seq 601)` },
    ]);
    await db.dropDatabase();
    rmSync(keys.dir, { recursive: true, force: true });
  });
});

describe('persistence retried after a worker died mid-batch', () => {
  let f: LineageFixture;
  beforeAll(async () => {
    f = await fixture();
  });
  afterAll(async () => f?.close());

  test('rebuilds exactly the same links, whether or not the retry knows the chain head', async () => {
    const { MongoClient } = await import('mongodb');
    const { persistLineageBatch } = await import('../src/lineage/store');
    const client = await MongoClient.connect(process.env.MONGODB_URI!);
    try {
      const db = client.db(`retry_${Date.now().toString(36)}`);
      const verify = () => true;
      const root = f.root.payload.id;
      const first = await persistLineageBatch(db, root, [{ kind: 'artifact', signed: f.root }], verify, undefined, { head: null });
      const batch = [
        { kind: 'artifact' as const, signed: f.charge1 },
        { kind: 'artifact' as const, signed: f.charge2 },
      ];
      // First attempt: stored, but its worker died before the workflow saw the result.
      await persistLineageBatch(db, root, batch, verify, undefined, { head: first.head });
      const stored = await db.collection('lineage').find({}).sort({ seq: 1 }).toArray();
      // Retry from a workflow run that lost its state, then a plain retry: no conflict, no change.
      await persistLineageBatch(db, root, batch, verify, undefined, { head: null });
      await persistLineageBatch(db, root, batch, verify, undefined, { head: first.head });
      const after = await db.collection('lineage').find({}).sort({ seq: 1 }).toArray();
      expect(after.map((d) => [d._id, d.seq, d.hash])).toEqual(stored.map((d) => [d._id, d.seq, d.hash]));
      expect(after.map((d) => d.seq)).toEqual([0, 1, 2]);
      expect((await verifyLineage(db, f.keys.trust, { rootId: root })).violations).toEqual([]);
    } finally {
      await client.close();
    }
  });
});
