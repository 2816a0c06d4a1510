// The authorization activity's logic (activities/authorize.ts), called directly without Temporal.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { createAuthorizer, decisionIdFor, type Authorize, type AuthorizerOptions } from '../../activities/authorize';
import type { CallerFacts, RunStart } from '../../activities/caller';
import { payloadHash, signArtifact, signingInput, verifyArtifactForCall, verifySignedArtifact, type SigningKey } from '../../src/artifact/artifact';
import type { TrustBundle } from '../../src/artifact/trust-bundle';
import { fromBase64Url, toBase64Url } from '../../src/common/base64url';
import { DenyCodes } from '../../src/common/constants';
import { argumentsDigest, argumentsView } from '../../src/common/digest';
import {
  ARTIFACT_TYPE,
  AuthorizationResultSchema,
  DENIAL_TYPE,
  type AuthorizationRequest,
  type AuthorizationResult,
  type SignedArtifact,
  type SignedDenial,
  type WorkflowIdentity,
} from '../../src/common/schemas';
import { generateSigningKey, loadSigningKey, loadTrustBundle } from '../../src/crypto/keys';
import { nodeEd25519 } from '../../src/crypto/node';
import { callerOf, honestContext } from '../helpers/call-context';
import { memoryIdentity, type MemoryIdentity } from '../helpers/identity';
import { parsePolicyText } from '../../src/policy/load';
import { relationProblems } from '../../src/lineage/verify-record';

const T0 = Date.parse('2025-06-01T09:00:00.000Z');
const DAY = 86_400_000;
const TTL = 120_000;

const policy = parsePolicyText(`
id: unit-policy
exempt:
  activities: [lookupRate, 'audit*']
rules:
  - id: allow-operator-workflows
    effect: allow
    reason: operators may run workflows
    when:
      actions: [workflow, child-workflow, continue-as-new]
      roles: [operator]
  - id: allow-small-charges
    effect: allow
    when:
      actions: [activity, local-activity]
      targets: ['charge*']
      roles: [operator]
      args:
        - { field: amount, op: lte, value: 1000 }
  - id: deny-large-charges
    effect: deny
    code: AMOUNT_OVER_LIMIT
    reason: charges above 1000 need a second approver
    when:
      targets: ['charge*']
      args:
        - { field: amount, op: gt, value: 1000 }
`);

let clock = T0;
const identity: MemoryIdentity = memoryIdentity({ alice: ['operator'], bob: ['viewer'], carol: ['operator'] }, () => clock);

let dir: string;
let signingKey: SigningKey;
let trust: TrustBundle;
/** The authorizer itself: the caller facts and run start come from the test (the server's part). */
let rawAuthorize: Authorize;
/** The authorizer behind an honest server: its facts are what the request claims. */
let authorize: (input: unknown) => Promise<AuthorizationResult>;

const honestly = (raw: Authorize) => (input: unknown) => raw(input, honestContext(input));

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'governance-unit-authorizer-'));
  const keyPath = join(dir, 'signing-key.json');
  const bundlePath = join(dir, 'trust-bundle.json');
  generateSigningKey({ keyPath, bundlePath, kid: 'unit-key-1', now: new Date(T0 - DAY) });
  signingKey = loadSigningKey(keyPath);
  trust = loadTrustBundle(bundlePath);
  rawAuthorize = createAuthorizer(options());
  authorize = honestly(rawAuthorize);
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  clock = T0;
  identity.forgetRunGrants(); // tests reuse run ids; a run holds one run grant
});

function options(overrides: Partial<AuthorizerOptions> = {}): AuthorizerOptions {
  return {
    policy,
    signingKey,
    trustBundle: () => trust,
    identity: async () => identity.snapshot(),
    startProofs: identity.startProofs,
    ed25519: nodeEd25519,
    issuer: 'unit-governance',
    artifactTtlMs: TTL,
    now: () => clock,
    wallClock: () => clock,
    ...overrides,
  };
}

function workflow(overrides: Partial<WorkflowIdentity> = {}): WorkflowIdentity {
  return {
    namespace: 'default',
    workflowId: 'wf-1',
    runId: 'run-1',
    workflowType: 'PaymentWorkflow',
    taskQueue: 'payments',
    parent: null,
    continuedFromRunId: null,
    firstExecutionRunId: overrides.runId ?? 'run-1',
    startedAt: T0,
    ...overrides,
  };
}

type RequestSpec = Partial<Omit<AuthorizationRequest, 'args' | 'argsDigest' | 'workflow'>> & {
  values?: unknown[];
  workflow?: Partial<WorkflowIdentity>;
  /** Shorthand for a start proof signed with this principal's API key (root grants; null = no proof). */
  principal?: string | null;
};

function request(spec: RequestSpec = {}): AuthorizationRequest {
  const { values = [], workflow: wf, principal = 'alice', ...rest } = spec;
  const wfi = workflow(wf);
  const argsDigest = argumentsDigest(values);
  return {
    v: 2,
    action: 'workflow',
    target: 'PaymentWorkflow',
    activityId: null,
    childWorkflowId: null,
    messageId: null,
    taskQueue: 'payments',
    args: argumentsView(values),
    argsDigest,
    workflow: wfi,
    proof: principal === null ? null : identity.proof(principal, { namespace: wfi.namespace, workflowId: wfi.workflowId, workflowType: wfi.workflowType, taskQueue: wfi.taskQueue, argsDigest }),
    delegateRoles: null,
    parent: null,
    ...rest,
  };
}

function activityRequest(grant: SignedArtifact | null, spec: RequestSpec = {}): AuthorizationRequest {
  return request({ action: 'activity', target: 'charge', activityId: '1', principal: null, parent: grant, values: [{ amount: 500 }], ...spec });
}

function allowed(result: AuthorizationResult): SignedArtifact {
  expect(AuthorizationResultSchema.parse(result)).toEqual(result);
  if (result.decision !== 'allow') throw new Error(`expected allow, got ${result.denial.payload.code}: ${result.denial.payload.reason}`);
  return result.artifact;
}

function denied(result: AuthorizationResult, code: string): SignedDenial {
  expect(AuthorizationResultSchema.parse(result)).toEqual(result);
  if (result.decision !== 'deny') throw new Error(`expected deny ${code}, got allow`);
  expect(result.denial.payload.code).toBe(code);
  expect(result.denial.payload.typ).toBe(DENIAL_TYPE);
  // Every denial is signed by the governance key over its canonical payload.
  const key = trust.keys.get(result.denial.payload.kid)!;
  expect(key).toBeDefined();
  expect(nodeEd25519.verify(fromBase64Url(result.denial.signature), signingInput(result.denial.payload), key)).toBe(true);
  return result.denial;
}

async function rootGrant(spec: RequestSpec = {}): Promise<SignedArtifact> {
  return allowed(await authorize(request(spec)));
}

