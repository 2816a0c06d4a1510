// Schedule proofs and the admission of scheduled runs (src/identity/schedule-proof.ts,
// activities/schedule.ts), without Temporal: the schedule's record and the claim registry are fakes
// that play the server and MongoDB. The real stack is in test/schedules.test.ts.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { createAuthorizer } from '../../activities/authorize';
import type { CallerFacts, RunStart } from '../../activities/caller';
import { admitScheduledRun, SCHEDULE_NOT_RECORDED_FAILURE, timestampText, type ScheduleClaimRegistry, type ScheduleRecord, type ScheduledRunOptions } from '../../activities/schedule';
import { loadSigningKey, loadTrustBundle, generateSigningKey } from '../../src/crypto/keys';
import { nodeEd25519 } from '../../src/crypto/node';
import { nobleEd25519 } from '../../src/crypto/noble';
import { argumentsDigest, argumentsView } from '../../src/common/digest';
import { canonicalize } from '../../src/common/canonical';
import { sha256Hex } from '../../src/common/digest';
import type { AuthorizationRequest } from '../../src/common/schemas';
import { SCHEDULE_PROOF_TYPE, signScheduleProof, verifyScheduleProof, type ScheduledRunStart, type SignedScheduleProof } from '../../src/identity/schedule-proof';
import { parsePolicyText } from '../../src/policy/load';
import { defaultPayloadConverter } from '@temporalio/common';
import type { CreateScheduleInput, ScheduleHandle } from '@temporalio/client';
import { HEADER_SCHEDULE_PROOF } from '../../src/common/constants';
import { generateApiKey } from '../../src/identity/api-key';
import { GovernedScheduleError, scheduleProofInterceptor, updateGovernedSchedule } from '../../interceptors/client/schedule';
import { memoryIdentity } from '../helpers/identity';

const T0 = Date.parse('2025-06-01T09:00:00.000Z');
const SKEW = 5_000;
let clock = T0;
const identity = memoryIdentity({ alice: ['operator'], bob: ['viewer'], carol: ['viewer'] }, () => clock);

const ARGS = [100, 'marker'];
const action = { namespace: 'default', scheduleId: 'nightly', workflowId: 'nightly-pay', workflowType: 'payOnce', taskQueue: 'payments', argsDigest: argumentsDigest(ARGS) };
const RUN_ID = 'run-1';
const WORKFLOW_ID = 'nightly-pay-2025-06-01T09:00:00Z';
const SCHEDULED_AT = '2025-06-01T09:00:00.000000000Z';
const CREATED_AT = '2025-05-01T00:00:00.000000000Z';

const proofOf = (principal = 'alice', overrides: Partial<typeof action> = {}, issuedAt = T0 - 86_400_000): SignedScheduleProof =>
  signScheduleProof(identity.keyOf(principal), { ...action, ...overrides }, issuedAt);

const runFacts = (overrides: Partial<ScheduledRunStart> = {}): ScheduledRunStart => ({
  namespace: 'default',
  workflowId: WORKFLOW_ID,
  workflowType: 'payOnce',
  taskQueue: 'payments',
  argsDigest: action.argsDigest,
  startedAt: T0,
  ...overrides,
});

const verify = (raw: unknown, run: Partial<ScheduledRunStart> = {}) => verifyScheduleProof(raw, runFacts(run), identity.snapshot(), clock, nodeEd25519, { skewMs: SKEW });
const problemCode = (r: object) => ('code' in r ? (r as { code: string }).code : 'admitted');

beforeEach(() => {
  clock = T0;
});

