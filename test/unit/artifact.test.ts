// Signed artifacts (src/artifact), the two Ed25519 implementations (src/crypto/node.ts,
// src/crypto/noble.ts) and key files (src/crypto/keys.ts).
import { createHash, createPrivateKey, createPublicKey } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  CLOCK_SKEW_MS,
  payloadHash,
  signArtifact,
  signDenial,
  signingInput,
  verifyArtifactForCall,
  verifySignedArtifact,
  type ActivityCall,
  type Ed25519,
  type SigningKey,
} from '../../src/artifact/artifact';
import { parseTrustBundle, TrustBundleError, type TrustBundle, type TrustedKey } from '../../src/artifact/trust-bundle';
import { fromBase64Url, toBase64Url } from '../../src/common/base64url';
import { canonicalize } from '../../src/common/canonical';
import { DenyCodes } from '../../src/common/constants';
import { argumentsDigest } from '../../src/common/digest';
import { ARTIFACT_TYPE, DENIAL_TYPE, type ArtifactPayload, type DenialPayload } from '../../src/common/schemas';
import { generateSigningKey, KeyError, loadSigningKey, loadTrustBundle } from '../../src/crypto/keys';
import { nobleEd25519 } from '../../src/crypto/noble';
import { nodeEd25519 } from '../../src/crypto/node';

// ---------------------------------------------------------------------------------------------
// Fixtures

const hex = (h: string) => new Uint8Array(Buffer.from(h, 'hex'));
const bytesOf = (text: string) => new Uint8Array(Buffer.from(text, 'utf8'));

/** Public key of a raw seed, derived with node:crypto directly (independent of src/crypto). */
function publicKeyOf(seed: Uint8Array): Uint8Array {
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.from(seed)]);
  const jwk = createPublicKey(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })).export({ format: 'jwk' });
  return new Uint8Array(Buffer.from(jwk.x!, 'base64url'));
}

function seedOf(n: number): Uint8Array {
  return new Uint8Array(createHash('sha256').update(`seed-${n}`).digest());
}

const T0 = Date.parse('2025-03-01T12:00:00.000Z');
const DAY = 86_400_000;
const iso = (ms: number) => new Date(ms).toISOString();

const KEY: SigningKey = { kid: 'k1', seed: seedOf(1) };
const OTHER_SEED = seedOf(2);

function bundle(keys: Array<{ kid: string; seed: Uint8Array; notBefore?: number; notAfter?: number | null }>): TrustBundle {
  return parseTrustBundle({
    typ: 'temporal-governance/trust-bundle@1',
    keys: keys.map((k) => ({
      kid: k.kid,
      kty: 'OKP',
      crv: 'Ed25519',
      x: toBase64Url(publicKeyOf(k.seed)),
      notBefore: iso(k.notBefore ?? T0 - DAY),
      notAfter: k.notAfter === undefined || k.notAfter === null ? null : iso(k.notAfter),
    })),
  });
}

const TRUST = bundle([{ kid: 'k1', seed: KEY.seed }]);
const ARGS = [{ amount: 500, to: 'acct-1' }];
const DIGEST = argumentsDigest(ARGS);
const POLICY = { id: 'test-policy', version: `sha256:${'ab'.repeat(32)}` };

function payload(overrides: Partial<ArtifactPayload> = {}): ArtifactPayload {
  return {
    typ: ARTIFACT_TYPE,
    id: 'art-1',
    kid: 'k1',
    iss: 'governance-test',
    principal: 'alice',
    credential: 'ak_0000000000000001',
    roles: ['operator'],
    decisionId: 'dec_1',
    action: 'activity',
    target: 'charge',
    namespace: 'default',
    workflowId: 'wf-1',
    runId: 'run-1',
    activityId: '1',
    childWorkflowId: null,
    taskQueue: 'payments',
    argsDigest: DIGEST,
    policy: POLICY,
    rules: ['allow-small'],
    parent: { id: 'grant-1', hash: `sha256:${'cd'.repeat(32)}` },
    issuedAt: T0,
    rootId: 'grant-1',
    chain: { id: 'grant-1', hop: 1 },
    ancestors: ['grant-1'],
    ancestorKids: ['k1'],
    exempt: [],
    expiresAt: T0 + 60_000,
    ...overrides,
  };
}

function runGrant(overrides: Partial<ArtifactPayload> = {}): ArtifactPayload {
  return payload({
    id: 'grant-1',
    action: 'workflow',
    target: 'PaymentWorkflow',
    activityId: null,
    argsDigest: argumentsDigest([]),
    parent: null,
    rootId: 'grant-1',
    exempt: ['lookup*', 'audit'],
    expiresAt: null,
    ...overrides,
  });
}

function denialPayload(overrides: Partial<DenialPayload> = {}): DenialPayload {
  const { exempt: _e, expiresAt: _x, typ: _t, ...binding } = payload();
  return { ...binding, typ: DENIAL_TYPE, code: 'POLICY_DENY', reason: 'no', ...overrides };
}

