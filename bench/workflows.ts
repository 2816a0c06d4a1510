// Bundled into the Temporal workflow sandbox: no Node modules, no governance code. The same workflows
// run ungoverned and governed; only the worker/client wiring differs.
import { condition, continueAsNew, defineQuery, defineSignal, defineUpdate, proxyActivities, setHandler } from '@temporalio/workflow';
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

/**
 * Throughput section: `count` stamp calls all in flight at once (Promise.all); the bench starts many
 * of these together and measures activities per second.
 */
export async function benchParallel(count: number): Promise<number> {
  await Promise.all(Array.from({ length: count }, (_, i) => stamp(i)));
  return count;
}

// The scale test's calls retry like an ordinary application's (a transient failure, e.g. MongoDB
// restarting under the enforcement point, is retried; a governance denial is non-retryable), within
// a bound so nothing hangs the run.
const scale = proxyActivities<typeof activities>({
  startToCloseTimeout: '30s',
  scheduleToCloseTimeout: '10 minutes',
  retry: { initialInterval: '1s', maximumInterval: '10s' },
});

/**
 * Scale soak: `calls` stamp calls one after another. With `deniedLast`, the last call asks for a
 * negative sequence number, which the bench policy denies (NEGATIVE_SEQUENCE): the expected denial.
 */
export async function scaleSoak(calls: number, deniedLast: boolean): Promise<number> {
  for (let i = 0; i < calls; i++) await scale.stamp(deniedLast && i === calls - 1 ? -1 : i);
  return calls;
}

/** Scale chain: one stamp call per run, then continue-as-new until `remaining` reaches 0 (remaining + 1 runs). */
export async function scaleChain(remaining: number): Promise<number> {
  await scale.stamp(remaining);
  if (remaining > 0) await continueAsNew<typeof scaleChain>(remaining - 1);
  return remaining;
}

/** Sets the value (fire and forget); a query shows when the handler ran. */
export const setSignal = defineSignal<[number]>('set');
/** Sets the value and returns it: the update's result is the handler's effect. */
export const setAndReadUpdate = defineUpdate<number, [number]>('setAndRead');
export const valueQuery = defineQuery<number>('value');
export const stopSignal = defineSignal('stop');

/**
 * Receives messages until `stop`; returns how many `set` / `setAndRead` handlers ran, so a bench
 * whose messages were refused (or lost) fails instead of measuring nothing.
 */
export async function benchMessages(): Promise<number> {
  let value = -1;
  let handled = 0;
  let stopped = false;
  setHandler(setSignal, (next) => {
    value = next;
    handled += 1;
  });
  setHandler(
    setAndReadUpdate,
    (next) => {
      value = next;
      handled += 1;
      return value;
    },
    {
      validator: (next) => {
        if (!Number.isInteger(next) || next < 0) throw new Error('values are non-negative integers');
      },
    },
  );
  setHandler(valueQuery, () => value);
  setHandler(stopSignal, () => void (stopped = true));
  await condition(() => stopped);
  return handled;
}
