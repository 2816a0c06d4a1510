// Any data converter works end to end: an AES-256-GCM payload codec (key generated here) and a custom
// payload converter (reviving Dates and class instances) on the Client, the app Worker and the
// governance worker. Governed calls are decided on plaintext, history holds ciphertext, lineage lands
// in MongoDB, and a governance worker without the codec fails closed at once, naming the mismatch.
import { randomBytes } from 'node:crypto';
import { Client } from '@temporalio/client';
import { METADATA_ENCODING_KEY, type DataConverter, type Payload } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import { bundleWorkflowCode, DefaultLogger, Worker } from '@temporalio/worker';
import type { Db, MongoClient } from 'mongodb';
import { AUTHORIZE_ACTIVITY, HEADER_ARTIFACT, HEADER_START_PROOF } from '../src/common/constants';
import { AuthorizationResultSchema } from '../src/common/schemas';
import { LineageRecordSchema } from '../src/lineage/schema';
import { connectLineage, lineageCollection } from '../src/lineage/store';
import { activities, expectGovernanceDenied, governedEnv, mongoUri, uniqueName, type Env } from './helpers/harness';
import { waitForRecords } from './helpers/lineage';
import { runsOf } from './fixtures/activities';
import * as codecActivities from './fixtures/codec-activities';
import { payMoney } from './fixtures/codec-workflows';
import { AesGcmCodec, ENCRYPTED_ENCODING } from './fixtures/encryption-codec';
import { Money, payloadConverter, TAGGED_ENCODING } from './fixtures/tagged-payload-converter';

const codecWorkflowsPath = require.resolve('./fixtures/codec-workflows');
const payloadConverterPath = require.resolve('./fixtures/tagged-payload-converter');
const codec = new AesGcmCodec(randomBytes(32), 'codec-test-key');
const dataConverter: DataConverter = { payloadConverterPath, payloadCodecs: [codec] };

let env: Env;
let client: Client;
let bundle: { code: string };
let mongo: MongoClient;
let db: Db;
beforeAll(async () => {
  env = await governedEnv({ governance: { dataConverter } });
  client = new Client({ connection: env.client.connection, plugins: [env.plugin], dataConverter });
  // The sandbox runs the custom payload converter too: it is bundled with the workflows.
  bundle = await bundleWorkflowCode({ workflowsPath: codecWorkflowsPath, payloadConverterPath, plugins: [env.plugin], logger: new DefaultLogger('WARN') });
  ({ client: mongo, db } = await connectLineage(mongoUri(), env.lineageDatabase));
});
afterAll(async () => {
  await mongo?.close();
  await env?.close();
});

const appWorker = () => env.appWorker({ workflowBundle: bundle, dataConverter, activities: { ...activities, ...codecActivities } });
const at = new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 678));
const startPayMoney = (amount: number, marker: string) =>
  client.workflow.start(payMoney, { taskQueue: env.taskQueue, workflowId: uniqueName('codec'), args: [new Money(amount, 'EUR'), at, marker] });

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/** The run's events exactly as the server stores them (no codec, no converter applied). */
async function rawEvents(workflowId: string, runId: string): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  let nextPageToken: Uint8Array | undefined;
  do {
    const page = await client.workflowService.getWorkflowExecutionHistory({ namespace: 'default', execution: { workflowId, runId }, maximumPageSize: 100, nextPageToken });
    events.push(...(page.history?.events ?? []));
    nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
  } while (nextPageToken);
  return events;
}

const encodingOf = (payload: Payload | null | undefined) => new TextDecoder().decode(payload?.metadata?.[METADATA_ENCODING_KEY] ?? new Uint8Array());
const decrypt = async (payload: Payload) => (await codec.decode([payload]))[0]!;

