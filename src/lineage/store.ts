// MongoDB side of lineage: idempotent persistence of a root's records and the indexes auditors query.
// Uses only what FerretDB also serves: insertMany, find, updateOne with $set, bulk deletes.
//
// Cost per record: on the embedded store (FerretDB v1 on SQLite) only a filter that is exactly
// `{ _id: <string> }` reaches SQLite (with our patch, FERRETDB_PATCHES in src/stack/tools.ts, as an index search);
// any other filter, and every sort, makes FerretDB decode and test every document of the
// collection. So everything per decision or per batch here is a point read, insert, update or
// delete by _id; what filters on anything else runs off the hot path, on collections whose size
// does not grow with the store (docs/architecture.md, "The store"; test/store-explain.test.ts).
import { MongoClient, type Collection, type Db } from 'mongodb';
import { ancestorsBelow } from '../artifact/ancestry';
import type { SignedArtifact, SignedDenial } from '../common/schemas';
import { AttributeNames, governanceInstruments } from '../observability/metrics';
import { groupedInserts } from './grouped-insert';
import type { RecentDecisions } from './recent-decisions';
import { chainHash, DEAD_LETTER_COLLECTION, GENESIS_HASH, LINEAGE_COLLECTION, LineageSignalSchema, OUTBOX_COLLECTION, OUTCOME_COLLECTION, recordFields, rootOf, type LineageRecord, type LineageSignal, type OutcomeRecord } from './schema';

export const DEFAULT_DATABASE = 'temporal_governance';

/** Per-root chain heads (`_id` = root id), written by persistLineageBatch after each batch: the head is a point read. */
export const LINEAGE_HEADS_COLLECTION = 'lineage_heads';

/**
 * Server-side deadline of every read (`maxTimeMS`: FerretDB and MongoDB stop the query). Writes have
 * no server-side deadline on FerretDB (it accepts and ignores maxTimeMS on insert, update and
 * delete); they are point writes by _id, and the client's socket timeout bounds them client-side.
 */
export const READ_DEADLINE_MS = 4_000;
const READ = { maxTimeMS: READ_DEADLINE_MS } as const;

/** Client deadlines: how long connecting, choosing a server, waiting for a pooled connection and waiting for an answer may take. */
export interface MongoDeadlines {
  readonly serverSelectionTimeoutMS: number;
  readonly connectTimeoutMS: number;
  readonly socketTimeoutMS: number;
  readonly waitQueueTimeoutMS?: number;
}

/**
 * The hot path's client (identity refresh, claims: mongoIdentitySource): every deadline below the
 * authorization activity's 10 s start-to-close, so a stuck server fails the attempt (its retry may
 * reach a healthy one) instead of holding the slot past the attempt's timeout. Its pool is its own
 * (lineage writes use another client), and waiting for a pooled connection is bounded too.
 */
export const HOT_PATH_DEADLINES: MongoDeadlines = { serverSelectionTimeoutMS: 3_000, connectTimeoutMS: 3_000, socketTimeoutMS: 6_000, waitQueueTimeoutMS: 3_000 };
/** The persist activity's client: below its 30 s start-to-close, room for the recovery scan (deriveChainHead). */
export const LINEAGE_WRITE_DEADLINES: MongoDeadlines = { serverSelectionTimeoutMS: 5_000, connectTimeoutMS: 5_000, socketTimeoutMS: 15_000, waitQueueTimeoutMS: 5_000 };
/** Auditors, the CLI and the console (off the hot path; a verify may scan). */
export const AUDIT_DEADLINES: MongoDeadlines = { serverSelectionTimeoutMS: 5_000, connectTimeoutMS: 5_000, socketTimeoutMS: 20_000 };

/** Issue-to-storage time of the documents a batch stored (`governance.lineage.lag`). */
function observeLineageLag(docs: readonly LineageRecord[], recordedAt: Date): void {
  if (docs.length === 0) return;
  const { lineageLag } = governanceInstruments();
  for (const doc of docs) lineageLag.record(Math.max(0, recordedAt.getTime() - doc.issuedAt.getTime()) / 1000, { [AttributeNames.outcome]: doc.decision });
}