function call(overrides: Partial<ActivityCall> = {}): ActivityCall {
  return {
    namespace: 'default',
    workflowId: 'wf-1',
    runId: 'run-1',
    activityId: '1',
    activityType: 'charge',
    taskQueue: 'payments',
    isLocal: false,
    argsDigest: DIGEST,
    attempt: 1,
    scheduledTimestampMs: T0 + 1_000,
    ...overrides,
  };
}

const NOW = T0 + 1_000;
const sign = (p: ArtifactPayload, key: SigningKey = KEY, ed: Ed25519 = nodeEd25519) => signArtifact(p, key, ed);

function flipBit(signature: string, byte = 10, bit = 0): string {
  const raw = fromBase64Url(signature);
  raw[byte] = raw[byte]! ^ (1 << bit);
  return toBase64Url(raw);
}

function expectFailure(result: { ok: boolean; code?: string; reason?: string }, code: string, reason?: RegExp | string) {
  expect(result.ok).toBe(false);
  const r = result as { ok: false; code: string; reason: string };
  expect(r.code).toBe(code);
  if (reason !== undefined) {
    if (typeof reason === 'string') expect(r.reason).toContain(reason);
    else expect(r.reason).toMatch(reason);
  }
}

// ---------------------------------------------------------------------------------------------

describe('signingInput and payloadHash', () => {
  it('signs the UTF-8 of the RFC 8785 form of the payload', () => {
    const p = payload({ principal: 'j\u00fcrgen' });
    expect(Buffer.from(signingInput(p)).toString('utf8')).toBe(canonicalize(p));
    expect(Buffer.from(signingInput(p)).includes(Buffer.from('j\u00fcrgen', 'utf8'))).toBe(true);
  });

  it('puts typ and kid inside the signed bytes', () => {
    const text = Buffer.from(signingInput(payload())).toString('utf8');
    expect(text).toContain(`"typ":"${ARTIFACT_TYPE}"`);
    expect(text).toContain('"kid":"k1"');
  });

  it('payloadHash is sha256:<hex> of the signing input', () => {
    const p = payload();
    expect(payloadHash(p)).toBe(`sha256:${createHash('sha256').update(signingInput(p)).digest('hex')}`);
    expect(payloadHash(p)).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(payloadHash(payload({ id: 'art-2' }))).not.toBe(payloadHash(p));
  });

  it('does not depend on key order', () => {
    const p = payload();
    const reversed = Object.fromEntries(Object.entries(p).reverse()) as ArtifactPayload;
    expect(payloadHash(reversed)).toBe(payloadHash(p));
    expect(sign(reversed).signature).toBe(sign(p).signature);
  });
});

