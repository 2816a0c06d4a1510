// The dev stack the project provisions and starts itself (demo, tests, CI): Temporal and MongoDB.
// Existing servers win: TEMPORAL_ADDRESS and MONGODB_URI point at them and nothing is started.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { MongoClient } from 'mongodb';
import { SEARCH_ATTRIBUTES } from '../common/constants';
import { dataDir, ensureFerretDb, ensureTemporalCli, onPath, ProvisioningError } from './tools';

export interface DevStack {
  readonly temporalAddress: string;
  readonly namespace: string;
  /** Temporal Web UI, when this stack started the server (null for an external TEMPORAL_ADDRESS). */
  readonly uiUrl: string | null;
  readonly mongoUri: string | null;
  /** What was started or used, for people reading logs. */
  readonly description: string[];
  /** The servers this stack started itself (absent for an existing TEMPORAL_ADDRESS / MONGODB_URI). */
  readonly servers: { readonly temporal?: SupervisedServer; readonly mongo?: SupervisedServer };
  stop(): Promise<void>;
}

/**
 * A server the stack started under its supervisor. The bench reads its pid (CPU, RSS from /proc)
 * and restarts MongoDB under load (`npm run bench -- --scale --fault mongo-restart`).
 */
export interface SupervisedServer {
  readonly name: string;
  /** The server process's own pid (the one below its supervisor), null while it is stopped or off Linux. */
  pid(): number | null;
  /** Stops the server; its data directory stays. A stopped server can be started again. */
  stop(): Promise<void>;
  /**
   * Starts it again with the same command, port and data, and resolves once it answers. An
   * in-memory Temporal server (persistTemporal unset) comes back empty.
   */
  start(): Promise<void>;
}

export interface DevStackOptions {
  readonly temporal?: boolean;
  readonly mongo?: boolean;
  /** Name of this stack's data: SQLite files under .data/<name>/. */
  readonly name?: string;
  /** Keep Temporal's SQLite database in .data/ (default: in memory). */
  readonly persistTemporal?: boolean;
  readonly log?: (line: string) => void;
  readonly env?: NodeJS.ProcessEnv;
}

/** Custom search attributes the governance interceptors write. */
export const GOVERNANCE_SEARCH_ATTRIBUTES = Object.values(SEARCH_ATTRIBUTES);

const supervisorPath = join(__dirname, 'supervisor.js');
const running = new Set<ChildProcess>();

function killAll(): void {
  for (const child of running) child.stdin?.destroy();
  running.clear();
}
process.once('exit', killAll);

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Starts a server under the supervisor, which stops it as soon as this process goes away. */
function startSupervised(name: string, command: string, args: string[], log: (line: string) => void): ChildProcess {
  const child = spawn(process.execPath, [supervisorPath, command, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  running.add(child);
  const tail: string[] = [];
  const collect = (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n').filter(Boolean)) {
      tail.push(line);
      if (tail.length > 20) tail.shift();
    }
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  child.on('exit', (code) => {
    if (running.delete(child) && code !== 0) log(`${name} exited with code ${code}:\n${tail.join('\n')}`);
  });
  (child as ChildProcess & { outputTail?: string[] }).outputTail = tail;
  return child;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  running.delete(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.stdin?.end();
  await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
  if (child.exitCode === null) child.kill('SIGKILL');
}

async function waitFor(what: string, child: ChildProcess | null, probe: () => Promise<void>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) {
      const tail = (child as ChildProcess & { outputTail?: string[] }).outputTail ?? [];
      throw new ProvisioningError(`${what} exited during start-up (code ${child.exitCode}):\n${tail.join('\n')}`);
    }
    try {
      await probe();
      return;
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  throw new ProvisioningError(`${what} did not become ready within ${timeoutMs / 1000}s: ${(last as Error)?.message ?? last}`);
}

/** The first child of a supervisor process: the server itself (Linux /proc; null elsewhere). */
function childPid(supervisorPid: number | undefined): number | null {
  if (supervisorPid === undefined) return null;
  try {
    const first = readFileSync(`/proc/${supervisorPid}/task/${supervisorPid}/children`, 'utf8').trim().split(/\s+/)[0];
    return first ? Number(first) : null;
  } catch {
    return null;
  }
}

/**
 * Ports are found free and then bound by the server a moment later (start-dev also picks its own
 * HTTP API and metrics ports that way): another process can take one in between. Such a start
 * fails with "address already in use" and is tried again with other ports.
 */
const PORT_ATTEMPTS = 3;
const ADDRESS_IN_USE = /address already in use|EADDRINUSE/i;

function supervisedServer(name: string, command: string, args: string[], probe: () => Promise<void>, log: (line: string) => void): SupervisedServer {
  let child: ChildProcess | null = null;
  return {
    name,
    pid: () => (child && child.exitCode === null && child.signalCode === null ? childPid(child.pid) : null),
    async start() {
      if (child && child.exitCode === null && child.signalCode === null) return;
      child = startSupervised(name, command, args, log);
      await waitFor(name, child, probe, 60_000);
    },
    async stop() {
      const running = child;
      child = null;
      if (running) await stopChild(running);
    },
  };
}

async function registerSearchAttributes(address: string, namespace: string, log: (line: string) => void): Promise<void> {
  const connection = await Connection.connect({ address });
  try {
    const existing = await connection.operatorService.listSearchAttributes({ namespace });
    const missing = GOVERNANCE_SEARCH_ATTRIBUTES.filter((name) => !(name in (existing.customAttributes ?? {})));
    if (missing.length === 0) return;
    // 2 = INDEXED_VALUE_TYPE_KEYWORD
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map((name) => [name, 2])),
    });
    log(`registered search attributes ${missing.join(', ')} on namespace ${namespace}`);
  } catch (err) {
    log(
      `could not register governance search attributes on ${address} (${(err as Error).message}); ` +
        `register them with: ${GOVERNANCE_SEARCH_ATTRIBUTES.map((n) => `temporal operator search-attribute create --name ${n} --type Keyword`).join(' && ')}`,
    );
  } finally {
    await connection.close();
  }
}

