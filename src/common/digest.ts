// Argument digests, computed identically in the workflow sandbox (values before payload conversion)
// and in the activity (values after decoding). Sandbox-safe: pure JS hashing from @noble/hashes.
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { canonicalize, CanonicalEncodingError } from './canonical';

export class ArgumentDigestError extends Error {
  override readonly name = 'ArgumentDigestError';
}

export function sha256Hex(text: string): string {
  return bytesToHex(sha256(utf8ToBytes(text)));
}

/**
 * The default JSON payload converter carries a top-level `undefined` as binary/null and a top-level
 * Uint8Array as binary/plain; everything else travels as JSON, so its observable form is what
 * JSON.stringify produces (Dates become ISO strings, undefined members vanish, nested byte arrays
 * become index-keyed objects). Tagging each argument by its carrier keeps `undefined`, bytes and
 * JSON values from ever colliding.
 */
export function argumentsView(args: readonly unknown[]): unknown[] {
  return args.map((arg, index) => {
    if (arg === undefined) return ['undefined'];
    if (arg instanceof Uint8Array) return ['bytes', bytesToHex(arg)];
    let json: string | undefined;
    try {
      json = JSON.stringify(arg);
    } catch (err) {
      throw new ArgumentDigestError(`argument ${index} cannot be serialized as JSON: ${(err as Error).message}`);
    }
    // JSON.stringify returns undefined for functions and symbols: the payload converter refuses them too.
    if (json === undefined) throw new ArgumentDigestError(`argument ${index} has no JSON form`);
    return ['json', JSON.parse(json)];
  });
}

/** `sha256:<hex>` over the RFC 8785 canonical form of {@link argumentsView}. */
export function argumentsDigest(args: readonly unknown[]): string {
  let canonical: string;
  try {
    canonical = canonicalize(argumentsView(args));
  } catch (err) {
    if (err instanceof CanonicalEncodingError) throw new ArgumentDigestError(`arguments cannot be canonicalized: ${err.message}`);
    throw err;
  }
  return `sha256:${sha256Hex(canonical)}`;
}
