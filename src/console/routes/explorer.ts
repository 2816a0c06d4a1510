// The lineage explorer: search over lineage records (/lineage), a root as a lazily loaded tree
// (/lineage/roots/:id), one record with everything about it (/lineage/records/:id), and the two HTML
// fragments the tree's script loads (/lineage/records/:id/children, /lineage/records/:id/arguments).
// Every read goes through src/lineage/queries.ts and src/lineage/arguments.ts; nothing here queries
// MongoDB or Temporal itself.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ActionSchema, DenyCodeSchema } from '../../common/schemas';
import { decisionArguments, type DecisionArguments } from '../../lineage/arguments';
import {
  ancestry,
  childrenOf,
  countChildren,
  countRecords,
  countRootDenials,
  decodeSearchCursor,
  encodeSearchCursor,
  getRecord,
  outcomesOfMany,
  searchLineage,
  type LineageSearch,
  type ParsedDocument,
} from '../../lineage/queries';
import type { LineageRecord, OutcomeRecord } from '../../lineage/schema';
import type { ConsoleContext } from '../context';
import { sendFragment, sendPage } from '../render';
import { ConsoleInputError } from '../server';

/** Records per search page unless `limit` says otherwise, and the most it may say. */
export const DEFAULT_SEARCH_LIMIT = 50;
export const MAX_PAGE_LIMIT = 200;
/** Children per tree page: the first page is rendered with the page, the rest on demand. */
export const CHILDREN_PAGE = 100;
/** Children listed on a record page (the tree shows them all). */
const RECORD_CHILDREN = 50;
/** Longest wait for Temporal when a page shows a decision's arguments. */
const ARGUMENTS_TIMEOUT_MS = 5_000;

// Ids are the signed payload ids (art_<hex>, den_<hex>); anything with other characters names no record.
const RecordIdSchema = z
  .string({ error: 'a record id is required' })
  .min(1, 'a record id is required')
  .max(200, 'a record id is at most 200 characters')
  .regex(/^[A-Za-z0-9_.:-]+$/, 'a record id has only letters, digits and _ . : - (e.g. art_c426c3981ef1f320564461d60d7c1db3)');
const IdParamsSchema = z.object({ id: RecordIdSchema }).strict();

/** An optional text filter: given once, trimmed, empty = not given. */
const text = (what: string, max = 1_000) =>
  z
    .string({ error: `${what} must be given once, as text` })
    .trim()
    .max(max, `${what} is longer than ${max} characters`)
    .optional()
    .transform((s) => (s ? s : undefined));

const TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,3})?)?)?(Z|[+-]\d{2}:\d{2})?$/;

/** ISO 8601 date or date-time; without a zone it is UTC (the form says so). */
export function parseTime(value: string): Date | null {
  const m = TIME.exec(value);
  if (!m) return null;
  const zoned = m[8] ?? 'Z';
  const iso = `${m[1]}-${m[2]}-${m[3]}T${m[4] ?? '00'}:${m[5] ?? '00'}:${m[6] ?? '00'}${m[7] ?? ''}${zoned}`;
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return null;
  // Date rolls 2025-02-30 over to March: refuse what is not a real calendar date.
  const check = new Date(date.getTime() + (zoned === 'Z' ? 0 : offsetMs(zoned)));
  if (check.getUTCFullYear() !== Number(m[1]) || check.getUTCMonth() + 1 !== Number(m[2]) || check.getUTCDate() !== Number(m[3])) return null;
  return date;
}
const offsetMs = (zone: string) => (zone.startsWith('-') ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6))) * 60_000;

const time = (what: string) =>
  text(what, 40).transform((s, ctx) => {
    if (s === undefined) return undefined;
    const date = parseTime(s);
    if (!date) {
      ctx.addIssue({ code: 'custom', message: `${what} must be an ISO 8601 date or time, e.g. 2025-06-01 or 2025-06-01T09:00 (UTC) or 2025-06-01T09:00:00+02:00; got ${JSON.stringify(s)}` });
      return z.NEVER;
    }
    return date;
  });

const choice = <T extends string>(what: string, values: readonly T[]) =>
  text(what, 40).refine((s) => s === undefined || (values as readonly string[]).includes(s), `${what} must be one of ${values.join(', ')}`).transform((s) => s as T | undefined);