describe('root run grant', () => {
  it('is allowed for a known operator and shaped as a run grant', async () => {
    const req = request();
    const grant = allowed(await authorize(req));
    const p = grant.payload;
    expect(p).toEqual({
      typ: ARTIFACT_TYPE,
      id: expect.any(String),
      kid: 'unit-key-1',
      iss: 'unit-governance',
      principal: 'alice',
      credential: identity.keyOf('alice').keyId,
      roles: ['operator'],
      decisionId: decisionIdFor(req, callerOf(req)),
      action: 'workflow',
      target: 'PaymentWorkflow',
      namespace: 'default',
      workflowId: 'wf-1',
      runId: 'run-1',
      activityId: null,
      childWorkflowId: null,
      taskQueue: 'payments',
      argsDigest: req.argsDigest,
      policy: { id: 'unit-policy', version: policy.version },
      rules: ['allow-operator-workflows'],
      parent: null,
      issuedAt: T0,
      rootId: p.id,
      chain: { id: p.id, hop: 1 },
      ancestors: [],
      ancestorKids: [],
      exempt: ['lookupRate', 'audit*'],
      expiresAt: null,
    });
    expect(p.exempt).toEqual(policy.exempt.activities);
    expect(verifySignedArtifact(grant, trust, T0, nodeEd25519)).toEqual({ ok: true, value: grant });
  });

  it('stays valid long after it was issued (run grants do not expire)', async () => {
    const grant = await rootGrant();
    expect(verifySignedArtifact(grant, trust, T0 + 30 * DAY, nodeEd25519).ok).toBe(true);
  });

  it('admits exempt activities of its run at the enforcement point', async () => {
    const grant = await rootGrant();
    const call = {
      namespace: 'default',
      workflowId: 'wf-1',
      runId: 'run-1',
      activityId: '3',
      activityType: 'lookupRate',
      taskQueue: 'payments',
      isLocal: false,
      argsDigest: argumentsDigest(['EUR']),
      attempt: 1,
      scheduledTimestampMs: T0,
    };
    expect(verifyArtifactForCall(grant, call, trust, T0, nodeEd25519)).toMatchObject({ ok: true, value: { exempt: true } });
    expect(verifyArtifactForCall(grant, { ...call, activityType: 'charge' }, trust, T0, nodeEd25519).ok).toBe(false);
  });

  it('reproduces the same artifact for a retried authorization; a run asking again later gets nothing (one run grant per run)', async () => {
    // The governance worker's clock is the authorization activity's first scheduled time, so a
    // retried attempt signs byte-identical bytes and lineage never sees two versions of a decision.
    const a = await rootGrant();
    const b = await rootGrant();
    expect(b).toEqual(a);
    // The same run asking again (workflow code can call the authorization activity itself) would
    // get a fresh grant under a new id, escaping a revocation of the first: refused.
    clock = T0 + 1;
    const again = denied(await authorize(request()), DenyCodes.grantReplayed);
    expect(again.payload.reason).toContain(`already holds run grant ${a.payload.id}`);
    expect(again.payload.decisionId).toBe(a.payload.decisionId);
    // Another run of the same workflow id is another run.
    expect(allowed(await authorize(request({ workflow: { runId: 'run-2', firstExecutionRunId: 'run-2' } }))).payload.runId).toBe('run-2');
  });

  it('lets a retry of the same authorization through even when decided differently (the scheduling, not the id, is the run grant\'s)', async () => {
    const req = request({ workflow: { runId: 'run-sched', firstExecutionRunId: 'run-sched' } });
    const first = allowed(await rawAuthorize(req, { ...honestContext(req), scheduling: 'auth-1@1000' }));
    // Same authorization activity retried after a policy change: another id, same scheduling.
    const retried = createAuthorizer(options({ policy: parsePolicyText(`
id: unit-policy-v2
rules:
  - id: allow-workflows
    effect: allow
    when: { actions: [workflow] }
`) }));
    const second = allowed(await retried(req, { ...honestContext(req), scheduling: 'auth-1@1000' }));
    expect(second.payload.id).not.toBe(first.payload.id);
    // Another authorization activity of the same run: refused.
    denied(await rawAuthorize(req, { ...honestContext(req), scheduling: 'auth-7@2000' }), DenyCodes.grantReplayed);
  });

  it('denies a workflow started without a principal with a signed UNAUTHENTICATED denial', async () => {
    const req = request({ principal: null });
    const denial = denied(await authorize(req), DenyCodes.unauthenticated);
    expect(denial.payload).toMatchObject({
      principal: null,
      rootId: null,
      parent: null,
      rules: [],
      action: 'workflow',
      target: 'PaymentWorkflow',
      decisionId: decisionIdFor(req, callerOf(req)),
      policy: { id: 'unit-policy', version: policy.version },
      issuedAt: T0,
      kid: 'unit-key-1',
      iss: 'unit-governance',
    });
    // The signature covers the payload: changing the code breaks it.
    const key = trust.keys.get('unit-key-1')!;
    expect(nodeEd25519.verify(fromBase64Url(denial.signature), signingInput({ ...denial.payload, code: 'OK' }), key)).toBe(false);
  });

  it('denies an unknown principal with UNKNOWN_PRINCIPAL', async () => {
    const denial = denied(await authorize(request({ principal: 'mallory' })), DenyCodes.unknownPrincipal);
    expect(denial.payload.principal).toBe('mallory');
    expect(denial.payload.reason).toContain('mallory');
  });

  it('denies a known principal without a matching role with NO_MATCHING_ALLOW', async () => {
    const denial = denied(await authorize(request({ principal: 'bob' })), DenyCodes.noMatchingAllow);
    expect(denial.payload.rules).toEqual([]);
  });

  it('denies a run grant request that names a parent grant it does not descend from', async () => {
    const grant = await rootGrant();
    // A run grant is not a valid parent for another run grant.
    denied(await authorize(request({ parent: grant, workflow: { runId: 'run-9' } })), DenyCodes.invalidGrant);
  });
});

