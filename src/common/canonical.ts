// RFC 8785 JSON Canonicalization Scheme (JCS). Sandbox-safe: no Node modules.
//
// ECMAScript's JSON.stringify already serializes strings and finite numbers exactly as RFC 8785
// requires (the RFC defines its number format by reference to ES Number.prototype.toString), so
// the only canonical work left is sorting object keys by UTF-16 code units and rejecting every
// value that has no JSON form instead of silently dropping or coercing it.

export class CanonicalEncodingError extends Error {
  override readonly name = 'CanonicalEncodingError';
  constructor(
    message: string,
    readonly path: string,
  ) {
    super(`${message} at ${path || '<root>'}`);
  }
}

export function canonicalize(value: unknown): string {
  return encode(value, '');
}

// RFC 8785 section 3.2.2.2: a lone surrogate is not a Unicode string and must be an error.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function encodeString(value: string, path: string): string {
  if (LONE_SURROGATE.test(value)) throw new CanonicalEncodingError('string contains a lone surrogate', path);
  return JSON.stringify(value);
}

function encode(value: unknown, path: string): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'string':
      return encodeString(value, path);
    case 'number':
      if (!Number.isFinite(value)) throw new CanonicalEncodingError(`non-finite number ${value}`, path);
      return JSON.stringify(value);
    case 'object':
      break;
    default:
      throw new CanonicalEncodingError(`${typeof value} has no JSON form`, path);
  }
  if (Array.isArray(value)) {
    const items: string[] = [];
    // An index loop, not map(): map skips holes and would emit `[1,,2]`.
    for (let i = 0; i < value.length; i++) {
      if (!(i in value)) throw new CanonicalEncodingError('array hole has no JSON form', `${path}[${i}]`);
      items.push(encode(value[i], `${path}[${i}]`));
    }
    return `[${items.join(',')}]`;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) {
    throw new CanonicalEncodingError(`${proto?.constructor?.name ?? 'object'} is not a plain JSON object`, path);
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record).sort();
  const members: string[] = [];
  for (const key of keys) {
    const member = record[key];
    if (member === undefined) throw new CanonicalEncodingError('undefined has no JSON form', `${path}.${key}`);
    members.push(`${encodeString(key, `${path}.${key}`)}:${encode(member, `${path}.${key}`)}`);
  }
  return `{${members.join(',')}}`;
}

/**
 * Text with every lone surrogate replaced by U+FFFD. Reasons quote caller-controlled values, cut to
 * length, and a cut can split a surrogate pair; RFC 8785 refuses lone surrogates, so a reason must
 * be made well formed before it is signed.
 */
export function wellFormed(text: string): string {
  return text.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}
