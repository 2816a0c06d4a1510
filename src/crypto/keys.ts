// Signing keys (Ed25519 JWK files, mode 0600) and trust bundles on disk. Node-only.
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import { fromBase64Url } from '../common/base64url';
import { privateKeyFromSeed } from './node';
import type { SigningKey } from '../artifact/artifact';
import { parseTrustBundle, TrustBundleSchema, type TrustBundle, type TrustBundleDocument } from '../artifact/trust-bundle';

export class KeyError extends Error {
  override readonly name = 'KeyError';
}

const B64_32 = /^[A-Za-z0-9_-]{43}$/;

export const SigningKeyFileSchema = z
  .object({
    kty: z.literal('OKP'),
    crv: z.literal('Ed25519'),
    kid: z.string().min(1),
    x: z.string().regex(B64_32),
    d: z.string().regex(B64_32),
  })
  .strict();

export interface GeneratedKey {
  readonly kid: string;
  /** Public JWK members, safe to print and distribute. */
  readonly x: string;
}

/**
 * Generates a signing key into `keyPath` (created with mode 0600, never overwritten, never printed)
 * and adds its public half to the trust bundle at `bundlePath` (created if missing). Adding a key to
 * an existing bundle is the first half of a rotation.
 */
export function generateSigningKey(options: { keyPath: string; bundlePath: string; kid: string; now?: Date }): GeneratedKey {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const priv = privateKey.export({ format: 'jwk' });
  const pub = publicKey.export({ format: 'jwk' });
  if (!priv.d || !pub.x) throw new KeyError('key generation produced no key material');

  let bundle: TrustBundleDocument = { typ: 'temporal-governance/trust-bundle@1', keys: [] as unknown as TrustBundleDocument['keys'] };
  if (existsSync(options.bundlePath)) bundle = readTrustBundleDocument(options.bundlePath);
  if (bundle.keys.some((k) => k.kid === options.kid)) {
    throw new KeyError(`kid "${options.kid}" is already in ${options.bundlePath}; choose a new kid`);
  }

  // A fresh `secrets/` directory is private (0700); an existing one is left as its owner set it.
  mkdirSync(dirname(options.keyPath), { recursive: true, mode: 0o700 });
  mkdirSync(dirname(options.bundlePath), { recursive: true });
  let fd: number;
  try {
    fd = openSync(options.keyPath, 'wx', 0o600);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new KeyError(code === 'EEXIST' ? `${options.keyPath} already exists; refusing to overwrite a signing key` : `cannot create ${options.keyPath}: ${code}`);
  }
  try {
    writeSync(fd, `${JSON.stringify({ kty: 'OKP', crv: 'Ed25519', kid: options.kid, x: pub.x, d: priv.d }, null, 2)}\n`);
  } finally {
    closeSync(fd);
  }
  chmodSync(options.keyPath, 0o600); // openSync's mode is filtered by the umask; be exact

  const keys = [
    ...bundle.keys,
    { kid: options.kid, kty: 'OKP' as const, crv: 'Ed25519' as const, x: pub.x, notBefore: (options.now ?? new Date()).toISOString(), notAfter: null },
  ];
  writeBundleAtomically(options.bundlePath, { typ: bundle.typ, keys } as TrustBundleDocument);
  return { kid: options.kid, x: pub.x };
}

function readJson(path: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new KeyError(`cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new KeyError(`${what} ${path} is not valid JSON`); // never echo the content: it may be a key
  }
}

export function readTrustBundleDocument(path: string): TrustBundleDocument {
  const parsed = TrustBundleSchema.safeParse(readJson(path, 'trust bundle'));
  if (!parsed.success) {
    throw new KeyError(`invalid trust bundle ${path}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '<root>'}: ${i.message}`).join('; ')}`);
  }
  return parsed.data;
}

export function loadTrustBundle(path: string): TrustBundle {
  return parseTrustBundle(readTrustBundleDocument(path), path);
}

/** Loads a signing key; refuses files other users can read. */
export function loadSigningKey(path: string): SigningKey & { readonly x: string } {
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch (err) {
    throw new KeyError(`cannot read signing key ${path}: ${(err as NodeJS.ErrnoException).code}`);
  }
  if ((mode & 0o077) !== 0) {
    throw new KeyError(`signing key ${path} is accessible by group or others (mode ${(mode & 0o777).toString(8)}); run chmod 600`);
  }
  const parsed = SigningKeyFileSchema.safeParse(readJson(path, 'signing key'));
  if (!parsed.success) {
    // Only field names, never values: the file holds the private key.
    throw new KeyError(`invalid signing key ${path}: bad or missing ${parsed.error.issues.map((i) => i.path.join('.') || '<root>').join(', ')}`);
  }
  const seed = fromBase64Url(parsed.data.d);
  // A key file whose halves do not match would sign artifacts that no verifier accepts.
  const derived = createPublicKey(createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d: parsed.data.d, x: parsed.data.x }, format: 'jwk' })).export({ format: 'jwk' }).x;
  const fromSeed = createPublicKey(privateKeyFromSeed(seed)).export({ format: 'jwk' }).x;
  if (derived !== parsed.data.x || fromSeed !== parsed.data.x) throw new KeyError(`invalid signing key ${path}: the public key x does not belong to the private key d`);
  return { kid: parsed.data.kid, seed, x: parsed.data.x };
}

/**
 * A trust bundle file, loaded now (a bad bundle stops the caller from starting) and re-read when it
 * changes, so adding, retiring or removing a key takes effect without a restart. A bundle that stops
 * parsing throws at every read: callers deny.
 */
export function watchTrustBundle(path: string): () => TrustBundle {
  const stamp = () => {
    const s = statSync(path);
    return `${s.mtimeMs}:${s.size}:${s.ino}`;
  };
  let current = { stamp: stamp(), bundle: loadTrustBundle(path) };
  return () => {
    const now = stamp();
    if (now !== current.stamp) current = { stamp: now, bundle: loadTrustBundle(path) };
    return current.bundle;
  };
}

/**
 * Retires a key: from `at` on it signs nothing that verifiers accept. What it signed before stays
 * valid (open runs keep their grants); to void that too, revoke the key. Written atomically.
 */
export function retireSigningKey(options: { bundlePath: string; kid: string; at?: Date }): TrustBundleDocument {
  const bundle = readTrustBundleDocument(options.bundlePath);
  const key = bundle.keys.find((k) => k.kid === options.kid);
  if (!key) throw new KeyError(`kid "${options.kid}" is not in ${options.bundlePath}`);
  const at = (options.at ?? new Date()).toISOString();
  if (key.notAfter !== null && Date.parse(key.notAfter) <= Date.parse(at)) return bundle; // retiring never extends a key
  if (!bundle.keys.some((k) => k.kid !== options.kid && k.notAfter === null)) {
    throw new KeyError(`retiring ${options.kid} would leave ${options.bundlePath} without a current key; add the new key first`);
  }
  const next = { ...bundle, keys: bundle.keys.map((k) => (k.kid === options.kid ? { ...k, notAfter: at } : k)) } as TrustBundleDocument;
  writeBundleAtomically(options.bundlePath, next);
  return next;
}

/** Workers re-read the bundle when it changes: they must never see half of it. */
function writeBundleAtomically(path: string, bundle: TrustBundleDocument): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(bundle, null, 2)}\n`);
  renameSync(tmp, path);
}
