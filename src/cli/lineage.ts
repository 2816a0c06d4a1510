// `temporal-governance lineage ...`: the auditor's view of the lineage collection in MongoDB.
// Loaded lazily by main.ts; the MongoDB driver loads only when a command connects.
import type { Db } from 'mongodb';
import type { LineageRecord, OutcomeRecord } from '../lineage/schema';
import type { Violation } from '../lineage/verify';
import { OperatorError, parseDuration } from '../operators/denials';
import { OUTPUT_OPTION, outputFormat, parse, printJson, UsageError } from './args';
import { withMongoDb as withLineageDb } from './mongo';
import { table } from './table';

type Out = (line: string) => void;

export { redactUri } from './mongo';

const common = { database: { type: 'string' }, ...OUTPUT_OPTION } as const;

function notFound(db: Db, id: string): never {
  throw new OperatorError(`no lineage record ${id} in database ${db.databaseName}`);
}

const call = (r: LineageRecord) => `${r.action} ${r.target}`;
const decision = (r: LineageRecord) => (r.decision === 'deny' ? `deny ${r.denyCode ?? ''}`.trim() : 'allow');

function recordTable(records: readonly LineageRecord[]): string {
  return table([
    ['Seq', 'Id', 'Depth', 'Decision', 'Call', 'Principal', 'Workflow', 'Rules', 'Issued'],
    ...records.map((r) => [
      String(r.seq),
      r._id,
      String(r.depth),
      decision(r),
      call(r),
      r.principal ?? '',
      `${r.workflowId}/${r.runId}`,
      r.rules.join(',') || '-',
      r.issuedAt.toISOString(),
    ]),
  ]);
}

function showTable(r: LineageRecord, outcomes: readonly OutcomeRecord[]): string {
  const signed = r.artifact ?? r.denial;
  const last = outcomes[outcomes.length - 1];
  const outcome = last
    ? `${last.status}${last.failureType ? ` (${last.failureType})` : ''}, attempt ${last.attempt}, ${new Date(last.at).toISOString()}`
    : '(none reported)';
  return table([
    ['Field', 'Value'],
    ['id', r._id],
    ['decision', `${r.decision} (${r.kind})`],
    ...(r.decision === 'deny' ? [['deny code', r.denyCode ?? ''], ['reason', r.reason ?? '']] : []),
    ['principal', r.principal ?? '(unknown)'],
    ['call', call(r)],
    ['workflow', `${r.namespace}/${r.workflowId}/${r.runId}`],
    ['policy', `${r.policy.id} ${r.policy.version}`],
    ['rules', r.rules.join(', ') || '(none)'],
    ['decision id', r.decisionId],
    ['parent', r.parentId ?? '(none: root)'],
    ['root', r.rootId],
    ['ancestors', r.ancestors.join(' > ') || '(none)'],
    ['depth', String(r.depth)],
    ['seq', String(r.seq)],
    ['issued at', r.issuedAt.toISOString()],
    ['recorded at', r.recordedAt.toISOString()],
    ['signed by', signed ? `${signed.payload.kid} (${signed.payload.iss})` : '(nothing signed)'],
    ['outcome', outcome],
    ['prevHash', r.prevHash],
    ['hash', r.hash],
  ]);
}

function violationTable(violations: readonly Violation[]): string {
  return table([
    ['Document', 'Root', 'Seq', 'Code', 'Problem'],
    ...violations.map((v) => [v.id, v.rootId, v.seq === null ? '-' : String(v.seq), v.code, v.message]),
  ]);
}

function progressBar(done: number, total: number): string {
  const width = 30;
  const filled = total === 0 ? width : Math.round((done / total) * width);
  return `verifying [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total} records`;
}

const positiveInteger = (text: string | undefined, name: string, fallback: number) => {
  const n = text === undefined ? fallback : Number(text);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`--${name} must be a positive integer`);
  return n;
};

/** Where diagnostics go: a final count line always, a redrawn progress bar only on a terminal. */
export interface LineageIo {
  readonly err?: Out;
  readonly progress?: (text: string) => void;
  readonly isTTY?: boolean;
}

