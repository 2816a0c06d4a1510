// OpenTelemetry metrics through @opentelemetry/api only: without an SDK registered by the
// application every instrument is the API's no-op. Worker side only (never imported by workflow
// code). Names, units and attributes are listed in docs/observability.md.
//
// Attributes are bounded by construction: outcome, deny code, action kind, component. Never an id,
// a principal, a workflow or activity type, or an argument value (those go on spans and logs).
import { metrics, ValueType, type Attributes, type Counter, type Histogram, type Meter, type MeterProvider } from '@opentelemetry/api';
import { ActionSchema } from '../common/schemas';
import { PACKAGE_NAME, packageVersion } from './version';

export const METER_NAME = PACKAGE_NAME;

export const MetricNames = {
  decisions: 'governance.decisions',
  authorizationDuration: 'governance.authorization.duration',
  scheduleToDecision: 'governance.authorization.schedule_to_decision.duration',
  enforcementDenials: 'governance.enforcement.denials',
  enforcementDuration: 'governance.enforcement.duration',
  identityStaleness: 'governance.identity.staleness',
  lineageLag: 'governance.lineage.lag',
} as const;

export const AttributeNames = {
  /** allow | deny | error */
  outcome: 'governance.outcome',
  /** The deny code (UPPER_SNAKE_CASE; governance's own or a policy rule's), on denials only. */
  denyCode: 'governance.deny_code',
  /** workflow | activity | local-activity | child-workflow | continue-as-new | unknown */
  action: 'governance.action',
  /** Failure type of an attempt that decided nothing (OTel semantic convention attribute). */
  errorType: 'error.type',
  /** governance-worker | enforcement: whose identity snapshot. */
  component: 'governance.component',
} as const;

export type Outcome = 'allow' | 'deny' | 'error';
export type IdentityComponent = 'governance-worker' | 'enforcement';

/** Durations are in seconds (OTel semantic conventions); buckets sized for sub-millisecond to seconds. */
const DURATION_BUCKETS_S = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Lineage lag spans a signal round trip (sub-second) to outbox re-delivery (minutes, hours). */
const LAG_BUCKETS_S = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 1800, 3600, 21600];

const OTHER = '_OTHER';
const DENY_CODE = /^[A-Z][A-Z0-9_]{0,63}$/;
const ERROR_TYPE = /^[A-Za-z][A-Za-z0-9_.:-]{0,63}$/;

/** A deny code as an attribute value: codes are UPPER_SNAKE_CASE by schema; anything else is folded. */
export function denyCodeAttribute(code: string): string {
  return DENY_CODE.test(code) ? code : OTHER;
}

/** The action kind of a request, or 'unknown' (never the raw claim: it is attacker-chosen). */
export function actionAttribute(action: unknown): string {
  const parsed = ActionSchema.safeParse(action);
  return parsed.success ? parsed.data : 'unknown';
}

/** Failure type (ApplicationFailure type or error class name), folded when it looks unbounded. */
export function errorTypeAttribute(err: unknown): string {
  const type = (err as { type?: unknown } | null)?.type;
  const name = typeof type === 'string' && type ? type : (err as { name?: unknown } | null)?.name;
  return typeof name === 'string' && ERROR_TYPE.test(name) ? name : OTHER;
}

export interface GovernanceInstruments {
  readonly decisions: Counter;
  readonly authorizationDuration: Histogram;
  readonly scheduleToDecision: Histogram;
  readonly enforcementDenials: Counter;
  readonly enforcementDuration: Histogram;
  readonly lineageLag: Histogram;
}

/**
 * Instruments of the MeterProvider registered now. The API has no proxy meter provider: an
 * instrument made before the SDK registers stays a no-op for good, so they are looked up per use
 * (one WeakMap read) and made once per provider.
 */
const byProvider = new WeakMap<MeterProvider, GovernanceInstruments>();

