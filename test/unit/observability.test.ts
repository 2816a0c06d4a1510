// Observation logic without Temporal: metric points, spans and log lines for given decisions, with
// the in-memory OpenTelemetry SDK registered as the global providers.
import { SpanStatusCode } from '@opentelemetry/api';
import { ApplicationFailure, type Logger, type LogLevel, type LogMetadata } from '@temporalio/common';
import type { Authorize } from '../../activities/authorize';
import { governanceDeniedFailure } from '../../src/common/denial';
import type { AuthorizationResult } from '../../src/common/schemas';
import { identityCache } from '../../src/identity/cache';
import type { IdentitySnapshot } from '../../src/identity/snapshot';
import { observeAuthorizations } from '../../src/observability/authorization';
import { decisionLogFields } from '../../src/observability/decision-log';
import { observeEnforcement } from '../../src/observability/enforcement';
import { actionAttribute, AttributeNames, denyCodeAttribute, errorTypeAttribute, MetricNames } from '../../src/observability/metrics';
import { SpanAttributeNames, SpanNames } from '../../src/observability/tracing';
import { installOtelSdk, spansNamed, total, type OtelSdk } from '../helpers/otel';

let sdk: OtelSdk;
beforeAll(() => {
  sdk = installOtelSdk();
});
afterAll(async () => sdk.shutdown());
beforeEach(() => sdk.spans.reset());

function memoryLogger(): Logger & { lines: { level: LogLevel; message: string; meta?: LogMetadata }[] } {
  const lines: { level: LogLevel; message: string; meta?: LogMetadata }[] = [];
  const log = (level: LogLevel) => (message: string, meta?: LogMetadata) => void lines.push({ level, message, meta });
  return { lines, log: (level, message, meta) => void lines.push({ level, message, meta }), trace: log('TRACE'), debug: log('DEBUG'), info: log('INFO'), warn: log('WARN'), error: log('ERROR') };
}

const policy = { id: 'unit-policy', version: 'sha256:' + 'a'.repeat(64) };
const binding = { action: 'activity', target: 'charge', policy, rules: ['rule-1'], issuedAt: 1_700_000_000_000 } as const;

/** Only the fields observation reads: the authorizer's own tests cover real signed results. */
function allowResult(n: number): AuthorizationResult {
  return { decision: 'allow', artifact: { payload: { ...binding, id: `art_${n}`, decisionId: `dec_${n}`, principal: 'alice' }, signature: 'sig' } } as unknown as AuthorizationResult;
}
function denyResult(n: number, code = 'AMOUNT_OVER_LIMIT'): AuthorizationResult {
  return {
    decision: 'deny',
    denial: { payload: { ...binding, id: `den_${n}`, decisionId: `dec_${n}`, principal: 'alice', code, reason: 'too much; args[0].amount = 5000 (gt 1000)' }, signature: 'sig' },
  } as unknown as AuthorizationResult;
}

const request = (amount: number) => ({
  v: 2,
  action: 'activity',
  target: 'charge',
  activityId: '1',
  childWorkflowId: null,
  messageId: null,
  taskQueue: 'q',
  args: [['json', { amount }]],
  argsDigest: 'sha256:' + 'b'.repeat(64),
  workflow: { namespace: 'default', workflowId: 'wf', runId: 'run', workflowType: 'payOnce', taskQueue: 'q', parent: null, continuedFromRunId: null, firstExecutionRunId: 'run', startedAt: 1 },
  proof: null,
  delegateRoles: null,
  parent: null,
});

const callContext = { caller: undefined, runStart: async () => Promise.reject(new Error('unused')) };

describe('metric attributes stay bounded', () => {
  test('deny codes pass when UPPER_SNAKE_CASE, anything else is folded', () => {
    expect(denyCodeAttribute('AMOUNT_OVER_LIMIT')).toBe('AMOUNT_OVER_LIMIT');
    expect(denyCodeAttribute('alice was here')).toBe('_OTHER');
    expect(denyCodeAttribute('A'.repeat(65))).toBe('_OTHER');
  });
  test('an action kind is one of the schema\'s or unknown', () => {
    expect(actionAttribute('local-activity')).toBe('local-activity');
    expect(actionAttribute('payOnce')).toBe('unknown');
    expect(actionAttribute(undefined)).toBe('unknown');
  });
  test('error types are the failure type or class name, never a message', () => {
    expect(errorTypeAttribute(ApplicationFailure.create({ type: 'GovernanceIdentityStale', message: 'stale' }))).toBe('GovernanceIdentityStale');
    expect(errorTypeAttribute(new TypeError('x'))).toBe('TypeError');
    expect(errorTypeAttribute({ type: 'has spaces and a secret' })).toBe('_OTHER');
    expect(errorTypeAttribute(null)).toBe('_OTHER');
  });
});

