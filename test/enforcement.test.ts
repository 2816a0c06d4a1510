// The enforcement point on the real dev server: whatever reaches an activity worker, the body runs
// only with a valid artifact bound to that exact call.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from '@temporalio/worker';
import { ApplicationFailure } from '@temporalio/common';
import { defaultPayloadConverter } from '@temporalio/common';
import { WorkflowFailedError, ActivityFailure, type WorkflowHandle } from '@temporalio/client';
import { HEADER_ARTIFACT } from '../src/common/constants';
import { enforcementInterceptor } from '../interceptors/activity';
import { loadTrustBundle } from '../src/crypto/keys';
import { governedEnv, expectGovernanceDenied, uniqueName, makeKeys, mongoUri, workflowsPath, activities, type Env } from './helpers/harness';
import { mongoIdentitySource } from '../src/identity/cache';
import { claimArtifact } from '../src/identity/store';
import { runsOf } from './fixtures/activities';
import { payOnce, payOnQueue, payTwice } from './fixtures/workflows';

let env: Env;
beforeAll(async () => {
  env = await governedEnv();
});
afterAll(async () => env?.close());

/**
 * The enforcement point's denial. Under governed workflows the interceptors turn it into the run's
 * own GovernanceDenied failure (search attributes set); without them it arrives as the cause of an
 * ActivityFailure. Either way it is non-retryable and names the reason.
 */
async function activityDenial(handle: WorkflowHandle, governedWorkflow = true): Promise<ApplicationFailure> {
  const failure = await expectGovernanceDenied(handle);
  expect(failure.nonRetryable).toBe(true);
  if (governedWorkflow) {
    const { searchAttributes } = await handle.describe();
    expect(searchAttributes).toMatchObject({ GovernanceDecision: ['denied'], GovernanceDenyCode: [(failure.details?.[0] as { code: string }).code] });
  } else {
    const err = await handle.result().catch((e: unknown) => e);
    expect((err as WorkflowFailedError).cause).toBeInstanceOf(ActivityFailure);
  }
  return failure;
}

async function startTampered(wf: typeof payOnce | typeof payTwice, tamper: object, args: [number, string], workflowId = uniqueName('tamper')) {
  return env.client.workflow.start(wf, { taskQueue: env.taskQueue, workflowId, args, memo: { tamper } });
}

async function runTampered(tamper: object, wf: typeof payOnce | typeof payTwice = payOnce, workflowId?: string) {
  const marker = uniqueName('tampered');
  const failure = await env.run(
    async () => activityDenial(await startTampered(wf, tamper, [10, marker], workflowId)),
    [await env.appWorker({ tamper: true }), await env.governanceWorker()],
  );
  return { marker, failure, code: (failure.details?.[0] as { code: string }).code };
}

/** An artifact issued for a real, allowed call (read back from that workflow's history). */
async function issuedArtifact(workflowId = uniqueName('source')): Promise<{ artifact: unknown; workflowId: string }> {
  return env.run(async () => {
    const handle = await env.client.workflow.start(payOnce, { taskQueue: env.taskQueue, workflowId, args: [10, uniqueName('source')] });
    await handle.result();
    const history = await handle.fetchHistory();
    const scheduled = (history.events ?? []).map((e) => e.activityTaskScheduledEventAttributes).filter((a) => a?.activityType?.name === 'charge');
    const header = scheduled[0]!.header!.fields![HEADER_ARTIFACT]!;
    return { artifact: defaultPayloadConverter.fromPayload(header as never), workflowId };
  });
}

test('a flipped signature byte is denied and the body never runs', async () => {
  const { marker, code, failure } = await runTampered({ mode: 'flip-signature' });
  expect(code).toBe('ARTIFACT_BAD_SIGNATURE');
  expect(failure.message).toContain('signature does not verify');
  expect(runsOf(marker)).toBe(0);
});

test('a flipped byte in the signed payload is denied', async () => {
  const { marker, code } = await runTampered({ mode: 'flip-payload' });
  expect(code).toBe('ARTIFACT_BAD_SIGNATURE');
  expect(runsOf(marker)).toBe(0);
});

test('a missing artifact header is denied', async () => {
  const { marker, code } = await runTampered({ mode: 'drop' });
  expect(code).toBe('ARTIFACT_MISSING');
  expect(runsOf(marker)).toBe(0);
});

test('a malformed artifact header is denied', async () => {
  const { marker, code } = await runTampered({ mode: 'malformed' });
  expect(code).toBe('ARTIFACT_MALFORMED');
  expect(runsOf(marker)).toBe(0);
});

test('arguments changed after authorization are denied (digest binding)', async () => {
  const { marker, code, failure } = await runTampered({ mode: 'change-args' });
  expect(code).toBe('ARTIFACT_BINDING_MISMATCH');
  expect(failure.message).toContain('argsDigest');
  expect(runsOf(marker)).toBe(0);
});

test('an artifact from another workflow is denied', async () => {
  const { artifact } = await issuedArtifact();
  const { marker, code, failure } = await runTampered({ mode: 'replace', artifact });
  expect(code).toBe('ARTIFACT_BINDING_MISMATCH');
  expect(failure.message).toContain('workflowId');
  expect(runsOf(marker)).toBe(0);
});

