// The single wiring point: one plugin for Client and Worker, so workflow code does not change.
// This module loads only what a Client needs (temporal-governance/client imports it); the worker
// half (src/plugin-worker.ts: enforcement, trust bundle, MongoDB identity reads) is loaded by the
// first configureWorker call.
import type { ClientOptions, ClientPlugin } from '@temporalio/client';
import type { BundleOptions, BundlerPlugin, ReplayWorkerOptions, WorkerOptions, WorkerPlugin } from '@temporalio/worker';
import { startProofInterceptor } from '../interceptors/client';
import { parseApiKey } from './identity/api-key';
import type { TrustBundle } from './artifact/trust-bundle';
import type { IdentitySource } from './identity/cache';
import { resolveWorkflowConfig, type WorkflowGovernanceConfig } from './common/workflow-config';
import { GovernancePluginError } from './plugin-error';

export { GovernancePluginError };

export interface GovernancePluginOptions {
  /** Trust bundle (or its file path) the enforcement point verifies artifacts against. Required for workers. */
  readonly trustBundle?: TrustBundle | string;
  /**
   * API key (`tgk.<key id>.<secret>`, from `temporal-governance api-keys create`) this client starts
   * workflows with. Each start carries a proof bound to it; the key itself is never sent.
   */
  readonly apiKey?: string;
  /**
   * Where workers read revocations (and the maximum staleness they accept). Required for workers:
   * an enforcement point that cannot see revocations would keep honouring revoked authority.
   */
  readonly identity?: IdentityOptions | IdentitySource;
  /** Workflow-side settings, baked into the workflow bundle. */
  readonly workflow?: Partial<WorkflowGovernanceConfig>;
  /** Extra activity types this worker runs without an artifact (governance workers only). */
  readonly unprotectedActivityTypes?: readonly string[];
}

export interface IdentityOptions {
  /** MongoDB holding the identity collections (MONGODB_URI). */
  readonly mongoUri: string;
  readonly database?: string;
  /** Revocation state older than this denies every protected activity (default 5000 ms). */
  readonly maxStalenessMs?: number;
  /** How often the state is re-read (default 1000 ms; must be below maxStalenessMs). */
  readonly refreshMs?: number;
  /**
   * How long a protected activity attempt waits for fresh state (or a reachable claim registry)
   * before it is refused (default 30000 ms, capped by the attempt's start-to-close timeout).
   */
  readonly outageWaitMs?: number;
}

export const WORKFLOW_INTERCEPTORS_MODULE = require.resolve('../interceptors/workflow');
const CONFIG_GLOBAL = '__TEMPORAL_GOVERNANCE_WORKFLOW_CONFIG__';
/** What the bundle carries instead of zod's locale index (see interceptors/workflow/zod-locales). */
const ZOD_LOCALES_STANDIN = require.resolve('../interceptors/workflow/zod-locales');
/** zod's own modules requesting its locale index. */
const ZOD_MODULE_DIR = /[\\/]node_modules[\\/]zod[\\/]v4[\\/]/;
type WebpackConfiguration = Parameters<NonNullable<BundleOptions['webpackConfigHook']>>[0];

/** The worker half, required on first use (see the header). */
function workerHalf(): typeof import('./plugin-worker') {
  return require('./plugin-worker') as typeof import('./plugin-worker');
}

export class GovernancePlugin implements ClientPlugin, WorkerPlugin, BundlerPlugin {
  readonly name = 'temporal-governance';
  private readonly workflowConfig: WorkflowGovernanceConfig;

  // ES private fields: the SDK logs a worker's options, plugins included, and an API key or a
  // MongoDB URI with credentials must never reach a log. Private fields are invisible to that.
  readonly #options: GovernancePluginOptions;
  #identity: IdentitySource | undefined;

  constructor(options: GovernancePluginOptions = {}) {
    if (options.apiKey !== undefined) parseApiKey(options.apiKey); // a malformed key fails here, not at the first start
    this.#options = options;
    // Validate now: a bad setting must stop the worker from starting, not surface in a workflow task.
    this.workflowConfig = resolveWorkflowConfig(options.workflow);
  }

