// Policy format (src/policy/schema.ts, src/policy/load.ts) and evaluation (src/policy/evaluate.ts).
import { DenyCodes } from '../../src/common/constants';
import type { Action } from '../../src/common/schemas';
import { evaluatePolicy, type EvaluationInput } from '../../src/policy/evaluate';
import { parsePolicyText } from '../../src/policy/load';
import { parsePolicy, PolicyError, type Policy } from '../../src/policy/schema';

const VERSION = /^sha256:[0-9a-f]{64}$/;

function policyOf(rules: unknown[], extra: Record<string, unknown> = {}): Policy {
  return parsePolicy({ id: 'test', rules, ...extra });
}

function input(overrides: Partial<EvaluationInput> = {}): EvaluationInput {
  return {
    principal: 'alice',
    roles: ['operator'],
    action: 'activity',
    target: 'charge',
    workflowType: 'PaymentWorkflow',
    taskQueue: 'payments',
    args: [],
    ...overrides,
  };
}

function policyError(fn: () => unknown): PolicyError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(PolicyError);
    return err as PolicyError;
  }
  throw new Error('expected a PolicyError');
}

/** One allow rule with one argument condition; true when it matches. */
function holds(condition: Record<string, unknown>, args: unknown[]): boolean {
  const policy = policyOf([{ id: 'r', effect: 'allow', when: { args: [condition] } }]);
  return evaluatePolicy(policy, input({ args })).decision === 'allow';
}

