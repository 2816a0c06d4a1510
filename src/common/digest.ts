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

/** Decoded values whose contents JSON.stringify drops entirely (each becomes `{}`). */
const OPAQUE_TO_JSON: ReadonlyArray<[new (...args: never[]) => object, string]> = [
  [Map, 'a Map'],
  [Set, 'a Set'],
  [WeakMap, 'a WeakMap'],
  [WeakSet, 'a WeakSet'],
  [ArrayBuffer, 'an ArrayBuffer'],
  [DataView, 'a DataView'],
];

/**
 * The digest of arguments as a worker decoded them (enforcement point, run start read). Same digest
 * as {@link argumentsDigest}, but refuses values whose contents the JSON view cannot see: a custom
 * payload converter that revives a Map or a Set would otherwise get an artifact bound to `{}` admit
 * any contents. The default payload converter never decodes such values (it decodes JSON), so this
 * refuses nothing it carries. What the digest covers for other revived values: docs/codecs.md.
 */
export function decodedArgumentsDigest(args: readonly unknown[]): string {
  const seen = new Set<object>();
  const visit = (value: unknown, path: string): void => {
    if (value === null || typeof value !== 'object' || seen.has(value)) return;
    seen.add(value);
    for (const [type, name] of OPAQUE_TO_JSON) {
      if (value instanceof type) throw new ArgumentDigestError(`${path} decodes to ${name}, whose contents the argument digest cannot cover (a custom payload converter?)`);
    }
    if (ArrayBuffer.isView(value)) return;
    // Any other revived object whose JSON form is `{}` while it is no plain object (a RegExp, an
    // Error, a class keeping its state in #private fields): its contents are invisible to the digest.
    const prototype = Object.getPrototypeOf(value) as object | null;
    const plain = prototype === null || prototype === Object.prototype || Array.isArray(value) || value instanceof Date;
    if (!plain && typeof (value as { toJSON?: unknown }).toJSON !== 'function' && Object.keys(value).length === 0) {
      throw new ArgumentDigestError(`${path} decodes to a ${prototype?.constructor?.name ?? 'object'} whose JSON form is {}: the argument digest cannot cover its contents (a custom payload converter?)`);
    }
    for (const key of Object.keys(value)) visit((value as Record<string, unknown>)[key], `${path}${Array.isArray(value) ? `[${key}]` : `.${key}`}`);
  };
  args.forEach((arg, index) => visit(arg, `argument ${index}`));
  return argumentsDigest(args);
}
