// One structured log line per decision (governance worker) and per enforcement denial (every
// worker), through the Temporal activity logger, which routes to the Runtime logger and adds the
// activity's own attributes (namespace, workflowId, workflowRunId, activityId, attempt, ...).
//
// Never logged: API keys, start proofs, signatures, artifacts, denial payloads. Argument values
// (and denial reasons, which can quote them) only with `logDecisionArguments: true`.
import type { LogMetadata, Logger } from '@temporalio/common';
import { AuthorizationRequestSchema, type AuthorizationResult, type DenialDetails } from '../common/schemas';

export const DECISION_LOG_MESSAGE = 'Governance decision';
export const ENFORCEMENT_DENIAL_LOG_MESSAGE = 'Governance enforcement denied';

export interface DecisionLogOptions {
  /** Adds the request's argument values (tagged view) and the denial reason to each line. Default false: arguments can hold secrets. */
  readonly logDecisionArguments?: boolean;
}

/** The fields of a decision's log line. */
export function decisionLogFields(result: AuthorizationResult, input: unknown, latencyMs: number, options: DecisionLogOptions = {}): LogMetadata {
  const payload = result.decision === 'allow' ? result.artifact.payload : result.denial.payload;
  // Absent rather than null where there is nothing to say (a denial before any principal was known).
  const fields: LogMetadata = {
    decisionId: payload.decisionId,
    recordId: payload.id,
    decision: result.decision,
    ...(result.decision === 'deny' ? { denyCode: result.denial.payload.code } : {}),
    ...(payload.principal !== null ? { principal: payload.principal } : {}),
    action: payload.action,
    target: payload.target,
    ruleIds: payload.rules,
    policyId: payload.policy.id,
    policyVersion: payload.policy.version,
    latencyMs: Math.round(latencyMs * 1000) / 1000,
  };
  if (options.logDecisionArguments) {
    // Parsed, not cast: a malformed request was refused before any decision, so this parses.
    const request = AuthorizationRequestSchema.safeParse(input);
    fields.arguments = request.success ? request.data.args : null;
    if (result.decision === 'deny') fields.reason = result.denial.payload.reason;
  }
  return fields;
}

/** Allow at INFO, deny at WARN: a denial is what an operator looks for. */
export function logDecision(log: Logger, result: AuthorizationResult, input: unknown, latencyMs: number, options?: DecisionLogOptions): void {
  const fields = decisionLogFields(result, input, latencyMs, options);
  if (result.decision === 'allow') log.info(DECISION_LOG_MESSAGE, fields);
  else log.warn(DECISION_LOG_MESSAGE, fields);
}

/**
 * An enforcement point's denial: code and reason (enforcement reasons name ids and digests, never
 * argument values), what was refused, and whose authority it carried.
 */
export function enforcementDenialFields(details: DenialDetails, latencyMs: number): LogMetadata {
  return {
    denyCode: details.code,
    reason: details.reason,
    ...(details.principal !== null ? { principal: details.principal } : {}),
    action: details.action,
    target: details.target,
    latencyMs: Math.round(latencyMs * 1000) / 1000,
  };
}
