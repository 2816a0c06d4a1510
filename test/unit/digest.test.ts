// Argument digests must agree between the workflow (values before payload conversion) and the
// activity (values after decoding). src/common/digest.ts
import { createHash } from 'node:crypto';
import { argumentsDigest, argumentsView, ArgumentDigestError, sha256Hex } from '../../src/common/digest';

const DIGEST = /^sha256:[0-9a-f]{64}$/;

/** What an activity sees after the default JSON payload converter round-trips a JSON argument. */
const viaJson = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

describe('sha256Hex (sandbox path) equals node:crypto', () => {
  const samples = [
    '',
    'abc',
    'The quick brown fox jumps over the lazy dog',
    'gr\u00fc\u00dfe, \u20ac100',
    '\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8',
    'emoji \ud83d\ude00\ud83c\udf89',
    '\u0000\u0001\n\r\t',
    '{"a":[1,2,3],"b":"\u00f6"}',
    'x'.repeat(1000),
    'ab'.repeat(4097),
  ];
  it.each(samples.map((s) => [JSON.stringify(s).slice(0, 40), s]))('sha256Hex(%s)', (_label, text) => {
    expect(sha256Hex(text)).toBe(createHash('sha256').update(text, 'utf8').digest('hex'));
  });

  it('matches the FIPS 180-2 test vector for "abc"', () => {
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('hashes UTF-8, not UTF-16 code units or Latin-1', () => {
    expect(sha256Hex('\u00e9')).toBe(createHash('sha256').update(Buffer.from([0xc3, 0xa9])).digest('hex'));
    expect(sha256Hex('\u00e9')).not.toBe(createHash('sha256').update(Buffer.from([0xe9])).digest('hex'));
  });
});

describe('argumentsView', () => {
  it('tags each argument by its payload carrier', () => {
    expect(argumentsView([undefined, null, new Uint8Array([0, 255, 16]), 'x', { a: 1 }])).toEqual([
      ['undefined'],
      ['json', null],
      ['bytes', '00ff10'],
      ['json', 'x'],
      ['json', { a: 1 }],
    ]);
  });

  it('turns a Date into its ISO string', () => {
    const d = new Date('2024-02-29T12:34:56.789Z');
    expect(argumentsView([d])).toEqual([['json', '2024-02-29T12:34:56.789Z']]);
    expect(argumentsView([{ at: d }])).toEqual([['json', { at: '2024-02-29T12:34:56.789Z' }]]);
  });

  it('drops undefined object members and turns undefined array elements into null', () => {
    expect(argumentsView([{ a: 1, b: undefined }])).toEqual([['json', { a: 1 }]]);
    expect(argumentsView([[1, undefined, 3]])).toEqual([['json', [1, null, 3]]]);
  });

  it('turns a nested Uint8Array into its index-keyed object', () => {
    expect(argumentsView([{ b: new Uint8Array([7, 8]) }])).toEqual([['json', { b: { '0': 7, '1': 8 } }]]);
  });

  it('returns an empty view for no arguments', () => {
    expect(argumentsView([])).toEqual([]);
  });
});

describe('argumentsDigest', () => {
  it('has the form sha256:<64 lowercase hex>', () => {
    for (const args of [[], [1], [undefined], [new Uint8Array(3)], [{ a: [1, 'b', null] }]]) {
      expect(argumentsDigest(args)).toMatch(DIGEST);
    }
  });

  it('is the sha256 of the canonical view (checked with node:crypto)', () => {
    const expected = createHash('sha256').update('[["json",{"a":1,"b":"\u00f6"}],["undefined"]]', 'utf8').digest('hex');
    expect(argumentsDigest([{ b: '\u00f6', a: 1 }, undefined])).toBe(`sha256:${expected}`);
  });

  it('is deterministic', () => {
    const args = [{ amount: 100, to: 'acct-1', tags: ['a', 'b'] }, 3, 'x'];
    expect(argumentsDigest(args)).toBe(argumentsDigest(structuredClone(args)));
  });

  it('keeps top-level undefined and null distinct', () => {
    expect(argumentsDigest([undefined])).not.toBe(argumentsDigest([null]));
  });

  it('distinguishes no arguments from one undefined argument', () => {
    expect(argumentsDigest([])).not.toBe(argumentsDigest([undefined]));
  });

  it('keeps a top-level Uint8Array distinct from the same bytes nested or as their JSON form', () => {
    const bytes = new Uint8Array([1, 2, 3]);
    const top = argumentsDigest([bytes]);
    expect(top).not.toBe(argumentsDigest([viaJson(bytes)]));
    expect(top).not.toBe(argumentsDigest([[...bytes]]));
    expect(top).not.toBe(argumentsDigest(['010203']));
    expect(argumentsDigest([{ b: bytes }])).not.toBe(argumentsDigest([{ b: '010203' }]));
  });

  it('gives a top-level Buffer (as decoded by the activity) the digest of the Uint8Array', () => {
    expect(argumentsDigest([Buffer.from([9, 8, 7])])).toBe(argumentsDigest([new Uint8Array([9, 8, 7])]));
  });

  it('treats a nested Uint8Array like its JSON index-object form', () => {
    const bytes = new Uint8Array([5, 6, 255]);
    expect(argumentsDigest([{ data: bytes }])).toBe(argumentsDigest([{ data: { '0': 5, '1': 6, '2': 255 } }]));
    expect(argumentsDigest([{ data: bytes }])).toBe(argumentsDigest([viaJson({ data: bytes })]));
    expect(argumentsDigest([[bytes]])).toBe(argumentsDigest([[{ '0': 5, '1': 6, '2': 255 }]]));
  });

  it('gives a Date the digest of its ISO string, at top level and nested', () => {
    const d = new Date(Date.UTC(2025, 0, 2, 3, 4, 5, 6));
    expect(argumentsDigest([d])).toBe(argumentsDigest(['2025-01-02T03:04:05.006Z']));
    expect(argumentsDigest([{ at: d }])).toBe(argumentsDigest([viaJson({ at: d })]));
  });

  it('drops undefined object members: same digest as the object without that key', () => {
    expect(argumentsDigest([{ a: 1, b: undefined }])).toBe(argumentsDigest([{ a: 1 }]));
    expect(argumentsDigest([{ a: { c: undefined, d: 2 } }])).toBe(argumentsDigest([{ a: { d: 2 } }]));
    expect(argumentsDigest([{ a: 1, b: undefined }])).not.toBe(argumentsDigest([{ a: 1, b: null }]));
  });

  it('ignores key order', () => {
    expect(argumentsDigest([{ a: 1, b: { c: 2, d: [3, { e: 4, f: 5 }] } }])).toBe(
      argumentsDigest([{ b: { d: [3, { f: 5, e: 4 }], c: 2 }, a: 1 }]),
    );
  });

  it('depends on array order and argument order', () => {
    expect(argumentsDigest([[1, 2]])).not.toBe(argumentsDigest([[2, 1]]));
    expect(argumentsDigest([1, 2])).not.toBe(argumentsDigest([2, 1]));
    expect(argumentsDigest([[1, 2]])).not.toBe(argumentsDigest([1, 2]));
  });

  it('distinguishes a number from its string', () => {
    expect(argumentsDigest([1])).not.toBe(argumentsDigest(['1']));
    expect(argumentsDigest([{ amount: 100 }])).not.toBe(argumentsDigest([{ amount: '100' }]));
  });

  it('survives the JSON round trip for nested arrays and large numbers', () => {
    const args = [
      { ids: [[1, [2, [3, []]]], []], big: 2 ** 60, max: Number.MAX_SAFE_INTEGER, tiny: 1e-7, huge: 1e21, neg: -0 },
      [0.1 + 0.2, 333333333.3333333],
    ];
    expect(argumentsDigest(args)).toBe(argumentsDigest(args.map(viaJson)));
  });

  it('survives the JSON round trip for objects with toJSON and for NaN (which JSON carries as null)', () => {
    const arg = { at: new Date(0), n: NaN, custom: { toJSON: () => 'custom' } };
    expect(argumentsDigest([arg])).toBe(argumentsDigest([viaJson(arg)]));
    expect(argumentsDigest([arg])).toBe(argumentsDigest([{ at: '1970-01-01T00:00:00.000Z', n: null, custom: 'custom' }]));
  });

  it('changes when any value changes', () => {
    const base = argumentsDigest([{ amount: 1000, to: 'a' }]);
    expect(argumentsDigest([{ amount: 1001, to: 'a' }])).not.toBe(base);
    expect(argumentsDigest([{ amount: 1000, to: 'b' }])).not.toBe(base);
    expect(argumentsDigest([{ amount: 1000, to: 'a', memo: '' }])).not.toBe(base);
  });

  it('refuses a BigInt argument with ArgumentDigestError naming its index', () => {
    expect(() => argumentsDigest([1, 10n])).toThrow(ArgumentDigestError);
    expect(() => argumentsDigest([1, 10n])).toThrow(/argument 1 cannot be serialized as JSON/);
    expect(() => argumentsView([{ nested: 1n }])).toThrow(ArgumentDigestError);
  });

  it('refuses a function or symbol argument with ArgumentDigestError', () => {
    expect(() => argumentsDigest([() => 1])).toThrow(ArgumentDigestError);
    expect(() => argumentsDigest(['a', () => 1])).toThrow(/argument 1 has no JSON form/);
    expect(() => argumentsDigest([Symbol('s')])).toThrow(ArgumentDigestError);
  });

  it('refuses a cyclic argument with ArgumentDigestError', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => argumentsDigest([cyclic])).toThrow(ArgumentDigestError);
  });

  it('ArgumentDigestError is a named Error', () => {
    let caught: unknown;
    try {
      argumentsDigest([1n]);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(Error);
    expect((caught as Error).name).toBe('ArgumentDigestError');
  });
});