describe('decision log fields', () => {
  test('by default: who, what, outcome, code, timing; no arguments, no reason', () => {
    const fields = decisionLogFields(denyResult(1), request(5000), 1.23456);
    expect(fields).toEqual({
      decisionId: 'dec_1',
      recordId: 'den_1',
      decision: 'deny',
      denyCode: 'AMOUNT_OVER_LIMIT',
      principal: 'alice',
      action: 'activity',
      target: 'charge',
      ruleIds: ['rule-1'],
      policyId: 'unit-policy',
      policyVersion: policy.version,
      latencyMs: 1.235,
    });
    expect(JSON.stringify(fields)).not.toContain('5000');
  });
  test('with logDecisionArguments: the request\'s argument view and the denial reason', () => {
    const fields = decisionLogFields(denyResult(1), request(5000), 1, { logDecisionArguments: true });
    expect(fields.arguments).toEqual([['json', { amount: 5000 }]]);
    expect(fields.reason).toContain('args[0].amount = 5000');
    expect(decisionLogFields(allowResult(2), { not: 'a request' }, 1, { logDecisionArguments: true }).arguments).toBeNull();
  });
});

describe('observed authorizations', () => {
  test('count allowed and denied decisions by outcome, code and action; time them; log one line each', async () => {
    const results = [allowResult(1), denyResult(2), allowResult(3)];
    const authorize: Authorize = async () => results.shift()!;
    const log = memoryLogger();
    const observed = observeAuthorizations(authorize);
    const before = await sdk.collect();
    for (let i = 0; i < 3; i++) await observed(request(10), callContext, { log, scheduledAtMs: Date.now() - 50 });
    const after = await sdk.collect();
    const delta = (name: string, match: Record<string, string>) => total(after.get(name), match) - total(before.get(name), match);

    expect(delta(MetricNames.decisions, { [AttributeNames.outcome]: 'allow', [AttributeNames.action]: 'activity' })).toBe(2);
    expect(delta(MetricNames.decisions, { [AttributeNames.outcome]: 'deny', [AttributeNames.denyCode]: 'AMOUNT_OVER_LIMIT' })).toBe(1);
    expect(delta(MetricNames.authorizationDuration, {})).toBe(3);
    expect(delta(MetricNames.scheduleToDecision, {})).toBe(3);
    expect(log.lines.map((l) => [l.level, l.message, l.meta?.decision])).toEqual([
      ['INFO', 'Governance decision', 'allow'],
      ['WARN', 'Governance decision', 'deny'],
      ['INFO', 'Governance decision', 'allow'],
    ]);
    const spans = spansNamed(sdk.spans, SpanNames.authorize);
    expect(spans.map((s) => s.status.code)).toEqual([SpanStatusCode.UNSET, SpanStatusCode.ERROR, SpanStatusCode.UNSET]);
    expect(spans[1]!.attributes[SpanAttributeNames.denyCode]).toBe('AMOUNT_OVER_LIMIT');
  });

  test('an attempt that decides nothing is counted as an error by type, rethrown, and logs no decision', async () => {
    const failure = ApplicationFailure.create({ type: 'GovernanceIdentityStale', message: 'state is 9 s old' });
    const observed = observeAuthorizations(async () => Promise.reject(failure));
    const log = memoryLogger();
    const match = { [AttributeNames.outcome]: 'error', [AttributeNames.errorType]: 'GovernanceIdentityStale', [AttributeNames.action]: 'activity' };
    const before = total((await sdk.collect()).get(MetricNames.decisions), match);
    await expect(observed(request(1), callContext, { log })).rejects.toBe(failure);
    expect(total((await sdk.collect()).get(MetricNames.decisions), match) - before).toBe(1);
    expect(log.lines.filter((l) => l.message === 'Governance decision')).toHaveLength(0);
    const [span] = spansNamed(sdk.spans, SpanNames.authorize);
    expect(span!.status).toEqual({ code: SpanStatusCode.ERROR, message: 'GovernanceIdentityStale' });
    expect(JSON.stringify(span!.attributes)).not.toContain('9 s old');
  });

  test('a logger that throws does not turn a decision into a failure', async () => {
    const result = allowResult(9);
    const observed = observeAuthorizations(async () => result);
    const throwing = { ...memoryLogger(), info: () => { throw new Error('log sink down'); } };
    await expect(observed(request(1), callContext, { log: throwing })).resolves.toBe(result);
  });
});

