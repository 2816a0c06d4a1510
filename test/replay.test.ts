// Determinism: every governed path replays from its real history with Worker.runReplayHistory.
import { Worker } from '@temporalio/worker';
import { defaultPayloadConverter } from '@temporalio/common';
import { GovernancePlugin } from '../src/plugin';
import { governedEnv, uniqueName, workflowsPath, type Env } from './helpers/harness';
import { Client } from '@temporalio/client';
import { payOnce, payCatching, rateThenPay, payLocal, flakyLocalWorkflow, parentPays, payThenContinue, digestRoundTrip, delegatingRoot, delegatingMalformed } from './fixtures/workflows';

let env: Env;
beforeAll(async () => {
  env = await governedEnv();
});
afterAll(async () => env?.close());

const cases: Array<[string, (...args: never[]) => Promise<unknown>, unknown[]]> = [
  ['allowed activity', payOnce, [10, 'replay']],
  ['denied activity', payOnce, [10_000, 'replay']],
  ['denial caught by workflow code (strict)', payCatching, [10_000, 'replay']],
  ['exempt activity', rateThenPay, [10, 'replay']],
  ['local activity', payLocal, [10, 'replay']],
  ['local activity backoff', flakyLocalWorkflow, ['replay']],
  ['child workflow', parentPays, [10, 'replay']],
  ['continue-as-new', payThenContinue, [1, 'replay']],
  ['digest of tricky arguments', digestRoundTrip, []],
  ['child workflow with narrowed roles (delegation)', delegatingRoot, ['replay', ['operator'], null]],
  ['child start that widens roles (denied)', delegatingRoot, ['replay', ['admin'], null]],
  ['malformed delegation memo (denied before authorizing)', delegatingMalformed, ['replay']],
];

test.each(cases)('%s replays deterministically', async (_name, wf, args) => {
  const workflowId = uniqueName(`replay-${wf.name}`);
  const history = await env.run(async () => {
    const handle = await env.client.workflow.start(wf as never, { taskQueue: env.taskQueue, workflowId, args: args as never });
    await handle.result().catch(() => undefined);
    return handle.fetchHistory();
  });
  expect(history.events?.length).toBeGreaterThan(5);
  // Same plugin configuration, fresh replay worker: throws DeterminismViolationError on any divergence.
  await Worker.runReplayHistory(
    { workflowsPath, plugins: [new GovernancePlugin({ workflow: { taskQueue: env.governanceTaskQueue, authorizationTimeoutMs: 20_000 } })] },
    history,
    workflowId,
  );
});

test('a root grant denied for want of an API key proof replays deterministically', async () => {
  const workflowId = uniqueName('replay-unauthenticated');
  const anonymous = new Client({ connection: env.client.connection });
  const history = await env.run(async () => {
    const handle = await anonymous.workflow.start(payOnce, { taskQueue: env.taskQueue, workflowId, args: [10, 'replay'] });
    await handle.result().catch(() => undefined);
    return handle.fetchHistory();
  });
  expect(JSON.stringify(history)).toContain('UNAUTHENTICATED');
  await Worker.runReplayHistory(
    { workflowsPath, plugins: [new GovernancePlugin({ workflow: { taskQueue: env.governanceTaskQueue, authorizationTimeoutMs: 20_000 } })] },
    history,
    workflowId,
  );
});

test('replaying with governance removed is detected as non-deterministic', async () => {
  const workflowId = uniqueName('replay-negative');
  const history = await env.run(async () => {
    const handle = await env.client.workflow.start(payOnce, { taskQueue: env.taskQueue, workflowId, args: [10, 'replay'] });
    await handle.result();
    return handle.fetchHistory();
  });
  await expect(Worker.runReplayHistory({ workflowsPath }, history, workflowId)).rejects.toThrow(/[Nn]ondeterminism|DeterminismViolation|non-determin/);
});

test('the lineage workflow replays deterministically from its real history', async () => {
  const workflowId = uniqueName('replay-lineage');
  const { rootId, history } = await env.run(async () => {
    const handle = await env.client.workflow.start(payThenContinue, { taskQueue: env.taskQueue, workflowId, args: [1, 'replay'] });
    await handle.result();
    const first = await env.client.workflow.getHandle(workflowId, handle.firstExecutionRunId).fetchHistory();
    const grant = (first.events ?? []).find((e) => e.activityTaskCompletedEventAttributes)!.activityTaskCompletedEventAttributes!;
    const result = defaultPayloadConverter.fromPayload(grant.result!.payloads![0]!) as { artifact: { payload: { rootId: string } } };
    const root = result.artifact.payload.rootId;
    const lineage = env.client.workflow.getHandle(`temporal-governance-lineage-${root}`);
    // wait until the lineage workflow has persisted something (an activity completed)
    for (let i = 0; i < 100; i++) {
      const h = await lineage.fetchHistory();
      if ((h.events ?? []).some((e) => e.activityTaskCompletedEventAttributes)) return { rootId: root, history: h };
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error('the lineage workflow persisted nothing');
  });
  expect(rootId).toMatch(/^art_/);
  await Worker.runReplayHistory({ workflowsPath: require.resolve('../workflows/lineage') }, history, `temporal-governance-lineage-${rootId}`);
});
