// The per-decision checks shared by `lineage verify` and the browser's proof viewer
// (src/lineage/verify-record.ts), on the published test vectors (docs/test-vectors/artifact-v3.json, denial-v2.json) laid
// out as a three-record chain: every check passes on the genuine chain and each one fails for its
// own reason when one thing is changed; node:crypto and @noble/ed25519 give identical results.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { payloadHash, signArtifact, signDenial, type Ed25519, type SigningKey } from '../../src/artifact/artifact';
import { parseTrustBundle, type TrustBundle } from '../../src/artifact/trust-bundle';
import type { SignedArtifact, SignedDenial } from '../../src/common/schemas';
import { nobleEd25519 } from '../../src/crypto/noble';
import { nodeEd25519 } from '../../src/crypto/node';
import { chainHash, GENESIS_HASH, recordFields, type LineageRecord } from '../../src/lineage/schema';
import {
  CHECK_NAMES,
  parentInfo,
  previousLinkOf,
  recognizeDocument,
  verifyDecision,
  ViolationCodes,
  type Check,
  type CheckName,
  type DecisionInput,
  type RevocationFact,
} from '../../src/lineage/verify-record';

const vectors = join(__dirname, '../../docs/test-vectors');
const artifactVector = JSON.parse(readFileSync(join(vectors, 'artifact-v3.json'), 'utf8'));
const denialVector = JSON.parse(readFileSync(join(vectors, 'denial-v2.json'), 'utf8'));
const bundleDoc = artifactVector.trustBundle;
const trust = parseTrustBundle(bundleDoc);
const KID: string = artifactVector.key.kid;
const testKey: SigningKey = { kid: KID, seed: Uint8Array.from(Buffer.from(artifactVector.key.seedHex, 'hex')) };

const grant: SignedArtifact = artifactVector.runGrant.signed;
const charge: SignedArtifact = artifactVector.artifact.signed;
const denial: SignedDenial = denialVector.denial.signed;

/** A lineage record the way persistLineageBatch lays one out. */
function recordOf(signed: SignedArtifact | SignedDenial, kind: 'artifact' | 'denial', seq: number, prevHash: string, ancestors: string[]): LineageRecord {
  const fields = recordFields(signed, kind);
  const link = { rootId: fields.rootId, seq, prevHash, parentId: fields.parentId, ancestors, signed };
  return { ...fields, ancestors, depth: ancestors.length, seq, prevHash, hash: chainHash(link), recordedAt: new Date(1740830460000) };
}
const grantRecord = recordOf(grant, 'artifact', 0, GENESIS_HASH, []);
const chargeRecord = recordOf(charge, 'artifact', 1, grantRecord.hash, [grant.payload.id]);
const denialRecord = recordOf(denial, 'denial', 2, chargeRecord.hash, [grant.payload.id]);

const inputFor = (record: LineageRecord, over: Partial<DecisionInput> = {}): DecisionInput => {
  const signed = (record.artifact ?? record.denial)!;
  return {
    signed,
    kind: record.kind,
    record,
    parent: signed.payload.parent === null ? undefined : { state: 'found', parent: parentInfo(grantRecord) },
    previous: record.seq === 0 ? undefined : previousLinkOf(record.seq === 1 ? grantRecord : chargeRecord),
    revocations: [],
    ...over,
  };
};

const verify = (input: DecisionInput, bundle: TrustBundle = trust, ed: Ed25519 = nodeEd25519, now?: number) => verifyDecision(input, bundle, ed, now === undefined ? {} : { now });
const statuses = (checks: readonly Check[]) => Object.fromEntries(checks.map((c) => [c.name, c.status]));
const byName = (checks: readonly Check[], name: CheckName) => checks.find((c) => c.name === name)!;
/** The checks that failed, with their codes: the exact answer to "what is wrong". */
const failures = (checks: readonly Check[]) => checks.filter((c) => c.status === 'fail').map((c) => [c.name, c.findings.map((f) => f.code)]);

/** Re-signed with the published test key: a genuine signature over a changed payload. */
const resign = (signed: SignedArtifact, change: Partial<SignedArtifact['payload']>) => signArtifact({ ...signed.payload, ...change }, testKey, nodeEd25519);

