// Attack suite: signals and updates. The attacker can signal any workflow, read every history
// (so copy every proof and grant), run workflows of their own that signal, and run code on the
// legitimate worker that asks governance directly. None of it may reach a handler.
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { HEADER_MESSAGE_PROOF, HEADER_SENDER_GRANT } from '../../src/common/constants';
import { runsOf } from '../fixtures/activities';
import { finishSignal, instructAnother, instructSignal, steered } from '../fixtures/workflows';
import { governedEnv, uniqueName, type Env } from '../helpers/harness';
import { arsenal, authorizationsOf, eventually, issuedArtifact, type Arsenal } from './helpers';

let env: Env;
let arms: Arsenal;
beforeAll(async () => {
  env = await governedEnv();
  arms = await arsenal(env);
});
afterAll(async () => env?.close());

async function signalDecisions(workflowId: string, count: number) {
  return eventually(`${count} signal decision(s) of ${workflowId}`, async () => {
    const d = (await authorizationsOf(env.client, workflowId)).filter((a) => a.request.action === 'signal');
    return d.length >= count ? d.map((a) => (a.result.decision === 'allow' ? { decision: 'allow', principal: a.result.artifact.payload.principal } : { decision: 'deny', code: a.result.denial.payload.code })) : undefined;
  });
}

test('a governed workflow steers another: its signal is admitted on the sending run\'s authority', async () => {
  const marker = uniqueName('w2w');
  await env.run(async () => {
    const target = await env.client.workflow.start(steered, { taskQueue: env.taskQueue, workflowId: uniqueName('w2w-target'), args: [marker] });
    await env.client.workflow.execute(instructAnother, { taskQueue: env.taskQueue, workflowId: uniqueName('w2w-sender'), args: [target.workflowId, 'from-a-workflow'] });
    expect(await signalDecisions(target.workflowId, 1)).toEqual([{ decision: 'allow', principal: 'alice' }]);
    await target.signal(finishSignal);
    expect(await target.result()).toEqual(['from-a-workflow']);
  }, await arms.workers());
  expect(runsOf(`${marker}:from-a-workflow`)).toBe(1);
});

test("the attacker's own workflow signals with a copied run grant (or a copied client proof): refused, the handler never runs", async () => {
  const marker = uniqueName('rogue-signal');
  await env.run(async () => {
    const target = await env.client.workflow.start(steered, { taskQueue: env.taskQueue, workflowId: uniqueName('rogue-target'), args: [marker] });
    await target.signal(instructSignal, { step: 'genuine', amount: 5 });
    await eventually('the genuine signal to run', async () => (runsOf(`${marker}:genuine`) === 1 ? true : undefined));
    const grant = await issuedArtifact(env.client, target.workflowId, 'workflow');
    const history = await target.fetchHistory();
    const clientProof = history.events!.map((e) => e.workflowExecutionSignaledEventAttributes?.header?.fields?.[HEADER_MESSAGE_PROOF]).find((p) => p)!;

    // The victim's own run grant, then alice's client proof, each on a signal from the attacker's run.
    for (const headers of [{ [HEADER_SENDER_GRANT]: grant }, { [HEADER_MESSAGE_PROOF]: defaultPayloadConverter.fromPayload(clientProof as Payload) }]) {
      await arms.raw.workflow.execute('rogueSignal', { taskQueue: arms.rogueQueue, workflowId: uniqueName('rogue-sender'), args: [target.workflowId, 'instruct', { step: 'stolen', amount: 900 }, headers] });
    }
    const decisions = await signalDecisions(target.workflowId, 3);
    expect(decisions[0]).toEqual({ decision: 'allow', principal: 'alice' });
    // A grant names its own run, not the attacker's (the server records who sent the signal); a
    // client proof on a workflow's signal is no run grant at all.
    expect(decisions.slice(1).map((d) => d.code)).toEqual(['INVALID_PROOF', 'INVALID_PROOF']);
    await target.signal(finishSignal);
    expect(await target.result()).toEqual(['genuine']);
  }, await arms.workers({ rogue: true }));
  expect(runsOf(`${marker}:stolen`)).toBe(0);
});

test('attacker code on the legitimate worker asks governance to admit signals it never received, with a real proof and its real grant: CLAIM_MISMATCH, then PROOF_REPLAYED', async () => {
  await env.run(async () => {
    const handle = await env.client.workflow.start('claimSignalsByHand', { taskQueue: env.taskQueue, workflowId: uniqueName('claim-by-hand'), args: [env.governanceTaskQueue] });
    const args = [{ step: 'genuine', amount: 1 }];
    await handle.signal('instruct', ...args);
    const proof = await eventually('the genuine signal to be recorded', async () => {
      const events = (await handle.fetchHistory()).events ?? [];
      const p = events.map((e) => e.workflowExecutionSignaledEventAttributes?.header?.fields?.[HEADER_MESSAGE_PROOF]).find((x) => x);
      return p ? defaultPayloadConverter.fromPayload(p as Payload) : undefined;
    });
    const grant = await eventually('the run grant', async () => issuedArtifact(env.client, handle.workflowId, 'workflow').catch(() => undefined));
    await handle.signal('evidence', { grant, proof, args });
    expect(await handle.result()).toEqual([
      { decision: 'deny', code: 'CLAIM_MISMATCH' },
      { decision: 'deny', code: 'PROOF_REPLAYED' },
    ]);
  }, await arms.workers());
});

