// MongoDB side of lineage: idempotent persistence of a root's records and the indexes auditors query.
// Uses only what FerretDB also serves: insertMany, find with $in and sort, updateOne with $set.
import { MongoClient, type Collection, type Db } from 'mongodb';
import type { SignedArtifact, SignedDenial } from '../common/schemas';
import { chainHash, GENESIS_HASH, LINEAGE_COLLECTION, OUTCOME_COLLECTION, recordFields, rootOf, type LineageRecord, type LineageSignal, type OutcomeRecord } from './schema';

export const DEFAULT_DATABASE = 'temporal_governance';

export async function connectLineage(uri: string, database = DEFAULT_DATABASE): Promise<{ client: MongoClient; db: Db }> {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 5_000, connectTimeoutMS: 5_000 });
  await client.connect();
  return { client, db: client.db(database) };
}

export function lineageCollection(db: Db): Collection<LineageRecord> {
  return db.collection<LineageRecord>(LINEAGE_COLLECTION);
}

export function outcomeCollection(db: Db): Collection<OutcomeRecord> {
  return db.collection<OutcomeRecord>(OUTCOME_COLLECTION);
}

/** Each auditor question is one indexed read: by id (_id), ancestry (_id $in ancestors), descendants, a root in order, denials by time, by principal, by workflow. */
export async function ensureLineageIndexes(db: Db): Promise<void> {
  const c = lineageCollection(db);
  await c.createIndex({ rootId: 1, seq: 1 }, { unique: true, name: 'root_seq' });
  await c.createIndex({ ancestors: 1 }, { name: 'ancestors' });
  await c.createIndex({ decision: 1, issuedAt: -1 }, { name: 'decision_time' });
  await c.createIndex({ principal: 1, issuedAt: -1 }, { name: 'principal_time' });
  await c.createIndex({ workflowId: 1, issuedAt: 1 }, { name: 'workflow' });
  await outcomeCollection(db).createIndex({ recordId: 1, at: 1 }, { name: 'record_time' });
}

export interface ChainHead {
  readonly seq: number;
  readonly hash: string;
}

/**
 * What the lineage workflow knows about its root, so persisting needs no reads: FerretDB's SQLite
 * backend answers every query with a collection scan, so reads per batch would grow with all
 * lineage ever written.
 */
export interface ChainState {
  /** The last stored record of the root; null = unknown (a fresh workflow run): read it once. */
  readonly head: ChainHead | null;
  /** Ancestors of the root's grants (the only records that can be parents). */
  readonly grants: Readonly<Record<string, readonly string[]>>;
  /** Allowed per-call decisions of this root stored by earlier batches that this batch's outcomes name. */
  readonly calls?: readonly string[];
}

export interface PersistResult {
  readonly inserted: number;
  readonly alreadyPresent: number;
  /** Ids of decisions refused as evidence: bad signature, or a root other than this one. Never stored. */
  readonly rejected: string[];
  readonly outcomes: number;
  /** Outcomes refused: they name no allowed per-call decision of this root. */
  readonly droppedOutcomes: number;
  /** Allowed per-call decisions this batch stored (the only ones outcomes may name). */
  readonly calls: string[];
  readonly head: ChainHead | null;
  /** Ancestors of the grants this batch stored, for the next batch's parents. */
  readonly grants: Record<string, string[]>;
}

export class LineageStoreError extends Error {
  override readonly name = 'LineageStoreError';
}

const GRANT_ACTIONS = new Set(['workflow', 'child-workflow', 'continue-as-new']);

/**
 * Persists one batch of a root's lineage signals, continuing the root's hash chain. Idempotent: the
 * documents are a pure function of (chain state, batch), so a retried batch writes the same
 * documents and duplicate-key errors on identical documents are ignored; a conflicting document is
 * an error, never skipped. Single writer per root: only that root's lineage workflow calls this,
 * one batch at a time. Without a chain state (tests, repair tools) it reads the head, skips records
 * already stored and looks parents up.
 */