describe('evaluatePolicy: decisions', () => {
  it('denies by default with NO_MATCHING_ALLOW when no rule matches', () => {
    const d = evaluatePolicy(policyOf([{ id: 'only-bob', effect: 'allow', when: { principals: ['bob'] } }]), input());
    expect(d).toEqual({
      decision: 'deny',
      code: DenyCodes.noMatchingAllow,
      ruleIds: [],
      reason: expect.stringContaining('default deny'),
    });
    expect(d.reason).toContain('activity charge');
    expect(d.reason).toContain('alice');
  });

  it('denies an empty policy', () => {
    const d = evaluatePolicy(policyOf([]), input());
    expect(d.decision).toBe('deny');
    expect(d.decision === 'deny' && d.code).toBe('NO_MATCHING_ALLOW');
  });

  it('allows when an allow rule matches, reporting its reason', () => {
    const d = evaluatePolicy(policyOf([{ id: 'a', effect: 'allow', reason: 'ok by a' }]), input());
    expect(d).toEqual({ decision: 'allow', ruleIds: ['a'], reason: 'ok by a' });
  });

  it('gives an allow without reason a default reason naming the rule', () => {
    const d = evaluatePolicy(policyOf([{ id: 'a', effect: 'allow' }]), input());
    expect(d.reason).toBe('allowed by rule a');
  });

  it('lists every matching allow rule id, in policy order, and no non-matching one', () => {
    const policy = policyOf([
      { id: 'a1', effect: 'allow', reason: 'first' },
      { id: 'nope', effect: 'allow', when: { principals: ['bob'] } },
      { id: 'a2', effect: 'allow', when: { roles: ['operator'] } },
      { id: 'a3', effect: 'allow', when: { targets: ['char*'] } },
    ]);
    const d = evaluatePolicy(policy, input());
    expect(d).toEqual({ decision: 'allow', ruleIds: ['a1', 'a2', 'a3'], reason: 'first' });
  });

  it('lets deny override allow, listing every matching deny rule and no allow rule', () => {
    const policy = policyOf([
      { id: 'allow-all', effect: 'allow' },
      { id: 'deny-1', effect: 'deny', code: 'FIRST_DENY', reason: 'no charges' },
      { id: 'deny-nope', effect: 'deny', when: { principals: ['bob'] } },
      { id: 'deny-2', effect: 'deny', code: 'SECOND_DENY' },
    ]);
    const d = evaluatePolicy(policy, input());
    expect(d).toEqual({ decision: 'deny', code: 'FIRST_DENY', ruleIds: ['deny-1', 'deny-2'], reason: 'no charges' });
  });

  it('lets deny override allow whatever the rule order', () => {
    const policy = policyOf([
      { id: 'deny', effect: 'deny' },
      { id: 'allow', effect: 'allow' },
    ]);
    expect(evaluatePolicy(policy, input()).decision).toBe('deny');
  });

  it('defaults a deny rule code to POLICY_DENY and its reason to naming the rule', () => {
    const d = evaluatePolicy(policyOf([{ id: 'stop', effect: 'deny' }]), input());
    expect(d).toEqual({ decision: 'deny', code: DenyCodes.policyDeny, ruleIds: ['stop'], reason: 'denied by rule stop' });
    expect(DenyCodes.policyDeny).toBe('POLICY_DENY');
  });

  it('puts the argument values a deny rule looked at into the reason', () => {
    const policy = policyOf([
      {
        id: 'deny-large',
        effect: 'deny',
        code: 'AMOUNT_OVER_LIMIT',
        reason: 'charges above 1000 need a second approver',
        when: { args: [{ field: 'amount', op: 'gt', value: 1000 }] },
      },
    ]);
    const d = evaluatePolicy(policy, input({ args: [{ amount: 5000 }] }));
    expect(d.decision).toBe('deny');
    expect(d.reason).toBe('charges above 1000 need a second approver; args[0].amount = 5000 (gt 1000)');
  });

  it('explains several conditions, whole arguments, strings and missing values', () => {
    const policy = policyOf([
      {
        id: 'd',
        effect: 'deny',
        when: {
          args: [
            { arg: 1, op: 'eq', value: 'EUR' },
            { field: 'note', op: 'absent' },
          ],
        },
      },
    ]);
    const d = evaluatePolicy(policy, input({ args: [{}, 'EUR'] }));
    expect(d.reason).toBe('denied by rule d; args[1] = "EUR" (eq "EUR"), args[0].note = missing (absent)');
  });

  it('truncates long values in the reason', () => {
    const policy = policyOf([{ id: 'd', effect: 'deny', when: { args: [{ field: 'memo', op: 'exists' }] } }]);
    const d = evaluatePolicy(policy, input({ args: [{ memo: 'x'.repeat(500) }] }));
    expect(d.reason).toContain('...');
    expect(d.reason.length).toBeLessThan(200);
  });

  it('is deterministic: same input, same output', () => {
    const policy = policyOf([
      { id: 'a', effect: 'allow', when: { args: [{ field: 'amount', op: 'lte', value: 1000 }] } },
      { id: 'd', effect: 'deny', when: { args: [{ field: 'amount', op: 'gt', value: 1000 }] } },
    ]);
    for (const amount of [10, 5000]) {
      const first = evaluatePolicy(policy, input({ args: [{ amount }] }));
      for (let i = 0; i < 5; i++) expect(evaluatePolicy(policy, input({ args: [{ amount }] }))).toEqual(first);
    }
    const reparsed = policyOf(JSON.parse(JSON.stringify(policy.rules)));
    expect(evaluatePolicy(reparsed, input({ args: [{ amount: 5000 }] }))).toEqual(evaluatePolicy(policy, input({ args: [{ amount: 5000 }] })));
  });
});