describe('verifySignedArtifact', () => {
  const verify = (raw: unknown, trust = TRUST, now = NOW, ed: Ed25519 = nodeEd25519) => verifySignedArtifact(raw, trust, now, ed);

  it('accepts a well-signed artifact and returns it', () => {
    const signed = sign(payload());
    const result = verify(signed);
    expect(result).toEqual({ ok: true, value: signed });
    expect(verify(signed, TRUST, NOW, nobleEd25519)).toEqual({ ok: true, value: signed });
  });

  it('accepts an artifact that went through JSON (headers carry it as JSON)', () => {
    const signed = JSON.parse(JSON.stringify(sign(payload())));
    expect(verify(signed).ok).toBe(true);
  });

  it.each([null, undefined])('reports %p as ARTIFACT_MISSING', (raw) => {
    expectFailure(verify(raw), DenyCodes.artifactMissing);
  });

  it('reports a signed denial presented as an artifact as ARTIFACT_WRONG_TYPE', () => {
    const denial = signDenial(denialPayload(), KEY, nodeEd25519);
    expectFailure(verify(denial), DenyCodes.artifactWrongType, DENIAL_TYPE);
  });

  it('reports any other typ string as ARTIFACT_WRONG_TYPE', () => {
    const signed = sign(payload());
    expect(ARTIFACT_TYPE).toBe('temporal-governance/authorization-artifact@3');
    // Earlier versions (@1: no taskQueue; @2: unbounded ancestors, no chain) and a future one are all refused.
    for (const typ of ['temporal-governance/authorization-artifact@1', 'temporal-governance/authorization-artifact@2', 'temporal-governance/authorization-artifact@4']) {
      expectFailure(verify({ ...signed, payload: { ...signed.payload, typ } }), DenyCodes.artifactWrongType);
    }
  });

  it.each([
    ['a string', 'artifact'],
    ['a number', 42],
    ['an array', [1, 2]],
    ['an empty object', {}],
    ['a payload that is not an object', { payload: 'x', signature: 'AAAA' }],
    ['a non-string typ', { payload: { ...payload(), typ: 1 }, signature: 'AAAA' }],
  ])('reports %s as ARTIFACT_MALFORMED', (_label, raw) => {
    expectFailure(verify(raw), DenyCodes.artifactMalformed, 'malformed artifact');
  });

  it('reports a missing payload field as ARTIFACT_MALFORMED, naming it', () => {
    const signed = sign(payload());
    const { rootId: _drop, ...partial } = signed.payload;
    expectFailure(verify({ ...signed, payload: partial }), DenyCodes.artifactMalformed, 'payload.rootId');
  });

  it('reports a binding without a task queue (the @1 shape) or with an empty one as ARTIFACT_MALFORMED', () => {
    const { taskQueue: _drop, ...withoutQueue } = payload();
    expectFailure(verify(sign(withoutQueue as ArtifactPayload)), DenyCodes.artifactMalformed, 'payload.taskQueue');
    expectFailure(verify(sign(payload({ taskQueue: '' }))), DenyCodes.artifactMalformed, 'payload.taskQueue');
  });

  it('reports an extra payload field as ARTIFACT_MALFORMED', () => {
    const p = { ...payload(), admin: true } as ArtifactPayload;
    const signed = sign(p); // even correctly signed: the schema is strict
    expectFailure(verify(signed), DenyCodes.artifactMalformed, 'admin');
  });

  it('reports an extra top-level field as ARTIFACT_MALFORMED', () => {
    expectFailure(verify({ ...sign(payload()), note: 'x' }), DenyCodes.artifactMalformed);
  });

  it('reports a missing signature and wrongly typed fields as ARTIFACT_MALFORMED', () => {
    expectFailure(verify({ payload: payload() }), DenyCodes.artifactMalformed, 'signature');
    expectFailure(verify(sign(payload({ issuedAt: -1 }))), DenyCodes.artifactMalformed, 'payload.issuedAt');
    expectFailure(verify(sign(payload({ argsDigest: 'md5:abc' }))), DenyCodes.artifactMalformed, 'payload.argsDigest');
    expectFailure(verify(sign(payload({ action: 'admin' as never }))), DenyCodes.artifactMalformed, 'payload.action');
  });

  it('reports a signature with characters outside base64url as ARTIFACT_MALFORMED', () => {
    const signed = sign(payload());
    const padded = Buffer.from(fromBase64Url(signed.signature)).toString('base64');
    expect(padded).toMatch(/[=+/]/);
    expectFailure(verify({ ...signed, signature: padded }), DenyCodes.artifactMalformed);
  });

  it('reports an undecodable signature length as ARTIFACT_MALFORMED', () => {
    const signed = sign(payload());
    // 86 + 3 = 89 characters: 89 % 4 === 1 can encode no byte string.
    expectFailure(verify({ ...signed, signature: `${signed.signature}AAA` }), DenyCodes.artifactMalformed, 'malformed signature');
  });

  it('reports a non-canonical signature spelling as ARTIFACT_MALFORMED', () => {
    const signed = sign(payload());
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = signed.signature.at(-1)!;
    const other = signed.signature.slice(0, -1) + alphabet[alphabet.indexOf(last) ^ 1];
    expectFailure(verify({ ...signed, signature: other }), DenyCodes.artifactMalformed, 'non-canonical');
  });

  it('reports a kid missing from the trust bundle as ARTIFACT_UNTRUSTED_KEY', () => {
    const signed = sign(payload({ kid: 'k9' }), { kid: 'k9', seed: KEY.seed });
    expectFailure(verify(signed), DenyCodes.artifactUntrustedKey, '"k9"');
  });

  it('reports a key that was not yet valid at issuedAt as ARTIFACT_KEY_NOT_VALID', () => {
    const trust = bundle([{ kid: 'k1', seed: KEY.seed, notBefore: NOW + 1 }]);
    expectFailure(verify(sign(payload()), trust), DenyCodes.artifactKeyNotValid, 'was not valid when the artifact was issued');
  });

  it('keeps accepting what a key signed before it was retired (rotation must not void open runs)', () => {
    const signed = sign(payload()); // issued at T0, before every retirement below
    expect(verify(signed, bundle([{ kid: 'k1', seed: KEY.seed, notAfter: NOW }])).ok).toBe(true);
    expect(verify(signed, bundle([{ kid: 'k1', seed: KEY.seed, notAfter: T0 + 1 }])).ok).toBe(true);
    expectFailure(verify(signed, bundle([{ kid: 'k1', seed: KEY.seed, notAfter: T0 }])), DenyCodes.artifactKeyNotValid, 'retired'); // notAfter is exclusive
  });

  it('refuses an artifact that claims to be issued in the future (beyond the clock skew)', () => {
    expectFailure(verify(sign(payload({ issuedAt: NOW + CLOCK_SKEW_MS + 1, expiresAt: NOW + 10 * CLOCK_SKEW_MS }))), DenyCodes.artifactKeyNotValid, 'future');
    expect(verify(sign(payload({ issuedAt: NOW + CLOCK_SKEW_MS, expiresAt: NOW + 10 * CLOCK_SKEW_MS }))).ok).toBe(true);
  });

  it('accepts the key from notBefore inclusive', () => {
    const signed = sign(payload({ issuedAt: NOW }));
    expect(verify(signed, bundle([{ kid: 'k1', seed: KEY.seed, notBefore: NOW }])).ok).toBe(true);
  });

  it('reports an artifact issued after its key was retired as ARTIFACT_KEY_NOT_VALID', () => {
    // The key is valid now, but the artifact claims to be issued at or after its retirement.
    const trust = bundle([{ kid: 'k1', seed: KEY.seed, notAfter: NOW - 10_000 }]);
    expectFailure(verify(sign(payload({ issuedAt: NOW - 10_000 })), trust), DenyCodes.artifactKeyNotValid, 'was not valid when the artifact was issued');
    expect(verify(sign(payload({ issuedAt: NOW - 10_001 })), trust).ok).toBe(true);
  });

  it('reports an artifact issued before its key became valid as ARTIFACT_KEY_NOT_VALID', () => {
    const trust = bundle([{ kid: 'k1', seed: KEY.seed, notBefore: T0 }]);
    expectFailure(verify(sign(payload({ issuedAt: T0 - 1 })), trust), DenyCodes.artifactKeyNotValid, 'was not valid when the artifact was issued');
  });

  it('reports a signature with one flipped bit as ARTIFACT_BAD_SIGNATURE', () => {
    const signed = sign(payload());
    for (const [byte, bit] of [
      [0, 0],
      [10, 3],
      [31, 7],
      [32, 0],
      [63, 5],
    ] as const) {
      expectFailure(verify({ ...signed, signature: flipBit(signed.signature, byte, bit) }), DenyCodes.artifactBadSignature, 'k1');
      expectFailure(verify({ ...signed, signature: flipBit(signed.signature, byte, bit) }, TRUST, NOW, nobleEd25519), DenyCodes.artifactBadSignature);
    }
  });

  it('reports a changed payload as ARTIFACT_BAD_SIGNATURE', () => {
    const signed = sign(payload());
    const tampered: Array<Partial<ArtifactPayload>> = [
      { principal: 'mallory' },
      { argsDigest: argumentsDigest([{ amount: 5_000_000, to: 'acct-1' }]) },
      { expiresAt: T0 + DAY },
      { activityId: '2' },
      { rules: [] },
      { exempt: ['*'] },
      { issuedAt: T0 + 1 },
    ];
    for (const change of tampered) {
      expectFailure(verify({ ...signed, payload: { ...signed.payload, ...change } }), DenyCodes.artifactBadSignature);
    }
  });

  it('reports a signature by another key under the same kid as ARTIFACT_BAD_SIGNATURE', () => {
    expectFailure(verify(sign(payload(), { kid: 'k1', seed: OTHER_SEED })), DenyCodes.artifactBadSignature);
  });

  it.each([0, 32, 63, 65, 128])('reports a %i-byte signature as ARTIFACT_BAD_SIGNATURE', (length) => {
    const signed = sign(payload());
    const raw = fromBase64Url(signed.signature);
    const resized = new Uint8Array(length);
    resized.set(raw.subarray(0, Math.min(64, length)));
    if (length === 0) {
      // An empty signature fails the schema (base64url needs at least one character).
      expectFailure(verify({ ...signed, signature: '' }), DenyCodes.artifactMalformed);
    } else {
      expectFailure(verify({ ...signed, signature: toBase64Url(resized) }), DenyCodes.artifactBadSignature);
    }
  });

  it('picks the key by kid among several (rotation)', () => {
    const trust = bundle([
      { kid: 'old', seed: OTHER_SEED, notAfter: NOW + DAY },
      { kid: 'k1', seed: KEY.seed },
    ]);
    expect(verify(sign(payload()), trust).ok).toBe(true);
    expect(verify(sign(payload({ kid: 'old' }), { kid: 'old', seed: OTHER_SEED }), trust).ok).toBe(true);
    // Same bytes, wrong kid: the signature does not verify against the other key.
    expectFailure(verify(sign(payload({ kid: 'old' }), KEY), trust), DenyCodes.artifactBadSignature);
  });
});

