// RFC 8785 (JCS) conformance of src/common/canonical.ts.
import { canonicalize, CanonicalEncodingError } from '../../src/common/canonical';

/** The IEEE 754 double whose bits are `hex` (RFC 8785 appendix B writes its samples this way). */
function double(hex: string): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setBigUint64(0, BigInt(`0x${hex}`));
  return view.getFloat64(0);
}

function thrown(fn: () => unknown): unknown {
  let result: unknown;
  try {
    result = fn();
  } catch (err) {
    return err;
  }
  throw new Error(`expected the call to throw, but it returned ${JSON.stringify(result)}`);
}

function expectEncodingError(value: unknown, path: string, message?: RegExp): void {
  const err = thrown(() => canonicalize(value));
  expect(err).toBeInstanceOf(CanonicalEncodingError);
  const e = err as CanonicalEncodingError;
  expect(e.name).toBe('CanonicalEncodingError');
  expect(e.path).toBe(path);
  expect(e.message).toContain(`at ${path || '<root>'}`);
  if (message) expect(e.message).toMatch(message);
}

describe('canonicalize: key ordering', () => {
  it('sorts the RFC 8785 section 3.2.3 example by UTF-16 code units', () => {
    const input = {
      '\u20ac': 'Euro Sign',
      '\r': 'Carriage Return',
      '\ufb33': 'Hebrew Letter Dalet With Dagesh',
      '1': 'One',
      '\ud83d\ude00': 'Emoji: Grinning Face',
      '\u0080': 'Control',
      '\u00f6': 'Latin Small Letter O With Diaeresis',
    };
    const out = canonicalize(input);
    const values = Object.values(JSON.parse(out) as Record<string, string>);
    // JSON.parse re-orders integer-like keys ("1") first, so read the order from the text instead.
    const order = [...out.matchAll(/:"([^"]+)"/g)].map((m) => m[1]);
    expect(order).toEqual([
      'Carriage Return',
      'One',
      'Control',
      'Latin Small Letter O With Diaeresis',
      'Euro Sign',
      'Emoji: Grinning Face',
      'Hebrew Letter Dalet With Dagesh',
    ]);
    expect(values).toHaveLength(7);
    expect(out).toBe(
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis",' +
        '"\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    );
  });

  it('orders a surrogate pair (U+1F600) before U+FB33: code units, not code points', () => {
    // By code point U+FB33 < U+1F600; by UTF-16 code unit 0xD83D < 0xFB33.
    expect(canonicalize({ '\ufb33': 1, '\ud83d\ude00': 2 })).toBe('{"\ud83d\ude00":2,"\ufb33":1}');
  });

  it('does not sort numerically or case-insensitively', () => {
    expect(canonicalize({ '10': 'a', '9': 'b', '1': 'c', b: 1, B: 2, a: 3, A: 4, _: 5 })).toBe(
      '{"1":"c","10":"a","9":"b","A":4,"B":2,"_":5,"a":3,"b":1}',
    );
  });

  it('puts a key before every key it is a prefix of', () => {
    expect(canonicalize({ ab: 1, a: 2, abc: 3, '': 4 })).toBe('{"":4,"a":2,"ab":1,"abc":3}');
  });

  it('is independent of insertion order, recursively', () => {
    const a = { z: { y: 1, x: [{ b: 1, a: 2 }] }, a: null };
    const b = { a: null, z: { x: [{ a: 2, b: 1 }], y: 1 } };
    expect(canonicalize(a)).toBe(canonicalize(b));
    expect(canonicalize(a)).toBe('{"a":null,"z":{"x":[{"a":2,"b":1}],"y":1}}');
  });

  it('accepts objects with a null prototype', () => {
    const o = Object.create(null) as Record<string, unknown>;
    o.b = 1;
    o.a = 2;
    expect(canonicalize(o)).toBe('{"a":2,"b":1}');
  });
});

describe('canonicalize: numbers (RFC 8785 section 3.2.2.3, appendix B)', () => {
  const appendixB: Array<[string, string]> = [
    ['0000000000000000', '0'],
    ['8000000000000000', '0'], // -0
    ['0000000000000001', '5e-324'],
    ['8000000000000001', '-5e-324'],
    ['7fefffffffffffff', '1.7976931348623157e+308'],
    ['ffefffffffffffff', '-1.7976931348623157e+308'],
    ['4340000000000000', '9007199254740992'],
    ['c340000000000000', '-9007199254740992'],
    ['4430000000000000', '295147905179352830000'],
    ['44b52d02c7e14af5', '9.999999999999997e+22'],
    ['44b52d02c7e14af6', '1e+23'],
    ['44b52d02c7e14af7', '1.0000000000000001e+23'],
    ['444b1ae4d6e2ef4e', '999999999999999700000'],
    ['444b1ae4d6e2ef4f', '999999999999999900000'],
    ['444b1ae4d6e2ef50', '1e+21'],
    ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'],
    ['3eb0c6f7a0b5ed8d', '0.000001'],
    ['41b3de4355555553', '333333333.3333332'],
    ['41b3de4355555554', '333333333.33333325'],
    ['41b3de4355555555', '333333333.3333333'],
    ['41b3de4355555556', '333333333.3333334'],
    ['41b3de4355555557', '333333333.33333343'],
    ['becbf647612f3696', '-0.0000033333333333333333'],
    ['43143ff3c1cb0959', '1424953923781206.2'],
  ];
  it.each(appendixB)('IEEE 754 %s serializes as %s', (hex, expected) => {
    expect(canonicalize(double(hex))).toBe(expected);
  });

  const literals: Array<[number, string]> = [
    [1e21, '1e+21'],
    [1e20, '100000000000000000000'],
    [1e-7, '1e-7'],
    [1e-6, '0.000001'],
    [-0, '0'],
    [0.1 + 0.2, '0.30000000000000004'],
    // ES prints the shortest round-tripping digits, then zeros: not the exact integer 1152921504606846976.
    [2 ** 60, '1152921504606847000'],
    [9007199254740991, '9007199254740991'],
    [-9007199254740991, '-9007199254740991'],
    [333333333.33333329, '333333333.3333333'],
    [1e30, '1e+30'],
    [4.5, '4.5'],
    [4.5e0, '4.5'],
    [2e-3, '0.002'],
    [0.000000000000000000000000001, '1e-27'],
    [123456789012345680000, '123456789012345680000'],
    [-1.5, '-1.5'],
    [100, '100'],
    [Number.MIN_VALUE, '5e-324'],
  ];
  it.each(literals)('%p serializes as %s', (value, expected) => {
    expect(canonicalize(value)).toBe(expected);
  });

  it('serializes -0 as 0 inside structures too', () => {
    expect(canonicalize({ a: [-0, { b: -0 }] })).toBe('{"a":[0,{"b":0}]}');
  });

  it.each([
    [NaN, /non-finite number NaN/],
    [Infinity, /non-finite number Infinity/],
    [-Infinity, /non-finite number -Infinity/],
  ])('rejects %p with CanonicalEncodingError', (value, message) => {
    expectEncodingError(value, '', message);
  });

  it('names the path of a nested non-finite number', () => {
    expectEncodingError({ a: { b: [1, 2, NaN] } }, '.a.b[2]', /non-finite/);
    expectEncodingError([{ x: Infinity }], '[0].x', /non-finite/);
  });
});

describe('canonicalize: strings (RFC 8785 section 3.2.2.2)', () => {
  it('reproduces the RFC 8785 section 3.2.2 example', () => {
    const input = JSON.parse(
      '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],' +
        ' "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",' +
        ' "literals": [null, true, false]}',
    );
    expect(canonicalize(input)).toBe(
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],' +
        '"string":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    );
  });

  it('uses the short escapes for \\b \\t \\n \\f \\r, quote and backslash', () => {
    expect(canonicalize('\b\t\n\f\r"\\')).toBe('"\\b\\t\\n\\f\\r\\"\\\\"');
  });

  it('escapes the other C0 controls as lowercase \\u00xx', () => {
    expect(canonicalize('\u0000\u0001\u000b\u000e\u001f')).toBe('"\\u0000\\u0001\\u000b\\u000e\\u001f"');
  });

  it('emits everything else as is: DEL, U+0080, U+2028, U+2029, "/", non-BMP', () => {
    const s = '\u007f\u0080\u2028\u2029/\u00e9\u20ac\ud83d\ude00';
    expect(canonicalize(s)).toBe(`"${s}"`);
  });

  it('escapes keys exactly like values', () => {
    expect(canonicalize({ 'a"b': 1, '\n': 2 })).toBe('{"\\n":2,"a\\"b":1}');
  });

  it('does not normalize Unicode (NFC and NFD stay distinct)', () => {
    expect(canonicalize('\u00e9')).not.toBe(canonicalize('e\u0301'));
    expect(canonicalize('e\u0301')).toBe('"e\u0301"');
  });

  // RFC 8785 section 3.2.2.2, Note: lone surrogates "MUST cause a compliant JCS implementation to
  // terminate with an appropriate error".
  it.each([
    ['lone high surrogate', '\ud800'],
    ['lone low surrogate', '\udc00'],
    ['reversed pair', '\ude00\ud83d'],
    ['high surrogate at the end', 'abc\ud83d'],
  ])('rejects a %s in a string value', (_label, s) => {
    expectEncodingError({ s }, '.s');
  });

  it('rejects a lone surrogate in a member name', () => {
    expect(() => canonicalize({ '\udead': 1 })).toThrow(CanonicalEncodingError);
  });
});

describe('canonicalize: structure', () => {
  it('serializes literals', () => {
    expect(canonicalize(null)).toBe('null');
    expect(canonicalize(true)).toBe('true');
    expect(canonicalize(false)).toBe('false');
    expect(canonicalize('')).toBe('""');
  });

  it('keeps array order and sorts objects inside arrays', () => {
    expect(canonicalize([3, 1, 2, { b: [], a: {} }, [[]]])).toBe('[3,1,2,{"a":{},"b":[]},[[]]]');
  });

  it('emits no whitespace', () => {
    expect(canonicalize({ a: [1, { b: 'c d' }], e: {} })).toBe('{"a":[1,{"b":"c d"}],"e":{}}');
  });

  it('produces text that JSON.parse reads back to an equal value', () => {
    const value = { z: [1, 'two', null, true, { y: -0.5, x: [] }], a: { '\u00f6': 'x', '\ud83d\ude00': 'y' } };
    expect(JSON.parse(canonicalize(value))).toEqual(value);
  });

  it('is idempotent: canonicalizing the parsed canonical text changes nothing', () => {
    const value = { b: [1e21, 1e-7, 'x\n'], a: { d: null, c: false } };
    const once = canonicalize(value);
    expect(canonicalize(JSON.parse(once))).toBe(once);
  });

  it('serializes only the elements of an array, not its extra properties', () => {
    const arr = Object.assign([1, 2], { extra: 'x' });
    expect(canonicalize(arr)).toBe('[1,2]');
  });

  it('rejects holes in sparse arrays rather than emitting invalid JSON', () => {
    // eslint-disable-next-line no-sparse-arrays
    const sparse = [1, , 2];
    expectEncodingError(sparse, '[1]');
    expect(() => canonicalize(new Array(2))).toThrow(CanonicalEncodingError);
  });
});

describe('canonicalize: values with no JSON form', () => {
  it('rejects an undefined member with its path', () => {
    expectEncodingError({ a: 1, b: undefined }, '.b', /undefined has no JSON form/);
    expectEncodingError({ a: [{ c: { d: undefined } }] }, '.a[0].c.d', /undefined/);
  });

  it('rejects undefined at the root and inside arrays', () => {
    expectEncodingError(undefined, '', /undefined/);
    expectEncodingError([1, undefined], '[1]', /undefined/);
  });

  it('rejects bigint', () => {
    expectEncodingError(10n, '', /bigint has no JSON form/);
    expectEncodingError({ n: [1n] }, '.n[0]', /bigint/);
  });

  it('rejects functions and symbols', () => {
    expectEncodingError({ f: () => 1 }, '.f', /function has no JSON form/);
    expectEncodingError([Symbol('s')], '[0]', /symbol has no JSON form/);
  });

  it('rejects Date instead of calling toJSON', () => {
    expectEncodingError({ when: new Date(0) }, '.when', /Date is not a plain JSON object/);
  });

  it('rejects Map, Set, Uint8Array and RegExp', () => {
    expectEncodingError(new Map([['a', 1]]), '', /Map is not a plain JSON object/);
    expectEncodingError({ s: new Set([1]) }, '.s', /Set is not a plain JSON object/);
    expectEncodingError({ b: new Uint8Array([1]) }, '.b', /Uint8Array is not a plain JSON object/);
    expectEncodingError([/x/], '[0]', /RegExp is not a plain JSON object/);
  });

  it('rejects class instances even when they look like plain data', () => {
    class Point {
      constructor(
        readonly x: number,
        readonly y: number,
      ) {}
    }
    expectEncodingError({ p: new Point(1, 2) }, '.p', /Point is not a plain JSON object/);
  });

  it('rejects boxed primitives', () => {
    // eslint-disable-next-line no-new-wrappers
    expectEncodingError(new String('x'), '', /String is not a plain JSON object/);
  });

  it('CanonicalEncodingError is an Error with a readable message', () => {
    const err = thrown(() => canonicalize({ a: undefined }));
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toBe('undefined has no JSON form at .a');
  });
});
