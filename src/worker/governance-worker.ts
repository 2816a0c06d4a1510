// The governance worker: runs the authorization activity on the governance task queue (and, with
// directAuthorization, answers direct requests), and the lineage workflows with their persist
// activity on the lineage task queue (a second Worker with slots of its own, so lineage work never
// delays an authorization). It is the only process that holds the signing key.
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker, type ActivityInterceptorsFactory } from '@temporalio/worker';
import { createAuthorizer } from '../../activities/authorize';
import { callerFromInfo, readDeliveredMessage, readRunStart, runStartCache } from '../../activities/caller';
import { readScheduleRecord } from '../../activities/schedule';
import { bindScheduleProof, claimScheduledTime, findScheduledRun } from '../identity/schedule-store';
import { AUTHORIZE_ACTIVITY, DEFAULT_GOVERNANCE_TASK_QUEUE, IDENTITY_STALE_FAILURE } from '../common/constants';
import { parseDirectEndpointOptions, startDirectEndpoint, type DirectEndpoint, type DirectEndpointOptions } from '../direct/endpoint';
import type { DirectAuthorizeBody, DirectAuthorizeResponse } from '../direct/wire';
import { verifyWorkerRequest } from '../direct/worker-request';
import { stalenessProblem } from '../identity/snapshot';
import { loadSigningKey, watchTrustBundle, KeyError } from '../crypto/keys';
import { nodeEd25519 } from '../crypto/node';
import { rememberVerified } from '../crypto/memo';
import { DEFAULT_MAX_STALENESS_MS, mongoIdentitySource, type IdentitySource } from '../identity/cache';
import { claimArtifact, claimMessageProof, claimRunGrant, claimStartProof, findStartProofClaim, pruneArtifactClaims } from '../identity/store';
import { loadPolicyFile } from '../policy/load';
import { parsePolicy, type Policy } from '../policy/schema';
import { Context } from '@temporalio/activity';
import type { Db, MongoClient } from 'mongodb';
import { drainOutcomeReports, enforcementInterceptor } from '../../interceptors/activity';
import { signingInput } from '../artifact/artifact';
import { fromBase64Url } from '../common/base64url';
import type { SignedArtifact, SignedDenial } from '../common/schemas';
import { LINEAGE_WORKFLOW_TYPE, LineageSignalSchema, lineageTaskQueue, lineageWorkflowId, MAX_LINEAGE_SIGNAL_CHARS, PERSIST_LINEAGE_ACTIVITY } from '../lineage/schema';
import { ApplicationFailure } from '@temporalio/common';
import { handOffToLineage, LineageDispatcher } from '../lineage/handoff';
import { connectLineage, deadLetterOutbox, ensureLineageIndexes, lingeringOutbox, LINEAGE_WRITE_DEADLINES, persistLineageBatch, postponeOutbox, writeToOutbox, type ChainState, type OutboxEntry } from '../lineage/store';
import { RecentDecisions } from '../lineage/recent-decisions';
import { Client } from '@temporalio/client';
import { toBase64Url } from '../common/base64url';
import { observeAuthorizations } from '../observability/authorization';
import type { DataConverter } from '@temporalio/common';
import { guardedDataConverter } from './data-converter';
import type { Duration } from '@temporalio/common';
import { checkMongoReachable, checkSearchAttributes, GovernanceStartupError, holdResources, once, releaseAfterRun } from './lifecycle';
import { hostname } from 'node:os';
import { setMaxListeners } from 'node:events';
import { governanceWorkerIdentity } from '../health/worker-identity';
import type { WorkerHealthOptions, WorkerHealthServer } from '../health/worker-server';