test('an allow forged by whoever completes the authorization activity (here a client, by id) admits no message: the workflow verifies the decision itself', async () => {
  const marker = uniqueName('forged-allow');
  const { AUTHORIZE_ACTIVITY } = await import('../../src/common/constants');
  // With governance: the run gets its grant and one genuine signal is admitted (its artifact is the attacker's best material).
  const { handle, genuine } = await env.run(async () => {
    const h = await env.client.workflow.start(steered, { taskQueue: env.taskQueue, workflowId: uniqueName('forged-allow'), args: [marker] });
    await h.signal(instructSignal, { step: 'genuine', amount: 5 });
    await eventually('the genuine signal to run', async () => (runsOf(`${marker}:genuine`) === 1 ? true : undefined));
    const allow = (await authorizationsOf(env.client, h.workflowId)).find((a) => a.request.action === 'signal' && a.result.decision === 'allow')!;
    return { handle: h, genuine: allow.result };
  }, await arms.workers());

  // Without governance: an unproven signal's authorization waits; the attacker answers it first.
  await env.run(async () => {
    await arms.raw.workflow.getHandle(handle.workflowId).signal('instruct', { step: 'forged', amount: 900 });
    const activityId = await eventually('the forged signal\'s authorization to be scheduled', async () => {
      const events = (await handle.fetchHistory()).events ?? [];
      const forged = events.find((e) => {
        const s = e.activityTaskScheduledEventAttributes;
        if (s?.activityType?.name !== AUTHORIZE_ACTIVITY) return false;
        const request = defaultPayloadConverter.fromPayload(s.input!.payloads![0]! as Payload) as { action: string; args: unknown };
        return request.action === 'signal' && JSON.stringify(request.args).includes('forged');
      });
      return forged?.activityTaskScheduledEventAttributes?.activityId ?? undefined;
    });
    await arms.raw.activity.complete({ workflowId: handle.workflowId, runId: handle.firstExecutionRunId, activityId }, genuine);
    await eventually('the forged answer to be refused', async () => {
      const { searchAttributes } = await handle.describe();
      return searchAttributes.GovernanceDenyCode?.[0] === 'INVALID_AUTHORIZATION_RESPONSE' ? true : undefined;
    });
    expect(await handle.query('steps')).toEqual(['genuine']);
  }, [await arms.governedWorker()]);
  await env.run(async () => {
    await handle.signal(finishSignal);
    expect(await handle.result()).toEqual(['genuine']);
  }, await arms.workers());
  expect(runsOf(`${marker}:forged`)).toBe(0);
});

test("copies of a workflow's signal sent with its copied grant cannot borrow its delivery: one genuine signal runs its handler once", async () => {
  const marker = uniqueName('borrowed');
  const { HEADER_SENDER_GRANT: SENDER } = await import('../../src/common/constants');
  // Governance answers signal authorizations late, so each reads a history holding every copy.
  const slowSignals: import('@temporalio/worker').ActivityInterceptorsFactory = () => ({
    inbound: {
      async execute(input, next) {
        if ((input.args[0] as { action?: unknown } | undefined)?.action === 'signal') await new Promise((r) => setTimeout(r, 3_000));
        return next(input);
      },
    },
  });
  await env.run(async () => {
    const target = await env.client.workflow.start(steered, { taskQueue: env.taskQueue, workflowId: uniqueName('borrowed-target'), args: [marker] });
    const senderId = uniqueName('borrowed-sender');
    // The sender's run grant, copied from history once the sender has it.
    const sender = await env.client.workflow.start('waitThenInstruct', { taskQueue: env.taskQueue, workflowId: senderId, args: [target.workflowId, 'w2w'] });
    const grant = await eventually('the sender\'s run grant', async () => issuedArtifact(env.client, senderId, 'workflow').catch(() => undefined));
    const copier = new (await import('@temporalio/client')).Client({
      connection: env.client.connection,
      interceptors: { workflow: [{ signal: (input, next) => next({ ...input, headers: { ...input.headers, [SENDER]: defaultPayloadConverter.toPayload(grant) } }) }] },
    });
    for (let i = 0; i < 2; i++) await copier.workflow.getHandle(target.workflowId).signal('instruct', { step: 'w2w', amount: 3 });
    await sender.signal('go');
    await sender.result();
    const decisions = await signalDecisions(target.workflowId, 3);
    expect(decisions.filter((d) => d.decision === 'allow')).toHaveLength(1);
    await target.signal(finishSignal);
    expect(await target.result()).toEqual(['w2w']);
  }, [await arms.governedWorker(), await env.governanceWorker({ activityInterceptors: [slowSignals] })]);
  expect(runsOf(`${marker}:w2w`)).toBe(1);
});