describe('verifyArtifactForCall', () => {
  const check = (raw: unknown, c: ActivityCall = call(), now = NOW, ed: Ed25519 = nodeEd25519) => verifyArtifactForCall(raw, c, TRUST, now, ed);

  it('accepts an artifact bound to this exact call', () => {
    const signed = sign(payload());
    expect(check(signed)).toEqual({ ok: true, value: { artifact: signed, exempt: false } });
    expect(check(signed, call(), NOW, nobleEd25519).ok).toBe(true);
  });

  it('accepts a local-activity artifact for a local call', () => {
    const signed = sign(payload({ action: 'local-activity' }));
    expect(check(signed, call({ isLocal: true })).ok).toBe(true);
  });

  it('passes on the failures of verifySignedArtifact', () => {
    expectFailure(check(undefined), DenyCodes.artifactMissing);
    expectFailure(check(signDenial(denialPayload(), KEY, nodeEd25519)), DenyCodes.artifactWrongType);
    const signed = sign(payload());
    expectFailure(check({ ...signed, signature: flipBit(signed.signature) }), DenyCodes.artifactBadSignature);
  });

  it.each<[string, Partial<ActivityCall>]>([
    ['namespace', { namespace: 'other' }],
    ['workflowId', { workflowId: 'wf-2' }],
    ['runId', { runId: 'run-2' }],
    ['activityId', { activityId: '2' }],
    ['activityType', { activityType: 'refund' }],
    ['taskQueue', { taskQueue: 'payments-other' }],
    ['argsDigest', { argsDigest: argumentsDigest([{ amount: 5000, to: 'acct-1' }]) }],
  ])('denies a %s mismatch with ARTIFACT_BINDING_MISMATCH', (field, change) => {
    const result = check(sign(payload()), call(change));
    expectFailure(result, DenyCodes.artifactBindingMismatch, `bound to ${field} `);
  });

  it('denies an artifact scheduled on another task queue, naming both queues', () => {
    const result = check(sign(payload()), call({ taskQueue: 'refunds' }));
    expectFailure(result, DenyCodes.artifactBindingMismatch, 'bound to taskQueue "payments" but this call has "refunds"');
  });

  it('denies a remote-activity artifact used for a local activity and vice versa', () => {
    expectFailure(check(sign(payload()), call({ isLocal: true })), DenyCodes.artifactBindingMismatch, 'bound to action "activity"');
    expectFailure(check(sign(payload({ action: 'local-activity' })), call({ isLocal: false })), DenyCodes.artifactBindingMismatch, 'bound to action "local-activity"');
  });

  it.each(['child-workflow', 'continue-as-new'] as const)('denies a %s artifact used for an activity', (action) => {
    const signed = sign(payload({ action, activityId: null, childWorkflowId: 'child-1', expiresAt: null }));
    expectFailure(check(signed), DenyCodes.artifactBindingMismatch, 'action');
  });

  describe('exempt activities under the run grant', () => {
    it('admits an activity type matching an exempt glob, flagged exempt', () => {
      const grant = sign(runGrant());
      expect(check(grant, call({ activityType: 'lookupRate' }))).toEqual({ ok: true, value: { artifact: grant, exempt: true } });
      expect(check(grant, call({ activityType: 'audit', isLocal: true, argsDigest: argumentsDigest(['x']) })).ok).toBe(true);
    });

    it('denies a protected activity type with ARTIFACT_BINDING_MISMATCH', () => {
      const grant = sign(runGrant());
      expectFailure(check(grant, call({ activityType: 'charge' })), DenyCodes.artifactBindingMismatch, 'not exempt');
      expectFailure(check(grant, call({ activityType: 'auditLog' })), DenyCodes.artifactBindingMismatch, 'not exempt');
    });

    it('denies everything with a grant whose exempt list is empty', () => {
      expectFailure(check(sign(runGrant({ exempt: [] })), call({ activityType: 'lookupRate' })), DenyCodes.artifactBindingMismatch);
    });

    it('admits exempt activities only in the run the grant is bound to', () => {
      const grant = sign(runGrant());
      expectFailure(check(grant, call({ activityType: 'lookupRate', runId: 'run-2' })), DenyCodes.artifactBindingMismatch, 'runId');
      expectFailure(check(grant, call({ activityType: 'lookupRate', workflowId: 'wf-2' })), DenyCodes.artifactBindingMismatch, 'workflowId');
      expectFailure(check(grant, call({ activityType: 'lookupRate', namespace: 'prod' })), DenyCodes.artifactBindingMismatch, 'namespace');
    });
  });

  describe('expiry', () => {
    const expiresAt = T0 + 60_000;
    const signed = sign(payload({ expiresAt }));

    it('first attempt: valid until expiresAt + CLOCK_SKEW_MS inclusive', () => {
      expect(CLOCK_SKEW_MS).toBe(5_000);
      expect(check(signed, call(), expiresAt).ok).toBe(true);
      expect(check(signed, call(), expiresAt + 1).ok).toBe(true); // within skew
      expect(check(signed, call(), expiresAt + CLOCK_SKEW_MS).ok).toBe(true);
      expectFailure(check(signed, call(), expiresAt + CLOCK_SKEW_MS + 1), DenyCodes.artifactExpired, 'before the first attempt started');
    });

    it('first attempt is judged by now, not by when it was scheduled', () => {
      expectFailure(check(signed, call({ scheduledTimestampMs: T0 }), expiresAt + CLOCK_SKEW_MS + 1), DenyCodes.artifactExpired);
    });

    it('a retry long after expiry of a call first scheduled before expiry is valid', () => {
      const retry = call({ attempt: 7, scheduledTimestampMs: expiresAt - 1 });
      expect(check(signed, retry, expiresAt + DAY).ok).toBe(true);
      expect(check(signed, call({ attempt: 2, scheduledTimestampMs: expiresAt + CLOCK_SKEW_MS }), expiresAt + DAY).ok).toBe(true);
    });

    it('a retry of a call first scheduled after expiry is denied, even if it runs right away', () => {
      const retry = call({ attempt: 2, scheduledTimestampMs: expiresAt + CLOCK_SKEW_MS + 1 });
      expectFailure(check(signed, retry, expiresAt + CLOCK_SKEW_MS + 2), DenyCodes.artifactExpired, 'first scheduled after the artifact expired');
    });

    it('a retry is still bound to the same call', () => {
      const retry = call({ attempt: 3, scheduledTimestampMs: T0, activityId: '2' });
      expectFailure(check(signed, retry, expiresAt + DAY), DenyCodes.artifactBindingMismatch, 'activityId');
    });

    it('denies a per-call artifact without expiry', () => {
      expectFailure(check(sign(payload({ expiresAt: null }))), DenyCodes.artifactMalformed, 'without expiry');
    });
  });
});

