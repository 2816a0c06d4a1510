// Persistence refuses what is not a signed decision of its root and never lets one record hold back
// the others (real MongoDB-wire server, real signed decisions from the lineage fixture).
import { lineageCollection, ensureLineageIndexes, LINEAGE_HEADS_COLLECTION, outboxCollection, persistLineageBatch, readChainHead, writeToOutbox } from '../src/lineage/store';
import type { LineageSignal } from '../src/lineage/schema';
import type { SignedArtifact } from '../src/common/schemas';
import { verifyLineage } from '../src/lineage/verify';
import { signingInput } from '../src/artifact/artifact';
import { fromBase64Url } from '../src/common/base64url';
import { nodeEd25519 } from '../src/crypto/node';
import { claimArtifact, pruneArtifactClaims } from '../src/identity/store';
import { MongoClient } from 'mongodb';
import { RecentDecisions } from '../src/lineage/recent-decisions';
import { buildLineageFixture, mongoUri, persistLargeRoot, uniqueDatabase, type LineageFixture } from './lineage-fixture';

const T0 = Date.parse('2025-06-01T09:00:00.000Z');
let f: LineageFixture;
beforeAll(async () => {
  f = await buildLineageFixture({ base: T0, prefix: 'lineage_persist_src' });
});
afterAll(async () => f?.close());

const a = (signed: SignedArtifact) => ({ kind: 'artifact' as const, signed });
const verifier = () => (signed: SignedArtifact | { payload: { kid: string }; signature: string }) => {
  const key = f.keys.trust.keys.get(signed.payload.kid);
  return !!key && nodeEd25519.verify(fromBase64Url(signed.signature), signingInput((signed as SignedArtifact).payload), key);
};

async function freshDb() {
  const db = f.client.db(uniqueDatabase('lineage_persist'));
  await ensureLineageIndexes(db);
  return db;
}

test('a forged copy of a genuine id and a record of another root are refused; the genuine record is stored', async () => {
  const db = await freshDb();
  const rootId = f.root.payload.id;
  // Same id as charge1, amount rewritten: the signature no longer covers it.
  const forged: SignedArtifact = { ...f.charge1, payload: { ...f.charge1.payload, argsDigest: `sha256:${'0'.repeat(64)}` } };
  const result = await persistLineageBatch(db, rootId, [a(f.root), a(forged), a(f.otherCharge), a(f.charge1)], verifier());
  expect(result.rejected.sort()).toEqual([f.charge1.payload.id, f.otherCharge.payload.id].sort());
  expect(result.inserted).toBe(2);
  const stored = await lineageCollection(db).find({}).toArray();
  expect(stored.map((d) => d._id).sort()).toEqual([rootId, f.charge1.payload.id].sort());
  // What is stored is the genuine decision, not the forgery that came first.
  expect(stored.find((d) => d._id === f.charge1.payload.id)!.artifact).toEqual(f.charge1);
  expect(await verifyLineage(db, f.keys.trust)).toMatchObject({ records: 2, violations: [] });
  await db.dropDatabase();
});

test('a record whose parent never arrived is stored with its signed ancestry, and the ones after it too', async () => {
  const db = await freshDb();
  const rootId = f.root.payload.id;
  // childGrant is missing: childRun's parent. Persisting must not throw and must keep going.
  const result = await persistLineageBatch(db, rootId, [a(f.root), a(f.childRun), a(f.childCharge), a(f.charge2)], verifier());
  expect(result).toMatchObject({ inserted: 4, rejected: [] });
  const childRun = await lineageCollection(db).findOne({ _id: f.childRun.payload.id });
  expect(childRun).toMatchObject({ parentId: f.childGrant.payload.id, ancestors: [rootId, f.childGrant.payload.id], depth: 2 });
  const childCharge = await lineageCollection(db).findOne({ _id: f.childCharge.payload.id });
  expect(childCharge).toMatchObject({ ancestors: [rootId, f.childGrant.payload.id, f.childRun.payload.id], depth: 3 });
  // The missing parent is what an auditor is told about.
  const report = await verifyLineage(db, f.keys.trust);
  expect(report.violations.some((v) => v.id === f.childRun.payload.id)).toBe(true);
  await db.dropDatabase();
});