describe('activity authorization', () => {
  it('is allowed under the run grant, bound to the call and chained to the grant', async () => {
    const grant = await rootGrant();
    clock = T0 + 5_000;
    const req = activityRequest(grant);
    const artifact = allowed(await authorize(req));
    const p = artifact.payload;
    expect(p).toMatchObject({
      principal: 'alice',
      action: 'activity',
      target: 'charge',
      activityId: '1',
      namespace: 'default',
      workflowId: 'wf-1',
      runId: 'run-1',
      taskQueue: 'payments',
      argsDigest: argumentsDigest([{ amount: 500 }]),
      rules: ['allow-small-charges'],
      exempt: [],
      issuedAt: T0 + 5_000,
      expiresAt: T0 + 5_000 + TTL,
      decisionId: decisionIdFor(req, callerOf(req)),
    });
    expect(p.expiresAt).toBe(p.issuedAt + TTL);
    expect(p.parent).toEqual({ id: grant.payload.id, hash: payloadHash(grant.payload) });
    expect(p.rootId).toBe(grant.payload.rootId);
    expect(p.id).not.toBe(grant.payload.id);

    const call = {
      namespace: 'default',
      workflowId: 'wf-1',
      runId: 'run-1',
      activityId: '1',
      activityType: 'charge',
      taskQueue: 'payments',
      isLocal: false,
      argsDigest: argumentsDigest([{ amount: 500 }]),
      attempt: 1,
      scheduledTimestampMs: clock,
    };
    expect(verifyArtifactForCall(artifact, call, trust, clock, nodeEd25519)).toEqual({ ok: true, value: { artifact, exempt: false } });
  });

  it('is allowed for a local activity', async () => {
    const grant = await rootGrant();
    const artifact = allowed(await authorize(activityRequest(grant, { action: 'local-activity', target: 'chargeLocal' })));
    expect(artifact.payload.action).toBe('local-activity');
    expect(artifact.payload.expiresAt).toBe(T0 + TTL);
  });

  it('takes the principal from the grant, not from the request', async () => {
    const grant = await rootGrant();
    const artifact = allowed(await authorize(activityRequest(grant, { principal: 'bob' })));
    expect(artifact.payload.principal).toBe('alice');
  });

  it('is denied by a deny rule with its code, rule ids, argument values and lineage', async () => {
    const grant = await rootGrant();
    const denial = denied(await authorize(activityRequest(grant, { values: [{ amount: 5000 }] })), 'AMOUNT_OVER_LIMIT');
    expect(denial.payload.rules).toEqual(['deny-large-charges']);
    expect(denial.payload.reason).toBe('charges above 1000 need a second approver; args[0].amount = 5000 (gt 1000)');
    expect(denial.payload.principal).toBe('alice');
    expect(denial.payload.parent).toEqual({ id: grant.payload.id, hash: payloadHash(grant.payload) });
    expect(denial.payload.rootId).toBe(grant.payload.rootId);
  });

  it('is denied by default when the amount is missing', async () => {
    const grant = await rootGrant();
    denied(await authorize(activityRequest(grant, { values: [{ to: 'acct-1' }] })), DenyCodes.noMatchingAllow);
    denied(await authorize(activityRequest(grant, { values: [] })), DenyCodes.noMatchingAllow);
    denied(await authorize(activityRequest(grant, { values: [{ amount: '5' }] })), DenyCodes.noMatchingAllow);
  });

  it('is denied with INVALID_GRANT without a parent grant', async () => {
    const denial = denied(await authorize(activityRequest(null, { principal: 'alice' })), DenyCodes.invalidGrant);
    expect(denial.payload.parent).toBeNull();
  });

  it.each<[string, Partial<WorkflowIdentity>]>([
    ['another run', { runId: 'run-2' }],
    ['another workflow', { workflowId: 'wf-2' }],
    ['another namespace', { namespace: 'prod' }],
  ])('is denied with INVALID_GRANT when the grant is bound to %s', async (_label, change) => {
    const grant = await rootGrant();
    const denial = denied(await authorize(activityRequest(grant, { workflow: change })), DenyCodes.invalidGrant);
    expect(denial.payload.reason).toContain('not bound to this run');
  });

  it('is denied with INVALID_GRANT for a forged grant (one flipped signature bit)', async () => {
    const grant = await rootGrant();
    const raw = fromBase64Url(grant.signature);
    raw[5] = raw[5]! ^ 0x01;
    const forged = { ...grant, signature: toBase64Url(raw) };
    const denial = denied(await authorize(activityRequest(forged)), DenyCodes.invalidGrant);
    expect(denial.payload.reason).toContain('not valid');
    expect(denial.payload.reason).toContain('signature does not verify');
  });

  it('is denied with INVALID_GRANT for a grant whose payload was edited (another principal)', async () => {
    const grant = await rootGrant();
    const edited = { ...grant, payload: { ...grant.payload, principal: 'carol' } };
    denied(await authorize(activityRequest(edited)), DenyCodes.invalidGrant);
  });

  it('is denied with INVALID_GRANT for a grant signed by an untrusted key', async () => {
    const grant = await rootGrant();
    const rogue: SigningKey = { kid: 'unit-key-1', seed: new Uint8Array(32).fill(3) };
    const resigned = signArtifact(grant.payload, rogue, nodeEd25519);
    denied(await authorize(activityRequest(resigned)), DenyCodes.invalidGrant);
  });

  it('is denied with INVALID_GRANT when the parent is a per-call artifact, not the run grant', async () => {
    const grant = await rootGrant();
    const perCall = allowed(await authorize(activityRequest(grant)));
    denied(await authorize(activityRequest(perCall, { activityId: '2' })), DenyCodes.invalidGrant);
  });

  it('is denied with INVALID_GRANT when the parent is a denial', async () => {
    const grant = await rootGrant();
    const denial = denied(await authorize(activityRequest(grant, { values: [{ amount: 5000 }] })), 'AMOUNT_OVER_LIMIT');
    denied(await authorize(activityRequest(denial as unknown as SignedArtifact)), DenyCodes.invalidGrant);
  });

  it('is denied with MALFORMED_REQUEST when the digest does not match the arguments', async () => {
    const grant = await rootGrant();
    const req = { ...activityRequest(grant), argsDigest: argumentsDigest([{ amount: 1 }]) };
    denied(await authorize(req), DenyCodes.malformedRequest);
    // Arguments swapped under an honest digest: same verdict.
    const swapped = { ...activityRequest(grant), args: argumentsView([{ amount: 999_999 }]) };
    denied(await authorize(swapped), DenyCodes.malformedRequest);
  });

  it('does not show a top-level byte argument to the policy as its hex string', async () => {
    // The activity receives a Uint8Array; a rule written for the string "0102" must not match it.
    const bytesPolicy = parsePolicyText(`
id: bytes-policy
rules:
  - { id: allow-workflows, effect: allow, when: { actions: [workflow] } }
  - id: allow-hex-string
    effect: allow
    when:
      actions: [activity]
      args: [{ arg: 0, op: eq, value: '0102' }]
`);
    const authorizeBytes = honestly(createAuthorizer(options({ policy: bytesPolicy })));
    const grant = allowed(await authorizeBytes(request()));
    allowed(await authorizeBytes(activityRequest(grant, { target: 'store', values: ['0102'] })));
    denied(await authorizeBytes(activityRequest(grant, { target: 'store', values: [new Uint8Array([1, 2])] })), DenyCodes.noMatchingAllow);
  });

  it('signs with the clock of the authorizer', async () => {
    const grant = await rootGrant();
    clock = T0 + DAY;
    const artifact = allowed(await authorize(activityRequest(grant)));
    expect(artifact.payload.issuedAt).toBe(T0 + DAY);
    expect(artifact.payload.expiresAt).toBe(T0 + DAY + TTL);
  });
});

describe('malformed requests', () => {
  async function rejection(input: unknown): Promise<ApplicationFailure> {
    let caught: unknown;
    try {
      await authorize(input);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ApplicationFailure);
    return caught as ApplicationFailure;
  }

  it.each<[string, unknown]>([
    ['null', null],
    ['a string', 'authorize me'],
    ['the previous version', { ...request(), v: 1 }],
    ['a future version', { ...request(), v: 3 }],
    ['a missing workflow', (({ workflow: _w, ...r }) => r)(request())],
    ['an unknown action', { ...request(), action: 'admin' }],
    ['a bad digest format', { ...request(), argsDigest: 'sha256:xyz' }],
    ['an extra field', { ...request(), admin: true }],
    ['an empty principal', { ...request(), principal: '' }],
  ])('throws a non-retryable GovernanceMalformedRequest for %s', async (_label, input) => {
    const failure = await rejection(input);
    expect(failure.type).toBe('GovernanceMalformedRequest');
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toMatch(/^malformed authorization request: /);
  });
});

