// The core promise on the real dev server: protected activities run only when authorized, and a
// denial fails the workflow closed.
import { WorkflowFailedError } from '@temporalio/client';
import { governedEnv, expectGovernanceDenied, uniqueName, type Env } from './helpers/harness';
import { runsOf, bodyRuns } from './fixtures/activities';
import { payCatching, payOnce, payTwice, rateThenPay, payLocal, flakyLocalWorkflow, parentPays, payThenContinue, digestRoundTrip } from './fixtures/workflows';

let env: Env;
beforeAll(async () => {
  env = await governedEnv();
});
afterAll(async () => env?.close());

const start = <A extends unknown[]>(wf: (...args: A) => Promise<unknown>, ...args: A) =>
  env.client.workflow.start(wf, { taskQueue: env.taskQueue, workflowId: uniqueName(wf.name), args });

test('an allowed call runs its activity body once, with a signed artifact', async () => {
  const marker = uniqueName('allow');
  const result = await env.run(async () => (await start(payOnce, 250, marker)).result());
  expect(result).toBe('charged 250 EUR');
  expect(runsOf(marker)).toBe(1);
});

test('a call denied by an argument limit fails the workflow closed and never runs the body', async () => {
  const marker = uniqueName('deny');
  const failure = await env.run(async () => {
    const handle = await start(payOnce, 5000, marker);
    const f = await expectGovernanceDenied(handle);
    const description = await handle.describe();
    expect(description.searchAttributes).toMatchObject({
      GovernanceDecision: ['denied'],
      GovernanceDenyCode: ['AMOUNT_OVER_LIMIT'],
    });
    return f;
  });
  expect(runsOf(marker)).toBe(0);
  expect(failure.nonRetryable).toBe(true);
  expect(failure.message).toContain('deny-large-charges');
  expect(failure.message).toContain('args[0].amount = 5000');
  expect(failure.details?.[0]).toMatchObject({
    code: 'AMOUNT_OVER_LIMIT',
    ruleIds: ['deny-large-charges'],
    policyId: 'test-policy',
    principal: 'alice',
    action: 'activity',
    target: 'charge',
  });
  expect((failure.details?.[0] as { policyVersion: string }).policyVersion).toMatch(/^sha256:[0-9a-f]{64}$/);
  expect((failure.details?.[0] as { decisionId: string }).decisionId).toMatch(/^dec_[0-9a-f]{32}$/);
});

test('a denial caught by workflow code still fails the workflow (strict mode)', async () => {
  const marker = uniqueName('caught');
  const failure = await env.run(async () => expectGovernanceDenied(await start(payCatching, 5000, marker)));
  expect(failure.details?.[0]).toMatchObject({ code: 'AMOUNT_OVER_LIMIT' });
  expect(runsOf(marker)).toBe(0);
  expect(runsOf(`${marker}:after-catch`)).toBe(0);
});

test('a principal without a matching allow rule is denied at the root grant (default deny)', async () => {
  const bobEnv = await governedEnv({ principal: 'bob' });
  try {
    const marker = uniqueName('bob');
    const failure = await bobEnv.run(async () =>
      expectGovernanceDenied(await bobEnv.client.workflow.start(payOnce, { taskQueue: bobEnv.taskQueue, workflowId: uniqueName('bob'), args: [10, marker] })),
    );
    expect(failure.details?.[0]).toMatchObject({ code: 'NO_MATCHING_ALLOW', action: 'workflow', target: 'payOnce', principal: 'bob' });
    expect(runsOf(marker)).toBe(0);
  } finally {
    await bobEnv.close();
  }
});

test('policy-exempt activities run without a per-call authorization; protected ones still need one', async () => {
  const marker = uniqueName('exempt');
  const result = await env.run(async () => {
    const handle = await start(rateThenPay, 100, marker);
    const value = await handle.result();
    const history = await handle.fetchHistory();
    const scheduled = (history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes).map((e) => e.activityTaskScheduledEventAttributes!.activityType!.name);
    // run grant + charge authorization; lookupRate needs none
    expect(scheduled).toEqual(['temporal-governance.authorize', 'lookupRate', 'temporal-governance.authorize', 'charge']);
    return value;
  });
  expect(result).toBe('charged 110 USD');
  expect(runsOf(`${marker}:rate`)).toBe(1);
  expect(runsOf(marker)).toBe(1);
});

test('each call gets its own artifact: two charges, two authorizations', async () => {
  const marker = uniqueName('twice');
  await env.run(async () => (await start(payTwice, 10, marker)).result());
  expect(runsOf(`${marker}#1`)).toBe(1);
  expect(runsOf(`${marker}#2`)).toBe(1);
});

test('local activities are governed: allowed runs, denied fails closed', async () => {
  const ok = uniqueName('local-ok');
  const denied = uniqueName('local-deny');
  await env.run(async () => {
    expect(await (await start(payLocal, 20, ok)).result()).toBe('charged locally 20 EUR');
    const failure = await expectGovernanceDenied(await start(payLocal, 20_000, denied));
    expect(failure.details?.[0]).toMatchObject({ code: 'AMOUNT_OVER_LIMIT', action: 'local-activity', target: 'chargeLocal' });
  });
  expect(runsOf(ok)).toBe(1);
  expect(runsOf(denied)).toBe(0);
});

test('local activity backoff (LocalActivityDoBackoff) passes through and each new attempt is authorized', async () => {
  const marker = uniqueName('flaky');
  const attempts = await env.run(async () => (await start(flakyLocalWorkflow, marker)).result());
  expect(attempts).toBe(3);
  expect(bodyRuns.filter((m) => m.startsWith(`${marker}:attempt`))).toEqual([`${marker}:attempt1`, `${marker}:attempt2`, `${marker}:attempt3`]);
});

test('child workflows carry governance context: the child run is granted and its calls are governed', async () => {
  const ok = uniqueName('child-ok');
  const denied = uniqueName('child-deny');
  await env.run(async () => {
    expect(await (await start(parentPays, 30, ok)).result()).toBe('charged 30 EUR');
    const handle = await start(parentPays, 30_000, denied);
    await expect(handle.result()).rejects.toBeInstanceOf(WorkflowFailedError);
    const child = env.client.workflow.getHandle(`${handle.workflowId}-child`);
    const failure = await expectGovernanceDenied(child);
    expect(failure.details?.[0]).toMatchObject({ code: 'AMOUNT_OVER_LIMIT', principal: 'alice' });
  });
  expect(runsOf(ok)).toBe(1);
  expect(runsOf(denied)).toBe(0);
});

test('continue-as-new is authorized and the continued runs stay governed', async () => {
  const marker = uniqueName('can');
  const result = await env.run(async () => (await start(payThenContinue, 2, marker)).result());
  expect(result).toMatch(/^done in run continued from /);
  expect([0, 1, 2].map((n) => runsOf(`${marker}:${n}`))).toEqual([1, 1, 1]);
});

test('the argument digest is identical before conversion (workflow) and after decoding (activity)', async () => {
  const result = (await env.run(async () => (await start(digestRoundTrip)).result())) as { workflow: string; activity: string };
  expect(result.activity).toBe(result.workflow);
  expect(result.workflow).toMatch(/^sha256:[0-9a-f]{64}$/);
});
