// Shared helpers for the benchmark: statistics, time-boxed loops, aligned tables, a seeded PRNG.
import { cpus, platform, arch, totalmem } from 'node:os';

export interface Summary {
  readonly n: number;
  readonly mean: number;
  readonly p50: number;
  readonly p95: number;
  readonly min: number;
  readonly max: number;
}

/** Nearest-rank percentile of an ascending-sorted sample. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export function summarize(sample: readonly number[]): Summary {
  if (sample.length === 0) throw new Error('cannot summarize an empty sample');
  const sorted = [...sample].sort((a, b) => a - b);
  const mean = sorted.reduce((s, x) => s + x, 0) / sorted.length;
  return { n: sorted.length, mean, p50: percentile(sorted, 50), p95: percentile(sorted, 95), min: sorted[0]!, max: sorted[sorted.length - 1]! };
}

const nowNs = () => process.hrtime.bigint();

export interface Rate {
  readonly ops: number;
  readonly seconds: number;
  readonly opsPerSec: number;
  /** Mean time per operation in microseconds. */
  readonly meanUs: number;
}

/**
 * Runs `fn` repeatedly for about `ms` milliseconds (after a short warm-up so the JIT has settled)
 * and reports its throughput. Calls are batched so the clock is read rarely relative to the work.
 */
export function timeBox(fn: (i: number) => unknown, ms: number): Rate {
  const warmupDeadline = nowNs() + BigInt(Math.max(50, Math.round(ms / 5))) * 1_000_000n;
  let i = 0;
  while (nowNs() < warmupDeadline) for (let k = 0; k < 16; k++) fn(i++);

  let batch = 1;
  let ops = 0;
  const start = nowNs();
  const deadline = start + BigInt(ms) * 1_000_000n;
  let now = start;
  while (now < deadline) {
    const batchStart = now;
    for (let k = 0; k < batch; k++) fn(i++);
    ops += batch;
    now = nowNs();
    // Aim for ~5 ms batches: few clock reads, fine enough to stop close to the deadline.
    if (now - batchStart < 5_000_000n) batch *= 2;
  }
  const seconds = Number(now - start) / 1e9;
  return { ops, seconds, opsPerSec: ops / seconds, meanUs: (seconds * 1e6) / ops };
}

/** Wall time of one call, in milliseconds. */
export function timeOnce<T>(fn: () => T): { value: T; ms: number } {
  const start = nowNs();
  const value = fn();
  return { value, ms: Number(nowNs() - start) / 1e6 };
}

export type Cell = string | number;

/** Renders rows as an aligned text table; numbers are right-aligned, text left-aligned. */
export function table(title: string, header: readonly string[], rows: readonly (readonly Cell[])[], notes: readonly string[] = []): string {
  const cells = [header, ...rows].map((row) => row.map((c) => (typeof c === 'number' ? fmt(c) : c)));
  // Right-align every column (except the first) whose cells are numbers or start with one.
  const numeric = header.map((_, col) => col > 0 && rows.every((row) => typeof row[col] === 'number' || /^(|[-+]?\d.*)$/.test(String(row[col] ?? ''))));
  const widths = header.map((_, col) => Math.max(...cells.map((row) => (row[col] ?? '').length)));
  const line = (row: readonly string[]) =>
    row
      .map((c, col) => (numeric[col] ? c.padStart(widths[col]!) : c.padEnd(widths[col]!)))
      .join('  ')
      .trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  const out = ['', title, '='.repeat(title.length), line(cells[0]!), rule, ...cells.slice(1).map(line)];
  for (const note of notes) out.push(`  ${note}`);
  return out.join('\n');
}

/** Compact number formatting: thousands separators for big values, 2-3 significant decimals for small ones. */
export function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const abs = Math.abs(x);
  if (abs >= 10_000) return Math.round(x).toLocaleString('en-US');
  if (abs >= 100) return x.toFixed(0);
  if (abs >= 10) return x.toFixed(1);
  if (abs >= 1) return x.toFixed(2);
  return x.toFixed(3);
}

export function ratio(a: number, b: number): string {
  return `${(a / b).toFixed(2)}x`;
}

export function machineInfo(): string {
  const cpu = cpus();
  const model = cpu[0]?.model.trim() ?? 'unknown cpu';
  return `node ${process.version} | ${platform()} ${arch()} | ${model} x ${cpu.length} | ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM`;
}

/** mulberry32: a tiny deterministic PRNG, so every run benchmarks the same generated inputs. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function pick<T>(rand: () => number, items: readonly T[]): T {
  return items[Math.floor(rand() * items.length)]!;
}

export function pickSome<T>(rand: () => number, items: readonly T[], min: number, max: number): T[] {
  const count = min + Math.floor(rand() * (max - min + 1));
  const pool = [...items];
  const out: T[] = [];
  while (out.length < count && pool.length > 0) out.push(pool.splice(Math.floor(rand() * pool.length), 1)[0]!);
  return out;
}