test('artifact claims older than an artifact lifetime are pruned; a retry of a pruned scheduling claims again, a new scheduling is left to expiry', async () => {
  const db = await freshDb();
  const old = new Date(T0);
  const claim = (id: string) => ({ _id: id, scheduledAt: T0, workflowId: 'wf', runId: 'run', activityId: '1' });
  await claimArtifact(db, claim('art_old'), old);
  await claimArtifact(db, claim('art_new'), new Date(T0 + 10 * 60_000));
  expect(await pruneArtifactClaims(db, new Date(T0 + 6 * 60_000))).toBe(1);
  expect(await db.collection('artifact_claims').find({}).map((d) => d._id).toArray()).toEqual(['art_new']);
  expect(await claimArtifact(db, claim('art_new'))).toBe('same');
  expect(await claimArtifact(db, { ...claim('art_new'), scheduledAt: T0 + 1 })).toBe('replayed');
  expect(await claimArtifact(db, claim('art_old'))).toBe('claimed');
  await db.dropDatabase();
});


test('a stale chain head (a taken seq) is read again, and a record replayed into a run that forgot it is skipped: the chain stays gap-free and clean', async () => {
  const db = await freshDb();
  const rootId = f.root.payload.id;
  const first = await persistLineageBatch(db, rootId, [a(f.root), a(f.charge1)], verifier(), undefined, { head: null });
  const rootDoc = await lineageCollection(db).findOne({ _id: rootId });
  // A head one record behind: charge2 would take seq 1, which charge1 holds.
  const stale = await persistLineageBatch(db, rootId, [a(f.charge2)], verifier(), undefined, { head: { seq: rootDoc!.seq, hash: rootDoc!.hash } });
  expect(stale.head).toEqual({ seq: 2, hash: expect.stringMatching(/^sha256:/) });
  // The root grant again, into a lineage run that knows nothing (head: null): already stored, skipped.
  const replay = await persistLineageBatch(db, rootId, [a(f.root), a(f.childGrant)], verifier(), undefined, { head: null });
  expect(replay).toMatchObject({ alreadyPresent: 1 });
  const stored = await lineageCollection(db).find({ rootId }).sort({ seq: 1 }).toArray();
  expect(stored.map((d) => [d._id, d.seq])).toEqual([
    [rootId, 0],
    [f.charge1.payload.id, 1],
    [f.charge2.payload.id, 2],
    [f.childGrant.payload.id, 3],
  ]);
  expect(first.head?.seq).toBe(1);
  expect(await verifyLineage(db, f.keys.trust)).toMatchObject({ records: 4, violations: [] });
  await db.dropDatabase();
});

test('a replayed record ahead of more than a hundred new ones (one persist batch) leaves the chain gap-free and clean on the store in use', async () => {
  const source = await freshDb();
  const ids = await persistLargeRoot(source, f.keys, 160, T0 + 86_400_000);
  const signals = (await lineageCollection(source).find({}).sort({ seq: 1 }).toArray()).map((d) => (d.artifact ? a(d.artifact) : ({ kind: 'denial', signed: d.denial! } as LineageSignal)));
  expect(signals).toHaveLength(ids.length);
  const db = await freshDb();
  const rootId = ids[0]!;
  const first = await persistLineageBatch(db, rootId, signals.slice(0, 3), verifier(), undefined, { head: null });
  // The root grant replayed first, then 150+ records never stored: one batch, as the workflow sends it.
  const result = await persistLineageBatch(db, rootId, [signals[0]!, ...signals.slice(3)], verifier(), undefined, { head: first.head });
  expect(result.alreadyPresent).toBe(1);
  expect(await verifyLineage(db, f.keys.trust)).toMatchObject({ records: ids.length, violations: [] });
  await Promise.all([source.dropDatabase(), db.dropDatabase()]);
});

