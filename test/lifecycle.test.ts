// Worker lifecycle on the real stack: a governance worker started by the CLI exits 0 after SIGTERM
// once it has made decisions; what `await worker.run()` leaves behind lets a process exit on its
// own; and each start-up check refuses, before polling, the misconfiguration it is for.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { bundleWorkflowCode, DefaultLogger, Worker } from '@temporalio/worker';
import { GovernancePlugin } from '../src/plugin';
import { createGovernanceWorker } from '../src/worker/governance-worker';
import { closeGovernanceWorker, GovernanceStartupError } from '../src/worker/lifecycle';
import { governedEnv, uniqueName, fixtures, mongoUri, address, workflowsPath, activities, type Env } from './helpers/harness';
import { runsOf } from './fixtures/activities';
import { payOnce } from './fixtures/workflows';

const bin = join(__dirname, '..', 'bin', 'temporal-governance.js');

let env: Env;
beforeAll(async () => {
  env = await governedEnv({ governance: false });
});
afterAll(async () => env?.close());
// A test that times out skips its finally: no child outlives its test.
const children = new Set<ChildProcess>();
afterEach(() => {
  for (const child of children) child.kill('SIGKILL');
  children.clear();
});

interface Spawned {
  readonly child: ChildProcess;
  readonly output: () => string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves once the output holds `pattern`; rejects if the process exits first. */
  waitFor(pattern: RegExp): Promise<void>;
}

