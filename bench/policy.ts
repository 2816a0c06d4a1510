// Section 4: policy parsing and evaluation on a generated 100-rule policy. Rules and inputs come
// from a seeded PRNG, so every run measures the same policy and the same inputs.
import { stringify } from 'yaml';
import type { Action } from '../src/common/schemas';
import { evaluatePolicy, type EvaluationInput } from '../src/policy/evaluate';
import { parsePolicyText } from '../src/policy/load';
import { parsePolicy } from '../src/policy/schema';
import { fmt, pick, pickSome, prng, table, timeBox, timeOnce, type Rate } from './util';

const ACTIONS: Action[] = ['workflow', 'activity', 'local-activity', 'child-workflow', 'continue-as-new'];
const PRINCIPALS = ['alice', 'bob', 'carol', 'dave', 'svc-billing', 'svc-orders', 'svc-reports', 'team-a-bot', 'team-b-bot', 'ci-deployer'];
const PRINCIPAL_GLOBS = ['svc-*', 'team-?-bot', 'ci-*', 'alice', 'bob', 'carol'];
const ROLES = ['operator', 'viewer', 'auditor', 'admin', 'finance', 'support', 'deployer'];
const ACTIVITIES = [
  'chargeCard', 'chargeWallet', 'refundPayment', 'refundOrder', 'sendEmail', 'sendSms', 'reserveStock', 'releaseStock',
  'shipOrder', 'generateReport', 'exportLedger', 'rotateKeys', 'deleteCustomer', 'lookupRate', 'fetchInvoice',
];
const ACTIVITY_GLOBS = ['charge*', 'refund*', 'send*', '*Stock', 'ship*', '*Report', 'export*', 'rotateKeys', 'deleteCustomer', 'fetch?nvoice', 'lookup*', '*'];
const WORKFLOWS = ['OrderWorkflow', 'RefundWorkflow', 'ReportWorkflow', 'OnboardingWorkflow', 'KeyRotationWorkflow', 'NightlyExport'];
const WORKFLOW_GLOBS = ['Order*', '*Workflow', 'Refund*', 'Report?orkflow', 'Nightly*', 'KeyRotationWorkflow'];
const QUEUES = ['orders', 'orders-eu', 'payments', 'reports', 'ops'];
const QUEUE_GLOBS = ['orders*', 'pay*', 'reports', 'ops', '*-eu'];
const CURRENCIES = ['EUR', 'USD', 'GBP', 'JPY', 'CHF'];
const COUNTRIES = ['DE', 'FR', 'US', 'GB', 'JP', 'KP', 'IR'];
const TIERS = ['gold', 'silver', 'bronze', 'guest'];

function argCondition(rand: () => number): Record<string, unknown> {
  switch (Math.floor(rand() * 9)) {
    case 0:
      return { field: 'amount', op: pick(rand, ['lt', 'lte', 'gt', 'gte']), value: Math.round(10 + rand() * 9_990) };
    case 1:
      return { field: 'currency', op: pick(rand, ['in', 'notIn']), value: pickSome(rand, CURRENCIES, 1, 3) };
    case 2:
      return { field: 'destination.country', op: pick(rand, ['eq', 'ne']), value: pick(rand, COUNTRIES) };
    case 3:
      return { field: 'email', op: 'matches', value: '^[a-z.]+@(example|corp)\\.(com|org)$' };
    case 4:
      return { field: 'customer.tier', op: 'glob', value: pick(rand, ['g*', 's?lver', '*e']) };
    case 5:
      return { field: 'dryRun', op: 'eq', value: rand() < 0.5 };
    case 6:
      return { field: 'note', op: pick(rand, ['exists', 'absent']) };
    case 7:
      return { arg: 1, op: pick(rand, ['lte', 'gt']), value: 1 + Math.floor(rand() * 5) };
    default:
      return { field: 'destination.country', op: 'in', value: pickSome(rand, COUNTRIES, 2, 4) };
  }
}