describe('a genuine chain', () => {
  test('every check passes or does not apply, in the documented order, with a reason', () => {
    for (const record of [grantRecord, chargeRecord, denialRecord]) {
      const result = verify(inputFor(record));
      expect(result.checks.map((c) => c.name)).toEqual([...CHECK_NAMES]);
      expect(result.ok).toBe(true);
      for (const c of result.checks) expect(c.reason.length).toBeGreaterThan(10);
    }
    expect(statuses(verify(inputFor(grantRecord)).checks)).toEqual({
      signature: 'pass',
      'key-window': 'pass',
      binding: 'pass',
      'parent-link': 'pass',
      'chain-link': 'pass',
      revocations: 'pass',
    });
    // A denial grants nothing: no revocation can void it.
    expect(statuses(verify(inputFor(denialRecord)).checks)).toMatchObject({ 'parent-link': 'pass', 'chain-link': 'pass', revocations: 'not-applicable' });
    expect(byName(verify(inputFor(chargeRecord)).checks, 'chain-link').reason).toBe(
      `seq 1 of root ${grant.payload.id}: hash is the hash of this link and prevHash is the hash of ${grant.payload.id} (seq 0)`,
    );
  });

  test('a bare artifact (no record) checks signature and key window; binding and chain do not apply; its parent link still can', () => {
    const result = verify({ signed: charge, kind: 'artifact', parent: { state: 'found', parent: parentInfo(grantRecord) } });
    expect(statuses(result.checks)).toEqual({
      signature: 'pass',
      'key-window': 'pass',
      binding: 'not-applicable',
      'parent-link': 'pass',
      'chain-link': 'not-applicable',
      revocations: 'not-applicable',
    });
    expect(byName(result.checks, 'binding').reason).toContain('bound to activity chargeCard (activity id 1) on task queue payments in default/pay-order-42/01957e2a-3b1c-7d4e-9f00-000000000042');
    expect(result.ok).toBe(true);
  });
});