describe('node:crypto and @noble/ed25519 agree', () => {
  const implementations: Array<[string, Ed25519]> = [
    ['node', nodeEd25519],
    ['noble', nobleEd25519],
  ];
  const messages = [new Uint8Array(0), bytesOf('a'), bytesOf('{"typ":"x","\u00f6":1}'), new Uint8Array(1000).fill(0xab), signingInput(payload())];

  // RFC 8032 section 7.1, TEST 1 and TEST 2.
  const vectors = [
    {
      seed: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
      pub: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
      msg: '',
      sig: 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
    },
    {
      seed: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
      pub: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
      msg: '72',
      sig: '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
    },
  ];

  it.each(implementations)('%s reproduces the RFC 8032 test vectors', (_name, ed) => {
    for (const v of vectors) {
      expect(Buffer.from(publicKeyOf(hex(v.seed))).toString('hex')).toBe(v.pub);
      expect(Buffer.from(ed.sign(hex(v.msg), hex(v.seed))).toString('hex')).toBe(v.sig);
      expect(ed.verify(hex(v.sig), hex(v.msg), { kid: 'v', publicKey: hex(v.pub), notBefore: 0, notAfter: null })).toBe(true);
    }
  });

  it('produce identical signatures for the same seed and message', () => {
    for (let s = 0; s < 5; s++) {
      const seed = seedOf(100 + s);
      for (const m of messages) {
        const a = nodeEd25519.sign(m, seed);
        const b = nobleEd25519.sign(m, seed);
        expect(a).toHaveLength(64);
        expect(Buffer.from(a).toString('hex')).toBe(Buffer.from(b).toString('hex'));
        // Deterministic: signing again gives the same bytes.
        expect(Buffer.from(nodeEd25519.sign(m, seed)).equals(Buffer.from(a))).toBe(true);
      }
    }
  });

  it('each verifies the other and both reject a tampered message, signature or key', () => {
    const seed = seedOf(7);
    const key: TrustedKey = { kid: 'x', publicKey: publicKeyOf(seed), notBefore: 0, notAfter: null };
    const wrongKey: TrustedKey = { kid: 'y', publicKey: publicKeyOf(seedOf(8)), notBefore: 0, notAfter: null };
    for (const m of messages) {
      for (const [, signer] of implementations) {
        const sig = signer.sign(m, seed);
        for (const [, verifier] of implementations) {
          expect(verifier.verify(sig, m, key)).toBe(true);
          const tamperedMessage = new Uint8Array([...m, 0]);
          expect(verifier.verify(sig, tamperedMessage, key)).toBe(false);
          if (m.length > 0) {
            const flipped = new Uint8Array(m);
            flipped[0] = flipped[0]! ^ 1;
            expect(verifier.verify(sig, flipped, key)).toBe(false);
          }
          const badSig = new Uint8Array(sig);
          badSig[40] = badSig[40]! ^ 0x80;
          expect(verifier.verify(badSig, m, key)).toBe(false);
          expect(verifier.verify(sig, m, wrongKey)).toBe(false);
        }
      }
    }
  });

  it('both reject a signature whose S is not reduced (S + L) instead of throwing', () => {
    const seed = seedOf(9);
    const key: TrustedKey = { kid: 'x', publicKey: publicKeyOf(seed), notBefore: 0, notAfter: null };
    const m = bytesOf('malleability');
    const sig = nodeEd25519.sign(m, seed);
    const L = (1n << 252n) + 27742317777372353535851937790883648493n;
    let s = 0n;
    for (let i = 31; i >= 0; i--) s = (s << 8n) | BigInt(sig[32 + i]!);
    let sPlusL = s + L;
    const malleated = new Uint8Array(sig);
    for (let i = 0; i < 32; i++) {
      malleated[32 + i] = Number(sPlusL & 0xffn);
      sPlusL >>= 8n;
    }
    expect(sPlusL).toBe(0n); // still fits in 32 bytes
    expect(nodeEd25519.verify(malleated, m, key)).toBe(false);
    expect(nobleEd25519.verify(malleated, m, key)).toBe(false);
  });

  it('both return false (not throw) for a malformed public key', () => {
    const m = bytesOf('x');
    const sig = nodeEd25519.sign(m, seedOf(1));
    // y = 2 is not the y coordinate of any curve point.
    const notAPoint = new Uint8Array(32);
    notAPoint[0] = 2;
    const key: TrustedKey = { kid: 'bad', publicKey: notAPoint, notBefore: 0, notAfter: null };
    expect(nodeEd25519.verify(sig, m, key)).toBe(false);
    expect(nobleEd25519.verify(sig, m, key)).toBe(false);
  });

  it('an artifact signed by one verifies with the other through verifySignedArtifact', () => {
    const byNode = signArtifact(payload(), KEY, nodeEd25519);
    const byNoble = signArtifact(payload(), KEY, nobleEd25519);
    expect(byNode.signature).toBe(byNoble.signature);
    expect(verifySignedArtifact(byNode, TRUST, NOW, nobleEd25519).ok).toBe(true);
    expect(verifySignedArtifact(byNoble, TRUST, NOW, nodeEd25519).ok).toBe(true);
  });

  it('sign depends on the seed bytes, not on the identity of the seed array', () => {
    // A caller that reuses one buffer for a new seed must get the new key's signature.
    const m = bytesOf('reused buffer');
    const buffer = new Uint8Array(seedOf(20));
    const first = nodeEd25519.sign(m, buffer);
    buffer.set(seedOf(21));
    const second = nodeEd25519.sign(m, buffer);
    expect(Buffer.from(second).toString('hex')).toBe(Buffer.from(nobleEd25519.sign(m, seedOf(21))).toString('hex'));
    expect(Buffer.from(second).equals(Buffer.from(first))).toBe(false);
  });
});

