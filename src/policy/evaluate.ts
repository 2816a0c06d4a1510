// Deterministic, pure policy evaluation: default deny, deny overrides allow.
import { DenyCodes } from '../common/constants';
import type { Action } from '../common/schemas';
import { matchesAnyGlob, matchesGlob } from '../common/glob';
import type { ArgCondition, Conditions, Policy, Rule } from './schema';

export interface EvaluationInput {
  readonly principal: string;
  readonly roles: readonly string[];
  readonly action: Action;
  readonly target: string;
  readonly workflowType: string;
  readonly taskQueue: string;
  /** Argument values as the activity will see them. */
  readonly args: readonly unknown[];
}

export type PolicyDecision =
  | { readonly decision: 'allow'; readonly ruleIds: string[]; readonly reason: string }
  | { readonly decision: 'deny'; readonly code: string; readonly ruleIds: string[]; readonly reason: string; readonly failWorkflow?: true };

const MISSING = Symbol('missing');

const regexps = new Map<string, RegExp>();
function cachedRegExp(source: string): RegExp {
  let re = regexps.get(source);
  if (!re) {
    re = new RegExp(source);
    regexps.set(source, re);
  }
  return re;
}

function readField(value: unknown, field: string | undefined): unknown {
  if (field === undefined) return value;
  let current: unknown = value;
  for (const key of field.split('.')) {
    if (current === null || typeof current !== 'object' || !Object.prototype.hasOwnProperty.call(current, key)) {
      return MISSING;
    }
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

function compare(op: 'lt' | 'lte' | 'gt' | 'gte', actual: unknown, expected: number | string): boolean {
  // Only like with like: a string never compares with a number, so "100" cannot slip under a limit.
  if (typeof actual !== typeof expected) return false;
  const a = actual as number | string;
  switch (op) {
    case 'lt':
      return a < expected;
    case 'lte':
      return a <= expected;
    case 'gt':
      return a > expected;
    case 'gte':
      return a >= expected;
  }
}

export function argConditionHolds(condition: ArgCondition, args: readonly unknown[]): boolean {
  const actual = condition.arg < args.length ? readField(args[condition.arg], condition.field) : MISSING;
  if (condition.op === 'exists') return actual !== MISSING && actual !== undefined;
  if (condition.op === 'absent') return actual === MISSING || actual === undefined;
  if (actual === MISSING) return false;
  switch (condition.op) {
    case 'eq':
      return actual === condition.value;
    case 'ne':
      return actual !== condition.value;
    case 'lt':
    case 'lte':
    case 'gt':
    case 'gte':
      return compare(condition.op, actual, condition.value);
    case 'in':
      return condition.value.some((v) => v === actual);
    case 'notIn':
      return !condition.value.some((v) => v === actual);
    case 'matches':
      return typeof actual === 'string' && cachedRegExp(condition.value).test(actual);
    case 'glob':
      return typeof actual === 'string' && matchesGlob(condition.value, actual);
  }
}

export function conditionsHold(when: Conditions, input: EvaluationInput): boolean {
  if (when.principals && !matchesAnyGlob(when.principals, input.principal)) return false;
  if (when.roles && !when.roles.some((r) => input.roles.includes(r))) return false;
  if (when.actions && !when.actions.includes(input.action)) return false;
  if (when.targets && !matchesAnyGlob(when.targets, input.target)) return false;
  if (when.workflowTypes && !matchesAnyGlob(when.workflowTypes, input.workflowType)) return false;
  if (when.taskQueues && !matchesAnyGlob(when.taskQueues, input.taskQueue)) return false;
  if (when.args && !when.args.every((c) => argConditionHolds(c, input.args))) return false;
  return true;
}

function describeValue(value: unknown): string {
  if (value === MISSING) return 'missing';
  const json = JSON.stringify(value);
  return json === undefined ? String(value) : json.length > 80 ? `${json.slice(0, 77)}...` : json;
}

/** The argument values a rule looked at, so a reader sees what broke it. */
function explainArgs(rule: Rule, args: readonly unknown[]): string {
  const parts = (rule.when.args ?? []).map((c) => {
    const name = `args[${c.arg}]${c.field ? `.${c.field}` : ''}`;
    const actual = c.arg < args.length ? readField(args[c.arg], c.field) : MISSING;
    const expected = 'value' in c ? ` ${describeValue(c.value)}` : '';
    return `${name} = ${describeValue(actual)} (${c.op}${expected})`;
  });
  return parts.length > 0 ? `; ${parts.join(', ')}` : '';
}

export function evaluatePolicy(policy: Policy, input: EvaluationInput): PolicyDecision {
  const matching = policy.rules.filter((rule) => conditionsHold(rule.when, input));
  const denies = matching.filter((r) => r.effect === 'deny');
  const first = denies[0];
  if (first) {
    return {
      decision: 'deny',
      code: first.code ?? DenyCodes.policyDeny,
      ruleIds: denies.map((r) => r.id),
      reason: `${first.reason ?? `denied by rule ${first.id}`}${explainArgs(first, input.args)}`,
      // Only a message's denial can spare the run, so only there does the rule's choice mean anything.
      ...((input.action === 'signal' || input.action === 'update') && denies.some((r) => r.failWorkflow) ? { failWorkflow: true as const } : {}),
    };
  }
  const allows = matching.filter((r) => r.effect === 'allow');
  if (allows.length > 0) {
    return {
      decision: 'allow',
      ruleIds: allows.map((r) => r.id),
      reason: allows[0]!.reason ?? `allowed by rule ${allows[0]!.id}`,
    };
  }
  return {
    decision: 'deny',
    code: DenyCodes.noMatchingAllow,
    ruleIds: [],
    reason: `no allow rule matches ${input.action} ${input.target} for principal ${input.principal} (default deny)`,
  };
}
