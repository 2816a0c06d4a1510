// The benchmark's one activity. It does no work: it reports *when* its body started, so the gap
// between consecutive calls of a sequential workflow is the full cost of one activity call.

/**
 * Wall-clock time (ms since the epoch, sub-millisecond resolution) at which this body started.
 *
 * `performance.timeOrigin + performance.now()` instead of `Date.now()`: every bench activity runs in
 * this one worker process, so a monotonic high-resolution clock is comparable across calls, while
 * Date.now() would quantize each gap to whole milliseconds (the gaps are only a few ms long).
 */
export async function stamp(_seq: number): Promise<number> {
  return performance.timeOrigin + performance.now();
}
