// Message proofs (signals and updates): every way a proof can fail to admit the message the server
// recorded, each for its own reason; and the policy's failWorkflow rule.
import { generateApiKey, parseApiKey, signMessageProof, type ProvenMessage } from '../../src/identity/api-key';
import { verifyMessageProof, type RecordedMessage } from '../../src/identity/proof';
import { identitySnapshot } from '../../src/identity/snapshot';
import { SignedMessageProofSchema, type ApiKeyDocument, type RevocationKind } from '../../src/identity/schema';
import { nodeEd25519 } from '../../src/crypto/node';
import { nobleEd25519 } from '../../src/crypto/noble';
import { evaluatePolicy } from '../../src/policy/evaluate';
import { parsePolicy, PolicyError } from '../../src/policy/schema';

const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const created = new Date(0);
const alice = generateApiKey();
const keyDoc = (over: Partial<ApiKeyDocument> = {}): ApiKeyDocument => ({ _id: alice.keyId, principal: 'alice', publicKey: alice.publicKey, roles: null, createdAt: created, expiresAt: null, ...over });
const snapshot = (over: { key?: Partial<ApiKeyDocument>; revoked?: Array<[RevocationKind, string]> } = {}) =>
  identitySnapshot(
    {
      principals: [{ _id: 'alice', roles: ['operator'], description: null, createdAt: created }],
      apiKeys: [keyDoc(over.key)],
      revocations: (over.revoked ?? []).map(([kind, id]) => ({ _id: `${kind}:${id}`, kind, id, reason: 'test', at: created })),
    },
    T0,
  );

const digest = `sha256:${'b'.repeat(64)}`;
const message: ProvenMessage = { kind: 'signal', namespace: 'default', workflowId: 'wf-1', runId: null, name: 'instruct', updateId: null, argsDigest: digest };
const recorded: RecordedMessage = { kind: 'signal', namespace: 'default', workflowId: 'wf-1', runId: 'run-1', name: 'instruct', updateId: null, argsDigest: digest, deliveredAt: T0 };
const options = { maxAgeMs: 60_000, skewMs: 5_000 };
const sign = (over: Partial<ProvenMessage> = {}, at = T0 - 100) => signMessageProof(parseApiKey(alice.apiKey), { ...message, ...over }, at);
const verify = (raw: unknown, rec: Partial<RecordedMessage> = {}, snap = snapshot(), ed = nodeEd25519) => verifyMessageProof(raw, { ...recorded, ...rec }, snap, T0, ed, options);
const codeOf = (r: ReturnType<typeof verify>) => ('code' in r ? r.code : 'OK');

describe('verifyMessageProof', () => {
  test('a proof of the recorded message admits it, with node:crypto and noble alike', () => {
    const proof = sign();
    for (const ed of [nodeEd25519, nobleEd25519]) expect(verify(proof, {}, snapshot(), ed)).toMatchObject({ principal: 'alice', roles: ['operator'], keyId: alice.keyId });
  });

  test('no proof: UNAUTHENTICATED, naming what to send it with', () => {
    const r = verify(undefined);
    expect(codeOf(r)).toBe('UNAUTHENTICATED');
    expect('reason' in r && r.reason).toContain('temporal-governance workflow signal');
  });

  test.each<[string, Partial<RecordedMessage>]>([
    ['another workflow', { workflowId: 'wf-2' }],
    ['another namespace', { namespace: 'prod' }],
    ['another handler', { name: 'payout' }],
    ['other arguments', { argsDigest: `sha256:${'c'.repeat(64)}` }],
    ['an update, not a signal', { kind: 'update', updateId: 'u-1' }],
  ])('a proof bound to %s is INVALID_PROOF', (_what, rec) => {
    expect(codeOf(verify(sign(), rec))).toBe('INVALID_PROOF');
  });

  test('a proof naming a run admits that run only; one naming none admits any run of the workflow', () => {
    expect(codeOf(verify(sign({ runId: 'run-1' })))).toBe('OK');
    expect(codeOf(verify(sign({ runId: 'run-0' })))).toBe('INVALID_PROOF');
    expect(codeOf(verify(sign({ runId: null }), { runId: 'run-7' }))).toBe('OK');
  });

  test('an update proof binds its update id', () => {
    const proof = sign({ kind: 'update', updateId: 'u-1' });
    expect(codeOf(verify(proof, { kind: 'update', updateId: 'u-1' }))).toBe('OK');
    expect(codeOf(verify(proof, { kind: 'update', updateId: 'u-2' }))).toBe('INVALID_PROOF');
  });

  test('issued after the server recorded the message, or longer before it than allowed: INVALID_PROOF', () => {
    expect(codeOf(verify(sign({}, T0 + 6_000)))).toBe('INVALID_PROOF');
    expect(codeOf(verify(sign({}, T0 + 4_000)))).toBe('OK'); // within the clock skew
    expect(codeOf(verify(sign({}, T0 - 61_000)))).toBe('INVALID_PROOF');
  });

  test('a changed field under the old signature, a malformed proof, an unknown, revoked or expired key', () => {
    const proof = sign();
    expect(codeOf(verify({ ...proof, payload: { ...proof.payload, argsDigest: `sha256:${'c'.repeat(64)}` } }, { argsDigest: `sha256:${'c'.repeat(64)}` }))).toBe('INVALID_PROOF');
    expect(codeOf(verify({ payload: { ...proof.payload, kind: 'signal', updateId: 'u-1' }, signature: proof.signature }))).toBe('INVALID_PROOF'); // schema: a signal names no update id
    expect(codeOf(verify({ junk: true }))).toBe('INVALID_PROOF');
    expect(codeOf(verify(sign(), {}, identitySnapshot({ principals: [], apiKeys: [], revocations: [] }, T0)))).toBe('UNKNOWN_API_KEY');
    expect(codeOf(verify(sign(), {}, snapshot({ revoked: [['api-key', alice.keyId]] })))).toBe('API_KEY_REVOKED');
    expect(codeOf(verify(sign(), {}, snapshot({ revoked: [['principal', 'alice']] })))).toBe('PRINCIPAL_REVOKED');
    expect(codeOf(verify(sign(), {}, snapshot({ key: { expiresAt: new Date(T0 - 1) } })))).toBe('API_KEY_EXPIRED');
  });

  test('the proof payload schema is strict', () => {
    expect(SignedMessageProofSchema.safeParse({ ...sign(), extra: 1 }).success).toBe(false);
    expect(SignedMessageProofSchema.safeParse({ ...sign(), payload: { ...sign().payload, kind: 'query' } }).success).toBe(false);
  });
});