describe('child workflow run grants', () => {
  const childValues = [{ orderId: 'o-1', items: [1, 2] }];

  async function childArtifact(parentGrant: SignedArtifact, childWorkflowId = 'child-1'): Promise<SignedArtifact> {
    return allowed(
      await authorize(
        request({
          action: 'child-workflow',
          target: 'ChildWorkflow',
          childWorkflowId,
          principal: null,
          parent: parentGrant,
          values: childValues,
        }),
      ),
    );
  }

  function childRunRequest(child: SignedArtifact, spec: RequestSpec = {}): AuthorizationRequest {
    return request({
      target: 'ChildWorkflow',
      principal: 'bob', // a claim: the child run takes its principal from the parent artifact
      parent: child,
      values: childValues,
      ...spec,
      workflow: {
        workflowId: 'child-1',
        runId: 'child-run-1',
        workflowType: 'ChildWorkflow',
        parent: { workflowId: 'wf-1', runId: 'run-1' },
        ...spec.workflow,
      },
    });
  }

  it('authorizes starting the child as a run-bound artifact', async () => {
    const grant = await rootGrant();
    const child = await childArtifact(grant);
    expect(child.payload).toMatchObject({
      action: 'child-workflow',
      target: 'ChildWorkflow',
      childWorkflowId: 'child-1',
      activityId: null,
      workflowId: 'wf-1',
      runId: 'run-1',
      expiresAt: null,
      exempt: [],
      principal: 'alice',
      rootId: grant.payload.rootId,
      parent: { id: grant.payload.id, hash: payloadHash(grant.payload) },
      argsDigest: argumentsDigest(childValues),
    });
  });

  it('grants the child run with the principal of the parent artifact, whatever the request claims', async () => {
    const grant = await rootGrant();
    const child = await childArtifact(grant);
    const runGrant = allowed(await authorize(childRunRequest(child)));
    expect(runGrant.payload).toMatchObject({
      action: 'workflow',
      target: 'ChildWorkflow',
      workflowId: 'child-1',
      runId: 'child-run-1',
      principal: 'alice',
      rootId: grant.payload.rootId,
      parent: { id: child.payload.id, hash: payloadHash(child.payload) },
      exempt: policy.exempt.activities,
      expiresAt: null,
    });
    expect(runGrant.payload.rootId).not.toBe(runGrant.payload.id);
  });

  it('lets a child of an unknown-principal claim run on the parent principal', async () => {
    const grant = await rootGrant();
    const child = await childArtifact(grant);
    expect(allowed(await authorize(childRunRequest(child, { principal: 'mallory' }))).payload.principal).toBe('alice');
    expect(allowed(await authorize(childRunRequest(child, { principal: null }))).payload.principal).toBe('alice');
  });

  it.each<[string, RequestSpec]>([
    ['another child workflow id', { workflow: { workflowId: 'child-2' } }],
    ['another parent run', { workflow: { parent: { workflowId: 'wf-1', runId: 'run-9' } } }],
    ['another parent workflow', { workflow: { parent: { workflowId: 'wf-9', runId: 'run-1' } } }],
    ['no parent workflow', { workflow: { parent: null } }],
    ['another workflow type', { target: 'OtherWorkflow', workflow: { workflowType: 'OtherWorkflow' } }],
    ['other arguments', { values: [{ orderId: 'o-2', items: [1, 2] }] }],
    ['another namespace', { workflow: { namespace: 'prod' } }],
  ])('denies the child run with INVALID_GRANT for %s', async (_label, spec) => {
    const grant = await rootGrant();
    const child = await childArtifact(grant);
    denied(await authorize(childRunRequest(child, spec)), DenyCodes.invalidGrant);
  });

  it('denies a child run that presents the parent run grant instead of a child artifact', async () => {
    const grant = await rootGrant();
    denied(await authorize(childRunRequest(grant)), DenyCodes.invalidGrant);
  });

  it('denies starting a child without a run grant', async () => {
    denied(
      await authorize(request({ action: 'child-workflow', target: 'ChildWorkflow', childWorkflowId: 'child-1', values: childValues })),
      DenyCodes.invalidGrant,
    );
  });
});

describe('continue-as-new run grants', () => {
  const nextValues = [{ cursor: 42 }];

  async function canArtifact(grant: SignedArtifact): Promise<SignedArtifact> {
    return allowed(await authorize(request({ action: 'continue-as-new', principal: null, parent: grant, values: nextValues })));
  }

  function nextRunRequest(can: SignedArtifact, spec: RequestSpec = {}): AuthorizationRequest {
    return request({ principal: null, parent: can, values: nextValues, ...spec, workflow: { runId: 'run-2', continuedFromRunId: 'run-1', ...spec.workflow } });
  }

  it('grants the next run via continuedFromRunId, keeping principal and root', async () => {
    const grant = await rootGrant();
    const can = await canArtifact(grant);
    expect(can.payload).toMatchObject({ action: 'continue-as-new', runId: 'run-1', expiresAt: null, argsDigest: argumentsDigest(nextValues) });
    const next = allowed(await authorize(nextRunRequest(can)));
    expect(next.payload).toMatchObject({
      action: 'workflow',
      workflowId: 'wf-1',
      runId: 'run-2',
      principal: 'alice',
      rootId: grant.payload.rootId,
      parent: { id: can.payload.id, hash: payloadHash(can.payload) },
    });
    // And the new run's grant authorizes its activities.
    allowed(await authorize(activityRequest(next, { workflow: { runId: 'run-2', continuedFromRunId: 'run-1' } })));
  });

  it.each<[string, RequestSpec]>([
    ['another previous run', { workflow: { continuedFromRunId: 'run-0' } }],
    ['no previous run', { workflow: { continuedFromRunId: null } }],
    ['another workflow id', { workflow: { workflowId: 'wf-2' } }],
    ['other arguments', { values: [{ cursor: 43 }] }],
    ['another workflow type', { target: 'Other', workflow: { workflowType: 'Other' } }],
  ])('denies the next run with INVALID_GRANT for %s', async (_label, spec) => {
    const grant = await rootGrant();
    const can = await canArtifact(grant);
    denied(await authorize(nextRunRequest(can, spec)), DenyCodes.invalidGrant);
  });
});

