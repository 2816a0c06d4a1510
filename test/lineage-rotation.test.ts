// A lineage run that rotates (continue-as-new) while persistence cannot keep up: the real lineage
// workflow on the real dev server, with a persist activity the test controls (down, then up). The
// next run's input must stay far below Temporal's 2 MiB payload limit whatever piled up: a run that
// cannot continue as new is wedged for good (PayloadsTooLarge on every workflow task), which is how
// a CI run once lost 3,000 records. Decisions a run cannot carry stay in the outbox (the sweeper
// re-delivers them: lineage-jam.test.ts, "taking a lineage workflow id over"); outcomes are carried
// first, and any beyond the bound are counted.
import { ApplicationFailure, defaultPayloadConverter } from '@temporalio/common';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { ARTIFACT_TYPE, type SignedArtifact } from '../src/common/schemas';
import { argumentsDigest } from '../src/common/digest';
import { CARRY_BYTES } from '../src/lineage/carry';
import { LINEAGE_SIGNAL, LINEAGE_WORKFLOW_TYPE, LineageWorkflowInputSchema, lineageWorkflowId, PERSIST_LINEAGE_ACTIVITY, type LineageSignal, type LineageStats } from '../src/lineage/schema';
import { address, uniqueName } from './helpers/harness';

const lineageWorkflows = require.resolve('../workflows/lineage');
let nativeConnection: NativeConnection;
let connection: Connection;
let client: Client;
let worker: Worker;
let running: Promise<void>;
const taskQueue = uniqueName('lineage-rotation');
/** What the stub persist activity does, and every batch it took while up. */
let persistence: 'down' | 'up' = 'down';
const persisted = new Map<string, LineageSignal[]>();

beforeAll(async () => {
  nativeConnection = await NativeConnection.connect({ address: address() });
  // A run that piled up megabytes has a history page larger than gRPC's default 4 MiB message.
  connection = await Connection.connect({ address: address(), channelArgs: { 'grpc.max_receive_message_length': 64 * 1024 * 1024 } });
  client = new Client({ connection });
  worker = await Worker.create({
    connection: nativeConnection,
    taskQueue,
    workflowsPath: lineageWorkflows,
    activities: {
      [PERSIST_LINEAGE_ACTIVITY]: async (rootId: string, batch: LineageSignal[]) => {
        if (persistence === 'down') throw ApplicationFailure.nonRetryable('MongoDB is unreachable (test)', 'MongoServerSelectionError');
        persisted.set(rootId, [...(persisted.get(rootId) ?? []), ...batch]);
        return { head: null, rejected: [], droppedOutcomes: 0, calls: [] };
      },
    },
  });
  running = worker.run();
}, 60_000);
afterAll(async () => {
  worker?.shutdown();
  await running;
  await connection?.close();
  await nativeConnection?.close();
});

const DIGEST = argumentsDigest([]);
/** A decision of `rootId` that passes the lineage workflow's schema (only the persist activity checks signatures). */
function decision(rootId: string, n: number): LineageSignal {
  const artifact: SignedArtifact = {
    payload: {
      typ: ARTIFACT_TYPE,
      id: `art_${rootId.slice(-8)}_${String(n).padStart(6, '0')}`,
      kid: 'k1',
      iss: 'rotation-test',
      principal: 'alice',
      credential: 'ak_0000000000000001',
      roles: ['operator'],
      decisionId: `dec_${n}`,
      action: 'activity',
      target: `charge-${'x'.repeat(900)}`,
      namespace: 'default',
      workflowId: 'wf-rotation',
      runId: 'run-1',
      activityId: String(n),
      childWorkflowId: null,
      taskQueue: 'payments',
      argsDigest: DIGEST,
      policy: { id: 'p', version: `sha256:${'ab'.repeat(32)}` },
      rules: ['allow-small'],
      parent: { id: rootId, hash: `sha256:${'cd'.repeat(32)}` },
      issuedAt: 1_700_000_000_000 + n,
      rootId,
      chain: { id: rootId, hop: 1 },
      ancestors: [rootId],
      ancestorKids: ['k1'],
      exempt: [],
      expiresAt: 1_700_000_060_000 + n,
    },
    signature: 'A'.repeat(86),
  };
  return { kind: 'artifact', signed: artifact };
}
function outcome(n: number, idChars = 40, pad = '0'): LineageSignal {
  return { kind: 'outcome', id: `art_${String(n).padStart(idChars - 4, pad)}`, outcome: { status: 'started', failureType: null, attempt: 1, at: n } };
}
const key = (r: LineageSignal) => (r.kind === 'outcome' ? `o:${r.id}` : r.kind === 'ref' ? `r:${r.id}` : `d:${r.signed.payload.id}`);

/** Signals `records` to the root's lineage workflow, 50 per signal, while persistence is down; returns the first run's id. */
async function pileUp(rootId: string, records: LineageSignal[]): Promise<string> {
  let runId: string | undefined;
  for (let i = 0; i < records.length; i += 50) {
    const handle = await client.workflow.signalWithStart(LINEAGE_WORKFLOW_TYPE, {
      workflowId: lineageWorkflowId(rootId),
      taskQueue,
      args: [{ rootId, pending: [] }],
      signal: LINEAGE_SIGNAL,
      signalArgs: records.slice(i, i + 50),
    });
    runId ??= handle.signaledRunId;
  }
  return runId!;
}