async function pingTemporal(address: string): Promise<void> {
  const connection = await Connection.connect({ address, connectTimeout: 1_000 });
  try {
    await connection.workflowService.getSystemInfo({});
  } finally {
    await connection.close();
  }
}

async function pingMongo(uri: string): Promise<void> {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 1_000, connectTimeoutMS: 1_000 });
  try {
    await client.db('admin').command({ ping: 1 });
  } finally {
    await client.close();
  }
}

export async function startDevStack(options: DevStackOptions = {}): Promise<DevStack> {
  const env = options.env ?? process.env;
  const log = options.log ?? ((line: string) => process.stderr.write(`[stack] ${line}\n`));
  const name = options.name ?? 'dev';
  const namespace = env.TEMPORAL_NAMESPACE ?? 'default';
  const started: SupervisedServer[] = [];
  const servers: { temporal?: SupervisedServer; mongo?: SupervisedServer } = {};
  const description: string[] = [];
  const stop = async () => {
    await Promise.all(started.map((server) => server.stop()));
  };

  try {
    let temporalAddress = env.TEMPORAL_ADDRESS ?? '';
    let uiUrl: string | null = null;
    if (options.temporal !== false) {
      if (temporalAddress) {
        await waitFor(`Temporal at TEMPORAL_ADDRESS=${temporalAddress}`, null, () => pingTemporal(temporalAddress), 15_000);
        description.push(`Temporal: existing server at ${temporalAddress} (TEMPORAL_ADDRESS)`);
      } else {
        const cli = ensureTemporalCli(log);
        for (let attempt = 1; ; attempt++) {
          const [port, uiPort] = [await freePort(), await freePort()];
          const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--ui-port', String(uiPort), '--log-level', 'error', '--namespace', namespace];
          // start-dev polls its single shard's transfer queue 20 times a second, which quantizes every
          // task dispatch to 50 ms; production clusters do not (measured with npm run bench).
          args.push('--dynamic-config-value', 'history.transferProcessorMaxPollRPS=1000');
          for (const sa of GOVERNANCE_SEARCH_ATTRIBUTES) args.push('--search-attribute', `${sa}=Keyword`);
          if (options.persistTemporal) {
            mkdirSync(join(dataDir, name), { recursive: true });
            args.push('--db-filename', join(dataDir, name, 'temporal.sqlite'));
          }
          const address = `127.0.0.1:${port}`;
          const server = supervisedServer('temporal server start-dev', cli, args, () => pingTemporal(address), log);
          try {
            await server.start();
          } catch (err) {
            await server.stop();
            if (attempt < PORT_ATTEMPTS && ADDRESS_IN_USE.test((err as Error).message)) {
              log(`temporal server start-dev found a port taken (${PORT_ATTEMPTS - attempt} more tries with other ports)`);
              continue;
            }
            throw err;
          }
          started.push(server);
          servers.temporal = server;
          temporalAddress = address;
          uiUrl = `http://127.0.0.1:${uiPort}`;
          break;
        }
        description.push(`Temporal: ${cli} server start-dev on ${temporalAddress}, Web UI ${uiUrl}`);
      }
      await registerSearchAttributes(temporalAddress, namespace, log);
    }

    let mongoUri: string | null = null;
    if (options.mongo !== false) {
      if (env.MONGODB_URI) {
        mongoUri = env.MONGODB_URI;
        await waitFor('MongoDB at MONGODB_URI', null, () => pingMongo(mongoUri!), 15_000);
        description.push('MongoDB: existing server (MONGODB_URI)');
      } else {
        const mongod = onPath('mongod');
        const ferretdb = mongod ? null : await ensureFerretDb(log);
        for (let attempt = 1; ; attempt++) {
          const port = await freePort();
          const uri = `mongodb://127.0.0.1:${port}/`;
          let server: SupervisedServer;
          let what: string;
          if (mongod) {
            const dbPath = join(dataDir, name, 'mongod');
            mkdirSync(dbPath, { recursive: true });
            server = supervisedServer('mongod', mongod, ['--dbpath', dbPath, '--port', String(port), '--bind_ip', '127.0.0.1', '--quiet'], () => pingMongo(uri), log);
            what = `MongoDB: mongod on 127.0.0.1:${port}`;
          } else {
            const dir = join(dataDir, name, 'ferretdb');
            mkdirSync(dir, { recursive: true });
            server = supervisedServer('ferretdb', ferretdb!, ['-listen', `127.0.0.1:${port}`, '-sqlite-url', `file:${dir}/`], () => pingMongo(uri), log);
            what = `MongoDB: FerretDB (SQLite backend in ${dir}) on 127.0.0.1:${port}`;
          }
          try {
            await server.start();
          } catch (err) {
            await server.stop();
            if (attempt < PORT_ATTEMPTS && ADDRESS_IN_USE.test((err as Error).message)) {
              log(`${server.name} found its port taken (${PORT_ATTEMPTS - attempt} more tries with other ports)`);
              continue;
            }
            throw err;
          }
          started.push(server);
          servers.mongo = server;
          mongoUri = uri;
          description.push(what);
          break;
        }
      }
    }

    return { temporalAddress, namespace, uiUrl, mongoUri, description, servers, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Stops the stack on Ctrl-C and termination too (the supervisors also stop on a hard kill). */
export function stopOnSignals(stack: DevStack): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      void stack.stop().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
    });
  }
}

export { ProvisioningError };