describe('bounded ancestry: continue-as-new chains and nesting (docs/artifact.md section 5)', () => {
  const nextValues = [{ cursor: 1 }];
  const size = (a: SignedArtifact) => signingInput(a.payload).length;

  /** Hop `hop` of wf-1's chain: its run id, and its continued-from run. */
  const runOf = (hop: number) => `run-${hop}`;

  async function continueChain(hops: number): Promise<{ grants: SignedArtifact[]; cans: SignedArtifact[]; calls: SignedArtifact[] }> {
    const grants = [await rootGrant()];
    const cans: SignedArtifact[] = [];
    const calls: SignedArtifact[] = [];
    for (let hop = 1; ; hop++) {
      const wf = { runId: runOf(hop), firstExecutionRunId: runOf(hop), continuedFromRunId: hop === 1 ? null : runOf(hop - 1) };
      calls.push(allowed(await authorize(activityRequest(grants[hop - 1]!, { workflow: wf }))));
      if (hop === hops) break;
      const can = allowed(await authorize(request({ action: 'continue-as-new', principal: null, parent: grants[hop - 1]!, values: nextValues, workflow: wf })));
      cans.push(can);
      const next = { runId: runOf(hop + 1), firstExecutionRunId: runOf(hop + 1), continuedFromRunId: runOf(hop) };
      grants.push(allowed(await authorize(request({ principal: null, parent: can, values: nextValues, workflow: next }))));
    }
    return { grants, cans, calls };
  }

  it('a continue-as-new chain keeps one chain id, counts hops, and its artifacts do not grow', async () => {
    const { grants, cans, calls } = await continueChain(6);
    const root = grants[0]!.payload;
    expect(root.chain).toEqual({ id: root.id, hop: 1 });
    grants.forEach((g, i) => {
      expect(g.payload.chain).toEqual({ id: root.id, hop: i + 1 });
      // The first run names itself; every later hop lists the chain id only.
      expect(g.payload.ancestors).toEqual(i === 0 ? [] : [root.id]);
      expect(g.payload.ancestorKids).toEqual(i === 0 ? [] : ['unit-key-1']);
    });
    cans.forEach((c, i) => expect(c.payload).toMatchObject({ chain: { id: root.id, hop: i + 1 }, ancestors: [root.id], ancestorKids: ['unit-key-1'] }));
    calls.forEach((c, i) => expect(c.payload).toMatchObject({ chain: { id: root.id, hop: i + 1 }, ancestors: [root.id], ancestorKids: ['unit-key-1'], rootId: root.id }));
    // Every parent link still names the hop right above it.
    expect(grants[5]!.payload.parent!.id).toBe(cans[4]!.payload.id);
    expect(cans[4]!.payload.parent!.id).toBe(grants[4]!.payload.id);
    // Same-length ids and run ids: hop 6's per-call artifact is exactly as large as hop 1's.
    expect(size(calls[5]!)).toBe(size(calls[0]!));
    expect(size(grants[5]!)).toBe(size(grants[1]!));
    // What the issuer signs is what the verifier's derivation rule expects, hop by hop.
    for (const [child, parent] of [...grants.slice(1).map((g, i) => [g, cans[i]!]), ...cans.map((c, i) => [c, grants[i]!]), ...calls.map((c, i) => [c, grants[i]!])]) {
      expect(relationProblems(child!.payload, parent!.payload)).toEqual([]);
    }
  });

  it('a child workflow starts a new chain one level down; its own continue-as-new stays on that level', async () => {
    const { grants } = await continueChain(3);
    const root = grants[0]!.payload.id;
    const hop3 = { runId: runOf(3), firstExecutionRunId: runOf(3), continuedFromRunId: runOf(2) };
    const childValues = [{ orderId: 'o-1' }];
    const child = allowed(
      await authorize(request({ action: 'child-workflow', target: 'ChildWorkflow', childWorkflowId: 'child-1', principal: null, parent: grants[2]!, values: childValues, workflow: hop3 })),
    );
    expect(child.payload).toMatchObject({ chain: { id: root, hop: 3 }, ancestors: [root] });
    const childWf = { workflowId: 'child-1', runId: 'child-run-1', firstExecutionRunId: 'child-run-1', workflowType: 'ChildWorkflow', parent: { workflowId: 'wf-1', runId: runOf(3) } };
    const childGrant = allowed(await authorize(request({ target: 'ChildWorkflow', principal: null, parent: child, values: childValues, workflow: childWf })));
    expect(childGrant.payload).toMatchObject({ chain: { id: childGrant.payload.id, hop: 1 }, ancestors: [root, child.payload.id] });
    const childCan = allowed(await authorize(request({ action: 'continue-as-new', target: 'ChildWorkflow', principal: null, parent: childGrant, values: nextValues, workflow: childWf })));
    const childNext = allowed(
      await authorize(
        request({
          target: 'ChildWorkflow',
          principal: null,
          parent: childCan,
          values: nextValues,
          workflow: { ...childWf, runId: 'child-run-2', firstExecutionRunId: 'child-run-2', continuedFromRunId: 'child-run-1', parent: null },
        }),
      ),
    );
    const scope = [root, child.payload.id, childGrant.payload.id];
    expect(childCan.payload).toMatchObject({ chain: { id: childGrant.payload.id, hop: 1 }, ancestors: scope });
    expect(childNext.payload).toMatchObject({ chain: { id: childGrant.payload.id, hop: 2 }, ancestors: scope });
    // Revoking the child-workflow artifact voids the child's continued run: it lists it.
    expect(childNext.payload.ancestors).toContain(child.payload.id);
    for (const [x, p] of [[child, grants[2]!], [childGrant, child], [childCan, childGrant], [childNext, childCan]] as const) expect(relationProblems(x.payload, p.payload)).toEqual([]);
  });

  it(`denies a child workflow start beyond the nesting cap with ${DenyCodes.nestingTooDeep} (signed)`, async () => {
    const capped = honestly(createAuthorizer(options({ maxNestingDepth: 2 })));
    const values = [{ level: 1 }];
    let grant = allowed(await capped(request()));
    let parentWf: { workflowId: string; runId: string } = { workflowId: 'wf-1', runId: 'run-1' };
    for (let level = 1; level <= 2; level++) {
      const id = `nest-${level}`;
      const start = allowed(
        await capped(request({ action: 'child-workflow', target: 'ChildWorkflow', childWorkflowId: id, principal: null, parent: grant, values, workflow: { ...parentWf, firstExecutionRunId: parentWf.runId, workflowType: grant.payload.target, parent: null } })),
      );
      grant = allowed(
        await capped(request({ target: 'ChildWorkflow', principal: null, parent: start, values, workflow: { workflowId: id, runId: `${id}-run`, firstExecutionRunId: `${id}-run`, workflowType: 'ChildWorkflow', parent: parentWf } })),
      );
      expect(grant.payload.ancestors).toHaveLength(2 * level);
      parentWf = { workflowId: id, runId: `${id}-run` };
    }
    const tooDeep = denied(
      await capped(request({ action: 'child-workflow', target: 'ChildWorkflow', childWorkflowId: 'nest-3', principal: null, parent: grant, values, workflow: { ...parentWf, firstExecutionRunId: parentWf.runId, workflowType: 'ChildWorkflow', parent: null } })),
      DenyCodes.nestingTooDeep,
    );
    expect(tooDeep.payload.reason).toContain('nesting level 3, deeper than the maximum of 2');
    // Activities at the deepest level are still allowed.
    allowed(await capped(activityRequest(grant, { workflow: { ...parentWf, firstExecutionRunId: parentWf.runId, workflowType: 'ChildWorkflow', parent: null } })));
  });

  it('refuses a nesting cap above the constant, or not a positive integer', () => {
    for (const maxNestingDepth of [0, 33, 1.5, Number.NaN]) expect(() => createAuthorizer(options({ maxNestingDepth }))).toThrow(RangeError);
  });
});

