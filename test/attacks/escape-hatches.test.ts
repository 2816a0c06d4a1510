// Attack suite: ways out of governance from workflow code on the legitimate worker (interceptor
// removal from the sandbox, Nexus, arguments without a digest) and a governed worker hosting Nexus.
import * as nexus from 'nexus-rpc';
import { Worker } from '@temporalio/worker';
import { AUTHORIZE_ACTIVITY } from '../../src/common/constants';
import { GovernancePluginError } from '../../src/plugin';
import { runsOf } from '../fixtures/activities';
import { payOnce } from '../fixtures/workflows';
import { activities, expectGovernanceDenied, governedEnv, uniqueName, type Env } from '../helpers/harness';
import { nexusThenPay, payWithLoneSurrogate, stripGovernanceThenPay } from './fixtures/governed-workflows';
import { arsenal, codeOf, sleep, type Arsenal } from './helpers';

let env: Env;
let arms: Arsenal;
beforeAll(async () => {
  env = await governedEnv();
  arms = await arsenal(env);
});
afterAll(async () => env?.close());

test('workflow code that removes the governance outbound interceptor from inside the sandbox and charges is denied ARTIFACT_MISSING', async () => {
  const marker = uniqueName('stripped');
  await env.run(async () => {
    const handle = await env.client.workflow.start(stripGovernanceThenPay, { taskQueue: env.taskQueue, workflowId: uniqueName('stripped'), args: [marker] });
    const failure = await expectGovernanceDenied(handle);
    expect(codeOf(failure)).toBe('ARTIFACT_MISSING');
    expect(failure.details?.[0]).toMatchObject({ action: 'activity', target: 'charge' });
    // The removal worked: the charge was scheduled without any authorization (only the run grant's).
    const history = await handle.fetchHistory();
    const scheduled = (history.events ?? []).map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name).filter(Boolean);
    expect(scheduled).toEqual([AUTHORIZE_ACTIVITY, 'charge']);
  }, await arms.workers());
  expect(runsOf(marker)).toBe(0);
});

test('a governed workflow starting a Nexus operation fails closed NEXUS_NOT_GOVERNED, and nothing after it runs even if the code catches', async () => {
  const marker = uniqueName('nexus');
  await env.run(async () => {
    const handle = await env.client.workflow.start(nexusThenPay, { taskQueue: env.taskQueue, workflowId: uniqueName('nexus'), args: [marker] });
    const failure = await expectGovernanceDenied(handle);
    expect(codeOf(failure)).toBe('NEXUS_NOT_GOVERNED');
    expect(failure.message).toContain('attacker-service/steal');
    expect((await handle.describe()).searchAttributes).toMatchObject({ GovernanceDenyCode: ['NEXUS_NOT_GOVERNED'] });
    // Failed before any server call: no Nexus operation was ever scheduled.
    const history = await handle.fetchHistory();
    expect((history.events ?? []).some((e) => e.nexusOperationScheduledEventAttributes)).toBe(false);
  }, await arms.workers());
  expect(runsOf(marker)).toBe(0);
});

test('a governed worker refuses to host Nexus services (Worker.create with nexusServices and the plugin throws)', async () => {
  const service = nexus.service('attacker-service', { steal: nexus.operation<string, string>() });
  const handler = nexus.serviceHandler(service, { steal: async (_ctx, input) => input });
  await expect(
    Worker.create({ connection: env.connection, taskQueue: uniqueName('nexus-worker'), activities, nexusServices: [handler], plugins: [env.plugin] }),
  ).rejects.toThrow(GovernancePluginError);
  await expect(
    Worker.create({ connection: env.connection, taskQueue: uniqueName('nexus-worker'), activities, nexusServices: [handler], plugins: [env.plugin] }),
  ).rejects.toThrow(/Nexus/);
});

test('activity arguments holding a lone surrogate (no digest exists) fail the run closed MALFORMED_REQUEST instead of retrying the task forever', async () => {
  const marker = uniqueName('surrogate');
  await env.run(async () => {
    const handle = await env.client.workflow.start(payWithLoneSurrogate, { taskQueue: env.taskQueue, workflowId: uniqueName('surrogate'), args: [marker] });
    const failure = await Promise.race([
      expectGovernanceDenied(handle),
      sleep(30_000).then(() => {
        throw new Error('the run did not fail closed within 30 s (workflow task retrying?)');
      }),
    ]);
    expect(codeOf(failure)).toBe('MALFORMED_REQUEST');
    expect(failure.details?.[0]).toMatchObject({ action: 'activity', target: 'charge' });
  }, await arms.workers());
  expect(runsOf(marker)).toBe(0);
});

test('a raw start whose input holds a lone surrogate fails closed MALFORMED_REQUEST at the run grant', async () => {
  const marker = uniqueName('surrogate-start');
  await env.run(async () => {
    const handle = await arms.raw.workflow.start(payOnce, { taskQueue: env.taskQueue, workflowId: uniqueName('surrogate-start'), args: [10, `${marker}\uD800`] });
    const failure = await Promise.race([
      expectGovernanceDenied(handle),
      sleep(30_000).then(() => {
        throw new Error('the run did not fail closed within 30 s (workflow task retrying?)');
      }),
    ]);
    expect(codeOf(failure)).toBe('MALFORMED_REQUEST');
    expect(failure.details?.[0]).toMatchObject({ action: 'workflow', target: 'payOnce' });
  }, await arms.workers());
  expect(runsOf(`${marker}\uD800`)).toBe(0);
});
