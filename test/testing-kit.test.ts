// The testing kit used exactly as a user would: a TestWorkflowEnvironment (createLocal, its own dev
// server without the governance search attributes), the kit, an app Worker with kit.plugin.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { MongoClient } from 'mongodb';
import { expectGovernanceDenied, governanceDenial, GovernanceTestKit } from '../src/testing';
import { ensureTemporalCli } from '../src/stack/tools';
import { payInvoice, type Invoice } from './fixtures/billing-workflows';
import { AesGcmCodec, ENCRYPTED_ENCODING } from './fixtures/encryption-codec';

const policy = {
  id: 'billing-policy',
  rules: [
    { id: 'payments-run-workflows', effect: 'allow', when: { actions: ['workflow'], roles: ['payments'] } },
    { id: 'payments-charge', effect: 'allow', when: { actions: ['activity'], targets: ['chargeCard'], roles: ['payments'] } },
    {
      id: 'deny-large-charges',
      effect: 'deny',
      code: 'AMOUNT_OVER_LIMIT',
      reason: 'charges above 1000 need a second approver',
      when: { targets: ['chargeCard'], args: [{ field: 'amount', op: 'gt', value: 1000 }] },
    },
  ],
};

/** Side-effect marker: the invoices whose activity body ran. */
const charged: string[] = [];
const activities = {
  async chargeCard(invoice: Invoice): Promise<string> {
    charged.push(invoice.id);
    return `charged ${invoice.amount}`;
  },
};

const taskQueue = 'billing';
let counter = 0;
const workflowId = (name: string) => `${name}-${process.pid}-${(counter += 1)}`;

let env: TestWorkflowEnvironment;
let governance: GovernanceTestKit;
let worker: Worker;
let running: Promise<void>;

beforeAll(async () => {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  // Users write `TestWorkflowEnvironment.createLocal()`, which downloads the Temporal CLI; the
  // project's copy is used here because the test machine is offline.
  env = await TestWorkflowEnvironment.createLocal({ server: { executable: { type: 'existing-path', path: ensureTemporalCli(() => undefined) } } });
  governance = await GovernanceTestKit.create({ env, policy, mongoUri: process.env.MONGODB_URI!, principal: { id: 'alice', roles: ['payments'] } });
  worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowsPath: require.resolve('./fixtures/billing-workflows'),
    activities,
    plugins: [governance.plugin],
  });
  running = worker.run();
});

afterAll(async () => {
  worker?.shutdown();
  await running;
  await governance?.close();
  await env?.teardown();
});

test('an allowed workflow runs its activity, and its lineage records both authorizations', async () => {
  const id = workflowId('pay-small');
  const result = await governance.client.workflow.execute(payInvoice, { taskQueue, workflowId: id, args: [{ id: 'inv-1', amount: 250 }] });
  expect(result).toBe('charged 250');
  expect(charged).toContain('inv-1');

  const records = await governance.lineage(id);
  expect(records.map((r) => [r.action, r.target, r.decision, r.principal])).toEqual([
    ['workflow', 'payInvoice', 'allow', 'alice'],
    ['activity', 'chargeCard', 'allow', 'alice'],
  ]);
  expect(records[1]!.parentId).toBe(records[0]!._id);
  expect(records[1]!.rules).toEqual(['payments-charge']);
  expect(records[1]!.policy.version).toBe(governance.policy.version);
});

test('a denied call fails the workflow with GovernanceDenied, never runs the body, and is recorded', async () => {
  const id = workflowId('pay-large');
  const handle = await governance.client.workflow.start(payInvoice, { taskQueue, workflowId: id, args: [{ id: 'inv-2', amount: 5000 }] });
  const denial = await expectGovernanceDenied(handle);
  expect(denial).toMatchObject({ code: 'AMOUNT_OVER_LIMIT', ruleIds: ['deny-large-charges'], principal: 'alice', action: 'activity', target: 'chargeCard', policyId: 'billing-policy' });
  expect(charged).not.toContain('inv-2');
  // The kit registered the search attributes this fresh dev server lacked: operators can filter.
  expect((await handle.describe()).searchAttributes).toMatchObject({ GovernanceDecision: ['denied'], GovernanceDenyCode: ['AMOUNT_OVER_LIMIT'] });

  const records = await governance.lineage(id);
  expect(records.map((r) => [r.action, r.decision, r.denyCode])).toEqual([
    ['workflow', 'allow', null],
    ['activity', 'deny', 'AMOUNT_OVER_LIMIT'],
  ]);
  expect(records[1]!.decisionId).toBe(denial.decisionId);
});

