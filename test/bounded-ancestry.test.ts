// Bounded ancestry on the real stack (docs/artifact.md section 5.1): an artifact's size does not grow
// with continue-as-new, revocation still reaches every hop below a revoked one, a child's continued
// runs die with its child-workflow grant, tampering with `chain` or `ancestors` breaks the signature,
// a forged request naming another chain gets nothing, and nesting stops at the cap.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { MongoClient } from 'mongodb';
import { canonicalize } from '../src/common/canonical';
import { loadTrustBundle } from '../src/crypto/keys';
import { AUTHORIZE_ACTIVITY, DenyCodes } from '../src/common/constants';
import { AuthorizationResultSchema, type ArtifactPayload, type SignedArtifact } from '../src/common/schemas';
import { revokeAuthorization } from '../src/identity/revoke-authorization';
import { loadIdentitySnapshot } from '../src/identity/store';
import { revocationProblem } from '../src/identity/snapshot';
import { descendants } from '../src/lineage/queries';
import { lineageCollection } from '../src/lineage/store';
import { verifyLineage } from '../src/lineage/verify';
import { runsOf } from './fixtures/activities';
import { chainPausing, nestDeeper, parentOfChain, payOnce } from './fixtures/workflows';
import { arsenal, deniedWith, type Arsenal } from './attacks/helpers';
import { expectGovernanceDenied, governedEnv, mongoUri, uniqueName, type Env } from './helpers/harness';
import { historyEvents, issuedDecisions, waitForRecords } from './helpers/lineage';

/** The staleness bound the workers run with (the default), plus a refresh of margin: a pause longer than it lets a revocation land. */
const PAUSE_MS = 5_000 + 4_000;
const HOPS = 6;

let env: Env;
let mongo: MongoClient;
beforeAll(async () => {
  env = await governedEnv();
  mongo = await MongoClient.connect(mongoUri());
});
afterAll(async () => {
  await mongo?.close();
  await env?.close();
});
const db = () => mongo.db(env.lineageDatabase);
const code = (failure: { details?: unknown[] | null }) => (failure.details?.[0] as { code: string }).code;
const size = (p: ArtifactPayload) => Buffer.byteLength(canonicalize(p), 'utf8');

interface Run {
  readonly runId: string;
  /** Every artifact governance returned to this run, in order. */
  readonly artifacts: SignedArtifact[];
  readonly nextRunId: string | null;
}

/** The runs of a continue-as-new chain from its first run, each with the artifacts it obtained (open runs included). */
async function chainRuns(client: Client, workflowId: string, firstRunId: string): Promise<Run[]> {
  const runs: Run[] = [];
  for (let runId: string | null = firstRunId; runId; ) {
    const scheduled = new Set<number>();
    const artifacts: SignedArtifact[] = [];
    let nextRunId: string | null = null;
    for (const e of await historyEvents(client, workflowId, runId)) {
      if (e.activityTaskScheduledEventAttributes?.activityType?.name === AUTHORIZE_ACTIVITY) scheduled.add(Number(e.eventId));
      const c = e.activityTaskCompletedEventAttributes;
      if (c && scheduled.has(Number(c.scheduledEventId))) {
        const result = AuthorizationResultSchema.parse(defaultPayloadConverter.fromPayload(c.result!.payloads![0]!));
        if (result.decision === 'allow') artifacts.push(result.artifact);
      }
      nextRunId = e.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? nextRunId;
    }
    runs.push({ runId, artifacts, nextRunId });
    runId = nextRunId;
  }
  return runs;
}

const of = (run: Run, action: string) => {
  const found = run.artifacts.filter((a) => a.payload.action === action);
  if (found.length === 0) throw new Error(`run ${run.runId} obtained no ${action} artifact`);
  return found;
};

/** Polls until `check` returns a value. */
async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Waits until the chain has reached hop `hop` and that hop's first charge ran. */
async function reachHop(handle: { workflowId: string; firstExecutionRunId: string }, marker: string, hop: number): Promise<Run[]> {
  await eventually(`hop ${hop}`, async () => (runsOf(`${marker}:hop${hop}`) > 0 ? true : undefined));
  return chainRuns(env.client, handle.workflowId, handle.firstExecutionRunId);
}