export interface GovernanceWorkerOptions {
  readonly connection: NativeConnection;
  readonly namespace?: string;
  readonly taskQueue?: string;
  /** Policy file path, or an already parsed policy document. */
  readonly policy: string | Policy | Record<string, unknown>;
  /** Path of the signing key file (JWK, mode 0600). */
  readonly signingKeyPath: string;
  /** Trust bundle path; the signing key's public half must be in it. */
  readonly trustBundlePath: string;
  /** Issuer name in every artifact (default `temporal-governance/<kid>`); must be the same on every worker that holds the key. */
  readonly issuer?: string;
  /** Lifetime of per-call artifacts (default 5 minutes). */
  readonly artifactTtlMs?: number;
  /** Most levels of child-workflow nesting below a root (default and maximum MAX_NESTING_DEPTH, 32); deeper child starts are denied NESTING_TOO_DEEP. */
  readonly maxNestingDepth?: number;
  /** Authorization activities in flight at once on the governance task queue (default 200). */
  readonly maxConcurrentActivityTaskExecutions?: number;
  /** Persist activities in flight at once on the lineage task queue (default 20): MongoDB writes, never in the authorizations' slots. */
  readonly maxConcurrentLineagePersists?: number;
  /**
   * Lineage workflow runs kept in the lineage worker's cache (default 500). An idle run completes
   * after a minute (workflows/lineage.ts) and leaves it anyway; this bounds the memory of open roots.
   */
  readonly maxCachedLineageWorkflows?: number;
  /** MongoDB for identity (principals, API keys, revocations) and lineage records (MONGODB_URI). */
  readonly mongoUri: string;
  readonly database?: string;
  /** Identity state older than this denies every decision (default 5000 ms). */
  readonly maxStalenessMs?: number;
  /** How often identity state is re-read (default 1000 ms). */
  readonly identityRefreshMs?: number;
  /** How much older than the workflow start a start proof may be (default 5 minutes). */
  readonly proofMaxAgeMs?: number;
  /**
   * How long after a scheduled run's start (server time) its schedule may take to list it in its
   * recent actions before the run is denied SCHEDULE_RUN_UNCONFIRMED (default 10000 ms; keep it
   * below the workflows' authorizationTimeoutMs so the denial is signed). See docs/identity.md.
   */
  readonly scheduleConfirmationMs?: number;
  /** How long a decision may wait in the lineage outbox before it is handed to its lineage workflow again (default 30000 ms). */
  readonly lineageSweepMs?: number;
  /**
   * Adds each request's argument values (and the denial reason, which can quote them) to the
   * per-decision log line (default false: arguments can hold secrets). See docs/observability.md.
   */
  readonly logDecisionArguments?: boolean;
  /**
   * Activity interceptors that run outside governance's own, e.g. those of
   * @temporalio/interceptors-opentelemetry, so `governance.authorize` spans are children of their
   * RunActivity spans.
   */
  readonly activityInterceptors?: readonly ActivityInterceptorsFactory[];
  /**
   * The data converter of your clients and workers (payload converter and payload codecs, with their
   * keys): governance must read plaintext arguments to evaluate and digest them (docs/codecs.md).
   */
  readonly dataConverter?: DataConverter;
  /**
   * Identity state to read instead of the worker's own reader of `mongoUri`/`database` (the testing
   * kit passes one that re-reads after it creates a key). Same database; the worker closes it when it stops.
   */
  readonly identitySource?: IdentitySource & { db(): Promise<Db> };
  /**
   * How long in-flight activities may run on after shutdown() before they are cancelled (default
   * 10 s; an authorization takes milliseconds, so this only matters when MongoDB is slow).
   */
  readonly shutdownGraceTime?: Duration;
  /** Passed to the Worker: after this long a shutdown gives up draining and `run()` rejects (default: no limit). */
  readonly shutdownForceTime?: Duration;
  /**
   * Opt-in health port serving /healthz, /readyz and /metrics (docs/operations.md#health-port),
   * e.g. `{ port: 9464 }`; binds 127.0.0.1 unless `host` says otherwise. Off by default. It closes
   * when the worker's run ends (or closeGovernanceWorker).
   */
  readonly health?: WorkerHealthOptions;
  /**
   * Opt-in endpoint for application workers that authorize by local activity
   * (docs/direct-authorization.md), e.g. `{ port: 7243 }`: POST /v1/authorize, each request signed
   * with a worker API key. Binds 127.0.0.1 unless `host` says otherwise (which requires `tls`). Off
   * by default; it closes when the worker's run ends (or closeGovernanceWorker).
   */
  readonly directAuthorization?: DirectEndpointOptions;
}

const healthServers = new WeakMap<Worker, WorkerHealthServer>();
const directEndpoints = new WeakMap<Worker, DirectEndpoint>();

/** The URL of a governance worker's direct-authorization endpoint (e.g. http://127.0.0.1:7243), undefined without one. */
export function governanceDirectUrl(worker: Worker): string | undefined {
  return directEndpoints.get(worker)?.url;
}

/** The URL of a governance worker's health port (e.g. http://127.0.0.1:9464), undefined without one. */
export function governanceHealthUrl(worker: Worker): string | undefined {
  return healthServers.get(worker)?.url;
}

