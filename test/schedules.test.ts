// Governed Schedules on the real stack: runs a Schedule starts are admitted on the authority of the
// API key that created it (the schedule proof in the action's headers), only when the schedule's
// own record lists them, once per scheduled time; a plain client's schedule, a revoked key, a
// replayed header and an action changed without a new proof are denied before any protected body runs.
import { Client, type ScheduleHandle, type WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter, SearchAttributeType, defineSearchAttributeKey, type Payload } from '@temporalio/common';
import { Worker } from '@temporalio/worker';
import { MongoClient } from 'mongodb';
import { HEADER_SCHEDULE_PROOF } from '../src/common/constants';
import { updateGovernedSchedule } from '../src/client';
import { createApiKey, createPrincipal, revoke } from '../src/identity/store';
import { SCHEDULE_COLLECTIONS } from '../src/identity/schedule-store';
import { SignedScheduleProofSchema } from '../src/identity/schedule-proof';
import { lineageCollection } from '../src/lineage/store';
import { GovernancePlugin } from '../src/plugin';
import { runsOf } from './fixtures/activities';
import { expectGovernanceDenied, governedEnv, mongoUri, uniqueName, workflowsPath, type Env } from './helpers/harness';
import { historyEvents, issuedDecisions, waitForRecords } from './helpers/lineage';

/** Revocations reach the governance worker within its staleness bound (5 s by default). */
const STALENESS_MS = 5_000;
/** How long governance waits for the schedule to list a run before denying it (this file's setting). */
const CONFIRMATION_MS = 3_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let env: Env;
let mongo: MongoClient;
/** A client without the plugin: what anyone with namespace access has. */
let plainClient: Client;
const schedules: ScheduleHandle[] = [];

beforeAll(async () => {
  env = await governedEnv({ governance: { scheduleConfirmationMs: CONFIRMATION_MS } });
  mongo = await MongoClient.connect(mongoUri());
  plainClient = new Client({ connection: env.client.connection });
});
afterEach(async () => {
  for (const handle of schedules.splice(0)) await handle.delete().catch(() => undefined);
});
afterAll(async () => {
  await mongo?.close();
  await env?.close();
});

const db = () => mongo.db(env.lineageDatabase);
const code = (failure: { details?: unknown[] | null }) => (failure.details?.[0] as { code: string }).code;

/** A principal of its own (so its name in lineage can only come from the schedule's key) and a client with its key. */
async function scheduler(roles = ['operator']): Promise<{ principal: string; apiKey: string; keyId: string; client: Client }> {
  const principal = uniqueName('scheduler');
  await createPrincipal(db(), { id: principal, roles });
  const { apiKey, document } = await createApiKey(db(), { principal });
  return { principal, apiKey, keyId: document._id, client: new Client({ connection: env.client.connection, plugins: [new GovernancePlugin({ apiKey })] }) };
}

/**
 * A paused schedule of `payOnce(amount, marker)` on the env's task queue: only trigger and backfill
 * start runs (a paused schedule still takes both), so no wall-clock interval is waited for.
 */
async function createSchedule(client: Client, amount: number, marker: string): Promise<ScheduleHandle> {
  const handle = await client.schedule.create({
    scheduleId: uniqueName('schedule'),
    spec: { intervals: [{ every: '1h' }] },
    state: { paused: true },
    action: { type: 'startWorkflow', workflowType: 'payOnce', taskQueue: env.taskQueue, workflowId: uniqueName('scheduled'), args: [amount, marker] },
  });
  schedules.push(handle);
  return handle;
}

/** The run the schedule's `index`-th action started (0-based, in the order the schedule took them). */
async function scheduledRun(handle: ScheduleHandle, index: number): Promise<WorkflowHandle> {
  for (let i = 0; i < 200; i++) {
    const actions = (await handle.describe()).info.recentActions;
    const action = actions[index];
    if (action) return plainClient.workflow.getHandle(action.action.workflow.workflowId, action.action.workflow.firstExecutionRunId);
    await sleep(100);
  }
  throw new Error(`schedule ${handle.scheduleId} took no action #${index}`);
}