describe('artifact size does not grow with continue-as-new', () => {
  test(`a chain of ${HOPS} hops: the last hop's per-call artifact is as large as the first's, and lineage verifies`, async () => {
    const marker = uniqueName('chain');
    // The last hop ends with a charge the policy refuses: a denial whose parent is a hop.
    const { handle, denial } = await env.run(async () => {
      const h = await env.client.workflow.start(chainPausing, { taskQueue: env.taskQueue, workflowId: uniqueName('chain'), args: [1, HOPS, HOPS, 0, 'overcharge', marker] });
      const refused = await expectGovernanceDenied(h);
      const decisions = await issuedDecisions(env.client, h.workflowId, h.firstExecutionRunId);
      await waitForRecords(db(), decisions[0]!.rootId, decisions.length, 60_000, env.client);
      return { handle: h, denial: refused };
    });
    expect(code(denial)).toBe('AMOUNT_OVER_LIMIT');
    expect(runsOf(`${marker}:hop${HOPS}:after`)).toBe(0);
    const runs = await chainRuns(env.client, handle.workflowId, handle.firstExecutionRunId);
    expect(runs).toHaveLength(HOPS);
    const root = of(runs[0]!, 'workflow')[0]!.payload;
    const calls = runs.map((r) => of(r, 'activity')[0]!.payload);
    calls.forEach((c, i) => {
      expect(c.chain).toEqual({ id: root.id, hop: i + 1 });
      expect(c.ancestors).toEqual([root.id]);
      expect(c.ancestorKids).toEqual([root.kid]);
    });
    runs.slice(1).forEach((r, i) => expect(of(r, 'workflow')[0]!.payload).toMatchObject({ chain: { id: root.id, hop: i + 2 }, ancestors: [root.id], rootId: root.id }));
    // Same-length ids everywhere: only the argument digest differs, so "within a few bytes" is exact here.
    const first = size(calls[0]!);
    const last = size(calls[HOPS - 1]!);
    expect(Math.abs(last - first)).toBeLessThanOrEqual(4);

    // The same artifacts in the version 2 layout (every ancestor and its kid listed, no chain): what
    // they weighed before, rebuilt from the parent links. It grows by one run grant and one
    // continue-as-new artifact (id and kid) per hop.
    const byId = new Map(runs.flatMap((r) => r.artifacts.map((a) => [a.payload.id, a.payload] as const)));
    const v2Size = (p: ArtifactPayload) => {
      const path: ArtifactPayload[] = [];
      for (let at = p.parent && byId.get(p.parent.id); at; at = at.parent ? byId.get(at.parent.id) : undefined) path.unshift(at);
      const { chain: _chain, ...rest } = p;
      return size({ ...rest, typ: 'temporal-governance/authorization-artifact@2', ancestors: path.map((a) => a.id), ancestorKids: path.map((a) => a.kid) } as unknown as ArtifactPayload);
    };
    const perHop = 2 * (JSON.stringify(root.id).length + 1 + JSON.stringify(root.kid).length + 1);
    expect(v2Size(calls[HOPS - 1]!) - v2Size(calls[0]!)).toBe((HOPS - 1) * perHop + (last - first));
    console.log(
      `per-call artifact (canonical payload bytes), hop 1 -> hop ${HOPS}: version 3 ${first} -> ${last}; version 2 layout ${v2Size(calls[0]!)} -> ${v2Size(calls[HOPS - 1]!)} (+${perHop} per hop)`,
    );

    // Lineage holds every decision with the bounded ancestors, and verifies. The denial under the
    // last hop's grant is recorded at the chain's level: [root], not [root, hop grant].
    const issued = runs.reduce((n, r) => n + r.artifacts.length, 0) + 1;
    const records = await lineageCollection(db()).find({ rootId: root.id }).toArray();
    expect(records).toHaveLength(issued);
    expect(Math.max(...records.map((r) => r.depth))).toBe(1);
    expect(records.find((r) => r.decision === 'deny')).toMatchObject({ parentId: of(runs[HOPS - 1]!, 'workflow')[0]!.payload.id, ancestors: [root.id], depth: 1 });
    expect(await verifyLineage(db(), loadTrustBundle(env.keys.bundlePath), { rootId: root.id })).toEqual({ roots: 1, records: issued, violations: [] });
    // Descendants of a hop (which no record lists) are still exact: hops 3..6 below hop 3's grant.
    const hop3 = of(runs[2]!, 'workflow')[0]!.payload.id;
    const below = await descendants(db(), hop3);
    const expected = [...runs.slice(2).flatMap((r) => r.artifacts.map((a) => a.payload.id)).filter((id) => id !== hop3), records.find((r) => r.decision === 'deny')!._id];
    expect(below.map((r) => r._id).sort()).toEqual(expected.sort());
  });
});