/** A policy document with `count` varied rules (about a quarter of them deny rules). */
export function generatePolicyDocument(count: number, seed = 0x5eed): Record<string, unknown> {
  const rand = prng(seed);
  const rules = Array.from({ length: count }, (_, i) => {
    const deny = rand() < 0.25;
    const when: Record<string, unknown> = {};
    const activityRule = rand() < 0.75;
    when.actions = activityRule ? pickSome(rand, ['activity', 'local-activity'], 1, 2) : pickSome(rand, ['workflow', 'child-workflow', 'continue-as-new'], 1, 3);
    // Deny rules are narrow (as in real policies): always a target, usually an argument check.
    if (deny || rand() < 0.85) when.targets = activityRule ? pickSome(rand, ACTIVITY_GLOBS, 1, 3) : pickSome(rand, WORKFLOW_GLOBS, 1, 2);
    if (deny ? rand() < 0.3 : true) when.roles = pickSome(rand, ROLES, 1, 2);
    if (rand() < 0.25) when.principals = pickSome(rand, PRINCIPAL_GLOBS, 1, 3);
    if (rand() < 0.3) when.workflowTypes = pickSome(rand, WORKFLOW_GLOBS, 1, 2);
    if (rand() < 0.25) when.taskQueues = pickSome(rand, QUEUE_GLOBS, 1, 2);
    if (activityRule && (deny || rand() < 0.6)) when.args = Array.from({ length: (deny ? 2 : 1) + Math.floor(rand() * 2) }, () => argCondition(rand));
    return {
      id: `${deny ? 'deny' : 'allow'}-${String(i).padStart(3, '0')}`,
      effect: deny ? 'deny' : 'allow',
      ...(deny ? { code: pick(rand, ['AMOUNT_OVER_LIMIT', 'SANCTIONED_COUNTRY', 'NEEDS_APPROVAL', 'OUT_OF_HOURS']) } : {}),
      reason: `generated ${deny ? 'deny' : 'allow'} rule ${i}`,
      when,
    };
  });
  return { id: 'bench-100', description: `generated ${count}-rule benchmark policy`, exempt: { activities: ['lookupRate', 'fetch*'] }, rules };
}

/** Varied evaluation inputs drawn from the same vocabulary, so rules really match and miss. */
export function generateInputs(count: number, seed = 0xbe9c): EvaluationInput[] {
  const rand = prng(seed);
  return Array.from({ length: count }, () => {
    const action: Action = rand() < 0.7 ? pick(rand, ['activity', 'local-activity'] as const) : pick(rand, ACTIONS);
    const activity = action === 'activity' || action === 'local-activity';
    const workflowType = pick(rand, WORKFLOWS);
    const order: Record<string, unknown> = {
      amount: rand() < 0.05 ? String(Math.round(rand() * 5_000)) : Math.round(rand() * 12_000 * 100) / 100,
      currency: pick(rand, CURRENCIES),
      destination: { country: pick(rand, COUNTRIES), city: 'Somewhere' },
      customer: { id: `c-${Math.floor(rand() * 1e6)}`, tier: pick(rand, TIERS) },
      email: rand() < 0.8 ? `first.last@${pick(rand, ['example', 'corp', 'other'])}.com` : 'NOT-AN-EMAIL',
      dryRun: rand() < 0.3,
      items: Array.from({ length: 1 + Math.floor(rand() * 4) }, (_, k) => ({ sku: `sku-${k}`, qty: 1 + k })),
    };
    if (rand() < 0.4) order.note = 'leave at the door';
    return {
      principal: pick(rand, PRINCIPALS),
      roles: pickSome(rand, ROLES, 0, 2),
      action,
      target: activity ? pick(rand, ACTIVITIES) : workflowType,
      workflowType,
      taskQueue: pick(rand, QUEUES),
      args: activity ? [order, 1 + Math.floor(rand() * 5)] : [{ orderId: `o-${Math.floor(rand() * 1e6)}` }],
    };
  });
}