export async function connectLineage(uri: string, database = DEFAULT_DATABASE, deadlines: MongoDeadlines = AUDIT_DEADLINES): Promise<{ client: MongoClient; db: Db }> {
  // Every call has a deadline: a stuck server fails the attempt (and frees its slot) instead of
  // holding it past the activity's own timeout.
  const client = new MongoClient(uri, { ...deadlines });
  await client.connect();
  return { client, db: client.db(database) };
}

export function lineageCollection(db: Db): Collection<LineageRecord> {
  return db.collection<LineageRecord>(LINEAGE_COLLECTION);
}

export function outcomeCollection(db: Db): Collection<OutcomeRecord> {
  return db.collection<OutcomeRecord>(OUTCOME_COLLECTION);
}

/** Each auditor question is one indexed read: by id (_id), ancestry (_id $in ancestors), descendants, a root in order, denials by time, by principal, by workflow; the explorer's searches and a node's children. */
export async function ensureLineageIndexes(db: Db): Promise<void> {
  const c = lineageCollection(db);
  await c.createIndex({ rootId: 1, seq: 1 }, { unique: true, name: 'root_seq' });
  await c.createIndex({ ancestors: 1 }, { name: 'ancestors' });
  await c.createIndex({ decision: 1, issuedAt: -1 }, { name: 'decision_time' });
  await c.createIndex({ principal: 1, issuedAt: -1 }, { name: 'principal_time' });
  await c.createIndex({ workflowId: 1, issuedAt: 1 }, { name: 'workflow' });
  // The explorer's search (searchLineage): one index per filter, each ending in the keyset sort
  // (issuedAt desc, _id asc), so a page is an index range read on MongoDB, never a skip or an
  // in-memory sort. Its tree reads a node's children in seq order (childrenOf).
  await c.createIndex({ issuedAt: -1, _id: 1 }, { name: 'search_time' });
  await c.createIndex({ principal: 1, issuedAt: -1, _id: 1 }, { name: 'search_principal' });
  await c.createIndex({ workflowId: 1, issuedAt: -1, _id: 1 }, { name: 'search_workflow' });
  await c.createIndex({ runId: 1, issuedAt: -1, _id: 1 }, { name: 'search_run' });
  await c.createIndex({ target: 1, issuedAt: -1, _id: 1 }, { name: 'search_target' });
  await c.createIndex({ action: 1, issuedAt: -1, _id: 1 }, { name: 'search_action' });
  await c.createIndex({ decision: 1, issuedAt: -1, _id: 1 }, { name: 'search_decision' });
  await c.createIndex({ denyCode: 1, issuedAt: -1, _id: 1 }, { name: 'search_deny_code' });
  await c.createIndex({ depth: 1, issuedAt: -1, _id: 1 }, { name: 'search_depth' });
  await c.createIndex({ parentId: 1, seq: 1 }, { name: 'parent_seq' });
  await outcomeCollection(db).createIndex({ recordId: 1, at: 1 }, { name: 'record_time' });
  await outboxCollection(db).createIndex({ at: 1 }, { name: 'outbox_time' });
  await db.collection('artifact_claims').createIndex({ at: 1 }, { name: 'claim_time' });
  await db.collection('start_proofs').createIndex({ at: 1 }, { name: 'claim_time' });
}

export interface ChainHead {
  readonly seq: number;
  readonly hash: string;
}

/** A root's last stored record, as persistLineageBatch last wrote it (a hint, checked before use). */
interface HeadDocument {
  readonly _id: string;
  readonly recordId: string;
  readonly seq: number;
  readonly hash: string;
  readonly at: Date;
}

function headCollection(db: Db): Collection<HeadDocument> {
  return db.collection<HeadDocument>(LINEAGE_HEADS_COLLECTION);
}

/**
 * The root's chain head in two point reads: its head document, then the record it names, which
 * must be this root's at that seq with that hash. A head document that is missing, or names a
 * record that is not there, is treated as no head (genesis): if the root has records, the first
 * insert then collides on (rootId, seq) and persistLineageBatch re-derives the head from the
 * records (deriveChainHead). A stale head (behind the chain: a batch stored, its head update lost)
 * collides the same way. The unique (rootId, seq) index is what keeps the chain from forking; the
 * head document only saves the scan.
 */