/** The run grant decision of a run, as returned to it (from its history). */
async function runGrantOf(run: WorkflowHandle) {
  const { runId } = await run.describe();
  return (await issuedDecisions(env.client, run.workflowId, runId)).find((d) => d.action === 'workflow');
}

/** One hour boundary an hourly spec fires at, in the past: a backfill around it starts exactly one run. */
function pastHour(hoursAgo: number): { start: Date; end: Date; at: Date } {
  const at = Math.floor(Date.now() / 3_600_000) * 3_600_000 - hoursAgo * 3_600_000;
  return { start: new Date(at - 600_000), end: new Date(at + 600_000), at: new Date(at) };
}

test('a schedule created through a client with the plugin runs its governed workflow on the creating key\'s authority', async () => {
  const owner = await scheduler();
  const marker = uniqueName('scheduled-allow');
  const handle = await createSchedule(owner.client, 100, marker);
  const { run, grant } = await env.run(async () => {
    await handle.trigger();
    const r = await scheduledRun(handle, 0);
    expect(await r.result()).toBe('charged 100 EUR');
    const g = await runGrantOf(r);
    // Lineage is persisted by the governance worker: wait while it runs.
    if (g) await waitForRecords(db(), g.rootId, 2, 60_000, env.client);
    return { run: r, grant: g };
  });
  expect(runsOf(marker)).toBe(1);

  // The run grant is a root whose principal and credential are the schedule's key's, in lineage.
  expect(grant).toMatchObject({ decision: 'allow', parentId: null });
  const root = await lineageCollection(db()).findOne({ _id: grant!.rootId });
  expect(root).toMatchObject({ principal: owner.principal, parentId: null, action: 'workflow', target: 'payOnce', decision: 'allow' });
  expect(root?.artifact?.payload).toMatchObject({ principal: owner.principal, credential: owner.keyId });

  // What the run carries is a schedule proof bound to this schedule and action, nothing secret.
  const started = (await historyEvents(env.client, run.workflowId, (await run.describe()).runId))[0]!.workflowExecutionStartedEventAttributes!;
  const proof = SignedScheduleProofSchema.parse(defaultPayloadConverter.fromPayload(started.header!.fields![HEADER_SCHEDULE_PROOF] as Payload));
  expect(proof.payload).toMatchObject({ typ: 'temporal-governance/schedule-proof@1', keyId: owner.keyId, scheduleId: handle.scheduleId, workflowType: 'payOnce', taskQueue: env.taskQueue });
  expect(JSON.stringify(started)).not.toContain(owner.apiKey.split('.')[2]);
});

test('a schedule created by a client without the plugin: its runs are denied and the activity never runs', async () => {
  const marker = uniqueName('scheduled-plain');
  const handle = await createSchedule(plainClient, 100, marker);
  const failure = await env.run(async () => {
    await handle.trigger();
    return expectGovernanceDenied(await scheduledRun(handle, 0));
  });
  expect(code(failure)).toBe('UNAUTHENTICATED');
  expect(runsOf(marker)).toBe(0);
});

test('revoking the schedule\'s API key stops its next run (the activity never runs again)', async () => {
  const owner = await scheduler();
  const marker = uniqueName('scheduled-revoked');
  const handle = await createSchedule(owner.client, 100, marker);
  const failure = await env.run(async () => {
    await handle.trigger();
    await (await scheduledRun(handle, 0)).result();
    await revoke(db(), 'api-key', owner.keyId, 'test: schedule key revoked');
    await sleep(STALENESS_MS);
    await handle.trigger();
    return expectGovernanceDenied(await scheduledRun(handle, 1));
  });
  expect(code(failure)).toBe('API_KEY_REVOKED');
  expect(failure.details?.[0]).toMatchObject({ principal: owner.principal, action: 'workflow' });
  expect(runsOf(marker)).toBe(1);
});