export interface PolicyResult {
  readonly rules: number;
  readonly denyRules: number;
  readonly argConditions: number;
  readonly documentBytes: number;
  readonly yamlBytes: number;
  readonly parseColdMs: number;
  readonly parse: Rate;
  readonly parseYaml: Rate;
  readonly evaluate: Rate;
  readonly inputs: number;
  readonly mix: { allow: number; denyRule: number; defaultDeny: number };
  readonly meanMatched: number;
}

export function runPolicy(timeBoxMs: number, ruleCount = 100): PolicyResult {
  const document = generatePolicyDocument(ruleCount);
  const yaml = stringify(document);
  const cold = timeOnce(() => parsePolicy(document, 'bench-100'));
  const policy = cold.value;
  if (policy.rules.length !== ruleCount) throw new Error(`parsed ${policy.rules.length} rules, expected ${ruleCount}`);
  if (parsePolicyText(yaml, 'bench-100.yaml').version !== policy.version) throw new Error('YAML and object forms of the bench policy hash differently');

  const inputs = generateInputs(2_000);
  const mix = { allow: 0, denyRule: 0, defaultDeny: 0 };
  let matched = 0;
  for (const input of inputs) {
    const d = evaluatePolicy(policy, input);
    matched += d.ruleIds.length;
    if (d.decision === 'allow') mix.allow += 1;
    else if (d.ruleIds.length > 0) mix.denyRule += 1;
    else mix.defaultDeny += 1;
  }
  if (mix.allow === 0 || mix.denyRule === 0 || mix.defaultDeny === 0) {
    throw new Error(`generated inputs are not varied enough: ${JSON.stringify(mix)}`);
  }

  let sink = 0;
  const evaluate = timeBox((i) => {
    sink += evaluatePolicy(policy, inputs[i % inputs.length]!).ruleIds.length;
  }, timeBoxMs);
  const parse = timeBox(() => parsePolicy(document, 'bench-100'), timeBoxMs);
  const parseYaml = timeBox(() => parsePolicyText(yaml, 'bench-100.yaml'), timeBoxMs);
  if (sink < 0) throw new Error('unreachable'); // keeps the evaluation results observable

  const rules = policy.rules;
  return {
    rules: rules.length,
    denyRules: rules.filter((r) => r.effect === 'deny').length,
    argConditions: rules.reduce((s, r) => s + (r.when.args?.length ?? 0), 0),
    documentBytes: JSON.stringify(document).length,
    yamlBytes: yaml.length,
    parseColdMs: cold.ms,
    parse,
    parseYaml,
    evaluate,
    inputs: inputs.length,
    mix,
    meanMatched: matched / inputs.length,
  };
}

export function policyTable(r: PolicyResult): string {
  const pct = (n: number) => `${((100 * n) / r.inputs).toFixed(0)}%`;
  return table(
    `Policy: ${r.rules} generated rules (${r.denyRules} deny, ${r.argConditions} arg conditions), ${r.inputs} varied inputs`,
    ['operation', 'mean', 'unit', 'ops/s'],
    [
      ['evaluatePolicy', r.evaluate.meanUs, 'µs/eval', r.evaluate.opsPerSec],
      ['parsePolicy (object, first call)', r.parseColdMs, 'ms', ''],
      ['parsePolicy (object, warm)', r.parse.meanUs / 1000, 'ms', r.parse.opsPerSec],
      ['parsePolicyText (YAML, warm)', r.parseYaml.meanUs / 1000, 'ms', r.parseYaml.opsPerSec],
    ],
    [
      `Decisions over the inputs: allow ${pct(r.mix.allow)}, deny by rule ${pct(r.mix.denyRule)}, default deny ${pct(r.mix.defaultDeny)}; ` +
        `${fmt(r.meanMatched)} rules match per input on average.`,
      `Policy document: ${r.documentBytes.toLocaleString('en-US')} bytes as JSON, ${r.yamlBytes.toLocaleString('en-US')} as YAML. ` +
        'parsePolicy = zod validation + canonical version hash.',
    ],
  );
}
