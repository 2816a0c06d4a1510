// The worker half of GovernancePlugin. src/plugin.ts loads it on the first configureWorker call:
// the enforcement interceptor, the trust-bundle watcher and the MongoDB identity reader (with the
// MongoDB driver) are worker-only, and a process that only starts workflows must not load them
// (temporal-governance/client).
import type { WorkerOptions } from '@temporalio/worker';
import { ApplicationFailure } from '@temporalio/common';
import { enforcementInterceptor } from '../interceptors/activity';
export { drainOutcomeReports } from '../interceptors/activity';
import type { TrustBundle } from './artifact/trust-bundle';
import { watchTrustBundle } from './crypto/keys';
import { DEFAULT_MAX_STALENESS_MS, DEFAULT_REFRESH_MS, mongoIdentitySource, type IdentitySource } from './identity/cache';
import { claimArtifact } from './identity/store';
import { GovernancePluginError } from './plugin-error';
import { DIRECT_AUTHORIZE_ACTIVITY } from './common/constants';
import { directAuthorizeActivity } from './direct/local-activity';
import type { ParsedApiKey } from './identity/api-key';

export interface GovernedWorkerSettings {
  readonly trustBundle: () => TrustBundle;
  /** The plugin's revocation reader, looked up per call (it is released and reopened with the plugin's workers). */
  readonly identity: () => IdentitySource;
  readonly maxStalenessMs: number | undefined;
  readonly outageWaitMs: number | undefined;
  readonly unprotectedActivityTypes: readonly string[] | undefined;
  /** Direct authorization: the local activity is registered and runs without an artifact (it is the authorization). */
  readonly direct: { endpoints: readonly string[]; key: ParsedApiKey; requestTimeoutMs: number } | undefined;
  readonly lineageTaskQueue: string;
  /** Added to workflowModules unless the worker runs a prebuilt bundle (which carries it already). */
  readonly workflowInterceptorsModule: string;
}

const refuseNexusOperations = () => ({
  inbound: {
    async startOperation(): Promise<never> {
      throw ApplicationFailure.nonRetryable('temporal-governance: Nexus operations cannot be governed yet; this governed worker refuses them', 'GovernanceDenied');
    },
  },
});

/** Refuses Nexus services, then adds the enforcement point and the workflow interceptors. */
export function governWorkerOptions(options: WorkerOptions, settings: () => GovernedWorkerSettings): WorkerOptions {
  // A Nexus handler has no enforcement point yet: on a governed worker it would run ungoverned.
  if ((options.nexusServices ?? []).length > 0) {
    throw new GovernancePluginError('a governed worker cannot host Nexus services yet: their handlers would run without authorization (see docs/threat-model.md)');
  }
  const s = settings();
  const identity = s.identity;
  if (s.direct && options.activities && DIRECT_AUTHORIZE_ACTIVITY in options.activities) {
    throw new GovernancePluginError(`the worker's activities already name ${DIRECT_AUTHORIZE_ACTIVITY}, which directAuthorization registers`);
  }
  return {
    ...options,
    activities: s.direct ? { ...options.activities, [DIRECT_AUTHORIZE_ACTIVITY]: directAuthorizeActivity(s.direct) } : options.activities,
    interceptors: {
      ...options.interceptors,
      activity: [
        ...(options.interceptors?.activity ?? []),
        enforcementInterceptor({
          trustBundle: s.trustBundle,
          identity: () => identity().current(),
          maxStalenessMs: s.maxStalenessMs,
          outageWaitMs: s.outageWaitMs,
          unprotectedActivityTypes: s.direct ? [...(s.unprotectedActivityTypes ?? []), DIRECT_AUTHORIZE_ACTIVITY] : s.unprotectedActivityTypes,
          lineageTaskQueue: s.lineageTaskQueue,
          claimArtifact: async (claim) => {
            const source = identity();
            if (!source.db) throw new GovernancePluginError('the identity source has no MongoDB database for single-use artifact claims');
            return claimArtifact(await source.db(), claim);
          },
        }),
      ],
      // Services added after this plugin ran still get no ungoverned operation through.
      nexus: [...(options.interceptors?.nexus ?? []), refuseNexusOperations],
      workflowModules: options.workflowBundle
        ? options.interceptors?.workflowModules
        : [...(options.interceptors?.workflowModules ?? []), s.workflowInterceptorsModule],
    },
  };
}

/** The revocation reader for `identity: { mongoUri }`, after checking its timings. */
export function mongoIdentitySourceFor(o: { mongoUri: string; database?: string; maxStalenessMs?: number; refreshMs?: number }): IdentitySource {
  const maxStalenessMs = o.maxStalenessMs ?? DEFAULT_MAX_STALENESS_MS;
  if ((o.refreshMs ?? DEFAULT_REFRESH_MS) >= maxStalenessMs) {
    throw new GovernancePluginError(`identity.refreshMs (${o.refreshMs ?? DEFAULT_REFRESH_MS}) must be below identity.maxStalenessMs (${maxStalenessMs}): the state would always be stale`);
  }
  return mongoIdentitySource({ mongoUri: o.mongoUri, database: o.database, refreshMs: o.refreshMs });
}

/** A trust bundle given as a file path is watched: a retired key stops verifying without a restart. */
export function trustBundleSourceFor(source: TrustBundle | string): () => TrustBundle {
  return typeof source === 'string' ? watchTrustBundle(source) : () => source;
}
