// Ed25519 from node:crypto (OpenSSL): the fast path for governance and activity workers.
import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { toBase64Url } from '../common/base64url';
import type { Ed25519 } from '../artifact/artifact';
import type { TrustedKey } from '../artifact/trust-bundle';

// KeyObject creation costs more than a verification; cache per key object identity.
const publicKeys = new WeakMap<TrustedKey, KeyObject>();
// Keyed by the seed's bytes, not the array: a reused buffer must never sign with a stale key.
const privateKeys = new Map<string, KeyObject>();

function publicKeyObject(key: TrustedKey): KeyObject {
  let k = publicKeys.get(key);
  if (!k) {
    k = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: toBase64Url(key.publicKey) }, format: 'jwk' });
    publicKeys.set(key, k);
  }
  return k;
}

/** RFC 8410 PKCS#8 wrapping of a raw 32-byte Ed25519 seed. */
export function privateKeyFromSeed(seed: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.from(seed)]), format: 'der', type: 'pkcs8' });
}

function privateKeyObject(seed: Uint8Array): KeyObject {
  const id = toBase64Url(seed);
  let k = privateKeys.get(id);
  if (!k) {
    k = privateKeyFromSeed(seed);
    privateKeys.set(id, k);
  }
  return k;
}

export const nodeEd25519: Ed25519 = {
  sign: (message, seed) => new Uint8Array(sign(null, message, privateKeyObject(seed))),
  verify: (signature, message, key) => {
    try {
      return verify(null, message, publicKeyObject(key), signature);
    } catch {
      return false;
    }
  },
};