describe('trust bundles', () => {
  const key = (over: Record<string, unknown> = {}) => ({
    kid: 'k1',
    kty: 'OKP',
    crv: 'Ed25519',
    x: toBase64Url(publicKeyOf(KEY.seed)),
    notBefore: '2025-01-01T00:00:00Z',
    notAfter: null,
    ...over,
  });
  const doc = (keys: unknown[]) => ({ typ: 'temporal-governance/trust-bundle@1', keys });

  it('parses keys and validity windows to epoch milliseconds', () => {
    const trust = parseTrustBundle(doc([key({ notAfter: '2026-01-01T00:00:00+01:00' })]));
    const k = trust.keys.get('k1')!;
    expect(Buffer.from(k.publicKey).equals(Buffer.from(publicKeyOf(KEY.seed)))).toBe(true);
    expect(k.notBefore).toBe(Date.UTC(2025, 0, 1));
    expect(k.notAfter).toBe(Date.UTC(2025, 11, 31, 23));
  });

  it.each<[string, unknown]>([
    ['no keys', doc([])],
    ['duplicate kid', doc([key(), key()])],
    ['a 31-byte key', doc([key({ x: toBase64Url(new Uint8Array(31)) })])],
    ['a private member', doc([key({ d: 'x' })])],
    ['a non-Ed25519 curve', doc([key({ crv: 'X25519' })])],
    ['a date without offset', doc([key({ notBefore: '2025-01-01' })])],
    ['a wrong typ', { typ: 'jwks', keys: [key()] }],
  ])('rejects %s with TrustBundleError', (_label, document) => {
    expect(() => parseTrustBundle(document, 'bundle.json')).toThrow(TrustBundleError);
    expect(() => parseTrustBundle(document, 'bundle.json')).toThrow(/invalid trust bundle bundle\.json/);
  });
});

