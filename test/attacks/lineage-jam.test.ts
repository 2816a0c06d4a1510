// Attack suite: the lineage workflow. Anyone in the namespace can signal it, start workflows under
// its id, and schedule activities on the governance queue. Every genuine decision must still reach
// MongoDB, nothing forged or foreign may be stored, and what was dropped is counted.
import type { Db, MongoClient } from 'mongodb';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import type { Payload } from '@temporalio/common';
import { defaultPayloadConverter } from '@temporalio/common';
import { canonicalize } from '../../src/common/canonical';
import { AUTHORIZE_ACTIVITY } from '../../src/common/constants';
import { sha256Hex } from '../../src/common/digest';
import type { SignedArtifact } from '../../src/common/schemas';
import { outcomesOf } from '../../src/lineage/queries';
import { LINEAGE_SIGNAL, LINEAGE_STATS_QUERY, LINEAGE_WORKFLOW_TYPE, LineageRecordSchema, lineageTaskQueue, lineageWorkflowId, type LineageStats } from '../../src/lineage/schema';
import { connectLineage, lineageCollection } from '../../src/lineage/store';
import { runsOf } from '../fixtures/activities';
import { goSignal, payAfterSignal, payOnce } from '../fixtures/workflows';
import { expectGovernanceDenied, governedEnv, mongoUri, uniqueName, type Env } from '../helpers/harness';
import { issuedDecisions, waitForRecords } from '../helpers/lineage';
import { arsenal, authorizationsOf, codeOf, eventually, issuedArtifact, scheduledHeader, sleep, type Arsenal } from './helpers';

let env: Env;
let arms: Arsenal;
let mongo: MongoClient;
let db: Db;
beforeAll(async () => {
  env = await governedEnv();
  arms = await arsenal(env);
  ({ client: mongo, db } = await connectLineage(mongoUri(), env.lineageDatabase));
});
afterAll(async () => {
  await mongo?.close();
  await env?.close();
});

const recordsOf = async (rootId: string) => (await lineageCollection(db).find({ rootId }).sort({ seq: 1 }).toArray()).map((d) => LineageRecordSchema.parse(d));
const lineage = (rootId: string) => arms.raw.workflow.getHandle(lineageWorkflowId(rootId));
const signalLineage = (rootId: string, value: unknown) => lineage(rootId).signal(LINEAGE_SIGNAL, value);

async function waitForRun(marker: string): Promise<void> {
  await eventually(`${marker} to run`, async () => (runsOf(marker) > 0 ? true : undefined), 60_000);
}

/** A governed root (alice) that charged once and now waits for `go`; its two decisions are stored. */
async function openRoot(marker: string) {
  const handle = await env.client.workflow.start(payAfterSignal, { taskQueue: env.taskQueue, workflowId: uniqueName('root'), args: [10, marker] });
  await waitForRun(`${marker}:before`);
  const grant = await issuedArtifact(env.client, handle.workflowId, 'workflow');
  const before = (await scheduledHeader(handle, 'charge', 'temporal-governance-artifact')) as SignedArtifact;
  const rootId = grant.payload.id;
  await waitForRecords(db, rootId, 2, 60_000, env.client);
  // And its outcome reports (they leave the worker within the one-second hand-off window): nothing of
  // this root is on its way to the lineage workflow any more, so a test that ends that run is not
  // overtaken by a late report starting a fresh one.
  await eventually('the first charge\'s outcome reports', async () => ((await outcomesOf(db, before.payload.id)).length >= 2 ? true : undefined), 60_000);
  return { handle, grant, before, rootId };
}

const brokenSignature = (sig: string) => (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1);
const msOf = (t: { seconds?: unknown; nanos?: number | null } | null | undefined) =>
  Number((t?.seconds as { toNumber?: () => number })?.toNumber?.() ?? t?.seconds ?? 0) * 1000 + Math.floor((t?.nanos ?? 0) / 1e6);

