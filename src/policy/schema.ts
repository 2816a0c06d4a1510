// The policy file format. The zod schema is the specification; docs/policy.md explains it.
import { z } from 'zod';
import { canonicalize } from '../common/canonical';
import { sha256Hex } from '../common/digest';
import { ActionSchema } from '../common/schemas';

const Glob = z.string().min(1);
const Globs = z.array(Glob).min(1);

const Comparable = z.union([z.number(), z.string()]);
const Scalar = z.union([z.number(), z.string(), z.boolean(), z.null()]);

const argTarget = {
  /** Index of the argument (default 0). */
  arg: z.number().int().nonnegative().default(0),
  /** Dotted path inside the argument, e.g. `amount` or `destination.country`; omitted = the whole argument. */
  field: z.string().min(1).optional(),
};

export const ArgConditionSchema = z.discriminatedUnion('op', [
  z.object({ ...argTarget, op: z.enum(['eq', 'ne']), value: Scalar }).strict(),
  z.object({ ...argTarget, op: z.enum(['lt', 'lte', 'gt', 'gte']), value: Comparable }).strict(),
  z.object({ ...argTarget, op: z.enum(['in', 'notIn']), value: z.array(Scalar).min(1) }).strict(),
  z
    .object({ ...argTarget, op: z.literal('matches'), value: z.string() })
    .strict()
    .superRefine((c, ctx) => {
      try {
        new RegExp(c.value);
      } catch (err) {
        ctx.addIssue({ code: 'custom', path: ['value'], message: `invalid regular expression: ${(err as Error).message}` });
      }
    }),
  z.object({ ...argTarget, op: z.literal('glob'), value: z.string() }).strict(),
  z.object({ ...argTarget, op: z.enum(['exists', 'absent']) }).strict(),
]);
export type ArgCondition = z.infer<typeof ArgConditionSchema>;

export const ConditionsSchema = z
  .object({
    principals: Globs.optional(),
    /** The principal must hold at least one of these roles. */
    roles: z.array(z.string().min(1)).min(1).optional(),
    actions: z.array(ActionSchema).min(1).optional(),
    /** Activity type (activity actions) or workflow type (workflow, child-workflow, continue-as-new). */
    targets: Globs.optional(),
    /** Type of the workflow making the call. */
    workflowTypes: Globs.optional(),
    /** Task queue the governed call runs on. */
    taskQueues: Globs.optional(),
    /** Every condition must hold. */
    args: z.array(ArgConditionSchema).min(1).optional(),
  })
  .strict();
export type Conditions = z.infer<typeof ConditionsSchema>;

export const RuleSchema = z
  .object({
    id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'rule ids use letters, digits, ".", "_" and "-"'),
    effect: z.enum(['allow', 'deny']),
    /** Deny code reported when this deny rule decides (default POLICY_DENY). */
    code: z
      .string()
      .regex(/^[A-Z][A-Z0-9_]*$/, 'deny codes are UPPER_SNAKE_CASE')
      .optional(),
    reason: z.string().min(1).optional(),
    /** Omitted = matches every call. */
    when: ConditionsSchema.default({}),
    /**
     * Deny rules only, for signals and updates: a message this rule refuses also fails the run
     * (strict fail-closed), instead of being dropped (signal) or failed alone (update).
     */
    failWorkflow: z.boolean().optional(),
  })
  .strict()
  .superRefine((rule, ctx) => {
    if (rule.code && rule.effect !== 'deny') {
      ctx.addIssue({ code: 'custom', path: ['code'], message: 'only deny rules carry a deny code' });
    }
    if (rule.failWorkflow !== undefined && rule.effect !== 'deny') {
      ctx.addIssue({ code: 'custom', path: ['failWorkflow'], message: 'only deny rules can fail the workflow' });
    }
    if (rule.failWorkflow && rule.when.actions && !rule.when.actions.some((a) => a === 'signal' || a === 'update')) {
      ctx.addIssue({ code: 'custom', path: ['failWorkflow'], message: 'failWorkflow applies to signal and update denials (every other denial fails the workflow already)' });
    }
  });
export type Rule = z.infer<typeof RuleSchema>;

export const PolicySchema = z
  .object({
    id: z.string().min(1),
    description: z.string().optional(),
    /** Activity types (globs) that run without authorization. Everything else is protected. */
    exempt: z.object({ activities: z.array(Glob).default([]) }).strict().default({ activities: [] }),
    rules: z.array(RuleSchema),
  })
  .strict()
  .superRefine((policy, ctx) => {
    const seen = new Map<string, number>();
    policy.rules.forEach((rule, i) => {
      const first = seen.get(rule.id);
      if (first !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['rules', i, 'id'], message: `duplicate rule id "${rule.id}" (first at rules[${first}])` });
      } else seen.set(rule.id, i);
    });
  });
export type PolicyDocument = z.infer<typeof PolicySchema>;

/** A validated policy with its content-hash version. */
export interface Policy extends PolicyDocument {
  readonly version: string;
}

export class PolicyError extends Error {
  override readonly name = 'PolicyError';
  constructor(
    readonly source: string,
    readonly problems: readonly string[],
  ) {
    super(`invalid policy ${source}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) out += typeof key === 'number' ? `[${key}]` : out ? `.${String(key)}` : String(key);
  return out || '<root>';
}

/** Validates a parsed policy document; throws PolicyError naming each offending field. */
export function parsePolicy(document: unknown, source = '<inline>'): Policy {
  const result = PolicySchema.safeParse(document);
  if (!result.success) {
    throw new PolicyError(
      source,
      result.error.issues.map((issue) => `${formatPath(issue.path)}: ${issue.message}`),
    );
  }
  // The version hashes the normalized document, so formatting and comments never change it.
  const version = `sha256:${sha256Hex(canonicalize(JSON.parse(JSON.stringify(result.data))))}`;
  return { ...result.data, version };
}
