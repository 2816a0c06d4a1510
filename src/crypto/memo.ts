// Verified signatures remembered: a run grant is the parent of every call its run makes, and each
// of those authorizations verifies it again. A hit must be the very same check, so the entry is
// keyed by public key and signature and holds the SHA-256 of the message that verified; only
// successes are kept (a failure is cheap to repeat and must never be remembered as one).
import { createHash } from 'node:crypto';
import type { Ed25519 } from '../artifact/artifact';
import type { TrustedKey } from '../artifact/trust-bundle';

export function rememberVerified(ed: Ed25519, maxEntries = DEFAULT_MAX_REMEMBERED): Ed25519 {
  const verified = new Map<string, string>();
  return {
    sign: (message, seed) => ed.sign(message, seed),
    verify: (signature: Uint8Array, message: Uint8Array, key: TrustedKey) => {
      const id = `${Buffer.from(key.publicKey).toString('base64')}.${Buffer.from(signature).toString('base64')}`;
      const digest = createHash('sha256').update(message).digest('base64');
      if (verified.get(id) === digest) return true;
      if (!ed.verify(signature, message, key)) return false;
      verified.delete(id);
      verified.set(id, digest);
      if (verified.size > maxEntries) verified.delete(verified.keys().next().value!);
      return true;
    },
  };
}

/** About 200 bytes each: the grants of the runs a governance worker is serving, and then some. */
export const DEFAULT_MAX_REMEMBERED = 10_000;
