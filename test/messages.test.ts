// Signals and updates, as an attacker with namespace access would send them: without a proof, with
// a proof of a principal the policy refuses, with a proof copied from history, with a proof bound
// to other arguments or another workflow. A handler that runs charges (side-effect marker), so a
// refused message is proven never to have reached its handler.
import { Client, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure, defaultPayloadConverter, type Payload } from '@temporalio/common';
import { HEADER_MESSAGE_PROOF } from '../src/common/constants';
import { createApiKey } from '../src/identity/store';
import { connectLineage } from '../src/lineage/store';
import { GovernancePlugin } from '../src/plugin';
import { authorizationsOf, eventually } from './attacks/helpers';
import { approveUnvalidatedUpdate, approveUpdate, finishSignal, instructSignal, steered, stepsQuery } from './fixtures/workflows';
import { runsOf } from './fixtures/activities';
import { governedEnv, uniqueName, type Env } from './helpers/harness';

let env: Env;
let bobKey: string;

beforeAll(async () => {
  env = await governedEnv();
  const { client, db } = await connectLineage(process.env.MONGODB_URI!, env.lineageDatabase);
  try {
    bobKey = (await createApiKey(db, { principal: 'bob' })).apiKey; // bob is a viewer: the policy lets him steer nothing
  } finally {
    await client.close();
  }
});
afterAll(async () => env?.close());

const withKey = (apiKey: string) => new Client({ connection: env.client.connection, plugins: [new GovernancePlugin({ apiKey })] });
const plain = () => new Client({ connection: env.client.connection });

/** A client that sends signals with this message-proof header verbatim (copied from history, or forged). */
function signalingWith(proof: Payload): Client {
  return new Client({
    connection: env.client.connection,
    interceptors: { workflow: [{ signal: (input, next) => next({ ...input, headers: { ...input.headers, [HEADER_MESSAGE_PROOF]: proof } }) }] },
  });
}

/** The message-proof headers of the run's signals, in order, as the server recorded them. */
async function signalProofs(handle: WorkflowHandle): Promise<Payload[]> {
  const history = await handle.fetchHistory();
  return (history.events ?? []).flatMap((e) => {
    const proof = e.workflowExecutionSignaledEventAttributes?.header?.fields?.[HEADER_MESSAGE_PROOF];
    return proof ? [proof as Payload] : [];
  });
}

/** The decisions governance made on the run's signals and updates, in order. */
async function messageDecisions(handle: WorkflowHandle): Promise<Array<{ action: string; target: string; decision: string; code?: string; principal: string | null }>> {
  return (await authorizationsOf(env.client, handle.workflowId))
    .filter((a) => a.request.action === 'signal' || a.request.action === 'update')
    .map((a) =>
      a.result.decision === 'allow'
        ? { action: a.request.action, target: a.request.target, decision: 'allow', principal: a.result.artifact.payload.principal }
        : { action: a.request.action, target: a.request.target, decision: 'deny', code: a.result.denial.payload.code, principal: a.result.denial.payload.principal },
    );
}

async function decisionsAfter(handle: WorkflowHandle, count: number) {
  return eventually(`${count} message decision(s)`, async () => {
    const d = await messageDecisions(handle);
    return d.length >= count ? d : undefined;
  });
}

function startSteered(marker: string): Promise<WorkflowHandle<typeof steered>> {
  return env.client.workflow.start(steered, { taskQueue: env.taskQueue, workflowId: uniqueName('steered'), args: [marker] });
}

test('a signal proven by an operator reaches its handler; the decision names the sender and descends from the run grant', async () => {
  const marker = uniqueName('signal-ok');
  await env.run(async () => {
    const handle = await startSteered(marker);
    await withKey(env.apiKey).workflow.getHandle(handle.workflowId).signal(instructSignal, { step: 'refund', amount: 5 });
    await handle.signal(finishSignal);
    expect(await handle.result()).toEqual(['refund']);
    const [grant, ...rest] = await authorizationsOf(env.client, handle.workflowId);
    const signal = rest.find((a) => a.request.action === 'signal' && a.request.target === 'instruct')!;
    expect(signal.result.decision).toBe('allow');
    if (signal.result.decision !== 'allow' || grant!.result.decision !== 'allow') throw new Error('expected allows');
    expect(signal.result.artifact.payload).toMatchObject({ action: 'signal', target: 'instruct', principal: 'alice', rootId: grant!.result.artifact.payload.id });
    expect(signal.result.artifact.payload.parent?.id).toBe(grant!.result.artifact.payload.id);
  });
  expect(runsOf(`${marker}:refund`)).toBe(1);
});