test('signals overtaken by what they name: an outcome and a denial that arrive first take their decisions from the outbox; the chain holds each once, parents first, and verifies', async () => {
  const db = await freshDb();
  const rootId = f.root.payload.id;
  // Governance writes every decision to the outbox before returning it and signals afterwards, so
  // the enforcement point's "started" report (and a child's denial) can reach lineage first.
  const decision = (signed: SignedArtifact) => ({ kind: 'artifact' as const, signed });
  const ahead = [f.root, f.childGrant, f.childRun, f.childCharge];
  for (const [i, signed] of ahead.entries()) await writeToOutbox(db, rootId, decision(signed), new Date(T0 + i));
  const outcome: LineageSignal = { kind: 'outcome', id: f.childCharge.payload.id, outcome: { status: 'started', failureType: null, attempt: 1, at: T0 + 10 } };
  const denial: LineageSignal = { kind: 'denial', signed: f.denial };
  expect(f.denial.payload.parent?.id).toBe(f.childRun.payload.id);
  const first = await persistLineageBatch(db, rootId, [outcome, denial], verifier(), undefined, { head: null, calls: [] });
  // The outcome names childCharge, the denial childRun: both come from the outbox with their
  // unchained ancestry (childGrant, the root), parents first.
  expect(first).toMatchObject({ inserted: 5, outcomes: 1, droppedOutcomes: 0, rejected: [] });
  const chain = await lineageCollection(db).find({ rootId }).sort({ seq: 1 }).toArray();
  expect(chain.map((d) => d._id)).toEqual([...ahead.map((x) => x.payload.id), f.denial.payload.id]);
  expect(await outboxCollection(db).countDocuments({})).toBe(0);
  // The decisions' own signals, late: already chained, skipped.
  const late = await persistLineageBatch(db, rootId, ahead.map(decision), verifier(), undefined, { head: first.head, calls: first.calls });
  expect(late).toMatchObject({ inserted: 0, alreadyPresent: 4 });
  expect(await lineageCollection(db).countDocuments({ rootId })).toBe(5);
  expect(await verifyLineage(db, f.keys.trust)).toMatchObject({ records: 5, violations: [] });
  await db.dropDatabase();
});

test('a fresh lineage run reads its head from the head document; a stale, missing or wrong head document is re-derived from the records, never forked', async () => {
  const db = await freshDb();
  const rootId = f.root.payload.id;
  const heads = db.collection<{ _id: string; recordId: string; seq: number; hash: string }>(LINEAGE_HEADS_COLLECTION);
  await persistLineageBatch(db, rootId, [a(f.root), a(f.charge1)], verifier(), undefined, { head: null });
  const charge1 = await lineageCollection(db).findOne({ _id: f.charge1.payload.id });
  expect(await heads.findOne({ _id: rootId })).toMatchObject({ recordId: f.charge1.payload.id, seq: 1, hash: charge1!.hash });
  expect(await readChainHead(db, rootId)).toEqual({ seq: 1, hash: charge1!.hash });

  // Stale: the head update of a stored batch was lost (head still at the root grant).
  const rootDoc = await lineageCollection(db).findOne({ _id: rootId });
  await heads.updateOne({ _id: rootId }, { $set: { recordId: rootId, seq: 0, hash: rootDoc!.hash } });
  expect(await persistLineageBatch(db, rootId, [a(f.charge2)], verifier(), undefined, { head: null })).toMatchObject({ inserted: 1, head: { seq: 2 } });
  // Missing: a store written before head documents existed.
  await heads.deleteOne({ _id: rootId });
  expect(await readChainHead(db, rootId)).toBeNull();
  expect(await persistLineageBatch(db, rootId, [a(f.childGrant)], verifier(), undefined, { head: null })).toMatchObject({ inserted: 1, head: { seq: 3 } });
  // Wrong: it names a record that is not this root's at that seq (a hash that is not the record's).
  await heads.updateOne({ _id: rootId }, { $set: { seq: 9, hash: `sha256:${'f'.repeat(64)}` } });
  expect(await readChainHead(db, rootId)).toBeNull();
  expect(await persistLineageBatch(db, rootId, [a(f.childRun)], verifier(), undefined, { head: null })).toMatchObject({ inserted: 1, head: { seq: 4 } });

  const stored = await lineageCollection(db).find({ rootId }).sort({ seq: 1 }).toArray();
  expect(stored.map((d) => d.seq)).toEqual([0, 1, 2, 3, 4]);
  expect(await heads.findOne({ _id: rootId })).toMatchObject({ recordId: f.childRun.payload.id, seq: 4 });
  expect(await verifyLineage(db, f.keys.trust)).toMatchObject({ records: 5, violations: [] });
  await db.dropDatabase();
});