describe('verifyScheduleProof', () => {
  test('a proof signed by a live key, bound to what the run is, proves the key\'s principal and roles', () => {
    const proof = proofOf();
    const proven = verify(proof);
    expect(proven).toEqual({
      keyId: proof.payload.keyId,
      principal: 'alice',
      roles: ['operator'],
      scheduleId: 'nightly',
      proofId: `sha256:${sha256Hex(canonicalize(proof.payload))}`,
    });
    // The same decision with the sandbox-safe Ed25519 (both primitives agree).
    expect(verifyScheduleProof(proof, runFacts(), identity.snapshot(), clock, nobleEd25519, { skewMs: SKEW })).toEqual(proven);
    expect(proof.payload.typ).toBe(SCHEDULE_PROOF_TYPE);
  });

  test('there is no maximum age: a schedule proof issued a year before the run is admitted while its key lives', () => {
    expect(problemCode(verify(proofOf('alice', {}, T0 - 365 * 86_400_000)))).toBe('admitted');
  });

  test.each([
    ['workflowType', { workflowType: 'refundAll' }],
    ['taskQueue', { taskQueue: 'attacker-queue' }],
    ['argsDigest', { argsDigest: argumentsDigest([900, 'marker']) }],
    ['namespace', { namespace: 'other' }],
    ['workflow id prefix', { workflowId: 'other-pay-2025-06-01T09:00:00Z' }],
    // A run id that only extends the action's id without the server's separator is not its run.
    ['workflow id prefix', { workflowId: 'nightly-payroll-2025-06-01T09:00:00Z' }],
  ] as const)('a run whose %s differs from the proof is denied INVALID_PROOF', (field, run) => {
    const result = verify(proofOf(), run);
    expect(result).toMatchObject({ code: 'INVALID_PROOF', principal: 'alice' });
    expect((result as { reason: string }).reason).toContain(field);
  });

  test('malformed, tampered, wrongly typed and foreign proofs are INVALID_PROOF', () => {
    const proof = proofOf();
    expect(problemCode(verify(undefined))).toBe('INVALID_PROOF');
    expect(problemCode(verify({ malformed: true }))).toBe('INVALID_PROOF');
    expect(problemCode(verify({ ...proof, payload: { ...proof.payload, extra: 1 } }))).toBe('INVALID_PROOF');
    // A start proof in the schedule header: another type, refused by layout (no type confusion).
    const startProof = identity.proof('alice', { namespace: 'default', workflowId: WORKFLOW_ID, workflowType: 'payOnce', argsDigest: action.argsDigest });
    expect(verify(startProof)).toMatchObject({ code: 'INVALID_PROOF', reason: expect.stringContaining('malformed schedule proof') });
    // Any signed field changed after signing.
    expect(verify({ ...proof, payload: { ...proof.payload, argsDigest: argumentsDigest([900]) } }, { argsDigest: argumentsDigest([900]) })).toMatchObject({
      code: 'INVALID_PROOF',
      reason: expect.stringContaining('does not verify'),
    });
    expect(verify({ ...proof, signature: proof.signature.slice(0, -4) + 'AAAA' })).toMatchObject({ code: 'INVALID_PROOF' });
    // Signed by another key than the one it names.
    const bobs = proofOf('bob');
    expect(verify({ payload: { ...bobs.payload, keyId: proof.payload.keyId }, signature: bobs.signature })).toMatchObject({ code: 'INVALID_PROOF' });
  });

  test('a proof issued after the run started (beyond the clock skew) is refused', () => {
    expect(problemCode(verify(proofOf('alice', {}, T0 + SKEW)))).toBe('admitted');
    expect(verify(proofOf('alice', {}, T0 + SKEW + 1))).toMatchObject({ code: 'INVALID_PROOF', reason: expect.stringContaining('issued after the run started') });
  });

  test('unknown, revoked and expired keys and a revoked or unknown principal are denied', () => {
    const unregistered = signScheduleProof(identity.keyOf('alice', { registered: false }), action, T0 - 1000);
    expect(problemCode(verify(unregistered))).toBe('UNKNOWN_API_KEY');
    const expiring = signScheduleProof(identity.keyOf('alice', { expiresAt: T0 + 60_000 }), action, T0 - 1000);
    expect(problemCode(verify(expiring))).toBe('admitted');
    clock = T0 + 60_000;
    expect(problemCode(verify(expiring))).toBe('API_KEY_EXPIRED');
    clock = T0;
    const revokedKey = signScheduleProof(identity.keyOf('alice', { roles: ['operator'] }), action, T0 - 1000);
    identity.revoke('api-key', revokedKey.payload.keyId);
    expect(verify(revokedKey)).toMatchObject({ code: 'API_KEY_REVOKED', principal: 'alice' });
    const ghost = signScheduleProof(identity.keyOf('ghost'), action, T0 - 1000);
    expect(problemCode(verify(ghost))).toBe('UNKNOWN_PRINCIPAL');
    const bobs = proofOf('bob');
    identity.revoke('principal', 'bob');
    expect(verify(bobs)).toMatchObject({ code: 'PRINCIPAL_REVOKED', principal: 'bob' });
  });
});