/** The explorer's search form, as it arrives in the query string. Unknown parameters are refused (a typo must not silently widen a search). */
export const SearchQuerySchema = z
  .object({
    principal: text('principal'),
    workflowId: text('workflow id'),
    runId: text('run id'),
    action: choice('action', ActionSchema.options),
    target: text('target'),
    decision: choice('decision', ['allow', 'deny'] as const),
    denyCode: text('deny code', 200).refine((s) => s === undefined || DenyCodeSchema.safeParse(s).success, 'deny code must be upper case letters, digits and _ (e.g. AMOUNT_OVER_LIMIT)'),
    roots: choice('roots', ['1'] as const),
    from: time('from'),
    to: time('to'),
    limit: text('limit', 10).transform((s, ctx) => {
      if (s === undefined) return DEFAULT_SEARCH_LIMIT;
      const n = Number(s);
      if (!/^\d+$/.test(s) || n < 1 || n > MAX_PAGE_LIMIT) {
        ctx.addIssue({ code: 'custom', message: `limit must be a whole number from 1 to ${MAX_PAGE_LIMIT}` });
        return z.NEVER;
      }
      return n;
    }),
    cursor: text('cursor', 2_000).transform((s, ctx) => {
      if (s === undefined) return undefined;
      const cursor = decodeSearchCursor(s);
      if (!cursor) {
        ctx.addIssue({ code: 'custom', message: 'cursor is not one this console made; start again from the first page' });
        return z.NEVER;
      }
      return cursor;
    }),
  })
  .strict()
  .superRefine((q, ctx) => {
    if (q.from && q.to && q.from.getTime() >= q.to.getTime()) ctx.addIssue({ code: 'custom', path: ['to'], message: 'to must be later than from' });
    if (q.denyCode && q.decision === 'allow') ctx.addIssue({ code: 'custom', path: ['denyCode'], message: 'a deny code only matches denials; drop decision=allow' });
  });
export type SearchQuery = z.output<typeof SearchQuerySchema>;

const ChildrenQuerySchema = z
  .object({
    after: text('after', 20).transform((s, ctx) => {
      if (s === undefined) return undefined;
      if (!/^\d+$/.test(s)) {
        ctx.addIssue({ code: 'custom', message: 'after must be a seq (a whole number)' });
        return z.NEVER;
      }
      return Number(s);
    }),
  })
  .strict();

function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((i) => {
      if (i.code === 'unrecognized_keys') return `unknown parameter(s) ${i.keys.map((k) => JSON.stringify(k)).join(', ')}`;
      return i.message;
    })
    .join('; ');
}

/** Parses request input with `schema`, or refuses it with a message a person can act on. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(input ?? {});
  if (!parsed.success) throw new ConsoleInputError(`${what}: ${describeIssues(parsed.error)}`);
  return parsed.data;
}

/** The search a parsed query asks for. */
export function searchOf(q: SearchQuery): LineageSearch {
  return {
    principal: q.principal,
    workflowId: q.workflowId,
    runId: q.runId,
    action: q.action,
    target: q.target,
    decision: q.decision,
    denyCode: q.denyCode,
    rootsOnly: q.roots === '1',
    from: q.from,
    to: q.to,
    limit: q.limit,
    after: q.cursor,
  };
}

/** The query string of a search (filters as given, plus a cursor), so every page link keeps the filters. */
export function searchHref(q: SearchQuery, cursor?: string): string {
  const params = new URLSearchParams();
  const put = (key: string, value: string | undefined) => value !== undefined && params.set(key, value);
  put('principal', q.principal);
  put('workflowId', q.workflowId);
  put('runId', q.runId);
  put('action', q.action);
  put('target', q.target);
  put('decision', q.decision);
  put('denyCode', q.denyCode);
  put('roots', q.roots);
  put('from', q.from?.toISOString());
  put('to', q.to?.toISOString());
  if (q.limit !== DEFAULT_SEARCH_LIMIT) put('limit', String(q.limit));
  put('cursor', cursor);
  const s = params.toString();
  return s ? `/lineage?${s}` : '/lineage';
}

const recordHref = (id: string) => `/lineage/records/${encodeURIComponent(id)}`;
const rootHref = (id: string) => `/lineage/roots/${encodeURIComponent(id)}`;
const GRANT_ACTIONS = new Set(['workflow', 'child-workflow', 'continue-as-new']);

export interface OutcomeView {
  readonly status: string;
  readonly failureType: string | null;
  readonly attempt: number;
  readonly at: string;
}

const outcomeView = (o: OutcomeRecord): OutcomeView => ({ status: o.status, failureType: o.failureType, attempt: o.attempt, at: new Date(o.at).toISOString() });

/** What a tree node and a results row show of a record. */
export interface NodeView {
  readonly valid: true;
  readonly id: string;
  readonly href: string;
  readonly rootHref: string;
  readonly decision: 'allow' | 'deny';
  readonly kind: string;
  readonly action: string;
  readonly target: string;
  readonly depth: number;
  readonly seq: number;
  readonly principal: string | null;
  /** Null for a denial: a denial is decided before or without roles it could carry. */
  readonly roles: readonly string[] | null;
  readonly rules: readonly string[];
  readonly policy: string;
  readonly issuedAt: string;
  readonly denyCode: string | null;
  readonly reason: string | null;
  readonly workflow: string;
  readonly rootId: string;
  readonly outcomes: readonly OutcomeView[];
  /** Only grants (run grants, child-workflow and continue-as-new artifacts) have children. */
  readonly childrenUrl: string | null;
  readonly argumentsUrl: string;
}

