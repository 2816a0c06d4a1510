// Attack suite: replay. Every grant, proof and artifact admits exactly what it names, once. The
// attacker copies child and continue-as-new grants out of history into raw starts, and attacker
// interceptors on the legitimate worker re-send the first grant / artifact for a second start /
// scheduling, or send an artifact to another task queue.
import { defaultPayloadConverter } from '@temporalio/common';
import { HEADER_PARENT_GRANT } from '../../src/common/constants';
import { runsOf } from '../fixtures/activities';
import { parentPays, payOnce, payOnQueue, payThenContinue } from '../fixtures/workflows';
import { expectGovernanceDenied, governedEnv, mongoUri, uniqueName, type Env } from '../helpers/harness';
import { revoke } from '../../src/identity/store';
import { connectLineage } from '../../src/lineage/store';
import { chargeTwiceSameId, childTwice, continueThenRetry } from './fixtures/governed-workflows';
import type { Attack } from './fixtures/tamper';
import { arsenal, authorizationsOf, clientSending, codeOf, eventually, issuedArtifact, startProofOf, type Arsenal } from './helpers';

let env: Env;
let arms: Arsenal;
beforeAll(async () => {
  env = await governedEnv();
  arms = await arsenal(env);
});
afterAll(async () => env?.close());

const attack = (a: Attack) => ({ memo: { attack: a } });

test("a child-workflow grant copied from a parent's history into a raw start (same child id, type, args) is denied INVALID_GRANT", async () => {
  const marker = uniqueName('child-grant');
  await env.run(async () => {
    const parent = await env.client.workflow.start(parentPays, { taskQueue: env.taskQueue, workflowId: uniqueName('parent'), args: [10, marker] });
    await parent.result();
    const grant = await issuedArtifact(env.client, parent.workflowId, 'child-workflow');
    expect(grant.payload.childWorkflowId).toBe(`${parent.workflowId}-child`);
    // The child has closed: its id is free again. Everything the grant binds matches, except that the
    // server records no parent for this start.
    const stolen = await clientSending(env, { [HEADER_PARENT_GRANT]: defaultPayloadConverter.toPayload(grant) }).workflow.start(payOnce, {
      taskQueue: env.taskQueue,
      workflowId: grant.payload.childWorkflowId!,
      args: [10, marker],
    });
    const failure = await expectGovernanceDenied(stolen);
    expect(codeOf(failure)).toBe('INVALID_GRANT');
    expect(failure.message).toContain('not bound to this run');
  }, await arms.workers());
  expect(runsOf(marker)).toBe(1); // the genuine child's charge only
});

test('a continue-as-new grant copied from history into a raw start of the same workflow id is denied INVALID_GRANT', async () => {
  const marker = uniqueName('can-grant');
  await env.run(async () => {
    const original = await env.client.workflow.start(payThenContinue, { taskQueue: env.taskQueue, workflowId: uniqueName('can'), args: [1, marker] });
    await original.result();
    const grant = await issuedArtifact(env.client, original.workflowId, 'continue-as-new', original.firstExecutionRunId);
    // Same id, type and arguments as the continued run the grant was issued for; no continued-from run.
    const stolen = await clientSending(env, { [HEADER_PARENT_GRANT]: defaultPayloadConverter.toPayload(grant) }).workflow.start(payThenContinue, {
      taskQueue: env.taskQueue,
      workflowId: original.workflowId,
      args: [0, marker],
    });
    const failure = await expectGovernanceDenied(stolen);
    expect(codeOf(failure)).toBe('INVALID_GRANT');
  }, await arms.workers());
  expect(runsOf(`${marker}:1`)).toBe(1);
  expect(runsOf(`${marker}:0`)).toBe(1); // the genuine continued run's charge only
});

