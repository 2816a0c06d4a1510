// Pure identity logic: API key format, start-proof verification (every branch), revocation and
// staleness decisions, role narrowing.
import { ApiKeyError, generateApiKey, parseApiKey, signStartProof } from '../../src/identity/api-key';
import { UNAUTHENTICATED_START_REASON, verifyStartProof, type ProofCheckOptions, type RecordedStart } from '../../src/identity/proof';
import { identitySnapshot, intersectRoles, revocationProblem, stalenessProblem } from '../../src/identity/snapshot';
import type { ApiKeyDocument, PrincipalDocument, RevocationDocument, RevocationKind } from '../../src/identity/schema';
import type { ArtifactPayload } from '../../src/common/schemas';
import { ARTIFACT_TYPE } from '../../src/common/schemas';
import { nodeEd25519 } from '../../src/crypto/node';
import { nobleEd25519 } from '../../src/crypto/noble';
import { relationProblems } from '../../src/lineage/verify';
import { GovernancePlugin, GovernancePluginError } from '../../src/plugin';

const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const created = new Date(0);
const alice = generateApiKey();
const narrow = generateApiKey();
const principals: PrincipalDocument[] = [
  { _id: 'alice', roles: ['auditor', 'operator'], description: null, createdAt: created },
  { _id: 'zed', roles: ['operator'], description: null, createdAt: created },
];
const keyDoc = (k: { keyId: string; publicKey: string }, over: Partial<ApiKeyDocument> = {}): ApiKeyDocument => ({
  _id: k.keyId,
  principal: 'alice',
  publicKey: k.publicKey,
  roles: null,
  createdAt: created,
  expiresAt: null,
  ...over,
});
const revocation = (kind: RevocationKind, id: string): RevocationDocument => ({ _id: `${kind}:${id}`, kind, id, reason: 'test', at: created });
const snapshot = (over: { apiKeys?: ApiKeyDocument[]; revocations?: RevocationDocument[]; principals?: PrincipalDocument[] } = {}) =>
  identitySnapshot({ principals: over.principals ?? principals, apiKeys: over.apiKeys ?? [keyDoc(alice), keyDoc(narrow, { roles: ['operator'] })], revocations: over.revocations ?? [] }, T0);

const start: RecordedStart = { namespace: 'default', workflowId: 'wf-1', workflowType: 'payOnce', taskQueue: 'payments', argsDigest: `sha256:${'a'.repeat(64)}`, startedAt: T0 };
const checks: ProofCheckOptions = { maxAgeMs: 60_000, skewMs: 5_000, checkAge: true };
const proofOf = (key = alice.apiKey, at = T0 - 100, over: Partial<RecordedStart> = {}) => signStartProof(parseApiKey(key), { ...start, ...over }, at);
const verify = (raw: unknown, snap = snapshot(), options = checks, at = T0) => verifyStartProof(raw, start, snap, at, nodeEd25519, options);
const codeOf = (r: ReturnType<typeof verify>) => ('code' in r ? r.code : 'OK');

describe('API keys', () => {
  it('look like tgk.<key id>.<secret> and round-trip through parseApiKey', () => {
    expect(alice.apiKey).toMatch(/^tgk\.ak_[0-9a-f]{16}\.[A-Za-z0-9_-]{43}$/);
    const parsed = parseApiKey(alice.apiKey);
    expect(parsed.keyId).toBe(alice.keyId);
    expect(parsed.seed).toHaveLength(32);
    expect(generateApiKey().apiKey).not.toBe(alice.apiKey);
  });

  it.each([['empty', ''], ['wrong prefix', alice.apiKey.replace(/^tgk/, 'xyz')], ['short secret', alice.apiKey.slice(0, -1)], ['bad id', alice.apiKey.replace('ak_', 'bk_')]])(
    'refuses a malformed key (%s) without echoing it',
    (_label, bad) => {
      expect(() => parseApiKey(bad)).toThrow(ApiKeyError);
      try {
        parseApiKey(bad);
      } catch (err) {
        expect((err as Error).message).not.toContain(alice.apiKey.split('.')[2]!.slice(0, 10));
      }
    },
  );
});