describe('revoking a chain member', () => {
  test('revoking the run grant of hop 2 (library) while hop 4 runs: hop 4 is refused, its body never runs, and its issued artifacts are void', async () => {
    const marker = uniqueName('revoke-hop');
    const workflowId = uniqueName('revoke-hop');
    let firstRunId = '';
    const failure = await env.run(async () => {
      const handle = await env.client.workflow.start(chainPausing, { taskQueue: env.taskQueue, workflowId, args: [1, HOPS, 4, PAUSE_MS, 'charge', marker] });
      firstRunId = handle.firstExecutionRunId;
      const runs = await reachHop(handle, marker, 4);
      const hop2Grant = of(runs[1]!, 'workflow')[0]!.payload;
      const hop4Call = of(runs[3]!, 'activity')[0]!.payload;
      expect(hop4Call.ancestors).not.toContain(hop2Grant.id); // why revoking hop 2's id alone would not do
      const revoked = await revokeAuthorization(db(), hop2Grant.id, 'test: revoke hop 2');
      expect(revoked.revoked.map((r) => [r.id, r.as, r.created])).toEqual([
        [hop2Grant.id, 'given', true],
        [hop2Grant.chain.id, 'chain', true],
      ]);
      expect(['lineage', 'outbox']).toContain(revoked.found);
      // The enforcement point's own check, on the artifact hop 4 already used: void now.
      expect(revocationProblem(hop4Call, await loadIdentitySnapshot(db()))).toEqual({
        code: DenyCodes.authorizationRevoked,
        reason: `authorization ${hop4Call.id} descends from revoked authorization ${hop2Grant.chain.id}`,
      });
      const denied = await expectGovernanceDenied(handle);
      // Lineage runs on the governance worker: wait for it while it polls.
      const decisions = await issuedDecisions(env.client, workflowId, firstRunId);
      // The denial itself is a root of its own (its parent grant was refused before it became its parent):
      // wait for the records of the chain's root.
      const ofRoot = decisions.filter((d) => d.rootId === hop2Grant.rootId);
      await waitForRecords(db(), hop2Grant.rootId, ofRoot.length, 60_000, env.client);
      return denied;
    });
    expect(code(failure)).toBe(DenyCodes.authorizationRevoked);
    expect(runsOf(`${marker}:hop4`)).toBe(1);
    expect(runsOf(`${marker}:hop4:after`)).toBe(0);
    expect(runsOf(`${marker}:hop5`)).toBe(0);

    // Lineage of the chain still verifies after the revocation.
    const decisions = (await issuedDecisions(env.client, workflowId, firstRunId)).filter((d) => d.decision === 'allow');
    expect(await verifyLineage(db(), loadTrustBundle(env.keys.bundlePath), { rootId: decisions[0]!.rootId })).toEqual({ roots: 1, records: decisions.length, violations: [] });
  });

  test('revoking a hop with the CLI while a later hop waits to continue as new: the next hop is never admitted', async () => {
    const marker = uniqueName('revoke-cli');
    const workflowId = uniqueName('revoke-cli');
    const { failure, stdout, hop2, chainId } = await env.run(async () => {
      const handle = await env.client.workflow.start(chainPausing, { taskQueue: env.taskQueue, workflowId, args: [1, HOPS, 3, PAUSE_MS, 'continue', marker] });
      const runs = await reachHop(handle, marker, 3);
      // The continue-as-new artifact of hop 2: a hop too.
      const can = of(runs[1]!, 'continue-as-new')[0]!.payload;
      const cli = spawnSync(process.execPath, [join(__dirname, '..', 'bin', 'temporal-governance.js'), 'revoke', 'authorization', can.id, '--database', env.lineageDatabase, '--reason', 'test'], {
        encoding: 'utf8',
        env: { ...process.env, MONGODB_URI: mongoUri() },
      });
      expect(cli.status).toBe(0);
      return { failure: await expectGovernanceDenied(handle), stdout: cli.stdout, hop2: can, chainId: can.chain.id };
    });
    expect(stdout).toContain(`: continue-as-new chainPausing in ${workflowId}/${hop2.runId}, chain ${chainId} hop 2`);
    expect(stdout).toContain(`revoked authorization ${hop2.id}\n`);
    expect(stdout).toContain(`revoked authorization ${chainId} (the chain of ${hop2.id}:`);
    expect(code(failure)).toBe(DenyCodes.authorizationRevoked);
    expect(failure.message).toContain(`descends from revoked authorization ${chainId}`);
    expect(runsOf(`${marker}:hop3`)).toBe(1);
    expect(runsOf(`${marker}:hop4`)).toBe(0);
  });

  test("revoking a child-workflow grant: the child's continued runs are refused; nothing above it is revoked", async () => {
    const marker = uniqueName('revoke-child');
    const parentId = uniqueName('revoke-child');
    const { failure, child } = await env.run(async () => {
      const parent = await env.client.workflow.start(parentOfChain, { taskQueue: env.taskQueue, workflowId: parentId, args: [4, 3, PAUSE_MS, marker] });
      await eventually('the child at hop 3', async () => (runsOf(`${marker}:hop3`) > 0 ? true : undefined));
      const [parentRun] = await chainRuns(env.client, parentId, parent.firstExecutionRunId);
      const childGrant = of(parentRun!, 'child-workflow')[0]!.payload;
      const revoked = await revokeAuthorization(db(), childGrant.id, 'test: revoke the child');
      expect(revoked.revoked.map((r) => r.id)).toEqual([childGrant.id]);
      const childHandle = env.client.workflow.getHandle(`${parentId}-child`);
      return { failure: await expectGovernanceDenied(childHandle), child: childGrant };
    });
    expect(code(failure)).toBe(DenyCodes.authorizationRevoked);
    expect(failure.message).toContain(`descends from revoked authorization ${child.id}`);
    expect(runsOf(`${marker}:hop3`)).toBe(1);
    expect(runsOf(`${marker}:hop3:after`)).toBe(0);
    expect(runsOf(`${marker}:hop4`)).toBe(0);
    // The parent's own chain is not revoked.
    const snapshot = await loadIdentitySnapshot(db());
    expect(snapshot.revocation('authorization', child.chain.id)).toBeUndefined();
  });
});