describe('decisionIdFor', () => {
  const act = (activityId: string, wf: Partial<WorkflowIdentity> = {}, values: unknown[] = [1]) =>
    request({ action: 'activity', target: 'charge', activityId, values, workflow: wf });
  /** The id an honest caller's call gets (the server's facts are what the request claims). */
  const idOf = (req: AuthorizationRequest) => decisionIdFor(req, callerOf(req));

  it('has the form dec_<32 hex> and is stable for the same call', () => {
    const id = idOf(act('1'));
    expect(id).toMatch(/^dec_[0-9a-f]{32}$/);
    expect(idOf(act('1'))).toBe(id);
    expect(idOf(JSON.parse(JSON.stringify(act('1'))))).toBe(id);
  });

  it('depends on the call identity only, not its arguments, principal or time', () => {
    expect(idOf(act('1', {}, [2]))).toBe(idOf(act('1')));
    expect(idOf({ ...act('1'), proof: request({ principal: 'carol' }).proof })).toBe(idOf(act('1')));
  });

  it('differs across activity ids, runs, workflows, namespaces and actions', () => {
    const ids = new Set([
      idOf(act('1')),
      idOf(act('2')),
      idOf(act('1', { runId: 'run-2' })),
      idOf(act('1', { workflowId: 'wf-2' })),
      idOf(act('1', { namespace: 'prod' })),
      idOf({ ...act('1'), action: 'local-activity' }),
      idOf(request()),
      idOf(request({ action: 'continue-as-new' })),
      idOf(request({ action: 'child-workflow', childWorkflowId: 'c-1' })),
      idOf(request({ action: 'child-workflow', childWorkflowId: 'c-2' })),
    ]);
    expect(ids.size).toBe(10);
  });

  it('takes the run from the caller facts, never from the request', () => {
    const server = callerOf(act('1'));
    expect(decisionIdFor(act('1', { namespace: 'prod', workflowId: 'wf-2', runId: 'run-2' }), server)).toBe(idOf(act('1')));
    expect(decisionIdFor(act('1'), { ...server, runId: 'run-2' })).toBe(idOf(act('1', { runId: 'run-2' })));
    expect(decisionIdFor(act('1'), { ...server, workflowId: 'wf-2' })).toBe(idOf(act('1', { workflowId: 'wf-2' })));
    expect(decisionIdFor(act('1'), { ...server, namespace: 'prod' })).toBe(idOf(act('1', { namespace: 'prod' })));
  });

  it('is what the authorizer puts in artifacts and denials', async () => {
    const grant = await rootGrant();
    const ok = activityRequest(grant, { activityId: '7' });
    expect(allowed(await authorize(ok)).payload.decisionId).toBe(idOf(ok));
    const no = activityRequest(grant, { activityId: '8', values: [{ amount: 5000 }] });
    expect(denied(await authorize(no), 'AMOUNT_OVER_LIMIT').payload.decisionId).toBe(idOf(no));
  });
});