test('what the outbox holds is parsed and verified like any signal: a forged entry named by an outcome is not chained', async () => {
  const db = await freshDb();
  const rootId = f.root.payload.id;
  const forged: SignedArtifact = { ...f.charge1, payload: { ...f.charge1.payload, argsDigest: `sha256:${'0'.repeat(64)}` } };
  await outboxCollection(db).insertOne({ _id: forged.payload.id, rootId, signal: a(forged), at: new Date(T0) });
  await outboxCollection(db).insertOne({ _id: 'junk', rootId, signal: { kind: 'artifact', signed: { nonsense: true } } as never, at: new Date(T0) });
  const outcomes: LineageSignal[] = [forged.payload.id, 'junk'].map((id) => ({ kind: 'outcome', id, outcome: { status: 'completed', failureType: null, attempt: 1, at: T0 + 5 } }));
  const result = await persistLineageBatch(db, rootId, [a(f.root), ...outcomes], verifier(), undefined, { head: null, calls: [] });
  expect(result).toMatchObject({ inserted: 1, outcomes: 0, droppedOutcomes: 2 });
  expect(await lineageCollection(db).countDocuments({ _id: { $in: [forged.payload.id, 'junk'] } })).toBe(0);
  await db.dropDatabase();
});

test('a persist attempt whose signal is aborted starts no further MongoDB call', async () => {
  const db = await freshDb();
  const abandoned = new AbortController();
  abandoned.abort(new Error('attempt abandoned'));
  await expect(persistLineageBatch(db, f.root.payload.id, [a(f.root)], verifier(), undefined, { head: null }, abandoned.signal)).rejects.toThrow('attempt abandoned');
  expect(await lineageCollection(db).countDocuments({})).toBe(0);
  await db.dropDatabase();
});

test('a batch whose records arrived children first (signals from several processes) is chained parents first and verifies', async () => {
  const db = await freshDb();
  const rootId = f.root.payload.id;
  const reversed = [f.childCharge, f.childRun, f.childGrant, f.root].map(a);
  expect(await persistLineageBatch(db, rootId, reversed, verifier(), undefined, { head: null, calls: [] })).toMatchObject({ inserted: 4, rejected: [] });
  const chain = await lineageCollection(db).find({ rootId }).sort({ seq: 1 }).toArray();
  expect(chain.map((d) => d._id)).toEqual([f.root, f.childGrant, f.childRun, f.childCharge].map((x) => x.payload.id));
  expect(await verifyLineage(db, f.keys.trust)).toMatchObject({ records: 4, violations: [] });
  await db.dropDatabase();
});