test("a second start of the same child id carrying the first child's grant is denied GRANT_REPLAYED; the first child ran once", async () => {
  const marker = uniqueName('child-twice');
  const workflowId = uniqueName('child-twice');
  await env.run(async () => {
    const parent = await env.client.workflow.start(childTwice, { taskQueue: env.taskQueue, workflowId, args: [marker], ...attack({ mode: 'reuse-first-child-grant' }) });
    await expect(parent.result()).rejects.toThrow();
    // The latest run under the child id is the second start: denied at its run grant.
    const second = env.client.workflow.getHandle(`${workflowId}-child`);
    const failure = await expectGovernanceDenied(second);
    expect(codeOf(failure)).toBe('GRANT_REPLAYED');
    expect(failure.details?.[0]).toMatchObject({ action: 'workflow', target: 'payOnce', principal: 'alice' });
    // ... and it was the first child's grant it carried (the swap happened), not a fresh one.
    const firstGrant = (await authorizationsOf(env.client, workflowId)).find((a) => a.request.action === 'child-workflow')!;
    const presented = (await authorizationsOf(env.client, `${workflowId}-child`)).find((a) => a.request.action === 'workflow')!;
    expect(firstGrant.result.decision).toBe('allow');
    expect((presented.request.parent as { payload: { id: string } }).payload.id).toBe(firstGrant.result.decision === 'allow' ? firstGrant.result.artifact.payload.id : null);
  }, await arms.workers());
  expect(runsOf(marker)).toBe(1);
});

test('the same child started twice without tampering runs twice (control: GRANT_REPLAYED above is the replay, not the repeated id)', async () => {
  const marker = uniqueName('child-twice-honest');
  await env.run(async () => {
    const parent = await env.client.workflow.start(childTwice, { taskQueue: env.taskQueue, workflowId: uniqueName('child-twice-honest'), args: [marker] });
    expect(await parent.result()).toEqual(['charged 10 EUR', 'charged 10 EUR']);
  }, await arms.workers());
  expect(runsOf(marker)).toBe(2);
});

test("a second scheduling under the same activity id carrying the first scheduling's artifact is denied ARTIFACT_REPLAYED; the first ran once", async () => {
  const marker = uniqueName('same-id');
  await env.run(async () => {
    const handle = await env.client.workflow.start(chargeTwiceSameId, { taskQueue: env.taskQueue, workflowId: uniqueName('same-id'), args: [marker], ...attack({ mode: 'reuse-first-artifact' }) });
    const failure = await expectGovernanceDenied(handle);
    expect(codeOf(failure)).toBe('ARTIFACT_REPLAYED');
    expect(failure.message).toContain('pinned-charge');
    // Governance saw the run fail closed: operators can filter it.
    expect((await handle.describe()).searchAttributes).toMatchObject({ GovernanceDecision: ['denied'], GovernanceDenyCode: ['ARTIFACT_REPLAYED'] });
  }, await arms.workers());
  expect(runsOf(marker)).toBe(1); // identical arguments: a second body run would count 2
});

test('the same activity id scheduled twice without tampering runs twice (control: each scheduling has its own artifact)', async () => {
  const marker = uniqueName('same-id-honest');
  await env.run(async () => {
    const handle = await env.client.workflow.start(chargeTwiceSameId, { taskQueue: env.taskQueue, workflowId: uniqueName('same-id-honest'), args: [marker] });
    expect(await handle.result()).toEqual(['charged 10 EUR', 'charged 10 EUR']);
  }, await arms.workers());
  expect(runsOf(marker)).toBe(2);
});

test('an artifact authorized for task queue A, scheduled on task queue B (both governed), is denied ARTIFACT_BINDING_MISMATCH naming taskQueue', async () => {
  const marker = uniqueName('queue');
  const [queueA, queueB] = [uniqueName('queue-a'), uniqueName('queue-b')];
  await env.run(async () => {
    const handle = await env.client.workflow.start(payOnQueue, {
      taskQueue: env.taskQueue,
      workflowId: uniqueName('queue'),
      args: [queueA, 10, marker],
      ...attack({ mode: 'redirect-queue', taskQueue: queueB }),
    });
    const failure = await expectGovernanceDenied(handle);
    expect(codeOf(failure)).toBe('ARTIFACT_BINDING_MISMATCH');
    expect(failure.message).toContain('taskQueue');
    expect(failure.message).toContain(queueA);
    expect(failure.message).toContain(queueB);
  }, [...(await arms.workers()), await arms.governedWorker(queueA), await arms.governedWorker(queueB)]);
  expect(runsOf(marker)).toBe(0);
});