test('governanceDenial reads the denial from the error a failed result throws', async () => {
  const err = await governance.client.workflow
    .execute(payInvoice, { taskQueue, workflowId: workflowId('pay-caught'), args: [{ id: 'inv-3', amount: 1001 }] })
    .then(() => undefined, (e: unknown) => e);
  expect(governanceDenial(err)?.code).toBe('AMOUNT_OVER_LIMIT');
  expect(governanceDenial(new Error('unrelated'))).toBeUndefined();
});

test('another principal, with other roles, is denied at the root grant (default deny)', async () => {
  const bob = await governance.clientFor({ id: 'bob', roles: ['viewer'] });
  const id = workflowId('bob-pays');
  const denial = await expectGovernanceDenied(await bob.workflow.start(payInvoice, { taskQueue, workflowId: id, args: [{ id: 'inv-4', amount: 10 }] }));
  expect(denial).toMatchObject({ code: 'NO_MATCHING_ALLOW', principal: 'bob', action: 'workflow', target: 'payInvoice' });
  expect(charged).not.toContain('inv-4');
  const records = await governance.lineage(id);
  expect(records.map((r) => [r.principal, r.action, r.decision, r.denyCode])).toEqual([['bob', 'workflow', 'deny', 'NO_MATCHING_ALLOW']]);
});

test('expectGovernanceDenied refuses a workflow that completed', async () => {
  const handle = await governance.client.workflow.start(payInvoice, { taskQueue, workflowId: workflowId('pay-ok'), args: [{ id: 'inv-5', amount: 1 }] });
  await expect(expectGovernanceDenied(handle)).rejects.toMatchObject({ name: 'GovernanceTestKitError', code: 'NOT_DENIED' });
  expect(charged).toContain('inv-5');
});

test('a principal asked for with roles other than it holds is refused (PRINCIPAL_CONFLICT)', async () => {
  await expect(governance.clientFor({ id: 'alice', roles: ['admin'] })).rejects.toMatchObject({ code: 'PRINCIPAL_CONFLICT' });
});

test('close() leaves nothing running: a process using the kit exits on its own, its database and key are gone', async () => {
  const script = join(__dirname, 'fixtures', 'testing-kit-exit.ts');
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', script], { cwd: join(__dirname, '..'), env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  // A hang detector, not a speed assertion: a process that does not exit is what this test catches.
  const code = await new Promise<number | string>((resolve) => {
    const hang = setTimeout(() => {
      child.kill('SIGKILL');
      resolve('did not exit within 90 s after close()');
    }, 90_000);
    child.on('exit', (c) => {
      clearTimeout(hang);
      resolve(c ?? -1);
    });
  });
  expect({ code, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, stderr: '' });
  const report = JSON.parse(stdout.trim().split('\n').pop()!) as { result: string; records: number; database: string; trustBundlePath: string };
  expect(report).toMatchObject({ result: 'charged 5', records: 2 });
  expect(existsSync(report.trustBundlePath)).toBe(false);
  const mongo = await MongoClient.connect(process.env.MONGODB_URI!);
  try {
    const { databases } = await mongo.db('admin').admin().listDatabases({ nameOnly: true });
    expect(databases.map((d) => d.name)).not.toContain(report.database);
    expect(report.database).toMatch(/^tg_test_[0-9a-f]{16}$/);
  } finally {
    await mongo.close();
  }
});

test('with an encryption codec on the clients, the kit governs and reads lineage through it', async () => {
  const dataConverter = { payloadCodecs: [new AesGcmCodec(randomBytes(32), 'kit-test')] };
  const kit = await GovernanceTestKit.create({ env, policy, mongoUri: process.env.MONGODB_URI!, principal: { id: 'carol', roles: ['payments'] }, clientOptions: { dataConverter } });
  const codecWorker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue: 'billing-encrypted',
    workflowsPath: require.resolve('./fixtures/billing-workflows'),
    activities,
    dataConverter,
    plugins: [kit.plugin],
  });
  const run = codecWorker.run();
  try {
    const id = workflowId('pay-encrypted');
    expect(await kit.client.workflow.execute(payInvoice, { taskQueue: 'billing-encrypted', workflowId: id, args: [{ id: 'inv-enc', amount: 40 }] })).toBe('charged 40');
    expect(charged).toContain('inv-enc');
    // History holds ciphertext; the kit's lineage() decodes the decisions with the client's codec.
    const start = (await kit.client.workflow.getHandle(id).fetchHistory()).events?.[0]?.workflowExecutionStartedEventAttributes;
    expect(Buffer.from(start!.input!.payloads![0]!.metadata!.encoding!).toString()).toBe(ENCRYPTED_ENCODING);
    expect((await kit.lineage(id)).map((r) => [r.target, r.decision])).toEqual([
      ['payInvoice', 'allow'],
      ['chargeCard', 'allow'],
    ]);
  } finally {
    codecWorker.shutdown();
    await run;
    await kit.close();
  }
});
