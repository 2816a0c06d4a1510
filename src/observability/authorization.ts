// Observation of the authorization activity on the governance worker: a `governance.authorize`
// span around each attempt, the decision counter and latency histograms, one log line per decision.
// Observing never changes a decision: a failure to observe is swallowed, the decision returned.
import { context as otelContext, trace } from '@opentelemetry/api';
import type { Logger } from '@temporalio/common';
import type { Authorize, CallContext } from '../../activities/authorize';
import type { AuthorizationResult } from '../common/schemas';
import { logDecision, type DecisionLogOptions } from './decision-log';
import { actionAttribute, AttributeNames, decisionAttributes, errorTypeAttribute, governanceInstruments } from './metrics';
import { markDenied, markErrored, SpanAttributeNames, SpanNames, startGovernanceSpan } from './tracing';

/** What the activity context says about the attempt being observed. */
export interface AttemptFacts {
  /** The activity context logger (Context.current().log). */
  readonly log: Logger;
  /** When the server scheduled this attempt (info.currentAttemptScheduledTimestampMs); omitted = not measured. */
  readonly scheduledAtMs?: number;
}

export type ObservedAuthorize = (input: unknown, context: CallContext, attempt: AttemptFacts) => Promise<AuthorizationResult>;

export function observeAuthorizations(authorize: Authorize, options: DecisionLogOptions = {}): ObservedAuthorize {
  return async function observedAuthorize(input, callContext, attempt) {
    const started = performance.now();
    // The claimed action kind, bounded by its schema; the decision's own replaces it below.
    const claimedAction = actionAttribute(typeof input === 'object' && input !== null ? (input as Record<string, unknown>).action : undefined);
    const span = startGovernanceSpan(SpanNames.authorize, { [SpanAttributeNames.action]: claimedAction });
    let result: AuthorizationResult;
    try {
      result = await otelContext.with(trace.setSpan(otelContext.active(), span), () => authorize(input, callContext));
    } catch (err) {
      observeQuietly(attempt.log, () => {
        const errorType = errorTypeAttribute(err);
        markErrored(span, errorType);
        span.end();
        recordAttempt(decisionAttributes('error', claimedAction, { errorType }), started, attempt);
      });
      throw err;
    }
    observeQuietly(attempt.log, () => {
      const latencyMs = performance.now() - started;
      const payload = result.decision === 'allow' ? result.artifact.payload : result.denial.payload;
      span.setAttributes({
        [SpanAttributeNames.action]: payload.action,
        [SpanAttributeNames.target]: payload.target,
        [SpanAttributeNames.decisionId]: payload.decisionId,
        [SpanAttributeNames.recordId]: payload.id,
        [SpanAttributeNames.policyId]: payload.policy.id,
        [SpanAttributeNames.policyVersion]: payload.policy.version,
        [SpanAttributeNames.ruleIds]: payload.rules,
        ...(payload.principal !== null ? { [SpanAttributeNames.principal]: payload.principal } : {}),
      });
      if (result.decision === 'deny') markDenied(span, result.denial.payload.code);
      else span.setAttribute(SpanAttributeNames.outcome, 'allow');
      span.end();
      const denyCode = result.decision === 'deny' ? result.denial.payload.code : undefined;
      recordAttempt(decisionAttributes(result.decision, payload.action, { denyCode }), started, attempt);
      logDecision(attempt.log, result, input, latencyMs, options);
    });
    return result;
  };
}

function recordAttempt(attributes: ReturnType<typeof decisionAttributes>, started: number, attempt: AttemptFacts): void {
  const instruments = governanceInstruments();
  instruments.decisions.add(1, attributes);
  // Durations carry outcome and action only: a deny code per bucket set multiplies series for little.
  const timing = { [AttributeNames.outcome]: attributes[AttributeNames.outcome], [AttributeNames.action]: attributes[AttributeNames.action] };
  instruments.authorizationDuration.record((performance.now() - started) / 1000, timing);
  if (attempt.scheduledAtMs !== undefined) instruments.scheduleToDecision.record(Math.max(0, Date.now() - attempt.scheduledAtMs) / 1000, timing);
}

/** Observation must not fail an authorization (the SDK and logger are the application's). */
export function observeQuietly(log: Logger | undefined, observe: () => void): void {
  try {
    observe();
  } catch (err) {
    try {
      log?.debug('governance: observing a decision failed', { error: String(err) });
    } catch {
      // nothing else to tell it to
    }
  }
}