test('single use does not break a legitimate retry: a continued run that fails its first attempt is retried and charges once', async () => {
  const marker = uniqueName('can-retry');
  await env.run(async () => {
    const handle = await env.client.workflow.start(continueThenRetry, {
      taskQueue: env.taskQueue,
      workflowId: uniqueName('can-retry'),
      args: [0, marker],
      retry: { maximumAttempts: 2, initialInterval: '100ms' },
    });
    const outcome = await handle.result().catch(async (err: { cause?: { message?: string } }) => {
      // Say which run was denied and what it carried.
      const started = (await env.client.workflow.getHandle(handle.workflowId).fetchHistory()).events?.[0]?.workflowExecutionStartedEventAttributes;
      const header = started?.header?.fields?.[HEADER_PARENT_GRANT];
      const grant = header ? (defaultPayloadConverter.fromPayload(header as never) as { payload: { action: string; runId: string } }) : null;
      const initiator = ({ 1: 'continue-as-new', 2: 'retry', 3: 'cron' } as Record<number, string>)[Number(started?.initiator ?? 0)];
      return `${err.cause?.message}; the denied run was started by ${initiator} from run ${started?.continuedExecutionRunId} and carries the ${grant?.payload.action} grant issued by run ${grant?.payload.runId}`;
    });
    expect(outcome).toBe('charged 10 EUR');
  }, await arms.workers());
  expect(runsOf(marker)).toBe(1);
});

test('a run that asks for its run grant again after it was revoked gets nothing (GRANT_REPLAYED): one run grant per run', async () => {
  const marker = uniqueName('regrant');
  await env.run(async () => {
    const handle = await env.client.workflow.start('reRequestRunGrant', { taskQueue: env.taskQueue, workflowId: uniqueName('regrant'), args: [env.governanceTaskQueue, marker] });
    await eventually('the first charge', async () => (runsOf(`${marker}:before`) === 1 ? true : undefined));
    const grant = (await authorizationsOf(env.client, handle.workflowId)).find((a) => a.request.action === 'workflow')!.result;
    if (grant.decision !== 'allow') throw new Error('the run was denied its grant');
    // The attacker hands the run its own start proof (a signal, admitted while the grant is live);
    // then the operator revokes the run's root grant, and the run's code asks for a fresh one.
    await handle.signal('proof', defaultPayloadConverter.fromPayload(await startProofOf(handle)));
    await eventually('the proof signal to be admitted', async () =>
      (await authorizationsOf(env.client, handle.workflowId)).some((a) => a.request.action === 'signal' && a.result.decision === 'allow') ? true : undefined,
    );
    const { client, db } = await connectLineage(mongoUri(), env.lineageDatabase);
    try {
      await revoke(db, 'authorization', grant.artifact.payload.id, 'test: revoked');
    } finally {
      await client.close();
    }
    expect(await handle.result()).toEqual({ decision: 'deny', code: 'GRANT_REPLAYED' });
  }, await arms.workers());
});

test('resetting a finished governed run to its first workflow task does not run its charge again: a reset run is not admitted', async () => {
  const marker = uniqueName('reset');
  await env.run(async () => {
    const handle = await env.client.workflow.start('payOnce', { taskQueue: env.taskQueue, workflowId: uniqueName('reset'), args: [10, marker] });
    await handle.result();
    const firstTask = (await handle.fetchHistory()).events!.find((e) => e.workflowTaskCompletedEventAttributes)!;
    // Anyone with namespace access can reset a run: its started event (proof included) is copied into the new run.
    const { runId } = await env.client.workflowService.resetWorkflowExecution({
      namespace: env.client.options.namespace,
      workflowExecution: { workflowId: handle.workflowId, runId: handle.firstExecutionRunId },
      workflowTaskFinishEventId: firstTask.eventId,
      requestId: uniqueName('reset-request'),
      reason: 'attacker: run it again',
    });
    const failure = await expectGovernanceDenied(env.client.workflow.getHandle(handle.workflowId, runId!));
    expect(codeOf(failure)).toBe('INVALID_GRANT');
    expect(failure.message).toContain('reset');
  }, await arms.workers());
  expect(runsOf(marker)).toBe(1);
});