/** The schedule's record and the MongoDB registries, in memory. */
function fakeServer(record: ScheduleRecord | null) {
  const proofs = new Map<string, string>();
  const times = new Map<string, { workflowId: string; firstExecutionRunId: string }>();
  const calls: string[] = [];
  const claims: ScheduleClaimRegistry = {
    async bindProof(c) {
      calls.push('bindProof');
      const key = `${c.namespace}/${c.scheduleId}/${c.scheduleCreatedAt}`;
      const stored = proofs.get(c._id);
      if (!stored) proofs.set(c._id, key);
      return !stored ? 'claimed' : stored === key ? 'same' : 'replayed';
    },
    async claimScheduledTime(c) {
      calls.push('claimScheduledTime');
      const key = canonicalize([c.namespace, c.scheduleId, c.scheduledAt]);
      const stored = times.get(key);
      if (!stored) times.set(key, { workflowId: c.workflowId, firstExecutionRunId: c.firstExecutionRunId });
      return !stored ? 'claimed' : stored.workflowId === c.workflowId && stored.firstExecutionRunId === c.firstExecutionRunId ? 'same' : 'replayed';
    },
    async findScheduledRun(r) {
      calls.push('findScheduledRun');
      for (const [key, v] of times) {
        const [ns, id, at] = JSON.parse(key) as string[];
        if (ns === r.namespace && id === r.scheduleId && v.workflowId === r.workflowId && v.firstExecutionRunId === r.firstExecutionRunId) return { scheduledAt: at! };
      }
      return null;
    },
  };
  const server = { record, calls, claims };
  const options: ScheduledRunOptions = { readSchedule: async (_ns, id) => (id === 'nightly' ? server.record : null), claims, confirmWithinMs: 10_000 };
  return Object.assign(server, { options });
}

const listed = (workflowId = WORKFLOW_ID, firstExecutionRunId = RUN_ID, scheduledAt = SCHEDULED_AT) => ({ workflowId, firstExecutionRunId, scheduledAt });

function scheduledStart(overrides: Partial<RunStart> = {}): RunStart {
  return {
    workflowType: 'payOnce',
    taskQueue: 'payments',
    parent: null,
    continuedFromRunId: null,
    initiator: null,
    firstExecutionRunId: RUN_ID,
    startedAt: T0,
    args: { view: argumentsView(ARGS), digest: action.argsDigest },
    proof: undefined,
    parentGrant: undefined,
    scheduleProof: proofOf(),
    scheduledById: 'nightly',
    ...overrides,
  };
}

const caller = (overrides: Partial<CallerFacts> = {}): CallerFacts => ({ namespace: 'default', workflowId: WORKFLOW_ID, runId: RUN_ID, workflowType: 'payOnce', ...overrides });

function admit(server: ReturnType<typeof fakeServer>, start: Partial<RunStart> = {}, run: { caller?: Partial<CallerFacts>; attemptAt?: number } = {}) {
  return admitScheduledRun(
    { caller: caller(run.caller), start: scheduledStart(start), snapshot: identity.snapshot(), at: clock, attemptAt: run.attemptAt ?? T0 + 200 },
    { ed25519: nodeEd25519, skewMs: SKEW, scheduledRuns: server.options },
  );
}

