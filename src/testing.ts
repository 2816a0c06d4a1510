// A testing kit for users' own tests: governed workflows under @temporalio/testing's environments
// (or any server), with a throwaway signing key, a governance worker, principals and API keys in a
// database of the kit's own. Node-only; never import it from workflow code.
import { describeMongoUri } from './identity/mongo-uri';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, WorkflowFailedError, type ClientOptions, type Connection, type WorkflowHandle } from '@temporalio/client';
import type { ApplicationFailure, Payload } from '@temporalio/common';
import type { NativeConnection, Worker } from '@temporalio/worker';
import { MongoClient, type Db } from 'mongodb';
import { z } from 'zod';
import { AUTHORIZE_ACTIVITY, SEARCH_ATTRIBUTES } from './common/constants';
import { findGovernanceDenial } from './common/denial';
import { AuthorizationResultSchema, DenialDetailsSchema, type DenialDetails } from './common/schemas';
import type { WorkflowGovernanceConfig } from './common/workflow-config';
import { generateSigningKey } from './crypto/keys';
import { PrincipalDocumentSchema, PrincipalIdSchema, IDENTITY_COLLECTIONS } from './identity/schema';
import { createApiKey, createPrincipal, IdentityStoreError, loadIdentitySnapshot } from './identity/store';
import { mongoIdentitySource, type IdentitySource } from './identity/cache';
import type { IdentitySnapshot } from './identity/snapshot';
import { lineageCollection } from './lineage/store';
import { LineageRecordSchema, type LineageRecord } from './lineage/schema';
import { loadPolicyFile } from './policy/load';
import { parsePolicy, type Policy } from './policy/schema';
import { GovernancePlugin } from './plugin';
import { createGovernanceWorker, type GovernanceWorkerOptions } from './worker/governance-worker';

export type { DenialDetails } from './common/schemas';
export type { LineageRecord } from './lineage/schema';

/**
 * What the kit needs from a test environment. `TestWorkflowEnvironment` from `@temporalio/testing`
 * has all of it (createLocal, createFromExistingServer); so does any pair of connections you opened.
 */
export interface GovernanceTestEnvironment {
  /** Client connection (workflow starts, history reads, search attribute registration). */
  readonly connection: Connection;
  /** Worker connection the governance worker polls on. */
  readonly nativeConnection: NativeConnection;
  /** Namespace of the environment (default `default`). */
  readonly namespace?: string;
  /** True for `TestWorkflowEnvironment.createTimeSkipping()`: refused, see docs/testing.md. */
  readonly supportsTimeSkipping?: boolean;
}

/** A principal the kit creates (if missing) and issues an API key for. */
export interface TestPrincipal {
  readonly id: string;
  readonly roles: readonly string[];
  /** Roles of the API key, narrowing the principal's (default: the principal's roles). */
  readonly apiKeyRoles?: readonly string[];
}

/** Governance worker settings a test may change (the kit owns connection, queue, key, store). */
export type TestGovernanceWorkerOptions = Partial<
  Pick<
    GovernanceWorkerOptions,
    'artifactTtlMs' | 'issuer' | 'maxConcurrentActivityTaskExecutions' | 'maxStalenessMs' | 'identityRefreshMs' | 'proofMaxAgeMs' | 'lineageSweepMs' | 'maxNestingDepth'
  >
>;

export interface GovernanceTestKitOptions {
  readonly env: GovernanceTestEnvironment;
  /** Policy file (YAML or JSON) or a policy document (parsed and versioned here). */
  readonly policy: string | Record<string, unknown>;
  /** MongoDB (or FerretDB) the kit keeps identity and lineage in. Required: see docs/testing.md. */
  readonly mongoUri: string;
  /** The principal `kit.client` starts workflows as. */
  readonly principal: TestPrincipal;
  /** Database name (default: a fresh `tg_test_<random>` per kit, so parallel tests never share state). */
  readonly database?: string;
  /** Keep the database on close, to inspect it after a failure (default false: it is dropped). */
  readonly keepDatabase?: boolean;
  /** Governance task queue (default: a fresh one per kit, so kits on one server never answer each other). */
  readonly governanceTaskQueue?: string;
  /** Workflow-side settings baked into the bundle by `kit.plugin` (the task queue is the kit's). */
  readonly workflow?: Partial<Omit<WorkflowGovernanceConfig, 'taskQueue'>>;
  /** Governance worker settings (artifact lifetime, staleness, ...). */
  readonly governanceWorker?: TestGovernanceWorkerOptions;
  /** Identity reading of the enforcement point on your workers (`kit.plugin`). */
  readonly identity?: { readonly maxStalenessMs?: number; readonly refreshMs?: number; readonly outageWaitMs?: number };
  /** Extra client options for `kit.client` and `kit.clientFor()` (data converter, interceptors, ...). */
  readonly clientOptions?: Omit<ClientOptions, 'connection' | 'namespace'>;
  /** How long to wait for MongoDB before failing with MONGODB_UNREACHABLE (default 5000 ms). */
  readonly mongoTimeoutMs?: number;
}