describe('signals to a real root lineage workflow', () => {
  test('junk, an oversized blob, forged decisions (an existing, a fresh and an UPCOMING genuine id) and a genuine decision of another root are dropped and counted; every genuine record lands', async () => {
    const marker = uniqueName('jam');
    // Another root, finished: its run grant is a genuine, validly signed decision of ANOTHER root.
    const other = await env.run(async () => {
      const h = await env.client.workflow.start(payOnce, { taskQueue: env.taskQueue, workflowId: uniqueName('other-root'), args: [10, uniqueName('other')] });
      await h.result();
      const g = await issuedArtifact(env.client, h.workflowId, 'workflow');
      await waitForRecords(db, g.payload.id, 2, 60_000, env.client);
      return g;
    }, await arms.workers());

    // Phase 1: the root is open, its lineage workflow running; the attacker signals it.
    const { handle, grant, before, rootId } = await env.run(async () => {
      const root = await openRoot(marker);
      const junk: unknown[] = ['junk', 42, [1, 2, 3], { kind: 'artifact' }, { kind: 'nope', signed: {} }];
      for (const j of junk) await signalLineage(root.rootId, j);
      await signalLineage(root.rootId, { kind: 'artifact', signed: { ...root.grant, signature: 'A'.repeat(600_000) } }); // > 512 KiB
      // A forged copy of an EXISTING record (same id, more roles, another principal), signature broken.
      await signalLineage(root.rootId, {
        kind: 'artifact',
        signed: { payload: { ...root.grant.payload, principal: 'mallory', roles: ['admin', 'auditor', 'operator'] }, signature: brokenSignature(root.grant.signature) },
      });
      // A forged decision under a fresh id, claiming this root.
      await signalLineage(root.rootId, { kind: 'artifact', signed: { payload: { ...root.before.payload, id: `art_${'f'.repeat(32)}`, target: 'chargeEverything' }, signature: root.before.signature } });
      // A genuine decision of another root.
      await signalLineage(root.rootId, { kind: 'artifact', signed: other });
      return root;
    }, await arms.workers());

    // Phase 2: governance is slow to decide charges (it still admits the `go` signal). The root
    // asks for its next charge authorization; the attacker reads it from history, computes the id
    // the genuine decision will get, and signals a forged copy under that id first.
    const slowCharges: ActivityInterceptorsFactory = () => ({
      inbound: {
        async execute(input, next) {
          if ((input.args[0] as { target?: unknown } | undefined)?.target === 'charge') await sleep(4_000);
          return next(input);
        },
      },
    });
    const predicted = await env.run(async () => {
      await handle.signal(goSignal);
      const scheduled = await eventually('the next charge authorization to be scheduled', async () => {
        const history = await handle.fetchHistory();
        for (const e of history.events ?? []) {
          const s = e.activityTaskScheduledEventAttributes;
          if (s?.activityType?.name !== AUTHORIZE_ACTIVITY) continue;
          const request = defaultPayloadConverter.fromPayload(s.input!.payloads![0]! as Payload) as { target: string; activityId: string | null; workflow: { namespace: string; workflowId: string; runId: string } };
          if (request.target === 'charge' && request.activityId !== before.payload.activityId) return { request, at: msOf(e.eventTime) };
        }
        return undefined;
      });
      const { request, at } = scheduled;
      const decisionId = `dec_${sha256Hex(canonicalize([request.workflow.namespace, request.workflow.workflowId, request.workflow.runId, `activity:${request.activityId}`])).slice(0, 32)}`;
      const p = before.payload;
      const id = `art_${sha256Hex(canonicalize([decisionId, at, p.policy.version, p.kid, canonicalize(['allow', p.credential, p.roles, p.ancestors, p.rules])])).slice(0, 32)}`;
      await signalLineage(rootId, {
        kind: 'artifact',
        signed: { payload: { ...p, id, decisionId, activityId: request.activityId, issuedAt: at, principal: 'mallory' }, signature: brokenSignature(before.signature) },
      });
      return id;
    }, [await arms.governedWorker(), await env.governanceWorker({ activityInterceptors: [slowCharges] })]);

    // Phase 3: governance catches up; the root finishes.
    await env.run(async () => {
      expect(await handle.result()).toEqual(['charged 10 EUR', '1.1', 'charged 10 EUR']);
      const decisions = await issuedDecisions(env.client, handle.workflowId, handle.firstExecutionRunId);
      // The run grant, the first charge, the `go` signal, the second charge.
      expect(decisions.map((d) => `${d.action}:${d.decision}`)).toEqual(['workflow:allow', 'activity:allow', 'signal:allow', 'activity:allow']);
      expect(decisions[3]!.id).toBe(predicted); // the forged copy really carried the upcoming genuine id
      await waitForRecords(db, rootId, 4, 60_000, env.client);
      const stats = await eventually('the drop counters', async () => {
        const s = await lineage(rootId).query<LineageStats>(LINEAGE_STATS_QUERY);
        return s.rejected >= 3 ? s : undefined;
      });
      // malformed: the five junk values; oversized: the blob; rejected: the forged copies (of an
      // existing, a fresh and the upcoming id) and the foreign root's decision: every signed-looking
      // signal goes to persistence, which verifies it.
      expect(stats).toEqual({ malformed: 5, oversized: 1, rejected: 4, shed: 0 });
      expect((await lineage(rootId).describe()).memo?.governanceLineageDropped).toEqual(stats);

      const records = await recordsOf(rootId);
      expect(records.map((r) => r._id)).toEqual(decisions.map((d) => d.id)); // exactly the genuine ones, in order
      expect(records.map((r) => r.seq)).toEqual([0, 1, 2, 3]);
      records.forEach((r, i) => i > 0 && expect(r.prevHash).toBe(records[i - 1]!.hash));
      expect(records[0]!.artifact).toEqual(grant); // not the forged copy
      expect(records[3]!.principal).toBe('alice');
      expect(records.every((r) => r.principal === 'alice')).toBe(true);
      expect(await lineageCollection(db).countDocuments({ _id: `art_${'f'.repeat(32)}` })).toBe(0);
      expect(await lineageCollection(db).findOne({ _id: other.payload.id })).toMatchObject({ rootId: other.payload.id }); // stays in its own root
    }, await arms.workers());
    expect(runsOf(`${marker}:before`)).toBe(1);
    expect(runsOf(`${marker}:after`)).toBe(1);
  });

  test('ONE hand-built signal with many arguments (junk, an oversized blob, a forged copy, a forged decision of another root, a genuine record twice, references to nothing and to a chained record): each argument is judged on its own, nothing genuine is held back or stored twice', async () => {
    const marker = uniqueName('jam-multi');
    await env.run(async () => {
      const { handle, grant, before, rootId } = await openRoot(marker);
      const foreign = `art_${'e'.repeat(32)}`;
      await lineage(rootId).signal(
        LINEAGE_SIGNAL,
        'junk',
        { kind: 'artifact', signed: { ...grant, signature: 'A'.repeat(600_000) } }, // > 512 KiB
        { kind: 'artifact', signed: { payload: { ...grant.payload, principal: 'mallory', roles: ['admin', 'operator'] }, signature: brokenSignature(grant.signature) } },
        { kind: 'artifact', signed: { payload: { ...before.payload, id: `art_${'d'.repeat(32)}`, rootId: foreign, chain: { id: foreign, hop: 1 }, ancestors: [foreign] }, signature: before.signature } },
        { kind: 'artifact', signed: before },
        { kind: 'artifact', signed: before },
        { kind: 'ref', id: `art_${'c'.repeat(32)}` }, // names no decision governance issued
        { kind: 'ref', id: grant.payload.id }, // a genuine one, chained already
        { kind: 'ref', id: 'x'.repeat(201) }, // longer than any decision id
      );
      const stats = await eventually('the drop counters', async () => {
        const s = await lineage(rootId).query<LineageStats>(LINEAGE_STATS_QUERY);
        return s.rejected >= 3 ? s : undefined;
      });
      // The foreign-root claim and the unknown reference go to persistence too and are refused there.
      expect(stats).toEqual({ malformed: 2, oversized: 1, rejected: 3, shed: 0 });
      await handle.signal(goSignal);
      await handle.result();
      const decisions = await issuedDecisions(env.client, handle.workflowId, handle.firstExecutionRunId);
      await waitForRecords(db, rootId, decisions.length, 60_000, env.client);
      const records = await recordsOf(rootId);
      expect(records.map((r) => r._id)).toEqual(decisions.map((d) => d.id)); // each genuine record once, in order
      expect(records[0]!.artifact).toEqual(grant);
      expect(records.map((r) => r.seq)).toEqual(decisions.map((_, i) => i));
      expect(await lineageCollection(db).countDocuments({ _id: `art_${'d'.repeat(32)}` })).toBe(0);
      expect(await lineageCollection(db).countDocuments({ rootId: foreign })).toBe(0);
    }, await arms.workers());
    expect(runsOf(`${marker}:before`)).toBe(1);
    expect(runsOf(`${marker}:after`)).toBe(1);
  });
});