export async function persistLineageBatch(
  db: Db,
  rootId: string,
  batch: readonly LineageSignal[],
  verifySignature: (signed: SignedArtifact | SignedDenial) => boolean,
  now: () => Date = () => new Date(),
  chain?: ChainState,
): Promise<PersistResult> {
  const c = lineageCollection(db);
  const seen = new Set<string>();
  const decisions: Array<{ kind: 'artifact' | 'denial'; signed: SignedArtifact | SignedDenial }> = [];
  const rejected: string[] = [];
  for (const s of batch) {
    if (s.kind === 'outcome' || seen.has(s.signed.payload.id)) continue;
    // Anyone can signal a lineage workflow: only decisions governance signed for this very root
    // become records. Refusing one never holds back the others, nor a genuine record with its id.
    if (rootOf(s.signed) !== rootId || !verifySignature(s.signed)) {
      rejected.push(s.signed.payload.id);
      continue;
    }
    seen.add(s.signed.payload.id);
    decisions.push({ kind: s.kind, signed: s.signed });
  }

  const present = chain
    ? new Set<string>()
    : new Set((await c.find({ _id: { $in: decisions.map((d) => d.signed.payload.id) } }, { projection: { _id: 1 } }).toArray()).map((d) => d._id));
  const fresh = decisions.filter((d) => !present.has(d.signed.payload.id));

  // A fresh workflow run reads the head once. It must not count this very batch: a previous attempt
  // of the same call may have stored some of it before its worker died, and the retry has to
  // rebuild exactly the same links (same seq, same hash) for them.
  const head =
    chain?.head ??
    (await c
      .find({ rootId, _id: { $nin: fresh.map((d) => d.signed.payload.id) } }, { projection: { seq: 1, hash: 1 } })
      .sort({ seq: -1 })
      .limit(1)
      .next());
  let seq = head ? head.seq + 1 : 0;
  let prevHash = head ? head.hash : GENESIS_HASH;

  const known = new Map<string, readonly string[]>(Object.entries(chain?.grants ?? {}));
  const freshIds = new Set(fresh.map((d) => d.signed.payload.id));
  const missingParents = [
    ...new Set(fresh.map((d) => d.signed.payload.parent?.id).filter((id): id is string => !!id && !freshIds.has(id) && !known.has(id))),
  ];
  if (missingParents.length > 0) {
    for (const d of await c.find({ _id: { $in: missingParents } }, { projection: { ancestors: 1 } }).toArray()) known.set(d._id, d.ancestors);
  }
  const recordedAt = now();
  const grants: Record<string, string[]> = {};
  const docs: LineageRecord[] = fresh.map(({ kind, signed }) => {
    const fields = recordFields(signed, kind);
    // Parents are handed off before their children, so a parent is missing only if it was refused
    // or lost. The record is kept anyway, with the ancestry its own signed payload names (verify
    // reports the missing parent): one absent record must never hold back the ones after it.
    const parentAncestors = fields.parentId ? (known.get(fields.parentId) ?? signedAncestors(signed, fields.parentId)) : [];
    const ancestors = fields.parentId ? [...parentAncestors, fields.parentId] : [];
    const hash = chainHash({ rootId, seq, prevHash, parentId: fields.parentId, ancestors, signed });
    known.set(fields._id, ancestors);
    if (GRANT_ACTIONS.has(fields.action) && kind === 'artifact') grants[fields._id] = ancestors;
    const doc: LineageRecord = { ...fields, rootId, ancestors, depth: ancestors.length, seq, prevHash, hash, recordedAt };
    seq += 1;
    prevHash = hash;
    return doc;
  });
  if (docs.length > 0) await insertIdempotently(c, docs);

  // Outcomes are appended, never updated: an update by id is a collection scan on FerretDB's SQLite
  // backend, and every attempt's report is worth keeping.
  // An outcome counts only for a call this root allowed: one of this batch, one the workflow knows
  // it stored, or (rarely, for a call older than the workflow remembers) one found in the store.
  const PER_CALL = new Set(['activity', 'local-activity']);
  const calls = decisions.filter((d) => d.kind === 'artifact' && PER_CALL.has(d.signed.payload.action)).map((d) => d.signed.payload.id);
  const allowed = new Set([...calls, ...(chain?.calls ?? [])]);
  const unknown = [...new Set(batch.flatMap((sig) => (sig.kind === 'outcome' && !allowed.has(sig.id) ? [sig.id] : [])))];
  if (unknown.length > 0) {
    const found = await c.find({ _id: { $in: unknown }, rootId, decision: 'allow', action: { $in: [...PER_CALL] as LineageRecord['action'][] } }, { projection: { _id: 1 } }).toArray();
    for (const d of found) allowed.add(d._id);
  }
  let droppedOutcomes = 0;
  const outcomeDocs: OutcomeRecord[] = batch.flatMap((sig) => {
    if (sig.kind !== 'outcome') return [];
    if (!allowed.has(sig.id)) {
      droppedOutcomes += 1;
      return [];
    }
    return [{ _id: `${sig.id}:${sig.outcome.attempt}:${sig.outcome.status}`, recordId: sig.id, rootId, ...sig.outcome }];
  });
  if (outcomeDocs.length > 0) await insertIgnoringDuplicates(outcomeCollection(db), outcomeDocs);
  const outcomes = outcomeDocs.length;
  const last = docs[docs.length - 1];
  return {
    inserted: docs.length,
    alreadyPresent: present.size,
    rejected,
    outcomes,
    droppedOutcomes,
    calls,
    head: last ? { seq: last.seq, hash: last.hash } : head ? { seq: head.seq, hash: head.hash } : null,
    grants,
  };
}

