// The governance worker: runs the authorization activity on the governance task queue. It is the
// only process that holds the signing key.
import { hostname } from 'node:os';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Worker } from '@temporalio/worker';
import { createAuthorizer } from '../../activities/authorize';
import type { TrustBundle } from '../artifact/trust-bundle';
import { AUTHORIZE_ACTIVITY, DEFAULT_GOVERNANCE_TASK_QUEUE } from '../common/constants';
import { loadSigningKey, loadTrustBundle, KeyError } from '../crypto/keys';
import { nodeEd25519 } from '../crypto/node';
import { loadPrincipalsFile, principalDirectory, type PrincipalDirectory } from '../identity/principals';
import { loadPolicyFile } from '../policy/load';
import { parsePolicy, type Policy } from '../policy/schema';
import { Context } from '@temporalio/activity';
import type { Db } from 'mongodb';
import { enforcementInterceptor } from '../../interceptors/activity';
import { signingInput } from '../artifact/artifact';
import { fromBase64Url } from '../common/base64url';
import type { SignedArtifact, SignedDenial } from '../common/schemas';
import { LineageSignalSchema, PERSIST_LINEAGE_ACTIVITY } from '../lineage/schema';
import { handOffToLineage } from '../lineage/handoff';
import { connectLineage, ensureLineageIndexes, persistLineageBatch, type ChainState } from '../lineage/store';
import { toBase64Url } from '../common/base64url';


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
  /** Principals file path, or a principals document. */
  readonly principals: string | Record<string, unknown>;
  readonly issuer?: string;
  /** Lifetime of per-call artifacts (default 5 minutes). */
  readonly artifactTtlMs?: number;
  readonly maxConcurrentActivityTaskExecutions?: number;
  /** MongoDB for lineage records (MONGODB_URI). */
  readonly mongoUri: string;
  readonly database?: string;
}

/** Loads and checks everything first: an invalid policy or key stops the worker before it polls. */
export async function createGovernanceWorker(options: GovernanceWorkerOptions): Promise<Worker> {
  const policy = typeof options.policy === 'string' ? loadPolicyFile(options.policy) : 'version' in options.policy ? (options.policy as Policy) : parsePolicy(options.policy);
  const signingKey = loadSigningKey(options.signingKeyPath);
  const trustBundle: TrustBundle = loadTrustBundle(options.trustBundlePath);
  const trusted = trustBundle.keys.get(signingKey.kid);
  if (!trusted || toBase64Url(trusted.publicKey) !== signingKey.x) {
    throw new KeyError(`signing key ${signingKey.kid} is not in the trust bundle ${options.trustBundlePath}; verifiers would reject every artifact`);
  }
  const principals: PrincipalDirectory =
    typeof options.principals === 'string' ? loadPrincipalsFile(options.principals) : principalDirectory(options.principals);

  const taskQueue = options.taskQueue ?? DEFAULT_GOVERNANCE_TASK_QUEUE;
  const authorize = createAuthorizer({
    policy,
    signingKey,
    trustBundle,
    principals,
    ed25519: nodeEd25519,
    issuer: options.issuer ?? `temporal-governance@${hostname()}`,
    artifactTtlMs: options.artifactTtlMs ?? 5 * 60_000,
    now: () => Context.current().info.scheduledTimestampMs,
    handOff: (signal, rootId) => handOffToLineage(Context.current().client, taskQueue, signal, rootId),
  });

  // Lineage must work while MongoDB is down: connect lazily, per batch, and let failures retry.
  const lineageDb = lazyLineageDb(options.mongoUri, options.database);
  const verifyRecord = (signed: SignedArtifact | SignedDenial) => {
    const key = trustBundle.keys.get(signed.payload.kid);
    return !!key && nodeEd25519.verify(fromBase64Url(signed.signature), signingInput(signed.payload), key);
  };

  const worker = await Worker.create({
    connection: options.connection,
    namespace: options.namespace ?? 'default',
    taskQueue,
    // The lineage workflow is bundled without the governance workflow interceptors: it records
    // governance, it is not governed by it (it would need an authorization to record one).
    workflowBundle: await lineageBundle(),
    activities: {
      [AUTHORIZE_ACTIVITY]: authorize,
      [PERSIST_LINEAGE_ACTIVITY]: async (rootId: string, batch: unknown[], chain: ChainState) => {
        const parsed = batch.map((s) => LineageSignalSchema.parse(s));
        return persistLineageBatch(await lineageDb.get(), rootId, parsed, verifyRecord, undefined, chain);
      },
    },
    interceptors: {
      activity: [enforcementInterceptor({ trustBundle: () => trustBundle, unprotectedActivityTypes: [AUTHORIZE_ACTIVITY, PERSIST_LINEAGE_ACTIVITY] })],
    },
    maxConcurrentActivityTaskExecutions: options.maxConcurrentActivityTaskExecutions ?? 200,
  });
  return worker;
}

let bundle: Promise<{ code: string }> | undefined;
/** The lineage workflow's bundle, built once per process (every governance worker runs the same code). */
function lineageBundle(): Promise<{ code: string }> {
  bundle ??= bundleWorkflowCode({ workflowsPath: require.resolve('../../workflows/lineage'), logger: new DefaultLogger('WARN') }).catch((err: unknown) => {
    bundle = undefined;
    throw err;
  });
  return bundle;
}

function lazyLineageDb(uri: string, database?: string) {
  let connecting: Promise<Db> | undefined;
  return {
    get(): Promise<Db> {
      connecting ??= connectLineage(uri, database).then(
        async ({ db }) => {
          await ensureLineageIndexes(db);
          return db;
        },
        (err: unknown) => {
          connecting = undefined; // try again on the next batch
          throw err;
        },
      );
      return connecting;
    },
  };
}