describe('evaluatePolicy: argument operators', () => {
  it('eq / ne compare strictly', () => {
    expect(holds({ field: 'c', op: 'eq', value: 'USD' }, [{ c: 'USD' }])).toBe(true);
    expect(holds({ field: 'c', op: 'eq', value: 'USD' }, [{ c: 'usd' }])).toBe(false);
    expect(holds({ field: 'n', op: 'eq', value: 1 }, [{ n: '1' }])).toBe(false);
    expect(holds({ field: 'n', op: 'eq', value: null }, [{ n: null }])).toBe(true);
    expect(holds({ field: 'b', op: 'eq', value: true }, [{ b: true }])).toBe(true);
    expect(holds({ field: 'c', op: 'ne', value: 'USD' }, [{ c: 'EUR' }])).toBe(true);
    expect(holds({ field: 'c', op: 'ne', value: 'USD' }, [{ c: 'USD' }])).toBe(false);
  });

  it('lt / lte / gt / gte on numbers, with the boundaries', () => {
    expect(holds({ field: 'a', op: 'lt', value: 10 }, [{ a: 9 }])).toBe(true);
    expect(holds({ field: 'a', op: 'lt', value: 10 }, [{ a: 10 }])).toBe(false);
    expect(holds({ field: 'a', op: 'lte', value: 10 }, [{ a: 10 }])).toBe(true);
    expect(holds({ field: 'a', op: 'lte', value: 10 }, [{ a: 10.5 }])).toBe(false);
    expect(holds({ field: 'a', op: 'gt', value: 10 }, [{ a: 11 }])).toBe(true);
    expect(holds({ field: 'a', op: 'gt', value: 10 }, [{ a: 10 }])).toBe(false);
    expect(holds({ field: 'a', op: 'gte', value: 10 }, [{ a: 10 }])).toBe(true);
    expect(holds({ field: 'a', op: 'gte', value: 10 }, [{ a: -10 }])).toBe(false);
  });

  it('lt / gte on strings compare lexicographically', () => {
    expect(holds({ field: 's', op: 'lt', value: 'm' }, [{ s: 'apple' }])).toBe(true);
    expect(holds({ field: 's', op: 'lt', value: 'm' }, [{ s: 'zebra' }])).toBe(false);
    expect(holds({ field: 's', op: 'gte', value: '2024-01-01' }, [{ s: '2024-06-30' }])).toBe(true);
  });

  it('never compares a string with a number', () => {
    expect(holds({ field: 'a', op: 'lte', value: 1000 }, [{ a: '100' }])).toBe(false);
    expect(holds({ field: 'a', op: 'gt', value: 1000 }, [{ a: '5000' }])).toBe(false);
    expect(holds({ field: 'a', op: 'gte', value: '1' }, [{ a: 5 }])).toBe(false);
    expect(holds({ field: 'a', op: 'lt', value: 10 }, [{ a: null }])).toBe(false);
    expect(holds({ field: 'a', op: 'lt', value: 10 }, [{ a: true }])).toBe(false);
    expect(holds({ field: 'a', op: 'lt', value: 10 }, [{ a: [1] }])).toBe(false);
  });

  it('in / notIn', () => {
    expect(holds({ field: 'c', op: 'in', value: ['USD', 'EUR'] }, [{ c: 'EUR' }])).toBe(true);
    expect(holds({ field: 'c', op: 'in', value: ['USD', 'EUR'] }, [{ c: 'GBP' }])).toBe(false);
    expect(holds({ field: 'c', op: 'in', value: [1, 2] }, [{ c: '1' }])).toBe(false);
    expect(holds({ field: 'c', op: 'notIn', value: ['USD', 'EUR'] }, [{ c: 'GBP' }])).toBe(true);
    expect(holds({ field: 'c', op: 'notIn', value: ['USD', 'EUR'] }, [{ c: 'USD' }])).toBe(false);
  });

  it('matches uses a regular expression on strings only', () => {
    expect(holds({ field: 'to', op: 'matches', value: '^acct-[0-9]+$' }, [{ to: 'acct-42' }])).toBe(true);
    expect(holds({ field: 'to', op: 'matches', value: '^acct-[0-9]+$' }, [{ to: 'acct-4x' }])).toBe(false);
    expect(holds({ field: 'to', op: 'matches', value: '42' }, [{ to: 42 }])).toBe(false);
  });

  it('glob uses * and ? on strings only, anchored', () => {
    expect(holds({ field: 'to', op: 'glob', value: 'acct-*' }, [{ to: 'acct-42' }])).toBe(true);
    expect(holds({ field: 'to', op: 'glob', value: 'acct-?' }, [{ to: 'acct-42' }])).toBe(false);
    expect(holds({ field: 'to', op: 'glob', value: 'acct-??' }, [{ to: 'acct-42' }])).toBe(true);
    expect(holds({ field: 'to', op: 'glob', value: 'acct' }, [{ to: 'xacct' }])).toBe(false);
    expect(holds({ field: 'to', op: 'glob', value: 'a.c' }, [{ to: 'abc' }])).toBe(false);
    expect(holds({ field: 'to', op: 'glob', value: '*' }, [{ to: 7 }])).toBe(false);
  });

  it('exists / absent', () => {
    expect(holds({ field: 'm', op: 'exists' }, [{ m: 'x' }])).toBe(true);
    expect(holds({ field: 'm', op: 'exists' }, [{ m: null }])).toBe(true);
    expect(holds({ field: 'm', op: 'exists' }, [{}])).toBe(false);
    expect(holds({ field: 'm', op: 'exists' }, [{ m: undefined }])).toBe(false);
    expect(holds({ field: 'm', op: 'absent' }, [{}])).toBe(true);
    expect(holds({ field: 'm', op: 'absent' }, [{ m: undefined }])).toBe(true);
    expect(holds({ field: 'm', op: 'absent' }, [{ m: 0 }])).toBe(false);
    expect(holds({ arg: 3, op: 'absent' }, ['only one'])).toBe(true);
    expect(holds({ arg: 0, op: 'exists' }, [])).toBe(false);
  });

  it('a missing field makes every value operator false', () => {
    for (const condition of [
      { field: 'x', op: 'eq', value: 1 },
      { field: 'x', op: 'ne', value: 1 },
      { field: 'x', op: 'lt', value: 1 },
      { field: 'x', op: 'lte', value: 1 },
      { field: 'x', op: 'gt', value: 1 },
      { field: 'x', op: 'gte', value: 1 },
      { field: 'x', op: 'in', value: [1] },
      { field: 'x', op: 'notIn', value: [1] },
      { field: 'x', op: 'matches', value: '.*' },
      { field: 'x', op: 'glob', value: '*' },
      { field: 'x', op: 'eq', value: null },
    ]) {
      expect([condition.op, holds(condition, [{ y: 1 }])]).toEqual([condition.op, false]);
      expect([condition.op, holds({ ...condition, arg: 2 }, [{ x: 1 }])]).toEqual([condition.op, false]);
    }
  });

  it('an allow with `amount lte 1000` does not match when amount is missing (fail closed)', () => {
    const policy = policyOf([{ id: 'small', effect: 'allow', when: { args: [{ field: 'amount', op: 'lte', value: 1000 }] } }]);
    expect(evaluatePolicy(policy, input({ args: [{ amount: 10 }] })).decision).toBe('allow');
    for (const args of [[], [{}], [{ amount: undefined }], [null], ['1000'], [{ amount: '10' }], [{ amount: null }]]) {
      const d = evaluatePolicy(policy, input({ args }));
      expect(d.decision).toBe('deny');
      expect(d.decision === 'deny' && d.code).toBe('NO_MATCHING_ALLOW');
    }
  });

  it('reads dotted fields through nested objects and arrays, own properties only', () => {
    expect(holds({ field: 'dest.country', op: 'eq', value: 'DE' }, [{ dest: { country: 'DE' } }])).toBe(true);
    expect(holds({ field: 'items.1.sku', op: 'eq', value: 'b' }, [{ items: [{ sku: 'a' }, { sku: 'b' }] }])).toBe(true);
    expect(holds({ field: 'dest.country', op: 'exists' }, [{ dest: 'DE' }])).toBe(false);
    expect(holds({ field: 'dest.country', op: 'exists' }, [{ dest: null }])).toBe(false);
    expect(holds({ field: 'constructor', op: 'exists' }, [{}])).toBe(false);
    expect(holds({ field: 'toString', op: 'exists' }, [{}])).toBe(false);
  });

  it('targets the argument by index (default 0) and the whole argument without field', () => {
    expect(holds({ op: 'eq', value: 'x' }, ['x', 'y'])).toBe(true);
    expect(holds({ arg: 1, op: 'eq', value: 'y' }, ['x', 'y'])).toBe(true);
    expect(holds({ arg: 1, op: 'eq', value: 'x' }, ['x', 'y'])).toBe(false);
  });

  it('requires every argument condition of a rule', () => {
    const policy = policyOf([
      {
        id: 'r',
        effect: 'allow',
        when: {
          args: [
            { field: 'amount', op: 'lte', value: 1000 },
            { field: 'currency', op: 'in', value: ['USD'] },
          ],
        },
      },
    ]);
    expect(evaluatePolicy(policy, input({ args: [{ amount: 1, currency: 'USD' }] })).decision).toBe('allow');
    expect(evaluatePolicy(policy, input({ args: [{ amount: 1, currency: 'EUR' }] })).decision).toBe('deny');
    expect(evaluatePolicy(policy, input({ args: [{ amount: 1001, currency: 'USD' }] })).decision).toBe('deny');
  });
});