describe('server facts, not claims', () => {
  // Each test names its own workflow, so the grants and proofs it registers are its own.
  const values = [{ orderId: 'o-7' }];

  /** A run grant request for `workflowId` (first run, alice's proof, or `spec`). */
  const runRequest = (workflowId: string, spec: RequestSpec = {}) => request({ values, ...spec, workflow: { workflowId, ...spec.workflow } });

  async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
    const caught = await promise.then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(caught).toBeInstanceOf(ApplicationFailure);
    return caught as ApplicationFailure;
  }

  describe('the caller is the run the server says scheduled the authorization', () => {
    it.each<[string, Partial<CallerFacts>]>([
      ['workflowId', { workflowId: 'wf-victim' }],
      ['runId', { runId: 'run-victim' }],
      ['namespace', { namespace: 'prod' }],
      ['workflowType', { workflowType: 'VictimWorkflow' }],
    ])('denies a claimed %s the caller facts contradict with CLAIM_MISMATCH, bound to the server values', async (field, facts) => {
      const grant = await rootGrant({ workflow: { workflowId: 'wf-caller' } });
      const requests = [runRequest('wf-caller'), activityRequest(grant, { workflow: { workflowId: 'wf-caller' } })];
      for (const req of requests) {
        const context = honestContext(req, { caller: facts });
        const server = context.caller!;
        const denial = denied(await rawAuthorize(req, context), DenyCodes.claimMismatch);
        expect(denial.payload.reason).toContain(`workflow.${field}`);
        expect(denial.payload.reason).toContain(JSON.stringify(facts[field as keyof CallerFacts]));
        expect(denial.payload).toMatchObject({
          namespace: server.namespace,
          workflowId: server.workflowId,
          runId: server.runId,
          decisionId: decisionIdFor(req, server),
          principal: null,
          rootId: null,
          parent: null,
        });
      }
    });

    it('denies a run grant whose target is not the workflow type the server recorded', async () => {
      const req = runRequest('wf-target', { target: 'OtherWorkflow' });
      const denial = denied(await authorize(req), DenyCodes.claimMismatch);
      expect(denial.payload.reason).toContain('target');
    });

    it.each<[string, RequestSpec]>([
      ['a run grant', {}],
      ['an activity call', { action: 'activity', target: 'charge', activityId: '1', principal: null }],
    ])('throws a non-retryable GovernanceMalformedRequest for %s no workflow run scheduled', async (_label, spec) => {
      const req = runRequest('wf-no-caller', spec);
      const runStart = jest.fn(async (): Promise<RunStart> => {
        throw new Error('no run to read');
      });
      const failure = await failureOf(rawAuthorize(req, { caller: undefined, runStart }));
      expect(failure.type).toBe('GovernanceMalformedRequest');
      expect(failure.nonRetryable).toBe(true);
      expect(failure.message).toContain('not scheduled by a workflow run');
      expect(runStart).not.toHaveBeenCalled();
    });
  });

  describe("a run grant rests on the server's record of the run's start", () => {
    const other = [{ orderId: 'o-8' }];
    it.each<[string, string, (grant: SignedArtifact) => Partial<RunStart>]>([
      ['parent', 'workflow.parent', () => ({ parent: { workflowId: 'wf-parent', runId: 'run-parent' } })],
      ['continued-from run', 'workflow.continuedFromRunId', () => ({ continuedFromRunId: 'run-0', initiator: 'retry' })],
      ['first run of the chain', 'workflow.firstExecutionRunId', () => ({ firstExecutionRunId: 'run-0' })],
      ['task queue', 'workflow.taskQueue', () => ({ taskQueue: 'payments-elsewhere' })],
      ['workflow type', 'workflow.workflowType', () => ({ workflowType: 'OtherWorkflow' })],
      ['input digest', 'argsDigest', () => ({ args: { view: argumentsView(other), digest: argumentsDigest(other) } })],
      ['start proof', 'proof', () => ({ proof: identity.proof('carol', { namespace: 'default', workflowId: 'wf-start', workflowType: 'PaymentWorkflow', argsDigest: argumentsDigest(values) }) })],
      ['missing start proof', 'proof', () => ({ proof: undefined })],
      ['parent grant', 'parent', (grant) => ({ parentGrant: grant })],
    ])('denies a claimed %s the start contradicts with CLAIM_MISMATCH', async (_label, field, start) => {
      const grant = await rootGrant({ workflow: { workflowId: 'wf-start-parent' } });
      const req = runRequest('wf-start');
      const overrides = start(grant);
      const denial = denied(await rawAuthorize(req, honestContext(req, { start: overrides })), DenyCodes.claimMismatch);
      expect(denial.payload.reason).toMatch(new RegExp(`^the request claims ${field.replace('.', '\\.')} `));
      // What the denial binds is the server's record.
      expect(denial.payload.taskQueue).toBe(overrides.taskQueue ?? 'payments');
      expect(denial.payload.argsDigest).toBe(overrides.args && 'digest' in overrides.args ? overrides.args.digest : req.argsDigest);
    });

    it("denies a request whose own task queue is not the run's queue with CLAIM_MISMATCH", async () => {
      const req = runRequest('wf-start-queue', { taskQueue: 'elsewhere' });
      const denial = denied(await authorize(req), DenyCodes.claimMismatch);
      expect(denial.payload.reason).toMatch(/^the request claims taskQueue "elsewhere" but the Temporal server recorded "payments"/);
      expect(denial.payload.taskQueue).toBe('payments');
    });

    it('denies a start whose input has no argument digest with MALFORMED_REQUEST', async () => {
      const req = runRequest('wf-start-input');
      const start = { args: { error: 'argument 0 was encoded with a converter governance cannot decode' } };
      const denial = denied(await rawAuthorize(req, honestContext(req, { start })), DenyCodes.malformedRequest);
      expect(denial.payload.reason).toContain('argument 0 was encoded with a converter governance cannot decode');
    });

    it('reads the start for run grants only, and only for this caller', async () => {
      const grant = await rootGrant({ workflow: { workflowId: 'wf-start-read' } });
      const req = runRequest('wf-start-read');
      const honest = honestContext(req);
      const runStart = jest.fn(honest.runStart);
      allowed(await rawAuthorize(req, { caller: honest.caller, runStart }));
      expect(runStart.mock.calls).toEqual([[honest.caller]]);
      const act = activityRequest(grant, { workflow: { workflowId: 'wf-start-read' } });
      allowed(await rawAuthorize(act, { caller: honestContext(act).caller, runStart }));
      expect(runStart).toHaveBeenCalledTimes(1);
    });
  });

  describe('a child-workflow or continue-as-new grant starts one run chain', () => {
    async function childGrantOf(workflowId: string, childWorkflowId: string): Promise<SignedArtifact> {
      const root = await rootGrant({ workflow: { workflowId } });
      return allowed(await authorize(request({ action: 'child-workflow', target: 'ChildWorkflow', childWorkflowId, principal: null, parent: root, values, workflow: { workflowId } })));
    }

    const childRun = (grant: SignedArtifact, parentWorkflowId: string, runId: string, wf: Partial<WorkflowIdentity> = {}) =>
      request({
        target: 'ChildWorkflow',
        principal: null,
        parent: grant,
        values,
        workflow: { workflowId: grant.payload.childWorkflowId!, runId, firstExecutionRunId: runId, workflowType: 'ChildWorkflow', parent: { workflowId: parentWorkflowId, runId: 'run-1' }, ...wf },
      });

    it('admits the child run and its retries (same first run), and denies a second child run chain with GRANT_REPLAYED', async () => {
      const child = await childGrantOf('wf-replay', 'child-replay');
      const first = childRun(child, 'wf-replay', 'child-run-a');
      const runGrant = allowed(await authorize(first));
      // The same authorization again (an activity retry) and a workflow retry of the child: one chain.
      expect(allowed(await authorize(first))).toEqual(runGrant);
      const retry = childRun(child, 'wf-replay', 'child-run-a2', { continuedFromRunId: 'child-run-a', firstExecutionRunId: 'child-run-a' });
      expect(allowed(await rawAuthorize(retry, honestContext(retry, { start: { initiator: 'retry' } }))).payload).toMatchObject({
        runId: 'child-run-a2',
        principal: 'alice',
        parent: { id: child.payload.id, hash: payloadHash(child.payload) },
      });
      // Another child run chain (same workflow id, same parent) presenting the same grant.
      const second = denied(await authorize(childRun(child, 'wf-replay', 'child-run-b')), DenyCodes.grantReplayed);
      expect(second.payload.reason).toContain(child.payload.id);
      expect(second.payload).toMatchObject({ workflowId: 'child-replay', runId: 'child-run-b', principal: 'alice' });
    });

    it('denies a second run chain continuing from the same run with GRANT_REPLAYED', async () => {
      const root = await rootGrant({ workflow: { workflowId: 'wf-can-replay' } });
      const can = allowed(await authorize(request({ action: 'continue-as-new', principal: null, parent: root, values, workflow: { workflowId: 'wf-can-replay' } })));
      const next = (runId: string) => request({ principal: null, parent: can, values, workflow: { workflowId: 'wf-can-replay', runId, continuedFromRunId: 'run-1', firstExecutionRunId: runId } });
      allowed(await authorize(next('run-2')));
      denied(await authorize(next('run-2b')), DenyCodes.grantReplayed);
    });

    it('accepts a continue-as-new grant only for a run the server says was continued as new', async () => {
      const root = await rootGrant({ workflow: { workflowId: 'wf-can-initiator' } });
      const can = allowed(await authorize(request({ action: 'continue-as-new', principal: null, parent: root, values, workflow: { workflowId: 'wf-can-initiator' } })));
      const next = request({ principal: null, parent: can, values, workflow: { workflowId: 'wf-can-initiator', runId: 'run-2', continuedFromRunId: 'run-1', firstExecutionRunId: 'run-1' } });
      // A fresh start (no continued-from run) can never rest on a continue-as-new grant.
      const fresh = request({ principal: null, parent: can, values, workflow: { workflowId: 'wf-can-initiator', runId: 'run-0', firstExecutionRunId: 'run-0' } });
      const notBound = denied(await rawAuthorize(fresh, honestContext(fresh, { start: { initiator: null } })), DenyCodes.invalidGrant);
      expect(notBound.payload.reason).toContain('not bound to this run');
      allowed(await rawAuthorize(next, honestContext(next, { start: { initiator: 'continue-as-new' } })));
      // A workflow retry or cron run of that run re-delivers the grant (the server copies the start
      // header): another run id, continued from the previous attempt, the same first run id.
      for (const [runId, initiator] of [['run-3', 'retry'], ['run-4', 'cron']] as const) {
        const again = request({ principal: null, parent: can, values, workflow: { workflowId: 'wf-can-initiator', runId, continuedFromRunId: 'run-2', firstExecutionRunId: 'run-1' } });
        allowed(await rawAuthorize(again, honestContext(again, { start: { initiator } })));
      }
      // ... but another chain of the same workflow id may not.
      const other = request({ principal: null, parent: can, values, workflow: { workflowId: 'wf-can-initiator', runId: 'run-9', continuedFromRunId: 'run-8', firstExecutionRunId: 'run-8' } });
      denied(await rawAuthorize(other, honestContext(other, { start: { initiator: 'retry' } })), DenyCodes.grantReplayed);
    });

    it('a child grant does not admit the child\'s own continue-as-new runs', async () => {
      const root = await rootGrant({ workflow: { workflowId: 'wf-child-can' } });
      const childGrant = allowed(
        await authorize(request({ action: 'child-workflow', target: 'PaymentWorkflow', childWorkflowId: 'wf-child-can-c', principal: null, parent: root, values, workflow: { workflowId: 'wf-child-can' } })),
      );
      const parent = { workflowId: 'wf-child-can', runId: 'run-1' };
      const childRun = (runId: string, continuedFromRunId: string | null) =>
        request({ target: 'PaymentWorkflow', principal: null, parent: childGrant, values, workflow: { workflowId: 'wf-child-can-c', runId, parent, continuedFromRunId, firstExecutionRunId: 'c-1' } });
      const first = childRun('c-1', null);
      allowed(await rawAuthorize(first, honestContext(first)));
      const continued = childRun('c-2', 'c-1');
      denied(await rawAuthorize(continued, honestContext(continued, { start: { initiator: 'continue-as-new' } })), DenyCodes.invalidGrant);
      allowed(await rawAuthorize(continued, honestContext(continued, { start: { initiator: 'retry' } })));
    });

    it('admits a retry whose first run never claimed the proof only if the proof was fresh when that first run started', async () => {
      const proofAt = clock;
      for (const [label, firstStartedAt, expected] of [
        ['the first run started within the proof lifetime', proofAt + 1_000, 'allow'],
        ['the first run started long after the proof (a copied proof, a new chain)', proofAt + DAY, DenyCodes.invalidProof],
      ] as const) {
        const workflowId = `wf-unclaimed-${label.length}`;
        const retry = runRequest(workflowId, { workflow: { runId: 'run-2', continuedFromRunId: 'run-1', firstExecutionRunId: 'run-1', startedAt: proofAt + DAY + 60_000 } });
        const base = honestContext(retry, { start: { initiator: 'retry' } });
        const context = {
          caller: base.caller,
          runStart: async (c: { runId: string }) => (c.runId === 'run-1' ? { ...(await base.runStart(base.caller!)), startedAt: firstStartedAt } : base.runStart(base.caller!)),
        };
        clock = proofAt + DAY + 60_000;
        const result = await rawAuthorize(retry, context);
        if (expected === 'allow') allowed(result);
        else denied(result, expected);
      }
    });

    it('denies a continued-as-new run that carries a valid start proof but no continue-as-new grant with INVALID_GRANT', async () => {
      const first = runRequest('wf-continued');
      allowed(await authorize(first));
      // The next run of the chain re-presents the first run's (valid, claimed) proof and no grant.
      const continued = runRequest('wf-continued', { proof: first.proof, workflow: { runId: 'run-2', continuedFromRunId: 'run-1', firstExecutionRunId: 'run-1' } });
      const context = honestContext(continued);
      expect((await context.runStart(context.caller!)).initiator).toBe('continue-as-new');
      expect((await context.runStart(context.caller!)).parentGrant).toBeUndefined();
      const denial = denied(await rawAuthorize(continued, context), DenyCodes.invalidGrant);
      expect(denial.payload.reason).toContain('continue-as-new grant of run run-1');
      // The same start re-delivered by a workflow retry or a cron run is admitted for its chain.
      for (const initiator of ['retry', 'cron'] as const) {
        expect(allowed(await rawAuthorize(continued, honestContext(continued, { start: { initiator } }))).payload).toMatchObject({ runId: 'run-2', principal: 'alice' });
      }
    });
  });

  describe('the task queue in the binding', () => {
    it("is the run's queue from the server's start for a run grant, and the request's queue for an activity", async () => {
      const wf = { workflowId: 'wf-queue', taskQueue: 'payments-eu' };
      const req = runRequest('wf-queue', { taskQueue: 'payments-eu', workflow: wf });
      const context = honestContext(req);
      const start = await context.runStart(context.caller!);
      const grant = allowed(await rawAuthorize(req, context));
      expect(grant.payload.taskQueue).toBe(start.taskQueue);
      expect(grant.payload.taskQueue).toBe('payments-eu');

      const act = activityRequest(grant, { taskQueue: 'charges-eu', workflow: wf });
      const artifact = allowed(await authorize(act));
      expect(artifact.payload.taskQueue).toBe('charges-eu');
      const call = {
        namespace: 'default',
        workflowId: 'wf-queue',
        runId: 'run-1',
        activityId: '1',
        activityType: 'charge',
        taskQueue: 'charges-eu',
        isLocal: false,
        argsDigest: act.argsDigest,
        attempt: 1,
        scheduledTimestampMs: clock,
      };
      expect(verifyArtifactForCall(artifact, call, trust, clock, nodeEd25519).ok).toBe(true);
      expect(verifyArtifactForCall(artifact, { ...call, taskQueue: 'payments-eu' }, trust, clock, nodeEd25519)).toMatchObject({ ok: false, code: DenyCodes.artifactBindingMismatch });
      // A denial carries the same binding.
      const refused = denied(await authorize(activityRequest(grant, { activityId: '2', taskQueue: 'charges-eu', values: [{ amount: 5000 }], workflow: wf })), 'AMOUNT_OVER_LIMIT');
      expect(refused.payload.taskQueue).toBe('charges-eu');
    });
  });

  it('signs a denial whose reason quotes a claim cut inside a surrogate pair (made well formed)', async () => {
    // describeClaim keeps 117 characters of the JSON: the opening quote and 115 more, then cuts
    // between the two halves of U+1F600.
    const claimed = `${'a'.repeat(115)}\u{1F600}${'b'.repeat(10)}`;
    expect(JSON.stringify(claimed).slice(0, 117)).toMatch(/[\uD800-\uDBFF]$/);
    const req = runRequest(claimed);
    const denial = denied(await rawAuthorize(req, honestContext(req, { caller: { workflowId: 'wf-real' } })), DenyCodes.claimMismatch);
    expect(denial.payload.reason).toContain(`"${'a'.repeat(115)}\uFFFD...`);
    const lone = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
    expect(lone.test(denial.payload.reason)).toBe(false);
    expect(denial.payload.workflowId).toBe('wf-real');
  });
});

describe('identity state that is stale decides nothing', () => {
  it('fails the attempt retryably (no signed denial) so Temporal retries it until the authorization timeout', async () => {
    for (const snapshot of [undefined, identity.snapshot()]) {
      const stale = createAuthorizer(options({ identity: async () => snapshot, wallClock: () => clock + 60_000 }));
      const req = request();
      const failure = (await stale(req, honestContext(req)).then(
        () => undefined,
        (err: unknown) => err,
      )) as ApplicationFailure;
      expect(failure).toBeInstanceOf(ApplicationFailure);
      expect(failure.type).toBe('GovernanceIdentityStale');
      expect(failure.nonRetryable).toBe(false);
      expect(failure.message).toContain('denied, never allowed');
    }
  });
});