test('revoking the schedule\'s principal stops its next run', async () => {
  const owner = await scheduler();
  const marker = uniqueName('scheduled-principal-revoked');
  const handle = await createSchedule(owner.client, 100, marker);
  const failure = await env.run(async () => {
    await revoke(db(), 'principal', owner.principal, 'test: schedule principal revoked');
    await sleep(STALENESS_MS);
    await handle.trigger();
    return expectGovernanceDenied(await scheduledRun(handle, 0));
  });
  expect(code(failure)).toBe('PRINCIPAL_REVOKED');
  expect(runsOf(marker)).toBe(0);
});

test('a scheduled run\'s header replayed by a plain client, with forged TemporalScheduledById and StartTime, is denied', async () => {
  const owner = await scheduler();
  const marker = uniqueName('scheduled-replay');
  const handle = await createSchedule(owner.client, 100, marker);
  const scheduledById = defineSearchAttributeKey('TemporalScheduledById', SearchAttributeType.KEYWORD);
  const scheduledStartTime = defineSearchAttributeKey('TemporalScheduledStartTime', SearchAttributeType.DATETIME);
  const [sameId, otherId] = await env.run(async () => {
    await handle.trigger();
    const genuine = await scheduledRun(handle, 0);
    await genuine.result();
    const { runId } = await genuine.describe();
    const started = (await historyEvents(env.client, genuine.workflowId, runId))[0]!.workflowExecutionStartedEventAttributes!;
    const header = started.header!.fields![HEADER_SCHEDULE_PROOF] as Payload;
    const scheduledAt = (await handle.describe()).info.recentActions[0]!.scheduledAt;
    // Everything the scheduler's start had: same header, type, task queue, input, and the system
    // search attributes (a plain client may set them on its own start).
    const replaying = new Client({
      connection: env.client.connection,
      interceptors: { workflow: [{ startWithDetails: (input, next) => next({ ...input, headers: { ...input.headers, [HEADER_SCHEDULE_PROOF]: header } }) }] },
    });
    const replay = (workflowId: string) =>
      replaying.workflow.start('payOnce', {
        taskQueue: env.taskQueue,
        workflowId,
        args: [100, marker],
        typedSearchAttributes: [
          { key: scheduledById, value: handle.scheduleId },
          { key: scheduledStartTime, value: scheduledAt },
        ],
      });
    // The genuine run's own workflow id (it has closed, so the id may be reused) ...
    const again = await expectGovernanceDenied(await replay(genuine.workflowId));
    // ... and another id under the action's prefix, which the schedule never started.
    const other = await expectGovernanceDenied(await replay(`${genuine.workflowId}-replay`));
    return [again, other];
  });
  expect(code(sameId)).toBe('SCHEDULE_RUN_UNCONFIRMED');
  expect(sameId.message).toContain('not this one');
  expect(code(otherId)).toBe('SCHEDULE_RUN_UNCONFIRMED');
  expect(otherId.details?.[0]).toMatchObject({ principal: owner.principal });
  expect(runsOf(marker)).toBe(1);
});

test('an action changed by a plain client (handle.update keeps the old proof): the next run is denied', async () => {
  const owner = await scheduler();
  const marker = uniqueName('scheduled-before-update');
  const changed = uniqueName('scheduled-changed');
  const handle = await createSchedule(owner.client, 100, marker);
  await plainClient.schedule.getHandle(handle.scheduleId).update((previous) => ({
    ...previous,
    action: { ...previous.action, args: [900, changed] },
  }));
  const failure = await env.run(async () => {
    await handle.trigger();
    return expectGovernanceDenied(await scheduledRun(handle, 0));
  });
  expect(code(failure)).toBe('INVALID_PROOF');
  expect(failure.message).toContain('argsDigest');
  expect(runsOf(changed)).toBe(0);
  expect(runsOf(marker)).toBe(0);
});

