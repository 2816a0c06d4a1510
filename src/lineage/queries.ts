// Auditor reads of the lineage collection. Every document is parsed with LineageRecordSchema on the
// way out: a document that does not parse is reported by its _id, never cast to a record. Uses only
// what FerretDB v1 also serves: find with equality, $in, $gte, $lt, $gt, $or, $and, sort, limit and countDocuments.
import { isCollapsed } from '../artifact/ancestry';
import { ActionSchema, ChainRefSchema } from '../common/schemas';
import { fromBase64Url, toBase64Url } from '../common/base64url';
import { outboxCollection, outcomeCollection } from './store';
import { DEAD_LETTER_COLLECTION, OutcomeRecordSchema, type OutcomeRecord } from './schema';
import type { Collection, Db, Document, Filter, Sort } from 'mongodb';
import { z } from 'zod';
import { LINEAGE_COLLECTION, LineageRecordSchema, type LineageRecord } from './schema';

/** A stored document that is not a valid lineage record. */
export class LineageDocumentError extends Error {
  override readonly name = 'LineageDocumentError';
  constructor(
    readonly id: string,
    readonly problems: readonly string[],
  ) {
    super(`lineage document ${id} is not a valid lineage record: ${problems.join('; ')} (run "lineage verify" on its root)`);
  }
}

export type ParsedDocument =
  | { readonly ok: true; readonly record: LineageRecord }
  | {
      readonly ok: false;
      readonly id: string;
      /** Best effort from the raw document, null when absent or of the wrong type. */
      readonly rootId: string | null;
      readonly seq: number | null;
      readonly hash: string | null;
      readonly problems: readonly string[];
    };