describe('an attacker with a copied artifact', () => {
  let arms: Arsenal;
  beforeAll(async () => {
    arms = await arsenal(env);
  });

  test.each([
    ['chain', { chain: { id: 'art_00000000000000000000000000000000', hop: 1 } }],
    ['chain hop', { chain: { id: 'CHAIN', hop: 7 } }],
    ['ancestors', { ancestors: [] }],
  ])('editing %s of a genuine artifact for this very call breaks its signature: refused, the body never runs', async (_what, fields) => {
    const marker = uniqueName('tamper-chain');
    const failure = await env.run(async () => {
      const handle = await env.client.workflow.start(payOnce, { taskQueue: env.taskQueue, workflowId: uniqueName('tamper-chain'), args: [10, marker], memo: { tamper: { mode: 'edit-payload', fields } } });
      return expectGovernanceDenied(handle);
    }, [await env.appWorker({ tamper: true }), await env.governanceWorker()]);
    expect(code(failure)).toBe(DenyCodes.artifactBadSignature);
    expect(runsOf(marker)).toBe(0);
  });

  test("a forged request presenting another chain's run grant gets nothing", async () => {
    const marker = uniqueName('victim');
    const victim = await env.run(async () => {
      const h = await env.client.workflow.start(chainPausing, { taskQueue: env.taskQueue, workflowId: uniqueName('victim'), args: [1, 3, 0, 0, 'charge', marker] });
      await h.result();
      return h;
    });
    const runs = await chainRuns(env.client, victim.workflowId, victim.firstExecutionRunId);
    const hop3Grant = of(runs[2]!, 'workflow')[0]!;
    const answers = await env.run(
      async () =>
        Promise.all(
          // The live-looking run grant of hop 3, and the continue-as-new artifact of hop 2.
          [hop3Grant, of(runs[1]!, 'continue-as-new')[0]!].map((parent) =>
            arms.raw.workflow.execute('rogueAuthorize', {
              taskQueue: arms.rogueQueue,
              workflowId: uniqueName('rogue'),
              args: [{ governanceQueue: env.governanceTaskQueue, action: 'activity', target: 'charge', activityId: '1', args: [{ amount: 1, currency: 'EUR', marker }], parent }],
            }),
          ),
        ),
      await arms.workers({ rogue: true }),
    );
    for (const answer of answers) {
      const denied = deniedWith(answer);
      expect(denied.code).toBe(DenyCodes.invalidGrant);
      expect(denied.reason).toContain('is not bound to this run');
    }
  });
});

describe('nesting cap', () => {
  test(`a child start beyond the cap is denied ${DenyCodes.nestingTooDeep} (cap lowered to 2 for the test)`, async () => {
    const marker = uniqueName('nest');
    const rootId = uniqueName('nest');
    const failure = await env.run(async () => {
      const root = await env.client.workflow.start(nestDeeper, { taskQueue: env.taskQueue, workflowId: rootId, args: [3, marker] });
      // Level 2 (the grandchild) asks for a level-3 child: refused, and the grandchild fails closed
      // (and with it, its ancestors).
      await expect(root.result()).rejects.toThrow();
      return expectGovernanceDenied(env.client.workflow.getHandle(`${rootId}-n-n`));
    }, [await env.appWorker(), await env.governanceWorker({ maxNestingDepth: 2 })]);
    expect(code(failure)).toBe(DenyCodes.nestingTooDeep);
    expect(failure.message).toContain('nesting level 3, deeper than the maximum of 2');
    expect([3, 2, 1].map((l) => runsOf(`${marker}:level${l}`))).toEqual([1, 1, 1]);
    expect(runsOf(`${marker}:level0`)).toBe(0);
  });
});