/** The first run's continue-as-new: the next run's input as sent (parsed) and its payload size. */
async function rotation(rootId: string, runId: string) {
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    const history = await client.workflow.getHandle(lineageWorkflowId(rootId), runId).fetchHistory();
    const events = history.events ?? [];
    const can = events.find((e) => e.workflowExecutionContinuedAsNewEventAttributes)?.workflowExecutionContinuedAsNewEventAttributes;
    if (can) {
      const payload = can.input!.payloads![0]!;
      return { history, bytes: payload.data!.length, input: LineageWorkflowInputSchema.parse(defaultPayloadConverter.fromPayload(payload)) };
    }
    // A wedged run fails its workflow task again and again with a failure (PayloadsTooLarge). A task
    // failed without one is the server refusing a continue-as-new that new signals overtook
    // (UNHANDLED_COMMAND): the next task takes them and continues as new again.
    const stuck = events.map((e) => e.workflowTaskFailedEventAttributes?.failure?.message).filter((m): m is string => !!m);
    if (stuck.length >= 2) throw new Error(`the lineage run's workflow task fails: ${stuck[0]}`);
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error('the lineage run did not continue as new');
}

async function persistedKeys(rootId: string, expected: number): Promise<string[]> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const got = (persisted.get(rootId) ?? []).map(key);
    if (got.length >= expected || Date.now() > deadline) return got;
    await new Promise((r) => setTimeout(r, 250));
  }
}

test('persistence down through a rotation: the next run carries every outcome and what fits of the decisions, once each, far below the payload limit', async () => {
  persistence = 'down';
  const rootId = `art_${uniqueName('rot').replace(/[^a-z0-9]/g, '')}`;
  const decisions = Array.from({ length: 2_100 }, (_, i) => decision(rootId, i));
  const outcomes = Array.from({ length: 200 }, (_, i) => outcome(i));
  // Re-deliveries of records still waiting (a sweeper, a retried hand-off): the same bytes again.
  const again = decisions.slice(0, 100);
  const records = [...decisions.flatMap((d, i) => (i % 10 === 0 && i / 10 < outcomes.length ? [d, outcomes[i / 10]!] : [d])), ...again];
  const runId = await pileUp(rootId, records);

  const { history, bytes, input } = await rotation(rootId, runId);
  // ~2.3 MB arrived; the next run's input stays within the carry bound.
  expect(JSON.stringify(records).length).toBeGreaterThan(2 * CARRY_BYTES);
  expect(bytes).toBeLessThanOrEqual(CARRY_BYTES + 1_000);
  const carried = input.pending.map(key);
  expect(new Set(carried).size).toBe(carried.length); // each record once
  expect(carried.filter((k) => k.startsWith('o:'))).toEqual(outcomes.map(key)); // every outcome, in order
  const carriedDecisions = carried.filter((k) => k.startsWith('d:'));
  expect(carriedDecisions.length).toBeGreaterThan(400);
  expect(carriedDecisions).toEqual(decisions.slice(0, carriedDecisions.length).map(key)); // the oldest ones
  expect(input.stats).toMatchObject({ shed: 0, malformed: 0, oversized: 0, rejected: 0 });

  // The rotation replays (the bounded-carry path, with its patch marker).
  await Worker.runReplayHistory({ workflowsPath: lineageWorkflows }, history, lineageWorkflowId(rootId));

  // Persistence back: the next run stores exactly what it carried.
  persistence = 'up';
  expect((await persistedKeys(rootId, carried.length)).sort()).toEqual([...carried].sort());
}, 180_000);

test('outcomes beyond the bound are shed and counted (memo), never carried over the limit, even in three-byte characters', async () => {
  persistence = 'down';
  const rootId = `art_${uniqueName('shed').replace(/[^a-z0-9]/g, '')}`;
  // An attacker's outcomes can be any text: the bound is in bytes, as Temporal measures payloads.
  const outcomes = Array.from({ length: 2_100 }, (_, i) => outcome(i, 700, '界'));
  const runId = await pileUp(rootId, outcomes);

  const { bytes, input } = await rotation(rootId, runId);
  expect(bytes).toBeLessThanOrEqual(CARRY_BYTES + 1_000);
  const carried = input.pending.map(key);
  expect(carried).toEqual(outcomes.slice(0, carried.length).map(key));
  const shed = outcomes.length - carried.length;
  expect(shed).toBeGreaterThan(100);
  expect(input.stats?.shed).toBe(shed);
  const next = await client.workflow.getHandle(lineageWorkflowId(rootId)).describe();
  expect(next.runId).not.toBe(runId);
  const first = await client.workflow.getHandle(lineageWorkflowId(rootId), runId).describe();
  expect((first.memo?.governanceLineageDropped as LineageStats | undefined)?.shed).toBe(shed);

  persistence = 'up';
  expect(await persistedKeys(rootId, carried.length)).toHaveLength(carried.length);
}, 180_000);
