// What a lineage run hands to its next run at continue-as-new. Runs inside the workflow sandbox:
// no Node modules.
import type { LineageSignal } from './schema';

/**
 * The next run's input is the one payload that carries records across runs: it stays far below
 * Temporal's 2 MiB limit whatever arrives.
 */
export const CARRY_CHARS = 1_000_000;

/**
 * Splits a lineage run's backlog into what its next run takes over (`next`, in arrival order,
 * within `budget` JSON characters) and what it leaves (`left`). Outcomes come first, since nothing
 * else holds them; then decisions, since the outbox holds every genuine one (it is written before
 * a decision is returned) and the sweeper re-delivers what a run leaves. Outcomes left are lost.
 */
export function splitCarry(pending: readonly LineageSignal[], budget = CARRY_CHARS): { next: LineageSignal[]; left: LineageSignal[] } {
  const take = new Set<LineageSignal>();
  for (const outcomes of [true, false]) {
    for (const record of pending) {
      if ((record.kind === 'outcome') !== outcomes) continue;
      const size = JSON.stringify(record).length;
      if (size > budget) continue;
      budget -= size;
      take.add(record);
    }
  }
  return { next: pending.filter((r) => take.has(r)), left: pending.filter((r) => !take.has(r)) };
}