describe('impostors holding a lineage workflow id', () => {
  test('an impostor of another type on a rogue task queue that swallows signals is terminated by governance; the next decision still lands in MongoDB', async () => {
    const marker = uniqueName('impostor');
    await env.run(async () => {
      const { handle, rootId } = await openRoot(marker);
      const lineageId = lineageWorkflowId(rootId);
      await env.client.workflow.getHandle(lineageId).terminate('test: the lineage run ended (as if idle)');
      const impostor = await arms.raw.workflow.start('swallowSignals', { workflowId: lineageId, taskQueue: arms.rogueQueue });
      await handle.signal(goSignal);
      expect(await handle.result()).toEqual(['charged 10 EUR', '1.1', 'charged 10 EUR']);
      const decisions = await issuedDecisions(env.client, handle.workflowId, handle.firstExecutionRunId);
      await waitForRecords(db, rootId, decisions.length, 60_000, env.client);

      // All of them; the one the impostor swallowed is chained when it is re-delivered, maybe after the next.
      expect((await recordsOf(rootId)).map((r) => r._id).sort()).toEqual(decisions.map((d) => d.id).sort());
      const impostorRun = await arms.raw.workflow.getHandle(lineageId, impostor.firstExecutionRunId).describe();
      expect(impostorRun.status.name).toBe('TERMINATED');
      const current = await arms.raw.workflow.getHandle(lineageId).describe();
      expect(current).toMatchObject({ type: LINEAGE_WORKFLOW_TYPE, taskQueue: lineageTaskQueue(env.governanceTaskQueue) });
      expect(current.runId).not.toBe(impostor.firstExecutionRunId);
    }, await arms.workers({ rogue: true }));
    expect(runsOf(`${marker}:after`)).toBe(1);
  });

  test("an impostor of governance's OWN lineage type on governance's lineage queue, started with attacker-chosen input, must not swallow the root's decisions", async () => {
    const marker = uniqueName('same-type-impostor');
    await env.run(async () => {
      const { handle, rootId } = await openRoot(marker);
      const lineageId = lineageWorkflowId(rootId);
      await env.client.workflow.getHandle(lineageId).terminate('test: the lineage run ended (as if idle)');
      // Passes the hand-off's check (type governanceLineage, governance's lineage task queue) and is
      // run by the governance worker itself, but with the attacker's input: a root id that is not this one.
      const impostor = await arms.raw.workflow.start(LINEAGE_WORKFLOW_TYPE, {
        workflowId: lineageId,
        taskQueue: lineageTaskQueue(env.governanceTaskQueue),
        args: [{ rootId: `${rootId}-attacker`, pending: [] }],
      });
      try {
        await handle.signal(goSignal);
        expect(await handle.result()).toEqual(['charged 10 EUR', '1.1', 'charged 10 EUR']);
        const decisions = await issuedDecisions(env.client, handle.workflowId, handle.firstExecutionRunId);
        const stored = await waitForRecords(db, rootId, decisions.length, 30_000);
        const dropped = await arms.raw.workflow.getHandle(lineageId, impostor.firstExecutionRunId).query<LineageStats>(LINEAGE_STATS_QUERY);
        // A genuine decision refused as "foreign" by a lineage run whose root id the attacker chose.
        expect({ stored, refusedByImpostor: dropped.rejected }).toEqual({ stored: 4, refusedByImpostor: 0 }); // grant, charge, go signal, charge
        expect((await recordsOf(rootId)).map((r) => r._id)).toEqual(decisions.map((d) => d.id));
      } finally {
        await arms.raw.workflow.getHandle(lineageId, impostor.firstExecutionRunId).terminate('test cleanup').catch(() => undefined);
      }
    }, await arms.workers());
  });
});