describe('observed enforcement', () => {
  test('a GovernanceDenied refusal is a denial: counted by code, ERROR span, one WARN line with code and reason', async () => {
    const log = memoryLogger();
    const match = { [AttributeNames.denyCode]: 'ARTIFACT_EXPIRED', [AttributeNames.action]: 'local-activity' };
    const before = total((await sdk.collect()).get(MetricNames.enforcementDenials), match);
    const denial = governanceDeniedFailure({ code: 'ARTIFACT_EXPIRED', reason: 'the artifact expired', ruleIds: [], policyId: null, policyVersion: null, decisionId: null, principal: 'alice', action: 'local-activity', target: 'chargeLocal' });
    observeEnforcement({ activityType: 'chargeLocal', isLocal: true }, log).refused(denial);
    expect(total((await sdk.collect()).get(MetricNames.enforcementDenials), match) - before).toBe(1);
    expect(log.lines).toEqual([
      { level: 'WARN', message: 'Governance enforcement denied', meta: { denyCode: 'ARTIFACT_EXPIRED', reason: 'the artifact expired', principal: 'alice', action: 'local-activity', target: 'chargeLocal', latencyMs: expect.any(Number) } },
    ]);
    const [span] = spansNamed(sdk.spans, SpanNames.enforce);
    expect(span!.status).toEqual({ code: SpanStatusCode.ERROR, message: 'denied: ARTIFACT_EXPIRED' });
    expect(span!.attributes).toMatchObject({ [SpanAttributeNames.target]: 'chargeLocal', [SpanAttributeNames.principal]: 'alice' });
  });

  test('any other failure (registry down, retried) is an error, not a denial', async () => {
    const log = memoryLogger();
    const before = total((await sdk.collect()).get(MetricNames.enforcementDenials));
    observeEnforcement({ activityType: 'charge', isLocal: false }, log).refused(ApplicationFailure.create({ type: 'GovernanceClaimUnavailable', message: 'down' }));
    expect(total((await sdk.collect()).get(MetricNames.enforcementDenials)) - before).toBe(0);
    expect(log.lines).toHaveLength(0);
    expect(spansNamed(sdk.spans, SpanNames.enforce)[0]!.status).toEqual({ code: SpanStatusCode.ERROR, message: 'GovernanceClaimUnavailable' });
  });
});

describe('identity staleness gauge', () => {
  test('reports the age of the newest snapshot per component, and forgets a closed cache', async () => {
    let clock = 1_000_000;
    const snapshot = (loadedAt: number) => ({ loadedAt }) as IdentitySnapshot;
    const cache = identityCache({ load: async () => snapshot(clock), now: () => clock, refreshMs: 60_000, component: 'governance-worker' });
    await cache.current();
    clock += 2_500;
    const ages = async () => {
      const gauge = (await sdk.collect()).get(MetricNames.identityStaleness);
      return new Map((gauge?.dataPoints ?? []).map((p) => [p.attributes[AttributeNames.component], p.value as number]));
    };
    expect((await ages()).get('governance-worker')).toBeCloseTo(2.5, 3);
    await cache.close();
    // A closed cache is no longer observed: its age stops growing (the SDK may keep repeating the
    // last value it saw for an attribute set, so absence itself is not what is checked).
    clock += 10_000;
    expect((await ages()).get('governance-worker') ?? 2.5).toBeCloseTo(2.5, 3);
  });

  test('a cache that never read any state reports its own age', async () => {
    let clock = 5_000;
    const cache = identityCache({ load: async () => Promise.reject(new Error('mongo down')), now: () => clock, refreshMs: 60_000, component: 'enforcement' });
    clock += 7_000;
    const gauge = (await sdk.collect()).get(MetricNames.identityStaleness);
    const point = gauge?.dataPoints.find((p) => p.attributes[AttributeNames.component] === 'enforcement');
    expect(point?.value).toBeCloseTo(7, 3);
    await cache.close();
  });
});
