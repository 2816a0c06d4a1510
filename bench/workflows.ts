// Bundled into the Temporal workflow sandbox: no Node modules, no governance code. The same workflow
// runs ungoverned and governed; only the worker/client wiring differs.
import { proxyActivities } from '@temporalio/workflow';
import type * as activities from './activities';

// One attempt: any failure (e.g. a governance denial) must fail the benchmark, not be retried away.
const { stamp } = proxyActivities<typeof activities>({ startToCloseTimeout: '30s', retry: { maximumAttempts: 1 } });

/**
 * Calls `stamp` `count` times strictly one after another and returns the activity-side start time of
 * each call. Workflow time (Date.now() in the sandbox) is the deterministic task time, useless for
 * measuring; the activity's own clock is real.
 */
export async function benchSequential(count: number): Promise<number[]> {
  const stamps: number[] = [];
  for (let i = 0; i < count; i++) stamps.push(await stamp(i));
  return stamps;
}