test('an artifact from another run of the same workflow id is denied', async () => {
  const { artifact, workflowId } = await issuedArtifact();
  const { marker, code, failure } = await runTampered({ mode: 'replace', artifact }, payOnce, workflowId);
  expect(code).toBe('ARTIFACT_BINDING_MISMATCH');
  expect(failure.message).toContain('runId');
  expect(runsOf(marker)).toBe(0);
});

test("an artifact for another activity of the same run is denied", async () => {
  const marker = uniqueName('swap');
  const failure = await env.run(
    async () => activityDenial(await startTampered(payTwice, { mode: 'swap-within-run' }, [10, marker])),
    [await env.appWorker({ tamper: true }), await env.governanceWorker()],
  );
  expect(failure.details?.[0]).toMatchObject({ code: 'ARTIFACT_BINDING_MISMATCH' });
  expect(failure.message).toContain('activityId');
  expect(runsOf(`${marker}#1`)).toBe(1); // its own artifact
  expect(runsOf(`${marker}#2`)).toBe(0); // the first call's artifact, replayed
});

test('an artifact signed by a key the worker does not trust is denied', async () => {
  const other = makeKeys('someone-elses-key');
  const marker = uniqueName('untrusted');
  const failure = await env.run(
    async () => activityDenial(await env.client.workflow.start(payOnce, { taskQueue: env.taskQueue, workflowId: uniqueName('untrusted'), args: [10, marker] })),
    [await env.appWorker({ trustBundle: other.bundlePath }), await env.governanceWorker()],
  );
  expect(failure.details?.[0]).toMatchObject({ code: 'ARTIFACT_UNTRUSTED_KEY' });
  expect(runsOf(marker)).toBe(0);
});

test('an artifact signed by a retired key is denied', async () => {
  const retired = join(env.keys.dir, 'retired-bundle.json');
  const bundle = JSON.parse(readFileSync(env.keys.bundlePath, 'utf8'));
  bundle.keys[0].notAfter = new Date(Date.now() - 1000).toISOString();
  writeFileSync(retired, JSON.stringify(bundle));
  const marker = uniqueName('retired');
  const failure = await env.run(
    async () => activityDenial(await env.client.workflow.start(payOnce, { taskQueue: env.taskQueue, workflowId: uniqueName('retired'), args: [10, marker] })),
    [await env.appWorker({ trustBundle: retired }), await env.governanceWorker()],
  );
  expect(failure.details?.[0]).toMatchObject({ code: 'ARTIFACT_KEY_NOT_VALID' });
  expect(runsOf(marker)).toBe(0);
});

test('an artifact that expired before the first attempt started is denied', async () => {
  const marker = uniqueName('expired');
  const governance = await env.governanceWorker({ artifactTtlMs: 1 });
  // Authorize while no app worker polls activities, then let the call wait past expiry + skew.
  const workflowOnly = await env.appWorker({ activities: {} });
  const handle = await env.run(async () => {
    const h = await env.client.workflow.start(payOnce, { taskQueue: env.taskQueue, workflowId: uniqueName('expired'), args: [10, marker] });
    // wait until the charge is scheduled (authorization done)
    for (;;) {
      const history = await h.fetchHistory();
      if ((history.events ?? []).some((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'charge')) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    return h;
  }, [governance, workflowOnly]);
  await new Promise((r) => setTimeout(r, 6_500));
  const failure = await env.run(async () => activityDenial(handle), [await env.appWorker()]);
  expect(failure.details?.[0]).toMatchObject({ code: 'ARTIFACT_EXPIRED' });
  expect(runsOf(marker)).toBe(0);
});

test('a worker without the workflow interceptors cannot run a protected activity', async () => {
  const marker = uniqueName('ungoverned');
  const taskQueue = uniqueName('ungoverned-workflows');
  // Workflows on a plain worker (no plugin); the activity on a governed worker.
  const plain = await Worker.create({ connection: env.connection, taskQueue, workflowsPath, activities: {} });
  const identity = mongoIdentitySource({ mongoUri: mongoUri(), database: env.lineageDatabase });
  const governedActivities = await Worker.create({
    connection: env.connection,
    taskQueue: env.taskQueue,
    activities,
    interceptors: {
      activity: [
        enforcementInterceptor({
          trustBundle: () => loadTrustBundle(env.keys.bundlePath),
          identity: () => identity.current(),
          claimArtifact: async (claim) => claimArtifact(await identity.db(), claim),
        }),
      ],
    },
  });
  const failure = await env.run(async () => {
    const handle = await env.client.workflow.start(payOnQueue, { taskQueue, workflowId: uniqueName('ungoverned'), args: [env.taskQueue, 10, marker] });
    return activityDenial(handle, false);
  }, [plain, governedActivities]).finally(() => identity.close());
  expect(failure.details?.[0]).toMatchObject({ code: 'ARTIFACT_MISSING' });
  expect(runsOf(marker)).toBe(0);
});