describe('admitScheduledRun', () => {
  test('a run the schedule lists is admitted once its time is claimed; a retried authorization of it passes again', async () => {
    const server = fakeServer({ createdAt: CREATED_AT, recentActions: [listed()] });
    const proof = proofOf();
    await expect(admit(server, { scheduleProof: proof })).resolves.toMatchObject({ principal: 'alice', scheduleId: 'nightly' });
    await expect(admit(server, { scheduleProof: proof })).resolves.toMatchObject({ principal: 'alice' });
    expect(server.calls).toEqual(['bindProof', 'claimScheduledTime', 'bindProof', 'claimScheduledTime']);
  });

  test('a second run claimed for one scheduled time is denied SCHEDULED_TIME_REPLAYED', async () => {
    const server = fakeServer({ createdAt: CREATED_AT, recentActions: [listed(), listed(WORKFLOW_ID, 'run-2')] });
    const proof = proofOf();
    await expect(admit(server, { scheduleProof: proof })).resolves.toMatchObject({ principal: 'alice' });
    const second = await admit(server, { scheduleProof: proof, firstExecutionRunId: 'run-2' }, { caller: { runId: 'run-2' } });
    expect(second).toMatchObject({ code: 'SCHEDULED_TIME_REPLAYED', principal: 'alice' });
  });

  test('a run the schedule has not recorded yet is retried (retryable failure), then denied after the confirmation window', async () => {
    const server = fakeServer({ createdAt: CREATED_AT, recentActions: [] });
    const pending = await admit(server).catch((err: unknown) => err);
    expect(pending).toBeInstanceOf(ApplicationFailure);
    expect(pending).toMatchObject({ type: SCHEDULE_NOT_RECORDED_FAILURE, nonRetryable: false });
    // The scheduler records it: the next attempt is admitted.
    server.record = { createdAt: CREATED_AT, recentActions: [listed()] };
    await expect(admit(server)).resolves.toMatchObject({ principal: 'alice' });
    // A run it never records is denied once the window (server time since the run's start) has passed.
    const never = await admit(fakeServer({ createdAt: CREATED_AT, recentActions: [listed('nightly-pay-other')] }), {}, { attemptAt: T0 + 10_001 });
    expect(never).toMatchObject({ code: 'SCHEDULE_RUN_UNCONFIRMED', principal: 'alice' });
  });

  test('a run under a workflow id the schedule started another run of is denied at once', async () => {
    const result = await admit(fakeServer({ createdAt: CREATED_AT, recentActions: [listed(WORKFLOW_ID, 'genuine-run')] }));
    expect(result).toMatchObject({ code: 'SCHEDULE_RUN_UNCONFIRMED', reason: expect.stringContaining('genuine-run') });
  });

  test('without the scheduler\'s search attribute, without the schedule, or without a schedule reader: SCHEDULE_RUN_UNCONFIRMED', async () => {
    const server = fakeServer({ createdAt: CREATED_AT, recentActions: [listed()] });
    expect(await admit(server, { scheduledById: null })).toMatchObject({ code: 'SCHEDULE_RUN_UNCONFIRMED' });
    expect(await admit(server, { scheduledById: 'other' })).toMatchObject({ code: 'SCHEDULE_RUN_UNCONFIRMED' });
    expect(await admit(fakeServer(null))).toMatchObject({ code: 'SCHEDULE_RUN_UNCONFIRMED', reason: expect.stringContaining('does not exist') });
    const unread = await admitScheduledRun(
      { caller: caller(), start: scheduledStart(), snapshot: identity.snapshot(), at: clock, attemptAt: T0 },
      { ed25519: nodeEd25519, skewMs: SKEW, scheduledRuns: undefined },
    );
    expect(unread).toMatchObject({ code: 'SCHEDULE_RUN_UNCONFIRMED' });
    expect(server.calls).toEqual([]);
  });

  test('a proof copied onto a schedule created again under the same id (another creation time) is PROOF_REPLAYED', async () => {
    const proof = proofOf();
    const server = fakeServer({ createdAt: CREATED_AT, recentActions: [listed()] });
    await expect(admit(server, { scheduleProof: proof })).resolves.toMatchObject({ principal: 'alice' });
    server.record = { createdAt: '2025-05-20T00:00:00.000000000Z', recentActions: [listed('nightly-pay-2025-06-02T09:00:00Z', 'run-9', '2025-06-02T09:00:00.000000000Z')] };
    const replayed = await admit(server, { scheduleProof: proof, firstExecutionRunId: 'run-9' }, { caller: { runId: 'run-9', workflowId: 'nightly-pay-2025-06-02T09:00:00Z' } });
    expect(replayed).toMatchObject({ code: 'PROOF_REPLAYED' });
  });

  test('a workflow retry of a scheduled run is admitted for the first run\'s time, also after it left the recent actions', async () => {
    const server = fakeServer({ createdAt: CREATED_AT, recentActions: [listed()] });
    await expect(admit(server)).resolves.toMatchObject({ principal: 'alice' });
    const retry = { continuedFromRunId: RUN_ID, initiator: 'retry' as const, firstExecutionRunId: RUN_ID };
    await expect(admit(server, retry, { caller: { runId: 'run-1-retry' } })).resolves.toMatchObject({ principal: 'alice' });
    server.record = { createdAt: CREATED_AT, recentActions: [] };
    await expect(admit(server, retry, { caller: { runId: 'run-1-retry-2' } })).resolves.toMatchObject({ principal: 'alice' });
    expect(server.calls).toContain('findScheduledRun');
  });

  test('a run with both a start proof and a schedule proof has no single root: INVALID_PROOF', async () => {
    const start = identity.proof('alice', { namespace: 'default', workflowId: WORKFLOW_ID, workflowType: 'payOnce', argsDigest: action.argsDigest });
    expect(await admit(fakeServer({ createdAt: CREATED_AT, recentActions: [listed()] }), { proof: start })).toMatchObject({ code: 'INVALID_PROOF' });
  });

  test('the schedule\'s action changed without a new proof (other arguments): INVALID_PROOF, before the schedule is read', async () => {
    const server = fakeServer({ createdAt: CREATED_AT, recentActions: [listed()] });
    const changed = [900, 'marker'];
    const result = await admit(server, { args: { view: argumentsView(changed), digest: argumentsDigest(changed) } });
    expect(result).toMatchObject({ code: 'INVALID_PROOF', reason: expect.stringContaining('argsDigest') });
    expect(server.calls).toEqual([]);
  });
});

