// Attack suite: forged claims. The attacker runs their own worker (own task queue, no governance
// interceptors) and calls the authorization activity by hand with requests built from what any
// history shows: a victim's identity, run grant, start proof, artifacts.
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { HEADER_ARTIFACT, HEADER_START_PROOF } from '../../src/common/constants';
import type { SignedArtifact, WorkflowIdentity } from '../../src/common/schemas';
import { runsOf } from '../fixtures/activities';
import { payOnce } from '../fixtures/workflows';
import { expectGovernanceDenied, governedEnv, uniqueName, type Env } from '../helpers/harness';
import type { RogueCallOutcome, RogueRequestPlan } from './fixtures/rogue-workflows';
import { arsenal, authorizationsOf, clientSending, codeOf, deniedWith, scheduledHeader, startProofOf, type Arsenal } from './helpers';

let env: Env;
let arms: Arsenal;
beforeAll(async () => {
  env = await governedEnv();
  arms = await arsenal(env);
});
afterAll(async () => env?.close());

interface Victim {
  readonly workflowId: string;
  readonly runId: string;
  readonly marker: string;
  /** The victim's `workflow` claim block, as its own authorization requests show it in history. */
  readonly identity: WorkflowIdentity;
  readonly runGrant: SignedArtifact;
  readonly chargeArtifact: SignedArtifact;
  readonly chargeInput: { amount: number; currency: string; marker: string };
  readonly proof: Payload;
}

/** A real governed run (alice), finished; everything the attacker copies comes from its history. */
async function victim(): Promise<Victim> {
  const marker = uniqueName('victim');
  const handle = await env.client.workflow.start(payOnce, { taskQueue: env.taskQueue, workflowId: uniqueName('victim'), args: [10, marker] });
  await handle.result();
  const auths = await authorizationsOf(env.client, handle.workflowId);
  const grant = auths.find((a) => a.request.action === 'workflow')!;
  if (grant.result.decision !== 'allow') throw new Error('victim was denied its run grant');
  const chargeArtifact = (await scheduledHeader(handle, 'charge', HEADER_ARTIFACT)) as SignedArtifact;
  expect(runsOf(marker)).toBe(1);
  return {
    workflowId: handle.workflowId,
    runId: handle.firstExecutionRunId,
    marker,
    identity: grant.request.workflow as WorkflowIdentity,
    runGrant: grant.result.artifact,
    chargeArtifact,
    chargeInput: { amount: 10, currency: 'EUR', marker },
    proof: await startProofOf(handle),
  };
}

/** Runs the rogue authorization workflow on the attacker's queue; returns governance's answer. */
async function rogueAuthorize(plan: Omit<RogueRequestPlan, 'governanceQueue'>): Promise<{ code: string; reason: string }> {
  const answer = await arms.raw.workflow.execute('rogueAuthorize', {
    taskQueue: arms.rogueQueue,
    workflowId: uniqueName('rogue-authorize'),
    args: [{ governanceQueue: env.governanceTaskQueue, ...plan }],
  });
  return deniedWith(answer);
}

async function rogueSchedule(plan: { taskQueue: string; activityType: string; args: unknown[]; headers: Record<string, unknown>; activityId?: string }): Promise<RogueCallOutcome> {
  return arms.raw.workflow.execute('rogueSchedule', { taskQueue: arms.rogueQueue, workflowId: uniqueName('rogue-schedule'), args: [plan] });
}

const chargeRequest = (v: Victim) => ({ action: 'activity' as const, target: 'charge', activityId: v.chargeArtifact.payload.activityId, taskQueue: env.taskQueue, args: [v.chargeInput] });

test("a rogue worker claiming a victim run's identity, with the victim's run grant, is denied CLAIM_MISMATCH; the victim's artifacts and grant copied into its own call are refused by the enforcement point", async () => {
  await env.run(async () => {
    const v = await victim();

    // 1. Claim to BE the victim run (id, run id, type, queue copied from history), parent = victim's run grant.
    const forged = await rogueAuthorize({ ...chargeRequest(v), workflow: v.identity, parent: v.runGrant });
    expect(forged.code).toBe('CLAIM_MISMATCH');
    expect(forged.reason).toContain('workflow.workflowId');

    // 2. Schedule the charge on the legitimate app queue with the victim's own charge artifact:
    // same activity id, type, queue and arguments; only the run differs.
    const withArtifact = await rogueSchedule({
      taskQueue: env.taskQueue,
      activityType: 'charge',
      args: [v.chargeInput],
      headers: { [HEADER_ARTIFACT]: v.chargeArtifact },
      activityId: v.chargeArtifact.payload.activityId!,
    });
    expect(withArtifact).toMatchObject({ ran: false, failureType: 'GovernanceDenied' });
    expect(codeOf(withArtifact)).toBe('ARTIFACT_BINDING_MISMATCH');
    expect(withArtifact.message).toContain('workflowId');

    // 3. ... and with the victim's run grant as the artifact (for a protected and for an exempt type).
    const lookupMarker = uniqueName('stolen-exempt');
    for (const [activityType, args] of [['charge', [v.chargeInput]], ['lookupRate', [lookupMarker]]] as const) {
      const withGrant = await rogueSchedule({ taskQueue: env.taskQueue, activityType, args: [...args], headers: { [HEADER_ARTIFACT]: v.runGrant } });
      expect(withGrant).toMatchObject({ ran: false, failureType: 'GovernanceDenied' });
      expect(codeOf(withGrant)).toBe('ARTIFACT_BINDING_MISMATCH');
      expect(withGrant.message).toContain('workflowId');
    }
    expect(runsOf(v.marker)).toBe(1); // the victim's own charge, nothing more
    expect(runsOf(lookupMarker)).toBe(0);
  }, await arms.workers({ rogue: true }));
});

