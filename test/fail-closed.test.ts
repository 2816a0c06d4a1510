// Governance that cannot answer, or cannot start, allows nothing.
import { join } from 'node:path';
import { writeFileSync, chmodSync } from 'node:fs';
import { NativeConnection } from '@temporalio/worker';
import { createGovernanceWorker } from '../src/worker/governance-worker';
import { PolicyError } from '../src/policy/schema';
import { KeyError } from '../src/crypto/keys';
import { governedEnv, expectGovernanceDenied, uniqueName, makeKeys, address, fixtures, mongoUri } from './helpers/harness';
import { runsOf } from './fixtures/activities';
import { payOnce } from './fixtures/workflows';

test('governance worker down: the authorization times out and the workflow is denied, never allowed', async () => {
  // No governance worker polls this queue.
  const env = await governedEnv({ governance: false, workflowConfig: { taskQueue: uniqueName('nobody-polls'), authorizationTimeoutMs: 2_000 } });
  try {
    const marker = uniqueName('down');
    const failure = await env.run(async () =>
      expectGovernanceDenied(await env.client.workflow.start(payOnce, { taskQueue: env.taskQueue, workflowId: uniqueName('down'), args: [10, marker] })),
    );
    expect(failure.details?.[0]).toMatchObject({ code: 'GOVERNANCE_UNAVAILABLE', action: 'workflow' });
    expect(failure.message).toContain('denied, never allowed');
    expect(runsOf(marker)).toBe(0);
  } finally {
    await env.close();
  }
});

describe('the governance worker refuses to start', () => {
  let connection: NativeConnection;
  const keys = makeKeys();
  beforeAll(async () => {
    connection = await NativeConnection.connect({ address: address() });
  });
  afterAll(async () => connection?.close());

  const base = () => ({
    connection,
    taskQueue: uniqueName('refuse'),
    policy: join(fixtures, 'policy.yaml'),
    principals: join(fixtures, 'principals.yaml'),
    signingKeyPath: keys.keyPath,
    trustBundlePath: keys.bundlePath,
    mongoUri: mongoUri(),
  });

  test('with an invalid policy, naming the offending field', async () => {
    const bad = join(keys.dir, 'bad-policy.yaml');
    writeFileSync(bad, 'id: p\nrules:\n  - id: r1\n    effect: allow\n    when:\n      args:\n        - { field: amount, op: lessThan, value: 5 }\n');
    const err = await createGovernanceWorker({ ...base(), policy: bad }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(PolicyError);
    expect((err as Error).message).toContain('rules[0].when.args[0].op');
  });

  test('with a policy file that is not valid YAML', async () => {
    const bad = join(keys.dir, 'broken.yaml');
    writeFileSync(bad, 'id: p\nrules: [\n');
    await expect(createGovernanceWorker({ ...base(), policy: bad })).rejects.toBeInstanceOf(PolicyError);
  });

  test('with a signing key readable by others', async () => {
    const loose = makeKeys('loose');
    chmodSync(loose.keyPath, 0o644);
    const err = await createGovernanceWorker({ ...base(), signingKeyPath: loose.keyPath, trustBundlePath: loose.bundlePath }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(KeyError);
    expect((err as Error).message).toContain('chmod 600');
  });

  test('with a signing key whose public half is not in the trust bundle', async () => {
    const other = makeKeys('other');
    const err = await createGovernanceWorker({ ...base(), trustBundlePath: other.bundlePath }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(KeyError);
    expect((err as Error).message).toContain('not in the trust bundle');
  });
});
