// src/common/base64url.ts against Node's own base64url (RFC 4648 section 5, no padding).
import { randomBytes } from 'node:crypto';
import { fromBase64Url, toBase64Url } from '../../src/common/base64url';

/** Deterministic pseudo-random bytes (xorshift32) so failures reproduce. */
function pseudoRandomBytes(length: number, seed: number): Uint8Array {
  let x = seed >>> 0 || 1;
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

const lengths = Array.from({ length: 71 }, (_, n) => n);

describe('toBase64Url / fromBase64Url round trip', () => {
  it.each(lengths)('length %i matches Buffer base64url both ways', (n) => {
    for (const bytes of [pseudoRandomBytes(n, n + 1), new Uint8Array(n).fill(0xff), new Uint8Array(n)]) {
      const expected = Buffer.from(bytes).toString('base64url');
      const encoded = toBase64Url(bytes);
      expect(encoded).toBe(expected);
      expect(encoded).not.toContain('=');
      expect(encoded).toHaveLength(Math.ceil((n * 4) / 3));
      const decoded = fromBase64Url(expected);
      expect(decoded).toBeInstanceOf(Uint8Array);
      expect(Buffer.from(decoded).equals(Buffer.from(bytes))).toBe(true);
    }
  });

  it('round-trips random bytes from node:crypto', () => {
    for (let i = 0; i < 200; i++) {
      const bytes = new Uint8Array(randomBytes(i % 97));
      const text = toBase64Url(bytes);
      expect(text).toBe(Buffer.from(bytes).toString('base64url'));
      expect(Buffer.from(fromBase64Url(text)).equals(Buffer.from(bytes))).toBe(true);
    }
  });

  it('uses - and _ instead of + and /', () => {
    expect(toBase64Url(new Uint8Array([0xfb, 0xff]))).toBe('-_8');
    expect(toBase64Url(new Uint8Array([0xfb, 0xef, 0xbe]))).toBe('----');
    expect(toBase64Url(new Uint8Array([0xff, 0xff, 0xff]))).toBe('____');
    expect(Array.from(fromBase64Url('-_8'))).toEqual([0xfb, 0xff]);
  });

  it('matches the RFC 4648 section 10 test vectors', () => {
    const vectors: Array<[string, string]> = [
      ['', ''],
      ['f', 'Zg'],
      ['fo', 'Zm8'],
      ['foo', 'Zm9v'],
      ['foob', 'Zm9vYg'],
      ['fooba', 'Zm9vYmE'],
      ['foobar', 'Zm9vYmFy'],
    ];
    for (const [plain, encoded] of vectors) {
      expect(toBase64Url(new TextEncoder().encode(plain))).toBe(encoded);
      expect(new TextDecoder().decode(fromBase64Url(encoded))).toBe(plain);
    }
  });

  it('decodes a 32-byte key (43 characters) and a 64-byte signature (86 characters)', () => {
    const key = pseudoRandomBytes(32, 99);
    const sig = pseudoRandomBytes(64, 98);
    expect(toBase64Url(key)).toHaveLength(43);
    expect(toBase64Url(sig)).toHaveLength(86);
    expect(fromBase64Url(toBase64Url(key))).toHaveLength(32);
    expect(fromBase64Url(toBase64Url(sig))).toHaveLength(64);
  });
});

describe('fromBase64Url rejects', () => {
  it.each(['Zm9v=', 'Zg==', 'Zm+v', 'Zm/v', 'Zm 9v', 'Zm9v\n', 'Zm.v', '\u00e9AAA', '\ud83d\ude00AA', 'AAA*'])(
    'the invalid character in %p',
    (text) => {
      expect(() => fromBase64Url(text)).toThrow(/invalid base64url/);
    },
  );

  it('a "=" with the message naming the character', () => {
    expect(() => fromBase64Url('Zg==')).toThrow('invalid base64url character "="');
  });

  it.each(['A', 'AAAAA', 'Zm9vY', 'A'.repeat(85 + 4)])('the impossible length of %p (length % 4 === 1)', (text) => {
    expect(() => fromBase64Url(text)).toThrow('invalid base64url length');
  });

  it.each([
    // 2 characters carry 12 bits for 1 byte: the last 4 bits must be zero.
    ['Zh', 'Zg'],
    ['Zv', 'Zg'],
    ['AB', 'AA'],
    // 3 characters carry 18 bits for 2 bytes: the last 2 bits must be zero.
    ['Zm9', 'Zm8'],
    ['AAB', 'AAA'],
    ['AAD', 'AAA'],
  ])('the non-canonical %p (canonical spelling %p)', (bad, good) => {
    expect(() => fromBase64Url(bad)).toThrow('non-canonical base64url');
    expect(() => fromBase64Url(good)).not.toThrow();
    // Node is lenient and decodes both to the same bytes: that is exactly the ambiguity refused here.
    expect(Buffer.from(bad, 'base64url').equals(Buffer.from(good, 'base64url'))).toBe(true);
  });

  it('every non-canonical final character of a 1-byte encoding', () => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    let accepted = 0;
    for (const c of alphabet) {
      try {
        fromBase64Url(`Q${c}`);
        accepted++;
      } catch (err) {
        expect((err as Error).message).toBe('non-canonical base64url');
      }
    }
    // Only the 4 characters whose low 4 bits are zero (A, Q, g, w) are canonical.
    expect(accepted).toBe(4);
  });

  it('a signature altered only in its trailing bits', () => {
    const sig = toBase64Url(pseudoRandomBytes(64, 5));
    const last = sig[sig.length - 1]!;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const tweaked = sig.slice(0, -1) + alphabet[alphabet.indexOf(last) ^ 1];
    expect(() => fromBase64Url(tweaked)).toThrow('non-canonical base64url');
  });
});