export async function lineageCommand(sub: string | undefined, rest: string[], out: Out, io: LineageIo = {}): Promise<number> {
  const err = io.err ?? ((line: string) => process.stderr.write(`${line}\n`));
  const progress = io.progress ?? ((text: string) => process.stderr.write(text));
  const stderrIsTTY = io.isTTY ?? process.stderr.isTTY === true;
  const q = () => import('../lineage/queries');

  switch (sub) {
    case 'show': {
      const { values, positionals } = parse(rest, common, 1);
      const format = outputFormat(values);
      const id = positionals[0]!;
      const { record, outcomes } = await withLineageDb(values.database, async (db) => {
        const found = (await (await q()).getRecord(db, id)) ?? (await notFound(db, id));
        return { record: found, outcomes: await (await q()).outcomesOf(db, id) };
      });
      if (format !== 'table') printJson(out, format, { ...record, outcomes });
      else out(showTable(record, outcomes));
      return 0;
    }

    case 'ancestry': {
      const { values, positionals } = parse(rest, common, 1);
      const format = outputFormat(values);
      const id = positionals[0]!;
      const result = await withLineageDb(values.database, async (db) => (await (await q()).ancestry(db, id)) ?? notFound(db, id));
      if (format !== 'table') printJson(out, format, result);
      else {
        out(`ancestry of ${id}, root first:`);
        out(recordTable([...result.ancestors, result.record]));
        if (result.missing.length > 0) out(`missing ancestor document(s): ${result.missing.join(', ')}`);
      }
      // An incomplete chain of authority is an audit finding.
      return result.missing.length > 0 ? 1 : 0;
    }

    case 'descendants': {
      const { values, positionals } = parse(rest, common, 1);
      const format = outputFormat(values);
      const id = positionals[0]!;
      const records = await withLineageDb(values.database, async (db) => {
        const queries = await q();
        if (!(await queries.getRecord(db, id))) notFound(db, id);
        return queries.descendants(db, id);
      });
      if (format !== 'table') printJson(out, format, records);
      else if (records.length === 0) out(`${id} has no descendants`);
      else {
        out(`${records.length} descendant(s) of ${id}:`);
        out(recordTable(records));
      }
      return 0;
    }

    case 'denials': {
      const { values } = parse(rest, { ...common, since: { type: 'string' }, principal: { type: 'string' }, limit: { type: 'string' } });
      const format = outputFormat(values);
      let since: Date | undefined;
      try {
        since = values.since === undefined ? undefined : new Date(Date.now() - parseDuration(values.since));
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
      const limit = positiveInteger(values.limit, 'limit', 100);
      const records = await withLineageDb(values.database, async (db) => (await q()).denials(db, { since, principal: values.principal, limit }));
      if (format !== 'table') printJson(out, format, records);
      else if (records.length === 0) out(`no denials recorded${values.principal ? ` for ${values.principal}` : ''}${values.since ? ` in the last ${values.since}` : ''}`);
      else {
        out(
          table([
            ['Issued', 'Id', 'Deny code', 'Principal', 'Call', 'Workflow', 'Rules', 'Root'],
            ...records.map((r) => [
              r.issuedAt.toISOString(),
              r._id,
              r.denyCode ?? '',
              r.principal ?? '(unknown)',
              call(r),
              `${r.workflowId}/${r.runId}`,
              r.rules.join(',') || '-',
              r.rootId,
            ]),
          ]),
        );
      }
      return 0;
    }

    case 'verify': {
      const { values } = parse(rest, { ...common, root: { type: 'string' }, bundle: { type: 'string' } });
      const format = outputFormat(values);
      if (!values.bundle) throw new UsageError('missing --bundle');
      if (values.root === '') throw new UsageError('--root must not be empty');
      const { loadTrustBundle } = await import('../crypto/keys');
      let trust;
      try {
        trust = loadTrustBundle(values.bundle);
      } catch (e) {
        if ((e as Error).name === 'TrustBundleError') throw new OperatorError((e as Error).message);
        throw e;
      }
      const { verifyLineage } = await import('../lineage/verify');
      let lastDraw = 0;
      const summary = await withLineageDb(values.database, (db) =>
        verifyLineage(db, trust, {
          rootId: values.root,
          onProgress: (done, total) => {
            if (!stderrIsTTY) return;
            const now = Date.now();
            if (done !== total && now - lastDraw < 100) return;
            lastDraw = now;
            progress(`\r${progressBar(done, total)}`);
          },
        }),
      );
      if (stderrIsTTY && summary.records > 0) progress('\n');
      err(`verified ${summary.records} record(s) in ${summary.roots} root(s): ${summary.violations.length} violation(s)`);
      if (format !== 'table') printJson(out, format, summary);
      else {
        if (summary.violations.length > 0) out(violationTable(summary.violations));
        out(
          summary.violations.length === 0
            ? `OK: ${summary.records} record(s) in ${summary.roots} root(s); every signature, hash link, parent link and sequence number checks out`
            : `FAILED: ${summary.violations.length} violation(s) in ${new Set(summary.violations.map((v) => v.id)).size} document(s) (${summary.records} record(s), ${summary.roots} root(s))`,
        );
      }
      return summary.violations.length === 0 ? 0 : 1;
    }

    case 'export': {
      const { values } = parse(rest, { database: { type: 'string' }, root: { type: 'string' }, format: { type: 'string' } });
      const { isExportFormat, exportLines } = await import('../lineage/export');
      const format = values.format;
      if (!values.root) throw new UsageError('missing --root');
      if (format === undefined) throw new UsageError('missing --format (json, mermaid or dot)');
      if (!isExportFormat(format)) throw new UsageError('--format must be json, mermaid or dot');
      const rootId = values.root;
      await withLineageDb(values.database, async (db) => {
        const queries = await q();
        if ((await queries.countRecords(db, rootId)) === 0) throw new OperatorError(`root ${rootId} has no lineage records in database ${db.databaseName}`);
        for await (const line of exportLines(queries.rootRecords(db, rootId), format)) out(line);
      });
      return 0;
    }

    default:
      throw new UsageError(`unknown lineage command ${sub ?? '(none)'}; expected show, ancestry, descendants, denials, verify or export`);
  }
}