describe('failWorkflow', () => {
  const base = { id: 'p', rules: [{ id: 'allow', effect: 'allow', when: { actions: ['signal'] } }] };
  const deny = (over: Record<string, unknown>) => parsePolicy({ ...base, rules: [...base.rules, { id: 'no-sabotage', effect: 'deny', when: { actions: ['signal'], targets: ['sabotage'] }, ...over }] });
  const input = (action: 'signal' | 'activity', target: string) => ({ principal: 'alice', roles: ['operator'], action, target, workflowType: 'wf', taskQueue: 'q', args: [] });

  test('a deny rule that says so marks a message denial as failing the run; a plain deny does not', () => {
    expect(evaluatePolicy(deny({ failWorkflow: true }), input('signal', 'sabotage'))).toMatchObject({ decision: 'deny', failWorkflow: true });
    expect(evaluatePolicy(deny({}), input('signal', 'sabotage'))).not.toHaveProperty('failWorkflow');
  });

  test('only deny rules, and only rules that can match a signal or update, may carry it', () => {
    expect(() => parsePolicy({ id: 'p', rules: [{ id: 'a', effect: 'allow', failWorkflow: true }] })).toThrow(PolicyError);
    expect(() => parsePolicy({ id: 'p', rules: [{ id: 'd', effect: 'deny', failWorkflow: true, when: { actions: ['activity'] } }] })).toThrow(/applies to signal and update denials/);
  });
});

describe('proveSender reads the history only for a proof worth checking', () => {
  const { proveSender } = require('../../activities/message') as typeof import('../../activities/message');
  const facts = (proof: unknown, readMessage: jest.Mock) => ({
    request: { v: 2, action: 'signal', target: 'instruct', activityId: null, childWorkflowId: null, messageId: 'signal-1', taskQueue: 'q', args: [], argsDigest: digest, workflow: { namespace: 'default', workflowId: 'wf-1', runId: 'run-1', workflowType: 'wf', taskQueue: 'q', parent: null, continuedFromRunId: null, firstExecutionRunId: 'run-1', startedAt: T0 }, proof, delegateRoles: null, parent: null } as never,
    caller: { namespace: 'default', workflowId: 'wf-1', runId: 'run-1', workflowType: 'wf' },
    runTaskQueue: 'q',
    snapshot: snapshot(),
    at: T0,
    ed25519: nodeEd25519,
    trustBundle: { keys: new Map() },
    maxAgeMs: 60_000,
    readMessage,
    claim: async () => 'claimed' as const,
  });

  test.each<[string, unknown, string]>([
    ['junk', { junk: true }, 'INVALID_PROOF'],
    ['an unknown key', signMessageProof(parseApiKey(generateApiKey().apiKey), message, T0 - 100), 'UNKNOWN_API_KEY'],
    ['a broken signature', { ...sign(), signature: sign().signature.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')) }, 'INVALID_PROOF'],
  ])('%s: refused without a history read', async (_what, proof, code) => {
    const readMessage = jest.fn();
    expect(await proveSender(facts(proof, readMessage))).toMatchObject({ code });
    expect(readMessage).not.toHaveBeenCalled();
  });

  test('a valid proof is checked against the server record (none here: CLAIM_MISMATCH)', async () => {
    const readMessage = jest.fn(async () => []);
    expect(await proveSender(facts(sign(), readMessage))).toMatchObject({ code: 'CLAIM_MISMATCH' });
    expect(readMessage).toHaveBeenCalledTimes(1);
  });
});