describe('taking a lineage workflow id over', () => {
  test('an attacker who keeps starting runs under a root\'s lineage id with TERMINATE_EXISTING neither blocks governed work nor loses a decision: the outbox holds each one and the sweeper chains it', async () => {
    const marker = uniqueName('takeover');
    let stop = false;
    await env.run(async () => {
      const { handle, rootId } = await openRoot(marker);
      const lineageId = lineageWorkflowId(rootId);
      // A start is within the attacker's means: each one terminates whatever holds the id, the
      // genuine lineage run included (with anything it had not persisted yet).
      const takeovers = (async () => {
        let n = 0;
        while (!stop) {
          await arms.raw.workflow
            .start('junkHolder', { workflowId: lineageId, taskQueue: `${arms.rogueQueue}-nobody`, workflowIdConflictPolicy: 'TERMINATE_EXISTING' })
            .then(() => (n += 1), () => undefined);
          await sleep(100);
        }
        return n;
      })();
      await sleep(500);
      await handle.signal(goSignal);
      expect(await handle.result()).toEqual(['charged 10 EUR', '1.1', 'charged 10 EUR']);
      stop = true;
      expect(await takeovers).toBeGreaterThan(3);
      await arms.raw.workflow.getHandle(lineageId).terminate('test: the attacker stops').catch(() => undefined);

      // Every decision reaches MongoDB once the attacker stops: re-delivered from the outbox.
      const decisions = await issuedDecisions(env.client, handle.workflowId, handle.firstExecutionRunId);
      expect(await waitForRecords(db, rootId, decisions.length, 60_000)).toBe(decisions.length);
      expect((await recordsOf(rootId)).map((r) => r._id).sort()).toEqual(decisions.map((d) => d.id).sort());
      await eventually('the outbox to drain', async () => ((await db.collection('lineage_outbox').countDocuments({ rootId })) === 0 ? true : undefined));
    }, [await arms.governedWorker(), await env.governanceWorker({ lineageSweepMs: 1_000 })]);
    expect(runsOf(`${marker}:after`)).toBe(1);
  });
});

