// Lineage: the contract between the authorization activity, the lineage workflow, MongoDB and
// auditors. Sandbox-safe (the lineage workflow imports the signal types).
import { z } from 'zod';
import { canonicalize } from '../common/canonical';
import { sha256Hex } from '../common/digest';
import { ActionSchema, SignedArtifactSchema, SignedDenialSchema, type SignedArtifact, type SignedDenial } from '../common/schemas';

export const LINEAGE_WORKFLOW_TYPE = 'governanceLineage';
export const LINEAGE_SIGNAL = 'lineageRecord';
/** Query on a lineage workflow: how many signals it dropped, and why. */
export const LINEAGE_STATS_QUERY = 'governanceLineageStats';
/**
 * Largest lineage signal accepted (JSON characters). A decision is about 1-2 KB whatever its depth:
 * `ancestors` hold at most 65 ids (levels of nesting, capped; continue-as-new adds none, docs/artifact.md
 * section 5.1), so only hostile input comes near this; larger signals are dropped and counted. With batches cut at 1,000,000 characters, a persist input
 * stays below Temporal's 2 MiB payload limit whatever anyone signals.
 */
export const MAX_LINEAGE_SIGNAL_CHARS = 512 * 1024;
/** How governance names its decisions (activities/authorize.ts): a reference to anything else names none. */
const DECISION_ID = /^(art|den)_[0-9a-f]{32}$/;
export const PERSIST_LINEAGE_ACTIVITY = 'temporal-governance.persistLineage';
export const LINEAGE_COLLECTION = 'lineage';
/** Append-only execution outcomes, one document per reported event (every attempt is kept). */
export const OUTCOME_COLLECTION = 'lineage_outcomes';
/** Write-ahead hand-off of decisions, cleared once chained (see writeToOutbox). */
export const OUTBOX_COLLECTION = 'lineage_outbox';
/** Decisions no lineage workflow can take (oversized), moved out of the outbox and kept for operators. */
export const DEAD_LETTER_COLLECTION = 'lineage_dead_letters';
export const GENESIS_HASH = `sha256:${'0'.repeat(64)}`;

const LINEAGE_WORKFLOW_PREFIX = 'temporal-governance-lineage-';

/**
 * The task queue of the lineage workflows and their persist activity: `<governance task queue>-lineage`,
 * served by the governance worker's second Worker with slots of its own, so lineage work never
 * takes a slot (or a poll) from the authorization activity on the governance task queue.
 */
export function lineageTaskQueue(governanceTaskQueue: string): string {
  return `${governanceTaskQueue}-lineage`;
}

/** One lineage workflow per root execution. */
export function lineageWorkflowId(rootId: string): string {
  return `${LINEAGE_WORKFLOW_PREFIX}${rootId}`;
}

/** The root a lineage workflow id names, or null if it names none. */
export function rootOfLineageWorkflow(workflowId: string): string | null {
  return workflowId.startsWith(LINEAGE_WORKFLOW_PREFIX) && workflowId.length > LINEAGE_WORKFLOW_PREFIX.length ? workflowId.slice(LINEAGE_WORKFLOW_PREFIX.length) : null;
}

/** The root a decision belongs to: its signed rootId, or itself for a denied root grant. */
export function rootOf(signed: SignedArtifact | SignedDenial): string {
  return signed.payload.rootId ?? signed.payload.id;
}

export const OutcomeSchema = z
  .object({
    status: z.enum(['started', 'completed', 'failed']),
    /** Failure type (ApplicationFailure type or error name) when status is failed. */
    failureType: z.string().nullable(),
    attempt: z.number().int().positive(),
    at: z.number().int().nonnegative(),
  })
  .strict();
export type Outcome = z.infer<typeof OutcomeSchema>;

/**
 * What the lineage workflow receives by signal. Governance sends `ref`: a decision by id, whose
 * signed bytes persist reads from the outbox (written before the decision was
 * returned), so a decision is not copied into the lineage workflow's history twice more (signal and
 * persist input). `artifact` / `denial` carry the decision itself (earlier versions, tools).
 */
export const LineageSignalSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('ref'), id: z.string().regex(DECISION_ID) }).strict(),
  z.object({ kind: z.literal('artifact'), signed: SignedArtifactSchema }).strict(),
  z.object({ kind: z.literal('denial'), signed: SignedDenialSchema }).strict(),
  z.object({ kind: z.literal('outcome'), id: z.string().min(1), outcome: OutcomeSchema }).strict(),
]);
export type LineageSignal = z.infer<typeof LineageSignalSchema>;

