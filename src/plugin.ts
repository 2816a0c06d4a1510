// The single wiring point: one plugin for Client and Worker, so workflow code does not change.
// This module loads only what a Client needs (temporal-governance/client imports it); the worker
// half (src/plugin-worker.ts: enforcement, trust bundle, MongoDB identity reads) is loaded by the
// first configureWorker call.
import type { ClientOptions, ClientPlugin } from '@temporalio/client';
import type { BundleOptions, BundlerPlugin, ReplayWorkerOptions, Worker, WorkerOptions, WorkerPlugin } from '@temporalio/worker';
import { startProofInterceptor } from '../interceptors/client';
import { scheduleProofInterceptor } from '../interceptors/client/schedule';
import { parseApiKey } from './identity/api-key';
import type { TrustBundle } from './artifact/trust-bundle';
import type { IdentitySource } from './identity/cache';
import { resolveWorkflowConfig, type WorkflowGovernanceConfig } from './common/workflow-config';
import { GovernancePluginError } from './plugin-error';
import { toBase64Url } from './common/base64url';

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
  /**
   * Authorize by local activity, asking governance workers' endpoints directly with this worker's
   * API key (a principal holding role temporal-governance:worker), instead of scheduling the
   * authorization activity on the governance task queue: one server round trip less per governed
   * call. Workers only; baked into the workflow bundle. See docs/direct-authorization.md.
   */
  readonly directAuthorization?: import('./direct/local-activity').DirectAuthorizationOptions;
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
  /**
   * Refuse to create a worker when MongoDB does not answer within 5 s (default true). Set false to
   * start during an outage: protected activities are then refused until it answers, as in any outage.
   */
  readonly checkAtStartup?: boolean;
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

/** Start-up checks (MongoDB driver, file reads), loaded by the first worker: a Client needs none of it. */
function lifecycle(): typeof import('./worker/lifecycle') {
  return require('./worker/lifecycle') as typeof import('./worker/lifecycle');
}

export class GovernancePlugin implements ClientPlugin, WorkerPlugin, BundlerPlugin {
  readonly name = 'temporal-governance';
  private readonly workflowConfig: WorkflowGovernanceConfig;

  // ES private fields: the SDK logs a worker's options, plugins included, and an API key or a
  // MongoDB URI with credentials must never reach a log. Private fields are invisible to that.
  readonly #options: GovernancePluginOptions;
  #identity: IdentitySource | undefined;
  /** Workers of this plugin now running: the identity reader is released when the last one stops. */
  #running = 0;

  readonly #direct: ReturnType<typeof import('./direct/local-activity').parseDirectAuthorizationOptions> | undefined;