/** A stored document that does not parse: shown by id with its problems, never as a record. */
export interface InvalidView {
  readonly valid: false;
  readonly id: string;
  readonly problems: readonly string[];
}

export function nodeView(r: LineageRecord, outcomes: readonly OutcomeRecord[] = []): NodeView {
  return {
    valid: true,
    id: r._id,
    href: recordHref(r._id),
    rootHref: rootHref(r.rootId),
    decision: r.decision,
    kind: r.kind,
    action: r.action,
    target: r.target,
    depth: r.depth,
    seq: r.seq,
    principal: r.principal,
    roles: r.artifact ? r.artifact.payload.roles : null,
    rules: r.rules,
    policy: `${r.policy.id} ${r.policy.version}`,
    issuedAt: r.issuedAt.toISOString(),
    denyCode: r.denyCode,
    reason: r.reason,
    workflow: `${r.workflowId}/${r.runId}`,
    rootId: r.rootId,
    outcomes: outcomes.map(outcomeView),
    childrenUrl: r.kind === 'artifact' && GRANT_ACTIONS.has(r.action) ? `${recordHref(r._id)}/children` : null,
    argumentsUrl: `${recordHref(r._id)}/arguments`,
  };
}

async function viewsOf(ctx: ConsoleContext, items: readonly ParsedDocument[], withOutcomes: boolean): Promise<Array<NodeView | InvalidView>> {
  const ids = items.flatMap((p) => (p.ok && p.record.decision === 'allow' ? [p.record._id] : []));
  const outcomes = withOutcomes ? await outcomesOfMany(ctx.db, ids) : new Map<string, OutcomeRecord[]>();
  return items.map((p) => (p.ok ? nodeView(p.record, outcomes.get(p.record._id)) : { valid: false, id: p.id, problems: p.problems }));
}

/** The Temporal Web UI page of a run, when the console knows where the UI is. */
export function webUiHref(webUiUrl: string | undefined, r: Pick<LineageRecord, 'namespace' | 'workflowId' | 'runId'>): string | null {
  if (!webUiUrl) return null;
  const base = webUiUrl.replace(/\/+$/, '');
  return `${base}/namespaces/${encodeURIComponent(r.namespace)}/workflows/${encodeURIComponent(r.workflowId)}/${encodeURIComponent(r.runId)}/history`;
}

/** Arguments as the page shows them: each argument pretty-printed, or why there are none. */
function argumentsView(args: DecisionArguments) {
  if (!args.found) return { found: false as const, reason: args.reason };
  return {
    found: true as const,
    source: args.source,
    digest: args.digest,
    items: args.view.map((entry, index) => {
      const [carrier, value] = Array.isArray(entry) ? (entry as [string, unknown]) : ['?', entry];
      const shown = carrier === 'json' ? JSON.stringify(value, null, 2) : carrier === 'bytes' ? `bytes ${String(value)}` : carrier === 'undefined' ? 'undefined' : JSON.stringify(entry);
      return { index, carrier, text: shown };
    }),
  };
}