/** Scheduled events of the authorization activity, and the decisions its completions returned. */
async function authorizations(events: HistoryEvent[]) {
  const scheduled = events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === AUTHORIZE_ACTIVITY);
  const ids = new Set(scheduled.map((e) => Number(e.eventId)));
  const decisions = [];
  for (const e of events) {
    const completed = e.activityTaskCompletedEventAttributes;
    if (!completed || !ids.has(Number(completed.scheduledEventId))) continue;
    const result = completed.result!.payloads![0]!;
    expect(encodingOf(result)).toBe(ENCRYPTED_ENCODING);
    const parsed = AuthorizationResultSchema.parse(payloadConverter.fromPayload(await decrypt(result)));
    decisions.push(parsed.decision === 'allow' ? { kind: 'artifact' as const, signed: parsed.artifact } : { kind: 'denial' as const, signed: parsed.denial });
  }
  return { scheduled, decisions };
}

async function lineageRecords(rootId: string) {
  return (await lineageCollection(db).find({ rootId }).sort({ seq: 1 }).toArray()).map((d) => LineageRecordSchema.parse(d));
}

test('an allowed call runs on plaintext values while history holds only encrypted payloads; lineage lands in MongoDB', async () => {
  const marker = uniqueName('codec-allow');
  const { result, events, decisions, scheduled, history, workflowId } = await env.run(
    async () => {
      const handle = await startPayMoney(250, marker);
      const result = await handle.result();
      const events = await rawEvents(handle.workflowId, handle.firstExecutionRunId);
      const { scheduled, decisions } = await authorizations(events);
      // Persistence is batched: wait while the governance worker still runs the lineage workflow.
      await waitForRecords(db, decisions[0]!.signed.payload.rootId ?? decisions[0]!.signed.payload.id, decisions.length, 60_000, client);
      return { result, events, decisions, scheduled, history: await handle.fetchHistory(), workflowId: handle.workflowId };
    },
    [await appWorker(), await env.governanceWorker()],
  );

  // The body ran once, on values the custom converter revived (it checks), with matching digests.
  expect(result.receipt).toBe(`charged 250 EUR at ${at.toISOString()}`);
  expect(result.activityDigest).toBe(result.workflowDigest);
  expect(runsOf(marker)).toBe(1);

  // History: the start input and every authorization request are ciphertext; under the codec, the
  // custom converter's encoding. The governance headers are not codec-encoded (TS SDK 1.24).
  const started = events[0]!.workflowExecutionStartedEventAttributes!;
  expect(encodingOf(started.input!.payloads![0])).toBe(ENCRYPTED_ENCODING);
  expect(encodingOf(started.header!.fields![HEADER_START_PROOF])).toBe('json/plain');
  expect(scheduled).toHaveLength(2); // run grant, chargeMoney
  for (const e of scheduled) {
    const input = e.activityTaskScheduledEventAttributes!.input!.payloads![0]!;
    expect(encodingOf(input)).toBe(ENCRYPTED_ENCODING);
    expect(JSON.stringify(input)).not.toContain(marker);
    expect(encodingOf(await decrypt(input))).toBe(TAGGED_ENCODING);
    expect(encodingOf(e.userMetadata?.summary)).toBe(ENCRYPTED_ENCODING); // "authorize activity chargeMoney #2"
  }
  const charge = events.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'chargeMoney')!.activityTaskScheduledEventAttributes!;
  expect(encodingOf(charge.input!.payloads![0])).toBe(ENCRYPTED_ENCODING);
  expect(encodingOf(charge.header!.fields![HEADER_ARTIFACT])).toBe('json/plain');

  // MongoDB: one plaintext record per decision, each holding the signed artifact exactly as issued
  // (argument digest, no argument values).
  expect(decisions.map((d) => d.kind)).toEqual(['artifact', 'artifact']);
  const records = await lineageRecords(decisions[0]!.signed.payload.id);
  expect(records.map((r) => r.artifact)).toEqual(decisions.map((d) => d.signed));
  expect(JSON.stringify(records)).not.toContain(marker);
  // The lineage signals were encrypted too.
  const lineageEvents = await rawEvents(`temporal-governance-lineage-${decisions[0]!.signed.payload.id}`, '');
  const signals = lineageEvents.map((e) => e.workflowExecutionSignaledEventAttributes).filter((a) => a);
  expect(signals.length).toBeGreaterThan(0);
  for (const signal of signals) expect(encodingOf(signal!.input!.payloads![0])).toBe(ENCRYPTED_ENCODING);

  // Replays with the same data converter (the bundle carries the custom converter, the worker the codec).
  await Worker.runReplayHistory({ workflowBundle: bundle, dataConverter }, history, workflowId);
});

