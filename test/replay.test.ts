// Determinism: every governed path replays from its real history with Worker.runReplayHistory.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from '@temporalio/worker';
import { defaultPayloadConverter } from '@temporalio/common';
import { GovernancePlugin } from '../src/plugin';
import { governedEnv, uniqueName, workflowsPath, type Env } from './helpers/harness';
import { Client } from '@temporalio/client';
import { LINEAGE_SIGNAL, LINEAGE_STATS_QUERY } from '../src/lineage/schema';
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
    { workflowsPath, plugins: [new GovernancePlugin({ trustBundle: env.keys.bundlePath, workflow: { taskQueue: env.governanceTaskQueue, authorizationTimeoutMs: 20_000 } })] },
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
    { workflowsPath, plugins: [new GovernancePlugin({ trustBundle: env.keys.bundlePath, workflow: { taskQueue: env.governanceTaskQueue, authorizationTimeoutMs: 20_000 } })] },
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

/**
 * The root's lineage run once it has persisted something (a local activity's marker; an activity in
 * runs of an earlier version). Records reach it
 * within the hand-off window (a second) after they are issued, so it may not exist yet at first.
 */
async function persistedLineage(rootId: string) {
  const lineage = env.client.workflow.getHandle(`temporal-governance-lineage-${rootId}`);
  for (let i = 0; i < 150; i++) {
    const h = await lineage.fetchHistory().catch(() => undefined);
    if ((h?.events ?? []).some((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity' || e.activityTaskCompletedEventAttributes)) return h!;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the lineage workflow of root ${rootId} persisted nothing`);
}

test('the lineage workflow replays deterministically from its real history', async () => {
  const workflowId = uniqueName('replay-lineage');
  const { rootId, history } = await env.run(async () => {
    const handle = await env.client.workflow.start(payThenContinue, { taskQueue: env.taskQueue, workflowId, args: [1, 'replay'] });
    await handle.result();
    const first = await env.client.workflow.getHandle(workflowId, handle.firstExecutionRunId).fetchHistory();
    const grant = (first.events ?? []).find((e) => e.activityTaskCompletedEventAttributes)!.activityTaskCompletedEventAttributes!;
    const result = defaultPayloadConverter.fromPayload(grant.result!.payloads![0]!) as { artifact: { payload: { rootId: string } } };
    const root = result.artifact.payload.rootId;
    return { rootId: root, history: await persistedLineage(root) };
  });
  expect(rootId).toMatch(/^art_/);
  await Worker.runReplayHistory({ workflowsPath: require.resolve('../workflows/lineage') }, history, `temporal-governance-lineage-${rootId}`);
});

test('a lineage run an earlier version recorded (before bounded carry) replays on this version: worker upgrades keep open roots', async () => {
  // Recorded with the lineage workflow of d6efe50 (a continue-as-new root's lineage run, then one
  // signal with the run grant twice): no patch marker, so this version takes its old path.
  const { temporal } = await import('@temporalio/proto');
  const history = temporal.api.history.v1.History.decode(readFileSync(join(__dirname, 'fixtures', 'histories', 'lineage-d6efe50.bin')));
  expect(history.events!.length).toBeGreaterThan(10);
  await Worker.runReplayHistory({ workflowsPath: require.resolve('../workflows/lineage') }, history, 'temporal-governance-lineage-art_835752d56546536271711638f08fd0df');
});

test('a lineage run the previous version recorded (bounded carry, persist as an activity) replays on this version: it keeps its activity', async () => {
  // Recorded with the lineage workflow of b84b9a5: its bounded-carry patch marker and no local-persist one.
  const { temporal } = await import('@temporalio/proto');
  const history = temporal.api.history.v1.History.decode(readFileSync(join(__dirname, 'fixtures', 'histories', 'lineage-b84b9a5.bin')));
  expect(history.events!.filter((e) => e.activityTaskScheduledEventAttributes).length).toBe(2);
  expect(history.events!.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_patch').length).toBe(1);
  await Worker.runReplayHistory({ workflowsPath: require.resolve('../workflows/lineage') }, history, 'temporal-governance-lineage-art_ae82c08550c1c5eca2e58ac3d452340c');
});

test('this version persists lineage by local activity: a lineage run holds markers, no activity task, no copy of a batch', async () => {
  const workflowId = uniqueName('replay-lineage-local');
  const { rootId, history } = await env.run(async () => {
    const handle = await env.client.workflow.start(payOnce, { taskQueue: env.taskQueue, workflowId, args: [10, 'replay-local'] });
    await handle.result();
    const events = (await handle.fetchHistory()).events ?? [];
    const grant = events.find((e) => e.activityTaskCompletedEventAttributes)!.activityTaskCompletedEventAttributes!;
    const result = defaultPayloadConverter.fromPayload(grant.result!.payloads![0]!) as { artifact: { payload: { rootId: string } } };
    return { rootId: result.artifact.payload.rootId, history: await persistedLineage(result.artifact.payload.rootId) };
  });
  const events = history.events ?? [];
  expect(events.some((e) => e.activityTaskScheduledEventAttributes)).toBe(false);
  expect(events.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_patch').length).toBe(2);
  await Worker.runReplayHistory({ workflowsPath: require.resolve('../workflows/lineage') }, history, `temporal-governance-lineage-${rootId}`);
});

test('a lineage workflow that dropped junk, oversized and forged signals replays deterministically', async () => {
  const workflowId = uniqueName('replay-lineage-jam');
  const { lineageId, history, stats } = await env.run(async () => {
    const handle = await env.client.workflow.start(payOnce, { taskQueue: env.taskQueue, workflowId, args: [10, 'replay'] });
    await handle.result();
    const events = (await handle.fetchHistory()).events ?? [];
    const grant = events.find((e) => e.activityTaskCompletedEventAttributes)!.activityTaskCompletedEventAttributes!;
    const result = defaultPayloadConverter.fromPayload(grant.result!.payloads![0]!) as { artifact: { payload: { rootId: string; id: string }; signature: string } };
    const id = `temporal-governance-lineage-${result.artifact.payload.rootId}`;
    await persistedLineage(result.artifact.payload.rootId);
    const lineage = env.client.workflow.getHandle(id);
    // A record under a new id with a copied signature: it verifies under no key.
    const forged = { kind: 'artifact', signed: { ...result.artifact, payload: { ...result.artifact.payload, id: `${result.artifact.payload.rootId}-forged` } } };
    await lineage.signal(LINEAGE_SIGNAL, { junk: true });
    await lineage.signal(LINEAGE_SIGNAL, { kind: 'outcome', id: 'x', outcome: { status: 'started', failureType: null, attempt: 1, at: 0, pad: 'x'.repeat(600_000) } });
    await lineage.signal(LINEAGE_SIGNAL, forged);
    for (let i = 0; i < 100; i++) {
      const s = await lineage.query<{ malformed: number; oversized: number; rejected: number }>(LINEAGE_STATS_QUERY);
      if (s.rejected >= 1) return { lineageId: id, history: await lineage.fetchHistory(), stats: s };
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error('the lineage workflow did not count the forged record');
  });
  expect(stats).toEqual({ malformed: 1, oversized: 1, rejected: 1, shed: 0 });
  await Worker.runReplayHistory({ workflowsPath: require.resolve('../workflows/lineage') }, history, lineageId);
});

test('signals and updates (allowed, refused, unproven, rejected by the validator, sent by a workflow, with start) replay deterministically', async () => {
  const { createApiKey } = await import('../src/identity/store');
  const { connectLineage } = await import('../src/lineage/store');
  const { approveUnvalidatedUpdate, approveUpdate, finishSignal, instructAnother, instructSignal, steered } = await import('./fixtures/workflows');
  const mongo = await connectLineage(process.env.MONGODB_URI!, env.lineageDatabase);
  const bobKey = (await createApiKey(mongo.db, { principal: 'bob' })).apiKey;
  await mongo.client.close();
  const bob = new Client({ connection: env.client.connection, plugins: [new GovernancePlugin({ apiKey: bobKey })] });
  const anonymous = new Client({ connection: env.client.connection });
  const workflowId = uniqueName('replay-messages');
  const senderId = uniqueName('replay-sender');
  const histories = await env.run(async () => {
    const handle = await env.client.workflow.signalWithStart(steered, { taskQueue: env.taskQueue, workflowId, args: ['replay'], signal: instructSignal, signalArgs: [{ step: 'with-start', amount: 1 }] });
    await bob.workflow.getHandle(workflowId).signal(instructSignal, { step: 'bob', amount: 1 });
    await anonymous.workflow.getHandle(workflowId).signal(instructSignal, { step: 'anonymous', amount: 1 });
    await handle.executeUpdate(approveUpdate, { args: [{ amount: 2 }] });
    await bob.workflow.getHandle(workflowId).executeUpdate(approveUpdate, { args: [{ amount: 3 }] }).catch(() => undefined);
    await anonymous.workflow.getHandle(workflowId).executeUpdate(approveUpdate, { args: [{ amount: 4 }] }).catch(() => undefined);
    await anonymous.workflow.getHandle(workflowId).executeUpdate(approveUnvalidatedUpdate, { args: [{ amount: 5 }] }).catch(() => undefined);
    await env.client.workflow.execute(instructAnother, { taskQueue: env.taskQueue, workflowId: senderId, args: [workflowId, 'from-a-workflow'] });
    await handle.signal(finishSignal);
    expect(await handle.result()).toEqual(['with-start', 'approve:2', 'from-a-workflow']);
    return [await handle.fetchHistory(), await env.client.workflow.getHandle(senderId).fetchHistory()] as const;
  });
  const text = JSON.stringify(histories[0]);
  for (const code of ['NO_MATCHING_ALLOW', 'UNAUTHENTICATED']) expect(text).toContain(code);
  const replay = { workflowsPath, plugins: [new GovernancePlugin({ trustBundle: env.keys.bundlePath, workflow: { taskQueue: env.governanceTaskQueue, authorizationTimeoutMs: 20_000 } })] };
  await Worker.runReplayHistory(replay, histories[0], workflowId);
  await Worker.runReplayHistory(replay, histories[1], senderId);
});
