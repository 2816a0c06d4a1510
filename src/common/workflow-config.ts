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
    /**
     * Authorize by local activity (DIRECT_AUTHORIZE_ACTIVITY), which asks a governance worker's
     * endpoint directly, instead of the authorization activity on `taskQueue`: one server round trip
     * less per call (docs/direct-authorization.md). Set by GovernancePlugin's `directAuthorization`.
     */
    direct: z.boolean().default(false),
    /** Fail the workflow on any denial, even one the workflow code catches. */
    strict: z.boolean().default(true),
    /**
     * The trust bundle's public keys, baked in from the plugin's `trustBundle` when the bundle is
     * built. A signal's or update's decision has no enforcement point after it (the handler runs in
     * the sandbox), so the workflow verifies it itself against these keys; without them, no message
     * is admitted.
     */
    trustedKeys: z
      .array(z.object({ kid: z.string().min(1), x: z.string().regex(/^[A-Za-z0-9_-]{43}$/), notBefore: z.number().int(), notAfter: z.number().int().nullable() }).strict())
      .default([]),
  })
  .strict();
export type WorkflowGovernanceConfig = z.infer<typeof WorkflowGovernanceConfigSchema>;

export function resolveWorkflowConfig(input: unknown): WorkflowGovernanceConfig {
  return WorkflowGovernanceConfigSchema.parse(input ?? {});
}