/** The ancestors above `parentId` that a signed decision itself names (artifacts list them; denials only their parent). */
function signedAncestors(signed: SignedArtifact | SignedDenial, parentId: string): string[] {
  const named = 'ancestors' in signed.payload ? signed.payload.ancestors : [];
  return named[named.length - 1] === parentId ? named.slice(0, -1) : [];
}

async function insertIgnoringDuplicates(c: Collection<OutcomeRecord>, docs: OutcomeRecord[]): Promise<void> {
  try {
    await c.insertMany(docs, { ordered: false });
  } catch (err) {
    const writeErrors = (err as { writeErrors?: Array<{ code?: number }> | { code?: number } }).writeErrors;
    const list = Array.isArray(writeErrors) ? writeErrors : writeErrors ? [writeErrors] : [];
    if (list.length === 0 || list.some((e) => e.code !== 11000)) throw err;
  }
}

/** Inserts documents; a duplicate is fine only if the stored document is the same link of the chain. */
async function insertIdempotently(c: Collection<LineageRecord>, docs: LineageRecord[]): Promise<void> {
  try {
    await c.insertMany(docs, { ordered: false });
  } catch (err) {
    const writeErrors = (err as { writeErrors?: Array<{ code?: number; index: number }> | { code?: number; index: number } }).writeErrors;
    const list = Array.isArray(writeErrors) ? writeErrors : writeErrors ? [writeErrors] : [];
    if (list.length === 0 || list.some((e) => e.code !== 11000)) throw err;
    const expected = list.map((e) => docs[e.index]!);
    const stored = new Map((await c.find({ _id: { $in: expected.map((d) => d._id) } }, { projection: { seq: 1, hash: 1 } }).toArray()).map((d) => [d._id, d]));
    for (const doc of expected) {
      const s = stored.get(doc._id);
      if (!s || s.seq !== doc.seq || s.hash !== doc.hash) {
        throw new LineageStoreError(`record ${doc._id} conflicts with a stored document (seq ${doc.seq}); refusing to write a forked chain`);
      }
    }
  }
}