export type GovernanceTestKitErrorCode =
  | 'INVALID_OPTIONS'
  | 'TIME_SKIPPING_UNSUPPORTED'
  | 'MONGODB_UNREACHABLE'
  | 'SEARCH_ATTRIBUTES_UNAVAILABLE'
  | 'PRINCIPAL_CONFLICT'
  | 'LINEAGE_INCOMPLETE'
  | 'NOT_DENIED'
  | 'CLOSED';

export class GovernanceTestKitError extends Error {
  override readonly name = 'GovernanceTestKitError';
  constructor(
    readonly code: GovernanceTestKitErrorCode,
    message: string,
  ) {
    super(message);
  }
}

const GOVERNANCE_SEARCH_ATTRIBUTES = Object.values(SEARCH_ATTRIBUTES);
/** INDEXED_VALUE_TYPE_KEYWORD */
const KEYWORD = 2;
// FerretDB (SQLite) and MongoDB both accept these database names.
const DatabaseNameSchema = z.string().regex(/^[A-Za-z0-9_]{1,63}$/, 'database names use letters, digits and "_" (at most 63)');
const TestPrincipalSchema = z
  .object({
    id: PrincipalIdSchema,
    roles: z.array(z.string().min(1)).min(1, 'give at least one role'),
    apiKeyRoles: z.array(z.string().min(1)).min(1).optional(),
  })
  .strict();


function loadTestPolicy(policy: unknown): Policy {
  if (typeof policy === 'string') return loadPolicyFile(policy);
  if (typeof policy !== 'object' || policy === null || Array.isArray(policy)) {
    throw new GovernanceTestKitError('INVALID_OPTIONS', 'policy must be a file path or a policy document');
  }
  // A parsed Policy carries its version; recompute it from the document rather than trust it.
  const { version: _version, ...document } = policy as Record<string, unknown>;
  return parsePolicy(document, '<test policy>');
}

async function connectMongo(uri: string, database: string, timeoutMs: number): Promise<{ client: MongoClient; db: Db }> {
  let client: MongoClient;
  try {
    client = new MongoClient(uri, { serverSelectionTimeoutMS: timeoutMs, connectTimeoutMS: timeoutMs });
  } catch (err) {
    throw new GovernanceTestKitError('INVALID_OPTIONS', `mongoUri ${describeMongoUri(uri)} is not a MongoDB connection string (the parser's details are withheld: they may quote credentials)`);
  }
  try {
    await client.connect();
    await client.db(database).command({ ping: 1 });
    return { client, db: client.db(database) };
  } catch (err) {
    await client.close().catch(() => undefined);
    throw new GovernanceTestKitError(
      'MONGODB_UNREACHABLE',
      `MongoDB at ${describeMongoUri(uri)} is unreachable (${(err as Error).name}: ${(err as Error).message}); ` +
        'the kit needs a MongoDB or FerretDB server (`temporal-governance stack` starts one)',
    );
  }
}

/** Adds the governance search attributes the server lacks; waits until the server lists them. */
async function ensureSearchAttributes(connection: Connection, namespace: string): Promise<void> {
  const missing = async () => {
    const existing = await connection.operatorService.listSearchAttributes({ namespace });
    return GOVERNANCE_SEARCH_ATTRIBUTES.filter((name) => !(name in (existing.customAttributes ?? {})));
  };
  try {
    let absent = await missing();
    if (absent.length === 0) return;
    await connection.operatorService.addSearchAttributes({ namespace, searchAttributes: Object.fromEntries(absent.map((name) => [name, KEYWORD])) });
    for (let i = 0; i < 50 && absent.length > 0; i += 1) {
      absent = await missing();
      if (absent.length > 0) await new Promise((r) => setTimeout(r, 100));
    }
    if (absent.length > 0) throw new Error(`still not listed: ${absent.join(', ')}`);
  } catch (err) {
    // Without them a denial cannot mark its workflow, and the workflow task would fail over and
    // over instead of the workflow failing closed: refuse to start.
    throw new GovernanceTestKitError(
      'SEARCH_ATTRIBUTES_UNAVAILABLE',
      `cannot register the governance search attributes on namespace ${namespace} (${(err as Error).message}); ` +
        `register them with: ${GOVERNANCE_SEARCH_ATTRIBUTES.map((n) => `temporal operator search-attribute create --name ${n} --type Keyword`).join(' && ')}`,
    );
  }
}

