// Per-process memory and CPU from Linux /proc, for processes the bench started itself (this process,
// its governance worker child, the dev stack's Temporal server and FerretDB). Off Linux, or for a
// process that has gone, every reader returns null and the tables say "n/a".
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat's utime and stime (getconf CLK_TCK; 100 on every common Linux). */
const clockTicks: number = (() => {
  try {
    const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isInteger(ticks) && ticks > 0 ? ticks : 100;
  } catch {
    return 100;
  }
})();

export interface Memory {
  /** Resident set size now (VmRSS), KiB. */
  readonly rssKiB: number;
  /** Peak resident set size since the process started (VmHWM), KiB. */
  readonly hwmKiB: number;
}

export function readMemory(pid: number): Memory | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string) => {
      const match = new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(status);
      return match ? Number(match[1]) : null;
    };
    const rssKiB = field('VmRSS');
    const hwmKiB = field('VmHWM');
    return rssKiB === null || hwmKiB === null ? null : { rssKiB, hwmKiB };
  } catch {
    return null;
  }
}

/** User + system CPU time the process (all its threads) has used so far, in ms (10 ms resolution). */
export function readCpuMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (comm) is parenthesized and may hold spaces: count fields after its closing paren.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After comm: state(3) ... utime(14) stime(15), i.e. indexes 11 and 12 here.
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return Number.isFinite(utime) && Number.isFinite(stime) ? ((utime + stime) * 1000) / clockTicks : null;
  } catch {
    return null;
  }
}

/** A named process whose pid may change (a restarted server) or be unknown (an external server). */
export interface WatchedProcess {
  readonly name: string;
  pid(): number | null;
}

export interface MemorySample {
  readonly name: string;
  readonly pid: number | null;
  readonly rssKiB: number | null;
  readonly hwmKiB: number | null;
  /** Largest VmRSS seen by the sampler (across restarts of the same server), KiB. */
  readonly maxSampledRssKiB: number | null;
}

/** Samples VmRSS of each process every `everyMs` until stopped; the final reading adds VmHWM. */
export function sampleMemory(processes: readonly WatchedProcess[], everyMs = 1_000): { stop(): MemorySample[] } {
  const max = new Map<string, number>();
  const sample = () => {
    for (const p of processes) {
      const pid = p.pid();
      const memory = pid === null ? null : readMemory(pid);
      if (memory) max.set(p.name, Math.max(max.get(p.name) ?? 0, memory.rssKiB));
    }
  };
  sample();
  const timer = setInterval(sample, everyMs);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      sample();
      return processes.map((p) => {
        const pid = p.pid();
        const memory = pid === null ? null : readMemory(pid);
        return { name: p.name, pid, rssKiB: memory?.rssKiB ?? null, hwmKiB: memory?.hwmKiB ?? null, maxSampledRssKiB: max.get(p.name) ?? null };
      });
    },
  };
}
