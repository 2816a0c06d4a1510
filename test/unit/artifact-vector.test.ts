// Verifies docs/test-vectors/artifact-v3.json and denial-v2.json the way an outsider would: from
// docs/artifact.md alone, with node:crypto's Ed25519 and SHA-256 and a small RFC 8785 (JCS)
// implementation written here. The first part ("independent verifier") uses nothing of ours; the
// second part then checks that our implementation agrees with the vector byte for byte.
import { createHash, createPrivateKey, createPublicKey, verify as ed25519Verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
// Used only by the "our implementation agrees" part below.
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import {
  CLOCK_SKEW_MS,
  payloadHash,
  signArtifact,
  signDenial,
  signingInput,
  verifyArtifactForCall,
  verifySignedArtifact,
  type ActivityCall,
} from '../../src/artifact/artifact';
import { parseTrustBundle } from '../../src/artifact/trust-bundle';
import { DenyCodes } from '../../src/common/constants';
import { argumentsDigest } from '../../src/common/digest';
import type { ArtifactPayload, DenialPayload } from '../../src/common/schemas';
import { nobleEd25519 } from '../../src/crypto/noble';
import { nodeEd25519 } from '../../src/crypto/node';

// ---------------------------------------------------------------------------------------------
// The vectors, read as plain JSON.
// ---------------------------------------------------------------------------------------------
type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

interface TrustBundleDoc {
  typ: string;
  keys: { kid: string; kty: string; crv: string; x: string; notBefore: string; notAfter: string | null }[];
}
interface SignedSection {
  payload: JsonObject;
  signingInput: string;
  signingInputLength: number;
  payloadHash: string;
  signature: string;
  signatureHex: string;
  signed: { payload: JsonObject; signature: string };
}
type Wire = { encoding: 'json/plain'; data: string } | { encoding: 'binary/plain'; dataHex: string } | { encoding: 'binary/null' };
interface ArtifactVector {
  key: {
    kid: string;
    seedHex: string;
    publicKeyHex: string;
    publicKeyBase64url: string;
    signingKeyFile: { kty: string; crv: string; kid: string; x: string; d: string };
  };
  trustBundle: TrustBundleDoc;
  verificationTime: number;
  runGrant: SignedSection & { workflowArguments: { javascript: string; view: Json[]; argsDigest: string } };
  artifact: SignedSection & {
    arguments: { javascript: string; wire: Wire[]; view: Json[]; canonicalView: string; argsDigest: string };
    call: ActivityCall;
  };
}
interface DenialVector {
  trustBundle: TrustBundleDoc;
  arguments: { javascript: string; view: Json[]; argsDigest: string };
  denial: SignedSection;
}

const VECTORS = join(__dirname, '..', '..', 'docs', 'test-vectors');
const vector = JSON.parse(readFileSync(join(VECTORS, 'artifact-v3.json'), 'utf8')) as ArtifactVector;
const denialVector = JSON.parse(readFileSync(join(VECTORS, 'denial-v2.json'), 'utf8')) as DenialVector;

// ---------------------------------------------------------------------------------------------
// Independent verifier: written from docs/artifact.md, no project code.
// ---------------------------------------------------------------------------------------------
const ARTIFACT_TYP = 'temporal-governance/authorization-artifact@3';
const DENIAL_TYP = 'temporal-governance/denial@2';
/** The binding both documents share (version 2 added taskQueue). */
const BINDING_FIELDS = [
  'decisionId', 'action', 'target', 'namespace', 'workflowId', 'runId', 'activityId', 'childWorkflowId', 'taskQueue', 'argsDigest', 'policy', 'rules',
  'parent', 'issuedAt', 'rootId',
];
const ARTIFACT_FIELDS = [
  'typ', 'id', 'kid', 'iss', 'principal', 'credential', 'roles', ...BINDING_FIELDS, 'chain', 'ancestors', 'ancestorKids', 'exempt', 'expiresAt',
].sort();
const DENIAL_FIELDS = ['typ', 'id', 'kid', 'iss', 'principal', ...BINDING_FIELDS, 'code', 'reason'].sort();

/** RFC 8785: object members sorted by UTF-16 code units. */
function compareUtf16(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a.charCodeAt(i) - b.charCodeAt(i);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/** RFC 8785 section 3.2.2.2: escape `"`, `\` and U+0000..U+001F; everything else is literal. */
function jcsString(s: string): string {
  const short: Record<number, string> = { 0x08: '\\b', 0x09: '\\t', 0x0a: '\\n', 0x0c: '\\f', 0x0d: '\\r', 0x22: '\\"', 0x5c: '\\\\' };
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = s.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) throw new Error('lone surrogate: not I-JSON');
      out += s[i]! + s[i + 1]!;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      throw new Error('lone surrogate: not I-JSON');
    } else if (short[c] !== undefined) {
      out += short[c];
    } else if (c < 0x20) {
      out += `\\u${c.toString(16).padStart(4, '0')}`;
    } else {
      out += s[i];
    }
  }
  return `${out}"`;
}