function spawnNode(args: string[], extraEnv: Record<string, string> = {}): Spawned {
  const child = spawn(process.execPath, args, { env: { ...process.env, TEMPORAL_ADDRESS: address(), MONGODB_URI: mongoUri(), ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let output = '';
  let waiters: { pattern: RegExp; resolve: () => void }[] = [];
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
    const ready = waiters.filter((w) => w.pattern.test(output));
    waiters = waiters.filter((w) => !ready.includes(w));
    for (const w of ready) w.resolve();
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return {
    child,
    output: () => output,
    exited,
    waitFor: (pattern) =>
      new Promise<void>((resolve, reject) => {
        if (pattern.test(output)) return resolve();
        waiters.push({ pattern, resolve });
        void exited.then(({ code }) => reject(new Error(`the process exited (code ${code}) before printing ${pattern}:\n${output}`)));
      }),
  };
}

const governanceArgs = () => [bin, 'worker', 'governance', '--policy', join(fixtures, 'policy.yaml'), '--key', env.keys.keyPath, '--bundle', env.keys.bundlePath, '--task-queue', env.governanceTaskQueue, '--database', env.lineageDatabase];

/** Runs one governed workflow (allowed: a run grant and a per-call decision) on the env's app worker. */
async function makeDecisions(): Promise<void> {
  const marker = uniqueName('lifecycle');
  const result = await env.run(async () => (await env.client.workflow.start(payOnce, { taskQueue: env.taskQueue, workflowId: uniqueName('lifecycle'), args: [250, marker] })).result(), [await env.appWorker()]);
  expect(result).toBe('charged 250 EUR');
  expect(runsOf(marker)).toBe(1);
}

/** A TCP port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

describe('shutdown', () => {
  test('worker governance exits 0 after SIGTERM once it has made decisions', async () => {
    const cli = spawnNode(governanceArgs());
    try {
      await cli.waitFor(/polling task queue/);
      await makeDecisions();
      const signalledAt = Date.now();
      cli.child.kill('SIGTERM');
      const { code, signal } = await cli.exited;
      process.stderr.write(`worker governance: SIGTERM to exit ${Date.now() - signalledAt} ms\n`);
      expect({ code, signal }).toEqual({ code: 0, signal: null });
      expect(cli.output()).toMatch(/SIGTERM: draining in-flight tasks[\s\S]*worker stopped/);
    } finally {
      cli.child.kill('SIGKILL');
    }
  }, 120_000);

  test('worker demo-app exits 0 after SIGTERM', async () => {
    const cli = spawnNode([bin, 'worker', 'demo-app', '--bundle', env.keys.bundlePath, '--task-queue', uniqueName('demo-app'), '--governance-task-queue', env.governanceTaskQueue, '--database', env.lineageDatabase]);
    try {
      await cli.waitFor(/polling task queue/);
      cli.child.kill('SIGTERM');
      expect(await cli.exited).toEqual({ code: 0, signal: null });
      expect(cli.output()).toContain('worker stopped');
    } finally {
      cli.child.kill('SIGKILL');
    }
  }, 120_000);

  /** Runs fixtures/natural-exit.ts, which ends without process.exit: only an empty event loop lets it exit. */
  const naturalExit = (args: string[]) =>
    spawnNode(['-r', 'ts-node/register/transpile-only', join(fixtures, 'natural-exit.ts'), ...args], { TS_NODE_PROJECT: join(__dirname, '..', 'tsconfig.json') });

  test.each([
    ['a governance worker', () => naturalExit(['governance', join(fixtures, 'policy.yaml'), env.keys.keyPath, env.keys.bundlePath, env.governanceTaskQueue, env.lineageDatabase]), false],
    ['an app worker with GovernancePlugin (not closed)', () => naturalExit(['app', env.keys.bundlePath, env.taskQueue, env.governanceTaskQueue, env.lineageDatabase]), true],
  ])('once `await worker.run()` resolves and the connection is closed, nothing keeps %s process alive', async (what, start, isApp) => {
    const child = start();
    try {
      await child.waitFor(/polling task queue/);
      const run = () => env.client.workflow.start(payOnce, { taskQueue: env.taskQueue, workflowId: uniqueName('natural'), args: [250, uniqueName('natural')] }).then((h) => h.result());
      // The other half of the stack runs in this process.
      expect(await env.run(run, [isApp ? await env.governanceWorker() : await env.appWorker()])).toBe('charged 250 EUR');
      const signalledAt = Date.now();
      child.child.kill('SIGTERM');
      await child.waitFor(/run resolved/);
      const { code, signal } = await child.exited;
      process.stderr.write(`${what}: SIGTERM to natural exit ${Date.now() - signalledAt} ms\n`);
      expect({ code, signal, output: child.output() }).toEqual({ code: 0, signal: null, output: expect.not.stringContaining('still open') });
    } finally {
      child.child.kill('SIGKILL');
    }
  }, 120_000);

  test('closeGovernanceWorker releases a worker that never ran, and drains one that runs', async () => {
    const idle = await env.governanceWorker();
    await closeGovernanceWorker(idle);
    await closeGovernanceWorker(idle); // idempotent

    const running = await env.governanceWorker();
    const run = running.run();
    await closeGovernanceWorker(running);
    expect(running.getState()).toBe('STOPPED');
    await run;
  });
});

describe('start-up checks', () => {
  test('MongoDB unreachable: createGovernanceWorker refuses within the server selection bound, naming the hosts but no credentials', async () => {
    const port = await closedPort();
    const failure = await env.governanceWorker({ mongoUri: `mongodb://auditor:s3cret-pw@127.0.0.1:${port}/?authSource=admin&tlsCertificateKeyFilePassword=other-secret` }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(failure).toBeInstanceOf(GovernanceStartupError);
    expect(failure).toMatchObject({ check: 'mongodb' });
    const message = (failure as Error).message;
    expect(message).toContain(`MongoDB at mongodb://127.0.0.1:${port} (database ${env.lineageDatabase}) did not answer`);
    expect(message).not.toMatch(/s3cret-pw|other-secret|auditor/);
  });

  test('an invalid MONGODB_URI is refused without quoting it (the driver\'s parse errors would)', async () => {
    const failure = await env.governanceWorker({ mongoUri: 'mongodb://auditor@s3cret:pw@127.0.0.1:1/' }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(failure).toMatchObject({ name: 'GovernanceStartupError', check: 'mongodb', message: expect.stringContaining('MONGODB_URI is not a valid MongoDB URI') });
    expect((failure as Error).message).not.toMatch(/s3cret|auditor/);
  });

  test('MongoDB unreachable: worker governance exits 1 with that message and never polls', async () => {
    const port = await closedPort();
    const cli = spawnNode(governanceArgs(), { MONGODB_URI: `mongodb://auditor:s3cret-pw@127.0.0.1:${port}/` });
    const { code } = await cli.exited;
    expect(code).toBe(1);
    expect(cli.output()).toContain(`temporal-governance: MongoDB at mongodb://127.0.0.1:${port} (database ${env.lineageDatabase}) did not answer`);
    expect(cli.output()).not.toContain('polling');
    expect(cli.output()).not.toContain('s3cret-pw');
    expect(cli.output()).not.toContain('    at '); // a message, not a stack trace
  }, 60_000);

  test('MongoDB unreachable: an app worker with GovernancePlugin is refused at Worker.create', async () => {
    const port = await closedPort();
    const plugin = new GovernancePlugin({ trustBundle: env.keys.bundlePath, identity: { mongoUri: `mongodb://127.0.0.1:${port}/` }, workflow: { taskQueue: env.governanceTaskQueue } });
    await expect(Worker.create({ connection: env.connection, taskQueue: uniqueName('unreachable'), activities, plugins: [plugin] })).rejects.toMatchObject({
      name: 'GovernanceStartupError',
      check: 'mongodb',
    });
    await plugin.close();
  });

  describe('a namespace without the governance search attributes', () => {
    let namespace: string;
    beforeAll(async () => {
      namespace = uniqueName('no-sa');
      const connection = await Connection.connect({ address: address() });
      try {
        await connection.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs('1 day') });
        // A type other than Keyword counts as missing too. (1 = INDEXED_VALUE_TYPE_TEXT)
        for (let attempt = 0; ; attempt++) {
          try {
            await connection.operatorService.addSearchAttributes({ namespace, searchAttributes: { GovernanceDecision: 1 } });
            break;
          } catch (err) {
            if (attempt > 50) throw err; // the new namespace reaches the server's namespace cache within seconds
            await new Promise((r) => setTimeout(r, 200));
          }
        }
      } finally {
        await connection.close();
      }
    });

    test('createGovernanceWorker refuses it, naming what is missing and the command that registers it', async () => {
      const failure = await env.governanceWorker({ namespace }).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(failure).toBeInstanceOf(GovernanceStartupError);
      expect(failure).toMatchObject({ check: 'search-attributes' });
      const message = (failure as Error).message;
      expect(message).toContain(`namespace ${namespace} lacks the governance search attributes`);
      expect(message).toContain('not registered: GovernanceDenyCode, GovernancePolicyVersion, GovernancePrincipal');
      expect(message).toContain('registered with a type other than Keyword: GovernanceDecision');
      expect(message).toContain(`temporal operator search-attribute create --namespace ${namespace} --name GovernanceDenyCode --type Keyword`);
    });

    test('an app worker with workflows is refused at Worker.create', async () => {
      await expect(Worker.create({ connection: env.connection, namespace, taskQueue: uniqueName('no-sa'), workflowsPath, activities, plugins: [env.plugin] })).rejects.toMatchObject({
        name: 'GovernanceStartupError',
        check: 'search-attributes',
      });
    });
  });

  describe('a prebuilt workflow bundle without the governance interceptors', () => {
    let plain: { code: string };
    let governed: { code: string };
    const logger = new DefaultLogger('WARN');
    beforeAll(async () => {
      plain = await bundleWorkflowCode({ workflowsPath, logger });
      governed = await bundleWorkflowCode({ workflowsPath, plugins: [env.plugin], logger });
    }, 120_000);

    test('is refused as { code } and as { codePath }', async () => {
      const codePath = join(mkdtempSync(join(tmpdir(), 'bundle-')), 'plain.js');
      writeFileSync(codePath, plain.code);
      for (const workflowBundle of [plain, { codePath }]) {
        await expect(Worker.create({ connection: env.connection, taskQueue: uniqueName('plain'), workflowBundle, activities, plugins: [env.plugin] })).rejects.toMatchObject({
          name: 'GovernanceStartupError',
          check: 'workflow-bundle',
          message: expect.stringContaining('lacks the governance workflow interceptors'),
        });
      }
      await expect(Worker.create({ connection: env.connection, taskQueue: uniqueName('missing'), workflowBundle: { codePath: `${codePath}.absent` }, activities, plugins: [env.plugin] })).rejects.toMatchObject({
        check: 'workflow-bundle',
        message: expect.stringContaining('cannot read the workflow bundle'),
      });
    });

    test('a bundle built with the plugin, read from codePath, runs governed workflows; their history replays on it', async () => {
      const codePath = join(mkdtempSync(join(tmpdir(), 'bundle-')), 'governed.js');
      writeFileSync(codePath, governed.code);
      const governance = await env.governanceWorker();
      const app = await Worker.create({ connection: env.connection, taskQueue: env.taskQueue, workflowBundle: { codePath }, activities, plugins: [env.plugin] });
      const marker = uniqueName('bundled');
      const workflowId = uniqueName('bundled');
      const history = await env.run(async () => {
        const handle = await env.client.workflow.start(payOnce, { taskQueue: env.taskQueue, workflowId, args: [250, marker] });
        expect(await handle.result()).toBe('charged 250 EUR');
        return handle.fetchHistory();
      }, [app, governance]);
      expect(runsOf(marker)).toBe(1);
      const replayPlugin = new GovernancePlugin({ workflow: { taskQueue: env.governanceTaskQueue } });
      await Worker.runReplayHistory({ workflowBundle: { codePath }, plugins: [replayPlugin] }, history, workflowId);
      // The same history on the plain bundle with the plugin: refused before replaying.
      await expect(Worker.runReplayHistory({ workflowBundle: plain, plugins: [replayPlugin] }, history, workflowId)).rejects.toMatchObject({ check: 'workflow-bundle' });
    });
  });
});