describe('each check fails for its own reason', () => {
  test('tampered signature: a changed payload no longer verifies', () => {
    const forged = { ...charge, payload: { ...charge.payload, target: 'refundCard' } };
    const result = verify({ signed: forged, kind: 'artifact' });
    expect(failures(result.checks)).toEqual([['signature', [ViolationCodes.badSignature]]]);
    expect(byName(result.checks, 'signature').reason).toBe(`signature does not verify with key ${KID}`);
    expect(result.ok).toBe(false);
    const garbled = verify({ signed: { ...charge, signature: `${charge.signature.slice(0, 85)}B` }, kind: 'artifact' });
    expect(failures(garbled.checks)).toEqual([['signature', [ViolationCodes.badSignature]]]);
  });

  test('a tampered artifact checked against its lineage record also fails the binding', () => {
    const forged = { ...charge, payload: { ...charge.payload, target: 'refundCard' } };
    const result = verify(inputFor(chargeRecord, { signed: forged }));
    expect(failures(result.checks)).toEqual([
      ['signature', [ViolationCodes.badSignature]],
      ['binding', [ViolationCodes.fieldMismatch, ViolationCodes.fieldMismatch, ViolationCodes.fieldMismatch]],
    ]);
    expect(byName(result.checks, 'binding').reason).toContain(`the lineage record ${charge.payload.id} holds a different signed artifact`);
    expect(byName(result.checks, 'binding').reason).toContain('target is "chargeCard" in the document but "refundCard" in the signed payload');
  });

  test('unknown kid: the signature fails, the key window does not apply', () => {
    const stranger = parseTrustBundle({ ...bundleDoc, keys: [{ ...bundleDoc.keys[0], kid: 'someone-else' }] });
    const result = verify(inputFor(chargeRecord), stranger);
    expect(failures(result.checks)).toEqual([['signature', [ViolationCodes.untrustedKey]]]);
    expect(byName(result.checks, 'signature').reason).toBe(`key "${KID}" is not in the trust bundle`);
    expect(byName(result.checks, 'key-window').status).toBe('not-applicable');
  });

  test('key window: a key not yet valid at issuedAt, one retired before it, and an issuedAt in the future', () => {
    const late = parseTrustBundle({ ...bundleDoc, keys: [{ ...bundleDoc.keys[0], notBefore: '2025-03-01T12:00:01.500Z' }] });
    const result = verify(inputFor(chargeRecord), late);
    expect(failures(result.checks)).toEqual([['key-window', [ViolationCodes.keyNotValid]]]);
    expect(byName(result.checks, 'key-window').reason).toBe(
      `key ${KID} was not valid at issuedAt 2025-03-01T12:00:01.234Z (window [2025-03-01T12:00:01.500Z, open))`,
    );
    const retired = parseTrustBundle({ ...bundleDoc, keys: [{ ...bundleDoc.keys[0], notAfter: '2025-03-01T12:00:01.234Z' }] });
    expect(failures(verify(inputFor(chargeRecord), retired).checks)).toEqual([['key-window', [ViolationCodes.keyNotValid]]]);
    // Retired since: still valid (judged at issuedAt).
    const since = parseTrustBundle({ ...bundleDoc, keys: [{ ...bundleDoc.keys[0], notAfter: '2025-03-02T00:00:00.000Z' }] });
    expect(verify(inputFor(chargeRecord), since).ok).toBe(true);
    // With a clock: more than 5 s ahead of it is refused; offline (no clock) it is not asked.
    const issuedAt = charge.payload.issuedAt;
    expect(failures(verify(inputFor(chargeRecord), trust, nodeEd25519, issuedAt - 5_001).checks)).toEqual([['key-window', [ViolationCodes.keyNotValid]]]);
    expect(verify(inputFor(chargeRecord), trust, nodeEd25519, issuedAt - 5_000).ok).toBe(true);
  });

  test('wrong parent hash: a genuinely signed child naming another payload hash', () => {
    const child = resign(charge, { parent: { id: grant.payload.id, hash: `sha256:${'1'.repeat(64)}` } });
    const result = verify({ signed: child, kind: 'artifact', parent: { state: 'found', parent: parentInfo(grantRecord) } });
    expect(failures(result.checks)).toEqual([['parent-link', [ViolationCodes.parentHashMismatch]]]);
    expect(byName(result.checks, 'parent-link').reason).toBe(
      `the signed parent hash sha256:${'1'.repeat(64)} is not the payload hash of ${grant.payload.id} (${payloadHash(grant.payload)})`,
    );
  });

  test('parent link: missing, unreadable, not a grant, from another run, and a parent whose own signature fails', () => {
    const missing = verify(inputFor(chargeRecord, { parent: { state: 'missing' } }));
    expect(failures(missing.checks)).toEqual([['parent-link', [ViolationCodes.parentMissing]]]);
    const invalid = verify(inputFor(chargeRecord, { parent: { state: 'invalid', problems: ['depth: expected number'] } }));
    expect(failures(invalid.checks)).toEqual([['parent-link', [ViolationCodes.parentInvalid]]]);
    const perCall = { ...parentInfo(chargeRecord), id: grant.payload.id, ancestors: [], seq: 0 };
    const notGrant = verify(inputFor(denialRecord, { parent: { state: 'found', parent: perCall } }));
    expect(failures(notGrant.checks)).toEqual([['parent-link', [ViolationCodes.parentNotGrant]]]);
    expect(byName(notGrant.checks, 'parent-link').reason).toBe(`parent ${grant.payload.id} is a activity artifact; only grants have children`);
    const otherRun = resign(charge, { runId: 'another-run' });
    const relation = verify({ signed: otherRun, kind: 'artifact', parent: { state: 'found', parent: parentInfo(grantRecord) } });
    expect(failures(relation.checks)).toEqual([['parent-link', [ViolationCodes.parentRelation]]]);
    expect(byName(relation.checks, 'parent-link').reason).toContain('must descend from the run grant of its own run (pay-order-42/another-run)');
    const unsigned = verify(inputFor(chargeRecord, { parent: { state: 'found', parent: parentInfo(grantRecord), signatureProblems: [{ code: ViolationCodes.badSignature, message: 'signature does not verify' }] } }));
    expect(failures(unsigned.checks)).toEqual([['parent-link', [ViolationCodes.parentInvalid]]]);
    // Not consulted: says so instead of passing.
    expect(byName(verify({ signed: charge, kind: 'artifact' }).checks, 'parent-link').status).toBe('not-applicable');
  });

  test('a root that is not a run grant, and a record whose depth or ancestors were changed', () => {
    const rootCharge = resign(charge, { parent: null, ancestors: [], ancestorKids: [], rootId: charge.payload.id, chain: { id: charge.payload.id, hop: 1 } });
    expect(failures(verify({ signed: rootCharge, kind: 'artifact' }).checks)).toEqual([['parent-link', [ViolationCodes.rootMismatch]]]);
    // A root run grant starts its own chain at hop 1, signed by no ancestor.
    for (const change of [{ chain: { id: 'art_elsewhere', hop: 1 } }, { chain: { id: grant.payload.id, hop: 2 } }]) {
      expect(failures(verify({ signed: resign(grant, change), kind: 'artifact' }).checks)).toEqual([['parent-link', [ViolationCodes.rootMismatch]]]);
    }
    expect(failures(verify({ signed: resign(grant, { ancestorKids: [KID] }), kind: 'artifact' }).checks)).toEqual([['parent-link', [ViolationCodes.ancestorsMismatch]]]);
    const deeper = { ...chargeRecord, depth: 3 };
    expect(failures(verify(inputFor(deeper)).checks)).toEqual([['parent-link', [ViolationCodes.depthMismatch]]]);
    const rehung = { ...chargeRecord, ancestors: ['art_elsewhere'] };
    expect(failures(verify(inputFor(rehung)).checks)).toEqual([
      ['parent-link', [ViolationCodes.ancestorsMismatch]],
      ['chain-link', [ViolationCodes.hashMismatch]],
    ]);
  });

  test('broken chain link: a wrong prevHash, a changed hash, a gap, and a previous record that does not hash to its own link', () => {
    const relinked = recordOf(charge, 'artifact', 1, `sha256:${'2'.repeat(64)}`, [grant.payload.id]);
    const result = verify(inputFor(relinked));
    expect(failures(result.checks)).toEqual([['chain-link', [ViolationCodes.prevHashMismatch]]]);
    expect(byName(result.checks, 'chain-link').reason).toBe(`prevHash sha256:${'2'.repeat(64)} is not the hash of ${grant.payload.id} (seq 0): ${grantRecord.hash}`);
    expect(failures(verify(inputFor({ ...chargeRecord, hash: `sha256:${'3'.repeat(64)}` })).checks)).toEqual([['chain-link', [ViolationCodes.hashMismatch]]]);
    expect(failures(verify(inputFor(chargeRecord, { previous: { state: 'missing' } })).checks)).toEqual([['chain-link', [ViolationCodes.seqGap]]]);
    const tamperedPrevious = previousLinkOf({ ...grantRecord, principal: 'mallory', hash: grantRecord.hash, prevHash: `sha256:${'4'.repeat(64)}` });
    expect(failures(verify(inputFor(chargeRecord, { previous: tamperedPrevious })).checks)).toEqual([['chain-link', [ViolationCodes.hashMismatch]]]);
    const genesis = recordOf(grant, 'artifact', 0, `sha256:${'5'.repeat(64)}`, []);
    expect(failures(verify(inputFor(genesis)).checks)).toEqual([['chain-link', [ViolationCodes.prevHashMismatch]]]);
    // Not consulted: own hash checked, the link not claimed.
    expect(byName(verify(inputFor(chargeRecord, { previous: undefined })).checks, 'chain-link').status).toBe('not-applicable');
  });

  test('binding: a searchable copy changed, a kind that carries both', () => {
    const result = verify(inputFor({ ...chargeRecord, principal: 'mallory' }));
    expect(failures(result.checks)).toEqual([['binding', [ViolationCodes.fieldMismatch]]]);
    expect(byName(result.checks, 'binding').reason).toBe('principal is "mallory" in the document but "alice" in the signed payload');
    expect(failures(verify(inputFor({ ...chargeRecord, denial })).checks)).toEqual([['binding', [ViolationCodes.kindMismatch]]]);
  });

  test('revoked: the signing key, an ancestor, the principal, the API key; an unrelated revocation passes', () => {
    const at = Date.parse('2025-03-01T13:00:00.000Z');
    const revoked = (kind: RevocationFact['kind'], id: string) => verify(inputFor(chargeRecord, { revocations: [{ kind, id, reason: 'test', at }] }));
    for (const [kind, id] of [
      ['signing-key', KID],
      ['authorization', grant.payload.id],
      ['authorization', charge.payload.id],
      ['principal', 'alice'],
      ['api-key', 'ak_0123456789abcdef'],
    ] as const) {
      expect(failures(revoked(kind, id).checks)).toEqual([['revocations', [ViolationCodes.revoked]]]);
    }
    expect(byName(revoked('authorization', grant.payload.id).checks, 'revocations').reason).toBe(
      `authorization ${grant.payload.id} (an ancestor) was revoked at 2025-03-01T13:00:00.000Z, after this decision was issued (2025-03-01T12:00:01.234Z): "test"`,
    );
    expect(byName(revoked('principal', 'bob').checks, 'revocations').status).toBe('pass');
    expect(byName(verify(inputFor(chargeRecord, { revocations: undefined })).checks, 'revocations').status).toBe('not-applicable');
  });
});

