// The governance worker: runs the authorization activity on the governance task queue. It is the
// only process that holds the signing key.
import { hostname } from 'node:os';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createAuthorizer } from '../../activities/authorize';
import type { TrustBundle } from '../artifact/trust-bundle';
import { AUTHORIZE_ACTIVITY, DEFAULT_GOVERNANCE_TASK_QUEUE } from '../common/constants';
import { loadSigningKey, loadTrustBundle, KeyError } from '../crypto/keys';
import { nodeEd25519 } from '../crypto/node';
import { loadPrincipalsFile, principalDirectory, type PrincipalDirectory } from '../identity/principals';
import { loadPolicyFile } from '../policy/load';
import { parsePolicy, type Policy } from '../policy/schema';
import { GovernancePlugin } from '../plugin';
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

  const authorize = createAuthorizer({
    policy,
    signingKey,
    trustBundle,
    principals,
    ed25519: nodeEd25519,
    issuer: options.issuer ?? `temporal-governance@${hostname()}`,
    artifactTtlMs: options.artifactTtlMs ?? 5 * 60_000,
  });

  return Worker.create({
    connection: options.connection,
    namespace: options.namespace ?? 'default',
    taskQueue: options.taskQueue ?? DEFAULT_GOVERNANCE_TASK_QUEUE,
    activities: { [AUTHORIZE_ACTIVITY]: authorize },
    maxConcurrentActivityTaskExecutions: options.maxConcurrentActivityTaskExecutions ?? 200,
    plugins: [new GovernancePlugin({ trustBundle, unprotectedActivityTypes: [AUTHORIZE_ACTIVITY] })],
  });
}