test('updateGovernedSchedule re-signs the proof for the new action: the next run is allowed', async () => {
  const owner = await scheduler();
  const marker = uniqueName('scheduled-original');
  const updated = uniqueName('scheduled-updated');
  const handle = await createSchedule(owner.client, 100, marker);
  await updateGovernedSchedule(owner.client.schedule.getHandle(handle.scheduleId), owner.apiKey, (previous) => ({
    ...previous,
    action: { ...previous.action, workflowType: 'payOnce', args: [300, updated] },
  }));
  const result = await env.run(async () => {
    await handle.trigger();
    return (await scheduledRun(handle, 0)).result();
  });
  expect(result).toBe('charged 300 EUR');
  expect(runsOf(updated)).toBe(1);
  expect(runsOf(marker)).toBe(0);
  // The other headers and the rest of the action are kept: the proof is the only header, re-signed.
  const action = (await handle.describe()).raw.schedule!.action!.startWorkflow!;
  expect(Object.keys(action.header?.fields ?? {})).toEqual([HEADER_SCHEDULE_PROOF]);
  expect(action.taskQueue?.name).toBe(env.taskQueue);
});

test('trigger and backfill: each scheduled time admits exactly one run, claimed in MongoDB', async () => {
  const owner = await scheduler();
  const marker = uniqueName('scheduled-times');
  const handle = await createSchedule(owner.client, 100, marker);
  const hour = pastHour(2);
  const runs = await env.run(async () => {
    await handle.trigger();
    const triggered = await scheduledRun(handle, 0);
    await triggered.result();
    await handle.backfill({ start: hour.start, end: hour.end, overlap: 'ALLOW_ALL' });
    const backfilled = await scheduledRun(handle, 1);
    await backfilled.result();
    return [triggered, backfilled];
  });
  expect(runsOf(marker)).toBe(2);
  expect(runs[1]!.workflowId).toContain(hour.at.toISOString().replace(/\.000Z$/, 'Z'));
  const claims = await db().collection(SCHEDULE_COLLECTIONS.scheduledRuns).find({ scheduleId: handle.scheduleId }).sort({ scheduledAt: 1 }).toArray();
  expect(claims.map((c) => c.workflowId).sort()).toEqual(runs.map((r) => r.workflowId).sort());
  expect(claims.find((c) => c.workflowId === runs[1]!.workflowId)?.scheduledAt).toBe(hour.at.toISOString().replace(/\.000Z$/, '.000000000Z'));
  // One binding of the proof to this schedule's incarnation.
  expect(await db().collection(SCHEDULE_COLLECTIONS.scheduleProofs).countDocuments({ scheduleId: handle.scheduleId })).toBe(1);
});

test('scheduled runs, allowed and denied, replay deterministically', async () => {
  const owner = await scheduler();
  const allowedMarker = uniqueName('scheduled-replay-allowed');
  const governed = await createSchedule(owner.client, 100, allowedMarker);
  const plain = await createSchedule(plainClient, 100, uniqueName('scheduled-replay-denied'));
  const histories = await env.run(async () => {
    await governed.trigger();
    await plain.trigger();
    const allowed = await scheduledRun(governed, 0);
    await allowed.result();
    const denied = await scheduledRun(plain, 0);
    await expectGovernanceDenied(denied);
    return [
      { workflowId: allowed.workflowId, history: await allowed.fetchHistory() },
      { workflowId: denied.workflowId, history: await denied.fetchHistory() },
    ];
  });
  expect(runsOf(allowedMarker)).toBe(1);
  expect(JSON.stringify(histories[1]!.history)).toContain('UNAUTHENTICATED');
  for (const { workflowId, history } of histories) {
    await Worker.runReplayHistory(
      { workflowsPath, plugins: [new GovernancePlugin({ workflow: { taskQueue: env.governanceTaskQueue, authorizationTimeoutMs: 20_000 } })] },
      history,
      workflowId,
    );
  }
});

test('the governance worker refuses a confirmation window that is not a positive integer', async () => {
  await expect(env.governanceWorker({ scheduleConfirmationMs: 0 })).rejects.toThrow(/scheduleConfirmationMs must be a positive integer/);
  await expect(env.governanceWorker({ scheduleConfirmationMs: 1.5 })).rejects.toThrow(/scheduleConfirmationMs must be a positive integer/);
});