export async function readChainHead(db: Db, rootId: string, signal?: AbortSignal): Promise<ChainHead | null> {
  const hint = await headCollection(db).findOne({ _id: rootId }, { ...READ, signal });
  if (!hint) return null;
  const record = await lineageCollection(db).findOne({ _id: hint.recordId }, { ...READ, signal, projection: { rootId: 1, seq: 1, hash: 1 } });
  if (!record || record.rootId !== rootId || record.seq !== hint.seq || record.hash !== hint.hash) return null;
  return { seq: record.seq, hash: record.hash };
}

/**
 * The head from the records themselves: a scan on FerretDB (filter on rootId, sort on seq), so it
 * runs only to recover, after a head document proved stale or missing, never on the hot path.
 */
async function deriveChainHead(db: Db, rootId: string, signal?: AbortSignal): Promise<ChainHead | null> {
  return lineageCollection(db).find({ rootId }, { maxTimeMS: DERIVE_DEADLINE_MS, signal, projection: { seq: 1, hash: 1 } }).sort({ seq: -1 }).limit(1).next();
}
/** A recovery scan may take longer than a point read, still inside the persist client's socket timeout. */
const DERIVE_DEADLINE_MS = 12_000;

/**
 * What the lineage workflow knows about its root, so persisting needs no reads: FerretDB's SQLite
 * backend answers every query with a collection scan, so reads per batch would grow with all
 * lineage ever written.
 */
export interface ChainState {
  /** The last stored record of the root; null = unknown (a fresh workflow run): read it once. */
  readonly head: ChainHead | null;
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
}

export class LineageStoreError extends Error {
  override readonly name = 'LineageStoreError';
}


/**
 * Persists one batch of a root's lineage signals, continuing the root's hash chain. Idempotent: the
 * documents are a pure function of (chain head, batch), so a retried batch writes the same
 * documents; a decision already stored elsewhere in the chain (a re-sent or replayed signal) is
 * skipped, and a stale head is read again, so no input can fork or wedge the chain. Single writer
 * per root: only that root's lineage workflow calls this, one batch at a time. Without a chain
 * state (tests, repair tools) it reads the head and skips records already stored.
 */