export const DEFAULT_SHUTDOWN_GRACE_TIME = '10s';

export const DEFAULT_LINEAGE_SWEEP_MS = 30_000;
/** Clock differences between enforcement points and governance workers, on top of the artifact lifetime. */
const CLAIM_MARGIN_MS = 60_000;

export class GovernanceWorkerConfigError extends Error {
  override readonly name = 'GovernanceWorkerConfigError';
}

/** Loads and checks everything first: an invalid policy or key stops the worker before it polls. */
export async function createGovernanceWorker(options: GovernanceWorkerOptions): Promise<Worker> {
  const policy = typeof options.policy === 'string' ? loadPolicyFile(options.policy) : 'version' in options.policy ? (options.policy as Policy) : parsePolicy(options.policy);
  const signingKey = loadSigningKey(options.signingKeyPath);
  const trustBundle = watchTrustBundle(options.trustBundlePath);
  const trusted = trustBundle().keys.get(signingKey.kid);
  if (!trusted || toBase64Url(trusted.publicKey) !== signingKey.x) {
    throw new KeyError(`signing key ${signingKey.kid} is not in the trust bundle ${options.trustBundlePath}; verifiers would reject every artifact`);
  }
  if (trusted.notAfter !== null && trusted.notAfter <= Date.now()) {
    throw new KeyError(`signing key ${signingKey.kid} is retired in ${options.trustBundlePath}; start with the current key`);
  }
  const maxStalenessMs = options.maxStalenessMs ?? DEFAULT_MAX_STALENESS_MS;
  if (options.identityRefreshMs !== undefined && options.identityRefreshMs >= maxStalenessMs) {
    throw new GovernanceWorkerConfigError(`identityRefreshMs (${options.identityRefreshMs}) must be below maxStalenessMs (${maxStalenessMs}): the state would always be stale`);
  }
  if (options.logDecisionArguments !== undefined && typeof options.logDecisionArguments !== 'boolean') {
    throw new GovernanceWorkerConfigError(`logDecisionArguments must be true or false, got ${typeof options.logDecisionArguments}`);
  }
  if (options.scheduleConfirmationMs !== undefined && !(Number.isInteger(options.scheduleConfirmationMs) && options.scheduleConfirmationMs > 0)) {
    throw new GovernanceWorkerConfigError(`scheduleConfirmationMs must be a positive integer (ms), got ${String(options.scheduleConfirmationMs)}`);
  }
  if (options.activityInterceptors !== undefined && !(Array.isArray(options.activityInterceptors) && options.activityInterceptors.every((f) => typeof f === 'function'))) {
    throw new GovernanceWorkerConfigError('activityInterceptors must be an array of activity interceptor factories');
  }
  // Every Worker and Client below uses it: a payload it cannot read fails typed and named (codec
  // mismatch). Checked before anything connects: a bad converter leaves no client behind.
  const dataConverter = guardedDataConverter(options.dataConverter);
  // Loaded only when asked for: the health port brings Fastify and the OpenTelemetry SDK.
  const healthModule = options.health === undefined ? undefined : await import('../health/worker-server');
  let healthOptions;
  try {
    healthOptions = healthModule?.parseWorkerHealthOptions(options.health);
  } catch (err) {
    throw new GovernanceWorkerConfigError((err as Error).message);
  }
  const identity = options.identitySource ?? mongoIdentitySource({ mongoUri: options.mongoUri, database: options.database, refreshMs: options.identityRefreshMs, component: 'governance-worker' });

  const taskQueue = options.taskQueue ?? DEFAULT_GOVERNANCE_TASK_QUEUE;
  const lineageQueue = lineageTaskQueue(taskQueue);
  const artifactTtlMs = options.artifactTtlMs ?? 5 * 60_000;
  // Lineage must work while MongoDB is down: connect lazily, per batch, and let failures retry.
  const lineageDb = lazyLineageDb(options.mongoUri, options.database);
  let sweeper: { stop(): Promise<void> } | undefined;
  // This process's own decisions: its persist attempts take them without reading the outbox.
  const recent = new RecentDecisions();
  const dispatcher = new LineageDispatcher({
    deliver: (rootId, signals) => handOffToLineage(governanceClient(), lineageQueue, signals, rootId),
    onError: (rootId, err) => currentLogger().warn('lineage: signal not delivered; the outbox holds the decisions and the sweeper will re-deliver them', { rootId, error: String(err) }),
  });
  let healthServer: WorkerHealthServer | undefined;
  let directEndpoint: DirectEndpoint | undefined;
  let directOptions: ReturnType<typeof parseDirectEndpointOptions> | undefined;
  try {
    directOptions = options.directAuthorization === undefined ? undefined : parseDirectEndpointOptions(options.directAuthorization);
  } catch (err) {
    throw new GovernanceWorkerConfigError((err as Error).message);
  }
  let createdWorker: Worker | undefined;
  let lineageWorker: Worker | undefined;
  // Everything the worker opens, released when its run ends (or by closeGovernanceWorker).
  const release = once(async () => {
    // First: its /readyz reads the identity source closed below, and direct requests decide with it.
    await healthServer?.close();
    await directEndpoint?.close();
    await dispatcher.drain(5_000);
    await drainOutcomeReports(2_000);
    await sweeper?.stop();
    await Promise.all([identity.close(), lineageDb.close()]);
  });
  // One client for the server reads and lineage signals of decisions, made in the authorization
  // activity or for a direct request (which has no activity context).
  let client: Client | undefined;
  const governanceClient = () => (client ??= new Client({ connection: options.connection, namespace: options.namespace ?? 'default', dataConverter }));
  const authorize = createAuthorizer({
    policy,
    signingKey,
    trustBundle,
    identity: () => identity.current(),
    maxStalenessMs,
    proofMaxAgeMs: options.proofMaxAgeMs,
    startProofs: {
      claim: async (claim) => claimStartProof(await identity.db(), claim),
      find: async (proofId) => findStartProofClaim(await identity.db(), proofId),
      runGrant: async (run, grantId) => claimRunGrant(await identity.db(), run, grantId),
      claimGrant: async (claim) => claimStartProof(await identity.db(), claim, undefined, 'grant_claims'),
      claimMessage: async (claim) => claimMessageProof(await identity.db(), claim),
    },
    scheduledRuns: {
      readSchedule: (namespace, scheduleId) => readScheduleRecord(governanceClient(), namespace, scheduleId),
      claims: {
        bindProof: async (claim) => bindScheduleProof(await identity.db(), claim),
        claimScheduledTime: async (claim) => claimScheduledTime(await identity.db(), claim),
        findScheduledRun: async (run) => findScheduledRun(await identity.db(), run),
      },
      confirmWithinMs: options.scheduleConfirmationMs,
    },
    // Each call's authorization verifies its run's grant again: remembered, not repeated.
    ed25519: rememberVerified(nodeEd25519),
    // The same on every worker holding the key: a retried authorization taken by another worker
    // must sign the same bytes under the same id, or lineage would hold the other version.
    issuer: options.issuer ?? `temporal-governance/${signingKey.kid}`,
    artifactTtlMs,
    maxNestingDepth: options.maxNestingDepth,
    now: () => Context.current().info.scheduledTimestampMs,
    // Durable first (MongoDB, which deciding needs anyway), then the signal that gets it chained,
    // not awaited: it would add a server round trip to every decision (LineageDispatcher). A lost
    // signal (an impostor run holding the lineage id, a terminated lineage run) costs latency,
    // never a record: persist takes what a record names from the outbox, the sweeper re-delivers.
    // The signal names the decision; persist reads its bytes from the outbox (one copy in history, not three).
    handOff: async (signal, rootId) => {
      if (signal.kind === 'outcome' || signal.kind === 'ref') return;
      await writeToOutbox(await lineageDb.get(), rootId, signal);
      recent.wrote(rootId, signal);
      dispatcher.send(rootId, { kind: 'ref', id: signal.signed.payload.id });
    },
  });
  // Span, metrics and one log line per decision (docs/observability.md).
  const observedAuthorize = observeAuthorizations(authorize, { logDecisionArguments: options.logDecisionArguments ?? false });

  // One history read per run grant, shared by its retries; the server's record is immutable.
  const runStart = runStartCache((caller) => readRunStart(governanceClient(), caller));

  /** Lineage workflow runs seen to run on the lineage task queue. */
  const lineageCallers = new Set<string>();


  const namespace = options.namespace ?? 'default';
  /**
   * A direct request (docs/direct-authorization.md): the caller is the one a live worker key signed
   * for, never the request's claim; then the same authorizer decides, with the local activity's
   * first scheduled time as the issue time (its retries get the same artifact).
   */
  async function decideDirect(body: DirectAuthorizeBody, maxScheduledAgeMs: number): Promise<DirectAuthorizeResponse> {
    const snapshot = await identity.current();
    const stale = stalenessProblem(snapshot, Date.now(), maxStalenessMs);
    if (stale || !snapshot) return { failure: { type: IDENTITY_STALE_FAILURE, message: stale!.reason, nonRetryable: false } };
    const proven = verifyWorkerRequest(body.proof, body.request, snapshot, Date.now(), nodeEd25519, { maxScheduledAgeMs });
    if ('code' in proven) {
      // The reason names keys and principals: for the operator's log, not for whoever asked.
      currentLogger().warn('direct authorization: worker request refused', { code: proven.code, reason: proven.reason });
      return { failure: { type: 'GovernanceWorkerUnauthenticated', message: `the worker request is refused (${proven.code}); the governance worker's log says why`, nonRetryable: true } };
    }
    const { caller } = proven;
    if ((body.request as { action?: unknown } | null)?.action === 'workflow') {
      // A run grant's scheduling must survive a lost workflow task: only the authorization activity has one that does.
      return { failure: { type: 'GovernanceMalformedRequest', message: 'a run grant is asked by the authorization activity on the governance task queue, never directly', nonRetryable: true } };
    }
    if (caller.namespace !== namespace) {
      return { failure: { type: 'GovernanceWorkerUnauthenticated', message: `this governance worker decides for namespace ${namespace}, not ${caller.namespace}`, nonRetryable: true } };
    }
    const now = Date.now();
    try {
      const result = await observedAuthorize(
        body.request,
        {
          caller: { namespace: caller.namespace, workflowId: caller.workflowId, runId: caller.runId, workflowType: caller.workflowType },
          runStart,
          message: (c, lookup) => readDeliveredMessage(governanceClient(), c, lookup),
          scheduling: `direct:${caller.activityId}@${caller.scheduledAt}`,
          attemptScheduledAt: now,
          issuedAt: caller.scheduledAt,
        },
        { log: currentLogger() as never, scheduledAtMs: now },
      );
      return { result };
    } catch (err) {
      if (err instanceof ApplicationFailure) return { failure: { type: err.type ?? 'Error', message: err.message, nonRetryable: err.nonRetryable === true } };
      // Retryable, like a failed authorization activity attempt; the message names what failed, never a secret.
      return { failure: { type: 'GovernanceUnavailable', message: (err as Error).message ?? String(err), nonRetryable: false } };
    }
  }

  const verifyRecord = (signed: SignedArtifact | SignedDenial) => {
    const key = trustBundle().keys.get(signed.payload.kid);
    return !!key && nodeEd25519.verify(fromBase64Url(signed.signature), signingInput(signed.payload), key);
  };

  try {
    // Before polling: a worker that cannot reach MongoDB would deny everything, and one in a
    // namespace without the search attributes would leave denials where operators cannot see them.
    await checkMongoReachable(identity.db, options.mongoUri, options.database);
    await checkSearchAttributes(options.connection, options.namespace ?? 'default');
    if (healthModule && healthOptions) {
      // Before the native worker exists, so a port in use stops nothing that must be drained.
      try {
        healthServer = await healthModule.startWorkerHealthServer(healthOptions, {
          taskQueue,
          policy: { id: policy.id, version: policy.version },
          readiness: healthModule.workerReadiness({ db: identity.db, identity: () => identity.current(), maxStalenessMs, state: () => createdWorker?.getState() ?? 'STARTING' }),
        });
      } catch (err) {
        throw new GovernanceStartupError('health-port', (err as Error).message);
      }
    }
    const workerIdentity = governanceWorkerIdentity(`${process.pid}@${hostname()}`, policy);
    // The lineage half first: if the authorization half cannot be created, it is discarded below.
    lineageWorker = await Worker.create({
      connection: options.connection,
      namespace: options.namespace ?? 'default',
      taskQueue: lineageQueue,
      // The same identity on both queues: health and the console show one governance worker.
      identity: workerIdentity,
      dataConverter,
      // The lineage workflow is bundled without the governance workflow interceptors: it records
      // governance, it is not governed by it (it would need an authorization to record one).
      workflowBundle: await lineageBundle(options.dataConverter),
      maxCachedWorkflows: options.maxCachedLineageWorkflows ?? DEFAULT_MAX_CACHED_LINEAGE_WORKFLOWS,
      activities: {
        [PERSIST_LINEAGE_ACTIVITY]: async (rootId: string, batch: unknown[], chain: ChainState) => {
          // Only a root's own lineage workflow may write that root's chain. As an activity (runs of an
          // earlier version), its caller is server-set, but a type name is anyone's to choose, so the
          // caller's task queue is checked too (once per run). As a local activity it can only be
          // called by a workflow this very worker runs: the lineage workflow of its own bundle.
          const context = Context.current();
          const { workflowType, workflowExecution } = context.info;
          const refuse = (why: string) => ApplicationFailure.nonRetryable(`persisting lineage of root ${rootId} is reserved to its lineage workflow ${lineageWorkflowId(rootId)} on ${lineageQueue}: ${why}`, 'GovernanceLineageCallerRefused');
          if (workflowType !== LINEAGE_WORKFLOW_TYPE || workflowExecution?.workflowId !== lineageWorkflowId(rootId)) throw refuse(`called by ${workflowType} ${workflowExecution?.workflowId}`);
          // Abandoned attempts stop: at the attempt's own deadline (a margin below its
          // start-to-close, when the server gives up on it and schedules a retry), or when the
          // server cancels it (learnt from the heartbeats below). No MongoDB call starts after
          // that, and reads in flight are cancelled, so a zombie never holds a slot for long.
          const abandoned = AbortSignal.any([context.cancellationSignal, AbortSignal.timeout(attemptBudgetMs(context.info.startToCloseTimeoutMs))]);
          setMaxListeners(64, abandoned); // one listener per read in flight (a few at a time)
          const beat = context.info.isLocal ? undefined : setInterval(() => context.heartbeat(), PERSIST_HEARTBEAT_MS);
          beat?.unref();
          try {
            if (!context.info.isLocal && !lineageCallers.has(workflowExecution.runId)) {
              const { taskQueue: callerQueue } = await context.client.workflow.getHandle(workflowExecution.workflowId, workflowExecution.runId).describe();
              if (callerQueue !== lineageQueue) throw refuse(`the calling run is on task queue ${callerQueue}`);
              lineageCallers.add(workflowExecution.runId);
              if (lineageCallers.size > 10_000) lineageCallers.delete(lineageCallers.values().next().value!);
            }
            const parsed = batch.map((s) => LineageSignalSchema.parse(s));
            return await persistLineageBatch(await lineageDb.get(), rootId, parsed, verifyRecord, undefined, chain, abandoned, recent);
          } finally {
            clearInterval(beat);
          }
        },
      },
      maxConcurrentActivityTaskExecutions: options.maxConcurrentLineagePersists ?? DEFAULT_MAX_CONCURRENT_LINEAGE_PERSISTS,
      maxConcurrentLocalActivityExecutions: options.maxConcurrentLineagePersists ?? DEFAULT_MAX_CONCURRENT_LINEAGE_PERSISTS,
      shutdownGraceTime: options.shutdownGraceTime ?? DEFAULT_SHUTDOWN_GRACE_TIME,
      shutdownForceTime: options.shutdownForceTime,
    });
    if (directOptions) {
      try {
        directEndpoint = await startDirectEndpoint(directOptions, (body) => decideDirect(body, directOptions!.maxScheduledAgeMs));
      } catch (err) {
        throw new GovernanceStartupError('direct-authorization', (err as Error).message);
      }
    }
    const worker = await Worker.create({
    connection: options.connection,
    namespace: options.namespace ?? 'default',
    taskQueue,
    // The SDK's default identity plus the policy, so DescribeTaskQueue (and the console's health
    // page) shows which policy each governance worker decides under.
    identity: workerIdentity,
    dataConverter,
    // Activities only: the authorization activity, in slots no lineage work can take.
    activities: {
      [AUTHORIZE_ACTIVITY]: (input: unknown) => {
        const { info, log } = Context.current();
        return observedAuthorize(
          input,
          {
            caller: callerFromInfo(info),
            runStart,
            message: (caller, lookup) => readDeliveredMessage(governanceClient(), caller, lookup),
            scheduling: `${info.activityId}@${info.scheduledTimestampMs}`,
            attemptScheduledAt: info.currentAttemptScheduledTimestampMs,
          },
          { log, scheduledAtMs: info.currentAttemptScheduledTimestampMs },
        );
      },
    },
    interceptors: {
      activity: [
        ...(options.activityInterceptors ?? []),
        enforcementInterceptor({
          trustBundle,
          identity: () => identity.current(),
          maxStalenessMs,
          unprotectedActivityTypes: [AUTHORIZE_ACTIVITY],
          claimArtifact: async (claim) => claimArtifact(await identity.db(), claim),
        }),
      ],
    },
    maxConcurrentActivityTaskExecutions: options.maxConcurrentActivityTaskExecutions ?? 200,
    shutdownGraceTime: options.shutdownGraceTime ?? DEFAULT_SHUTDOWN_GRACE_TIME,
    shutdownForceTime: options.shutdownForceTime,
    // The identity reader lives as long as the worker runs; the lineage worker runs alongside.
    plugins: [
      {
        name: 'temporal-governance.identity',
        runWorker: (w, next) => {
          sweeper = outboxSweeper(new Client({ connection: options.connection, namespace: options.namespace ?? 'default', dataConverter }), lineageQueue, lineageDb, {
            everyMs: options.lineageSweepMs ?? DEFAULT_LINEAGE_SWEEP_MS,
            claimLifetimeMs: artifactTtlMs + CLAIM_MARGIN_MS,
          });
          return releaseAfterRun(w, runBoth(w, next(w), lineageWorker!));
        },
      },
    ],
    });
    holdResources(worker, release);
    if (healthServer) healthServers.set(worker, healthServer);
    if (directEndpoint) directEndpoints.set(worker, directEndpoint);
    createdWorker = worker;
    return worker;
  } catch (err) {
    if (lineageWorker) await discardWorker(lineageWorker);
    await release();
    throw err;
  }
}

