// `temporal-governance lineage ...` as auditors run it: a real process against the real
// MongoDB-wire server (MONGODB_URI from global-setup), on records signed by the real authorizer.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { lineageCommand } from '../src/cli/lineage';
import { runWithClosedStdout } from './helpers/cli-process';
import { lineageCollection } from '../src/lineage/store';
import { buildLineageFixture, mongoUri, type LineageFixture } from './lineage-fixture';

const bin = join(__dirname, '..', 'bin', 'temporal-governance.js');
function run(args: string[], env: Record<string, string | undefined> = {}) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, TEMPORAL_ADDRESS: '', MONGODB_URI: mongoUri(), ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
const lines = (text: string) => text.split('\n').filter((l) => l.trim() !== '');

let f: LineageFixture;
let tampered: LineageFixture;
const base = Math.floor(Date.now() / 1000) * 1000 - 30 * 60_000;

beforeAll(async () => {
  f = await buildLineageFixture({ base, prefix: 'lineage_cli' });
  tampered = await buildLineageFixture({ base, prefix: 'lineage_cli_tampered' });
  const c = lineageCollection(tampered.db);
  await c.updateOne({ _id: tampered.charge1.payload.id }, { $set: { principal: 'mallory' } });
  await c.deleteOne({ _id: tampered.charge2.payload.id });
});
afterAll(async () => {
  await Promise.all([f?.close(), tampered?.close()]);
});

const db = () => ['--database', f.database];

describe('show', () => {
  test('-o json prints the parsed document', () => {
    const r = run(['lineage', 'show', f.denial.payload.id, ...db(), '-o', 'json']);
    expect(r.code).toBe(0);
    const record = JSON.parse(r.stdout);
    expect(record).toMatchObject({
      _id: f.denial.payload.id,
      decision: 'deny',
      denyCode: 'AMOUNT_OVER_LIMIT',
      principal: 'alice',
      rootId: f.root.payload.id,
      parentId: f.childRun.payload.id,
      seq: 5,
      depth: 3,
      issuedAt: new Date(f.denial.payload.issuedAt).toISOString(),
      denial: JSON.parse(JSON.stringify(f.denial)),
      artifact: null,
    });
  });

  test('a table by default, with the why: code, reason, rules, policy, parent', () => {
    const r = run(['lineage', 'show', f.denial.payload.id, ...db()]);
    expect(r.code).toBe(0);
    const out = lines(r.stdout);
    expect(out[0]).toMatch(/^Field\s+Value$/);
    expect(out).toContain(`deny code    AMOUNT_OVER_LIMIT`);
    expect(r.stdout).toContain('charges above 1000 need a second approver');
    expect(r.stdout).toContain('deny-large-charges');
    expect(r.stdout).toMatch(/policy\s+lineage-test-policy sha256:[0-9a-f]{64}/);
    expect(r.stdout).toContain(`parent       ${f.childRun.payload.id}`);
    expect(r.stdout).toContain(`ancestors    ${f.root.payload.id} > ${f.childGrant.payload.id} > ${f.childRun.payload.id}`);
  });

  test('shows the recorded outcome', () => {
    const r = run(['lineage', 'show', f.childCharge.payload.id, ...db()]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/outcome\s+failed \(CardDeclined\), attempt 1/);
  });

  test('an unknown id: exit 1, one line', () => {
    const r = run(['lineage', 'show', 'art_unknown', ...db()]);
    expect(r.code).toBe(1);
    expect(lines(r.stderr)).toEqual([`temporal-governance: no lineage record art_unknown in database ${f.database}`]);
  });
});