export async function persistLineageBatch(
  db: Db,
  rootId: string,
  batch: readonly LineageSignal[],
  verifySignature: (signed: SignedArtifact | SignedDenial) => boolean,
  now: () => Date = () => new Date(),
  chain?: ChainState,
  /** Aborted when the attempt is abandoned: no call starts after it, reads in flight are cancelled. */
  signal?: AbortSignal,
  /** Decisions this process signed (taken without the outbox read) and chained (not looked up again). */
  recent?: RecentDecisions,
): Promise<PersistResult> {
  const c = lineageCollection(db);
  const step = () => signal?.throwIfAborted();
  const seen = new Set<string>();
  const decisions: StoredDecision[] = [];
  const rejected: string[] = [];
  // A reference names a decision governance wrote to the outbox before returning it: its bytes are
  // read from there (verified again), never from the signal. One that is not there was chained
  // already (a re-delivery) or names no decision of this root (refused, counted).
  const refs = [...new Set(batch.flatMap((s) => (s.kind === 'ref' ? [s.id] : [])))];
  const referenced = new Map<string, StoredDecision>();
  if (refs.length > 0) {
    step();
    for (const d of await decisionsFromOutbox(db, rootId, refs, new Set(), verifySignature, signal, recent)) referenced.set(d.signed.payload.id, d);
  }
  const unresolved: string[] = [];
  for (const s of batch) {
    if (s.kind === 'outcome') continue;
    if (s.kind === 'ref') {
      const d = referenced.get(s.id);
      if (!d) unresolved.push(s.id);
      else if (!seen.has(s.id)) {
        seen.add(s.id);
        decisions.push(d);
      }
      continue;
    }
    if (seen.has(s.signed.payload.id)) continue;
    // Anyone can signal a lineage workflow: only decisions governance signed for this very root
    // become records. Refusing one never holds back the others, nor a genuine record with its id.
    if (rootOf(s.signed) !== rootId || !verifySignature(s.signed)) {
      rejected.push(s.signed.payload.id);
      continue;
    }
    seen.add(s.signed.payload.id);
    decisions.push({ kind: s.kind, signed: s.signed });
  }
  // Unchained parents the outbox lookup brought along go first (parentsFirst places them).
  for (const d of referenced.values()) {
    if (seen.has(d.signed.payload.id)) continue;
    seen.add(d.signed.payload.id);
    decisions.unshift(d);
  }
  const unresolvedIds = [...new Set(unresolved)].filter((id) => !seen.has(id));
  // A re-delivered reference this process chained is known to be present without a read. Its
  // outbox entry is cleared below all the same: a retried authorization on another process may
  // have written it again after this one chained (and cleared) the first.
  const chainedBefore = unresolvedIds.filter((id) => recent?.isChained(rootId, id));
  let alreadyChained = chainedBefore.length;
  const missing = unresolvedIds.filter((id) => !chainedBefore.includes(id));
  if (missing.length > 0) {
    step();
    const chained = new Set((await pointReads(c, missing, { rootId: 1 }, signal)).filter((d) => d.rootId === rootId).map((d) => d._id));
    alreadyChained += chained.size;
    rejected.push(...missing.filter((id) => !chained.has(id)));
  }

  // Decisions are signalled after they are returned, so a signal can reach the lineage workflow
  // ahead of the decision it names (an outcome its call, a decision its parent). Every decision is
  // in the outbox before it is returned: what the batch names and does not carry is taken from
  // there, parents first. (A parent already chained is simply not in the outbox any more.)
  const storedCalls = new Set(chain?.calls ?? []);
  const named = [
    ...new Set(
      [...batch.flatMap((s) => (s.kind === 'outcome' ? [s.id] : [])), ...decisions.flatMap((d) => (d.signed.payload.parent ? [d.signed.payload.parent.id] : []))].filter(
        (id) => !seen.has(id) && !storedCalls.has(id),
      ),
    ),
  ];
  if (named.length > 0) {
    step();
    decisions.unshift(...(await decisionsFromOutbox(db, rootId, named, seen, verifySignature, signal, recent)));
  }
  // Signals from several processes can arrive in any order: parents first, whatever came first.
  decisions.splice(0, decisions.length, ...parentsFirst(decisions));

  const present = chain ? new Set<string>() : new Set((await pointReads(c, decisions.map((d) => d.signed.payload.id), { _id: 1 }, signal)).map((d) => d._id));
  let fresh = decisions.filter((d) => !present.has(d.signed.payload.id));
  let alreadyPresent = present.size + alreadyChained;

  // A fresh workflow run reads the head once (never carried from outside: anyone can start a
  // lineage workflow with any input): a point read of its head document. That head may be this
  // very batch's last record (a previous attempt stored it all): its records then collide by id
  // under other links and count as already present, which is what they are.
  step();
  let head: ChainHead | null = chain?.head ?? (await readChainHead(db, rootId, signal));

  // Ancestry: an artifact names its own (signed); a denial's is what an artifact in its place would
  // sign (src/artifact/ancestry.ts): its parent's, plus the parent unless that is a continue-as-new hop.
  const known = new Map<string, readonly string[]>();
  for (const d of decisions) if (d.kind === 'artifact') known.set(d.signed.payload.id, ancestorsBelow((d.signed as SignedArtifact).payload));
  const missingParents = [
    ...new Set(decisions.map((d) => (d.kind === 'denial' ? d.signed.payload.parent?.id : undefined)).filter((id): id is string => !!id && !known.has(id))),
  ];
  if (missingParents.length > 0) {
    for (const d of await pointReads(c, missingParents, { ancestors: 1, action: 1, 'artifact.payload.chain': 1 }, signal)) {
      const chain = d.artifact?.payload.chain;
      known.set(d._id, chain ? ancestorsBelow({ id: d._id, action: d.action, chain, ancestors: d.ancestors }) : [...d.ancestors, d._id]);
    }
  }
  const ancestorsOf = (kind: 'artifact' | 'denial', signed: SignedArtifact | SignedDenial, parentId: string | null): string[] => {
    if (!parentId) return [];
    if (kind === 'artifact') return [...(signed as SignedArtifact).payload.ancestors];
    // A denial whose parent was refused or lost keeps its parent link alone (verify reports it).
    return [...(known.get(parentId) ?? [parentId])];
  };

  const recordedAt = now();
  const link = (from: ChainHead | null, items: typeof fresh): LineageRecord[] => {
    let seq = from ? from.seq + 1 : 0;
    let prevHash = from ? from.hash : GENESIS_HASH;
    return items.map(({ kind, signed }) => {
      const fields = recordFields(signed, kind);
      const ancestors = ancestorsOf(kind, signed, fields.parentId);
      const hash = chainHash({ rootId, seq, prevHash, parentId: fields.parentId, ancestors, signed });
      const doc: LineageRecord = { ...fields, rootId, ancestors, depth: ancestors.length, seq, prevHash, hash, recordedAt };
      seq += 1;
      prevHash = hash;
      return doc;
    });
  };

  // Ordered inserts keep the chain gap-free whatever happens. A duplicate id is a decision already
  // stored: this batch's own earlier attempt (same link: carry on after it) or a replayed or
  // re-sent one (another link: skip it). A taken seq means the head was stale: read it again.
  // Either way the rest of the batch is linked again and goes through; nothing can wedge a root.
  const docs: LineageRecord[] = [];
  for (let rounds = 0; fresh.length > 0; rounds++) {
    if (rounds > decisions.length + 3) throw new LineageStoreError(`root ${rootId}: could not link ${fresh.length} records after ${rounds} attempts`);
    step();
    const linked = link(head, fresh);
    const failed = await insertOrdered(c, linked, step);
    if (failed === null) {
      docs.push(...linked);
      head = { seq: linked[linked.length - 1]!.seq, hash: linked[linked.length - 1]!.hash };
      break;
    }
    docs.push(...linked.slice(0, failed.index));
    if (failed.index > 0) head = { seq: linked[failed.index - 1]!.seq, hash: linked[failed.index - 1]!.hash };
    const doc = linked[failed.index]!;
    const stored = await c.findOne({ _id: doc._id }, { ...READ, signal, projection: { seq: 1, hash: 1 } });
    if (stored) {
      if (stored.seq === doc.seq && stored.hash === doc.hash) {
        docs.push(doc);
        head = { seq: doc.seq, hash: doc.hash };
      } else {
        alreadyPresent += 1;
      }
      fresh = fresh.slice(failed.index + 1);
    } else {
      // The seq is taken: the head (carried, or read from a head document) is behind the chain.
      step();
      head = await deriveChainHead(db, rootId, signal);
      fresh = fresh.slice(failed.index);
    }
  }
  // After the records, never before: a head document is never ahead of the chain. A lost update
  // leaves it behind, which the next fresh run detects (above) and repairs here.
  const last = docs[docs.length - 1];
  if (last) {
    step();
    await headCollection(db).updateOne({ _id: rootId }, { $set: { recordId: last._id, seq: last.seq, hash: last.hash, at: recordedAt } }, { upsert: true });
  }

  // Chained (now or before): their write-ahead entries are done.
  step();
  await clearOutbox(db, [...decisions.map((d) => d.signed.payload.id), ...chainedBefore]);
  recent?.markChained(
    rootId,
    decisions.map((d) => ({ id: d.signed.payload.id, call: isCall(d) })),
  );
  // A metrics SDK that throws must not fail a persist whose writes are done: its retries would
  // re-insert nothing, but this root's later batches would wait behind it.
  try {
    observeLineageLag(docs, recordedAt);
  } catch {
    // metrics are best effort
  }

  // Outcomes are appended, never updated: an update by id is a collection scan on FerretDB's SQLite
  // backend, and every attempt's report is worth keeping.
  // An outcome counts only for a call this root allowed: one of this batch, one the workflow knows
  // it stored, or (rarely, for a call older than the workflow remembers) one found in the store.
  const calls = decisions.filter(isCall).map((d) => d.signed.payload.id);
  const allowed = new Set([...calls, ...(chain?.calls ?? [])]);
  // What this process chained needs no lookup: an allowed per-call decision, or something outcomes may not name.
  for (const sig of batch) if (sig.kind === 'outcome' && !allowed.has(sig.id) && recent?.isChainedCall(rootId, sig.id)) allowed.add(sig.id);
  const unknown = [...new Set(batch.flatMap((sig) => (sig.kind === 'outcome' && !allowed.has(sig.id) && !recent?.isChained(rootId, sig.id) ? [sig.id] : [])))];
  if (unknown.length > 0) {
    for (const d of await pointReads(c, unknown, { rootId: 1, decision: 1, action: 1 }, signal)) {
      if (d.rootId === rootId && d.decision === 'allow' && PER_CALL.has(d.action)) allowed.add(d._id);
    }
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
  step();
  if (outcomeDocs.length > 0) await insertIgnoringDuplicates(outcomeCollection(db), outcomeDocs);
  const outcomes = outcomeDocs.length;
  return {
    inserted: docs.length,
    alreadyPresent,
    rejected,
    outcomes,
    droppedOutcomes,
    calls,
    head: last ? { seq: last.seq, hash: last.hash } : head ? { seq: head.seq, hash: head.hash } : null,
  };
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

/** Per-call actions: the only decisions outcomes may name. */
const PER_CALL = new Set(['activity', 'local-activity']);

/** A decision as it is chained: signed by governance, verified. */
interface StoredDecision {
  readonly kind: 'artifact' | 'denial';
  readonly signed: SignedArtifact | SignedDenial;
}

/** An allowed per-call decision: what outcomes may name. */
const isCall = (d: StoredDecision) => d.kind === 'artifact' && PER_CALL.has(d.signed.payload.action);

/** How many parent links an outbox lookup follows: unchained ancestry is a few levels, not a tree. */
const OUTBOX_ANCESTRY_ROUNDS = 16;

/**
 * The outbox decisions of `rootId` that `ids` name, with their own unchained parents, parents
 * first (the chain must hold a parent before its children). Parsed and verified like any signal;
 * `seen` gains what is returned. Point reads by `_id` (index searches), one round per level of ancestry,
 * except for what `recent` answers: decisions this process signed (already verified: it signed
 * them) and ids it chained (no longer in the outbox).
 */
async function decisionsFromOutbox(
  db: Db,
  rootId: string,
  ids: readonly string[],
  seen: Set<string>,
  verifySignature: (signed: SignedArtifact | SignedDenial) => boolean,
  signal?: AbortSignal,
  recent?: RecentDecisions,
): Promise<StoredDecision[]> {
  const found = new Map<string, StoredDecision>();
  let wanted = ids.filter((id) => !seen.has(id));
  for (let round = 0; wanted.length > 0 && round < OUTBOX_ANCESTRY_ROUNDS; round++) {
    const next: string[] = [];
    const take = (entryId: string, d: StoredDecision, verified: boolean) => {
      const id = d.signed.payload.id;
      if (id !== entryId || found.has(id) || seen.has(id) || rootOf(d.signed) !== rootId || (!verified && !verifySignature(d.signed))) return;
      found.set(id, { kind: d.kind, signed: d.signed });
      const parentId = d.signed.payload.parent?.id;
      if (parentId && !found.has(parentId) && !seen.has(parentId)) next.push(parentId);
    };
    const toRead: string[] = [];
    for (const id of wanted) {
      const own = recent?.own(rootId, id);
      if (own) take(id, own, true);
      else if (!recent?.isChained(rootId, id)) toRead.push(id);
    }
    for (const entry of await pointReads(outboxCollection(db), toRead, { rootId: 1, signal: 1 }, signal)) {
      if (entry.rootId !== rootId) continue;
      // Read back from the store: parsed like any signal, verified like any decision.
      const parsed = LineageSignalSchema.safeParse(entry.signal);
      if (!parsed.success || parsed.data.kind === 'outcome' || parsed.data.kind === 'ref') continue;
      take(entry._id, parsed.data, false);
    }
    wanted = [...new Set(next)];
  }
  const ordered = parentsFirst([...found.values()]);
  for (const d of ordered) seen.add(d.signed.payload.id);
  return ordered;
}

/**
 * The same decisions, each after those of them it descends from (by parent links), otherwise in
 * the order given: the chain must hold a parent before its children.
 */
function parentsFirst<D extends { signed: SignedArtifact | SignedDenial }>(decisions: readonly D[]): D[] {
  const byId = new Map(decisions.map((d) => [d.signed.payload.id, d]));
  const ordered: D[] = [];
  const placed = new Set<string>();
  for (const start of decisions) {
    // Walk up to the first ancestor present and not yet placed (iteratively: chains can be long), then place downwards.
    const path: D[] = [];
    for (let d: D | undefined = start; d && !placed.has(d.signed.payload.id); d = byId.get(d.signed.payload.parent?.id ?? '')) {
      placed.add(d.signed.payload.id);
      path.push(d);
    }
    ordered.push(...path.reverse());
  }
  return ordered;
}

/**
 * Inserts in order; returns the first duplicate-key failure (everything before it is stored,
 * nothing after it), or null. In chunks: FerretDB v1 honours `ordered` only within its own
 * internal batches of 100 documents (a failure stops that batch, yet the next ones are still
 * inserted), so each call stays below that; and the count the server reports is checked against
 * the failure's position, so a backend that kept going is caught rather than trusted.
 */
async function insertOrdered(c: Collection<LineageRecord>, docs: LineageRecord[], step: () => void): Promise<{ index: number } | null> {
  for (let start = 0; start < docs.length; start += INSERT_CHUNK) {
    step();
    const chunk = docs.slice(start, start + INSERT_CHUNK);
    try {
      await c.insertMany(chunk, { ordered: true });
    } catch (err) {
      const e = err as { writeErrors?: Array<{ code?: number; index: number }> | { code?: number; index: number }; insertedCount?: number; result?: { insertedCount?: number } };
      const list = Array.isArray(e.writeErrors) ? e.writeErrors : e.writeErrors ? [e.writeErrors] : [];
      const first = list[0];
      if (!first || first.code !== 11000) throw err;
      const inserted = e.insertedCount ?? e.result?.insertedCount;
      if (inserted !== undefined && inserted !== first.index) {
        throw new LineageStoreError(`the store inserted ${inserted} documents of an ordered insert that failed at ${first.index}; refusing to continue a chain it may have forked`);
      }
      return { index: start + first.index };
    }
  }
  return null;
}
const INSERT_CHUNK = 50;

/**
 * The documents with these ids (those that exist), one point read each: `{ _id: { $in } }` is a
 * collection scan on FerretDB, `{ _id }` an index search. A few at a time, so one batch does not
 * take the whole connection pool from identity reads and claims.
 */
async function pointReads<T extends { _id: string }>(c: Collection<T>, ids: readonly string[], projection: Record<string, 1>, signal?: AbortSignal): Promise<T[]> {
  const found: T[] = [];
  for (let i = 0; i < ids.length; i += POINT_READS_AT_ONCE) {
    signal?.throwIfAborted();
    const docs = await Promise.all(ids.slice(i, i + POINT_READS_AT_ONCE).map((_id) => c.findOne({ _id } as never, { ...READ, signal, projection })));
    for (const d of docs) if (d) found.push(d as T);
  }
  return found;
}
const POINT_READS_AT_ONCE = 8;

/** Deletes these ids in one round trip (one delete statement per id: each an index search on FerretDB). */
async function deleteByIds(db: Db, collection: string, ids: readonly string[]): Promise<number> {
  if (ids.length === 0) return 0;
  return (await db.collection<{ _id: string }>(collection).bulkWrite(ids.map((_id) => ({ deleteOne: { filter: { _id } } })), { ordered: false })).deletedCount;
}

/**
 * The write-ahead hand-off: every decision is inserted here before the authorization activity
 * returns it, so it is durable in a store the attacker cannot touch whatever happens to lineage
 * workflows (anyone can terminate one by starting another under its id). Entries leave once their
 * record is in the chain; the sweeper re-delivers those that linger.
 */
export interface OutboxEntry {
  readonly _id: string;
  readonly rootId: string;
  readonly signal: LineageSignal;
  /** When the entry is next due for (re-)delivery: its write time, then pushed back on each attempt. */
  readonly at: Date;
  readonly attempts?: number;
}

export function outboxCollection(db: Db): Collection<OutboxEntry> {
  return db.collection<OutboxEntry>(OUTBOX_COLLECTION);
}

/**
 * Idempotent: a retried authorization writes the same entry again. Another decision under the same
 * id (two workers signing different bytes) is refused: returning it would issue an artifact that
 * lineage does not hold.
 */
export async function writeToOutbox(db: Db, rootId: string, signal: LineageSignal & { kind: 'artifact' | 'denial' }, at = new Date()): Promise<void> {
  const collection = outboxCollection(db);
  // Concurrent decisions share one insert command (group commit): durable before each returns all the same.
  if ((await groupedInserts<OutboxEntry>(db, OUTBOX_COLLECTION).insert({ _id: signal.signed.payload.id, rootId, signal, at })) === 'duplicate') {
    const stored = await collection.findOne({ _id: signal.signed.payload.id }, { ...READ, projection: { 'signal.signed.signature': 1 } });
    if (stored && (stored.signal as { signed?: { signature?: string } }).signed?.signature !== signal.signed.signature) {
      throw new LineageStoreError(`decision ${signal.signed.payload.id} is already in the outbox with other bytes (do all governance workers holding key ${signal.signed.payload.kid} use the same issuer?)`);
    }
  }
}

/**
 * Entries due before `olderThan`, oldest first: decisions whose record has not reached the chain
 * yet. Once per sweep, off the hot path; on FerretDB a scan of the outbox, which holds only the
 * decisions not chained yet (the lineage backlog), never the store.
 */
export async function lingeringOutbox(db: Db, olderThan: Date, limit = 500): Promise<OutboxEntry[]> {
  return outboxCollection(db).find({ at: { $lt: olderThan } }, { maxTimeMS: SWEEP_READ_DEADLINE_MS }).sort({ at: 1 }).limit(limit).toArray();
}
/** A sweep's reads may scan a (bounded) collection: longer than a point read's deadline, inside the client's socket timeout. */
export const SWEEP_READ_DEADLINE_MS = 12_000;

/** Pushes an entry back after a re-delivery, doubling the wait each time (at most an hour), so nothing starves the rest. */
export async function postponeOutbox(db: Db, entry: OutboxEntry, baseMs: number, now = Date.now()): Promise<void> {
  const attempts = (entry.attempts ?? 0) + 1;
  const wait = Math.min(baseMs * 2 ** Math.min(attempts, 20), 3_600_000);
  await outboxCollection(db).updateOne({ _id: entry._id }, { $set: { at: new Date(now + wait), attempts } });
}

/**
 * Moves an entry no lineage workflow can take (larger than a lineage signal may be) out of the
 * outbox, into `lineage_dead_letters`, where it stays, durable, for an operator.
 */
export async function deadLetterOutbox(db: Db, entry: OutboxEntry, reason: string): Promise<void> {
  try {
    await db.collection(DEAD_LETTER_COLLECTION).insertOne({ ...entry, reason, movedAt: new Date() } as never);
  } catch (err) {
    if ((err as { code?: number }).code !== 11000) throw err;
  }
  await outboxCollection(db).deleteOne({ _id: entry._id });
}

export async function clearOutbox(db: Db, ids: readonly string[]): Promise<void> {
  await deleteByIds(db, OUTBOX_COLLECTION, ids);
}

/**
 * Deletes up to `limit` documents of `collection` whose `at` is before `olderThan`: one bounded read
 * of their ids and one bulk delete by _id, so a sweep's work is bounded whatever has piled up
 * (the next sweep takes the rest). On FerretDB the read walks the collection in insertion order
 * (claims are written in time order, so the expired ones come first) and stops at `limit` matches.
 */
export async function pruneOlderThan(db: Db, collection: string, olderThan: Date, limit = PRUNE_PER_SWEEP): Promise<number> {
  const c = db.collection<{ _id: string; at: Date }>(collection);
  const expired = await c.find({ at: { $lt: olderThan } }, { maxTimeMS: SWEEP_READ_DEADLINE_MS, projection: { _id: 1 } }).limit(limit).toArray();
  return deleteByIds(db, collection, expired.map((d) => d._id));
}
/** Most documents one sweep deletes from one collection. */
export const PRUNE_PER_SWEEP = 2_000;
