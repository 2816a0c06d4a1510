// The decision id (docs/artifact.md section 6): derived from the call's identity, so a retried
// authorization is the same decision. Governance issues it; the workflow recomputes it to check
// that a signal's or update's decision is for that very message. Sandbox-safe.
import { canonicalize } from './canonical';
import { sha256Hex } from './digest';
import type { Action } from './schemas';

export interface DecidedCall {
  readonly action: Action;
  readonly activityId: string | null;
  readonly childWorkflowId: string | null;
  readonly messageId: string | null;
}

/** `run` is the requesting run as the Temporal server recorded it, never the request's claim. */
export function decisionIdOf(call: DecidedCall, run: { readonly namespace: string; readonly workflowId: string; readonly runId: string }): string {
  const key =
    call.action === 'activity' || call.action === 'local-activity'
      ? `${call.action}:${call.activityId}`
      : call.action === 'child-workflow'
        ? `child-workflow:${call.childWorkflowId}`
        : call.action === 'signal' || call.action === 'update'
          ? `${call.action}:${call.messageId}`
          : call.action;
  return `dec_${sha256Hex(canonicalize([run.namespace, run.workflowId, run.runId, key])).slice(0, 32)}`;
}
