// rememberVerified (src/crypto/memo.ts): a remembered success is the very same check, and nothing else is.
import { generateKeyPairSync } from 'node:crypto';
import type { Ed25519 } from '../../src/artifact/artifact';
import type { TrustedKey } from '../../src/artifact/trust-bundle';
import { rememberVerified } from '../../src/crypto/memo';
import { nodeEd25519 } from '../../src/crypto/node';

function keyPair(kid: string): { seed: Uint8Array; key: TrustedKey } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const seed = new Uint8Array(Buffer.from(privateKey.export({ format: 'jwk' }).d!, 'base64url'));
  const x = new Uint8Array(Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url'));
  return { seed, key: { kid, publicKey: x, notBefore: 0, notAfter: null } };
}

/** nodeEd25519, counting the verifications that reach it. */
function counted(): Ed25519 & { calls: number } {
  const c = { calls: 0, sign: nodeEd25519.sign, verify: (s: Uint8Array, m: Uint8Array, k: TrustedKey) => ((c.calls += 1), nodeEd25519.verify(s, m, k)) };
  return c;
}

const message = new Uint8Array(Buffer.from('{"id":"art_1","amount":100}'));

test('a repeated successful check is answered from memory, with the same result', () => {
  const { seed, key } = keyPair('k1');
  const inner = counted();
  const ed = rememberVerified(inner);
  const signature = ed.sign(message, seed);
  expect(ed.verify(signature, message, key)).toBe(true);
  expect(ed.verify(signature, message, key)).toBe(true);
  expect(ed.verify(signature, Uint8Array.from(message), { ...key })).toBe(true); // equal bytes, other objects
  expect(inner.calls).toBe(1);
});

test('the same signature over another message, under another key, or altered is checked for real and fails', () => {
  const { seed, key } = keyPair('k1');
  const other = keyPair('k1'); // same kid, other key: the public key is what counts
  const inner = counted();
  const ed = rememberVerified(inner);
  const signature = ed.sign(message, seed);
  expect(ed.verify(signature, message, key)).toBe(true);
  const edited = Uint8Array.from(message);
  edited[10]! ^= 1;
  expect(ed.verify(signature, edited, key)).toBe(false);
  expect(ed.verify(signature, message, other.key)).toBe(false);
  const flipped = Uint8Array.from(signature);
  flipped[0]! ^= 1;
  expect(ed.verify(flipped, message, key)).toBe(false);
  expect(inner.calls).toBe(4);
  // The genuine check is still remembered after the failures.
  expect(ed.verify(signature, message, key)).toBe(true);
  expect(inner.calls).toBe(4);
});

test('failures are never remembered, and memory is bounded (oldest out first)', () => {
  const { seed, key } = keyPair('k1');
  const inner = counted();
  const ed = rememberVerified(inner, 2);
  const bad = new Uint8Array(64);
  expect(ed.verify(bad, message, key)).toBe(false);
  expect(ed.verify(bad, message, key)).toBe(false);
  expect(inner.calls).toBe(2);
  const sigs = [1, 2, 3].map((n) => {
    const m = new Uint8Array([n]);
    return { m, s: ed.sign(m, seed) };
  });
  for (const { m, s } of sigs) expect(ed.verify(s, m, key)).toBe(true);
  expect(inner.calls).toBe(5);
  expect(ed.verify(sigs[2]!.s, sigs[2]!.m, key)).toBe(true); // remembered
  expect(ed.verify(sigs[0]!.s, sigs[0]!.m, key)).toBe(true); // evicted: checked again
  expect(inner.calls).toBe(6);
});