test('signals from a principal the policy refuses, or with no proof at all, are dropped; the run goes on', async () => {
  const marker = uniqueName('signal-refused');
  await env.run(async () => {
    const handle = await startSteered(marker);
    await withKey(bobKey).workflow.getHandle(handle.workflowId).signal(instructSignal, { step: 'bob', amount: 5 });
    await plain().workflow.getHandle(handle.workflowId).signal(instructSignal, { step: 'anonymous', amount: 5 });
    const decisions = await decisionsAfter(handle, 2);
    expect(decisions.sort((a, b) => a.code!.localeCompare(b.code!))).toEqual([
      { action: 'signal', target: 'instruct', decision: 'deny', code: 'NO_MATCHING_ALLOW', principal: 'bob' },
      { action: 'signal', target: 'instruct', decision: 'deny', code: 'UNAUTHENTICATED', principal: null },
    ]);
    expect(await handle.query(stepsQuery)).toEqual([]);
    const { searchAttributes } = await handle.describe();
    expect(searchAttributes.GovernanceDecision).toEqual(['message-denied']);
    expect(['UNAUTHENTICATED', 'NO_MATCHING_ALLOW']).toContain(searchAttributes.GovernanceDenyCode?.[0]);
    await handle.signal(finishSignal);
    expect(await handle.result()).toEqual([]);
  });
  expect(runsOf(`${marker}:bob`)).toBe(0);
  expect(runsOf(`${marker}:anonymous`)).toBe(0);
});

test('a signal proof copied from history admits nothing: not again, not with other arguments, not on another workflow', async () => {
  const marker = uniqueName('signal-replay');
  await env.run(async () => {
    const handle = await startSteered(marker);
    await handle.signal(instructSignal, { step: 'once', amount: 5 });
    await eventually('the genuine signal to run', async () => (runsOf(`${marker}:once`) === 1 ? true : undefined));
    const [copied] = await signalProofs(handle);

    // The same signal, same arguments, same proof: replayed.
    await signalingWith(copied!).workflow.getHandle(handle.workflowId).signal(instructSignal, { step: 'once', amount: 5 });
    // The proof with other arguments: bound to the genuine ones.
    await signalingWith(copied!).workflow.getHandle(handle.workflowId).signal(instructSignal, { step: 'forged', amount: 900 });
    const decisions = await decisionsAfter(handle, 3);
    expect(decisions.map((d) => d.code ?? d.decision).sort()).toEqual(['INVALID_PROOF', 'PROOF_REPLAYED', 'allow']);

    // Another workflow: the proof names this one.
    const other = await startSteered(`${marker}:other`);
    await signalingWith(copied!).workflow.getHandle(other.workflowId).signal(instructSignal, { step: 'once', amount: 5 });
    expect((await decisionsAfter(other, 1)).map((d) => d.code)).toEqual(['INVALID_PROOF']);
    for (const h of [handle, other]) await h.signal(finishSignal);
    expect(await handle.result()).toEqual(['once']);
    expect(await other.result()).toEqual([]);
  });
  expect(runsOf(`${marker}:once`)).toBe(1);
  expect(runsOf(`${marker}:forged`)).toBe(0);
  expect(runsOf(`${marker}:other:once`)).toBe(0);
});

test('a forged signal proof (signature over other bytes) is refused', async () => {
  const marker = uniqueName('signal-forged');
  await env.run(async () => {
    const handle = await startSteered(marker);
    await handle.signal(instructSignal, { step: 'genuine', amount: 5 });
    await eventually('the genuine signal to run', async () => (runsOf(`${marker}:genuine`) === 1 ? true : undefined));
    const [copied] = await signalProofs(handle);
    const proof = defaultPayloadConverter.fromPayload<{ payload: Record<string, unknown>; signature: string }>(copied!);
    // The attacker rewrites what the proof binds (other arguments, a fresh nonce) and keeps the signature.
    const { argumentsDigest } = await import('../src/common/digest');
    const forged = { ...proof, payload: { ...proof.payload, argsDigest: argumentsDigest([{ step: 'forged', amount: 900 }]), nonce: 'f'.repeat(32) } };
    await signalingWith(defaultPayloadConverter.toPayload(forged)).workflow.getHandle(handle.workflowId).signal(instructSignal, { step: 'forged', amount: 900 });
    const decisions = await decisionsAfter(handle, 2);
    expect(decisions[1]).toMatchObject({ decision: 'deny', code: 'INVALID_PROOF', principal: 'alice' });
    await handle.signal(finishSignal);
    await handle.result();
  });
  expect(runsOf(`${marker}:forged`)).toBe(0);
});

test('updates: an operator gets the result; a refused principal gets GovernanceDenied before the handler runs; the run goes on', async () => {
  const marker = uniqueName('update');
  await env.run(async () => {
    const handle = await startSteered(marker);
    expect(await handle.executeUpdate(approveUpdate, { args: [{ amount: 7 }] })).toBe('approved 7');

    const refused = await withKey(bobKey).workflow.getHandle(handle.workflowId).executeUpdate(approveUpdate, { args: [{ amount: 8 }] }).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(WorkflowUpdateFailedError);
    const cause = (refused as WorkflowUpdateFailedError).cause as ApplicationFailure;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect(cause.type).toBe('GovernanceDenied');
    expect(cause.details?.[0]).toMatchObject({ code: 'NO_MATCHING_ALLOW', principal: 'bob', action: 'update', target: 'approve' });

    await handle.signal(finishSignal);
    expect(await handle.result()).toEqual(['approve:7']);
  });
  expect(runsOf(`${marker}:approve:7`)).toBe(1);
  expect(runsOf(`${marker}:approve:8`)).toBe(0);
});