  configureClient(options: ClientOptions): ClientOptions {
    if (!this.#options.apiKey) return options;
    const existing = options.interceptors?.workflow ?? [];
    if (!Array.isArray(existing)) throw new GovernancePluginError('workflow client interceptors must be an array to add governance');
    return {
      ...options,
      interceptors: { ...options.interceptors, workflow: [...existing, startProofInterceptor(this.#options.apiKey, options.namespace ?? 'default')] },
    };
  }

  configureWorker(options: WorkerOptions): WorkerOptions {
    return workerHalf().governWorkerOptions(options, () => ({
      trustBundle: this.trustBundleSource(),
      identity: this.identitySource(),
      maxStalenessMs: this.maxStalenessMs,
      outageWaitMs: this.outageWaitMs,
      unprotectedActivityTypes: this.#options.unprotectedActivityTypes,
      lineageTaskQueue: this.workflowConfig.taskQueue,
      workflowInterceptorsModule: WORKFLOW_INTERCEPTORS_MODULE,
    }));
  }

  configureReplayWorker(options: ReplayWorkerOptions): ReplayWorkerOptions {
    return {
      ...options,
      interceptors: {
        ...options.interceptors,
        workflowModules: options.workflowBundle
          ? options.interceptors?.workflowModules
          : [...(options.interceptors?.workflowModules ?? []), WORKFLOW_INTERCEPTORS_MODULE],
      },
    };
  }

  configureBundler(options: BundleOptions): BundleOptions {
    const modules = options.workflowInterceptorModules ?? [];
    const config = this.workflowConfig;
    const previousHook = options.webpackConfigHook;
    return {
      ...options,
      workflowInterceptorModules: modules.includes(WORKFLOW_INTERCEPTORS_MODULE) ? modules : [...modules, WORKFLOW_INTERCEPTORS_MODULE],
      webpackConfigHook: (webpackConfig: WebpackConfiguration) => {
        const base = previousHook ? previousHook(webpackConfig) : webpackConfig;
        return {
          ...base,
          plugins: [
            ...(base.plugins ?? []),
            {
              apply(compiler) {
                new compiler.webpack.DefinePlugin({ [CONFIG_GLOBAL]: JSON.stringify(config) }).apply(compiler);
                // Before resolution, so the stand-in gets the loaders of its own file type.
                new compiler.webpack.NormalModuleReplacementPlugin(/^\.\.\/locales\/index\.c?js$/, (request: { context: string; request: string }) => {
                  if (ZOD_MODULE_DIR.test(request.context)) request.request = ZOD_LOCALES_STANDIN;
                }).apply(compiler);
              },
            },
          ],
        };
      },
    };
  }

  private get outageWaitMs(): number | undefined {
    const o = this.#options.identity;
    return o && 'mongoUri' in o ? o.outageWaitMs : undefined;
  }

  private get maxStalenessMs(): number | undefined {
    const o = this.#options.identity;
    return o && 'mongoUri' in o ? o.maxStalenessMs : undefined;
  }

  /** One revocation reader per plugin, shared by its workers. */
  private identitySource(): IdentitySource {
    const o = this.#options.identity;
    if (o === undefined) throw new GovernancePluginError('GovernancePlugin needs identity on workers: the enforcement point must see revocations (identity: { mongoUri })');
    if (!('mongoUri' in o)) return o;
    this.#identity ??= workerHalf().mongoIdentitySourceFor(o);
    return this.#identity;
  }

  /** Stops reading revocations (call after the plugin's workers have shut down). */
  async close(): Promise<void> {
    await this.#identity?.close();
    this.#identity = undefined;
  }

  private trustBundleSource(): () => TrustBundle {
    const source = this.#options.trustBundle;
    if (source === undefined) throw new GovernancePluginError('GovernancePlugin needs a trustBundle on workers: the enforcement point verifies against it');
    return workerHalf().trustBundleSourceFor(source);
  }
}
