// What the throughput and scale sections share: the bench identity (principal + API key), the
// governance worker in a child process (bench/governance-process.ts), and the governed client/worker
// plugin wired to it.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { GovernancePlugin } from '../src/plugin';
import { createApiKey, createPrincipal } from '../src/identity/store';
import { connectLineage } from '../src/lineage/store';
import { projectRoot } from '../src/stack/tools';
import { WORKER_ROLE } from '../src/common/constants';
import { ChildMessageSchema, type ChildMessage, type GovernanceProcessConfig, type IssuedDecision, type ParentMessage } from './governance-process';
import { BENCH_POLICY_PATH, BENCH_PRINCIPAL, BENCH_ROLES, type BenchKeys } from './latency';

export interface GovernanceReport {
  readonly decisions: IssuedDecision[];
  readonly warnings: Record<string, number>;
}

export interface GovernanceProcess {
  readonly pid: number;
  /** The direct-authorization endpoint, when the process was started with `direct`. */
  readonly directUrl: string | undefined;
  report(): Promise<GovernanceReport>;
  stop(): Promise<void>;
}

/** Starts the governance worker in a child process and resolves once it polls. */
export async function startGovernanceProcess(config: Omit<GovernanceProcessConfig, 'policyPath' | 'issuer' | 'direct'> & { direct?: boolean }, log: (line: string) => void): Promise<GovernanceProcess> {
  const child: ChildProcess = spawn(process.execPath, [...(process.env.BENCH_GOVERNANCE_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_GOVERNANCE_CPU_PROF] : []), '-r', require.resolve('ts-node/register/transpile-only'), join(__dirname, 'governance-process.ts')], {
    cwd: projectRoot,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  if (child.pid === undefined) throw new Error('cannot start the governance worker process');
  const pid = child.pid;
  const waiting = new Map<ChildMessage['type'], (message: ChildMessage) => void>();
  let failure: Error | undefined;
  const failAll = (err: Error) => {
    failure ??= err;
    for (const [, resolve] of waiting) resolve({ type: 'failed', message: err.message });
    waiting.clear();
  };
  child.on('message', (raw: unknown) => {
    const parsed = ChildMessageSchema.safeParse(raw);
    if (!parsed.success) return failAll(new Error(`unexpected message from the governance process: ${parsed.error.message}`));
    const message = parsed.data;
    if (message.type === 'failed') {
      log(`governance process: ${message.message}`);
      return failAll(new Error(message.message));
    }
    const resolve = waiting.get(message.type);
    waiting.delete(message.type);
    resolve?.(message);
  });
  child.once('exit', (code, signal) => failAll(new Error(`the governance process exited (${signal ?? code})`)));

  const ask = <T extends ChildMessage['type']>(request: ParentMessage, answer: T, timeoutMs: number): Promise<Extract<ChildMessage, { type: T }>> => {
    if (failure) return Promise.reject(failure);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        waiting.delete(answer);
        reject(new Error(`the governance process did not answer ${request.type} within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      waiting.set(answer, (message) => {
        clearTimeout(timer);
        if (message.type === 'failed') reject(new Error(message.message));
        else resolve(message as Extract<ChildMessage, { type: T }>);
      });
      child.send(request);
    });
  };

  const full: GovernanceProcessConfig = { ...config, direct: config.direct ?? false, policyPath: BENCH_POLICY_PATH, issuer: 'temporal-governance-bench' };
  let directUrl: string | undefined;
  try {
    ({ directUrl } = await ask({ type: 'start', config: full }, 'ready', 120_000));
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    pid,
    directUrl,
    report: async () => {
      const { decisions, warnings } = await ask({ type: 'report' }, 'report', 30_000);
      return { decisions, warnings };
    },
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      await ask({ type: 'stop' }, 'stopped', 30_000).catch(() => undefined);
      child.disconnect();
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

/** The bench principal and its API key in `database`, as `principals create` / `api-keys create` make them. */
export async function createBenchIdentity(mongoUri: string, database: string): Promise<string> {
  const identity = await connectLineage(mongoUri, database);
  try {
    await createPrincipal(identity.db, { id: BENCH_PRINCIPAL, roles: BENCH_ROLES, description: 'benchmark client' });
    return (await createApiKey(identity.db, { principal: BENCH_PRINCIPAL })).apiKey;
  } finally {
    await identity.client.close();
  }
}

/** A worker principal (role temporal-governance:worker) and its API key, for direct authorization. */
export async function createBenchWorkerKey(mongoUri: string, database: string): Promise<string> {
  const identity = await connectLineage(mongoUri, database);
  try {
    await createPrincipal(identity.db, { id: 'bench-worker', roles: [WORKER_ROLE], description: 'benchmark application worker (direct authorization)' });
    return (await createApiKey(identity.db, { principal: 'bench-worker' })).apiKey;
  } finally {
    await identity.client.close();
  }
}

/** The plugin for the governed client and app worker (the API key stays in this process). */
export function benchPlugin(apiKey: string, mongoUri: string, database: string, keys: BenchKeys, governanceQueue: string, direct?: { endpoint: string; workerKey: string }): GovernancePlugin {
  return new GovernancePlugin({
    apiKey,
    identity: { mongoUri, database },
    trustBundle: keys.bundlePath,
    workflow: { taskQueue: governanceQueue },
    ...(direct ? { directAuthorization: { endpoints: [direct.endpoint], apiKey: direct.workerKey } } : {}),
  });
}
