// Start-up checks and shutdown for governed workers. A misconfiguration that would otherwise show
// up later as blanket denials (MongoDB unreachable) or as denials operators cannot find
// (unregistered search attributes) stops the worker before it polls, with a message that says
// what to fix. Shutdown drains the worker and releases every socket and timer it opened, so a
// process whose `await worker.run()` resolved exits on its own.
import { readFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import type { Db } from 'mongodb';
import { Runtime, type NativeConnection, type Worker, type WorkflowBundleOption } from '@temporalio/worker';
import { SEARCH_ATTRIBUTES } from '../common/constants';
import { WORKFLOW_INTERCEPTORS_MARKER } from '../../interceptors/workflow/marker';

/** What a failed start-up check was about. */
export type StartupCheck = 'mongodb' | 'search-attributes' | 'workflow-bundle' | 'health-port' | 'direct-authorization';

/** A governed worker refused to start: its environment would not let it work as configured. */
export class GovernanceStartupError extends Error {
  override readonly name = 'GovernanceStartupError';
  constructor(
    readonly check: StartupCheck,
    message: string,
  ) {
    super(message);
  }
}
import { describeMongoUri, UNPARSEABLE_MONGO_URI } from '../identity/mongo-uri';

export { describeMongoUri };

/** First line of a driver error, with anything shaped like URI credentials removed (defence in depth). */
function driverReason(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return (message.split('\n')[0] ?? '').replace(/\/\/[^\s/@]*@/g, '//');
}

/**
 * Waits for MongoDB to answer a ping (bounded by the driver's server selection timeout, 5 s for
 * clients made by `connectLineage`). Refuses with a message naming the hosts, never the credentials.
 */
export async function checkMongoReachable(db: () => Promise<Db>, uri: string, database: string | undefined): Promise<void> {
  try {
    await (await db()).command({ ping: 1 });
  } catch (err) {
    // The driver's parse errors quote pieces of the URI, credentials included: say nothing more.
    if (describeMongoUri(uri) === UNPARSEABLE_MONGO_URI) throw new GovernanceStartupError('mongodb', 'MONGODB_URI is not a valid MongoDB URI (the parser\'s details are withheld: they may quote credentials)');
    throw new GovernanceStartupError(
      'mongodb',
      `MongoDB at ${describeMongoUri(uri)}${database ? ` (database ${database})` : ''} did not answer: ${driverReason(err)}. ` +
        'Identity, revocations and lineage live there; without it every decision would be denied. Check MONGODB_URI and that the server is up.',
    );
  }
}

// gRPC status codes (https://grpc.github.io/grpc/core/md_doc_statuscodes.html).
const GRPC_NOT_FOUND = 5;
const GRPC_PERMISSION_DENIED = 7;
const GRPC_UNIMPLEMENTED = 12;
/** temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD */
const KEYWORD = 2;

const grpcCode = (err: unknown): number | undefined => {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
};

/**
 * The governance search attributes must be registered as Keyword in the namespace: the workflow
 * interceptors set them on every denial, and the server rejects a workflow task that sets an
 * unregistered attribute, so a denied workflow would retry that task forever instead of failing
 * where operators' `GovernanceDecision = "denied"` filter finds it.
 *
 * If the namespace cannot be inspected (the worker's credentials may not call the operator API,
 * or the server does not offer it), this warns and lets the worker start: the attributes are
 * operator visibility, not a control. Nothing is admitted because they are missing, and least-
 * privilege deployments must be able to run workers. Every other failure refuses to start.
 */
export async function checkSearchAttributes(connection: NativeConnection | undefined, namespace: string, warn: (message: string) => void = runtimeWarn): Promise<void> {
  const register = (names: readonly string[]) =>
    names.map((n) => `temporal operator search-attribute create --namespace ${namespace} --name ${n} --type Keyword`).join(' && ');
  const required = Object.values(SEARCH_ATTRIBUTES);
  if (!connection) {
    warn(`temporal-governance: the worker has no explicit connection, so the search attributes ${required.join(', ')} of namespace ${namespace} were not checked`);
    return;
  }
  let custom: Record<string, number>;
  try {
    const response = await connection.operatorService.listSearchAttributes({ namespace });
    custom = (response.customAttributes ?? {}) as Record<string, number>;
  } catch (err) {
    const code = grpcCode(err);
    if (code === GRPC_PERMISSION_DENIED || code === GRPC_UNIMPLEMENTED) {
      warn(
        `temporal-governance: cannot list the search attributes of namespace ${namespace} (${driverReason(err)}); ` +
          `make sure ${required.join(', ')} are registered as Keyword, or denials will not fail where operators look: ${register(required)}`,
      );
      return;
    }
    if (code === GRPC_NOT_FOUND) throw new GovernanceStartupError('search-attributes', `namespace ${namespace} does not exist on the Temporal server (${driverReason(err)})`);
    throw new GovernanceStartupError('search-attributes', `cannot list the search attributes of namespace ${namespace}: ${driverReason(err)}`);
  }
  const missing = required.filter((name) => !(name in custom));
  const wrongType = required.filter((name) => name in custom && custom[name] !== KEYWORD);
  if (missing.length > 0 || wrongType.length > 0) {
    const problems = [
      missing.length > 0 ? `not registered: ${missing.join(', ')}` : '',
      wrongType.length > 0 ? `registered with a type other than Keyword: ${wrongType.join(', ')}` : '',
    ].filter(Boolean);
    throw new GovernanceStartupError(
      'search-attributes',
      `namespace ${namespace} lacks the governance search attributes (${problems.join('; ')}); denied workflows could not be marked and would retry their workflow task forever. ` +
        `Register them: ${register(missing.length > 0 ? missing : wrongType)}`,
    );
  }
}

/**
 * A prebuilt workflow bundle must contain the governance workflow interceptors: without them no
 * call is authorized, every protected activity is refused (ARTIFACT_MISSING) and denials set no
 * search attributes. Detected by a string the interceptors module carries
 * (interceptors/workflow/marker.ts); this catches a bundle built without the plugin, it is no
 * security boundary (the enforcement point is).
 */
export function checkWorkflowBundle(bundle: WorkflowBundleOption): void {
  let code: string;
  if ('code' in bundle) {
    code = bundle.code;
  } else {
    try {
      code = readFileSync(bundle.codePath, 'utf8');
    } catch (err) {
      throw new GovernanceStartupError('workflow-bundle', `cannot read the workflow bundle ${bundle.codePath}: ${(err as Error).message}`);
    }
  }
  if (!code.includes(WORKFLOW_INTERCEPTORS_MARKER)) {
    const where = 'codePath' in bundle ? ` ${bundle.codePath}` : '';
    throw new GovernanceStartupError(
      'workflow-bundle',
      `the workflow bundle${where} lacks the governance workflow interceptors: no call would be authorized, every protected activity would be refused (ARTIFACT_MISSING) and no denial would set the search attributes operators filter on. ` +
        'Build it with bundleWorkflowCode({ ..., plugins: [governancePlugin] }) (or workflowInterceptorModules: [WORKFLOW_INTERCEPTORS_MODULE]).',
    );
  }
}

function runtimeWarn(message: string): void {
  Runtime.instance().logger.warn(message);
}

/**
 * Runs `worker` until SIGINT or SIGTERM, then drains it: pollers stop, in-flight tasks finish
 * (within the worker's shutdownGraceTime), and `worker.run()` resolves, which releases what the
 * worker's plugins opened. A second signal exits at once with 128 + the signal number.
 * (The Temporal runtime also shuts workers down on these signals; shutting down twice is avoided.)
 */
export async function runUntilSignal(worker: Worker, log: (line: string) => void, signals: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM']): Promise<void> {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      log(`${signal} again: exiting without draining`);
      process.exit(128 + (osConstants.signals[signal] ?? 0));
    }
    stopping = true;
    log(`${signal}: draining in-flight tasks, then exiting (${signal} again to exit at once)`);
    if (worker.getState() === 'RUNNING') worker.shutdown();
  };
  for (const signal of signals) process.on(signal, onSignal);
  try {
    const running = worker.run();
    log(`worker polling task queue ${worker.options.taskQueue} (Ctrl-C to stop)`);
    await running;
    log('worker stopped');
  } finally {
    for (const signal of signals) process.off(signal, onSignal);
  }
}

