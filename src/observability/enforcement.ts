// Observation of an enforcement point: a `governance.enforce` span around verification,
// revocation check and claim (it ends before the activity body starts, so the body's own spans are
// its siblings under RunActivity), the denial counter, the check's duration, one log line per denial.
import type { Logger } from '@temporalio/common';
import { ApplicationFailure } from '@temporalio/common';
import { GOVERNANCE_DENIED } from '../common/constants';
import { DenialDetailsSchema, type ArtifactPayload } from '../common/schemas';
import { ENFORCEMENT_DENIAL_LOG_MESSAGE, enforcementDenialFields } from './decision-log';
import { AttributeNames, denyCodeAttribute, errorTypeAttribute, governanceInstruments } from './metrics';
import { markDenied, markErrored, SpanAttributeNames, SpanNames, startGovernanceSpan } from './tracing';
import { observeQuietly } from './authorization';

export interface EnforcementObservation {
  /** The call is admitted under this artifact (the body runs next). */
  admitted(artifact: ArtifactPayload): void;
  /** The check threw: a GovernanceDenied failure is a denial, anything else an error (retried). */
  refused(err: unknown): void;
}

export function observeEnforcement(call: { activityType: string; isLocal: boolean }, log: Logger): EnforcementObservation {
  const started = performance.now();
  const action = call.isLocal ? 'local-activity' : 'activity';
  const span = startGovernanceSpan(SpanNames.enforce, { [SpanAttributeNames.action]: action, [SpanAttributeNames.target]: call.activityType });
  const finish = (outcome: 'allow' | 'deny' | 'error') => {
    span.end();
    governanceInstruments().enforcementDuration.record((performance.now() - started) / 1000, { [AttributeNames.outcome]: outcome, [AttributeNames.action]: action });
  };
  return {
    admitted(artifact) {
      observeQuietly(log, () => {
        span.setAttributes({
          [SpanAttributeNames.outcome]: 'allow',
          [SpanAttributeNames.decisionId]: artifact.decisionId,
          [SpanAttributeNames.recordId]: artifact.id,
          [SpanAttributeNames.principal]: artifact.principal,
          [SpanAttributeNames.policyId]: artifact.policy.id,
          [SpanAttributeNames.policyVersion]: artifact.policy.version,
        });
        finish('allow');
      });
    },
    refused(err) {
      observeQuietly(log, () => {
        const denial = err instanceof ApplicationFailure && err.type === GOVERNANCE_DENIED ? DenialDetailsSchema.safeParse(err.details?.[0]) : undefined;
        if (!denial?.success) {
          markErrored(span, errorTypeAttribute(err));
          finish('error');
          return;
        }
        const details = denial.data;
        if (details.principal !== null) span.setAttribute(SpanAttributeNames.principal, details.principal);
        markDenied(span, details.code);
        finish('deny');
        governanceInstruments().enforcementDenials.add(1, { [AttributeNames.denyCode]: denyCodeAttribute(details.code), [AttributeNames.action]: action });
        log.warn(ENFORCEMENT_DENIAL_LOG_MESSAGE, enforcementDenialFields(details, performance.now() - started));
      });
    },
  };
}