describe('evaluatePolicy: call conditions', () => {
  const allowWhen = (when: Record<string, unknown>) => policyOf([{ id: 'r', effect: 'allow', when }]);
  const decide = (when: Record<string, unknown>, over: Partial<EvaluationInput> = {}) => evaluatePolicy(allowWhen(when), input(over)).decision;

  it('principals globs', () => {
    expect(decide({ principals: ['ali*'] })).toBe('allow');
    expect(decide({ principals: ['bob', 'svc-*'] }, { principal: 'svc-billing' })).toBe('allow');
    expect(decide({ principals: ['bob', 'svc-*'] })).toBe('deny');
    expect(decide({ principals: ['al?ce'] })).toBe('allow');
    expect(decide({ principals: ['alic'] })).toBe('deny');
  });

  it('roles are any-of', () => {
    expect(decide({ roles: ['admin', 'operator'] })).toBe('allow');
    expect(decide({ roles: ['admin'] })).toBe('deny');
    expect(decide({ roles: ['admin'] }, { roles: ['viewer', 'admin'] })).toBe('allow');
    expect(decide({ roles: ['admin'] }, { roles: [] })).toBe('deny');
    expect(decide({ roles: ['oper*'] })).toBe('deny'); // roles are names, not globs
  });

  it('actions are exact', () => {
    const actions: Action[] = ['workflow', 'activity', 'local-activity', 'child-workflow', 'continue-as-new'];
    for (const action of actions) {
      expect(decide({ actions: ['activity'] }, { action })).toBe(action === 'activity' ? 'allow' : 'deny');
    }
  });

  it('targets, workflowTypes and taskQueues globs', () => {
    expect(decide({ targets: ['charge*'] }, { target: 'chargeCard' })).toBe('allow');
    expect(decide({ targets: ['charge*'] }, { target: 'refund' })).toBe('deny');
    expect(decide({ workflowTypes: ['Payment*'] })).toBe('allow');
    expect(decide({ workflowTypes: ['Payment*'] }, { workflowType: 'Refund' })).toBe('deny');
    expect(decide({ taskQueues: ['pay*'] })).toBe('allow');
    expect(decide({ taskQueues: ['pay*'] }, { taskQueue: 'other' })).toBe('deny');
  });

  it('treats glob metacharacters other than * and ? literally', () => {
    expect(decide({ targets: ['a.b'] }, { target: 'a.b' })).toBe('allow');
    expect(decide({ targets: ['a.b'] }, { target: 'axb' })).toBe('deny');
    expect(decide({ targets: ['(x)+[y]'] }, { target: '(x)+[y]' })).toBe('allow');
    expect(decide({ targets: ['a*'] }, { target: 'a\nb' })).toBe('allow');
  });

  it('requires every condition kind of a rule', () => {
    const when = { principals: ['alice'], roles: ['operator'], actions: ['activity'], targets: ['charge'], workflowTypes: ['PaymentWorkflow'], taskQueues: ['payments'] };
    expect(decide(when)).toBe('allow');
    expect(decide(when, { principal: 'bob' })).toBe('deny');
    expect(decide(when, { roles: ['viewer'] })).toBe('deny');
    expect(decide(when, { action: 'local-activity' })).toBe('deny');
    expect(decide(when, { target: 'refund' })).toBe('deny');
    expect(decide(when, { workflowType: 'Other' })).toBe('deny');
    expect(decide(when, { taskQueue: 'other' })).toBe('deny');
  });

  it('a rule without when matches every call', () => {
    expect(decide({}, { principal: 'anyone', roles: [], action: 'continue-as-new', target: 'X', workflowType: 'Y', taskQueue: 'Z' })).toBe('allow');
  });
});

