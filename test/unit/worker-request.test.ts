// Direct authorization's worker credential: a request is admitted only when a live worker key signed
// that very request, recently, for a scheduled time governance accepts; each refusal for its reason.
import { WORKER_ROLE } from '../../src/common/constants';
import { nodeEd25519 } from '../../src/crypto/node';
import { nobleEd25519 } from '../../src/crypto/noble';
import { requestDigest } from '../../src/direct/wire';
import { parseDirectAuthorizationOptions } from '../../src/direct/local-activity';
import { parseDirectEndpointOptions } from '../../src/direct/endpoint';
import { signWorkerRequest, verifyWorkerRequest, type DirectCaller } from '../../src/direct/worker-request';
import { generateApiKey, parseApiKey, signWithApiKey } from '../../src/identity/api-key';
import { SignedWorkerRequestSchema, type ApiKeyDocument, type RevocationKind } from '../../src/identity/schema';
import { identitySnapshot } from '../../src/identity/snapshot';

const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const created = new Date(0);
const worker = generateApiKey();
const alice = generateApiKey();
const snapshot = (over: { key?: Partial<ApiKeyDocument>; roles?: string[]; revoked?: Array<[RevocationKind, string]> } = {}) =>
  identitySnapshot(
    {
      principals: [
        { _id: 'worker-payments', roles: over.roles ?? [WORKER_ROLE], description: null, createdAt: created },
        { _id: 'alice', roles: ['operator'], description: null, createdAt: created },
      ],
      apiKeys: [
        { _id: worker.keyId, principal: 'worker-payments', publicKey: worker.publicKey, roles: null, createdAt: created, expiresAt: null, ...over.key },
        { _id: alice.keyId, principal: 'alice', publicKey: alice.publicKey, roles: null, createdAt: created, expiresAt: null },
      ],
      revocations: (over.revoked ?? []).map(([kind, id]) => ({ _id: `${kind}:${id}`, kind, id, reason: 'test', at: created })),
    },
    T0,
  );
const caller: DirectCaller = { namespace: 'default', workflowId: 'wf-1', runId: 'run-1', workflowType: 'payOnce', activityId: '3', scheduledAt: T0 - 1_000 };
const request = { v: 2, action: 'activity', target: 'charge', args: [['json', { amount: 5 }]] };
const check = { maxScheduledAgeMs: 120_000 };
const sign = (over: Partial<DirectCaller> = {}, key = worker.apiKey, req: unknown = request, at = T0 - 50) => signWorkerRequest(parseApiKey(key), { ...caller, ...over }, req, at);
const verify = (proof = sign(), req: unknown = request, snap = snapshot(), ed = nodeEd25519) => verifyWorkerRequest(proof, req, snap, T0, ed, check);
const reason = (r: ReturnType<typeof verify>) => ('code' in r ? `${r.code}: ${r.reason}` : 'OK');