describe('key files', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'governance-unit-keys-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const paths = () => ({ keyPath: join(dir, 'signing-key.json'), bundlePath: join(dir, 'trust-bundle.json') });

  function keyError(fn: () => unknown): KeyError {
    try {
      fn();
    } catch (err) {
      expect(err).toBeInstanceOf(KeyError);
      return err as KeyError;
    }
    throw new Error('expected a KeyError');
  }

  it('generates a 0600 key file and a bundle holding only its public half', () => {
    const { keyPath, bundlePath } = paths();
    const now = new Date('2025-02-03T04:05:06.000Z');
    const generated = generateSigningKey({ keyPath, bundlePath, kid: 'gen-1', now });
    expect(generated.kid).toBe('gen-1');
    expect(generated.x).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(statSync(keyPath).mode & 0o777).toBe(0o600);

    const keyFile = JSON.parse(readFileSync(keyPath, 'utf8')) as Record<string, string>;
    expect(Object.keys(keyFile).sort()).toEqual(['crv', 'd', 'kid', 'kty', 'x']);
    expect(keyFile).toMatchObject({ kty: 'OKP', crv: 'Ed25519', kid: 'gen-1', x: generated.x });

    const bundleText = readFileSync(bundlePath, 'utf8');
    expect(bundleText).not.toContain(keyFile.d!);
    expect(bundleText).not.toContain('"d"');
    expect(JSON.parse(bundleText)).toEqual({
      typ: 'temporal-governance/trust-bundle@1',
      keys: [{ kid: 'gen-1', kty: 'OKP', crv: 'Ed25519', x: generated.x, notBefore: '2025-02-03T04:05:06.000Z', notAfter: null }],
    });
  });

  it('loads a generated key whose seed matches the public key, and signs what the bundle verifies', () => {
    const { keyPath, bundlePath } = paths();
    const generated = generateSigningKey({ keyPath, bundlePath, kid: 'gen-1', now: new Date(T0 - DAY) });
    const signing = loadSigningKey(keyPath);
    expect(signing.kid).toBe('gen-1');
    expect(signing.x).toBe(generated.x);
    expect(signing.seed).toHaveLength(32);
    expect(toBase64Url(publicKeyOf(signing.seed))).toBe(generated.x);

    const trust = loadTrustBundle(bundlePath);
    expect([...trust.keys.keys()]).toEqual(['gen-1']);
    const signed = signArtifact(payload({ kid: 'gen-1' }), signing, nodeEd25519);
    expect(verifySignedArtifact(signed, trust, NOW, nodeEd25519).ok).toBe(true);
    expect(verifySignedArtifact(signed, trust, NOW, nobleEd25519).ok).toBe(true);
  });

  it('refuses to overwrite an existing key file and leaves file and bundle untouched', () => {
    const { keyPath, bundlePath } = paths();
    generateSigningKey({ keyPath, bundlePath, kid: 'gen-1' });
    const keyBefore = readFileSync(keyPath, 'utf8');
    const bundleBefore = readFileSync(bundlePath, 'utf8');
    const err = keyError(() => generateSigningKey({ keyPath, bundlePath, kid: 'gen-2' }));
    expect(err.message).toMatch(/already exists; refusing to overwrite/);
    expect(readFileSync(keyPath, 'utf8')).toBe(keyBefore);
    expect(readFileSync(bundlePath, 'utf8')).toBe(bundleBefore);
  });

  it('refuses a kid already in the bundle without creating the new key file', () => {
    const { keyPath, bundlePath } = paths();
    generateSigningKey({ keyPath, bundlePath, kid: 'gen-1' });
    const second = join(dir, 'second.json');
    const err = keyError(() => generateSigningKey({ keyPath: second, bundlePath, kid: 'gen-1' }));
    expect(err.message).toContain('"gen-1" is already in');
    expect(existsSync(second)).toBe(false);
    expect(loadTrustBundle(bundlePath).keys.size).toBe(1);
  });

  it('adds a second kid to the bundle (first half of a rotation)', () => {
    const { keyPath, bundlePath } = paths();
    const a = generateSigningKey({ keyPath, bundlePath, kid: 'gen-1' });
    const b = generateSigningKey({ keyPath: join(dir, 'k2.json'), bundlePath, kid: 'gen-2' });
    const trust = loadTrustBundle(bundlePath);
    expect([...trust.keys.keys()]).toEqual(['gen-1', 'gen-2']);
    expect(a.x).not.toBe(b.x);
    expect(toBase64Url(trust.keys.get('gen-2')!.publicKey)).toBe(b.x);
  });

  it.each([0o644, 0o640, 0o604, 0o660])('loadSigningKey refuses mode %o with a chmod 600 hint', (mode) => {
    const { keyPath, bundlePath } = paths();
    generateSigningKey({ keyPath, bundlePath, kid: 'gen-1' });
    chmodSync(keyPath, mode);
    const err = keyError(() => loadSigningKey(keyPath));
    expect(err.message).toContain('chmod 600');
    expect(err.message).toContain(`mode ${mode.toString(8)}`);
  });

  it('loadSigningKey accepts mode 0400', () => {
    const { keyPath, bundlePath } = paths();
    generateSigningKey({ keyPath, bundlePath, kid: 'gen-1' });
    chmodSync(keyPath, 0o400);
    expect(loadSigningKey(keyPath).kid).toBe('gen-1');
  });

  it('loadSigningKey does not echo an invalid JSON file', () => {
    const keyPath = join(dir, 'broken.json');
    const planted = 'SUPER-SECRET-d-VALUE-0123456789abcdefghijklmnop';
    writeFileSync(keyPath, `{"d": "${planted}", oops`, { mode: 0o600 });
    chmodSync(keyPath, 0o600);
    const err = keyError(() => loadSigningKey(keyPath));
    expect(err.message).toContain('not valid JSON');
    expect(err.message).not.toContain(planted);
    expect(err.message).not.toContain('SUPER');
    expect(String(err.stack)).not.toContain(planted);
  });

  it('loadSigningKey names bad fields without their values', () => {
    const keyPath = join(dir, 'bad.json');
    const planted = 'not-a-valid-seed-but-still-secret';
    writeFileSync(keyPath, JSON.stringify({ kty: 'OKP', crv: 'Ed25519', kid: 'k', x: 'A'.repeat(43), d: planted }), { mode: 0o600 });
    chmodSync(keyPath, 0o600);
    const err = keyError(() => loadSigningKey(keyPath));
    expect(err.message).toMatch(/bad or missing d/);
    expect(err.message).not.toContain(planted);
  });

  it('loadSigningKey reports a missing file as KeyError', () => {
    expect(keyError(() => loadSigningKey(join(dir, 'nope.json'))).message).toMatch(/cannot read signing key .*ENOENT/);
  });

  it('loadTrustBundle reports missing, non-JSON and invalid bundles as KeyError', () => {
    expect(keyError(() => loadTrustBundle(join(dir, 'nope.json'))).message).toContain('ENOENT');
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, 'not json at all');
    const err = keyError(() => loadTrustBundle(bad));
    expect(err.message).toContain('not valid JSON');
    expect(err.message).not.toContain('not json at all');
    writeFileSync(bad, JSON.stringify({ typ: 'temporal-governance/trust-bundle@1', keys: [] }));
    expect(keyError(() => loadTrustBundle(bad)).message).toContain('invalid trust bundle');
  });

  it('generateSigningKey refuses to extend a corrupt bundle', () => {
    const { keyPath, bundlePath } = paths();
    writeFileSync(bundlePath, '{');
    keyError(() => generateSigningKey({ keyPath, bundlePath, kid: 'gen-1' }));
    expect(existsSync(keyPath)).toBe(false);
  });
});
