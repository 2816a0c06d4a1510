// GovernanceTestKit.create refuses bad set-ups before it touches Temporal (and, for most, MongoDB).
import type { Connection } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { GovernanceTestKit, GovernanceTestKitError, governanceDenial, type GovernanceTestKitOptions } from '../../src/testing';
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowFailedError } from '@temporalio/client';

// Never used: every case here is refused before the kit calls the server.
const unusedEnv = { connection: {} as Connection, nativeConnection: {} as NativeConnection };
const base: GovernanceTestKitOptions = {
  env: unusedEnv,
  policy: { id: 'p', rules: [{ id: 'allow-all', effect: 'allow' }] },
  mongoUri: 'mongodb://127.0.0.1:9/',
  principal: { id: 'alice', roles: ['payments'] },
  mongoTimeoutMs: 300,
};

async function refusal(options: Partial<GovernanceTestKitOptions>): Promise<GovernanceTestKitError> {
  const err = await GovernanceTestKit.create({ ...base, ...options } as GovernanceTestKitOptions).then(
    () => new Error('created'),
    (e: unknown) => e,
  );
  if (!(err instanceof GovernanceTestKitError)) throw err;
  return err;
}

test('a time-skipping environment is refused', async () => {
  expect((await refusal({ env: { ...unusedEnv, supportsTimeSkipping: true } })).code).toBe('TIME_SKIPPING_UNSUPPORTED');
});

test('missing connections, mongoUri, bad principals and database names are INVALID_OPTIONS', async () => {
  expect((await refusal({ env: { connection: unusedEnv.connection } as never })).code).toBe('INVALID_OPTIONS');
  expect((await refusal({ mongoUri: '' })).code).toBe('INVALID_OPTIONS');
  expect((await refusal({ principal: { id: '', roles: ['x'] } })).code).toBe('INVALID_OPTIONS');
  expect((await refusal({ principal: { id: 'alice', roles: [] } })).code).toBe('INVALID_OPTIONS');
  expect((await refusal({ database: 'has-dash' })).code).toBe('INVALID_OPTIONS');
  expect((await refusal({ mongoUri: 'http://nope' })).code).toBe('INVALID_OPTIONS');
});

test('an invalid policy is a PolicyError; a policy object is validated like a file', async () => {
  await expect(GovernanceTestKit.create({ ...base, policy: { id: 'p', rules: [{ id: 'r', effect: 'maybe' }] } })).rejects.toMatchObject({ name: 'PolicyError' });
  await expect(GovernanceTestKit.create({ ...base, policy: '/nonexistent/policy.yaml' })).rejects.toMatchObject({ name: 'PolicyError' });
});

test('an unreachable MongoDB is MONGODB_UNREACHABLE and the error never shows the credentials', async () => {
  const err = await refusal({ mongoUri: 'mongodb://user:s3cret@127.0.0.1:9/' });
  expect(err.code).toBe('MONGODB_UNREACHABLE');
  expect(err.message).toContain('MongoDB at mongodb://127.0.0.1:9 is unreachable');
  expect(err.message).not.toContain('s3cret');
});

test('governanceDenial finds the details in a cause chain and refuses malformed ones', () => {
  const details = { code: 'POLICY_DENY', reason: 'no', ruleIds: ['r'], policyId: 'p', policyVersion: null, decisionId: null, principal: 'alice', action: 'activity', target: 'charge' };
  const failure = ApplicationFailure.create({ type: 'GovernanceDenied', message: 'denied', nonRetryable: true, details: [details] });
  const wrapped = new WorkflowFailedError('workflow failed', failure, 'NON_RETRYABLE_FAILURE');
  expect(governanceDenial(wrapped)).toEqual(details);
  expect(governanceDenial(ApplicationFailure.create({ type: 'Other', message: 'x' }))).toBeUndefined();
  const malformed = ApplicationFailure.create({ type: 'GovernanceDenied', message: 'x', details: [{ code: 1 }] });
  expect(() => governanceDenial(malformed)).toThrow(GovernanceTestKitError);
});