describe('parsePolicy: validation', () => {
  it('accepts a minimal policy and fills defaults', () => {
    const p = parsePolicy({ id: 'p', rules: [{ id: 'r', effect: 'allow', when: { args: [{ op: 'exists' }] } }] });
    expect(p.exempt).toEqual({ activities: [] });
    expect(p.rules[0]!.when.args![0]).toEqual({ arg: 0, op: 'exists' });
    expect(parsePolicy({ id: 'p', rules: [{ id: 'r', effect: 'deny' }] }).rules[0]!.when).toEqual({});
    expect(p.version).toMatch(VERSION);
  });

  it('names the field path of a bad operator', () => {
    const err = policyError(() => policyOf([{ id: 'r', effect: 'allow', when: { args: [{ field: 'a', op: 'bogus', value: 1 }] } }]));
    expect(err.problems).toHaveLength(1);
    expect(err.problems[0]).toMatch(/^rules\[0\]\.when\.args\[0\]\.op: /);
    expect(err.message).toContain('rules[0].when.args[0].op');
    expect(err.name).toBe('PolicyError');
  });

  it('names the source in the message', () => {
    const err = policyError(() => parsePolicy({ rules: [] }, 'policies/prod.yaml'));
    expect(err.source).toBe('policies/prod.yaml');
    expect(err.message).toContain('invalid policy policies/prod.yaml');
    expect(err.problems.some((p) => p.startsWith('id: '))).toBe(true);
  });

  it('names the path of a wrongly typed value', () => {
    const err = policyError(() => policyOf([{ id: 'r', effect: 'allow' }, { id: 's', effect: 'allow', when: { args: [{ field: 'a', op: 'lt', value: true }] } }]));
    expect(err.problems[0]).toMatch(/^rules\[1\]\.when\.args\[0\]\.value: /);
  });

  it('rejects duplicate rule ids, naming both positions', () => {
    const err = policyError(() => policyOf([{ id: 'r', effect: 'allow' }, { id: 'x', effect: 'allow' }, { id: 'r', effect: 'deny' }]));
    expect(err.problems).toEqual(['rules[2].id: duplicate rule id "r" (first at rules[0])']);
  });

  it('rejects an invalid regular expression in matches', () => {
    const err = policyError(() => policyOf([{ id: 'r', effect: 'deny', when: { args: [{ field: 'a', op: 'matches', value: '(' }] } }]));
    expect(err.problems[0]).toMatch(/^rules\[0\]\.when\.args\[0\]\.value: invalid regular expression/);
  });

  it('rejects a code on an allow rule', () => {
    const err = policyError(() => policyOf([{ id: 'r', effect: 'allow', code: 'NOPE' }]));
    expect(err.problems).toEqual(['rules[0].code: only deny rules carry a deny code']);
  });

  it('rejects a deny code that is not UPPER_SNAKE_CASE', () => {
    const err = policyError(() => policyOf([{ id: 'r', effect: 'deny', code: 'lower' }]));
    expect(err.problems[0]).toMatch(/^rules\[0\]\.code: deny codes are UPPER_SNAKE_CASE/);
  });

  it('rejects an unknown top-level key, naming it', () => {
    const err = policyError(() => parsePolicy({ id: 'p', rules: [], rulez: [] }));
    expect(err.problems.join('\n')).toContain('rulez');
  });

  it('rejects unknown keys inside rules and conditions', () => {
    expect(policyError(() => policyOf([{ id: 'r', effect: 'allow', whne: {} }])).problems.join()).toContain('whne');
    const err = policyError(() => policyOf([{ id: 'r', effect: 'allow', when: { principal: ['x'] } }]));
    expect(err.problems[0]).toMatch(/^rules\[0\]\.when: /);
    expect(err.problems[0]).toContain('principal');
  });

  it('rejects bad rule ids, effects, actions, empty lists and exists with a value', () => {
    expect(policyError(() => policyOf([{ id: 'bad id', effect: 'allow' }])).problems[0]).toMatch(/^rules\[0\]\.id: /);
    expect(policyError(() => policyOf([{ id: 'r', effect: 'permit' }])).problems[0]).toMatch(/^rules\[0\]\.effect: /);
    expect(policyError(() => policyOf([{ id: 'r', effect: 'allow', when: { actions: ['fly'] } }])).problems[0]).toMatch(/^rules\[0\]\.when\.actions\[0\]: /);
    expect(policyError(() => policyOf([{ id: 'r', effect: 'allow', when: { roles: [] } }])).problems[0]).toMatch(/^rules\[0\]\.when\.roles: /);
    expect(policyError(() => policyOf([{ id: 'r', effect: 'allow', when: { args: [{ op: 'in', value: [] }] } }])).problems[0]).toMatch(
      /^rules\[0\]\.when\.args\[0\]\.value: /,
    );
    expect(policyError(() => policyOf([{ id: 'r', effect: 'allow', when: { args: [{ op: 'exists', value: 1 }] } }])).problems[0]).toMatch(
      /^rules\[0\]\.when\.args\[0\]: /,
    );
    expect(policyError(() => policyOf([{ id: 'r', effect: 'allow', when: { args: [{ arg: -1, op: 'exists' }] } }])).problems[0]).toMatch(
      /^rules\[0\]\.when\.args\[0\]\.arg: /,
    );
  });

  it('rejects a document that is not an object', () => {
    expect(policyError(() => parsePolicy(null)).problems[0]).toMatch(/^<root>: /);
    expect(policyError(() => parsePolicy('id: x')).problems[0]).toMatch(/^<root>: /);
  });

  it('reports every problem, not just the first', () => {
    const err = policyError(() => parsePolicy({ id: '', rules: [{ id: 'r', effect: 'allow', code: 'X' }], extra: 1 }));
    expect(err.problems.length).toBeGreaterThanOrEqual(2);
    expect(err.message.split('\n').length).toBe(err.problems.length + 1);
  });
});

