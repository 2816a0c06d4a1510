// Observability on the real stack: spans, metrics and decision logs of governed calls, with the
// OpenTelemetry SDK registered globally (in memory) and @temporalio/interceptors-opentelemetry
// installed next to governance on the app worker and the governance worker.
import { SpanStatusCode } from '@opentelemetry/api';
import { DataPointType } from '@opentelemetry/sdk-metrics';
import { bundleWorkflowCode, DefaultLogger, Runtime, type LogEntry } from '@temporalio/worker';
import { AUTHORIZE_ACTIVITY } from '../src/common/constants';
import { connectLineage, lineageCollection } from '../src/lineage/store';
import { DECISION_LOG_MESSAGE, ENFORCEMENT_DENIAL_LOG_MESSAGE } from '../src/observability/decision-log';
import { AttributeNames, MetricNames } from '../src/observability/metrics';
import { SpanAttributeNames, SpanNames } from '../src/observability/tracing';
import { runsOf } from './fixtures/activities';
import { payOnce } from './fixtures/workflows';
import { expectGovernanceDenied, governedEnv, mongoUri, uniqueName, workflowsPath, type Env } from './helpers/harness';
import { installOtelSdk, parentOf, spansNamed, temporalOtelActivityInterceptors, total, type OtelSdk } from './helpers/otel';

const logs: LogEntry[] = [];
let sdk: OtelSdk;
let env: Env;

beforeAll(async () => {
  // Before any worker or connection: the activity logger routes to the Runtime's logger.
  Runtime.install({ logger: new DefaultLogger('INFO', (entry) => logs.push(entry)) });
  sdk = installOtelSdk();
  env = await governedEnv();
});
afterAll(async () => {
  await env?.close();
  await sdk?.shutdown();
});

const start = (amount: number, marker: string, memo?: Record<string, unknown>) =>
  env.client.workflow.start(payOnce, { taskQueue: env.taskQueue, workflowId: uniqueName('otel'), args: [amount, marker], memo });

/** The app and governance workers, both with the Temporal OpenTelemetry activity interceptors outside governance's. */
const tracedWorkers = async (governance: Parameters<Env['governanceWorker']>[0] = {}) => [
  await env.appWorker({ interceptors: { activity: [temporalOtelActivityInterceptors] } }),
  await env.governanceWorker({ activityInterceptors: [temporalOtelActivityInterceptors], ...governance }),
];

/** The secret part of the env's API key (`tgk.<key id>.<secret>`). */
const apiKeySecret = () => {
  const secret = env.apiKey.split('.')[2]!;
  expect(secret.length).toBeGreaterThan(20);
  return secret;
};

const decisionLines = (workflowId: string) => logs.filter((e) => e.message === DECISION_LOG_MESSAGE && e.meta?.workflowId === workflowId);