describe('node:crypto and @noble/ed25519', () => {
  test('give identical results for every scenario', () => {
    const stranger = parseTrustBundle({ ...bundleDoc, keys: [{ ...bundleDoc.keys[0], kid: 'someone-else' }] });
    const forged = { ...charge, payload: { ...charge.payload, target: 'refundCard' } };
    const scenarios: Array<[DecisionInput, TrustBundle]> = [
      [inputFor(grantRecord), trust],
      [inputFor(chargeRecord), trust],
      [inputFor(denialRecord), trust],
      [inputFor(chargeRecord, { signed: forged }), trust],
      [{ signed: forged, kind: 'artifact' }, trust],
      [{ signed: { ...denial, signature: denial.signature.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')) }, kind: 'denial' }, trust],
      [inputFor(chargeRecord), stranger],
      [inputFor({ ...chargeRecord, hash: GENESIS_HASH }), trust],
    ];
    for (const [input, bundle] of scenarios) expect(verify(input, bundle, nobleEd25519)).toEqual(verify(input, bundle, nodeEd25519));
    expect(verify(scenarios[3]![0], trust, nobleEd25519).ok).toBe(false);
  });
});

describe('recognizeDocument', () => {
  test('recognizes an artifact, a denial and a lineage record in its JSON form (dates as ISO strings)', () => {
    expect(recognizeDocument(JSON.parse(JSON.stringify(charge)))).toMatchObject({ ok: true, type: 'artifact', signed: charge });
    expect(recognizeDocument(denial)).toMatchObject({ ok: true, type: 'denial', signed: denial });
    const json = JSON.parse(JSON.stringify(denialRecord));
    expect(typeof json.issuedAt).toBe('string');
    const recognized = recognizeDocument(json);
    expect(recognized).toMatchObject({ ok: true, type: 'record', kind: 'denial', signed: denial });
    if (!recognized.ok || recognized.type !== 'record') throw new Error('expected a record');
    expect(recognized.record).toEqual(denialRecord);
    expect(verify(inputFor(recognized.record)).ok).toBe(true);
  });

  test('refuses anything else with the problem named, never throwing', () => {
    expect(recognizeDocument('text')).toEqual({ ok: false, problems: ['expected a JSON object: a signed artifact, a signed denial or a lineage record'] });
    expect(recognizeDocument([charge])).toMatchObject({ ok: false });
    expect(recognizeDocument({ payload: { typ: 'temporal-governance/authorization-artifact@1' }, signature: 'x' })).toEqual({
      ok: false,
      problems: ['payload.typ must be temporal-governance/authorization-artifact@3 or temporal-governance/denial@2, is "temporal-governance/authorization-artifact@1"'],
    });
    const extra = recognizeDocument({ ...charge, payload: { ...charge.payload, admin: true } });
    expect(extra).toMatchObject({ ok: false });
    expect((extra as { problems: readonly string[] }).problems.join()).toContain('admin');
    expect(recognizeDocument({ ...JSON.parse(JSON.stringify(chargeRecord)), issuedAt: 'yesterday' })).toMatchObject({ ok: false, problems: [expect.stringContaining('issuedAt')] });
    expect(recognizeDocument({ hello: 'world' })).toMatchObject({ ok: false });
  });
});

describe('continue-as-new chains and nesting (artifact.md section 5.1), signed with the test key', () => {
  const G1 = grant.payload;
  const link = (p: SignedArtifact['payload']) => ({ id: p.id, hash: payloadHash(p) });
  // Run 1 continues as new: X1 -> run 2's grant G2 -> its activity A2 and a child-workflow Y -> the child's grant H1.
  const x1 = resign(grant, { id: 'X1', action: 'continue-as-new', parent: link(G1), ancestors: [G1.id], ancestorKids: [KID], chain: { id: G1.id, hop: 1 }, exempt: [] });
  const g2 = resign(grant, { id: 'G2', runId: 'run-2', parent: link(x1.payload), ancestors: [G1.id], ancestorKids: [KID], chain: { id: G1.id, hop: 2 } });
  const a2 = resign(charge, { id: 'A2', runId: 'run-2', parent: link(g2.payload), ancestors: [G1.id], ancestorKids: [KID], chain: { id: G1.id, hop: 2 } });
  const y = resign(grant, { id: 'Y', action: 'child-workflow', runId: 'run-2', childWorkflowId: 'child-1', parent: link(g2.payload), ancestors: [G1.id], ancestorKids: [KID], chain: { id: G1.id, hop: 2 }, exempt: [] });
  const h1 = resign(grant, { id: 'H1', workflowId: 'child-1', runId: 'child-run-1', parent: link(y.payload), ancestors: [G1.id, 'Y'], ancestorKids: [KID], chain: { id: 'H1', hop: 1 } });
  const record = (s: SignedArtifact, seq: number) => recordOf(s, 'artifact', seq, GENESIS_HASH, s.payload.ancestors);
  const parentOf = (s: SignedArtifact, seq: number): DecisionInput['parent'] => ({ state: 'found', parent: parentInfo(record(s, seq)) });
  const parentLink = (x: SignedArtifact, p: SignedArtifact) => verify({ signed: x, kind: 'artifact', parent: parentOf(p, 0) }).checks.find((c) => c.name === 'parent-link')!;

  test('every genuine link passes', () => {
    for (const [x, p] of [[x1, grant], [g2, x1], [a2, g2], [y, g2], [h1, y]] as const) expect(parentLink(x, p)).toMatchObject({ status: 'pass' });
  });

  test.each<[string, SignedArtifact, SignedArtifact]>([
    ['a continued run grant that skips a hop', resign(g2, { chain: { id: G1.id, hop: 3 } }), x1],
    ['a continued run grant naming another chain', resign(g2, { chain: { id: 'G9', hop: 2 } }), x1],
    ['a continued run grant that starts a chain of its own', resign(g2, { chain: { id: 'G2', hop: 1 } }), x1],
    ['a call in another hop than its run grant', resign(a2, { chain: { id: G1.id, hop: 1 } }), g2],
    ['a child\'s first grant that does not name itself', resign(h1, { chain: { id: G1.id, hop: 2 } }), y],
    ['a call listing the collapsed hop it descends from', resign(a2, { ancestors: [G1.id, 'G2'] }), g2],
    ['a call that drops its chain from the ancestors', resign(a2, { ancestors: [] }), g2],
    ['ancestorKids not deduplicated', resign(a2, { ancestorKids: [KID, KID] }), g2],
  ])('%s: PARENT_RELATION', (_label, x, p) => {
    expect(parentLink(x, p).findings.map((f) => f.code)).toContain(ViolationCodes.parentRelation);
  });

  test('a child-workflow artifact whose child would nest beyond 32 levels: PARENT_RELATION, even when signed', () => {
    const deep = Array.from({ length: 65 }, (_, i) => `s${i}`);
    // A continued run's grant at level 31 (63 ancestors, the last its chain id) may start a child at level 32.
    const level31 = resign(g2, { ancestors: deep.slice(0, 63), chain: { id: deep[62]!, hop: 2 } });
    const atCap = resign(y, { parent: link(level31.payload), ancestors: level31.payload.ancestors, chain: level31.payload.chain });
    // One at level 32 (65 ancestors) may not: its child would run at level 33.
    const level32 = resign(g2, { ancestors: deep, chain: { id: deep[64]!, hop: 2 } });
    const overCap = resign(y, { parent: link(level32.payload), ancestors: deep, chain: level32.payload.chain });
    expect(parentLink(atCap, level31)).toMatchObject({ status: 'pass' });
    expect(parentLink(overCap, level32).findings.map((f) => f.message).join()).toContain('nesting level 33, deeper than the maximum of 32');
  });

  test("a denial's record ancestors under a collapsed hop are the hop's own (the chain), not the hop", () => {
    const d = signDenialLike(denial, { parent: link(g2.payload), runId: 'run-2' });
    const good = recordOf(d, 'denial', 1, GENESIS_HASH, [G1.id]);
    const listingHop = recordOf(d, 'denial', 1, GENESIS_HASH, [G1.id, 'G2']);
    const input = (r: LineageRecord): DecisionInput => ({ signed: d, kind: 'denial', record: r, parent: parentOf(g2, 0) });
    expect(failures(verify(input(good)).checks)).toEqual([]);
    expect(failures(verify(input(listingHop)).checks)).toEqual([['parent-link', [ViolationCodes.ancestorsMismatch]]]);
  });
});

function signDenialLike(signed: SignedDenial, change: Partial<SignedDenial['payload']>): SignedDenial {
  return signDenial({ ...signed.payload, ...change }, testKey, nodeEd25519);
}
