// Operator starts on the real stack: `temporal-governance workflow start | execute | signal | update`
// as real processes, with an operator's governance API key, against a governed app worker and a
// governance worker; the same start made by the real `temporal` CLI binary is denied and told what
// to use instead. The key never appears in anything the CLI prints.
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DefaultLogger, bundleWorkflowCode, type Worker } from '@temporalio/worker';
import { MongoClient } from 'mongodb';
import { HEADER_START_PROOF } from '../src/common/constants';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { SignedStartProofSchema } from '../src/identity/schema';
import { generateApiKey, parseApiKey } from '../src/identity/api-key';
import { UNAUTHENTICATED_START_REASON } from '../src/identity/proof';
import { createApiKey, revoke } from '../src/identity/store';
import { lineageCollection } from '../src/lineage/store';
import { ensureTemporalCli } from '../src/stack/tools';
import { runsOf } from './fixtures/activities';
import { cliBin } from './helpers/cli-process';
import { address, expectGovernanceDenied, fixtures, governedEnv, mongoUri, uniqueName, type Env } from './helpers/harness';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}
/** Everything every process printed, checked for keys at the end. */
const printed: string[] = [];

/**
 * A process with a clean Temporal environment (plus what the test sets). Asynchronous on purpose:
 * the workers run in this process and must keep polling while the CLI waits for them.
 */
function runProcess(command: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TEMPORAL_'))) as Record<string, string>;
  const child = spawn(command, args, { env: { ...clean, TEMPORAL_ADDRESS: address(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      printed.push(stdout, stderr);
      resolve({ code, stdout, stderr });
    });
  });
}
const cli = (args: string[], env?: Record<string, string>) => runProcess(process.execPath, [cliBin, ...args], env);

let env: Env;
let mongo: MongoClient;
let workers: Worker[];
let running: Promise<void>[];
let dir: string;
/** alice's key (roles operator, auditor) in a 0600 file. */
let keyFile: string;
let bobKeyFile: string;
let revokedKey: string;
const unknownKey = generateApiKey().apiKey;