test('references: a batch of decision ids is chained from the outbox in the order it names them, parents first; ids chained already count as present; ids the outbox does not hold for this root, or holds forged, are refused', async () => {
  const db = await freshDb();
  const rootId = f.root.payload.id;
  const ref = (id: string): LineageSignal => ({ kind: 'ref', id });
  const decisions = [f.root, f.charge1, f.charge2, f.childGrant, f.childRun];
  for (const [i, signed] of decisions.entries()) await writeToOutbox(db, rootId, a(signed), new Date(T0 + i));
  // Another root's decision in the outbox, and a forged entry under a fresh id claiming this root.
  await writeToOutbox(db, f.otherRoot.payload.id, a(f.otherCharge), new Date(T0));
  const forged: SignedArtifact = { ...f.charge1, payload: { ...f.charge1.payload, id: `art_${'f'.repeat(32)}` } };
  await outboxCollection(db).insertOne({ _id: forged.payload.id, rootId, signal: a(forged), at: new Date(T0) });

  // charge2 named before charge1, childRun before its parent childGrant (which is not named at all).
  const names = [f.root, f.charge2, f.charge1, f.childRun].map((d) => d.payload.id);
  const first = await persistLineageBatch(db, rootId, [...names.map(ref), ref(f.charge2.payload.id), ref(f.otherCharge.payload.id), ref(forged.payload.id), ref('art_nothing')], verifier(), undefined, { head: null, calls: [] });
  expect(first.rejected.sort()).toEqual([f.otherCharge.payload.id, forged.payload.id, 'art_nothing'].sort());
  expect(first.inserted).toBe(5);
  const chain = await lineageCollection(db).find({ rootId }).sort({ seq: 1 }).toArray();
  // The unnamed parent the outbox lookup brought along goes ahead (after its own parent).
  expect(chain.map((d) => d._id)).toEqual([f.root, f.childGrant, f.charge2, f.charge1, f.childRun].map((d) => d.payload.id));
  // What is chained is the outbox's signed bytes.
  expect(chain[3]!.artifact).toEqual(f.charge1);
  expect(await outboxCollection(db).countDocuments({ rootId })).toBe(1); // only the forged entry is left
  // Re-delivered references, after chaining (their outbox entries are gone): present, not refused.
  const again = await persistLineageBatch(db, rootId, names.map(ref), verifier(), undefined, { head: first.head, calls: first.calls });
  expect(again).toMatchObject({ inserted: 0, alreadyPresent: 4, rejected: [] });
  expect(await verifyLineage(db, f.keys.trust)).toMatchObject({ records: 5, violations: [] });
  expect(await lineageCollection(db).countDocuments({ _id: { $in: [forged.payload.id, f.otherCharge.payload.id] } })).toBe(0);
  await db.dropDatabase();
});

