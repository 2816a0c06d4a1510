// Configuration of the workflow interceptors, baked into the workflow bundle by the plugin
// (the sandbox cannot read files or the environment). Sandbox-safe.
import { z } from 'zod';
import { DEFAULT_GOVERNANCE_TASK_QUEUE } from './constants';

export const WorkflowGovernanceConfigSchema = z
  .object({
    /** Task queue of the governance workers that run the authorization activity. */
    taskQueue: z.string().min(1).default(DEFAULT_GOVERNANCE_TASK_QUEUE),
    /** How long a call waits for a decision before it is denied (GOVERNANCE_UNAVAILABLE). */
    authorizationTimeoutMs: z.number().int().positive().default(30_000),
    /** Fail the workflow on any denial, even one the workflow code catches. */
    strict: z.boolean().default(true),
  })
  .strict();
export type WorkflowGovernanceConfig = z.infer<typeof WorkflowGovernanceConfigSchema>;

export function resolveWorkflowConfig(input: unknown): WorkflowGovernanceConfig {
  return WorkflowGovernanceConfigSchema.parse(input ?? {});
}