export function governanceInstruments(): GovernanceInstruments {
  const provider = metrics.getMeterProvider();
  let instruments = byProvider.get(provider);
  if (!instruments) {
    instruments = createInstruments(provider.getMeter(METER_NAME, packageVersion()));
    byProvider.set(provider, instruments);
  }
  return instruments;
}

function createInstruments(meter: Meter): GovernanceInstruments {
  const duration = (name: string, description: string) =>
    meter.createHistogram(name, { description, unit: 's', valueType: ValueType.DOUBLE, advice: { explicitBucketBoundaries: DURATION_BUCKETS_S } });
  const staleness = meter.createObservableGauge(MetricNames.identityStaleness, {
    description: 'Age of the newest identity snapshot (principals, API keys, revocations) a component decides from; the oldest per component',
    unit: 's',
    valueType: ValueType.DOUBLE,
  });
  staleness.addCallback((result) => {
    for (const [component, age] of oldestSnapshotAges()) result.observe(age / 1000, { [AttributeNames.component]: component });
  });
  return {
    decisions: meter.createCounter(MetricNames.decisions, {
      description: 'Authorization decisions made by the governance worker (every attempt), by outcome, deny code and action',
      unit: '{decision}',
      valueType: ValueType.INT,
    }),
    authorizationDuration: duration(MetricNames.authorizationDuration, 'Time the governance worker spends on one authorization attempt, from the attempt starting to run to its decision (lineage hand-off included)'),
    scheduleToDecision: duration(
      MetricNames.scheduleToDecision,
      'Time from the Temporal server scheduling the authorization attempt to its decision (queueing included; server clock against worker clock)',
    ),
    enforcementDenials: meter.createCounter(MetricNames.enforcementDenials, {
      description: 'Protected activity attempts refused by an enforcement point, by deny code and action',
      unit: '{denial}',
      valueType: ValueType.INT,
    }),
    enforcementDuration: duration(MetricNames.enforcementDuration, 'Time an enforcement point spends verifying an artifact and claiming it, before the activity body runs (or is refused)'),
    lineageLag: meter.createHistogram(MetricNames.lineageLag, {
      description: 'Time from a decision being issued to its lineage document being stored in MongoDB',
      unit: 's',
      valueType: ValueType.DOUBLE,
      advice: { explicitBucketBoundaries: LAG_BUCKETS_S },
    }),
  };
}

/** Live identity snapshot holders (identity caches), for the staleness gauge. */
export interface SnapshotAge {
  readonly component: IdentityComponent;
  /** Milliseconds since the newest snapshot was read (since the holder started, if it never was). */
  ageMs(): number;
}

const snapshotHolders = new Set<SnapshotAge>();

/** Registers a snapshot holder with the staleness gauge; the returned function unregisters it. */
export function observeSnapshotAge(holder: SnapshotAge): () => void {
  snapshotHolders.add(holder);
  // Make sure the gauge exists on the provider registered now, even before any decision.
  governanceInstruments();
  return () => snapshotHolders.delete(holder);
}

function oldestSnapshotAges(): Map<IdentityComponent, number> {
  const oldest = new Map<IdentityComponent, number>();
  for (const holder of snapshotHolders) {
    const age = Math.max(0, holder.ageMs());
    if (age > (oldest.get(holder.component) ?? -1)) oldest.set(holder.component, age);
  }
  return oldest;
}

/** Attributes of a decision metric point. */
export function decisionAttributes(outcome: Outcome, action: string, detail?: { denyCode?: string; errorType?: string }): Attributes {
  const attributes: Attributes = { [AttributeNames.outcome]: outcome, [AttributeNames.action]: action };
  if (detail?.denyCode !== undefined) attributes[AttributeNames.denyCode] = denyCodeAttribute(detail.denyCode);
  if (detail?.errorType !== undefined) attributes[AttributeNames.errorType] = detail.errorType;
  return attributes;
}