test('decisions this process signed are chained without reading the outbox or verifying again; a forged outbox entry under their id changes nothing; chained ids and their outcomes need no lookup; another process (no memory) reads and verifies the outbox as before', async () => {
  const name = uniqueDatabase('lineage_persist_recent');
  const commands: string[] = [];
  const monitored = new MongoClient(mongoUri(), { monitorCommands: true });
  monitored.on('commandStarted', (e) => {
    const command = e.command as { find?: unknown; filter?: { _id?: unknown } };
    if (e.commandName === 'find') commands.push(`find ${String(command.find)} ${String(command.filter?._id)}`);
  });
  const db = monitored.db(name);
  await ensureLineageIndexes(db);
  try {
    const rootId = f.root.payload.id;
    const ref = (id: string): LineageSignal => ({ kind: 'ref', id });
    const recent = new RecentDecisions();
    for (const signed of [f.root, f.charge1, f.charge2]) {
      await writeToOutbox(db, rootId, a(signed), new Date(T0));
      recent.wrote(rootId, a(signed));
    }
    // Another root's decision this process signed: named under this root, it is refused all the same.
    await writeToOutbox(db, f.otherRoot.payload.id, a(f.otherCharge), new Date(T0));
    recent.wrote(f.otherRoot.payload.id, a(f.otherCharge));
    // The outbox copy of charge2 is rewritten by someone with store access: the memory of what was signed wins.
    const tampered: SignedArtifact = { ...f.charge2, payload: { ...f.charge2.payload, argsDigest: `sha256:${'0'.repeat(64)}` } };
    await outboxCollection(db).updateOne({ _id: f.charge2.payload.id }, { $set: { signal: a(tampered) } });
    let verifications = 0;
    const counting = (signed: SignedArtifact | { payload: { kid: string }; signature: string }) => {
      verifications += 1;
      return verifier()(signed);
    };

    commands.length = 0;
    const first = await persistLineageBatch(db, rootId, [f.root, f.charge1, f.charge2, f.otherCharge].map((d) => ref(d.payload.id)), counting, undefined, { head: null, calls: [] }, undefined, recent);
    expect(first).toMatchObject({ inserted: 3, rejected: [f.otherCharge.payload.id] });
    expect(verifications).toBe(0);
    // No outbox read for this process's own decisions: only the reference it cannot vouch for is looked up.
    expect(commands.filter((c) => c.startsWith('find lineage_outbox'))).toEqual([`find lineage_outbox ${f.otherCharge.payload.id}`]);
    const chain = await lineageCollection(db).find({ rootId }).sort({ seq: 1 }).toArray();
    expect(chain.map((d) => d._id)).toEqual([f.root, f.charge1, f.charge2].map((d) => d.payload.id));
    expect(chain[2]!.artifact).toEqual(f.charge2);
    expect(recent.size.unchained).toBe(1); // the other root's decision waits for its own root

    // Re-delivered references and outcomes of calls chained by an earlier batch (the workflow forgot them): no read at all.
    commands.length = 0;
    const outcome = (id: string): LineageSignal => ({ kind: 'outcome', id, outcome: { status: 'completed', failureType: null, attempt: 1, at: T0 + 5 } });
    const again = await persistLineageBatch(db, rootId, [ref(f.root.payload.id), ref(f.charge1.payload.id), outcome(f.charge1.payload.id), outcome(f.root.payload.id)], counting, undefined, { head: first.head, calls: [] }, undefined, recent);
    expect(again).toMatchObject({ inserted: 0, alreadyPresent: 2, rejected: [], outcomes: 1, droppedOutcomes: 1 });
    expect(commands).toEqual([]);
    expect(verifications).toBe(0);

    // A retried authorization on another governance process wrote charge1's entry again after it was chained here:
    // the re-delivered reference is present (no read), and its entry leaves the outbox.
    await writeToOutbox(db, rootId, a(f.charge1), new Date(T0));
    const rewritten = await persistLineageBatch(db, rootId, [ref(f.charge1.payload.id)], counting, undefined, { head: again.head, calls: [] }, undefined, recent);
    expect(rewritten).toMatchObject({ inserted: 0, alreadyPresent: 1, rejected: [] });
    expect(await outboxCollection(db).countDocuments({ _id: f.charge1.payload.id })).toBe(0);

    // Another process knows nothing: it reads the outbox and verifies, and refuses the tampered copy.
    const other = monitored.db(`${name}_other`);
    await ensureLineageIndexes(other);
    await writeToOutbox(other, rootId, a(f.root), new Date(T0));
    await outboxCollection(other).insertOne({ _id: f.charge2.payload.id, rootId, signal: a(tampered), at: new Date(T0) });
    commands.length = 0;
    const elsewhere = await persistLineageBatch(other, rootId, [ref(f.root.payload.id), ref(f.charge2.payload.id)], counting, undefined, { head: null, calls: [] }, undefined, new RecentDecisions());
    expect(elsewhere).toMatchObject({ inserted: 1, rejected: [f.charge2.payload.id] });
    expect(commands.filter((c) => c.startsWith('find lineage_outbox')).sort()).toEqual([f.root, f.charge2].map((d) => `find lineage_outbox ${d.payload.id}`).sort());
    expect(verifications).toBe(2);
    await other.dropDatabase();
  } finally {
    await db.dropDatabase();
    await monitored.close();
  }
});
