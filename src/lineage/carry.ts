// What a lineage run hands to its next run at continue-as-new. Runs inside the workflow sandbox:
// no Node modules.
import type { LineageSignal } from './schema';

/**
 * The next run's input is the one payload that carries records across runs: it stays far below
 * Temporal's 2 MiB limit whatever arrives. In UTF-8 bytes of JSON, as payloads are measured: an
 * attacker's outcome can be all three-byte characters.
 */
export const CARRY_BYTES = 1_000_000;

/** The UTF-8 length of `text` (TextEncoder-free, for the workflow sandbox). */
export function utf8Length(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4; // a surrogate pair: one four-byte character
      i += 1;
    } else n += 3;
  }
  return n;
}

/**
 * Splits a lineage run's backlog into what its next run takes over (`next`, in arrival order,
 * within `budget` bytes of JSON) and what it leaves (`left`). Outcomes come first, since nothing
 * else holds them; then decisions, since the outbox holds every genuine one (it is written before
 * a decision is returned) and the sweeper re-delivers what a run leaves. Outcomes left are lost.
 */
export function splitCarry(pending: readonly LineageSignal[], budget = CARRY_BYTES): { next: LineageSignal[]; left: LineageSignal[] } {
  const take = new Set<LineageSignal>();
  for (const outcomes of [true, false]) {
    for (const record of pending) {
      if ((record.kind === 'outcome') !== outcomes) continue;
      const size = utf8Length(JSON.stringify(record));
      if (size > budget) continue;
      budget -= size;
      take.add(record);
    }
  }
  return { next: pending.filter((r) => take.has(r)), left: pending.filter((r) => !take.has(r)) };
}