test('a denied call fails closed with GovernanceDenied details the client decodes; the denial lands in MongoDB', async () => {
  const marker = uniqueName('codec-deny');
  const { failure, decisions, events, history, workflowId } = await env.run(
    async () => {
      const handle = await startPayMoney(5000, marker);
      const failure = await expectGovernanceDenied(handle);
      const events = await rawEvents(handle.workflowId, handle.firstExecutionRunId);
      const { decisions } = await authorizations(events);
      await waitForRecords(db, decisions[0]!.signed.payload.id, decisions.length, 60_000, client);
      return { failure, decisions, events, history: await handle.fetchHistory(), workflowId: handle.workflowId };
    },
    [await appWorker(), await env.governanceWorker()],
  );
  expect(runsOf(marker)).toBe(0);
  expect(failure.nonRetryable).toBe(true);
  expect(failure.details?.[0]).toMatchObject({ code: 'AMOUNT_OVER_LIMIT', ruleIds: ['deny-large-charges'], principal: 'alice', action: 'activity', target: 'chargeMoney' });
  // In history its details are encrypted; its message (default failure converter) is not.
  let recorded = events.find((e) => e.workflowExecutionFailedEventAttributes)!.workflowExecutionFailedEventAttributes!.failure;
  while (recorded && recorded.applicationFailureInfo?.type !== 'GovernanceDenied') recorded = recorded.cause;
  expect(encodingOf(recorded!.applicationFailureInfo!.details!.payloads![0])).toBe(ENCRYPTED_ENCODING);
  expect(recorded!.message).toContain('args[0].amount = 5000');

  expect(decisions.map((d) => d.kind)).toEqual(['artifact', 'denial']);
  const records = await lineageRecords(decisions[0]!.signed.payload.id);
  expect(records.map((r) => r._id)).toEqual(decisions.map((d) => d.signed.payload.id));
  // A deny rule's reason names the argument values its conditions read: those are plaintext in MongoDB.
  expect(records[1]!.reason).toContain('args[0].amount = 5000');

  await Worker.runReplayHistory({ workflowBundle: bundle, dataConverter }, history, workflowId);
});

test('a governance worker without the codec denies after one attempt, naming the data converter mismatch', async () => {
  const marker = uniqueName('codec-blind');
  // The custom payload converter, but not the codec: it faces binary/encrypted payloads.
  const blind = await env.governanceWorker({ dataConverter: { payloadConverterPath } });
  const { failure, events } = await env.run(
    async () => {
      const handle = await startPayMoney(250, marker);
      const failure = await expectGovernanceDenied(handle);
      return { failure, events: await rawEvents(handle.workflowId, handle.firstExecutionRunId) };
    },
    [await appWorker(), blind],
  );
  expect(runsOf(marker)).toBe(0);
  expect(failure.details?.[0]).toMatchObject({ code: 'MALFORMED_REQUEST', action: 'workflow' });
  expect(failure.message).toContain(`"${ENCRYPTED_ENCODING}"`);
  expect(failure.message).toContain('data converter does not match');

  // No retries: the SDK logs an undecodable task once per attempt, and there is one attempt.
  const startedAttempts = events.filter((e) => e.activityTaskStartedEventAttributes).map((e) => e.activityTaskStartedEventAttributes!.attempt);
  expect(startedAttempts).toEqual([1]);
  const failed = events.filter((e) => e.activityTaskFailedEventAttributes);
  expect(failed).toHaveLength(1);
  const recorded = failed[0]!.activityTaskFailedEventAttributes!.failure!;
  expect(recorded.applicationFailureInfo?.type).toBe('GovernanceMalformedRequest');
  expect(recorded.message).toContain('give createGovernanceWorker the same dataConverter');
  // The message names the encoding, never the payload.
  const request = events.find((e) => e.activityTaskScheduledEventAttributes)!.activityTaskScheduledEventAttributes!.input!.payloads![0]!;
  expect(recorded.message).not.toContain(Buffer.from(request.data!).toString('base64').slice(0, 24));
});