/** A file only its owner can read (a key file, or an input file). */
function privateFile(name: string, content: string): string {
  const file = join(dir, name);
  writeFileSync(file, `${content}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return file;
}

beforeAll(async () => {
  env = await governedEnv({ governance: { policy: join(fixtures, 'operator-policy.yaml') } });
  mongo = await MongoClient.connect(mongoUri());
  dir = mkdtempSync(join(tmpdir(), 'operator-cli-'));
  keyFile = privateFile('alice.key', env.apiKey);
  const db = mongo.db(env.lineageDatabase);
  bobKeyFile = privateFile('bob.key', (await createApiKey(db, { principal: 'bob' })).apiKey); // a viewer: the policy admits none of his messages
  const revoked = await createApiKey(db, { principal: 'alice' });
  await revoke(db, 'api-key', revoked.document._id, 'left the laptop on the train');
  revokedKey = revoked.apiKey;

  const workflowBundle = await bundleWorkflowCode({ workflowsPath: require.resolve('./fixtures/operator-workflows'), plugins: [env.plugin], logger: new DefaultLogger('WARN') });
  workers = [await env.appWorker({ workflowBundle }), await env.governanceWorker()];
  running = workers.map((w) => w.run());
  await sleep(2_500); // two identity refresh periods: the governance worker sees the revoked key
}, 180_000);

afterAll(async () => {
  for (const w of workers ?? []) if (w.getState() === 'RUNNING') w.shutdown();
  await Promise.all(running ?? []);
  await mongo?.close();
  await env?.close();
});

const connection = () => ['--address', address(), '-n', 'default'];
const startArgs = (type: string, workflowId: string, amount: number, marker: string) => ['--type', type, '-t', env.taskQueue, '-w', workflowId, '-i', String(amount), '-i', JSON.stringify(marker)];

/** The root grant lineage recorded for a workflow (persistence is batched: wait for it). */
async function lineageRoot(workflowId: string) {
  const records = lineageCollection(mongo.db(env.lineageDatabase));
  for (let i = 0; i < 240; i++) {
    const root = await records.findOne({ workflowId, action: 'workflow' });
    if (root) return root;
    await sleep(250);
  }
  throw new Error(`no lineage record of the root grant of ${workflowId}`);
}

async function startProofKeyId(workflowId: string): Promise<string> {
  const history = await env.client.workflow.getHandle(workflowId).fetchHistory();
  const header = history.events?.[0]?.workflowExecutionStartedEventAttributes?.header?.fields?.[HEADER_START_PROOF];
  if (!header) throw new Error('no start proof in the start event');
  return SignedStartProofSchema.parse(defaultPayloadConverter.fromPayload(header as Payload)).payload.keyId;
}

describe('workflow start, signal and update with an operator API key', () => {
  test("start runs a governed workflow on the operator's authority; signal and update reach its handlers", async () => {
    const workflowId = uniqueName('operator-flow');
    const marker = uniqueName('operator-flow-charge');
    const started = await cli(['workflow', 'start', ...startArgs('operatorFlow', workflowId, 10, marker), '--governance-key-file', keyFile, ...connection()]);
    expect(started.stderr).toBe('');
    expect(started.code).toBe(0);
    const handle = env.client.workflow.getHandle(workflowId);
    const { runId } = await handle.describe();
    expect(started.stdout).toBe(
      ['Running execution:', `  WorkflowId  ${workflowId}`, `  RunId       ${runId}`, '  Type        operatorFlow', '  Namespace   default', `  TaskQueue   ${env.taskQueue}`, ''].join('\n'),
    );

    // The start carries a proof of alice's key, and governance made alice the root of lineage.
    expect(await startProofKeyId(workflowId)).toBe(parseApiKey(env.apiKey).keyId);
    const root = await lineageRoot(workflowId);
    expect(root).toMatchObject({ decision: 'allow', principal: 'alice', parentId: null, depth: 0, target: 'operatorFlow', runId });
    for (let i = 0; i < 150 && runsOf(marker) === 0; i++) await sleep(200);
    expect(runsOf(marker)).toBe(1); // the protected activity ran

    const signalled = await cli(['workflow', 'signal', '-w', workflowId, '--name', 'addNote', '-i', '"checked by the night shift"', '--governance-key-file', keyFile, ...connection()]);
    expect(signalled.stderr).toBe('');
    expect(signalled.code).toBe(0);
    expect(signalled.stdout).toBe(`Signal addNote sent to workflow ${workflowId}.\n`);

    const updated = await cli(['workflow', 'update', '-w', workflowId, '--name', 'approve', '-i', '"carol"', '--governance-key-file', keyFile, ...connection()]);
    expect(updated.stderr).toBe('');
    expect(updated.code).toBe(0);
    // The update's result, as JSON: its handler saw the note the signal handler added.
    expect(updated.stdout).toBe('"approved by carol after 1 note(s)"\n');
    expect(await handle.result()).toEqual({ charged: 'charged 10 EUR', notes: ['checked by the night shift'], approvedBy: 'carol' });
  });

  test('the key from TEMPORAL_GOVERNANCE_API_KEY; -o json; rejected and denied updates exit 1; update of one run with an update id', async () => {
    const workflowId = uniqueName('operator-flow-json');
    const keyEnv = { TEMPORAL_GOVERNANCE_API_KEY: env.apiKey };
    const started = await cli(['workflow', 'start', ...startArgs('operatorFlow', workflowId, 20, uniqueName('json-charge')), '-o', 'json', ...connection()], keyEnv);
    expect(started.code).toBe(0);
    const ids = JSON.parse(started.stdout) as { workflowId: string; runId: string };
    expect(ids).toEqual({ workflowId, runId: expect.any(String), type: 'operatorFlow', namespace: 'default', taskQueue: env.taskQueue });
    expect((await lineageRoot(workflowId)).principal).toBe('alice');

    const signalled = await cli(['workflow', 'signal', '-w', workflowId, '-r', ids.runId, '--type', 'addNote', '--input-file', privateFile('note.json', '"from a file"'), ...connection()], keyEnv);
    expect(signalled.code).toBe(0);
    // An update governance refuses (bob may not approve): exit 1, the GovernanceDenied code and reason.
    const denied = await cli(['workflow', 'update', '-w', workflowId, '--name', 'approve', '-i', '"bob"', '--governance-key-file', bobKeyFile, ...connection()]);
    expect(denied.code).toBe(1);
    expect(denied.stdout).toBe('');
    expect(denied.stderr).toBe(`temporal-governance: update approve of workflow ${workflowId} was denied by governance: NO_MATCHING_ALLOW: no allow rule matches update approve for principal bob (default deny)\n`);
    const deniedJson = await cli(['workflow', 'update', '-w', workflowId, '--name', 'approve', '-i', '"bob"', '--update-id', 'bob-1', '-o', 'json', '--governance-key-file', bobKeyFile, ...connection()]);
    expect(deniedJson.code).toBe(1);
    expect(JSON.parse(deniedJson.stdout)).toMatchObject({ workflowId, name: 'approve', updateId: 'bob-1', status: 'DENIED', denial: { code: 'NO_MATCHING_ALLOW', principal: 'bob', action: 'update', target: 'approve' } });
    // One the workflow's own validator rejects: exit 1 and its message.
    const rejected = await cli(['workflow', 'update', '-w', workflowId, '--name', 'approve', '-i', '""', ...connection()], keyEnv);
    expect(rejected.code).toBe(1);
    expect(rejected.stderr).toBe(`temporal-governance: update approve of workflow ${workflowId} failed: an approver is required\n`);

    const updateId = uniqueName('approval');
    const updated = await cli(['workflow', 'update', '-w', workflowId, '-r', ids.runId, '--name', 'approve', '-i', '"dave"', '--update-id', updateId, '-o', 'json', ...connection()], keyEnv);
    expect(updated.stderr).toBe('');
    expect(updated.code).toBe(0);
    expect(JSON.parse(updated.stdout)).toEqual({ workflowId, name: 'approve', updateId, result: 'approved by dave after 1 note(s)' });
    expect(await env.client.workflow.getHandle(workflowId).result()).toMatchObject({ notes: ['from a file'], approvedBy: 'dave' });
  });

  test('execute prints the result; a governance denial prints its code and reason and exits 1', async () => {
    const marker = uniqueName('execute-small');
    const small = await cli(['workflow', 'execute', ...startArgs('operatorPays', uniqueName('operator-pays'), 10, marker), '--governance-key-file', keyFile, ...connection()]);
    expect(small.stderr).toBe('');
    expect(small.code).toBe(0);
    expect(small.stdout).toMatch(/^Running execution:\n {2}WorkflowId {2}operator-pays-.*\nResult: "charged 10 EUR"\n$/s);
    expect(runsOf(marker)).toBe(1);

    const bigMarker = uniqueName('execute-large');
    const workflowId = uniqueName('operator-pays-large');
    const large = await cli(['workflow', 'execute', ...startArgs('operatorPays', workflowId, 5_000, bigMarker), '--governance-key-file', keyFile, ...connection()]);
    expect(large.code).toBe(1);
    expect(large.stderr).toBe(`temporal-governance: workflow ${workflowId} was denied by governance: AMOUNT_OVER_LIMIT: charges above 1000 need a second approver; args[0].amount = 5000 (gt 1000)\n`);
    expect(runsOf(bigMarker)).toBe(0);

    const json = await cli(['workflow', 'execute', ...startArgs('operatorPays', uniqueName('operator-pays-json'), 5_000, bigMarker), '-o', 'json', '--governance-key-file', keyFile, ...connection()]);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ status: 'FAILED', denial: { code: 'AMOUNT_OVER_LIMIT', principal: 'alice', action: 'activity', target: 'charge', ruleIds: ['deny-large-charges'] } });
    expect(runsOf(bigMarker)).toBe(0);
  });

  test('a revoked or unknown API key is denied at the root grant; nothing runs', async () => {
    for (const [key, code, reason] of [
      [revokedKey, 'API_KEY_REVOKED', `API key ${parseApiKey(revokedKey).keyId} is revoked`],
      [unknownKey, 'UNKNOWN_API_KEY', `API key ${parseApiKey(unknownKey).keyId} is not known to governance`],
    ] as const) {
      const marker = uniqueName(`denied-${code}`);
      const workflowId = uniqueName('operator-denied');
      const r = await cli(['workflow', 'execute', ...startArgs('operatorPays', workflowId, 10, marker), '--governance-key-file', privateFile(`${code}.key`, key), ...connection()]);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`temporal-governance: workflow ${workflowId} was denied by governance: ${code}: ${reason}\n`);
      expect(runsOf(marker)).toBe(0);
      expect(await lineageRoot(workflowId)).toMatchObject({ decision: 'deny', denyCode: code });
    }
  });
});

test('a start by the plain `temporal` CLI is denied UNAUTHENTICATED, and the reason names the command to use', async () => {
  const workflowId = uniqueName('plain-temporal-start');
  const marker = uniqueName('plain-temporal-charge');
  const plain = await runProcess(ensureTemporalCli(), ['workflow', 'start', '--address', address(), '--namespace', 'default', ...startArgs('operatorPays', workflowId, 10, marker)]);
  expect(plain.code).toBe(0);
  const failure = await expectGovernanceDenied(env.client.workflow.getHandle(workflowId));
  expect(failure.details?.[0]).toMatchObject({ code: 'UNAUTHENTICATED', reason: UNAUTHENTICATED_START_REASON, action: 'workflow', target: 'operatorPays' });
  expect(UNAUTHENTICATED_START_REASON).toContain('`temporal-governance workflow start --governance-key-file FILE`');
  expect(failure.message).toContain('temporal-governance workflow start');
  expect(runsOf(marker)).toBe(0);

  // What an operator reads with `denials show` (or in the Web UI): the same sentence.
  const shown = await cli(['denials', 'show', workflowId, ...connection()]);
  expect(shown.code).toBe(0);
  expect(shown.stdout).toContain('temporal-governance workflow start --governance-key-file FILE');
});

describe('bad arguments exit 2 with the usage line; a bad key exits 1 without the key', () => {
  const usage = (command: string) => new RegExp(`^Usage: temporal-governance workflow ${command} `, 'm');

  test.each([
    ['start without --type', ['start', '-t', 'q'], 'start', 'missing --type'],
    ['start without a task queue', ['start', '--type', 'operatorPays'], 'start', 'missing --task-queue'],
    ['start with --type and its alias --name', ['start', '--type', 'a', '--name', 'b', '-t', 'q'], 'start', 'give --type or its alias --name, not both'],
    ['an input that is not JSON', ['start', '--type', 'a', '-t', 'q', '-i', 'ten'], 'start', '-i/--input #1 is not JSON'],
    ['--input and --input-file', ['execute', '--type', 'a', '-t', 'q', '-i', '1', '--input-file', '/dev/null'], 'execute', 'give -i/--input or --input-file, not both'],
    ['a bad duration', ['start', '--type', 'a', '-t', 'q', '--run-timeout', '1 hour'], 'start', '--run-timeout: invalid duration'],
    ['no governance key at all', ['start', '--type', 'a', '-t', 'q'], 'start', 'needs your governance API key: --governance-key-file FILE or TEMPORAL_GOVERNANCE_API_KEY'],
    ['signal without --name', ['signal', '-w', 'wf'], 'signal', 'missing --name'],
    ['update without a workflow id', ['update', '--name', 'approve'], 'update', 'missing --workflow-id'],
    ['an unknown option', ['update', '-w', 'wf', '--name', 'approve', '--api-key-file', 'x'], 'update', "Unknown option '--api-key-file'"],
  ])('%s', async (_label, args, command, message) => {
    const r = await cli(['workflow', ...args, ...connection()]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`temporal-governance workflow ${command}: ${message}`);
    expect(r.stderr).toMatch(usage(command));
  });

  test('an unknown workflow command lists the workflow commands', async () => {
    const r = await cli(['workflow', 'terminate', '-w', 'wf']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown workflow command "terminate"; expected one of start, execute, signal, update');
  });

  test('a malformed key (file or variable) and an unreadable file: one line naming the source, never the content', async () => {
    const malformed = 'tgk.ak_0123456789abcdef.not-a-43-character-secret';
    const file = privateFile('malformed.key', malformed);
    const fromFile = await cli(['workflow', 'start', '--type', 'a', '-t', 'q', '--governance-key-file', file, ...connection()]);
    expect(fromFile.code).toBe(1);
    expect(fromFile.stderr).toBe(`temporal-governance: malformed API key: expected tgk.<key id>.<secret> as printed by \`temporal-governance api-keys create\` (in governance key file ${file})\n`);
    const fromEnv = await cli(['workflow', 'signal', '-w', 'wf', '--name', 'n', ...connection()], { TEMPORAL_GOVERNANCE_API_KEY: malformed });
    expect(fromEnv.code).toBe(1);
    expect(fromEnv.stderr).toContain('(in TEMPORAL_GOVERNANCE_API_KEY)');
    for (const r of [fromFile, fromEnv]) expect(r.stdout + r.stderr).not.toContain('not-a-43-character-secret');

    const missing = await cli(['workflow', 'start', '--type', 'a', '-t', 'q', '--governance-key-file', join(dir, 'nope.key'), ...connection()]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(`temporal-governance: cannot read governance key file ${join(dir, 'nope.key')}: ENOENT\n`);
  });

  test('a key file other users can read works, with a warning', async () => {
    const file = privateFile('shared.key', env.apiKey);
    chmodSync(file, 0o644);
    const r = await cli(['workflow', 'signal', '-w', uniqueName('no-such-workflow'), '--name', 'addNote', '--governance-key-file', file, ...connection()]);
    expect(r.stderr).toContain(`temporal-governance: warning: governance key file ${file} is readable by other users (mode 0644); chmod 600 it`);
    // It got as far as Temporal: the workflow does not exist (one line, exit 1).
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^temporal-governance: cannot signal workflow no-such-workflow-.*not found/m);
  });
});

test('no API key appears in anything the CLI printed', () => {
  expect(printed.length).toBeGreaterThan(20);
  const all = printed.join('\n');
  for (const key of [env.apiKey, revokedKey, unknownKey]) {
    expect(all).not.toContain(key);
    expect(all).not.toContain(key.split('.')[2]!); // the secret alone
  }
});
