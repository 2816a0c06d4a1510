// GroupedInserts (src/lineage/grouped-insert.ts): how one command's failure is told to each caller.
import { MongoBulkWriteError, type Collection } from 'mongodb';
import { GroupedInserts } from '../../src/lineage/grouped-insert';

type Doc = { _id: string };
/** A collection whose insertMany answers with `answer` (documents inserted before it throws). */
function collectionAnswering(answer: (docs: Doc[]) => unknown): Collection<Doc> & { commands: Doc[][] } {
  const commands: Doc[][] = [];
  return {
    commands,
    insertMany: async (docs: Doc[]) => {
      commands.push(docs);
      const failure = answer(docs);
      if (failure) throw failure;
      return { acknowledged: true, insertedCount: docs.length };
    },
  } as unknown as Collection<Doc> & { commands: Doc[][] };
}
const settle = (p: Promise<unknown>) => p.then((v) => ({ ok: v }), (e: Error) => ({ err: e.message }));

/** The error the driver throws for an unordered insertMany with per-document failures (and its result). */
const bulkError = (writeErrors: Array<{ index: number; code: number; errmsg?: string }>, writeConcernError?: unknown) =>
  new MongoBulkWriteError({ message: 'bulk', code: writeErrors[0]?.code ?? 0, writeErrors: writeErrors as never }, { getWriteConcernError: () => writeConcernError } as never);

test('a burst leaves as few commands; the documents a bulk error names fail alone, by their own cause', async () => {
  const c = collectionAnswering((docs) =>
    docs.length > 1 ? bulkError([{ index: 0, code: 11000, errmsg: 'dup' }, { index: 2, code: 121, errmsg: 'validation' }]) : undefined,
  );
  const group = new GroupedInserts(c, 1);
  const results = await Promise.all(['a', 'b', 'c', 'd'].map((_id) => settle(group.insert({ _id }))));
  // 'a' alone (nothing in flight), then b, c, d together: b is index 0 (duplicate), d index 2 (fails).
  expect(c.commands.map((docs) => docs.map((d) => d._id))).toEqual([['a'], ['b', 'c', 'd']]);
  expect(results).toEqual([{ ok: 'inserted' }, { ok: 'duplicate' }, { ok: 'inserted' }, { err: 'insert failed: validation' }]);
});

test('a failure that names no document, or a write concern error, fails every caller of that command (their fate is unknown)', async () => {
  for (const failure of [new Error('socket closed'), bulkError([{ index: 0, code: 11000 }], { code: 64, errmsg: 'waiting for replication timed out' }), bulkError([{ index: 9, code: 11000 }]), bulkError([])]) {
    const c = collectionAnswering(() => failure);
    const group = new GroupedInserts(c, 1);
    const results = await Promise.all(['a', 'b'].map((_id) => settle(group.insert({ _id }))));
    expect(results.every((r) => 'err' in r)).toBe(true);
  }
});

test('the queue drains: more documents than one command takes leave in several, none lost', async () => {
  const c = collectionAnswering(() => undefined);
  const group = new GroupedInserts(c, 1, 3);
  const results = await Promise.all(Array.from({ length: 10 }, (_, i) => group.insert({ _id: `d${i}` })));
  expect(results.every((r) => r === 'inserted')).toBe(true);
  expect(c.commands.map((d) => d.length)).toEqual([1, 3, 3, 3]);
});