describe('verifyStartProof', () => {
  it('accepts a fresh proof bound to this start and returns the principal, roles and proof id', () => {
    const r = verify(proofOf());
    expect(r).toEqual({ keyId: alice.keyId, principal: 'alice', roles: ['auditor', 'operator'], proofId: expect.stringMatching(/^sha256:[0-9a-f]{64}$/) });
  });

  it('gives a key restricted to some roles only those its principal still holds', () => {
    expect(verify(proofOf(narrow.apiKey))).toMatchObject({ roles: ['operator'] });
    const demoted = snapshot({ principals: [{ ...principals[0]!, roles: ['auditor'] }] });
    expect(verify(proofOf(narrow.apiKey), demoted)).toMatchObject({ roles: [] });
  });

  it('verifies identically with @noble/ed25519', () => {
    expect(verifyStartProof(proofOf(), start, snapshot(), T0, nobleEd25519, checks)).toMatchObject({ principal: 'alice' });
  });

  it.each<[string, () => unknown, string]>([
    ['no proof', () => undefined, 'UNAUTHENTICATED'],
    ['malformed proof', () => ({ payload: { typ: 'x' }, signature: 'a' }), 'INVALID_PROOF'],
    ['unknown key', () => proofOf(generateApiKey().apiKey), 'UNKNOWN_API_KEY'],
    ['bad signature', () => ({ ...proofOf(), signature: proofOf().signature.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')) }), 'INVALID_PROOF'],
    ['other workflow id', () => proofOf(alice.apiKey, T0 - 100, { workflowId: 'wf-2' }), 'INVALID_PROOF'],
    ['other workflow type', () => proofOf(alice.apiKey, T0 - 100, { workflowType: 'refund' }), 'INVALID_PROOF'],
    ['other arguments', () => proofOf(alice.apiKey, T0 - 100, { argsDigest: `sha256:${'b'.repeat(64)}` }), 'INVALID_PROOF'],
    ['other namespace', () => proofOf(alice.apiKey, T0 - 100, { namespace: 'prod' }), 'INVALID_PROOF'],
    ['other task queue (a run routed to a queue the attacker polls)', () => proofOf(alice.apiKey, T0 - 100, { taskQueue: 'rogue-queue' }), 'INVALID_PROOF'],
    ['the previous proof format (no task queue)', () => {
      const p = proofOf();
      const { taskQueue: _dropped, ...payload } = p.payload;
      return { payload: { ...payload, typ: 'temporal-governance/start-proof@1' }, signature: p.signature };
    }, 'INVALID_PROOF'],
    ['too old', () => proofOf(alice.apiKey, T0 - 60_001), 'INVALID_PROOF'],
    ['issued after the start', () => proofOf(alice.apiKey, T0 + 5_001), 'INVALID_PROOF'],
  ])('denies %s', (_label, raw, code) => {
    expect(codeOf(verify(raw()))).toBe(code);
  });

  it('a run without a proof (plain `temporal workflow start`, the Web UI) is told which command to use instead', () => {
    const denied = verify(undefined);
    expect(denied).toEqual({ code: 'UNAUTHENTICATED', reason: UNAUTHENTICATED_START_REASON });
    expect(UNAUTHENTICATED_START_REASON).toContain('temporal-governance workflow start');
    expect(UNAUTHENTICATED_START_REASON).toContain('GovernancePlugin({ apiKey })');
  });

  it('tampering with any signed field breaks the signature', () => {
    const p = proofOf();
    expect(codeOf(verify({ ...p, payload: { ...p.payload, issuedAt: p.payload.issuedAt + 1 } }))).toBe('INVALID_PROOF');
  });

  it('skips the age check for retries and cron runs (the claim admits them instead)', () => {
    expect(codeOf(verify(proofOf(alice.apiKey, T0 - 3_600_000), snapshot(), { ...checks, checkAge: false }))).toBe('OK');
  });

  it('denies revoked and expired keys, unknown and revoked principals, naming the principal', () => {
    const revoked = verify(proofOf(), snapshot({ revocations: [revocation('api-key', alice.keyId)] }));
    expect(revoked).toMatchObject({ code: 'API_KEY_REVOKED', principal: 'alice' });
    expect(codeOf(verify(proofOf(), snapshot({ apiKeys: [keyDoc(alice, { expiresAt: new Date(T0) })] })))).toBe('API_KEY_EXPIRED');
    expect(codeOf(verify(proofOf(), snapshot({ apiKeys: [keyDoc(alice, { expiresAt: new Date(T0 + 1) })] })))).toBe('OK');
    expect(codeOf(verify(proofOf(), snapshot({ apiKeys: [keyDoc(alice, { principal: 'ghost' })] })))).toBe('UNKNOWN_PRINCIPAL');
    expect(verify(proofOf(), snapshot({ revocations: [revocation('principal', 'alice')] }))).toMatchObject({ code: 'PRINCIPAL_REVOKED', principal: 'alice' });
  });

  it('never puts key material in a reason', () => {
    const secret = alice.apiKey.split('.')[2]!;
    for (const r of [verify(proofOf(), snapshot({ revocations: [revocation('api-key', alice.keyId)] })), verify(proofOf(alice.apiKey, T0 - 100, { workflowId: 'x' }))]) {
      expect(JSON.stringify(r)).not.toContain(secret);
    }
  });
});

describe('revocation and staleness', () => {
  const payload = {
    typ: ARTIFACT_TYPE,
    id: 'art_leaf',
    kid: 'k2',
    principal: 'alice',
    credential: alice.keyId,
    // A per-call artifact in hop 3 of a child's continue-as-new chain: its scope path lists the
    // root, the child-workflow artifact and the chain's first run grant, never the hops.
    ancestors: ['art_root', 'art_child', 'art_chain'],
    ancestorKids: ['k1', 'k2'],
    chain: { id: 'art_chain', hop: 3 },
    parent: { id: 'art_hop3', hash: `sha256:${'0'.repeat(64)}` },
  } as unknown as ArtifactPayload;
  const revoked = (...docs: RevocationDocument[]) => revocationProblem(payload, snapshot({ revocations: docs }));

  it('passes an artifact nothing revoked touches', () => {
    expect(revoked()).toBeNull();
    expect(revoked(revocation('authorization', 'art_other'), revocation('principal', 'zed'), revocation('signing-key', 'k9'))).toBeNull();
  });

  it.each<[string, RevocationDocument, string]>([
    ['its signing key', revocation('signing-key', 'k2'), 'SIGNING_KEY_REVOKED'],
    ['a key that signed an ancestor', revocation('signing-key', 'k1'), 'SIGNING_KEY_REVOKED'],
    ['its principal', revocation('principal', 'alice'), 'PRINCIPAL_REVOKED'],
    ['its API key', revocation('api-key', alice.keyId), 'API_KEY_REVOKED'],
    ['itself', revocation('authorization', 'art_leaf'), 'AUTHORIZATION_REVOKED'],
    ['its root', revocation('authorization', 'art_root'), 'AUTHORIZATION_REVOKED'],
    ['a middle ancestor', revocation('authorization', 'art_child'), 'AUTHORIZATION_REVOKED'],
    ['its chain (the first run grant of its continue-as-new chain)', revocation('authorization', 'art_chain'), 'AUTHORIZATION_REVOKED'],
    ['its direct parent, a continue-as-new hop its ancestors do not list', revocation('authorization', 'art_hop3'), 'AUTHORIZATION_REVOKED'],
  ])('denies an artifact when %s is revoked', (_label, doc, code) => {
    expect(revoked(doc)?.code).toBe(code);
  });

  it('trusts a snapshot up to the maximum staleness, and nothing beyond or without one', () => {
    const s = snapshot();
    expect(stalenessProblem(s, T0 + 5_000, 5_000)).toBeNull();
    expect(stalenessProblem(s, T0 + 5_001, 5_000)?.code).toBe('IDENTITY_STATE_STALE');
    expect(stalenessProblem(undefined, T0, 5_000)?.code).toBe('IDENTITY_STATE_STALE');
  });

  it('intersects roles, sorted and without duplicates', () => {
    expect(intersectRoles(['operator', 'auditor', 'operator'], ['auditor', 'operator', 'x'])).toEqual(['auditor', 'operator']);
    expect(intersectRoles(['admin'], ['operator'])).toEqual([]);
  });
});

describe('lineage verification of identity relations', () => {
  const parent = {
    typ: ARTIFACT_TYPE, id: 'art_root', kid: 'k1', principal: 'alice', namespace: 'default', action: 'workflow', workflowId: 'wf', runId: 'r1',
    credential: 'ak_0000000000000001', roles: ['auditor', 'operator'], ancestors: [], ancestorKids: [], chain: { id: 'art_root', hop: 1 },
  } as unknown as ArtifactPayload;
  const child = (over: Partial<ArtifactPayload>) =>
    ({ ...parent, id: 'art_call', kid: 'k2', action: 'activity', roles: ['operator'], ancestors: ['art_root'], ancestorKids: ['k1'], ...over }) as ArtifactPayload;

  it('accepts a narrowing child and names every widening, credential swap or rewritten ancestry', () => {
    expect(relationProblems(child({}), parent)).toEqual([]);
    expect(relationProblems(child({ roles: ['admin', 'operator'] }), parent).join()).toContain('["admin"] are not held by the parent grant art_root');
    expect(relationProblems(child({ credential: 'ak_0000000000000002' }), parent).join()).toContain('credential');
    expect(relationProblems(child({ ancestors: [] }), parent).join()).toContain('signed ancestors');
    expect(relationProblems(child({ ancestorKids: ['k9'] }), parent).join()).toContain('ancestorKids');
    expect(relationProblems(child({ chain: { id: 'art_root', hop: 2 } }), parent).join()).toContain('signed chain');
    expect(relationProblems(child({ chain: { id: 'art_other', hop: 1 } }), parent).join()).toContain('signed chain');
  });
});

describe('GovernancePlugin identity settings', () => {
  const trustBundle = { keys: new Map() };

  it('refuses a malformed API key at construction, without echoing it', () => {
    expect(() => new GovernancePlugin({ apiKey: 'tgk.ak_123.not-a-secret-value' })).toThrow(ApiKeyError);
    expect(() => new GovernancePlugin({ apiKey: 'tgk.ak_123.not-a-secret-value' })).not.toThrow(/not-a-secret-value/);
  });

  it('refuses a worker without identity, and a refresh period not below the staleness bound', async () => {
    await expect(new GovernancePlugin({ trustBundle }).configureWorker({ taskQueue: 'q' })).rejects.toThrow(/needs identity on workers/);
    await expect(new GovernancePlugin({ trustBundle, identity: { mongoUri: 'mongodb://127.0.0.1:9/', refreshMs: 5_000 } }).configureWorker({ taskQueue: 'q' })).rejects.toThrow(
      GovernancePluginError,
    );
    await expect(new GovernancePlugin({ trustBundle, identity: { mongoUri: 'mongodb://127.0.0.1:9/', refreshMs: 500, maxStalenessMs: 400 } }).configureWorker({ taskQueue: 'q' })).rejects.toThrow(
      /must be below identity.maxStalenessMs/,
    );
  });

  it('keeps the API key out of anything that serializes the plugin', () => {
    const plugin = new GovernancePlugin({ apiKey: alice.apiKey, identity: { mongoUri: 'mongodb://user:pw@127.0.0.1:9/' } });
    const text = JSON.stringify(plugin) + String(Object.values(plugin));
    expect(text).not.toContain(alice.apiKey.split('.')[2]!);
    expect(text).not.toContain('user:pw');
  });
});