/** RFC 8785 (JCS). Numbers: ECMAScript Number.prototype.toString, which the RFC adopts verbatim. */
function jcs(value: Json): string {
  if (value === null) return 'null';
  if (value === true) return 'true';
  if (value === false) return 'false';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error('non-finite number');
    return String(value); // String(-0) === '0'
  }
  if (typeof value === 'string') return jcsString(value);
  if (Array.isArray(value)) return `[${value.map(jcs).join(',')}]`;
  const keys = Object.keys(value).sort(compareUtf16);
  return `{${keys.map((k) => `${jcsString(k)}:${jcs(value[k]!)}`).join(',')}}`;
}

const sha256 = (bytes: Uint8Array | string) => createHash('sha256').update(bytes).digest('hex');

/** base64url without padding; rejects anything but the one canonical spelling. */
function base64urlDecode(text: string): Buffer {
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) throw new Error('not unpadded base64url');
  const bytes = Buffer.from(text, 'base64url');
  if (bytes.toString('base64url') !== text) throw new Error('non-canonical base64url');
  return bytes;
}

function ed25519VerifyRaw(publicKeyX: string, signature: Uint8Array, message: Uint8Array): boolean {
  const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: publicKeyX }, format: 'jwk' });
  return ed25519Verify(null, message, key, signature); // pure Ed25519 (no pre-hash)
}

/** A trust-bundle key is valid at time t (ms) when notBefore <= t < notAfter (notAfter null = open). */
function keyValidAt(key: TrustBundleDoc['keys'][number], t: number): boolean {
  return Date.parse(key.notBefore) <= t && (key.notAfter === null || t < Date.parse(key.notAfter));
}

/** The argument view rebuilt from the Temporal payloads an activity receives. */
function viewFromWire(wire: Wire): Json {
  switch (wire.encoding) {
    case 'binary/null':
      return ['undefined'];
    case 'binary/plain':
      return ['bytes', Buffer.from(wire.dataHex, 'hex').toString('hex')];
    case 'json/plain':
      return ['json', JSON.parse(wire.data) as Json];
  }
}

type Outcome = { ok: true } | { ok: false; why: string };