/**
 * The governance worker's identity reader, plus `invalidate()`: after the kit writes a principal or
 * key, the next decision reads identity afresh instead of waiting for the periodic re-read, so a
 * key is usable the moment apiKeyFor() returns (no sleeps in tests).
 */
function onDemandIdentity(mongoUri: string, database: string, refreshMs: number | undefined): { source: IdentitySource & { db(): Promise<Db> }; invalidate(): void } {
  const periodic = mongoIdentitySource({ mongoUri, database, refreshMs });
  /** Snapshots whose read began at or before this may predate the kit's last write. */
  let writtenAt = 0;
  let direct: IdentitySnapshot | undefined;
  return {
    source: {
      async current() {
        const latest = await periodic.current();
        if (latest && latest.loadedAt > writtenAt) return latest;
        if (direct && direct.loadedAt > writtenAt) return direct;
        try {
          direct = await loadIdentitySnapshot(await periodic.db());
          return direct;
        } catch {
          return latest; // unreadable now: the staleness rule decides, as without the kit
        }
      },
      close: () => periodic.close(),
      db: () => periodic.db(),
    },
    invalidate() {
      writtenAt = Date.now();
    },
  };
}

/**
 * The GovernanceDenied details in an error's cause chain (a WorkflowFailedError, an
 * ActivityFailure, a ChildWorkflowFailure), or undefined when the error is no governance denial.
 */
export function governanceDenial(err: unknown): DenialDetails | undefined {
  const failure: ApplicationFailure | undefined = findGovernanceDenial(err);
  if (!failure) return undefined;
  const parsed = DenialDetailsSchema.safeParse(failure.details?.[0]);
  if (!parsed.success) throw new GovernanceTestKitError('NOT_DENIED', `a GovernanceDenied failure without valid details: ${failure.message}`);
  return parsed.data;
}

/** Awaits the workflow's result and returns its denial; throws when it completed or failed otherwise. */
export async function expectGovernanceDenied(handle: Pick<WorkflowHandle, 'result' | 'workflowId'>): Promise<DenialDetails> {
  try {
    await handle.result();
  } catch (err) {
    const denial = governanceDenial(err);
    if (denial) return denial;
    const cause = err instanceof WorkflowFailedError ? `: ${String(err.cause)}` : '';
    throw new GovernanceTestKitError('NOT_DENIED', `workflow ${handle.workflowId} failed, but not with GovernanceDenied (${String(err)}${cause})`);
  }
  throw new GovernanceTestKitError('NOT_DENIED', `workflow ${handle.workflowId} completed; expected it to fail with GovernanceDenied`);
}

export interface LineageWaitOptions {
  /** How long to wait for every decision in the workflow's history to be in MongoDB (default 30000 ms). */
  readonly timeoutMs?: number;
}

/**
 * Governance for one test (or one test file): create it after the environment, close it before
 * the environment's teardown and after your workers have stopped.
 */
export class GovernanceTestKit {
  /** Wire into your app Worker (`plugins: [kit.plugin]`): enforcement point, trust bundle, identity, workflow interceptors. */
  readonly plugin: GovernancePlugin;
  /** A Client on the environment's connection that starts workflows as `principal`. */
  readonly client: Client;
  /** The governance worker (already running; stopped by close()). */
  readonly governanceWorker: Worker;
  readonly principal: string;
  readonly namespace: string;
  readonly governanceTaskQueue: string;
  /** MongoDB database holding this kit's identity and lineage. */
  readonly database: string;
  /** The database, for your own queries (closed with the kit). */
  readonly db: Db;
  /** The throwaway trust bundle (public keys only), for workers you wire yourself. */
  readonly trustBundlePath: string;
  readonly policy: Policy;