/** The activity's logger inside an activity, the runtime's outside one (a direct request). */
function currentLogger(): Pick<Runtime['logger'], 'warn' | 'info'> {
  try {
    return Context.current().log;
  } catch {
    return Runtime.instance().logger;
  }
}

/** Default slots of the lineage worker's persist activities. */
export const DEFAULT_MAX_CONCURRENT_LINEAGE_PERSISTS = 20;
/** Default lineage workflow runs cached by the lineage worker. */
export const DEFAULT_MAX_CACHED_LINEAGE_WORKFLOWS = 500;
const PERSIST_HEARTBEAT_MS = 2_000;

/**
 * When a persist attempt stops starting MongoDB calls: 2 s before its start-to-close, when the
 * server gives up on it. A write in flight then ends within the client's socket timeout at the
 * latest (reads in flight are cancelled at once), so an abandoned attempt outlives its slot's
 * timeout by at most LINEAGE_WRITE_DEADLINES.socketTimeoutMS.
 */
function attemptBudgetMs(startToCloseTimeoutMs: number): number {
  return Math.max(1_000, startToCloseTimeoutMs - 2_000);
}

/**
 * Runs the lineage worker for as long as the authorization worker runs, and drains it after the
 * authorization worker has drained (in-flight authorizations hand off to lineage through Temporal,
 * not through this process). A lineage worker that stops on its own stops the authorization worker
 * too (and its failure is the run's): a governance worker is either whole or stopped.
 */