  constructor(options: GovernancePluginOptions = {}) {
    if (options.apiKey !== undefined) parseApiKey(options.apiKey); // a malformed key fails here, not at the first start
    this.#options = options;
    if (options.directAuthorization !== undefined) {
      // Loaded only here: a client never passes it, and the module brings @temporalio/activity.
      const direct = require('./direct/local-activity') as typeof import('./direct/local-activity');
      try {
        this.#direct = direct.parseDirectAuthorizationOptions(options.directAuthorization);
      } catch (err) {
        throw new GovernancePluginError((err as Error).message);
      }
    }
    // Validate now: a bad setting must stop the worker from starting, not surface in a workflow task.
    this.workflowConfig = resolveWorkflowConfig({ ...options.workflow, ...(this.#direct ? { direct: true } : {}) });
  }

  configureClient(options: ClientOptions): ClientOptions {
    if (!this.#options.apiKey) return options;
    const existing = options.interceptors?.workflow ?? [];
    if (!Array.isArray(existing)) throw new GovernancePluginError('workflow client interceptors must be an array to add governance');
    const namespace = options.namespace ?? 'default';
    return {
      ...options,
      interceptors: {
        ...options.interceptors,
        workflow: [...existing, startProofInterceptor(this.#options.apiKey, namespace)],
        // Schedules this client creates carry a schedule proof (docs/identity.md, Schedules).
        schedule: [...(options.interceptors?.schedule ?? []), scheduleProofInterceptor(this.#options.apiKey, namespace)],
      },
    };
  }

  /**
   * Wires governance into the worker after start-up checks, so a misconfigured worker fails here
   * (Worker.create rejects with GovernanceStartupError) instead of denying once it polls: a prebuilt
   * workflow bundle without the governance workflow interceptors, MongoDB not answering, and, for a
   * worker with workflows, a namespace without the governance search attributes.
   */
  async configureWorker(options: WorkerOptions): Promise<WorkerOptions> {
    const governed = workerHalf().governWorkerOptions(options, () => ({
      trustBundle: this.trustBundleSource(),
      // Looked up per call: the reader is released when this plugin's last worker stops and opened
      // again if another one runs.
      identity: () => this.runningIdentity(),
      maxStalenessMs: this.maxStalenessMs,
      outageWaitMs: this.outageWaitMs,
      unprotectedActivityTypes: this.#options.unprotectedActivityTypes,
      direct: this.#direct,
      lineageTaskQueue: this.workflowConfig.taskQueue,
      workflowInterceptorsModule: WORKFLOW_INTERCEPTORS_MODULE,
    }));
    const checks = lifecycle();
    if (options.workflowBundle) checks.checkWorkflowBundle(options.workflowBundle);
    const opened = this.#identity === undefined;
    const identity = this.identitySource();
    try {
      const o = this.#options.identity;
      if (o && 'mongoUri' in o && o.checkAtStartup !== false && identity.db) await checks.checkMongoReachable(identity.db, o.mongoUri, o.database);
      if (options.workflowBundle || options.workflowsPath) await checks.checkSearchAttributes(options.connection, options.namespace ?? 'default');
    } catch (err) {
      // Opened for this worker only: nothing else holds it.
      if (opened && this.#running === 0) await this.releaseIdentity();
      throw err;
    }
    return governed;
  }

  /** Releases the identity reader once the last running worker of this plugin has stopped. */
  async runWorker(worker: Worker, next: (w: Worker) => Promise<void>): Promise<void> {
    this.#running += 1;
    try {
      await next(worker);
    } finally {
      // Outcome reports wait a moment to leave together: hand over what the last calls reported.
      await workerHalf().drainOutcomeReports(2_000);
      this.#running -= 1;
      if (this.#running === 0) await this.releaseIdentity();
    }
  }

  configureReplayWorker(options: ReplayWorkerOptions): ReplayWorkerOptions {
    // Replaying governed histories on a bundle without the interceptors can only end in nondeterminism.
    if (options.workflowBundle) lifecycle().checkWorkflowBundle(options.workflowBundle);
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
    const config: WorkflowGovernanceConfig = { ...this.workflowConfig, trustedKeys: this.trustedKeys() };
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

  /** One revocation reader per plugin, shared by its workers; a source passed in is the caller's to close. */
  private identitySource(): IdentitySource {
    const o = this.#options.identity;
    if (o === undefined) throw new GovernancePluginError('GovernancePlugin needs identity on workers: the enforcement point must see revocations (identity: { mongoUri })');
    if (!('mongoUri' in o)) return o;
    this.#identity ??= workerHalf().mongoIdentitySourceFor(o);
    return this.#identity;
  }

  /**
   * The reader for a call at the enforcement point. A call that arrives after the last worker of
   * this plugin stopped (a drain given up by shutdownForceTime) is refused, never given a new reader
   * that nobody would close.
   */
  private runningIdentity(): IdentitySource {
    if (this.#identity === undefined && this.#running === 0 && this.#options.identity !== undefined && 'mongoUri' in this.#options.identity) {
      throw new GovernancePluginError("this plugin's workers have stopped; its identity reader is closed");
    }
    return this.identitySource();
  }

  private async releaseIdentity(): Promise<void> {
    const identity = this.#identity;
    this.#identity = undefined;
    await identity?.close();
  }

  /**
   * Stops reading revocations and closes the plugin's MongoDB client. A worker's run ending already
   * does this once no other worker of the plugin runs; call it for workers created but never run.
   */
  async close(): Promise<void> {
    await this.releaseIdentity();
  }

  /**
   * The trust bundle's keys as the workflow bundle bakes them in (message decisions are verified in
   * the sandbox). Read when the bundle is built: a key added later reaches workflows when the
   * workers restart. Without a trustBundle (a client-only or replay-only plugin), none.
   */
  private trustedKeys(): WorkflowGovernanceConfig['trustedKeys'] {
    if (this.#options.trustBundle === undefined) return [];
    return [...this.trustBundleSource()().keys.values()].map((k) => ({ kid: k.kid, x: toBase64Url(k.publicKey), notBefore: k.notBefore, notAfter: k.notAfter }));
  }

  private trustBundleSource(): () => TrustBundle {
    const source = this.#options.trustBundle;
    if (source === undefined) throw new GovernancePluginError('GovernancePlugin needs a trustBundle on workers: the enforcement point verifies against it');
    return workerHalf().trustBundleSourceFor(source);
  }
}