  readonly #env: GovernanceTestEnvironment;
  readonly #mongo: MongoClient;
  readonly #keyDir: string;
  readonly #keepDatabase: boolean;
  readonly #clientOptions: Omit<ClientOptions, 'connection' | 'namespace'>;
  readonly #identityWritten: () => void;
  readonly #closeIdentity: () => Promise<void>;
  readonly #running: Promise<void>;
  #closed: Promise<void> | undefined;

  private constructor(init: {
    env: GovernanceTestEnvironment;
    mongo: MongoClient;
    db: Db;
    database: string;
    keyDir: string;
    trustBundlePath: string;
    keepDatabase: boolean;
    plugin: GovernancePlugin;
    client: Client;
    principal: string;
    namespace: string;
    governanceTaskQueue: string;
    governanceWorker: Worker;
    policy: Policy;
    clientOptions: Omit<ClientOptions, 'connection' | 'namespace'>;
    identityWritten: () => void;
    closeIdentity: () => Promise<void>;
  }) {
    this.#identityWritten = init.identityWritten;
    this.#closeIdentity = init.closeIdentity;
    this.#env = init.env;
    this.#mongo = init.mongo;
    this.#keyDir = init.keyDir;
    this.#keepDatabase = init.keepDatabase;
    this.#clientOptions = init.clientOptions;
    this.db = init.db;
    this.database = init.database;
    this.trustBundlePath = init.trustBundlePath;
    this.plugin = init.plugin;
    this.client = init.client;
    this.principal = init.principal;
    this.namespace = init.namespace;
    this.governanceTaskQueue = init.governanceTaskQueue;
    this.governanceWorker = init.governanceWorker;
    this.policy = init.policy;
    // A governance worker that stops on its own (a fatal poll error) must not leave the kit half
    // alive; the error surfaces from close().
    this.#running = init.governanceWorker.run();
    this.#running.catch(() => undefined);
  }

  static async create(options: GovernanceTestKitOptions): Promise<GovernanceTestKit> {
    const { env } = options;
    if (!env || !env.connection || !env.nativeConnection) {
      throw new GovernanceTestKitError('INVALID_OPTIONS', 'env must have connection and nativeConnection (a TestWorkflowEnvironment has both)');
    }
    if (env.supportsTimeSkipping) {
      throw new GovernanceTestKitError(
        'TIME_SKIPPING_UNSUPPORTED',
        'governance cannot run on a time-skipping test server: artifacts are issued at server time and checked against the ' +
          "enforcement point's wall clock, and start proofs are signed at wall-clock time and checked against the server's start time, " +
          'so once skipped time runs ahead of the wall clock every protected call is denied. Use TestWorkflowEnvironment.createLocal() (docs/testing.md)',
      );
    }
    if (typeof options.mongoUri !== 'string' || options.mongoUri.length === 0) {
      throw new GovernanceTestKitError('INVALID_OPTIONS', 'mongoUri is required: the kit keeps identity and lineage in MongoDB or FerretDB');
    }
    const principalInput = TestPrincipalSchema.safeParse(options.principal);
    if (!principalInput.success) throw new GovernanceTestKitError('INVALID_OPTIONS', `invalid principal: ${principalInput.error.issues[0]!.message}`);
    const database = options.database ?? `tg_test_${randomBytes(8).toString('hex')}`;
    const dbName = DatabaseNameSchema.safeParse(database);
    if (!dbName.success) throw new GovernanceTestKitError('INVALID_OPTIONS', `invalid database: ${dbName.error.issues[0]!.message}`);
    // Everything that can be checked without side effects first: a bad policy leaves nothing behind.
    const policy = loadTestPolicy(options.policy);
    const namespace = env.namespace ?? 'default';
    const governanceTaskQueue = options.governanceTaskQueue ?? `temporal-governance-test-${randomBytes(6).toString('hex')}`;

    const { client: mongo, db } = await connectMongo(options.mongoUri, database, options.mongoTimeoutMs ?? 5_000);
    // Undone in reverse order of acquisition when a later step fails.
    const undo: Array<() => unknown> = [() => mongo.close()];
    const rollback = async () => {
      for (const step of undo.reverse()) await Promise.resolve().then(step).catch(() => undefined);
    };
    try {
      if (!options.keepDatabase) undo.push(() => db.dropDatabase());
      await ensureSearchAttributes(env.connection, namespace);

      const keyDir = mkdtempSync(join(tmpdir(), 'temporal-governance-test-'));
      chmodSync(keyDir, 0o700);
      undo.push(() => rmSync(keyDir, { recursive: true, force: true }));
      const signingKeyPath = join(keyDir, 'signing-key.json');
      const trustBundlePath = join(keyDir, 'trust-bundle.json');
      generateSigningKey({ keyPath: signingKeyPath, bundlePath: trustBundlePath, kid: `test-${randomBytes(4).toString('hex')}` });
      chmodSync(trustBundlePath, 0o600);

      const identity = { mongoUri: options.mongoUri, database, ...options.identity };
      const plugin = new GovernancePlugin({ trustBundle: trustBundlePath, identity, workflow: { ...options.workflow, taskQueue: governanceTaskQueue } });
      undo.push(() => plugin.close());

      const clientOptions = options.clientOptions ?? {};
      const principal = principalInput.data;
      const apiKey = await issueApiKey(db, principal);
      const client = governedClient(env, namespace, apiKey, clientOptions);

      const identitySource = onDemandIdentity(options.mongoUri, database, options.governanceWorker?.identityRefreshMs);
      undo.push(() => identitySource.source.close()); // the worker closes it when it stops; closing twice is a no-op
      const governanceWorker = await createGovernanceWorker({
        ...options.governanceWorker,
        identitySource: identitySource.source,
        connection: env.nativeConnection,
        namespace,
        taskQueue: governanceTaskQueue,
        policy,
        signingKeyPath,
        trustBundlePath,
        mongoUri: options.mongoUri,
        database,
        // Your clients' codecs and payload converter: governance must read what they encode.
        dataConverter: clientOptions.dataConverter,
      });
      return new GovernanceTestKit({
        env,
        mongo,
        db,
        database,
        keyDir,
        trustBundlePath,
        keepDatabase: options.keepDatabase ?? false,
        plugin,
        client,
        principal: principal.id,
        namespace,
        governanceTaskQueue,
        governanceWorker,
        policy,
        clientOptions,
        identityWritten: () => identitySource.invalidate(),
        closeIdentity: () => identitySource.source.close(),
      });
    } catch (err) {
      await rollback();
      throw err;
    }
  }

