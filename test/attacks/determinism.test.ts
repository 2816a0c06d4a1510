// Determinism of the paths the attack suite drives: each replays from its real history with
// Worker.runReplayHistory, under the same governance interceptors (and tamper module) it ran with.
import { bundleWorkflowCode, DefaultLogger, Worker } from '@temporalio/worker';
import { GovernancePlugin, WORKFLOW_INTERCEPTORS_MODULE } from '../../src/plugin';
import { expectGovernanceDenied, governedEnv, uniqueName, type Env } from '../helpers/harness';
import { arsenal, governedWorkflowsPath, tamperPath, type Arsenal } from './helpers';

let env: Env;
let arms: Arsenal;
beforeAll(async () => {
  env = await governedEnv();
  arms = await arsenal(env);
});
afterAll(async () => env?.close());

/** [name, workflow type, args, the deny code it fails with, or null when it completes] */
const cases: Array<[string, string, unknown[], string | null]> = [
  ['a Nexus operation denied (NEXUS_NOT_GOVERNED)', 'nexusThenPay', ['replay'], 'NEXUS_NOT_GOVERNED'],
  ['arguments without a digest (MALFORMED_REQUEST)', 'payWithLoneSurrogate', ['replay'], 'MALFORMED_REQUEST'],
  ['a continued run retried after its first attempt failed (continue-as-new grant re-used by the retry)', 'continueThenRetry', [0, 'replay'], null],
  ['an activity id scheduled twice, each with its own artifact', 'chargeTwiceSameId', ['replay'], null],
];

test.each(cases)('%s replays deterministically', async (_name, type, args, deniedWith) => {
  const workflowId = uniqueName(`replay-${type}`);
  const history = await env.run(async () => {
    const handle = await env.client.workflow.start(type, { taskQueue: env.taskQueue, workflowId, args, retry: { maximumAttempts: 2, initialInterval: '100ms' } });
    if (deniedWith) expect((await expectGovernanceDenied(handle)).details?.[0]).toMatchObject({ code: deniedWith });
    else await handle.result();
    // A retried run is the last of its chain: replay the run that did the work.
    return env.client.workflow.getHandle(workflowId).fetchHistory();
  }, await arms.workers());
  expect(history.events?.length).toBeGreaterThan(5);
  // The very code the run executed: the same bundle build, fresh replay worker.
  const workflowBundle = await bundleWorkflowCode({
    workflowsPath: governedWorkflowsPath,
    workflowInterceptorModules: [WORKFLOW_INTERCEPTORS_MODULE, tamperPath],
    plugins: [new GovernancePlugin({ trustBundle: env.keys.bundlePath, workflow: { taskQueue: env.governanceTaskQueue, authorizationTimeoutMs: 20_000 } })],
    logger: new DefaultLogger('WARN'),
  });
  await Worker.runReplayHistory({ workflowBundle }, history, workflowId);
});