test('timestampText keeps nanoseconds exactly', () => {
  expect(timestampText({ seconds: 1748768400, nanos: 503068125 })).toBe('2025-06-01T09:00:00.503068125Z');
  expect(timestampText({ seconds: { toString: () => '1748768400' }, nanos: 0 })).toBe('2025-06-01T09:00:00.000000000Z');
});

describe('through the authorizer', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'governance-unit-schedule-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('a scheduled run\'s root grant names the proof\'s principal and key; a policy that refuses it denies it', async () => {
    generateSigningKey({ keyPath: join(dir, 'k.json'), bundlePath: join(dir, 'b.json'), kid: 'unit-schedule', now: new Date(T0 - 86_400_000) });
    const signingKey = loadSigningKey(join(dir, 'k.json'));
    const trust = loadTrustBundle(join(dir, 'b.json'));
    const policy = parsePolicyText(`
id: unit-schedule
rules:
  - id: allow-operator-workflows
    effect: allow
    when: { actions: [workflow], roles: [operator] }
`);
    const server = fakeServer({ createdAt: CREATED_AT, recentActions: [listed(), listed('nightly-pay-2025-06-01T10:00:00Z', 'run-b', '2025-06-01T10:00:00.000000000Z')] });
    const authorize = createAuthorizer({
      policy,
      signingKey,
      trustBundle: () => trust,
      identity: async () => identity.snapshot(),
      startProofs: identity.startProofs,
      scheduledRuns: server.options,
      ed25519: nodeEd25519,
      issuer: 'unit',
      artifactTtlMs: 60_000,
      now: () => clock,
      wallClock: () => clock,
    });
    const requestFor = (workflowId: string, runId: string): AuthorizationRequest => ({
      v: 2,
      action: 'workflow',
      target: 'payOnce',
      activityId: null,
      childWorkflowId: null,
      messageId: null,
      taskQueue: 'payments',
      args: argumentsView(ARGS),
      argsDigest: action.argsDigest,
      workflow: { namespace: 'default', workflowId, runId, workflowType: 'payOnce', taskQueue: 'payments', parent: null, continuedFromRunId: null, firstExecutionRunId: runId, startedAt: T0 },
      proof: null,
      delegateRoles: null,
      parent: null,
    });
    const contextFor = (request: AuthorizationRequest, scheduleProof: SignedScheduleProof) => ({
      caller: { namespace: 'default', workflowId: request.workflow.workflowId, runId: request.workflow.runId, workflowType: 'payOnce' },
      runStart: async () => scheduledStart({ firstExecutionRunId: request.workflow.runId, scheduleProof }),
      attemptScheduledAt: T0 + 100,
    });
    const alices = requestFor(WORKFLOW_ID, RUN_ID);
    const allowed = await authorize(alices, contextFor(alices, proofOf('alice')));
    if (allowed.decision !== 'allow') throw new Error(`expected allow, got ${allowed.denial.payload.code}: ${allowed.denial.payload.reason}`);
    expect(allowed.artifact.payload).toMatchObject({ principal: 'alice', credential: proofOf('alice').payload.keyId, parent: null, ancestors: [], roles: ['operator'] });

    // carol holds no role the policy allows workflows for (bob is revoked by an earlier test).
    const carols = requestFor('nightly-pay-2025-06-01T10:00:00Z', 'run-b');
    const refused = await authorize(carols, contextFor(carols, proofOf('carol')));
    expect(refused).toMatchObject({ decision: 'deny', denial: { payload: { code: 'NO_MATCHING_ALLOW', principal: 'carol' } } });
  });
});

