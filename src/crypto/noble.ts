// Ed25519 from @noble/ed25519: the only Ed25519 that runs inside the workflow sandbox.
import * as ed from '@noble/ed25519';
import { sha512 } from '@noble/hashes/sha2.js';
import type { Ed25519 } from '../artifact/artifact';

ed.hashes.sha512 = sha512;

export const nobleEd25519: Ed25519 = {
  sign: (message, seed) => ed.sign(message, seed),
  verify: (signature, message, key) => {
    try {
      // zip215: false = RFC 8032 strict rules, as OpenSSL applies them: both sides accept the same signatures.
      return ed.verify(signature, message, key.publicKey, { zip215: false });
    } catch {
      return false; // malformed points are a failed verification, not a crash
    }
  },
};