function runBoth(authorization: Worker, authorizationRun: Promise<void>, lineage: Worker): Promise<void> {
  let lineageFailure: unknown;
  const lineageRun = lineage.run().then(
    () => undefined,
    (err: unknown) => {
      lineageFailure = err;
    },
  );
  void lineageRun.then(() => {
    if (authorization.getState() === 'RUNNING') authorization.shutdown();
  });
  return authorizationRun
    .finally(async () => {
      if (lineage.getState() === 'RUNNING') lineage.shutdown();
      await lineageRun;
    })
    .then(() => {
      if (lineageFailure !== undefined) throw lineageFailure;
    });
}

/** Frees a Worker that will never run (the SDK releases a native worker only at the end of a run). */
async function discardWorker(worker: Worker): Promise<void> {
  const run = worker.run();
  if (worker.getState() === 'RUNNING') worker.shutdown();
  await run.catch(() => undefined);
}

const bundles = new Map<string, Promise<{ code: string }>>();
/**
 * The lineage workflow's bundle, built once per process and data converter (every governance worker
 * runs the same code; the sandbox's payload and failure converters are bundled with it).
 */
function lineageBundle(dataConverter: DataConverter | undefined): Promise<{ code: string }> {
  const { payloadConverterPath, failureConverterPath } = dataConverter ?? {};
  const key = `${payloadConverterPath ?? ''}\u0000${failureConverterPath ?? ''}`;
  let bundle = bundles.get(key);
  if (!bundle) {
    bundle = bundleWorkflowCode({ workflowsPath: require.resolve('../../workflows/lineage'), payloadConverterPath, failureConverterPath, logger: new DefaultLogger('WARN') }).catch((err: unknown) => {
      bundles.delete(key);
      throw err;
    });
    bundles.set(key, bundle);
  }
  return bundle;
}