test('an update without a proof is rejected by the validator (never accepted into history), or, with no validator, denied before its handler', async () => {
  const marker = uniqueName('update-unproven');
  await env.run(async () => {
    const handle = await startSteered(marker);
    const anonymous = plain().workflow.getHandle(handle.workflowId);
    const rejected = await anonymous.executeUpdate(approveUpdate, { args: [{ amount: 9 }] }).catch((err: unknown) => err);
    expect(((rejected as WorkflowUpdateFailedError).cause as ApplicationFailure).details?.[0]).toMatchObject({ code: 'UNAUTHENTICATED', action: 'update' });
    const history = await handle.fetchHistory();
    expect((history.events ?? []).filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes)).toHaveLength(0);

    const denied = await anonymous.executeUpdate(approveUnvalidatedUpdate, { args: [{ amount: 10 }] }).catch((err: unknown) => err);
    expect(((denied as WorkflowUpdateFailedError).cause as ApplicationFailure).details?.[0]).toMatchObject({ code: 'UNAUTHENTICATED', action: 'update', target: 'approveUnvalidated' });

    await handle.signal(finishSignal);
    expect(await handle.result()).toEqual([]);
  });
  expect(runsOf(`${marker}:approve:9`)).toBe(0);
  expect(runsOf(`${marker}:approve:10`)).toBe(0);
});

test('signal-with-start and update-with-start: the start and the message are each proven', async () => {
  const marker = uniqueName('with-start');
  await env.run(async () => {
    const handle = await env.client.workflow.signalWithStart(steered, {
      taskQueue: env.taskQueue,
      workflowId: uniqueName('signal-with-start'),
      args: [marker],
      signal: instructSignal,
      signalArgs: [{ step: 'first', amount: 3 }],
    });
    await handle.signal(finishSignal);
    expect(await handle.result()).toEqual(['first']);

    const { WithStartWorkflowOperation } = await import('@temporalio/client');
    const startOperation = new WithStartWorkflowOperation(steered, {
      workflowId: uniqueName('update-with-start'),
      taskQueue: env.taskQueue,
      args: [`${marker}:uws`],
      workflowIdConflictPolicy: 'FAIL',
    });
    expect(await env.client.workflow.executeUpdateWithStart(approveUpdate, { args: [{ amount: 4 }], startWorkflowOperation: startOperation })).toBe('approved 4');
    const started = await startOperation.workflowHandle();
    await started.signal(finishSignal);
    expect(await started.result()).toEqual(['approve:4']);
  });
  expect(runsOf(`${marker}:first`)).toBe(1);
  expect(runsOf(`${marker}:uws:approve:4`)).toBe(1);
});

test('a deny rule with failWorkflow: the refused signal fails the run closed (strict), nothing after it runs', async () => {
  const marker = uniqueName('fail-workflow');
  await env.run(async () => {
    const handle = await startSteered(marker);
    await handle.signal(instructSignal, { step: 'sabotage', amount: 5 });
    const { expectGovernanceDenied } = await import('./helpers/harness');
    const failure = await expectGovernanceDenied(handle);
    expect(failure.details?.[0]).toMatchObject({ code: 'SABOTAGE', action: 'signal', target: 'instruct', principal: 'alice', failWorkflow: true });
    expect((await handle.describe()).searchAttributes.GovernanceDecision).toEqual(['denied']);
  });
  expect(runsOf(`${marker}:sabotage`)).toBe(0);
});

test('a run whose chain was revoked cannot be steered: its signals are refused with the revocation', async () => {
  const marker = uniqueName('revoked-chain');
  const { revoke } = await import('../src/identity/store');
  await env.run(async () => {
    const handle = await startSteered(marker);
    const grant = await eventually('the run grant', async () => {
      const a = (await authorizationsOf(env.client, handle.workflowId)).find((x) => x.request.action === 'workflow');
      return a?.result.decision === 'allow' ? a.result.artifact : undefined;
    });
    const { client, db } = await connectLineage(process.env.MONGODB_URI!, env.lineageDatabase);
    try {
      await revoke(db, 'authorization', grant.payload.id, 'test: the run is revoked');
    } finally {
      await client.close();
    }
    await new Promise((r) => setTimeout(r, 2_500)); // two identity refresh periods
    await handle.signal(instructSignal, { step: 'after-revocation', amount: 5 });
    expect((await decisionsAfter(handle, 1)).map((d) => d.code)).toEqual(['AUTHORIZATION_REVOKED']);
    await handle.terminate('test: done');
  });
  expect(runsOf(`${marker}:after-revocation`)).toBe(0);
});
