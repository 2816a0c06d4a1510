// OpenTelemetry spans through @opentelemetry/api only: without an SDK every span is the API's
// non-recording span. Spans start in the active context, so under the activity spans of
// @temporalio/interceptors-opentelemetry (registered outside governance's interceptors, with an
// async context manager such as the one the Node SDK installs) they are children of RunActivity.
// Worker side only. Names and attributes are listed in docs/observability.md.
import { trace, SpanKind, SpanStatusCode, type Attributes, type Span, type Tracer } from '@opentelemetry/api';
import { PACKAGE_NAME, packageVersion } from './version';

export const TRACER_NAME = PACKAGE_NAME;

export const SpanNames = {
  /** Governance worker: one authorization attempt, request to decision (lineage hand-off included). */
  authorize: 'governance.authorize',
  /** Enforcement point: artifact verification, revocation check and claim, before the activity body. */
  enforce: 'governance.enforce',
} as const;

export const SpanAttributeNames = {
  outcome: 'governance.outcome',
  action: 'governance.action',
  target: 'governance.target',
  denyCode: 'governance.deny_code',
  decisionId: 'governance.decision.id',
  /** Id of the signed artifact or denial. */
  recordId: 'governance.record.id',
  principal: 'governance.principal',
  policyId: 'governance.policy.id',
  policyVersion: 'governance.policy.version',
  ruleIds: 'governance.rule_ids',
  errorType: 'error.type',
} as const;

/** The API's tracer is a proxy: it follows a provider registered later, so one lookup is enough. */
let tracer: Tracer | undefined;
export function governanceTracer(): Tracer {
  tracer ??= trace.getTracer(TRACER_NAME, packageVersion());
  return tracer;
}

export function startGovernanceSpan(name: string, attributes: Attributes): Span {
  return governanceTracer().startSpan(name, { kind: SpanKind.INTERNAL, attributes });
}

/**
 * A denial is the outcome governance exists for, yet it is what an operator looks for in a trace:
 * the span's status is ERROR with the deny code as its description. An allow leaves it UNSET.
 */
export function markDenied(span: Span, code: string): void {
  span.setAttribute(SpanAttributeNames.outcome, 'deny');
  span.setAttribute(SpanAttributeNames.denyCode, code);
  span.setStatus({ code: SpanStatusCode.ERROR, message: `denied: ${code}` });
}

/**
 * An attempt that decided nothing (malformed request, stale identity, store down). Only the failure
 * type is recorded, never its message or stack: span exporters leave the trust boundary.
 */
export function markErrored(span: Span, errorType: string): void {
  span.setAttribute(SpanAttributeNames.outcome, 'error');
  span.setAttribute(SpanAttributeNames.errorType, errorType);
  span.setStatus({ code: SpanStatusCode.ERROR, message: errorType });
}