test('governance spans nest under the Temporal RunActivity spans, with decision attributes; a denial is an ERROR span', async () => {
  sdk.spans.reset();
  const allowed = uniqueName('otel-allow');
  const denied = uniqueName('otel-deny');
  const { allowedId, deniedId } = await env.run(async () => {
    const ok = await start(250, allowed);
    expect(await ok.result()).toBe('charged 250 EUR');
    const no = await start(5000, denied);
    await expectGovernanceDenied(no);
    return { allowedId: ok.workflowId, deniedId: no.workflowId };
  }, await tracedWorkers());
  // Installing the Temporal interceptors next to governance changes nothing about what runs.
  expect(runsOf(allowed)).toBe(1);
  expect(runsOf(denied)).toBe(0);

  const authorizeSpans = spansNamed(sdk.spans, SpanNames.authorize);
  const forAllowed = authorizeSpans.filter((s) => s.attributes[SpanAttributeNames.target] === 'charge' && s.attributes[SpanAttributeNames.outcome] === 'allow');
  const forDenied = authorizeSpans.filter((s) => s.attributes[SpanAttributeNames.outcome] === 'deny');
  expect(forAllowed).toHaveLength(1);
  expect(forDenied).toHaveLength(1);
  // Run grants of both workflows, and the allowed charge.
  expect(authorizeSpans.filter((s) => s.attributes[SpanAttributeNames.action] === 'workflow' && s.attributes[SpanAttributeNames.outcome] === 'allow')).toHaveLength(2);

  const deny = forDenied[0]!;
  expect(deny.status).toEqual({ code: SpanStatusCode.ERROR, message: 'denied: AMOUNT_OVER_LIMIT' });
  expect(deny.attributes).toMatchObject({
    [SpanAttributeNames.action]: 'activity',
    [SpanAttributeNames.target]: 'charge',
    [SpanAttributeNames.denyCode]: 'AMOUNT_OVER_LIMIT',
    [SpanAttributeNames.principal]: 'alice',
    [SpanAttributeNames.policyId]: 'test-policy',
    [SpanAttributeNames.ruleIds]: ['deny-large-charges'],
  });
  expect(deny.attributes[SpanAttributeNames.decisionId]).toMatch(/^dec_[0-9a-f]{32}$/);
  expect(deny.instrumentationScope.name).toBe('temporal-governance');
  expect(deny.instrumentationScope.version).toMatch(/^\d+\.\d+\.\d+/);
  const allow = forAllowed[0]!;
  expect(allow.status.code).toBe(SpanStatusCode.UNSET);

  for (const span of [allow, deny]) {
    const parent = parentOf(sdk.spans, span);
    expect(parent?.name).toBe(`RunActivity:${AUTHORIZE_ACTIVITY}`);
  }
  expect(parentOf(sdk.spans, deny)!.attributes.temporalWorkflowId).toBe(deniedId);

  // The enforcement point admitted the allowed charge under the artifact decided above.
  const enforce = spansNamed(sdk.spans, SpanNames.enforce);
  expect(enforce).toHaveLength(1);
  expect(enforce[0]!.attributes).toMatchObject({
    [SpanAttributeNames.outcome]: 'allow',
    [SpanAttributeNames.action]: 'activity',
    [SpanAttributeNames.target]: 'charge',
    [SpanAttributeNames.decisionId]: allow.attributes[SpanAttributeNames.decisionId],
    [SpanAttributeNames.recordId]: allow.attributes[SpanAttributeNames.recordId],
    [SpanAttributeNames.principal]: 'alice',
  });
  expect(enforce[0]!.status.code).toBe(SpanStatusCode.UNSET);
  const runCharge = parentOf(sdk.spans, enforce[0]!);
  expect(runCharge?.name).toBe('RunActivity:charge');
  expect(runCharge!.attributes.temporalWorkflowId).toBe(allowedId);

  // Nothing secret on any span: no API key, no signature, no argument value.
  const everything = JSON.stringify(sdk.spans.getFinishedSpans().map((s) => ({ attributes: s.attributes, status: s.status, events: s.events })));
  expect(everything).not.toContain(apiKeySecret());
  expect(everything).not.toContain('5000');
});

