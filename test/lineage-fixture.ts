// Realistic lineage for the lineage query/verify/CLI tests: real signed decisions from the
// authorization activity's logic (createAuthorizer, no Temporal), persisted with the real
// persistLineageBatch into a fresh database of the real MongoDB-wire server (MONGODB_URI).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient, type Db } from 'mongodb';
import { createAuthorizer } from '../activities/authorize';
import { signingInput } from '../src/artifact/artifact';
import type { TrustBundle } from '../src/artifact/trust-bundle';
import { fromBase64Url } from '../src/common/base64url';
import { argumentsDigest, argumentsView } from '../src/common/digest';
import type { AuthorizationRequest, AuthorizationResult, SignedArtifact, SignedDenial, WorkflowIdentity } from '../src/common/schemas';
import { generateSigningKey, loadSigningKey, loadTrustBundle } from '../src/crypto/keys';
import { nodeEd25519 } from '../src/crypto/node';
import { honestContext } from './helpers/call-context';
import { memoryIdentity, type MemoryIdentity } from './helpers/identity';
import type { LineageSignal } from '../src/lineage/schema';
import { ensureLineageIndexes, persistLineageBatch, type ChainState, type PersistResult } from '../src/lineage/store';
import { parsePolicy } from '../src/policy/schema';

export const DAY = 86_400_000;

export const policy = parsePolicy({
  id: 'lineage-test-policy',
  exempt: { activities: ['lookupRate'] },
  rules: [
    { id: 'allow-operator-workflows', effect: 'allow', when: { actions: ['workflow', 'child-workflow', 'continue-as-new'], roles: ['operator'] } },
    {
      id: 'allow-small-charges',
      effect: 'allow',
      when: { actions: ['activity', 'local-activity'], targets: ['charge*'], roles: ['operator'], args: [{ field: 'amount', op: 'lte', value: 1000 }] },
    },
    {
      id: 'deny-large-charges',
      effect: 'deny',
      code: 'AMOUNT_OVER_LIMIT',
      reason: 'charges above 1000 need a second approver',
      when: { targets: ['charge*'], args: [{ field: 'amount', op: 'gt', value: 1000 }] },
    },
  ],
});

/** Identity for the fixture's authorizers: its clock is the decision clock. */
let identityClock = 0;
const identity: MemoryIdentity = memoryIdentity({ alice: ['operator'], carol: ['operator'], bob: ['viewer'] }, () => identityClock);