describe('client side', () => {
  const created = generateApiKey();
  const createInput = (action: Record<string, unknown>) =>
    ({ headers: {}, options: { scheduleId: 'nightly', spec: {}, action } }) as unknown as CreateScheduleInput;

  test('create attaches a schedule proof bound to the schedule id and its action, signed with the key', async () => {
    const interceptor = scheduleProofInterceptor(created.apiKey, 'billing');
    let sent: CreateScheduleInput | undefined;
    await interceptor.create!(createInput({ type: 'startWorkflow', workflowId: 'nightly-pay', workflowType: 'payOnce', taskQueue: 'payments', args: ARGS }), async (input) => {
      sent = input;
      return { conflictToken: new Uint8Array() };
    });
    const proof = defaultPayloadConverter.fromPayload(sent!.headers[HEADER_SCHEDULE_PROOF]!) as SignedScheduleProof;
    expect(proof.payload).toMatchObject({ typ: SCHEDULE_PROOF_TYPE, keyId: created.keyId, namespace: 'billing', scheduleId: 'nightly', workflowId: 'nightly-pay', workflowType: 'payOnce', taskQueue: 'payments', argsDigest: action.argsDigest });
    // Verifiable with the stored public half, and nothing secret in the header.
    const snapshot = { ...identity.snapshot(), apiKey: (id: string) => (id === created.keyId ? { id, principal: 'alice', key: { kid: id, publicKey: Buffer.from(created.publicKey, 'base64url'), notBefore: 0, notAfter: null }, roles: null, expiresAt: null } : undefined) };
    expect(verifyScheduleProof(proof, runFacts({ namespace: 'billing' }), snapshot, clock, nodeEd25519, { skewMs: Number.MAX_SAFE_INTEGER })).toMatchObject({ principal: 'alice', scheduleId: 'nightly' });
    expect(JSON.stringify(sent!.headers)).not.toContain(created.apiKey.split('.')[2]);
  });

  test('a malformed key fails when the interceptor is made, and an action that is not startWorkflow is refused', async () => {
    expect(() => scheduleProofInterceptor('tgk.nope', 'default')).toThrow(/malformed API key/);
    const interceptor = scheduleProofInterceptor(created.apiKey, 'default');
    await expect(interceptor.create!(createInput({ type: 'somethingElse' }), async () => ({ conflictToken: new Uint8Array() }))).rejects.toThrow(GovernedScheduleError);
  });

  test('updateGovernedSchedule refuses, before any request, an SDK without the update it relies on', async () => {
    const requests: string[] = [];
    const handle = { scheduleId: 'nightly', client: { options: { namespace: 'default' } }, describe: async () => requests.push('describe') } as unknown as ScheduleHandle;
    await expect(updateGovernedSchedule(handle, created.apiKey, (previous) => previous as never)).rejects.toThrow(GovernedScheduleError);
    expect(requests).toEqual([]);
  });
});
