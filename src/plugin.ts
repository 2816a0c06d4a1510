// The single wiring point: one plugin for Client and Worker, so workflow code does not change.
import { statSync } from 'node:fs';
import type { ClientOptions, ClientPlugin } from '@temporalio/client';
import type { BundleOptions, BundlerPlugin, ReplayWorkerOptions, WorkerOptions, WorkerPlugin } from '@temporalio/worker';
import { enforcementInterceptor } from '../interceptors/activity';
import { principalInterceptor } from '../interceptors/client';
import type { TrustBundle } from './artifact/trust-bundle';
import { loadTrustBundle } from './crypto/keys';
import { resolveWorkflowConfig, type WorkflowGovernanceConfig } from './common/workflow-config';

export interface GovernancePluginOptions {
  /** Trust bundle (or its file path) the enforcement point verifies artifacts against. Required for workers. */
  readonly trustBundle?: TrustBundle | string;
  /** Principal on whose authority this client starts workflows. */
  readonly principal?: string;
  /** Workflow-side settings, baked into the workflow bundle. */
  readonly workflow?: Partial<WorkflowGovernanceConfig>;
  /** Extra activity types this worker runs without an artifact (governance workers only). */
  readonly unprotectedActivityTypes?: readonly string[];
}

export const WORKFLOW_INTERCEPTORS_MODULE = require.resolve('../interceptors/workflow');
const CONFIG_GLOBAL = '__TEMPORAL_GOVERNANCE_WORKFLOW_CONFIG__';
type WebpackConfiguration = Parameters<NonNullable<BundleOptions['webpackConfigHook']>>[0];

export class GovernancePluginError extends Error {
  override readonly name = 'GovernancePluginError';
}

export class GovernancePlugin implements ClientPlugin, WorkerPlugin, BundlerPlugin {
  readonly name = 'temporal-governance';
  private readonly workflowConfig: WorkflowGovernanceConfig;

  constructor(private readonly options: GovernancePluginOptions = {}) {
    // Validate now: a bad setting must stop the worker from starting, not surface in a workflow task.
    this.workflowConfig = resolveWorkflowConfig(options.workflow);
  }

  configureClient(options: ClientOptions): ClientOptions {
    if (!this.options.principal) return options;
    const existing = options.interceptors?.workflow ?? [];
    if (!Array.isArray(existing)) throw new GovernancePluginError('workflow client interceptors must be an array to add governance');
    return {
      ...options,
      interceptors: { ...options.interceptors, workflow: [...existing, principalInterceptor(this.options.principal)] },
    };
  }

  configureWorker(options: WorkerOptions): WorkerOptions {
    const trust = this.trustBundleSource();
    return {
      ...options,
      interceptors: {
        ...options.interceptors,
        activity: [
          ...(options.interceptors?.activity ?? []),
          enforcementInterceptor({
            trustBundle: trust,
            unprotectedActivityTypes: this.options.unprotectedActivityTypes,
            lineageTaskQueue: this.workflowConfig.taskQueue,
          }),
        ],
        workflowModules: options.workflowBundle
          ? options.interceptors?.workflowModules
          : [...(options.interceptors?.workflowModules ?? []), WORKFLOW_INTERCEPTORS_MODULE],
      },
    };
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
              },
            },
          ],
        };
      },
    };
  }

  private trustBundleSource(): () => TrustBundle {
    const source = this.options.trustBundle;
    if (source === undefined) throw new GovernancePluginError('GovernancePlugin needs a trustBundle on workers: the enforcement point verifies against it');
    if (typeof source !== 'string') return () => source;
    // Loaded now, so a bad bundle stops the worker; re-read when the file changes, so adding or
    // retiring a key takes effect without a restart. A bundle that stops parsing denies everything.
    const stamp = () => {
      const s = statSync(source);
      return `${s.mtimeMs}:${s.size}:${s.ino}`;
    };
    let current = { stamp: stamp(), bundle: loadTrustBundle(source) };
    return () => {
      const now = stamp();
      if (now !== current.stamp) current = { stamp: now, bundle: loadTrustBundle(source) };
      return current.bundle;
    };
  }
}