describe('verifyWorkerRequest', () => {
  test('a live worker key over this request admits its caller, with node:crypto and noble alike', () => {
    for (const ed of [nodeEd25519, nobleEd25519]) {
      expect(verify(sign(), request, snapshot(), ed)).toEqual({ caller, workerPrincipal: 'worker-payments', keyId: worker.keyId });
    }
    expect(SignedWorkerRequestSchema.safeParse(sign()).success).toBe(true);
    expect(sign().payload.requestDigest).toBe(requestDigest(request));
  });

  test('unknown, revoked and expired keys, and a revoked principal, are refused', () => {
    const stranger = generateApiKey();
    expect(reason(verify(sign({}, stranger.apiKey)))).toMatch(/^UNKNOWN_API_KEY/);
    expect(reason(verify(sign(), request, snapshot({ revoked: [['api-key', worker.keyId]] })))).toMatch(/^API_KEY_REVOKED/);
    expect(reason(verify(sign(), request, snapshot({ key: { expiresAt: new Date(T0 - 1) } })))).toMatch(/^API_KEY_EXPIRED/);
    expect(reason(verify(sign(), request, snapshot({ revoked: [['principal', 'worker-payments']] })))).toMatch(/^PRINCIPAL_REVOKED/);
  });

  test('a key without the worker role (an ordinary principal, or a worker key narrowed to other roles) is refused', () => {
    expect(reason(verify(sign({}, alice.apiKey)))).toContain(`does not carry role ${WORKER_ROLE}`);
    expect(reason(verify(sign(), request, snapshot({ key: { roles: ['operator'] } })))).toContain(WORKER_ROLE);
    expect(reason(verify(sign(), request, snapshot({ roles: ['operator'] })))).toContain(WORKER_ROLE);
  });

  test('a signature over another request, an edited caller and a forged signature are refused', () => {
    expect(reason(verify(sign(), { ...request, target: 'chargeAll' }))).toContain('covers another request');
    const proof = sign();
    expect(reason(verify({ ...proof, payload: { ...proof.payload, runId: 'run-2' } }))).toMatch(/^INVALID_PROOF: the worker request does not verify/);
    expect(reason(verify({ ...proof, signature: proof.signature.slice(0, -4) + 'AAAA' }))).toMatch(/^INVALID_PROOF/);
  });

  test("a request signed more than the skew away from governance's clock, or for a scheduled time out of bounds, is refused", () => {
    expect(reason(verify(sign({}, worker.apiKey, request, T0 - 6_000)))).toContain("from governance's clock");
    expect(reason(verify(sign({}, worker.apiKey, request, T0 + 6_000)))).toContain("from governance's clock");
    expect(reason(verify(sign({ scheduledAt: T0 + 6_000 })))).toContain('scheduled time');
    expect(reason(verify(sign({ scheduledAt: T0 - 126_000 })))).toContain('scheduled time');
    expect(reason(verify(sign({ scheduledAt: T0 - 124_000 })))).toBe('OK');
  });

  test('a request with no canonical form is refused, not thrown', () => {
    const bad = { n: Number.NaN };
    const proof = signWithApiKey({ ...sign().payload, requestDigest: `sha256:${'0'.repeat(64)}` }, parseApiKey(worker.apiKey));
    expect(reason(verify(proof, bad))).toMatch(/^MALFORMED_REQUEST/);
  });
});

describe('direct authorization settings', () => {
  test('application workers: https endpoints, or http on loopback only; a bad key is named, never echoed', () => {
    const apiKey = worker.apiKey;
    expect(parseDirectAuthorizationOptions({ endpoints: ['https://governance.internal:7243/'], apiKey }).endpoints).toEqual(['https://governance.internal:7243']);
    for (const url of ['http://127.0.0.1:7243', 'http://localhost:7243', 'http://[::1]:7243']) expect(parseDirectAuthorizationOptions({ endpoints: [url], apiKey }).endpoints).toEqual([url]);
    for (const url of ['http://governance.internal:7243', 'http://127.0.0.1.evil:7243', 'ftp://127.0.0.1']) expect(() => parseDirectAuthorizationOptions({ endpoints: [url], apiKey })).toThrow(/https:\/\//);
    expect(() => parseDirectAuthorizationOptions({ endpoints: [], apiKey })).toThrow(/at least one/);
    let message = '';
    try {
      parseDirectAuthorizationOptions({ endpoints: ['http://127.0.0.1:1'], apiKey: `${apiKey}x` });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/^directAuthorization\.apiKey: malformed API key/);
    expect(message).not.toContain(apiKey.slice(-20));
  });

  test('governance workers: loopback by default; any other address needs TLS', () => {
    expect(parseDirectEndpointOptions({ port: 0 })).toMatchObject({ host: '127.0.0.1', maxScheduledAgeMs: 600_000 });
    for (const host of ['0.0.0.0', '::', '10.0.0.5']) expect(() => parseDirectEndpointOptions({ port: 7243, host })).toThrow(/needs tls/);
    expect(parseDirectEndpointOptions({ port: 7243, host: '0.0.0.0', tls: { certFile: 'c.pem', keyFile: 'k.pem' } })).toMatchObject({ host: '0.0.0.0' });
    expect(() => parseDirectEndpointOptions({ port: 70_000 })).toThrow(/port/);
  });
});