describe('ancestry and descendants', () => {
  test('ancestry -o json: the record and its ancestors, root first', () => {
    const r = run(['lineage', 'ancestry', f.nextCharge.payload.id, ...db(), '-o', 'json']);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result.record._id).toBe(f.nextCharge.payload.id);
    // The scope path (the root's chain), then the record's parent, a continue-as-new hop.
    expect(result.ancestors.map((a: { _id: string }) => a._id)).toEqual([f.root.payload.id, f.nextRun.payload.id]);
    expect(result.missing).toEqual([]);
  });

  test('ancestry table: one row per generation, root first', () => {
    const r = run(['lineage', 'ancestry', f.childCharge.payload.id, ...db()]);
    expect(r.code).toBe(0);
    const out = lines(r.stdout);
    expect(out[0]).toBe(`ancestry of ${f.childCharge.payload.id}, root first:`);
    expect(out[1]).toMatch(/^Seq\s+Id\s+Depth\s+Decision\s+Call\s+Principal\s+Workflow\s+Rules\s+Issued$/);
    const rows = out.slice(3).map((l) => l.split(/\s+/)[1]);
    expect(rows).toEqual([f.root.payload.id, f.childGrant.payload.id, f.childRun.payload.id, f.childCharge.payload.id]);
    expect(out[4]).toMatch(/child-workflow ShippingWorkflow\s+alice/);
  });

  test('ancestry with a missing ancestor document is a finding: listed, exit 1', async () => {
    const c = lineageCollection(f.db);
    const saved = (await c.findOne({ _id: f.childGrant.payload.id }))!;
    await c.deleteOne({ _id: saved._id });
    try {
      const r = run(['lineage', 'ancestry', f.childCharge.payload.id, ...db()]);
      expect(r.code).toBe(1);
      expect(lines(r.stdout).at(-1)).toBe(`missing ancestor document(s): ${f.childGrant.payload.id}`);
      const json = run(['lineage', 'ancestry', f.childCharge.payload.id, ...db(), '-o', 'json']);
      expect(json.code).toBe(1);
      expect(JSON.parse(json.stdout).missing).toEqual([f.childGrant.payload.id]);
    } finally {
      await c.insertOne(saved);
    }
  });

  test('descendants -o json, -o jsonl and table', () => {
    const json = run(['lineage', 'descendants', f.childGrant.payload.id, ...db(), '-o', 'json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout).map((d: { _id: string }) => d._id)).toEqual([f.childRun.payload.id, f.childCharge.payload.id, f.denial.payload.id]);
    // jsonl: one record per line, each a whole JSON document.
    const jsonl = run(['lineage', 'descendants', f.childGrant.payload.id, ...db(), '-o', 'jsonl']);
    expect(jsonl.code).toBe(0);
    expect(lines(jsonl.stdout).map((l) => (JSON.parse(l) as { _id: string })._id)).toEqual([f.childRun.payload.id, f.childCharge.payload.id, f.denial.payload.id]);

    const text = run(['lineage', 'descendants', f.root.payload.id, ...db()]);
    expect(text.code).toBe(0);
    const out = lines(text.stdout);
    expect(out[0]).toBe(`9 descendant(s) of ${f.root.payload.id}:`);
    expect(out.slice(3).map((l) => l.split(/\s+/)[1])).toEqual(f.order.slice(1));
    expect(text.stdout).toMatch(/deny AMOUNT_OVER_LIMIT\s+activity chargeShipping/);

    const leaf = run(['lineage', 'descendants', f.charge1.payload.id, ...db()]);
    expect(leaf.code).toBe(0);
    expect(leaf.stdout.trim()).toBe(`${f.charge1.payload.id} has no descendants`);
  });
});

describe('denials', () => {
  test('-o json: newest first; --since, --principal and --limit filter', () => {
    const ids = (args: string[]) => {
      const r = run(['lineage', 'denials', ...db(), '-o', 'json', ...args]);
      expect(r.code).toBe(0);
      return JSON.parse(r.stdout).map((d: { _id: string }) => d._id);
    };
    expect(ids([])).toEqual([f.denial.payload.id, f.deniedRoot.payload.id]);
    expect(ids(['--since', '1h'])).toEqual([f.denial.payload.id]); // the denied root is two days old
    expect(ids(['--principal', 'mallory'])).toEqual([f.deniedRoot.payload.id]);
    expect(ids(['--limit', '1'])).toEqual([f.denial.payload.id]);
  });

  test('a table by default', () => {
    const r = run(['lineage', 'denials', ...db(), '--since', '7d']);
    expect(r.code).toBe(0);
    const out = lines(r.stdout);
    expect(out[0]).toMatch(/^Issued\s+Id\s+Deny code\s+Principal\s+Call\s+Workflow\s+Rules\s+Root$/);
    expect(out[2]).toContain(f.denial.payload.id);
    expect(out[2]).toMatch(/AMOUNT_OVER_LIMIT\s+alice\s+activity chargeShipping\s+order-42-shipping\/run-child-1\s+deny-large-charges/);
    expect(out[3]).toMatch(/UNKNOWN_PRINCIPAL\s+mallory\s+workflow OrderWorkflow/);
  });

  test('none in range', () => {
    const r = run(['lineage', 'denials', ...db(), '--principal', 'carol']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe('no denials recorded for carol');
  });
});

describe('verify', () => {
  test('a clean lineage: exit 0, a summary, a final count on stderr', () => {
    const r = run(['lineage', 'verify', '--bundle', f.keys.bundlePath, ...db()]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe('OK: 13 record(s) in 3 root(s); every signature, hash link, parent link and sequence number checks out');
    expect(lines(r.stderr)).toEqual(['verified 13 record(s) in 3 root(s): 0 violation(s)']);
  });

  test('--root and -o json', () => {
    const r = run(['lineage', 'verify', '--bundle', f.keys.bundlePath, '--root', f.root.payload.id, ...db(), '-o', 'json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ roots: 1, records: 10, violations: [] });
  });

  test('a tampered lineage: exit 1, each violation listed with its document id', () => {
    const r = run(['lineage', 'verify', '--bundle', tampered.keys.bundlePath, '--database', tampered.database]);
    expect(r.code).toBe(1);
    const out = lines(r.stdout);
    expect(out[0]).toMatch(/^Document\s+Root\s+Seq\s+Code\s+Problem$/);
    const rows = out.slice(2, -1);
    expect(rows).toHaveLength(2);
    expect(rows.find((l) => l.startsWith(tampered.charge1.payload.id))).toMatch(/\s1\s+FIELD_MISMATCH\s+principal is "mallory" in the document but "alice" in the signed payload$/);
    expect(rows.find((l) => l.startsWith(tampered.continueGrant.payload.id))).toMatch(/\s6\s+SEQ_GAP\s+seq 6 missing between/);
    expect(out.at(-1)).toBe('FAILED: 2 violation(s) in 2 document(s) (12 record(s), 3 root(s))');
  });

  test('a tampered lineage with -o json', () => {
    const r = run(['lineage', 'verify', '--bundle', tampered.keys.bundlePath, '--database', tampered.database, '-o', 'json']);
    expect(r.code).toBe(1);
    const summary = JSON.parse(r.stdout);
    expect(summary).toMatchObject({ roots: 3, records: 12 });
    expect(summary.violations.map((v: { id: string; code: string }) => [v.id, v.code]).sort()).toEqual(
      [
        [tampered.charge1.payload.id, 'FIELD_MISMATCH'],
        [tampered.continueGrant.payload.id, 'SEQ_GAP'],
      ].sort(),
    );
  });

  test('a root with no documents fails', () => {
    const r = run(['lineage', 'verify', '--bundle', f.keys.bundlePath, '--root', 'art_unknown', ...db()]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/art_unknown\s+art_unknown\s+-\s+ROOT_EMPTY\s+root art_unknown has no lineage documents/);
  });

  test('an unreadable trust bundle: exit 1, one line', () => {
    const r = run(['lineage', 'verify', '--bundle', join(f.keys.dir, 'absent.json'), ...db()]);
    expect(r.code).toBe(1);
    expect(lines(r.stderr)).toEqual([`temporal-governance: cannot read trust bundle ${join(f.keys.dir, 'absent.json')}: ENOENT`]);
  });

  test('on a terminal it draws a progress bar on stderr, then the count', async () => {
    const stdout: string[] = [];
    const stderr: string[] = [];
    let bar = '';
    const code = await lineageCommand('verify', ['--bundle', f.keys.bundlePath, ...db()], (l) => stdout.push(l), {
      err: (l) => stderr.push(l),
      progress: (text) => (bar += text),
      isTTY: true,
    });
    expect(code).toBe(0);
    expect(bar.startsWith('\rverifying [')).toBe(true);
    expect(bar).toContain(`\rverifying [${'#'.repeat(30)}] 13/13 records\n`);
    expect(stderr).toEqual(['verified 13 record(s) in 3 root(s): 0 violation(s)']);
    expect(stdout).toHaveLength(1);
  });

  test('off a terminal there is no bar', async () => {
    let bar = '';
    const stderr: string[] = [];
    await lineageCommand('verify', ['--bundle', f.keys.bundlePath, ...db(), '-o', 'json'], () => undefined, { err: (l) => stderr.push(l), progress: (t) => (bar += t), isTTY: false });
    expect(bar).toBe('');
    expect(stderr).toEqual(['verified 13 record(s) in 3 root(s): 0 violation(s)']);
  });
});

describe('export', () => {
  test('json: the root records in seq order', () => {
    const r = run(['lineage', 'export', '--root', f.root.payload.id, ...db(), '--format', 'json']);
    expect(r.code).toBe(0);
    const records = JSON.parse(r.stdout);
    expect(records.map((x: { _id: string; seq: number }) => [x._id, x.seq])).toEqual(f.order.map((id, i) => [id, i]));
  });

  test('a reader that goes away (| head) ends it quietly: exit 0, nothing on stderr', async () => {
    const { code, stderr } = await runWithClosedStdout(['lineage', 'export', '--root', f.root.payload.id, ...db(), '--format', 'json'], {
      ...process.env,
      TEMPORAL_ADDRESS: '',
      MONGODB_URI: mongoUri(),
    });
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });

  test('mermaid: a flowchart, a node per record styled allow/deny, an edge per parent link', () => {
    const r = run(['lineage', 'export', '--root', f.root.payload.id, '--format', 'mermaid', ...db()]);
    expect(r.code).toBe(0);
    const out = lines(r.stdout);
    expect(out[0]).toBe('flowchart TD');
    expect(out.filter((l) => l.endsWith(':::allow'))).toHaveLength(9);
    expect(out.filter((l) => l.endsWith(':::deny'))).toEqual(['  n5["activity chargeShipping<br/>denied: AMOUNT_OVER_LIMIT"]:::deny']);
    expect(out).toContain('  n0["workflow OrderWorkflow"]:::allow');
    expect(out).toContain('  n2["child-workflow ShippingWorkflow"]:::allow');
    // root -> charge1, charge1 is not a parent; child-workflow -> child run -> its activity and the denial
    for (const edge of ['n0 --> n1', 'n0 --> n2', 'n2 --> n3', 'n3 --> n4', 'n3 --> n5', 'n0 --> n6', 'n0 --> n7', 'n7 --> n8', 'n8 --> n9']) expect(out).toContain(`  ${edge}`);
    expect(out.filter((l) => l.includes('-->'))).toHaveLength(9);
  });

  test('dot: a digraph with a node per record and an edge per parent link', () => {
    const r = run(['lineage', 'export', '--root', f.root.payload.id, '--format', 'dot', ...db()]);
    expect(r.code).toBe(0);
    const out = lines(r.stdout);
    expect(out[0]).toBe('digraph lineage {');
    expect(out.at(-1)).toBe('}');
    expect(out.filter((l) => /\[label=/.test(l))).toHaveLength(10);
    expect(out.filter((l) => l.includes(' -> '))).toHaveLength(9);
    expect(out).toContain(`  "${f.childGrant.payload.id}" -> "${f.childRun.payload.id}";`);
    expect(r.stdout).toMatch(new RegExp(`"${f.denial.payload.id}" \\[label="activity chargeShipping\\\\ndenied: AMOUNT_OVER_LIMIT", fillcolor="#f8d7da"`));
  });

  test('an unknown root: exit 1, one line', () => {
    const r = run(['lineage', 'export', '--root', 'art_unknown', '--format', 'dot', ...db()]);
    expect(r.code).toBe(1);
    expect(lines(r.stderr)).toEqual([`temporal-governance: root art_unknown has no lineage records in database ${f.database}`]);
    expect(r.stdout).toBe('');
  });
});

describe('bad arguments: exit 2, the error and the usage line of that command only', () => {
  test.each([
    [['lineage', 'show'], 'lineage show', 'expected 1 argument(s), got 0'],
    [['lineage', 'ancestry', 'a', 'b'], 'lineage ancestry', 'expected 1 argument(s), got 2'],
    [['lineage', 'descendants', 'x', '--colour', 'red'], 'lineage descendants', "Unknown option '--colour'"],
    [['lineage', 'denials', '--since', 'yesterday'], 'lineage denials', 'invalid duration "yesterday": use a number and s, m, h or d (e.g. 1h)'],
    [['lineage', 'denials', '--limit', '0'], 'lineage denials', '--limit must be a positive integer'],
    [['lineage', 'denials', '-o', 'yaml'], 'lineage denials', '-o/--output must be table, json or jsonl, got "yaml"'],
    [['lineage', 'show', 'x', '--json'], 'lineage show', "Unknown option '--json'"],
    [['lineage', 'verify'], 'lineage verify', 'missing --bundle'],
    [['lineage', 'export', '--format', 'json'], 'lineage export', 'missing --root'],
    [['lineage', 'export', '--root', 'r'], 'lineage export', 'missing --format (json, mermaid or dot)'],
    [['lineage', 'export', '--root', 'r', '--format', 'svg'], 'lineage export', '--format must be json, mermaid or dot'],
  ])('%j', (args, command, message) => {
    const r = run(args);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    const err = lines(r.stderr);
    expect(err).toHaveLength(3);
    expect(err[0]).toBe(`temporal-governance ${command}: ${message}`);
    expect(err[1]).toMatch(new RegExp(`^Usage: temporal-governance ${command} `));
    expect(err[2]).toBe(`Run "temporal-governance help ${command}" for its options.`);
  });

  test.each([
    [['lineage'], 'missing the command: one of show, ancestry, descendants, denials, verify, export'],
    [['lineage', 'bogus'], 'unknown lineage command "bogus"; expected one of show, ancestry, descendants, denials, verify, export'],
  ])('%j: the usage lines of the lineage commands', (args, message) => {
    const r = run(args);
    expect(r.code).toBe(2);
    const err = lines(r.stderr);
    expect(err[0]).toBe(`temporal-governance lineage: ${message}`);
    expect(err.filter((l) => l.startsWith('  temporal-governance lineage '))).toHaveLength(6);
    expect(r.stderr).not.toContain('api-keys');
  });
});

describe('MongoDB configuration errors: exit 1, one clear line', () => {
  test('MONGODB_URI missing', () => {
    const r = run(['lineage', 'show', 'x'], { MONGODB_URI: '' });
    expect(r.code).toBe(1);
    expect(lines(r.stderr)).toEqual([
      'temporal-governance: MONGODB_URI is not set: point it at the MongoDB that stores lineage (e.g. export MONGODB_URI=mongodb://127.0.0.1:27017)',
    ]);
    expect(r.stdout).toBe('');
  });

  test('MongoDB unreachable, without printing the password', () => {
    const r = run(['lineage', 'denials'], { MONGODB_URI: 'mongodb://auditor:s3cret-pw@127.0.0.1:9/?authSource=admin' });
    expect(r.code).toBe(1);
    const err = lines(r.stderr);
    expect(err).toHaveLength(1);
    expect(err[0]).toMatch(/^temporal-governance: cannot reach MongoDB at mongodb:\/\/127\.0\.0\.1:9: /);
    expect(r.stderr).not.toContain('s3cret-pw');
    expect(r.stderr).not.toContain('auditor'); // nor the user name, nor the options
  });
});
