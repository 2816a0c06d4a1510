// Group commit for single-document inserts on the hot path (the write-ahead outbox entry of every
// decision, the single-use claim of every protected call). Alone, an insert leaves at once; while
// earlier ones are in flight, the inserts that arrive meanwhile leave together as one unordered
// insertMany, so under load the store sees one command per group instead of one per call, and
// nobody waits longer than the inserts ahead of them. Node-only (MongoDB driver).
import type { Collection, Db, OptionalUnlessRequiredId } from 'mongodb';

export type InsertOutcome = 'inserted' | 'duplicate';

interface Waiting<T> {
  readonly doc: T;
  readonly resolve: (outcome: InsertOutcome) => void;
  readonly reject: (err: unknown) => void;
}

/** One collection's queue of inserts; `maxInFlight` commands at once, at most `maxBatch` documents each. */
export class GroupedInserts<T extends { _id: string }> {
  private readonly waiting: Waiting<T>[] = [];
  private inFlight = 0;

  constructor(
    private readonly collection: Collection<T>,
    private readonly maxInFlight = GROUP_IN_FLIGHT,
    private readonly maxBatch = GROUP_MAX_DOCUMENTS,
  ) {}

  /** 'duplicate': a document with this `_id` exists (the caller decides what that means). */
  insert(doc: T): Promise<InsertOutcome> {
    return new Promise<InsertOutcome>((resolve, reject) => {
      this.waiting.push({ doc, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.maxInFlight && this.waiting.length > 0) {
      const group = this.waiting.splice(0, this.maxBatch);
      this.inFlight += 1;
      void this.write(group).finally(() => {
        this.inFlight -= 1;
        this.pump();
      });
    }
  }

  private async write(group: Waiting<T>[]): Promise<void> {
    try {
      await this.collection.insertMany(
        group.map((w) => w.doc as OptionalUnlessRequiredId<T>),
        { ordered: false },
      );
      for (const w of group) w.resolve('inserted');
    } catch (err) {
      settleFromWriteErrors(group, err);
    }
  }
}

/**
 * An unordered insertMany reports each document that failed by its index; every other document
 * was inserted. Only then is each caller told its own outcome: a duplicate key is 'duplicate',
 * any other write error fails that caller alone. Anything else (no per-document errors, a write
 * concern error, a network failure) leaves every document's fate unknown: all fail, and a retry
 * finds its own document inserted or not (a duplicate is what the callers already handle).
 */
function settleFromWriteErrors<T>(group: Waiting<T>[], err: unknown): void {
  // MongoBulkWriteError (driver 6): per-document errors, and the write concern error in its result.
  const e = err as { writeErrors?: unknown; result?: { getWriteConcernError?: () => unknown } };
  const raw = e.writeErrors;
  const list = (Array.isArray(raw) ? raw : raw ? [raw] : []) as Array<{ index?: unknown; code?: unknown; errmsg?: unknown }>;
  const indexed = list.length > 0 && list.every((w) => Number.isInteger(w.index) && (w.index as number) >= 0 && (w.index as number) < group.length);
  const concernFailed = e.result?.getWriteConcernError?.() != null;
  if (!indexed || concernFailed) {
    for (const w of group) w.reject(err);
    return;
  }
  const failed = new Map(list.map((w) => [w.index as number, w]));
  group.forEach((w, i) => {
    const f = failed.get(i);
    if (!f) w.resolve('inserted');
    else if (f.code === 11000) w.resolve('duplicate');
    else w.reject(Object.assign(new Error(`insert failed: ${String(f.errmsg ?? 'write error')}`), { code: f.code, cause: err }));
  });
}

const groups = new WeakMap<Db, Map<string, GroupedInserts<{ _id: string }>>>();

/** The shared queue of inserts into `name` of `db` (one per Db and collection, so concurrent callers group). */
export function groupedInserts<T extends { _id: string }>(db: Db, name: string): GroupedInserts<T> {
  let byName = groups.get(db);
  if (!byName) {
    byName = new Map();
    groups.set(db, byName);
  }
  let group = byName.get(name);
  if (!group) {
    group = new GroupedInserts(db.collection<{ _id: string }>(name));
    byName.set(name, group);
  }
  return group as unknown as GroupedInserts<T>;
}

/** One command in flight per collection: what arrives meanwhile waits for it and leaves together (SQLite, under FerretDB, writes one at a time anyway). */
export const GROUP_IN_FLIGHT = 1;
/** Documents per command: well inside FerretDB's internal batches of 100. */
export const GROUP_MAX_DOCUMENTS = 100;
