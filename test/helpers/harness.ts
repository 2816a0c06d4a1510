// Real workers against the real dev server started by global-setup. Each test file gets its own
// task queues, keys and (when it needs one) governance worker.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import type { ApplicationFailure } from '@temporalio/common';
import { findGovernanceDenial } from '../../src/common/denial';
import { bundleWorkflowCode, NativeConnection, Runtime, DefaultLogger, Worker, type WorkerOptions } from '@temporalio/worker';
import { generateSigningKey } from '../../src/crypto/keys';
import { GovernancePlugin, WORKFLOW_INTERCEPTORS_MODULE } from '../../src/plugin';
import { createApiKey, createPrincipal, IdentityStoreError } from '../../src/identity/store';
import { connectLineage } from '../../src/lineage/store';
import { createGovernanceWorker, type GovernanceWorkerOptions } from '../../src/worker/governance-worker';
import type { WorkflowGovernanceConfig } from '../../src/common/workflow-config';
import * as activities from '../fixtures/activities';

let runtimeInstalled = false;
function quietRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  try {
    Runtime.install({ logger: new DefaultLogger('ERROR') });
  } catch {
    // already installed by another helper in this file
  }
}

export const fixtures = join(__dirname, '..', 'fixtures');
export const workflowsPath = join(fixtures, 'workflows.ts');
export const tamperModule = join(fixtures, 'tamper-interceptors.ts');

export function mongoUri(): string {
  const uri = process.env.MONGODB_URI;
  if (!uri) throw new Error('MONGODB_URI is not set: run the tests through jest (global-setup starts the stack)');
  return uri;
}

export function address(): string {
  const a = process.env.TEMPORAL_ADDRESS;
  if (!a) throw new Error('TEMPORAL_ADDRESS is not set: run the tests through jest (global-setup starts the stack)');
  return a;
}

