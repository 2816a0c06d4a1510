// Pure parts of the worker lifecycle: what a MongoDB URI looks like in a message, how the search
// attribute check answers each server reply, and the signal handling around worker.run().
// (Each check also runs against the real stack in test/lifecycle.test.ts.)
import type { NativeConnection, Worker } from '@temporalio/worker';
import { checkSearchAttributes, describeMongoUri, GovernanceStartupError, runUntilSignal } from '../../src/worker/lifecycle';

describe('describeMongoUri', () => {
  test.each([
    ['mongodb://auditor:s3cret@127.0.0.1:27017/governance?authSource=admin&tlsCertificateKeyFilePassword=pw2', 'mongodb://127.0.0.1:27017'],
    ['mongodb://u:p%40ss@h1:1,h2:2/db?replicaSet=rs', 'mongodb://h1:1,h2:2'],
    ['mongodb+srv://u:p@cluster0.example.net/db?retryWrites=true', 'mongodb+srv://cluster0.example.net'],
    ['mongodb://localhost', 'mongodb://localhost:27017'],
    // The driver would put "ss" (the rest of the password) in the host list.
    ['mongodb://u:p@ss@h/', 'an invalid MongoDB URI'],
    ['mongodb://u@ss:p@h/', 'an invalid MongoDB URI'],
    ['mongodb://u:p/ss@h/', 'an invalid MongoDB URI'],
    // A second `@` after a `/` in the password: the driver would name "ss" as the host.
    ['mongodb://user:p@ss/w@host', 'an invalid MongoDB URI'],
    ['postgres://u:p@h/', 'an invalid MongoDB URI'],
    ['', 'an invalid MongoDB URI'],
  ])('%s -> %s', (uri, described) => {
    expect(describeMongoUri(uri)).toBe(described);
  });
});

describe('checkSearchAttributes', () => {
  const KEYWORD = 2;
  const TEXT = 1;
  const all = { GovernanceDecision: KEYWORD, GovernanceDenyCode: KEYWORD, GovernancePolicyVersion: KEYWORD, GovernancePrincipal: KEYWORD };
  const answering = (reply: () => Promise<unknown>) => ({ operatorService: { listSearchAttributes: reply } }) as unknown as NativeConnection;
  const grpcError = (code: number, message: string) => Object.assign(new Error(message), { code });

  const outcome = async (connection: NativeConnection | undefined) => {
    const warnings: string[] = [];
    const error = await checkSearchAttributes(connection, 'payments', (w) => warnings.push(w)).then(
      () => undefined,
      (err: unknown) => err,
    );
    return { warnings, error };
  };

  test('all four registered as Keyword: passes silently', async () => {
    expect(await outcome(answering(async () => ({ customAttributes: { ...all, Other: TEXT } })))).toEqual({ warnings: [], error: undefined });
  });

  test('missing and mistyped attributes refuse, with the commands that register them', async () => {
    const { error } = await outcome(answering(async () => ({ customAttributes: { GovernanceDecision: TEXT, GovernanceDenyCode: KEYWORD } })));
    expect(error).toBeInstanceOf(GovernanceStartupError);
    expect(error).toMatchObject({ check: 'search-attributes' });
    expect((error as Error).message).toContain('not registered: GovernancePolicyVersion, GovernancePrincipal; registered with a type other than Keyword: GovernanceDecision');
    expect((error as Error).message).toContain('temporal operator search-attribute create --namespace payments --name GovernancePolicyVersion --type Keyword');
  });

  test.each([
    [7, 'PERMISSION_DENIED'],
    [12, 'UNIMPLEMENTED'],
  ])('a namespace that cannot be inspected (gRPC %i %s) warns and lets the worker start', async (code, name) => {
    const { warnings, error } = await outcome(answering(async () => Promise.reject(grpcError(code, `${code} ${name}: not for you`))));
    expect(error).toBeUndefined();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('cannot list the search attributes of namespace payments');
    expect(warnings[0]).toContain('--name GovernanceDecision --type Keyword');
  });

  test('an unknown namespace and any other failure refuse', async () => {
    expect((await outcome(answering(async () => Promise.reject(grpcError(5, '5 NOT_FOUND: namespace payments not found'))))).error).toMatchObject({
      check: 'search-attributes',
      message: expect.stringContaining('namespace payments does not exist'),
    });
    expect((await outcome(answering(async () => Promise.reject(grpcError(14, '14 UNAVAILABLE: connection reset'))))).error).toMatchObject({
      check: 'search-attributes',
      message: expect.stringContaining('14 UNAVAILABLE'),
    });
  });

  test('a worker without an explicit connection is not checked, and says so', async () => {
    const { warnings, error } = await outcome(undefined);
    expect(error).toBeUndefined();
    expect(warnings[0]).toContain('were not checked');
  });
});

describe('runUntilSignal', () => {
  /** Enough of a Worker for runUntilSignal: run() resolves once shutdown() was called. */
  function fakeWorker() {
    let state = 'INITIALIZED';
    let stop: () => void = () => undefined;
    const shutdowns: string[] = [];
    const worker = {
      options: { taskQueue: 'q' },
      getState: () => state,
      shutdown: () => {
        if (state !== 'RUNNING') throw new Error(`Not running. Current state: ${state}`);
        shutdowns.push(state);
        state = 'DRAINING';
        setImmediate(() => {
          state = 'STOPPED';
          stop();
        });
      },
      run: () => {
        state = 'RUNNING';
        return new Promise<void>((resolve) => (stop = resolve));
      },
    };
    return { worker: worker as unknown as Worker, shutdowns };
  }
  const signals = ['SIGUSR2'] as const; // not SIGINT/SIGTERM: jest's own process must not react

  test('the first signal drains the worker once, and the handlers are gone when run() resolves', async () => {
    const { worker, shutdowns } = fakeWorker();
    const lines: string[] = [];
    const before = process.listenerCount('SIGUSR2');
    const running = runUntilSignal(worker, (l) => lines.push(l), signals);
    expect(process.listenerCount('SIGUSR2')).toBe(before + 1);
    process.emit('SIGUSR2', 'SIGUSR2');
    await running;
    expect(shutdowns).toEqual(['RUNNING']);
    expect(lines).toEqual(['worker polling task queue q (Ctrl-C to stop)', 'SIGUSR2: draining in-flight tasks, then exiting (SIGUSR2 again to exit at once)', 'worker stopped']);
    expect(process.listenerCount('SIGUSR2')).toBe(before);
  });

  test('a second signal while draining exits at once with 128 + the signal number', async () => {
    const { worker } = fakeWorker();
    const exit = jest.spyOn(process, 'exit').mockImplementation((() => undefined) as never);
    try {
      const running = runUntilSignal(worker, () => undefined, signals);
      process.emit('SIGUSR2', 'SIGUSR2');
      process.emit('SIGUSR2', 'SIGUSR2');
      expect(exit).toHaveBeenCalledWith(128 + 12);
      await running;
    } finally {
      exit.mockRestore();
    }
  });
});
