// Pure parts of the scale bench (bench/scale.ts, bench/proc.ts): how a workflow's end is classified,
// where a history's payloads are found, and the /proc readers. The whole test runs as a process in
// test/bench-scale.test.ts.
import { WorkflowFailedError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure, RetryState, TimeoutFailure, TimeoutType } from '@temporalio/common';
import { governanceDeniedFailure } from '../../src/common/denial';
import { readCpuMs, readMemory } from '../../bench/proc';
import { classifyFailure, payloadsOf } from '../../bench/scale';

const activityFailure = (cause: Error) => new ActivityFailure('activity failed', 'stamp', '1', RetryState.NON_RETRYABLE_FAILURE, 'worker', cause);
const workflowFailed = (cause: Error) => new WorkflowFailedError('workflow failed', cause, RetryState.NON_RETRYABLE_FAILURE);

describe('classifyFailure', () => {
  test('a governance denial anywhere in the cause chain is "denied" with its deny code', () => {
    const denial = governanceDeniedFailure({
      code: 'NEGATIVE_SEQUENCE',
      reason: 'sequence numbers are never negative',
      ruleIds: ['deny-negative-stamp'],
      policyId: 'bench-policy',
      policyVersion: 'v1',
      decisionId: 'd1',
      principal: 'bench',
      action: 'activity',
      target: 'stamp',
    });
    expect(classifyFailure(workflowFailed(activityFailure(denial)))).toEqual({ status: 'denied', code: 'NEGATIVE_SEQUENCE' });
  });

  test('other failures are named by the innermost cause', () => {
    expect(classifyFailure(workflowFailed(activityFailure(new TimeoutFailure('timed out', undefined, TimeoutType.SCHEDULE_TO_CLOSE))))).toEqual({
      status: 'failed',
      type: 'TimeoutFailure:SCHEDULE_TO_CLOSE',
    });
    expect(classifyFailure(workflowFailed(ApplicationFailure.create({ type: 'Boom', message: 'boom' })))).toEqual({ status: 'failed', type: 'ApplicationFailure:Boom' });
  });

  test('an error that is no workflow failure (the start itself failed) is a client failure', () => {
    expect(classifyFailure(new TypeError('no connection'))).toEqual({ status: 'failed', type: 'client:TypeError' });
  });
});

describe('payloadsOf', () => {
  test('finds every payload with its attribute path; header fields keep their name, array indexes are dropped', () => {
    const bytes = (n: number) => new Uint8Array(n);
    const event = {
      eventId: 5,
      activityTaskScheduledEventAttributes: {
        activityType: { name: 'stamp' },
        input: { payloads: [{ metadata: { encoding: bytes(16) }, data: bytes(100) }, { metadata: {}, data: bytes(7) }] },
        header: { fields: { 'temporal-governance-artifact': { metadata: { encoding: bytes(16) }, data: bytes(3000) } } },
      },
    };
    const found: { where: string; bytes: number }[] = [];
    payloadsOf(event, '', found);
    expect(found).toEqual([
      // data + metadata key ("encoding", 8) + metadata value (16)
      { where: 'activityTaskScheduledEventAttributes.input.payloads', bytes: 100 + 8 + 16 },
      { where: 'activityTaskScheduledEventAttributes.input.payloads', bytes: 7 },
      { where: 'activityTaskScheduledEventAttributes.header.fields[temporal-governance-artifact]', bytes: 3000 + 8 + 16 },
    ]);
  });
});

describe('/proc readers', () => {
  test('read this process: resident and peak memory, CPU time used', () => {
    const memory = readMemory(process.pid);
    expect(memory).not.toBeNull();
    expect(memory!.rssKiB).toBeGreaterThan(0);
    expect(memory!.hwmKiB).toBeGreaterThanOrEqual(memory!.rssKiB);
    const before = readCpuMs(process.pid)!;
    const until = Date.now() + 100;
    while (Date.now() < until); // burn 100 ms of CPU
    expect(readCpuMs(process.pid)! - before).toBeGreaterThan(0);
  });

  test('a process that does not exist reads as null', () => {
    expect(readMemory(2 ** 22 + 1)).toBeNull();
    expect(readCpuMs(2 ** 22 + 1)).toBeNull();
  });
});