/** docs/artifact.md "Verifying an artifact", steps 1-9 (signature, key and type; not the call binding). */
function independentVerify(signed: unknown, bundle: TrustBundleDoc, now: number): Outcome {
  if (typeof signed !== 'object' || signed === null || Array.isArray(signed)) return { ok: false, why: 'not an object' };
  const s = signed as { payload?: JsonObject; signature?: unknown };
  if (Object.keys(s).sort().join() !== 'payload,signature') return { ok: false, why: 'members must be exactly payload, signature' };
  const p = s.payload;
  if (typeof p !== 'object' || p === null || Array.isArray(p)) return { ok: false, why: 'payload is not an object' };
  if (p.typ !== ARTIFACT_TYP) return { ok: false, why: `wrong typ ${String(p.typ)}` };
  if (Object.keys(p).sort().join() !== ARTIFACT_FIELDS.join()) return { ok: false, why: 'payload members differ from the specification' };
  if (typeof p.issuedAt !== 'number' || !Number.isSafeInteger(p.issuedAt) || p.issuedAt < 0) return { ok: false, why: 'bad issuedAt' };
  const key = bundle.keys.find((k) => k.kid === p.kid);
  if (!key) return { ok: false, why: 'unknown kid' };
  if (!keyValidAt(key, p.issuedAt)) return { ok: false, why: 'key not valid at issuedAt' };
  if (p.issuedAt > now + 5_000) return { ok: false, why: 'issued in the future' };
  if (typeof s.signature !== 'string') return { ok: false, why: 'signature is not a string' };
  let signature: Buffer;
  try {
    signature = base64urlDecode(s.signature);
  } catch (err) {
    return { ok: false, why: (err as Error).message };
  }
  if (signature.length !== 64) return { ok: false, why: 'signature is not 64 bytes' };
  const input = Buffer.from(jcs(p), 'utf8');
  if (!ed25519VerifyRaw(key.x, signature, input)) return { ok: false, why: 'bad signature' };
  return { ok: true };
}