test("a rogue run claiming its own identity truthfully but presenting the victim's run grant as parent is denied INVALID_GRANT", async () => {
  await env.run(async () => {
    const v = await victim();
    const denied = await rogueAuthorize({ ...chargeRequest(v), parent: v.runGrant });
    expect(denied.code).toBe('INVALID_GRANT');
    expect(denied.reason).toContain('not bound to this run');
    expect(runsOf(v.marker)).toBe(1);
  }, await arms.workers({ rogue: true }));
});

test('a rogue run claiming to be of workflow type payOnce is denied CLAIM_MISMATCH (activity call and run grant alike)', async () => {
  await env.run(async () => {
    const v = await victim();
    // Per-call request under its own id but another type (policies may key on the workflow type).
    const asPayOnce = await rogueAuthorize({ ...chargeRequest(v), workflow: { workflowType: 'payOnce' }, parent: v.runGrant });
    expect(asPayOnce.code).toBe('CLAIM_MISMATCH');
    expect(asPayOnce.reason).toContain('workflow.workflowType');
    expect(asPayOnce.reason).toContain('"rogueAuthorize"');
    // A run grant for `workflow:payOnce` asked by a run of another type.
    const runGrant = await rogueAuthorize({ action: 'workflow', target: 'payOnce', taskQueue: arms.rogueQueue, args: 'start' });
    expect(runGrant.code).toBe('CLAIM_MISMATCH');
    expect(runGrant.reason).toContain('target');
  }, await arms.workers({ rogue: true }));
});

test("a run-grant request carrying the victim's start proof, from a run started without it, is denied CLAIM_MISMATCH", async () => {
  await env.run(async () => {
    const v = await victim();
    const proof = defaultPayloadConverter.fromPayload(v.proof);
    // Everything else truthful (own id, type, queue, start input): only the proof is not the server's.
    const denied = await rogueAuthorize({ action: 'workflow', target: 'rogueAuthorize', taskQueue: arms.rogueQueue, args: 'start', proof });
    expect(denied.code).toBe('CLAIM_MISMATCH');
    expect(denied.reason).toMatch(/claims proof .* but the Temporal server recorded none/);
  }, await arms.workers({ rogue: true }));
});

test('a start proof copied from history into a raw start is denied INVALID_PROOF for another workflow id and PROOF_REPLAYED for the same start again', async () => {
  await env.run(async () => {
    const v = await victim();
    const attacker = clientSending(env, { [HEADER_START_PROOF]: v.proof });
    const elsewhere = await attacker.workflow.start(payOnce, { taskQueue: env.taskQueue, workflowId: uniqueName('stolen-proof'), args: [10, v.marker] });
    const again = await attacker.workflow.start(payOnce, { taskQueue: env.taskQueue, workflowId: v.workflowId, args: [10, v.marker] });
    const [otherId, sameStart] = [await expectGovernanceDenied(elsewhere), await expectGovernanceDenied(again)];
    expect(codeOf(otherId)).toBe('INVALID_PROOF');
    expect(otherId.message).toContain('bound to workflowId');
    expect(codeOf(sameStart)).toBe('PROOF_REPLAYED');
    expect(runsOf(v.marker)).toBe(1);
  }, await arms.workers());
});

test('the same start sent with a copied proof to another task queue (one the attacker polls) is denied INVALID_PROOF: the proof binds the task queue', async () => {
  const v = await env.run(() => victim(), await arms.workers());
  const attacker = clientSending(env, { [HEADER_START_PROOF]: v.proof });
  // Same id, type and arguments as the victim; the run is sent to another governed queue.
  const otherQueue = uniqueName('other-queue');
  await env.run(async () => {
    const rerouted = await attacker.workflow.start(payOnce, { taskQueue: otherQueue, workflowId: v.workflowId, args: [10, v.marker] });
    const failure = await expectGovernanceDenied(rerouted);
    expect(codeOf(failure)).toBe('INVALID_PROOF');
    expect(failure.message).toContain('bound to taskQueue');
    expect(runsOf(v.marker)).toBe(1);
  }, [await arms.governedWorker(otherQueue), await env.governanceWorker()]);
});
