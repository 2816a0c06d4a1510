// Bundled into the Temporal workflow sandbox: no Node modules, no governance code. The same workflows
// run ungoverned and governed; only the worker/client wiring differs.
import { condition, defineQuery, defineSignal, defineUpdate, proxyActivities, setHandler } from '@temporalio/workflow';
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
