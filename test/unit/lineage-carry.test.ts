// What a lineage run carries into its next run at continue-as-new (src/lineage/carry.ts).
import { splitCarry, utf8Length } from '../../src/lineage/carry';
import type { LineageSignal } from '../../src/lineage/schema';

const outcome = (id: string): LineageSignal => ({ kind: 'outcome', id, outcome: { status: 'started', failureType: null, attempt: 1, at: 0 } });
// Only the shape the split reads: kind and JSON size.
const decision = (id: string, pad = 0): LineageSignal => ({ kind: 'artifact', signed: { payload: { id, pad: 'x'.repeat(pad) }, signature: 'sig' } }) as unknown as LineageSignal;
const size = (r: LineageSignal) => JSON.stringify(r).length;
const ids = (rs: LineageSignal[]) => rs.map((r) => (r.kind === 'outcome' ? `o:${r.id}` : r.kind === 'ref' ? `r:${r.id}` : `d:${r.signed.payload.id}`));

test('everything fits: all is carried, in arrival order', () => {
  const pending = [decision('a'), outcome('a'), decision('b'), outcome('b')];
  const { next, left } = splitCarry(pending, 10_000);
  expect(ids(next)).toEqual(['d:a', 'o:a', 'd:b', 'o:b']);
  expect(left).toEqual([]);
});

test('outcomes are carried before decisions (the outbox holds decisions; nothing else holds outcomes)', () => {
  const pending = [decision('a', 100), outcome('a'), decision('b', 100), outcome('b')];
  const budget = size(pending[1]!) + size(pending[3]!) + size(pending[0]!);
  const { next, left } = splitCarry(pending, budget);
  expect(ids(next)).toEqual(['d:a', 'o:a', 'o:b']);
  expect(ids(left)).toEqual(['d:b']);
});

test('outcomes beyond the budget are left (oldest kept), and no decision is carried then', () => {
  const pending = [outcome('a'), decision('x'), outcome('b'), outcome('c')];
  const { next, left } = splitCarry(pending, size(pending[0]!) + size(pending[2]!));
  expect(ids(next)).toEqual(['o:a', 'o:b']);
  expect(ids(left)).toEqual(['d:x', 'o:c']);
});

test('a record larger than what remains is skipped, smaller later ones still fit', () => {
  const pending = [decision('big', 500), decision('small')];
  const { next, left } = splitCarry(pending, size(pending[1]!) + 10);
  expect(ids(next)).toEqual(['d:small']);
  expect(ids(left)).toEqual(['d:big']);
});

test('exactly the budget fits; the default budget stays far below the 2 MiB payload limit', () => {
  const pending = [decision('a', 50)];
  expect(splitCarry(pending, size(pending[0]!)).left).toEqual([]);
  expect(splitCarry(pending, size(pending[0]!) - 1).next).toEqual([]);
  const many = Array.from({ length: 3_000 }, (_, i) => decision(`d${i}`, 1_000));
  const { next } = splitCarry(many);
  expect(JSON.stringify(next).length).toBeLessThan(1_000_000 + next.length + 2);
  expect(next.length).toBeGreaterThan(900);
});

test('utf8Length is the UTF-8 byte length (ASCII, two-, three- and four-byte characters, lone surrogates)', () => {
  for (const text of ['', 'plain ascii', 'déjà vu', '界界界', 'emoji 😀 and 𝄞', '\ud800 lone high', 'lone low \udc00', '\u007f\u0080\u07ff\u0800\uffff']) {
    expect(utf8Length(text)).toBe(Buffer.byteLength(text, 'utf8'));
  }
});

test('the budget is in bytes: three-byte characters fit a third as many records', () => {
  const wide = Array.from({ length: 10 }, (_, i) => outcome(`art_${'界'.repeat(100)}${i}`));
  const one = Buffer.byteLength(JSON.stringify(wide[0]), 'utf8');
  const { next, left } = splitCarry(wide, one * 4);
  expect(next).toHaveLength(4);
  expect(left).toHaveLength(6);
});