describe('independent verification of docs/test-vectors (no project code)', () => {
  const bundleKey = vector.trustBundle.keys[0]!;

  test('the published test key: seed 0x00..0x1f gives the listed public key, and the trust bundle holds it', () => {
    expect(vector.key.seedHex).toBe(Buffer.from(Array.from({ length: 32 }, (_, i) => i)).toString('hex'));
    const privateKey = createPrivateKey({
      key: { kty: 'OKP', crv: 'Ed25519', d: Buffer.from(vector.key.seedHex, 'hex').toString('base64url'), x: vector.key.publicKeyBase64url },
      format: 'jwk',
    });
    const x = createPublicKey(privateKey).export({ format: 'jwk' }).x!;
    expect(x).toBe(vector.key.publicKeyBase64url);
    expect(base64urlDecode(x).toString('hex')).toBe(vector.key.publicKeyHex);
    expect(vector.key.signingKeyFile).toEqual({
      kty: 'OKP',
      crv: 'Ed25519',
      kid: vector.key.kid,
      x,
      d: Buffer.from(vector.key.seedHex, 'hex').toString('base64url'),
    });
    expect(vector.trustBundle.typ).toBe('temporal-governance/trust-bundle@1');
    expect(bundleKey).toEqual({ kid: vector.key.kid, kty: 'OKP', crv: 'Ed25519', x, notBefore: '2025-01-01T00:00:00.000Z', notAfter: null });
  });

  test.each([
    ['run grant', () => vector.runGrant],
    ['per-call artifact', () => vector.artifact],
    ['denial record', () => denialVector.denial],
  ])('%s: JCS signing input, payload hash and Ed25519 signature reproduce', (_name, section) => {
    const v = section();
    expect(v.signed).toEqual({ payload: v.payload, signature: v.signature });
    const input = jcs(v.payload);
    expect(input).toBe(v.signingInput);
    const bytes = Buffer.from(input, 'utf8');
    expect(bytes.length).toBe(v.signingInputLength);
    expect(`sha256:${sha256(bytes)}`).toBe(v.payloadHash);
    const signature = base64urlDecode(v.signature);
    expect(signature.length).toBe(64);
    expect(v.signature).toHaveLength(86);
    expect(signature.toString('hex')).toBe(v.signatureHex);
    expect(ed25519VerifyRaw(bundleKey.x, signature, bytes)).toBe(true);
  });

  test('the run grant and the per-call artifact pass the full verification procedure', () => {
    expect(independentVerify(vector.runGrant.signed, vector.trustBundle, vector.verificationTime)).toEqual({ ok: true });
    expect(independentVerify(vector.artifact.signed, vector.trustBundle, vector.verificationTime)).toEqual({ ok: true });
  });

  test('the argument digest recomputes from the Temporal payloads the activity receives', () => {
    const args = vector.artifact.arguments;
    const view = args.wire.map(viewFromWire);
    expect(view).toEqual(args.view);
    expect(jcs(view)).toBe(args.canonicalView);
    expect(`sha256:${sha256(Buffer.from(jcs(view), 'utf8'))}`).toBe(args.argsDigest);
    expect(vector.artifact.payload.argsDigest).toBe(args.argsDigest);
    // The canonicalization traps the vector exists for.
    expect(args.canonicalView).toContain('"max":18446744073709552000'); // 2**64 as the shortest round-trip double
    expect(args.canonicalView).toContain('"huge":1e+21');
    expect(args.canonicalView).toContain('"min":1e-7');
    expect(args.canonicalView).toContain('"zero":0');
    expect(args.canonicalView).toContain('"note":"tab\\t\\"quoted\\" back\\\\slash \\u0001 café €"');
    // UTF-16 order puts U+1F600 (D83D DE00) before U+FB01; code point order would not.
    expect(args.canonicalView.indexOf('"é"')).toBeLessThan(args.canonicalView.indexOf('"😀"'));
    expect(args.canonicalView.indexOf('"😀"')).toBeLessThan(args.canonicalView.indexOf('"ﬁ"'));

    const wf = vector.runGrant.workflowArguments;
    expect(`sha256:${sha256(jcs(wf.view))}`).toBe(wf.argsDigest);
    expect(vector.runGrant.payload.argsDigest).toBe(wf.argsDigest);
    const denied = denialVector.arguments;
    expect(`sha256:${sha256(jcs(denied.view))}`).toBe(denied.argsDigest);
    expect(denialVector.denial.payload.argsDigest).toBe(denied.argsDigest);
  });

  test('parent links chain by payload hash up to the root run grant', () => {
    const grant = vector.runGrant.payload;
    const artifact = vector.artifact.payload;
    const denial = denialVector.denial.payload;
    expect(grant.parent).toBeNull();
    expect(grant.rootId).toBe(grant.id);
    expect(grant.expiresAt).toBeNull();
    const grantHash = `sha256:${sha256(jcs(grant))}`;
    for (const child of [artifact, denial]) {
      expect(child.parent).toEqual({ id: grant.id, hash: grantHash });
      expect(child.rootId).toBe(grant.rootId);
      expect(child.principal).toBe(grant.principal);
      for (const field of ['namespace', 'workflowId', 'runId'] as const) expect(child[field]).toBe(grant[field]);
    }
    expect(Object.keys(denial).sort()).toEqual(DENIAL_FIELDS);
    expect(denial.typ).toBe(DENIAL_TYP);
    expect(artifact.expiresAt).toBe((artifact.issuedAt as number) + 5 * 60_000);
  });

  test('the task queue is bound: the run grant names the run\'s queue, the per-call artifact and the denial the activity\'s', () => {
    const grant = vector.runGrant.payload;
    const artifact = vector.artifact.payload;
    const denial = denialVector.denial.payload;
    expect(ARTIFACT_FIELDS).toContain('taskQueue');
    for (const p of [grant, artifact, denial]) expect(typeof p.taskQueue === 'string' && p.taskQueue.length > 0).toBe(true);
    expect(vector.runGrant.signingInput).toContain(`"taskQueue":${JSON.stringify(grant.taskQueue)}`);
    expect(vector.artifact.signingInput).toContain(`"taskQueue":${JSON.stringify(artifact.taskQueue)}`);
    expect(artifact.taskQueue).toBe(vector.artifact.call.taskQueue);
    expect(denial.taskQueue).toBe(vector.artifact.call.taskQueue);
    // The signature covers it: another queue breaks the signature, no queue breaks the member list.
    const v = vector.artifact;
    const requeued = { payload: { ...v.payload, taskQueue: 'elsewhere' }, signature: v.signature };
    expect(independentVerify(requeued, vector.trustBundle, vector.verificationTime)).toEqual({ ok: false, why: 'bad signature' });
    const { taskQueue: _dropped, ...version1Shape } = v.payload;
    expect(independentVerify({ payload: version1Shape, signature: v.signature }, vector.trustBundle, vector.verificationTime)).toEqual({
      ok: false,
      why: 'payload members differ from the specification',
    });
    // A version 1 typ is not a version 2 artifact.
    const version1Typ = { payload: { ...v.payload, typ: 'temporal-governance/authorization-artifact@1' }, signature: v.signature };
    expect(independentVerify(version1Typ, vector.trustBundle, vector.verificationTime)).toEqual({ ok: false, why: 'wrong typ temporal-governance/authorization-artifact@1' });
  });

  test('trust-bundle validity: the key must be valid when the artifact was issued (retiring it later keeps what it signed)', () => {
    const signed = vector.artifact.signed;
    const issuedAt = vector.artifact.payload.issuedAt as number;
    const withWindow = (notBefore: number, notAfter: number | null): TrustBundleDoc => ({
      ...vector.trustBundle,
      keys: [{ ...bundleKey, notBefore: new Date(notBefore).toISOString(), notAfter: notAfter === null ? null : new Date(notAfter).toISOString() }],
    });
    const now = vector.verificationTime;
    expect(independentVerify(signed, withWindow(issuedAt, null), now)).toEqual({ ok: true }); // notBefore is inclusive
    expect(independentVerify(signed, withWindow(issuedAt - 1, issuedAt + 10_000), now)).toEqual({ ok: true });
    expect(independentVerify(signed, withWindow(issuedAt + 1, null), now)).toEqual({ ok: false, why: 'key not valid at issuedAt' });
    expect(independentVerify(signed, withWindow(0, now), now)).toEqual({ ok: true }); // retired after issuance
    expect(independentVerify(signed, withWindow(0, issuedAt), now)).toEqual({ ok: false, why: 'key not valid at issuedAt' }); // notAfter is exclusive
    expect(independentVerify(signed, withWindow(0, null), issuedAt - 5_001)).toEqual({ ok: false, why: 'issued in the future' });
    expect(independentVerify(signed, { ...vector.trustBundle, keys: [{ ...bundleKey, kid: 'other' }] }, now)).toEqual({ ok: false, why: 'unknown kid' });
  });

  test('negative: one flipped byte of the signing input, the signature or the payload fails verification', () => {
    const v = vector.artifact;
    const signature = base64urlDecode(v.signature);
    const input = Buffer.from(v.signingInput, 'utf8');
    for (const index of [0, 1, Math.floor(input.length / 2), input.length - 1]) {
      const flipped = Buffer.from(input);
      flipped[index]! ^= 0x01;
      expect(ed25519VerifyRaw(bundleKey.x, signature, flipped)).toBe(false);
    }
    const badSignature = Buffer.from(signature);
    badSignature[10]! ^= 0x80;
    expect(ed25519VerifyRaw(bundleKey.x, badSignature, input)).toBe(false);

    const retargeted = { payload: { ...v.payload, activityId: '2' }, signature: v.signature };
    expect(independentVerify(retargeted, vector.trustBundle, vector.verificationTime)).toEqual({ ok: false, why: 'bad signature' });
    const extraMember = { payload: { ...v.payload, note: 'x' }, signature: v.signature };
    expect(independentVerify(extraMember, vector.trustBundle, vector.verificationTime)).toEqual({ ok: false, why: 'payload members differ from the specification' });
    const padded = { payload: v.payload, signature: `${v.signature}==` };
    expect(independentVerify(padded, vector.trustBundle, vector.verificationTime)).toEqual({ ok: false, why: 'not unpadded base64url' });
  });

  test('type confusion: a genuine signed denial is never accepted as an artifact', () => {
    const d = denialVector.denial;
    // It is a valid signature by a trusted key...
    expect(ed25519VerifyRaw(bundleKey.x, base64urlDecode(d.signature), Buffer.from(jcs(d.payload), 'utf8'))).toBe(true);
    // ...but the typ inside the signed bytes says it is a denial.
    expect(independentVerify(d.signed, denialVector.trustBundle, vector.verificationTime)).toEqual({
      ok: false,
      why: `wrong typ ${DENIAL_TYP}`,
    });
    // Relabelling it changes the signed bytes, so the signature no longer verifies.
    const relabelled = { ...d.payload, typ: ARTIFACT_TYP };
    expect(ed25519VerifyRaw(bundleKey.x, base64urlDecode(d.signature), Buffer.from(jcs(relabelled), 'utf8'))).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------------
// Our implementation agrees with the vector.
// ---------------------------------------------------------------------------------------------
describe('our implementation agrees with docs/test-vectors', () => {
  const trust = parseTrustBundle(vector.trustBundle, 'artifact-v3.json');
  const signingKey = { kid: vector.key.kid, seed: new Uint8Array(Buffer.from(vector.key.seedHex, 'hex')) };
  const evaluate = (source: string) => new Function(`return ${source};`)() as unknown[];

  function toPayload(wire: Wire): Payload {
    const metadata = { encoding: new Uint8Array(Buffer.from(wire.encoding)) };
    if (wire.encoding === 'json/plain') return { metadata, data: new Uint8Array(Buffer.from(wire.data, 'utf8')) };
    if (wire.encoding === 'binary/plain') return { metadata, data: new Uint8Array(Buffer.from(wire.dataHex, 'hex')) };
    return { metadata };
  }

  test.each([
    ['run grant', () => vector.runGrant],
    ['per-call artifact', () => vector.artifact],
  ])('%s: signingInput, payloadHash and signArtifact (node and noble) reproduce the vector byte for byte', (_name, section) => {
    const v = section();
    const payload = v.payload as unknown as ArtifactPayload;
    expect(Buffer.from(signingInput(payload)).toString('utf8')).toBe(v.signingInput);
    expect(payloadHash(payload)).toBe(v.payloadHash);
    expect(signArtifact(payload, signingKey, nodeEd25519)).toEqual(v.signed);
    expect(signArtifact(payload, signingKey, nobleEd25519)).toEqual(v.signed);
    for (const ed of [nodeEd25519, nobleEd25519]) {
      const verified = verifySignedArtifact(v.signed, trust, vector.verificationTime, ed);
      expect(verified).toEqual({ ok: true, value: v.signed });
    }
  });

  test('signDenial reproduces the denial, and verifySignedArtifact rejects it as the wrong type', () => {
    const d = denialVector.denial;
    expect(signDenial(d.payload as unknown as DenialPayload, signingKey, nodeEd25519)).toEqual(d.signed);
    expect(payloadHash(d.payload as unknown as DenialPayload)).toBe(d.payloadHash);
    for (const ed of [nodeEd25519, nobleEd25519]) {
      const result = verifySignedArtifact(d.signed, trust, vector.verificationTime, ed);
      expect(result.ok).toBe(false);
      expect(!result.ok && result.code).toBe(DenyCodes.artifactWrongType);
    }
  });

  test('argument digest: the workflow side (JS values) and the activity side (decoded payloads) give the vector digest', () => {
    const args = vector.artifact.arguments;
    const values = evaluate(args.javascript);
    expect(argumentsDigest(values)).toBe(args.argsDigest);
    expect(values.map((v) => defaultPayloadConverter.toPayload(v))).toEqual(args.wire.map(toPayload));
    const decoded = args.wire.map((w) => defaultPayloadConverter.fromPayload(toPayload(w)));
    expect(argumentsDigest(decoded)).toBe(args.argsDigest);
    expect(argumentsDigest(evaluate(vector.runGrant.workflowArguments.javascript))).toBe(vector.runGrant.workflowArguments.argsDigest);
    expect(argumentsDigest(evaluate(denialVector.arguments.javascript))).toBe(denialVector.arguments.argsDigest);
  });

  test('binding and expiry at the enforcement point follow the documented rule', () => {
    const signed = vector.artifact.signed;
    const call = vector.artifact.call;
    const expiresAt = vector.artifact.payload.expiresAt as number;
    const check = (c: ActivityCall, now: number) => verifyArtifactForCall(signed, c, trust, now, nodeEd25519);
    const code = (r: ReturnType<typeof check>) => (r.ok ? 'OK' : r.code);

    expect(check(call, vector.verificationTime)).toEqual({ ok: true, value: { artifact: signed, exempt: false } });
    // First attempt: measured against now, with CLOCK_SKEW_MS of tolerance, boundary inclusive.
    expect(code(check(call, expiresAt + CLOCK_SKEW_MS))).toBe('OK');
    expect(code(check(call, expiresAt + CLOCK_SKEW_MS + 1))).toBe(DenyCodes.artifactExpired);
    // Retries: measured at the first scheduling of the same bound call, however late they run.
    const retry = { ...call, attempt: 7 };
    expect(code(check(retry, expiresAt + 24 * 3_600_000))).toBe('OK');
    expect(code(check({ ...retry, scheduledTimestampMs: expiresAt + CLOCK_SKEW_MS + 1 }, expiresAt + 24 * 3_600_000))).toBe(DenyCodes.artifactExpired);
    // Binding: any other call is refused.
    expect(code(check({ ...call, runId: 'another-run' }, vector.verificationTime))).toBe(DenyCodes.artifactBindingMismatch);
    expect(code(check({ ...call, activityId: '2' }, vector.verificationTime))).toBe(DenyCodes.artifactBindingMismatch);
    expect(code(check({ ...call, activityType: 'refundCard' }, vector.verificationTime))).toBe(DenyCodes.artifactBindingMismatch);
    const requeued = check({ ...call, taskQueue: 'another-queue' }, vector.verificationTime);
    expect(code(requeued)).toBe(DenyCodes.artifactBindingMismatch);
    expect(!requeued.ok && requeued.reason).toContain('taskQueue');
    expect(code(check({ ...call, isLocal: true }, vector.verificationTime))).toBe(DenyCodes.artifactBindingMismatch);
    expect(code(check({ ...call, argsDigest: vector.runGrant.payload.argsDigest as string }, vector.verificationTime))).toBe(
      DenyCodes.artifactBindingMismatch,
    );
    // The run grant admits exempt activity types of its own run only.
    const grantCall = { ...call, activityType: 'lookupExchangeRate' };
    expect(verifyArtifactForCall(vector.runGrant.signed, grantCall, trust, vector.verificationTime, nodeEd25519)).toEqual({
      ok: true,
      value: { artifact: vector.runGrant.signed, exempt: true },
    });
    expect(code(verifyArtifactForCall(vector.runGrant.signed, call, trust, vector.verificationTime, nodeEd25519))).toBe(DenyCodes.artifactBindingMismatch);
  });

  test('key validity: a key retired at or before issuedAt, or not yet valid at issuedAt, is refused; retired later is accepted', () => {
    const issuedAt = vector.artifact.payload.issuedAt as number;
    const key = vector.trustBundle.keys[0]!;
    const bundle = (notBefore: string, notAfter: string | null) =>
      parseTrustBundle({ ...vector.trustBundle, keys: [{ ...key, notBefore, notAfter }] }, 'variant');
    const at = (t: number) => new Date(t).toISOString();
    const verify = (b: ReturnType<typeof bundle>) => verifySignedArtifact(vector.artifact.signed, b, vector.verificationTime, nodeEd25519);
    expect(verify(bundle(at(issuedAt), null)).ok).toBe(true);
    expect(verify(bundle(at(0), at(vector.verificationTime))).ok).toBe(true);
    for (const b of [bundle(at(0), at(issuedAt)), bundle(at(issuedAt + 1), null)]) {
      const r = verify(b);
      expect(!r.ok && r.code).toBe(DenyCodes.artifactKeyNotValid);
    }
  });
});