  /** A Client that starts workflows as another principal (created if missing, with a new API key). */
  async clientFor(principal: TestPrincipal): Promise<Client> {
    return governedClient(this.#env, this.namespace, await this.apiKeyFor(principal), this.#clientOptions);
  }

  /**
   * A new API key (`tgk.…`) for a principal (created if missing), for clients you build yourself
   * (`new GovernancePlugin({ apiKey })`). Throwaway: it lives in this kit's database only.
   */
  async apiKeyFor(principal: TestPrincipal): Promise<string> {
    this.assertOpen();
    const parsed = TestPrincipalSchema.safeParse(principal);
    if (!parsed.success) throw new GovernanceTestKitError('INVALID_OPTIONS', `invalid principal: ${parsed.error.issues[0]!.message}`);
    const apiKey = await issueApiKey(this.db, parsed.data);
    this.#identityWritten();
    return apiKey;
  }

  /**
   * The lineage records of a workflow (every run of its id: retries and continue-as-new), once
   * every decision the server's history shows it received is in MongoDB (persistence is batched
   * and asynchronous). Ordered by root and chain sequence. Decisions issued after the call are not
   * waited for: call it after the workflow (or the step you assert on) finished.
   */
  async lineage(workflowId: string, options: LineageWaitOptions = {}): Promise<LineageRecord[]> {
    this.assertOpen();
    const issued = await decisionsInHistory(this.client, workflowId);
    const timeoutMs = options.timeoutMs ?? 30_000;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const docs = await lineageCollection(this.db).find({ workflowId }).sort({ rootId: 1, seq: 1 }).toArray();
      const stored = new Set(docs.map((d) => String(d._id)));
      const missing = [...issued].filter((id) => !stored.has(id));
      if (missing.length === 0) {
        return docs.map((d) => {
          const parsed = LineageRecordSchema.safeParse(d);
          if (!parsed.success) throw new GovernanceTestKitError('LINEAGE_INCOMPLETE', `lineage document ${String(d._id)} is not a valid record: ${parsed.error.issues[0]!.message}`);
          return parsed.data;
        });
      }
      if (Date.now() >= deadline) {
        throw new GovernanceTestKitError(
          'LINEAGE_INCOMPLETE',
          `${missing.length} of ${issued.size} decisions of workflow ${workflowId} are not in MongoDB after ${timeoutMs} ms (first missing: ${missing[0]})`,
        );
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /**
   * Stops the governance worker, the plugin's identity reader, drops the database (unless
   * keepDatabase) and removes the throwaway key. Call it after your own workers have stopped and
   * before the environment's teardown. Idempotent.
   */
  close(): Promise<void> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  async #close(): Promise<void> {
    const errors: unknown[] = [];
    const step = async (fn: () => unknown) => {
      try {
        await fn();
      } catch (err) {
        errors.push(err);
      }
    };
    if (this.governanceWorker.getState() === 'RUNNING') await step(() => this.governanceWorker.shutdown());
    await step(() => this.#running);
    await step(() => this.#closeIdentity());
    await step(() => this.plugin.close());
    if (!this.#keepDatabase) await step(() => this.db.dropDatabase());
    await step(() => this.#mongo.close());
    await step(() => rmSync(this.#keyDir, { recursive: true, force: true }));
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, 'closing the governance test kit failed');
  }

  private assertOpen(): void {
    if (this.#closed) throw new GovernanceTestKitError('CLOSED', 'the governance test kit is closed');
  }
}

function governedClient(env: GovernanceTestEnvironment, namespace: string, apiKey: string, options: Omit<ClientOptions, 'connection' | 'namespace'>): Client {
  return new Client({ ...options, connection: env.connection, namespace, plugins: [...(options.plugins ?? []), new GovernancePlugin({ apiKey })] });
}

/** Creates the principal if missing (refusing other roles than it holds) and a new API key. */
async function issueApiKey(db: Db, principal: z.infer<typeof TestPrincipalSchema>): Promise<string> {
  try {
    await createPrincipal(db, { id: principal.id, roles: principal.roles, description: 'created by GovernanceTestKit' });
  } catch (err) {
    if (!(err instanceof IdentityStoreError && /already exists/.test(err.message))) throw err;
    const stored = PrincipalDocumentSchema.parse(await db.collection<{ _id: string }>(IDENTITY_COLLECTIONS.principals).findOne({ _id: principal.id }));
    const wanted = [...new Set(principal.roles)].sort();
    if (stored.roles.join('\n') !== wanted.join('\n')) {
      throw new GovernanceTestKitError('PRINCIPAL_CONFLICT', `principal ${principal.id} already exists with roles ${stored.roles.join(', ')}, not ${wanted.join(', ')}`);
    }
  }
  return (await createApiKey(db, { principal: principal.id, roles: principal.apiKeyRoles ? [...principal.apiKeyRoles] : null })).apiKey;
}

/** A result payload as the client's data converter reads it (codecs last to first, then the payload converter). */
async function decodeResult(client: Client, payload: Payload): Promise<unknown> {
  const { payloadConverter, payloadCodecs } = client.options.loadedDataConverter;
  let decoded = payload;
  for (const codec of [...payloadCodecs].reverse()) [decoded] = (await codec.decode([decoded])) as [Payload];
  return payloadConverter.fromPayload(decoded);
}

/** Ids of every decision returned to the workflow's runs, from the server's histories (latest run back to the first). */
async function decisionsInHistory(client: Client, workflowId: string): Promise<Set<string>> {
  const ids = new Set<string>();
  let runId: string | undefined = (await client.workflow.getHandle(workflowId).describe()).runId;
  const seen = new Set<string>();
  while (runId && !seen.has(runId)) {
    seen.add(runId);
    const scheduled = new Set<number>();
    let previous: string | undefined;
    let nextPageToken: Uint8Array | undefined;
    do {
      // Small pages: a governed run's events carry signed artifacts.
      const page = await client.workflowService.getWorkflowExecutionHistory({ namespace: client.options.namespace, execution: { workflowId, runId }, maximumPageSize: 100, nextPageToken });
      for (const e of page.history?.events ?? []) {
        const started = e.workflowExecutionStartedEventAttributes;
        if (started?.continuedExecutionRunId) previous = started.continuedExecutionRunId;
        if (e.activityTaskScheduledEventAttributes?.activityType?.name === AUTHORIZE_ACTIVITY) scheduled.add(Number(e.eventId));
        const completed = e.activityTaskCompletedEventAttributes;
        if (completed && scheduled.has(Number(completed.scheduledEventId)) && completed.result?.payloads?.[0]) {
          const result = AuthorizationResultSchema.safeParse(await decodeResult(client, completed.result.payloads[0]));
          if (result.success) ids.add(result.data.decision === 'allow' ? result.data.artifact.payload.id : result.data.denial.payload.id);
        }
      }
      nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
    } while (nextPageToken);
    runId = previous;
  }
  return ids;
}