describe('parsePolicyText', () => {
  const yaml = `
# Payments policy
id: payments
description: demo
exempt:
  activities: [lookupRate, 'audit*']
rules:
  - id: allow-small
    effect: allow
    when:
      actions: [activity]
      args:
        - { field: amount, op: lte, value: 1000 }   # inline comment
  - id: deny-large
    effect: deny
    code: AMOUNT_OVER_LIMIT
    when:
      args:
        - field: amount
          op: gt
          value: 1000
`;
  const json = `{
    "rules": [
      { "when": { "args": [ { "value": 1000, "op": "lte", "field": "amount" } ], "actions": ["activity"] }, "effect": "allow", "id": "allow-small" },
      { "code": "AMOUNT_OVER_LIMIT", "effect": "deny", "id": "deny-large", "when": { "args": [ { "op": "gt", "field": "amount", "value": 1000 } ] } }
    ],
    "exempt": { "activities": ["lookupRate", "audit*"] },
    "description": "demo",
    "id": "payments"
  }`;

  it('reads YAML and JSON to the same policy with the same sha256 version', () => {
    const a = parsePolicyText(yaml);
    const b = parsePolicyText(json);
    expect(a.version).toMatch(VERSION);
    expect(a.version).toBe(b.version);
    expect(a).toEqual(b);
  });

  it('gives the same version whatever the whitespace, comments, defaults spelled out, or key order', () => {
    const compact = parsePolicyText(JSON.stringify(JSON.parse(json)));
    const spelledOut = parsePolicyText(yaml.replace('{ field: amount, op: lte, value: 1000 }', '{ arg: 0, field: amount, op: lte, value: 1000 }'));
    expect(compact.version).toBe(parsePolicyText(yaml).version);
    expect(spelledOut.version).toBe(parsePolicyText(yaml).version);
  });

  it('gives a different version when a rule changes', () => {
    const base = parsePolicyText(yaml).version;
    expect(parsePolicyText(yaml.replace('value: 1000 }', 'value: 1001 }')).version).not.toBe(base);
    expect(parsePolicyText(yaml.replace('code: AMOUNT_OVER_LIMIT', 'code: OVER_LIMIT')).version).not.toBe(base);
    expect(parsePolicyText(yaml.replace('effect: deny', 'effect: deny\n    reason: too much')).version).not.toBe(base);
    expect(parsePolicyText(yaml.replace("'audit*'", "'audit?'")).version).not.toBe(base);
  });

  it('gives a different version when rules are reordered (order is part of the policy text)', () => {
    const doc = JSON.parse(json) as { rules: unknown[] };
    const swapped = { ...doc, rules: [doc.rules[1], doc.rules[0]] };
    expect(parsePolicyText(JSON.stringify(swapped)).version).not.toBe(parsePolicyText(json).version);
  });

  it('evaluates the parsed policy', () => {
    const p = parsePolicyText(yaml);
    expect(evaluatePolicy(p, input({ args: [{ amount: 5 }] }))).toEqual({ decision: 'allow', ruleIds: ['allow-small'], reason: 'allowed by rule allow-small' });
    const d = evaluatePolicy(p, input({ args: [{ amount: 5000 }] }));
    expect(d).toMatchObject({ decision: 'deny', code: 'AMOUNT_OVER_LIMIT', ruleIds: ['deny-large'] });
    expect(d.reason).toBe('denied by rule deny-large; args[0].amount = 5000 (gt 1000)');
  });

  it('rejects invalid YAML with a PolicyError naming the source', () => {
    const err = policyError(() => parsePolicyText('id: [unclosed\nrules: []', 'broken.yaml'));
    expect(err.source).toBe('broken.yaml');
    expect(err.problems.length).toBeGreaterThan(0);
    expect(err.message).toContain('broken.yaml');
  });

  it('rejects duplicate keys', () => {
    expect(() => parsePolicyText('id: a\nid: b\nrules: []')).toThrow(PolicyError);
  });

  it('rejects an unknown top-level key in YAML', () => {
    const err = policyError(() => parsePolicyText('id: a\nrules: []\nallow_everything: true\n'));
    expect(err.problems.join()).toContain('allow_everything');
  });

  it('rejects schema errors with field paths', () => {
    const err = policyError(() => parsePolicyText('id: a\nrules:\n  - id: r\n    effect: allow\n    when:\n      args:\n        - { op: between, value: 1 }\n'));
    expect(err.problems[0]).toMatch(/^rules\[0\]\.when\.args\[0\]\.op: /);
  });
});

test('the policy version hashes the document with its defaults filled in: a default written out or left out gives the same version, a change of meaning another (docs/policy.md)', () => {
  const implicit = parsePolicy({ id: 'v', rules: [{ id: 'r', effect: 'allow', when: { args: [{ field: 'amount', op: 'lte', value: 10 }] } }, { id: 'd', effect: 'deny' }] });
  const explicit = parsePolicy({
    id: 'v',
    exempt: { activities: [] },
    rules: [
      { id: 'r', effect: 'allow', when: { args: [{ arg: 0, field: 'amount', op: 'lte', value: 10 }] } },
      { id: 'd', effect: 'deny', when: {} },
    ],
  });
  expect(explicit.version).toBe(implicit.version);
  expect(parsePolicy({ id: 'v', rules: [{ id: 'r', effect: 'allow', when: { args: [{ arg: 1, field: 'amount', op: 'lte', value: 10 }] } }, { id: 'd', effect: 'deny' }] }).version).not.toBe(implicit.version);
  expect(parsePolicy({ id: 'v', description: 'x', rules: implicit.rules }).version).not.toBe(implicit.version);
});