interface Releasable {
  readonly release: () => Promise<void>;
  running?: Promise<void>;
}
const resources = new WeakMap<Worker, Releasable>();

/** Returns `release` made idempotent: the first call does the work, later calls wait for it. */
export function once(release: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  return () => (done ??= release());
}

/** Registers what `worker` must release when it stops or is closed (see closeGovernanceWorker). */
export function holdResources(worker: Worker, release: () => Promise<void>): void {
  resources.set(worker, { release: once(release) });
}

/**
 * Releases `worker`'s resources once `run` (its `runWorker` plugin hook's run) ends, however it
 * ends, and lets closeGovernanceWorker wait for that run.
 */
export function releaseAfterRun(worker: Worker, run: Promise<void>): Promise<void> {
  const held = resources.get(worker);
  if (!held) return run;
  const running = run.finally(() => held.release());
  held.running = running.catch(() => undefined);
  return running;
}

/**
 * Releases everything a governance worker opened (MongoDB clients, the identity refresh and outbox
 * sweeper timers, its native worker). `await worker.run()` does this itself when the worker stops;
 * call this to stop a running worker (it is drained first) or for one that was created but never
 * run. The SDK frees a native worker only at the end of a run, so a worker that never ran is
 * started and shut down at once (it may take a task it then drains). Idempotent.
 */
export async function closeGovernanceWorker(worker: Worker): Promise<void> {
  const held = resources.get(worker);
  if (!held) return;
  if (worker.getState() === 'INITIALIZED') {
    const run = worker.run();
    let settled = false;
    void run.catch(() => undefined).finally(() => (settled = true));
    held.running ??= run.catch(() => undefined);
    // run() reaches RUNNING synchronously unless a plugin awaits first: wait for it, or for run()
    // to end without ever running (a plugin's runWorker that rejects).
    while (worker.getState() === 'INITIALIZED' && !settled) await new Promise((resolve) => setImmediate(resolve));
  }
  if (worker.getState() === 'RUNNING') worker.shutdown();
  await held.running;
  await held.release();
}
