// MongoDB side of lineage: idempotent persistence of a root's records and the indexes auditors query.
// Uses only what FerretDB also serves: insertMany, find with $in and sort, updateOne with $set.
import { MongoClient, type Collection, type Db } from 'mongodb';
import type { SignedArtifact, SignedDenial } from '../common/schemas';
import { chainHash, GENESIS_HASH, LINEAGE_COLLECTION, recordFields, type LineageRecord, type LineageSignal, type Outcome } from './schema';

export const DEFAULT_DATABASE = 'temporal_governance';

export async function connectLineage(uri: string, database = DEFAULT_DATABASE): Promise<{ client: MongoClient; db: Db }> {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 5_000, connectTimeoutMS: 5_000 });
  await client.connect();
  return { client, db: client.db(database) };
}

export function lineageCollection(db: Db): Collection<LineageRecord> {
  return db.collection<LineageRecord>(LINEAGE_COLLECTION);
}

/** Each auditor question is one indexed read: by id (_id), ancestry (_id $in ancestors), descendants, a root in order, denials by time, by principal, by workflow. */
export async function ensureLineageIndexes(db: Db): Promise<void> {
  const c = lineageCollection(db);
  await c.createIndex({ rootId: 1, seq: 1 }, { unique: true, name: 'root_seq' });
  await c.createIndex({ ancestors: 1 }, { name: 'ancestors' });
  await c.createIndex({ decision: 1, issuedAt: -1 }, { name: 'decision_time' });
  await c.createIndex({ principal: 1, issuedAt: -1 }, { name: 'principal_time' });
  await c.createIndex({ workflowId: 1, issuedAt: 1 }, { name: 'workflow' });
}

export interface PersistResult {
  readonly inserted: number;
  readonly alreadyPresent: number;
  readonly rejected: string[];
  readonly outcomes: number;
}

/**
 * Persists one batch of a root's lineage signals. Idempotent: records already stored are skipped,
 * sequence numbers continue from the stored head, and an ordered insert leaves a gap-free prefix if
 * it is interrupted, so a retry after any crash neither duplicates nor skips. Single writer per
 * root: only that root's lineage workflow calls this, one batch at a time.
 */
export async function persistLineageBatch(
  db: Db,
  rootId: string,
  batch: readonly LineageSignal[],
  verifySignature: (signed: SignedArtifact | SignedDenial) => boolean,
  now: () => Date = () => new Date(),
): Promise<PersistResult> {
  const c = lineageCollection(db);
  const seen = new Set<string>();
  const decisions: Array<{ kind: 'artifact' | 'denial'; signed: SignedArtifact | SignedDenial }> = [];
  const rejected: string[] = [];
  for (const s of batch) {
    if (s.kind === 'outcome' || seen.has(s.signed.payload.id)) continue;
    seen.add(s.signed.payload.id);
    // Anyone can schedule activities on the governance queue: only signed decisions become records.
    if (!verifySignature(s.signed)) rejected.push(s.signed.payload.id);
    else decisions.push({ kind: s.kind, signed: s.signed });
  }

  const ids = decisions.map((d) => d.signed.payload.id);
  const present = new Set((await c.find({ _id: { $in: ids } }, { projection: { _id: 1 } }).toArray()).map((d) => d._id));
  const fresh = decisions.filter((d) => !present.has(d.signed.payload.id));

  const head = await c.find({ rootId }, { projection: { seq: 1, hash: 1 } }).sort({ seq: -1 }).limit(1).next();
  let seq = head ? head.seq + 1 : 0;
  let prevHash = head ? head.hash : GENESIS_HASH;

  const inBatch = new Map<string, readonly string[]>();
  const freshIds = new Set(fresh.map((d) => d.signed.payload.id));
  const outsideParents = [...new Set(fresh.map((d) => d.signed.payload.parent?.id).filter((id): id is string => !!id && !freshIds.has(id)))];
  const stored = new Map(
    (await c.find({ _id: { $in: outsideParents } }, { projection: { ancestors: 1 } }).toArray()).map((d) => [d._id, d.ancestors] as const),
  );
  const recordedAt = now();
  const docs: LineageRecord[] = fresh.map(({ kind, signed }) => {
    const fields = recordFields(signed, kind);
    const parentAncestors = fields.parentId ? (inBatch.get(fields.parentId) ?? stored.get(fields.parentId) ?? []) : [];
    const ancestors = fields.parentId ? [...parentAncestors, fields.parentId] : [];
    const link = { rootId, seq, prevHash, parentId: fields.parentId, ancestors, signed };
    const hash = chainHash(link);
    inBatch.set(fields._id, ancestors);
    const doc: LineageRecord = { ...fields, rootId, ancestors, depth: ancestors.length, seq, prevHash, hash, recordedAt, outcome: null };
    seq += 1;
    prevHash = hash;
    return doc;
  });
  if (docs.length > 0) await c.insertMany(docs, { ordered: true });

  // Only the latest outcome of each record matters; one bulk write, not one round trip each.
  const latest = new Map<string, Outcome>();
  for (const sig of batch) if (sig.kind === 'outcome') latest.set(sig.id, sig.outcome);
  let outcomes = 0;
  if (latest.size > 0) {
    const r = await c.bulkWrite(
      [...latest].map(([id, outcome]) => ({ updateOne: { filter: { _id: id }, update: { $set: { outcome } } } })),
      { ordered: false },
    );
    outcomes = r.matchedCount;
  }
  return { inserted: docs.length, alreadyPresent: present.size, rejected, outcomes };
}