describe('execution outcomes', () => {
  /** A root whose charge was DENIED (its body never ran); its two decisions are stored. */
  async function deniedCharge() {
    const marker = uniqueName('denied');
    const handle = await env.client.workflow.start(payOnce, { taskQueue: env.taskQueue, workflowId: uniqueName('denied'), args: [5_000, marker] });
    expect(codeOf(await expectGovernanceDenied(handle))).toBe('AMOUNT_OVER_LIMIT');
    const auths = await authorizationsOf(env.client, handle.workflowId);
    const denial = auths.find((a) => a.result.decision === 'deny')!.result;
    if (denial.decision !== 'deny') throw new Error('unreachable');
    const rootId = denial.denial.payload.rootId!;
    await waitForRecords(db, rootId, 2, 60_000, env.client);
    return { marker, rootId, deniedId: denial.denial.payload.id };
  }

  /** Outcome documents for a record that appear within `ms` (none should). */
  async function outcomesAppearing(recordId: string, ms: number) {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = await outcomesOf(db, recordId);
      if (found.length > 0 || Date.now() > deadline) return found;
      await sleep(250);
    }
  }

  test('a forged "completed" outcome signalled for a denied call is not stored as evidence', async () => {
    await env.run(async () => {
      const { marker, rootId, deniedId } = await deniedCharge();
      await signalLineage(rootId, { kind: 'outcome', id: deniedId, outcome: { status: 'completed', failureType: null, attempt: 1, at: Date.now() } });
      expect(await outcomesAppearing(deniedId, 10_000)).toEqual([]);
      expect(runsOf(marker)).toBe(0);
    }, await arms.workers());
  });

  test("a rogue workflow scheduling governance's persist activity directly cannot store a forged outcome", async () => {
    await env.run(async () => {
      const { rootId, deniedId } = await deniedCharge();
      const forged = { kind: 'outcome', id: deniedId, outcome: { status: 'completed', failureType: null, attempt: 2, at: Date.now() } };
      const outcome = await arms.raw.workflow
        .execute('roguePersist', { taskQueue: arms.rogueQueue, workflowId: uniqueName('rogue-persist'), args: [lineageTaskQueue(env.governanceTaskQueue), rootId, [forged], { head: null, grants: {} }] })
        .then(
          () => 'ran',
          (err: unknown) => String((err as { cause?: { cause?: { type?: string } } }).cause?.cause?.type),
        );
      // Where persist is served (the lineage task queue), it refuses a caller that is not the root's lineage workflow.
      expect(outcome).toBe('GovernanceLineageCallerRefused');
      expect(await outcomesAppearing(deniedId, 3_000)).toEqual([]);
    }, await arms.workers({ rogue: true }));
  });
});