// Not strict: a run continued from an older version carries more fields; only these are read.
export const LineageWorkflowInputSchema = z.object({
  rootId: z.string().min(1),
  pending: z.array(LineageSignalSchema),
  /** Dropped-signal counters carried across continue-as-new (informational). */
  stats: z.object({ malformed: z.number().int(), oversized: z.number().int(), rejected: z.number().int(), shed: z.number().int().default(0) }).optional(),
});

export interface LineageStats {
  /** Signals that are not a lineage record at all. */
  malformed: number;
  /** Signals above MAX_LINEAGE_SIGNAL_CHARS. */
  oversized: number;
  /** Decisions whose signature does not verify or whose root is another one, and outcomes that name no allowed call of this root. */
  rejected: number;
  /** Outcomes a continue-as-new could not carry (more than CARRY_BYTES of records waited): lost evidence, logged. */
  shed: number;
}
export type LineageWorkflowInput = z.infer<typeof LineageWorkflowInputSchema>;

const HASH = z.string().regex(/^sha256:[0-9a-f]{64}$/);

/** One MongoDB document per authorization (allowed or denied). docs/lineage.md explains every field. */
export const LineageRecordSchema = z
  .object({
    _id: z.string().min(1),
    kind: z.enum(['artifact', 'denial']),
    decision: z.enum(['allow', 'deny']),
    decisionId: z.string().min(1),
    denyCode: z.string().nullable(),
    reason: z.string().nullable(),
    principal: z.string().nullable(),
    action: ActionSchema,
    target: z.string(),
    activityType: z.string().nullable(),
    namespace: z.string(),
    workflowId: z.string(),
    runId: z.string(),
    policy: z.object({ id: z.string(), version: z.string() }).strict(),
    rules: z.array(z.string()),
    parentId: z.string().nullable(),
    rootId: z.string().min(1),
    /** Root first, parent last; empty for the root. */
    ancestors: z.array(z.string()),
    depth: z.number().int().nonnegative(),
    /** 0-based, gap-free per root, in the order the lineage workflow received the decisions. */
    seq: z.number().int().nonnegative(),
    prevHash: HASH,
    hash: HASH,
    issuedAt: z.date(),
    recordedAt: z.date(),
    artifact: SignedArtifactSchema.nullable(),
    denial: SignedDenialSchema.nullable(),
  })
  .strict();
export type LineageRecord = z.infer<typeof LineageRecordSchema>;

/** `${recordId}:${attempt}:${status}`: the same report stored twice is one document. */
export const OutcomeRecordSchema = OutcomeSchema.extend({ _id: z.string().min(1), recordId: z.string().min(1), rootId: z.string().min(1) }).strict();
export type OutcomeRecord = z.infer<typeof OutcomeRecordSchema>;

/** The chain link: everything that must never change, hashed together with the previous link. */
export function chainHash(link: {
  rootId: string;
  seq: number;
  prevHash: string;
  parentId: string | null;
  ancestors: readonly string[];
  signed: SignedArtifact | SignedDenial;
}): string {
  return `sha256:${sha256Hex(
    canonicalize({
      v: 1,
      rootId: link.rootId,
      seq: link.seq,
      prevHash: link.prevHash,
      parentId: link.parentId,
      ancestors: [...link.ancestors],
      signed: link.signed,
    }),
  )}`;
}

/** The searchable fields of a record, all derived from its signed decision. */
export function recordFields(signed: SignedArtifact | SignedDenial, kind: 'artifact' | 'denial') {
  const p = signed.payload;
  const denial = kind === 'denial' ? (signed as SignedDenial).payload : null;
  return {
    _id: p.id,
    kind,
    decision: kind === 'artifact' ? ('allow' as const) : ('deny' as const),
    decisionId: p.decisionId,
    denyCode: denial?.code ?? null,
    reason: denial?.reason ?? null,
    principal: p.principal,
    action: p.action,
    target: p.target,
    activityType: p.action === 'activity' || p.action === 'local-activity' ? p.target : null,
    namespace: p.namespace,
    workflowId: p.workflowId,
    runId: p.runId,
    policy: p.policy,
    rules: p.rules,
    parentId: p.parent?.id ?? null,
    rootId: rootOf(signed),
    issuedAt: new Date(p.issuedAt),
    artifact: kind === 'artifact' ? (signed as SignedArtifact) : null,
    denial: denial ? (signed as SignedDenial) : null,
  };
}
