// The caller's facts and the per-run cache of run starts (activities/caller.ts), without Temporal.
import { callerFromInfo, runStartCache, type CallerFacts, type RunStart } from '../../activities/caller';

const caller = (runId: string): CallerFacts => ({ namespace: 'default', workflowId: `wf-${runId}`, runId, workflowType: 'PaymentWorkflow' });
const start = (inputChars: number): RunStart => ({
  workflowType: 'PaymentWorkflow',
  taskQueue: 'payments',
  parent: null,
  continuedFromRunId: null,
  initiator: null,
  firstExecutionRunId: 'run-1',
  startedAt: 0,
  args: { view: [['json', 'x'.repeat(inputChars)]], digest: `sha256:${'0'.repeat(64)}` },
  proof: undefined,
  parentGrant: undefined,
});

describe('callerFromInfo', () => {
  it('names the run the server says scheduled the activity, and nothing when no workflow did', () => {
    expect(callerFromInfo({ workflowExecution: { workflowId: 'w', runId: 'r' }, workflowNamespace: 'ns', workflowType: 'T' })).toEqual({ namespace: 'ns', workflowId: 'w', runId: 'r', workflowType: 'T' });
    expect(callerFromInfo({ workflowNamespace: 'ns', workflowType: 'T' })).toBeUndefined();
    expect(callerFromInfo({ workflowExecution: { workflowId: 'w', runId: 'r' }, workflowNamespace: 'ns' })).toBeUndefined();
  });
});

describe('runStartCache', () => {
  it('reads a run once, however often its grant is asked for', async () => {
    const reads: string[] = [];
    const cached = runStartCache(async (c) => (reads.push(c.runId), start(10)));
    for (let i = 0; i < 5; i++) await cached(caller('a'));
    await cached(caller('b'));
    expect(reads).toEqual(['a', 'b']);
  });

  it('forgets a failed read, so the next attempt reads again', async () => {
    let fail = true;
    const cached = runStartCache(async () => {
      if (fail) throw new Error('server unavailable');
      return start(1);
    });
    await expect(cached(caller('a'))).rejects.toThrow('server unavailable');
    fail = false;
    await expect(cached(caller('a'))).resolves.toMatchObject({ taskQueue: 'payments' });
  });

  it('is bounded by entries and by the size of the inputs it holds, least recently used first', async () => {
    const reads: string[] = [];
    const cached = runStartCache(async (c) => (reads.push(c.runId), start(1_000)), { maxEntries: 3, maxInputChars: 2_500 });
    for (const id of ['a', 'b', 'c']) await cached(caller(id));
    await new Promise((r) => setImmediate(r));
    // three inputs of ~1,000 characters exceed 2,500: the oldest (a) went
    await cached(caller('b'));
    await cached(caller('a'));
    expect(reads).toEqual(['a', 'b', 'c', 'a']);
    for (const id of ['d', 'e', 'f', 'g']) await cached(caller(id));
    await new Promise((r) => setImmediate(r));
    await cached(caller('g'));
    expect(reads.filter((r) => r === 'g')).toHaveLength(1);
  });
});