function lazyLineageDb(uri: string, database?: string) {
  let connecting: Promise<{ client: MongoClient; db: Db }> | undefined;
  let closed = false;
  return {
    async get(): Promise<Db> {
      if (closed) throw new Error('the governance worker is closed: lineage is not written any more');
      connecting ??= (async () => {
        const connected = await connectLineage(uri, database, LINEAGE_WRITE_DEADLINES);
        try {
          await ensureLineageIndexes(connected.db);
          return connected;
        } catch (err) {
          await connected.client.close().catch(() => undefined);
          throw err;
        }
      })().catch((err: unknown) => {
        connecting = undefined; // connect and index creation alike: try again next time
        throw err;
      });
      return (await connecting).db;
    },
    /** Closes the client (after a connect in progress settles); later get() calls reject. */
    async close(): Promise<void> {
      closed = true;
      const pending = connecting;
      connecting = undefined;
      const connected = await pending?.catch(() => undefined);
      await connected?.client.close();
    },
  };
}

/**
 * Re-delivers decisions that linger in the outbox (their signal was lost, or their lineage run was
 * terminated before it chained them) to their root's lineage workflow, every `everyMs`. Several
 * governance workers may sweep at once: the chain drops a decision it already holds.
 */
function outboxSweeper(
  client: Client,
  taskQueue: string,
  lineageDb: { get(): Promise<Db> },
  timing: { everyMs: number; claimLifetimeMs: number },
): { stop(): Promise<void> } {
  const { everyMs } = timing;
  let running: Promise<void> | undefined;
  let stopped = false;
  // A root's lingering decisions leave together, a few hundred per signal (not one signal each):
  // a lineage run that fell behind is not handed the same backlog again one record at a time.
  const dispatcher = new LineageDispatcher({
    windowMs: 0,
    deliver: (rootId, signals) => withDeadline(handOffToLineage(client, taskQueue, signals, rootId), 30_000),
    onError: () => undefined, // next time
  });
  const sweep = async () => {
    try {
      const db = await lineageDb.get();
      const due = new Date(Date.now() - everyMs);
      // Page after page (a delivered entry is pushed back past `due`), so a backlog of thousands
      // (a lineage run that left its decisions here at continue-as-new) goes in one sweep.
      for (let page = 0; page < SWEEP_PAGES && !stopped; page++) {
        const entries = await lingeringOutbox(db, due, SWEEP_PAGE);
        const delivered: OutboxEntry[] = [];
        for (const entry of entries) {
          if (JSON.stringify(entry.signal).length > MAX_LINEAGE_SIGNAL_CHARS) {
            await deadLetterOutbox(db, entry, `larger than a lineage signal may be (${MAX_LINEAGE_SIGNAL_CHARS} characters)`);
            continue;
          }
          dispatcher.send(entry.rootId, { kind: 'ref', id: entry._id });
          delivered.push(entry);
        }
        await dispatcher.drain(30_000);
        for (const entry of delivered) {
          if (stopped) return; // what is left lingers for the next worker's sweep
          await postponeOutbox(db, entry, everyMs);
        }
        if (entries.length < SWEEP_PAGE) break;
      }
      await pruneArtifactClaims(db, new Date(Date.now() - timing.claimLifetimeMs));
    } catch {
      // MongoDB unreachable: the next sweep tries again
    }
  };
  const timer = setInterval(() => {
    running ??= sweep().finally(() => {
      running = undefined;
    });
  }, everyMs);
  timer.unref();
  return {
    // The sweep in progress ends at its next entry; its calls are bounded (MongoDB's socket
    // timeout, the hand-offs' 30 s drain), so stopping waits at most one of them.
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}

/** A sweep re-delivers at most SWEEP_PAGES pages of SWEEP_PAGE entries; the next sweep takes the rest. */
const SWEEP_PAGE = 500;
const SWEEP_PAGES = 20;

/** Rejects when `promise` has not settled within `ms`, so one hung call cannot stop the sweeper for good. */
function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