test('metrics count allowed and denied decisions, enforcement denials, identity staleness and lineage lag, with bounded attributes', async () => {
  const before = await sdk.collect();
  const allowedActivities = () => ({ [AttributeNames.outcome]: 'allow', [AttributeNames.action]: 'activity' });
  const deniedLimit = { [AttributeNames.outcome]: 'deny', [AttributeNames.action]: 'activity', [AttributeNames.denyCode]: 'AMOUNT_OVER_LIMIT' };
  const missing = { [AttributeNames.action]: 'activity', [AttributeNames.denyCode]: 'ARTIFACT_MISSING' };
  const lagBefore = total(before.get(MetricNames.lineageLag));

  const { stored, after } = await env.run(async () => {
    const ok = await start(100, uniqueName('metrics-allow'));
    await ok.result();
    await expectGovernanceDenied(await start(7000, uniqueName('metrics-deny')));
    // A worker that drops the artifact from the headers: the enforcement point refuses the call.
    await expectGovernanceDenied(await start(10, uniqueName('metrics-drop'), { tamper: { mode: 'drop' } }));
    // Lineage persists in the background: wait for this run's records to reach MongoDB.
    const { client, db } = await connectLineage(mongoUri(), env.lineageDatabase);
    try {
      for (;;) {
        const count = await lineageCollection(db).countDocuments({ workflowId: ok.workflowId });
        // Collected while the workers run: a closed worker's identity cache leaves the gauge.
        if (count >= 2) return { stored: count, after: await sdk.collect() };
        await new Promise((r) => setTimeout(r, 200));
      }
    } finally {
      await client.close();
    }
  }, [await env.appWorker({ tamper: true }), await env.governanceWorker()]);

  const decisions = after.get(MetricNames.decisions)!;
  expect(decisions.descriptor.unit).toBe('{decision}');
  expect(total(decisions, allowedActivities()) - total(before.get(MetricNames.decisions), allowedActivities())).toBe(2); // the allowed charge and the tampered one's
  expect(total(decisions, deniedLimit) - total(before.get(MetricNames.decisions), deniedLimit)).toBe(1);
  expect(total(decisions, { [AttributeNames.outcome]: 'allow', [AttributeNames.action]: 'workflow' })).toBeGreaterThanOrEqual(3);

  const duration = after.get(MetricNames.authorizationDuration)!;
  expect(duration.descriptor.unit).toBe('s');
  expect(duration.dataPointType).toBe(DataPointType.HISTOGRAM);
  expect(total(duration, deniedLimit)).toBe(0); // durations carry no deny code
  expect(total(duration, { [AttributeNames.outcome]: 'deny', [AttributeNames.action]: 'activity' })).toBeGreaterThanOrEqual(1);
  expect(total(after.get(MetricNames.scheduleToDecision))).toBe(total(duration));

  const denials = after.get(MetricNames.enforcementDenials)!;
  expect(total(denials, missing) - total(before.get(MetricNames.enforcementDenials), missing)).toBe(1);
  expect(total(after.get(MetricNames.enforcementDuration), { [AttributeNames.outcome]: 'deny' })).toBeGreaterThanOrEqual(1);

  const staleness = after.get(MetricNames.identityStaleness)!;
  expect(staleness.dataPointType).toBe(DataPointType.GAUGE);
  const components = new Map(staleness.dataPoints.map((p) => [p.attributes[AttributeNames.component], p.value as number]));
  expect([...components.keys()].sort()).toEqual(['enforcement', 'governance-worker']);
  for (const age of components.values()) expect(age).toBeGreaterThanOrEqual(0);

  const lag = after.get(MetricNames.lineageLag)!;
  expect(lag.descriptor.unit).toBe('s');
  expect(total(lag) - lagBefore).toBeGreaterThanOrEqual(stored);

  // Bounded cardinality: only these attribute keys, never an id, principal, type or argument.
  const allowedKeys = new Set<string>(Object.values(AttributeNames));
  for (const metric of after.values()) {
    for (const point of metric.dataPoints) for (const key of Object.keys(point.attributes)) expect(allowedKeys).toContain(key);
  }
  const values = JSON.stringify([...after.values()].map((m) => m.dataPoints.map((p) => p.attributes)));
  expect(values).not.toMatch(/alice|dec_|art_|den_|charge|payOnce/);
});