/** Parses one raw document; never throws. */
export function parseLineageDocument(doc: Document): ParsedDocument {
  const parsed = LineageRecordSchema.safeParse(doc);
  if (parsed.success) return { ok: true, record: parsed.data };
  const seq = doc.seq;
  return {
    ok: false,
    id: String(doc._id),
    rootId: typeof doc.rootId === 'string' ? doc.rootId : null,
    seq: typeof seq === 'number' && Number.isInteger(seq) && seq >= 0 ? seq : null,
    hash: typeof doc.hash === 'string' ? doc.hash : null,
    problems: parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '<root>'}: ${i.message}`),
  };
}

function recordOf(doc: Document): LineageRecord {
  const parsed = parseLineageDocument(doc);
  if (!parsed.ok) throw new LineageDocumentError(parsed.id, parsed.problems);
  return parsed.record;
}

/** A stored document before parsing: untrusted. Our ids are strings; anything else is reported. */
export interface RawLineageDocument {
  _id: string;
  [field: string]: unknown;
}

/** The lineage collection, untyped: documents are untrusted until parsed. */
export function rawLineageCollection(db: Db): Collection<RawLineageDocument> {
  return db.collection<RawLineageDocument>(LINEAGE_COLLECTION);
}
const raw = rawLineageCollection;

/** One record by id (index: _id), or null. */
export async function getRecord(db: Db, id: string): Promise<LineageRecord | null> {
  const doc = await raw(db).findOne({ _id: id });
  return doc ? recordOf(doc) : null;
}

export interface Ancestry {
  readonly record: LineageRecord;
  /**
   * Root first, in the order of record.ancestors (the scope path: each level's first run grant and
   * the child-workflow artifact below it, then the record's chain id), and last the record's parent
   * when the path does not list it (a continue-as-new hop: a continued run's grant or a
   * continue-as-new artifact). The hops between are reached through parentId (the signed parent links).
   */
  readonly ancestors: LineageRecord[];
  /** Ancestor ids the record names that have no document. */
  readonly missing: string[];
}

/** A record and its ancestors, read with one `_id: {$in: ...}` query (index: _id). Null if the record does not exist. */
export async function ancestry(db: Db, id: string): Promise<Ancestry | null> {
  const record = await getRecord(db, id);
  if (!record) return null;
  const path = record.parentId !== null && !record.ancestors.includes(record.parentId) ? [...record.ancestors, record.parentId] : record.ancestors;
  const docs = path.length === 0 ? [] : await raw(db).find({ _id: { $in: [...path] } }).toArray();
  const byId = new Map(docs.map((d) => [String(d._id), d]));
  const ancestors: LineageRecord[] = [];
  const missing: string[] = [];
  for (const a of path) {
    const doc = byId.get(a);
    if (doc) ancestors.push(recordOf(doc));
    else missing.push(a);
  }
  return { record, ancestors, missing };
}

/**
 * Every record below `id`, across child workflows and continue-as-new, ordered by rootId, seq.
 * One indexed read (index: ancestors) of everything that lists `id`; for a continue-as-new hop,
 * which no record lists (its descendants list its chain id instead, docs/artifact.md section 5),
 * the read is of everything that lists the chain id, kept when its parent links lead to `id`.
 */
export async function descendants(db: Db, id: string): Promise<LineageRecord[]> {
  const target = await raw(db).findOne({ _id: id }, { projection: { _id: 1, action: 1, 'artifact.payload.id': 1, 'artifact.payload.action': 1, 'artifact.payload.chain': 1 } });
  const payload = (target as { artifact?: { payload?: { id?: unknown; action?: unknown; chain?: unknown } } } | null)?.artifact?.payload;
  const hop = ChainHopSchema.safeParse(payload);
  if (!hop.success || !isCollapsed(hop.data)) {
    const docs = await raw(db).find({ ancestors: id }).sort({ rootId: 1, seq: 1 }).toArray();
    return docs.map(recordOf);
  }
  const candidates = (await raw(db).find({ ancestors: hop.data.chain.id }).sort({ rootId: 1, seq: 1 }).toArray()).map(recordOf);
  const parentOf = new Map(candidates.map((r) => [r._id, r.parentId]));
  const below = new Map<string, boolean>([[id, true]]);
  const isBelow = (start: string): boolean => {
    const path: string[] = [];
    let at: string | null | undefined = start;
    let answer = false;
    // Up the parent links until `id`, a record already decided, or one outside the chain's subtree.
    for (;;) {
      if (at === null || at === undefined) break;
      const known = below.get(at);
      if (known !== undefined) {
        answer = known;
        break;
      }
      if (!parentOf.has(at)) break;
      path.push(at);
      at = parentOf.get(at);
    }
    for (const p of path) below.set(p, answer);
    return answer;
  };
  return candidates.filter((r) => r._id !== id && isBelow(r._id));
}

const ChainHopSchema = z.object({ id: z.string().min(1), action: ActionSchema, chain: ChainRefSchema });

/** All documents of a root in seq order (index: root_seq), parsed but not thrown: verification reads this. */
export async function* rootDocuments(db: Db, rootId?: string): AsyncGenerator<ParsedDocument> {
  const filter: Filter<RawLineageDocument> = rootId === undefined ? {} : { rootId };
  const sort: Sort = rootId === undefined ? { rootId: 1, seq: 1 } : { seq: 1 };
  const cursor = raw(db).find(filter).sort(sort).batchSize(1_000);
  try {
    for await (const doc of cursor) yield parseLineageDocument(doc);
  } finally {
    await cursor.close();
  }
}

/** The records of one root in seq order, streamed (index: root_seq). Throws LineageDocumentError on a document that does not parse. */
export async function* rootRecords(db: Db, rootId: string): AsyncGenerator<LineageRecord> {
  for await (const parsed of rootDocuments(db, rootId)) {
    if (!parsed.ok) throw new LineageDocumentError(parsed.id, parsed.problems);
    yield parsed.record;
  }
}

/** How many documents a root has (or the whole collection without a root). */
export async function countRecords(db: Db, rootId?: string): Promise<number> {
  return raw(db).countDocuments(rootId === undefined ? {} : { rootId });
}

export interface DenialQuery {
  /** Only denials issued at or after this time. */
  readonly since?: Date;
  readonly principal?: string;
  readonly limit: number;
}

/** Denied authorizations, newest first (index: decision_time, or principal_time with a principal). */
export async function denials(db: Db, query: DenialQuery): Promise<LineageRecord[]> {
  const filter: Filter<RawLineageDocument> = { decision: 'deny' };
  if (query.principal !== undefined) filter.principal = query.principal;
  if (query.since !== undefined) filter.issuedAt = { $gte: query.since };
  const docs = await raw(db).find(filter).sort({ issuedAt: -1, _id: 1 }).limit(query.limit).toArray();
  return docs.map(recordOf);
}

/** Every outcome reported for a record, oldest first (append-only: each attempt is kept). */
export async function outcomesOf(db: Db, recordId: string): Promise<OutcomeRecord[]> {
  const docs = await outcomeCollection(db).find({ recordId }).sort({ at: 1 }).toArray();
  return docs.map((d) => {
    const parsed = OutcomeRecordSchema.safeParse(d);
    if (!parsed.success) throw new Error(`outcome document ${String(d._id)} does not match the schema: ${parsed.error.issues[0]?.message}`);
    return parsed.data;
  });
}

export interface ChainNeighbours {
  /** The document with seq - 1 in the same root (null for seq 0 or when none is stored), parsed but not thrown. */
  readonly previous: ParsedDocument | null;
  /** The id of the document with seq + 1, or null. */
  readonly nextId: string | null;
}

/** The documents just before and after `seq` in a root's chain: two point reads (index: root_seq). */
export async function chainNeighbours(db: Db, rootId: string, seq: number): Promise<ChainNeighbours> {
  const [previous, next] = await Promise.all([
    seq === 0 ? null : raw(db).findOne({ rootId, seq: seq - 1 }),
    raw(db).findOne({ rootId, seq: seq + 1 }, { projection: { _id: 1 } }),
  ]);
  return { previous: previous ? parseLineageDocument(previous) : null, nextId: next ? String(next._id) : null };
}

/** What the health dashboard reads of one recent decision: a projection, parsed like any document. */
const RecentDecisionSchema = LineageRecordSchema.pick({ _id: true, decision: true, denyCode: true, issuedAt: true, recordedAt: true, policy: true }).extend({
  artifact: z.object({ payload: z.object({ kid: z.string() }) }).nullable().optional(),
  denial: z.object({ payload: z.object({ kid: z.string() }) }).nullable().optional(),
});

export interface RecentDecision {
  readonly id: string;
  readonly decision: 'allow' | 'deny';
  readonly denyCode: string | null;
  readonly issuedAt: Date;
  readonly recordedAt: Date;
  readonly policy: { readonly id: string; readonly version: string };
  /** Signing key of the artifact or denial. */
  readonly kid: string | null;
}

export interface RecentDecisions {
  /** Newest first, at most `limit`. */
  readonly decisions: readonly RecentDecision[];
  /** More than `limit` decisions were issued since `since`: only the newest `limit` are here. */
  readonly truncated: boolean;
  /** Documents in the window that did not parse (run "lineage verify" on their roots). */
  readonly malformed: number;
}

/**
 * Decisions issued at or after `since`, newest first, at most `limit` (index: decision_time), read
 * as a small projection: the health dashboard's rates, lag and policies come from one bounded read.
 */
export async function recentDecisions(db: Db, query: { since: Date; limit: number }): Promise<RecentDecisions> {
  const docs = await raw(db)
    .find(
      { decision: { $in: ['allow', 'deny'] }, issuedAt: { $gte: query.since } },
      { projection: { decision: 1, denyCode: 1, issuedAt: 1, recordedAt: 1, policy: 1, 'artifact.payload.kid': 1, 'denial.payload.kid': 1 } },
    )
    .sort({ issuedAt: -1 })
    .limit(query.limit + 1)
    .toArray();
  const decisions: RecentDecision[] = [];
  let malformed = 0;
  for (const doc of docs.slice(0, query.limit)) {
    const parsed = RecentDecisionSchema.safeParse(doc);
    if (!parsed.success) {
      malformed += 1;
      continue;
    }
    const d = parsed.data;
    decisions.push({ id: d._id, decision: d.decision, denyCode: d.denyCode, issuedAt: d.issuedAt, recordedAt: d.recordedAt, policy: d.policy, kid: d.artifact?.payload.kid ?? d.denial?.payload.kid ?? null });
  }
  return { decisions, truncated: docs.length > query.limit, malformed };
}

/** Decisions (allow and deny) issued at or after `since` (index: decision_time). */
export async function countDecisionsSince(db: Db, since: Date): Promise<{ allow: number; deny: number }> {
  const [allow, deny] = await Promise.all((['allow', 'deny'] as const).map((decision) => raw(db).countDocuments({ decision, issuedAt: { $gte: since } })));
  return { allow: allow!, deny: deny! };
}

const OutboxSampleSchema = z.object({
  _id: z.string(),
  rootId: z.string(),
  at: z.date(),
  attempts: z.number().int().nonnegative().optional(),
  signal: z.object({ signed: z.object({ payload: z.object({ issuedAt: z.number() }) }) }).optional(),
});

export interface OutboxSample {
  readonly id: string;
  readonly rootId: string;
  /** When it is next due for re-delivery. */
  readonly dueAt: Date;
  readonly attempts: number;
  /** The decision's issue time (ms), from its signed payload; null if the entry does not carry one. */
  readonly issuedAt: number | null;
}

export interface OutboxBacklog {
  /** Decisions written to `lineage_outbox` and not chained yet. */
  readonly pending: number;
  /** Decisions in `lineage_dead_letters`: no lineage workflow can take them (docs/lineage.md). */
  readonly deadLetters: number;
  /** The `sample` entries due soonest (index: outbox_time), for per-root backlog and the oldest decision. */
  readonly sampled: readonly OutboxSample[];
}

/** The lineage hand-off backlog: counts, and a bounded sample of what waits, read as a projection. */
export async function outboxBacklog(db: Db, sample: number): Promise<OutboxBacklog> {
  const [pending, deadLetters, docs] = await Promise.all([
    outboxCollection(db).countDocuments({}),
    db.collection(DEAD_LETTER_COLLECTION).countDocuments({}),
    outboxCollection(db)
      .find({}, { projection: { rootId: 1, at: 1, attempts: 1, 'signal.signed.payload.issuedAt': 1 } })
      .sort({ at: 1 })
      .limit(sample)
      .toArray(),
  ]);
  const sampled: OutboxSample[] = [];
  for (const doc of docs) {
    const parsed = OutboxSampleSchema.safeParse(doc);
    if (!parsed.success) continue; // the sweeper reports and handles entries of its own format
    sampled.push({ id: parsed.data._id, rootId: parsed.data.rootId, dueAt: parsed.data.at, attempts: parsed.data.attempts ?? 0, issuedAt: parsed.data.signal?.signed.payload.issuedAt ?? null });
  }
  return { pending, deadLetters, sampled };
}

/** Outcomes of many records at once, oldest first per record (index: record_time): one read for a page of records. */
export async function outcomesOfMany(db: Db, recordIds: readonly string[]): Promise<Map<string, OutcomeRecord[]>> {
  const byRecord = new Map<string, OutcomeRecord[]>(recordIds.map((id) => [id, []]));
  if (recordIds.length === 0) return byRecord;
  const docs = await outcomeCollection(db).find({ recordId: { $in: [...recordIds] } }).sort({ recordId: 1, at: 1 }).limit(MAX_OUTCOMES_PER_READ).toArray();
  for (const d of docs) {
    const parsed = OutcomeRecordSchema.safeParse(d);
    if (!parsed.success) throw new Error(`outcome document ${String(d._id)} does not match the schema: ${parsed.error.issues[0]?.message}`);
    byRecord.get(parsed.data.recordId)?.push(parsed.data);
  }
  return byRecord;
}
/** Bound of one outcomes read: a retried activity reports each attempt, but not this many for one page. */
const MAX_OUTCOMES_PER_READ = 5_000;

/** Where a search page starts: after the record with this (issuedAt, _id), in search order. */
export interface SearchCursor {
  readonly issuedAt: Date;
  readonly id: string;
}

const SearchCursorSchema = z.tuple([z.number().int().nonnegative(), z.string().min(1).max(1_000)]);

/** A cursor as an opaque URL-safe token (base64url of `[issuedAtMs, id]`). */
export function encodeSearchCursor(cursor: SearchCursor): string {
  return toBase64Url(new TextEncoder().encode(JSON.stringify([cursor.issuedAt.getTime(), cursor.id])));
}

/** The cursor a token names, or null when it is not one encodeSearchCursor made. */
export function decodeSearchCursor(token: string): SearchCursor | null {
  try {
    const parsed = SearchCursorSchema.safeParse(JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(fromBase64Url(token))));
    return parsed.success ? { issuedAt: new Date(parsed.data[0]), id: parsed.data[1] } : null;
  } catch {
    return null;
  }
}

/** Every filter is optional; given ones are ANDed. Each leading filter has its own index (docs/lineage.md section 3). */
export interface LineageSearch {
  readonly principal?: string;
  readonly workflowId?: string;
  readonly runId?: string;
  readonly action?: LineageRecord['action'];
  readonly target?: string;
  readonly decision?: LineageRecord['decision'];
  readonly denyCode?: string;
  /** Only roots: records with depth 0 (root run grants, and denials that start a root of their own). */
  readonly rootsOnly?: boolean;
  /** issuedAt >= from */
  readonly from?: Date;
  /** issuedAt < to */
  readonly to?: Date;
  /** At most this many records (1..MAX_SEARCH_LIMIT). */
  readonly limit: number;
  /** Continue after this record (keyset pagination). */
  readonly after?: SearchCursor;
}

export const MAX_SEARCH_LIMIT = 500;

export interface SearchPage {
  /** Newest first (issuedAt desc, then _id asc); a document that does not parse is reported, not thrown. */
  readonly items: ParsedDocument[];
  /** The cursor of the next page, or null when this is the last one. */
  readonly next: SearchCursor | null;
}

/**
 * Records matching a search, newest first, one page at a time. Keyset pagination on (issuedAt desc,
 * _id asc): a page is "everything strictly after the cursor", read through the index of the leading
 * filter (search_principal, search_workflow, search_run, search_target, search_action,
 * search_decision, search_deny_code, search_depth, else search_time), never skip(). Reads limit + 1
 * documents to know whether there is a next page.
 */
export async function searchLineage(db: Db, search: LineageSearch): Promise<SearchPage> {
  if (!Number.isInteger(search.limit) || search.limit < 1 || search.limit > MAX_SEARCH_LIMIT) throw new RangeError(`limit must be an integer from 1 to ${MAX_SEARCH_LIMIT}`);
  const and: Filter<RawLineageDocument>[] = [];
  const equal: Record<string, unknown> = {};
  if (search.principal !== undefined) equal.principal = search.principal;
  if (search.workflowId !== undefined) equal.workflowId = search.workflowId;
  if (search.runId !== undefined) equal.runId = search.runId;
  if (search.target !== undefined) equal.target = search.target;
  if (search.action !== undefined) equal.action = search.action;
  if (search.decision !== undefined) equal.decision = search.decision;
  if (search.denyCode !== undefined) equal.denyCode = search.denyCode;
  if (search.rootsOnly) equal.depth = 0;
  if (Object.keys(equal).length > 0) and.push(equal as Filter<RawLineageDocument>);
  const range: Record<string, Date> = {};
  if (search.from !== undefined) range.$gte = search.from;
  if (search.to !== undefined) range.$lt = search.to;
  if (Object.keys(range).length > 0) and.push({ issuedAt: range });
  if (search.after) {
    and.push({ $or: [{ issuedAt: { $lt: search.after.issuedAt } }, { issuedAt: search.after.issuedAt, _id: { $gt: search.after.id } }] });
  }
  const filter: Filter<RawLineageDocument> = and.length === 0 ? {} : and.length === 1 ? and[0]! : { $and: and };
  const docs = await raw(db).find(filter).sort({ issuedAt: -1, _id: 1 }).limit(search.limit + 1).toArray();
  const page = docs.slice(0, search.limit);
  const last = page[page.length - 1];
  // A last document whose issuedAt is no date cannot anchor a cursor (it is reported as invalid anyway).
  const next = docs.length > search.limit && last && last.issuedAt instanceof Date ? { issuedAt: last.issuedAt, id: String(last._id) } : null;
  return { items: page.map(parseLineageDocument), next };
}

export const MAX_CHILDREN_LIMIT = 500;

export interface ChildrenPage {
  /** In seq order. */
  readonly items: ParsedDocument[];
  /** The seq to continue after, or null when there are no more children. */
  readonly nextAfterSeq: number | null;
}

/** The direct children of a record, in seq order, one page at a time (index: parent_seq; keyset on seq). */
export async function childrenOf(db: Db, parentId: string, page: { afterSeq?: number; limit: number }): Promise<ChildrenPage> {
  if (!Number.isInteger(page.limit) || page.limit < 1 || page.limit > MAX_CHILDREN_LIMIT) throw new RangeError(`limit must be an integer from 1 to ${MAX_CHILDREN_LIMIT}`);
  const filter: Filter<RawLineageDocument> = page.afterSeq === undefined ? { parentId } : { parentId, seq: { $gt: page.afterSeq } };
  const docs = await raw(db).find(filter).sort({ seq: 1 }).limit(page.limit + 1).toArray();
  const items = docs.slice(0, page.limit);
  const lastSeq = items[items.length - 1]?.seq;
  return { items: items.map(parseLineageDocument), nextAfterSeq: docs.length > page.limit && typeof lastSeq === 'number' ? lastSeq : null };
}

/** How many direct children a record has (index: parent_seq). */
export async function countChildren(db: Db, parentId: string): Promise<number> {
  return raw(db).countDocuments({ parentId });
}

/** How many denials a root holds (index: root_seq, then the decision of each of its documents). */
export async function countRootDenials(db: Db, rootId: string): Promise<number> {
  return raw(db).countDocuments({ rootId, decision: 'deny' });
}