async function argumentsWithin(ctx: ConsoleContext, record: LineageRecord): Promise<DecisionArguments> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<DecisionArguments>((resolve) => {
    timer = setTimeout(() => resolve({ found: false, reason: `Temporal did not answer within ${ARGUMENTS_TIMEOUT_MS / 1000} s` }), ARGUMENTS_TIMEOUT_MS);
  });
  try {
    return await Promise.race([decisionArguments(ctx.temporal, record), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function recordOr404(ctx: ConsoleContext, id: string): Promise<LineageRecord> {
  const record = await getRecord(ctx.db, id);
  if (!record) throw new ConsoleInputError(`no lineage record ${id} in database ${ctx.options.database}`, 404);
  return record;
}

const childrenPageData = async (ctx: ConsoleContext, parent: LineageRecord, afterSeq: number | undefined) => {
  const page = await childrenOf(ctx.db, parent._id, { afterSeq, limit: CHILDREN_PAGE });
  return {
    nodes: await viewsOf(ctx, page.items, true),
    moreUrl: page.nextAfterSeq === null ? null : `${recordHref(parent._id)}/children?after=${page.nextAfterSeq}`,
  };
};

export async function explorerRoutes(app: FastifyInstance, ctx: ConsoleContext): Promise<void> {
  app.get('/lineage', async (request, reply) => {
    const q = parseInput(SearchQuerySchema, request.query, 'bad search');
    const page = await searchLineage(ctx.db, searchOf(q));
    return sendPage(reply, 'explorer', {
      title: 'Lineage explorer',
      q: { ...q, from: q.from?.toISOString() ?? '', to: q.to?.toISOString() ?? '' },
      actions: ActionSchema.options,
      rows: await viewsOf(ctx, page.items, false),
      nextHref: page.next ? searchHref(q, encodeSearchCursor(page.next)) : null,
      firstHref: q.cursor ? searchHref(q) : null,
      limit: q.limit,
    });
  });

  app.get('/lineage/roots/:id', async (request, reply) => {
    const { id } = parseInput(IdParamsSchema, request.params, 'bad root id');
    const record = await recordOr404(ctx, id);
    // The counts read the whole root: the page asks for them separately (/counts), so the tree
    // never waits for them.
    const [children, outcomes] = await Promise.all([childrenPageData(ctx, record, undefined), outcomesOfMany(ctx.db, [record._id])]);
    return sendPage(reply, 'root', {
      title: `Root ${record._id}`,
      node: nodeView(record, outcomes.get(record._id)),
      isRoot: record.rootId === record._id,
      rootHref: rootHref(record.rootId),
      rootId: record.rootId,
      workflowHref: `/lineage?workflowId=${encodeURIComponent(record.workflowId)}`,
      countsUrl: `${rootHref(record.rootId)}/counts`,
      children,
      webUi: webUiHref(ctx.options.webUiUrl, record),
    });
  });

  app.get('/lineage/records/:id', async (request, reply) => {
    const { id } = parseInput(IdParamsSchema, request.params, 'bad record id');
    const record = await recordOr404(ctx, id);
    // Only grants have children: a leaf costs no children reads.
    const grant = nodeView(record).childrenUrl !== null;
    const [lineage, outcomes, children, childCount, args] = await Promise.all([
      ancestry(ctx.db, id),
      outcomesOfMany(ctx.db, [id]),
      grant ? childrenOf(ctx.db, id, { limit: RECORD_CHILDREN }) : { items: [], nextAfterSeq: null },
      grant ? countChildren(ctx.db, id) : 0,
      argumentsWithin(ctx, record),
    ]);
    const signed = record.artifact ?? record.denial!;
    const artifact = record.artifact?.payload;
    return sendPage(reply, 'record', {
      title: `Record ${record._id}`,
      r: record,
      node: nodeView(record, outcomes.get(id)),
      issuedAt: record.issuedAt.toISOString(),
      recordedAt: record.recordedAt.toISOString(),
      expiresAt: artifact?.expiresAt != null ? new Date(artifact.expiresAt).toISOString() : null,
      payload: signed.payload,
      signedJson: JSON.stringify(signed, null, 2),
      ancestors: (lineage?.ancestors ?? []).map((a) => nodeView(a)),
      missingAncestors: lineage?.missing ?? [],
      parentHref: record.parentId ? recordHref(record.parentId) : null,
      rootHref: rootHref(record.rootId),
      children: await viewsOf(ctx, children.items, false),
      childCount,
      args: argumentsView(args),
      proofHref: `/proof?record=${encodeURIComponent(id)}`,
      webUi: webUiHref(ctx.options.webUiUrl, record),
    });
  });

  // Fragments for explorer.js: a page of a node's children (<li> nodes, then a "more" button), and
  // a decision's arguments. Errors come back as the usual error page with its status; the script
  // shows the message.
  app.get('/lineage/records/:id/children', async (request, reply) => {
    const { id } = parseInput(IdParamsSchema, request.params, 'bad record id');
    const { after } = parseInput(ChildrenQuerySchema, request.query, 'bad children page');
    const record = await recordOr404(ctx, id);
    return sendFragment(reply, 'tree-children', await childrenPageData(ctx, record, after));
  });

  app.get('/lineage/roots/:id/counts', async (request, reply) => {
    const { id } = parseInput(IdParamsSchema, request.params, 'bad root id');
    const [records, denials] = await Promise.all([countRecords(ctx.db, id), countRootDenials(ctx.db, id)]);
    if (records === 0) throw new ConsoleInputError(`no lineage records of root ${id} in database ${ctx.options.database}`, 404);
    return sendFragment(reply, 'root-counts', { records, denials });
  });

  app.get('/lineage/records/:id/arguments', async (request, reply) => {
    const { id } = parseInput(IdParamsSchema, request.params, 'bad record id');
    const record = await recordOr404(ctx, id);
    return sendFragment(reply, 'arguments', { args: argumentsView(await argumentsWithin(ctx, record)) });
  });
}