test('one log line per decision (no arguments unless configured) and one per enforcement denial', async () => {
  const denied = await env.run(async () => {
    const ok = await start(40, uniqueName('log-allow'));
    await ok.result();
    const no = await start(9000, uniqueName('log-deny'));
    await expectGovernanceDenied(no);
    const dropped = await start(10, uniqueName('log-drop'), { tamper: { mode: 'drop' } });
    await expectGovernanceDenied(dropped);
    return { ok: ok.workflowId, no: no.workflowId, dropped: dropped.workflowId };
  }, [await env.appWorker({ tamper: true }), await env.governanceWorker()]);

  const allowLines = decisionLines(denied.ok);
  expect(allowLines.map((l) => [l.level, l.meta?.action, l.meta?.decision])).toEqual([
    ['INFO', 'workflow', 'allow'],
    ['INFO', 'activity', 'allow'],
  ]);
  const charge = allowLines[1]!.meta!;
  expect(charge).toMatchObject({ principal: 'alice', target: 'charge', policyId: 'test-policy', ruleIds: ['allow-small-charges'] });
  expect(charge).not.toHaveProperty('denyCode');
  expect(charge.decisionId).toMatch(/^dec_[0-9a-f]{32}$/);
  expect(charge.recordId).toMatch(/^art_[0-9a-f]{32}$/);
  expect(typeof charge.latencyMs).toBe('number');
  expect(charge.activityType).toBe(AUTHORIZE_ACTIVITY); // the activity logger's own attributes

  const denyLine = decisionLines(denied.no).find((l) => l.meta?.decision === 'deny')!;
  expect(denyLine.level).toBe('WARN');
  expect(denyLine.meta).toMatchObject({ denyCode: 'AMOUNT_OVER_LIMIT', action: 'activity', target: 'charge', principal: 'alice' });
  // Arguments and the reason (which quotes them) stay out by default.
  expect(denyLine.meta).not.toHaveProperty('arguments');
  expect(denyLine.meta).not.toHaveProperty('reason');
  expect(JSON.stringify(denyLine.meta)).not.toContain('9000');

  const enforcementLines = logs.filter((e) => e.message === ENFORCEMENT_DENIAL_LOG_MESSAGE && e.meta?.workflowId === denied.dropped);
  expect(enforcementLines).toHaveLength(1);
  expect(enforcementLines[0]!.level).toBe('WARN');
  expect(enforcementLines[0]!.meta).toMatchObject({ denyCode: 'ARTIFACT_MISSING', reason: 'no authorization artifact in the activity headers', action: 'activity', target: 'charge' });

  // No line of any kind holds the API key, or an artifact's signature.
  const all = JSON.stringify(logs.map((l) => [l.message, l.meta]));
  expect(all).not.toContain(apiKeySecret());
  expect(all).not.toContain('"signature"');
});

test('logDecisionArguments adds the argument values and the denial reason to the decision line', async () => {
  const workflowId = await env.run(async () => {
    const no = await start(6000, uniqueName('log-args'));
    await expectGovernanceDenied(no);
    return no.workflowId;
  }, [await env.appWorker(), await env.governanceWorker({ logDecisionArguments: true })]);
  const line = decisionLines(workflowId).find((l) => l.meta?.decision === 'deny')!;
  expect(line.meta?.arguments).toEqual([['json', { amount: 6000, currency: 'EUR', marker: expect.any(String) }]]);
  expect(line.meta?.reason).toContain('args[0].amount = 6000');
});

test('the governance worker refuses a non-boolean logDecisionArguments', async () => {
  await expect(env.governanceWorker({ logDecisionArguments: 'yes' as unknown as boolean })).rejects.toThrow(/logDecisionArguments must be true or false/);
});

test('nothing of OpenTelemetry reaches the workflow bundle', async () => {
  const { code } = await bundleWorkflowCode({ workflowsPath, plugins: [env.plugin], logger: new DefaultLogger('WARN') });
  expect(code).toContain('temporal-governance-artifact'); // the governance interceptors are in it
  expect(code).toContain('src/common/digest'); // module paths are in the bundle, so an OTel import would show
  expect(code).not.toContain('@opentelemetry');
  expect(code).not.toContain('src/observability');
});