let counter = 0;
export function uniqueName(prefix: string): string {
  counter += 1;
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter}`;
}

export interface Keys {
  readonly dir: string;
  readonly keyPath: string;
  readonly bundlePath: string;
}

export function makeKeys(kid = 'test-key-1'): Keys {
  const dir = mkdtempSync(join(tmpdir(), 'governance-keys-'));
  const keyPath = join(dir, 'signing-key.json');
  const bundlePath = join(dir, 'trust-bundle.json');
  generateSigningKey({ keyPath, bundlePath, kid });
  return { dir, keyPath, bundlePath };
}

/** The principals every test env registers (roles as the fixture policy expects them). */
export const PRINCIPALS = [
  { id: 'alice', roles: ['operator', 'auditor'] },
  { id: 'bob', roles: ['viewer'] },
];

/** Registers the fixture principals and an API key for `principal` in a database; returns the key. */
export async function seedIdentity(database: string, principal: string, uri = mongoUri()): Promise<string> {
  const { client, db } = await connectLineage(uri, database);
  try {
    for (const p of PRINCIPALS) await createPrincipal(db, p).catch((err: unknown) => {
      if (!(err instanceof IdentityStoreError && /already exists/.test(err.message))) throw err;
    });
    return (await createApiKey(db, { principal })).apiKey;
  } finally {
    await client.close();
  }
}

export interface Env {
  readonly client: Client;
  readonly connection: NativeConnection;
  readonly keys: Keys;
  readonly taskQueue: string;
  readonly governanceTaskQueue: string;
  /** MongoDB database of this env's identity (principals, API keys, revocations) and lineage. */
  readonly lineageDatabase: string;
  /** API key the env's client starts workflows with (principal `alice` unless told otherwise). */
  readonly apiKey: string;
  readonly plugin: GovernancePlugin;
  /** Runs fn while the app worker (and governance worker, if any) poll. */
  run<T>(fn: () => Promise<T>, extraWorkers?: Worker[]): Promise<T>;
  appWorker(options?: Partial<WorkerOptions> & { trustBundle?: string; tamper?: boolean }): Promise<Worker>;
  governanceWorker(options?: Partial<GovernanceWorkerOptions>): Promise<Worker>;
  close(): Promise<void>;
}

export async function governedEnv(options: {
  principal?: string;
  /** MongoDB the env's identity and lineage live in (default MONGODB_URI). */
  mongoUri?: string;
  workflowConfig?: Partial<WorkflowGovernanceConfig>;
  governance?: Partial<GovernanceWorkerOptions> | false;
} = {}): Promise<Env> {
  quietRuntime();
  const connection = await NativeConnection.connect({ address: address() });
  const clientConnection = await Connection.connect({ address: address() });
  const keys = makeKeys();
  const taskQueue = uniqueName('app');
  const lineageDatabase = uniqueName('lineage').replace(/-/g, '_');
  const governanceTaskQueue = options.workflowConfig?.taskQueue ?? uniqueName('governance');
  const uri = options.mongoUri ?? mongoUri();
  const apiKey = await seedIdentity(lineageDatabase, options.principal ?? 'alice', uri);
  const identity = { mongoUri: uri, database: lineageDatabase };
  const plugin = new GovernancePlugin({
    apiKey,
    identity,
    trustBundle: keys.bundlePath,
    workflow: { authorizationTimeoutMs: 20_000, ...options.workflowConfig, taskQueue: governanceTaskQueue },
  });
  const client = new Client({ connection: clientConnection, plugins: [plugin] });

  const bundles = new Map<string, Promise<{ code: string }>>();
  const bundleFor = (tamper: boolean, bundlePlugin: GovernancePlugin) => {
    const key = `${tamper}`;
    if (!bundles.has(key)) {
      bundles.set(key, bundleWorkflowCode({ workflowsPath, workflowInterceptorModules: tamper ? [WORKFLOW_INTERCEPTORS_MODULE, tamperModule] : [], plugins: [bundlePlugin], logger: new DefaultLogger('WARN') }));
    }
    return bundles.get(key)!;
  };

  const env: Env = {
    client,
    connection,
    keys,
    taskQueue,
    governanceTaskQueue,
    lineageDatabase,
    apiKey,
    plugin,
    async appWorker(opts = {}) {
      const { trustBundle, tamper, ...rest } = opts;
      const workerPlugin = trustBundle
        ? new GovernancePlugin({ trustBundle, identity, workflow: { authorizationTimeoutMs: 20_000, ...options.workflowConfig, taskQueue: governanceTaskQueue } })
        : plugin;
      return Worker.create({
        connection,
        taskQueue,
        workflowBundle: await bundleFor(tamper ?? false, plugin),
        activities,
        plugins: [workerPlugin],
        ...rest,
      });
    },
    async governanceWorker(opts = {}) {
      return createGovernanceWorker({
        connection,
        taskQueue: governanceTaskQueue,
        policy: join(fixtures, 'policy.yaml'),
        signingKeyPath: keys.keyPath,
        trustBundlePath: keys.bundlePath,
        mongoUri: uri,
        database: lineageDatabase,
        ...(options.governance || {}),
        ...opts,
      });
    },
    async run<R>(fn: () => Promise<R>, extraWorkers?: Worker[]): Promise<R> {
      const workers = extraWorkers ?? [await env.appWorker(), ...(options.governance === false ? [] : [await env.governanceWorker()])];
      let result: R | undefined;
      let error: unknown;
      const runs = workers.map((w) => w.run());
      try {
        result = await fn();
      } catch (err) {
        error = err;
      } finally {
        for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
        await Promise.all(runs);
      }
      if (error) throw error;
      return result as R;
    },
    async close() {
      await plugin.close();
      await clientConnection.close();
      await connection.close();
    },
  };
  return env;
}

/** The GovernanceDenied failure a workflow failed with (throws if it did not fail that way). */
export async function expectGovernanceDenied(handle: WorkflowHandle): Promise<ApplicationFailure> {
  try {
    await handle.result();
  } catch (err) {
    if (err instanceof WorkflowFailedError) {
      const denial = findGovernanceDenial(err);
      if (denial) return denial;
      throw new Error(`workflow failed, but not with GovernanceDenied: ${String(err.cause)}`);
    }
    throw err;
  }
  throw new Error('workflow completed, expected it to fail with GovernanceDenied');
}

export { activities };
