// Turning a denial into the failure that fails the workflow closed. Sandbox-safe.
import { ApplicationFailure } from '@temporalio/common';
import { GOVERNANCE_DENIED } from './constants';
import { DenialDetailsSchema, type DenialDetails, type DenialPayload } from './schemas';

export function denialDetailsFromPayload(denial: DenialPayload): DenialDetails {
  return {
    code: denial.code,
    reason: denial.reason,
    ruleIds: denial.rules,
    policyId: denial.policy.id,
    policyVersion: denial.policy.version,
    decisionId: denial.decisionId,
    principal: denial.principal,
    action: denial.action,
    target: denial.target,
    ...(denial.failWorkflow ? { failWorkflow: true as const } : {}),
  };
}

/** One sentence an operator understands without any other tool. */
export function describeDenial(d: DenialDetails): string {
  const what = d.action && d.target ? `${d.action} ${d.target}` : 'the call';
  const who = d.principal ? ` for principal ${d.principal}` : '';
  const rules = d.ruleIds.length > 0 ? ` by rule ${d.ruleIds.join(', ')}` : '';
  const policy = d.policyId ? ` (policy ${d.policyId} ${d.policyVersion ?? ''})`.replace(' )', ')') : '';
  const decision = d.decisionId ? ` [decision ${d.decisionId}]` : '';
  return `Governance denied ${what}${who}${rules}: ${d.reason} (${d.code})${policy}${decision}`;
}

/** Non-retryable ApplicationFailure of type GovernanceDenied carrying the details as data. */
export function governanceDeniedFailure(details: DenialDetails): ApplicationFailure {
  return ApplicationFailure.create({
    type: GOVERNANCE_DENIED,
    message: describeDenial(details),
    nonRetryable: true,
    details: [DenialDetailsSchema.parse(details)],
  });
}

/** The GovernanceDenied failure anywhere in an error's cause chain (workflow, activity or child failure). */
export function findGovernanceDenial(err: unknown): ApplicationFailure | undefined {
  let cause: unknown = err;
  while (cause) {
    if (cause instanceof ApplicationFailure && cause.type === GOVERNANCE_DENIED) return cause;
    cause = (cause as { cause?: unknown }).cause;
  }
  return undefined;
}