let counter = 0;
/** A database name FerretDB and MongoDB both accept, unique per call. */
export function uniqueDatabase(prefix: string): string {
  counter += 1;
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${counter}`;
}

export function mongoUri(): string {
  const uri = process.env.MONGODB_URI;
  if (!uri) throw new Error('MONGODB_URI is not set: run the tests through jest (global-setup starts the stack)');
  return uri;
}

export interface Keys {
  readonly dir: string;
  readonly keyPath: string;
  readonly bundlePath: string;
  readonly trust: TrustBundle;
}

/** A signing key valid from `notBefore`, in a fresh directory with its trust bundle. */
export function makeKeys(kid: string, notBefore: number): Keys {
  const dir = mkdtempSync(join(tmpdir(), 'lineage-keys-'));
  const keyPath = join(dir, 'signing-key.json');
  const bundlePath = join(dir, 'trust-bundle.json');
  generateSigningKey({ keyPath, bundlePath, kid, now: new Date(notBefore) });
  return { dir, keyPath, bundlePath, trust: loadTrustBundle(bundlePath) };
}

const ROOT_RUN: WorkflowIdentity = {
  namespace: 'default',
  workflowId: 'order-42',
  runId: 'run-root-1',
  workflowType: 'OrderWorkflow',
  taskQueue: 'orders',
  parent: null,
  continuedFromRunId: null,
  firstExecutionRunId: 'run-root-1',
  startedAt: 0,
};
const CHILD_RUN: WorkflowIdentity = {
  ...ROOT_RUN,
  workflowId: 'order-42-shipping',
  runId: 'run-child-1',
  workflowType: 'ShippingWorkflow',
  parent: { workflowId: ROOT_RUN.workflowId, runId: ROOT_RUN.runId },
  firstExecutionRunId: 'run-child-1',
};
const NEXT_RUN: WorkflowIdentity = { ...ROOT_RUN, runId: 'run-root-2', continuedFromRunId: ROOT_RUN.runId, firstExecutionRunId: 'run-root-2' };
const OTHER_RUN: WorkflowIdentity = { ...ROOT_RUN, workflowId: 'order-43', runId: 'run-other-1', firstExecutionRunId: 'run-other-1' };

export interface LineageFixture {
  readonly client: MongoClient;
  readonly db: Db;
  readonly database: string;
  readonly keys: Keys;
  /** Root run grant of order-42 (alice). */
  readonly root: SignedArtifact;
  readonly charge1: SignedArtifact;
  readonly charge2: SignedArtifact;
  /** child-workflow artifact for the shipping child, and the child's own run grant. */
  readonly childGrant: SignedArtifact;
  readonly childRun: SignedArtifact;
  readonly childCharge: SignedArtifact;
  /** AMOUNT_OVER_LIMIT in the child run. */
  readonly denial: SignedDenial;
  /** continue-as-new artifact and the new run's grant (same root). */
  readonly continueGrant: SignedArtifact;
  readonly nextRun: SignedArtifact;
  readonly nextCharge: SignedArtifact;
  /** A second root (carol) with one activity. */
  readonly otherRoot: SignedArtifact;
  readonly otherCharge: SignedArtifact;
  /** A denied root run grant (unknown principal mallory): a root of its own, issued two days earlier. */
  readonly deniedRoot: SignedDenial;
  /** Ids of order-42's root in persistence (seq) order. */
  readonly order: string[];
  /** What each persistLineageBatch call returned, in call order. */
  readonly results: PersistResult[];
  close(): Promise<void>;
}

/** The authorizer the governance worker runs, with a settable clock, behind an honest server. */
function authorizerFor(keys: Keys, clock: () => number): (input: unknown) => Promise<AuthorizationResult> {
  const authorize = createAuthorizer({
    policy,
    signingKey: loadSigningKey(keys.keyPath),
    trustBundle: () => keys.trust,
    identity: async () => identity.snapshot(),
    startProofs: identity.startProofs,
    ed25519: nodeEd25519,
    issuer: 'lineage-test-governance',
    artifactTtlMs: 300_000,
    now: () => (identityClock = clock()),
    wallClock: () => identityClock,
  });
  return (input) => authorize(input, honestContext(input));
}

function verifierFor(keys: Keys) {
  return (signed: SignedArtifact | SignedDenial) => {
    const key = keys.trust.keys.get(signed.payload.kid);
    return !!key && nodeEd25519.verify(fromBase64Url(signed.signature), signingInput(signed.payload), key);
  };
}

/** `principal` is shorthand for a start proof signed with that principal's API key at `at` (the run's start). */
function request(workflow: WorkflowIdentity, spec: Partial<AuthorizationRequest> & { values: unknown[]; principal?: string }, at = 0): AuthorizationRequest {
  const { values, principal, ...rest } = spec;
  const argsDigest = argumentsDigest(values);
  if (principal) workflow = { ...workflow, startedAt: at };
  return {
    v: 2,
    action: 'workflow',
    target: workflow.workflowType,
    activityId: null,
    childWorkflowId: null,
    messageId: null,
    taskQueue: workflow.taskQueue,
    args: argumentsView(values),
    argsDigest,
    workflow,
    proof: principal ? identity.proof(principal, { namespace: workflow.namespace, workflowId: workflow.workflowId, workflowType: workflow.workflowType, taskQueue: workflow.taskQueue, argsDigest }, at) : null,
    delegateRoles: null,
    parent: null,
    ...rest,
  };
}

/**
 * A large root in `db`: one run grant and `activities` activity authorizations under it, persisted
 * in batches of 200 as the lineage workflow does. Returns the ids in seq order.
 */
export async function persistLargeRoot(db: Db, keys: Keys, activities: number, base: number, options: { carryHead?: boolean } = {}): Promise<string[]> {
  let clock = base;
  const authorize = authorizerFor(keys, () => clock);
  const run: WorkflowIdentity = { ...ROOT_RUN, workflowId: `bulk-${base}`, runId: 'run-bulk-1', firstExecutionRunId: 'run-bulk-1' };
  const grant = await authorize(request(run, { principal: 'alice', values: [] }, base));
  if (grant.decision !== 'allow') throw new Error('fixture expected a run grant');
  const signals: LineageSignal[] = [{ kind: 'artifact', signed: grant.artifact }];
  for (let i = 1; i <= activities; i++) {
    clock = base + i;
    const r = await authorize(request(run, { action: 'activity', target: 'charge', activityId: String(i), parent: grant.artifact, values: [{ amount: i % 1500 }] }));
    signals.push(r.decision === 'allow' ? { kind: 'artifact', signed: r.artifact } : { kind: 'denial', signed: r.denial });
  }
  // carryHead: pass each batch's chain head to the next, as the lineage workflow does (no head read
  // per batch, which FerretDB's SQLite backend answers with a scan of everything stored so far).
  let head: PersistResult['head'] = null;
  for (let i = 0; i < signals.length; i += 200) {
    const chain: ChainState | undefined = options.carryHead && head ? { head } : undefined;
    head = (await persistLineageBatch(db, grant.artifact.payload.id, signals.slice(i, i + 200), verifierFor(keys), undefined, chain)).head;
  }
  return signals.map((s) => (s.kind === 'outcome' || s.kind === 'ref' ? s.id : s.signed.payload.id));
}

/**
 * A denied root run grant of `principal` (unknown to the fixture's identity, so any text, markup
 * included, for escaping tests), on its own workflow, persisted as a root of its own at `at`.
 */
export async function persistDeniedRoot(db: Db, keys: Keys, principal: string, workflowId: string, values: unknown[], at: number): Promise<SignedDenial> {
  const authorize = authorizerFor(keys, () => at);
  const run: WorkflowIdentity = { ...ROOT_RUN, workflowId, runId: `run-${workflowId}`, firstExecutionRunId: `run-${workflowId}` };
  const result = await authorize(request(run, { principal, values }, at));
  if (result.decision !== 'deny') throw new Error('fixture expected a denied root grant');
  await persistLineageBatch(db, result.denial.payload.id, [{ kind: 'denial', signed: result.denial }], verifierFor(keys));
  return result.denial;
}

/**
 * Builds and persists the fixture. Decisions are issued one second apart from `base`; the denied
 * root two days before. Persisted in several batches, including a duplicate re-send.
 */
export async function buildLineageFixture(options: { base: number; prefix: string; keys?: Keys }): Promise<LineageFixture> {
  const keys = options.keys ?? makeKeys('lineage-key-1', options.base - 3 * DAY);
  let clock = options.base;
  const authorize = authorizerFor(keys, () => clock);
  const decide = async (spec: Partial<AuthorizationRequest> & { values: unknown[]; workflow: WorkflowIdentity; principal?: string }, at: number): Promise<AuthorizationResult> => {
    clock = at;
    const { workflow, ...rest } = spec;
    return authorize(request(workflow, rest, at));
  };
  const allow = (r: AuthorizationResult): SignedArtifact => {
    if (r.decision !== 'allow') throw new Error(`fixture expected allow, got ${r.denial.payload.code}: ${r.denial.payload.reason}`);
    return r.artifact;
  };
  const deny = (r: AuthorizationResult): SignedDenial => {
    if (r.decision !== 'deny') throw new Error('fixture expected deny');
    return r.denial;
  };
  let t = options.base;
  const next = () => (t += 1_000);
  const orderInput = [{ orderId: 42, items: 3 }];

  const root = allow(await decide({ workflow: ROOT_RUN, principal: 'alice', values: orderInput }, next()));
  const charge1 = allow(await decide({ workflow: ROOT_RUN, action: 'activity', target: 'charge', activityId: '1', parent: root, values: [{ amount: 500 }] }, next()));
  const shippingInput = [{ orderId: 42, carrier: 'dhl' }];
  const childGrant = allow(
    await decide({ workflow: ROOT_RUN, action: 'child-workflow', target: 'ShippingWorkflow', childWorkflowId: CHILD_RUN.workflowId, parent: root, values: shippingInput }, next()),
  );
  const childRun = allow(await decide({ workflow: CHILD_RUN, parent: childGrant, values: shippingInput }, next()));
  const childCharge = allow(await decide({ workflow: CHILD_RUN, action: 'activity', target: 'chargeShipping', activityId: '1', parent: childRun, values: [{ amount: 20 }] }, next()));
  const denial = deny(await decide({ workflow: CHILD_RUN, action: 'activity', target: 'chargeShipping', activityId: '2', parent: childRun, values: [{ amount: 5000 }] }, next()));
  const charge2 = allow(await decide({ workflow: ROOT_RUN, action: 'activity', target: 'charge', activityId: '2', parent: root, values: [{ amount: 700 }] }, next()));
  const nextInput = [{ orderId: 42, page: 2 }];
  const continueGrant = allow(await decide({ workflow: ROOT_RUN, action: 'continue-as-new', target: 'OrderWorkflow', parent: root, values: nextInput }, next()));
  const nextRun = allow(await decide({ workflow: NEXT_RUN, parent: continueGrant, values: nextInput }, next()));
  const nextCharge = allow(await decide({ workflow: NEXT_RUN, action: 'local-activity', target: 'chargeFee', activityId: '1', parent: nextRun, values: [{ amount: 5 }] }, next()));
  const otherRoot = allow(await decide({ workflow: OTHER_RUN, principal: 'carol', values: [{ orderId: 43 }] }, next()));
  const otherCharge = allow(await decide({ workflow: OTHER_RUN, action: 'activity', target: 'charge', activityId: '1', parent: otherRoot, values: [{ amount: 10 }] }, next()));
  const deniedRoot = deny(await decide({ workflow: { ...ROOT_RUN, workflowId: 'order-44', runId: 'run-denied-1', firstExecutionRunId: 'run-denied-1' }, principal: 'mallory', values: [{ orderId: 44 }] }, options.base - 2 * DAY));

  const database = uniqueDatabase(options.prefix);
  const client = await MongoClient.connect(mongoUri(), { serverSelectionTimeoutMS: 10_000 });
  const db = client.db(database);
  await ensureLineageIndexes(db);

  const verifySignature = verifierFor(keys);
  const a = (signed: SignedArtifact): LineageSignal => ({ kind: 'artifact', signed });
  const d = (signed: SignedDenial): LineageSignal => ({ kind: 'denial', signed });
  const outcome = (id: string, status: 'started' | 'completed' | 'failed', at: number, failureType: string | null = null): LineageSignal => ({
    kind: 'outcome',
    id,
    outcome: { status, failureType, attempt: 1, at },
  });
  const rootId = root.payload.id;
  const batch1 = [a(root), a(charge1), a(childGrant)];
  const results: PersistResult[] = [];
  const persist = async (rid: string, batch: LineageSignal[]) => {
    results.push(await persistLineageBatch(db, rid, batch, verifySignature, () => new Date(options.base + 60_000)));
  };
  await persist(rootId, batch1);
  await persist(rootId, [a(childRun), a(childCharge), outcome(charge1.payload.id, 'started', t + 1), outcome(charge1.payload.id, 'completed', t + 2)]);
  await persist(rootId, batch1); // the same batch again, as after a persist activity retry
  await persist(rootId, [d(denial), a(charge2), a(childCharge), a(continueGrant), a(nextRun), a(nextCharge), outcome(childCharge.payload.id, 'failed', t + 3, 'CardDeclined')]);
  await persist(otherRoot.payload.id, [a(otherRoot), a(otherCharge)]);
  await persist(deniedRoot.payload.id, [d(deniedRoot)]);

  return {
    client,
    db,
    database,
    keys,
    root,
    charge1,
    charge2,
    childGrant,
    childRun,
    childCharge,
    denial,
    continueGrant,
    nextRun,
    nextCharge,
    otherRoot,
    otherCharge,
    deniedRoot,
    order: [root, charge1, childGrant, childRun, childCharge, denial, charge2, continueGrant, nextRun, nextCharge].map((s) => s.payload.id),
    results,
    close: async () => {
      await db.dropDatabase().catch(() => undefined);
      await client.close();
      if (!options.keys) rmSync(keys.dir, { recursive: true, force: true });
    },
  };
}
