// The CLI against the real Temporal dev server: connection settings from a profile in a TOML
// config file, the environment and flags (in that order of precedence), and `--data-converter`
// decoding failure details a payload codec wrote.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import type { DenialDetails } from '../src/common/schemas';
import { describeDenial } from '../src/common/denial';
import { address, uniqueName } from './helpers/harness';
import { dataConverter, WRAPPED_ENCODING } from './fixtures/cli-codec';
import { deniedLikeGovernance } from './fixtures/cli-codec-workflows';

const root = join(__dirname, '..');
const bin = join(root, 'bin', 'temporal-governance.js');
const codecModule = join(__dirname, 'fixtures', 'cli-codec.ts');
const UNREACHABLE = '127.0.0.1:1';

/** The CLI with a clean Temporal environment: nothing but what each test sets. */
function run(args: string[], env: Record<string, string> = {}, cwd = root) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TEMPORAL_'))) as Record<string, string>;
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', cwd, env: { ...clean, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const dir = mkdtempSync(join(tmpdir(), 'cli-temporal-'));
const configFile = join(dir, 'temporal.toml');
const details: DenialDetails = {
  code: 'AMOUNT_OVER_LIMIT',
  reason: 'args[0].amount = 4200 (gt 1000)',
  ruleIds: ['deny-large-charges'],
  policyId: 'payments',
  policyVersion: `sha256:${'ab'.repeat(32)}`,
  decisionId: `dec_${'0123456789abcdef'.repeat(2)}`,
  principal: 'codec-alice',
  action: 'activity',
  target: 'charge',
};
let deniedId: string;

beforeAll(async () => {
  writeFileSync(
    configFile,
    [
      '[profile.default]',
      `address = "${address()}"`,
      'namespace = "default"',
      '',
      '[profile.unreachable]',
      `address = "${UNREACHABLE}"`,
      'namespace = "no-such-namespace"',
      '',
    ].join('\n'),
  );

  // An ungoverned workflow that fails the way governance fails one, through the codec.
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const taskQueue = uniqueName('cli-codec');
  deniedId = uniqueName('cli-codec-denied');
  const nativeConnection = await NativeConnection.connect({ address: address() });
  const connection = await Connection.connect({ address: address() });
  try {
    const worker = await Worker.create({
      connection: nativeConnection,
      taskQueue,
      workflowsPath: require.resolve('./fixtures/cli-codec-workflows'),
      dataConverter,
    });
    const client = new Client({ connection, dataConverter });
    await worker.runUntil(async () => {
      const handle = await client.workflow.start(deniedLikeGovernance, { taskQueue, workflowId: deniedId, args: [details] });
      await expect(handle.result()).rejects.toThrow();
    });
    // Visibility is eventually consistent: wait until the run is searchable as denied.
    for (let i = 0; i < 100; i++) {
      const found = [];
      for await (const wf of client.workflow.list({ query: `GovernanceDecision = "denied" AND WorkflowId = "${deniedId}"` })) found.push(wf);
      if (found.length > 0) break;
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    await connection.close();
    await nativeConnection.close();
  }
}, 300_000);

const listedIds = (stdout: string) => (JSON.parse(stdout) as Array<{ workflowId: string }>).map((r) => r.workflowId);

describe('connection settings: flag > environment > profile', () => {
  test('a profile in the config file alone (address + namespace) reaches the stack', () => {
    const r = run(['denials', 'list', '--since', '1h', '-o', 'json'], { TEMPORAL_CONFIG_FILE: configFile });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(listedIds(r.stdout)).toContain(deniedId);
    // --config-file is the same as TEMPORAL_CONFIG_FILE.
    const flag = run(['denials', 'list', '--since', '1h', '-o', 'json', '--config-file', configFile]);
    expect(flag.code).toBe(0);
    expect(listedIds(flag.stdout)).toContain(deniedId);
  });

  test('--profile (and TEMPORAL_PROFILE) select a profile; the error names its address and namespace', () => {
    for (const r of [
      run(['denials', 'list', '--config-file', configFile, '--profile', 'unreachable']),
      run(['denials', 'list', '--config-file', configFile], { TEMPORAL_PROFILE: 'unreachable' }),
    ]) {
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`temporal-governance: cannot reach Temporal at ${UNREACHABLE} (namespace no-such-namespace, no TLS, profile unreachable)`);
    }
    const absent = run(['denials', 'list', '--config-file', configFile, '--profile', 'staging']);
    expect(absent.code).toBe(1);
    expect(absent.stderr.trim()).toBe(`temporal-governance: profile staging not found in ${configFile}`);
  });

  test('the environment overrides the profile, and a flag overrides the environment', () => {
    const file = { TEMPORAL_CONFIG_FILE: configFile, TEMPORAL_PROFILE: 'unreachable' };
    // Profile: unreachable address and a namespace that does not exist; the environment fixes both.
    const envWins = run(['denials', 'list', '--since', '1h', '-o', 'json'], { ...file, TEMPORAL_ADDRESS: address(), TEMPORAL_NAMESPACE: 'default' });
    expect(envWins.stderr).toBe('');
    expect(listedIds(envWins.stdout)).toContain(deniedId);

    // The environment's namespace is wrong; the profile's too; -n wins over both.
    const flagWins = run(['denials', 'list', '--since', '1h', '-o', 'json', '-n', 'default'], { ...file, TEMPORAL_ADDRESS: address(), TEMPORAL_NAMESPACE: 'no-such-namespace' });
    expect(flagWins.stderr).toBe('');
    expect(listedIds(flagWins.stdout)).toContain(deniedId);
    const envNamespace = run(['denials', 'list'], { ...file, TEMPORAL_ADDRESS: address(), TEMPORAL_NAMESPACE: 'no-such-namespace' });
    expect(envNamespace.code).toBe(1);
    expect(envNamespace.stderr).toContain(`temporal-governance: Temporal at ${address()} (namespace no-such-namespace, no TLS, profile unreachable):`);

    // --address beats a working TEMPORAL_ADDRESS.
    const flagAddress = run(['denials', 'list', '--address', UNREACHABLE], { ...file, TEMPORAL_ADDRESS: address() });
    expect(flagAddress.code).toBe(1);
    expect(flagAddress.stderr).toContain(`cannot reach Temporal at ${UNREACHABLE} (namespace no-such-namespace`);
  });

  test('an API key is never printed; it turns TLS on, so the plaintext dev server refuses the connection', () => {
    const secret = 'tgk.sekret-api-key-0123456789';
    for (const r of [run(['denials', 'list', '--address', address(), '--api-key', secret]), run(['denials', 'list'], { TEMPORAL_ADDRESS: address(), TEMPORAL_API_KEY: secret })]) {
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`cannot reach Temporal at ${address()} (namespace default, TLS, API key)`);
      expect(r.stdout + r.stderr).not.toContain(secret);
      expect(r.stdout + r.stderr).not.toContain('sekret');
    }
  });
});

describe('--data-converter decodes what the workers encoded', () => {
  test('the failure details in history really are codec-encoded', async () => {
    const connection = await Connection.connect({ address: address() });
    try {
      const history = await new Client({ connection }).workflow.getHandle(deniedId).fetchHistory();
      const failure = history.events?.find((e) => e.workflowExecutionFailedEventAttributes)?.workflowExecutionFailedEventAttributes?.failure;
      const encodings = failure?.applicationFailureInfo?.details?.payloads?.map((p) => Buffer.from(p.metadata!.encoding!).toString());
      expect(encodings).toEqual([WRAPPED_ENCODING]);
    } finally {
      await connection.close();
    }
  });

  test('denials show with --data-converter: the decoded details', () => {
    const r = run(['denials', 'show', deniedId, '--address', address(), '--data-converter', codecModule]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(describeDenial(details));
    expect(r.stdout).toMatch(/deny code\s+AMOUNT_OVER_LIMIT/);
    expect(r.stdout).toMatch(/principal\s+codec-alice/);
    expect(r.stdout).toMatch(/rules\s+deny-large-charges/);
    expect(r.stdout).toContain(`decision id  ${details.decisionId}`);
  });

  test('TEMPORAL_GOVERNANCE_DATA_CONVERTER, a path relative to the working directory, -o json', () => {
    const r = run(['denials', 'show', deniedId, '-o', 'json'], { TEMPORAL_ADDRESS: address(), TEMPORAL_GOVERNANCE_DATA_CONVERTER: './fixtures/cli-codec.ts' }, __dirname);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ workflowId: deniedId, denyCode: 'AMOUNT_OVER_LIMIT', principal: 'codec-alice', details });
  });

  test('without it: exit 1, one line saying why and what to pass', () => {
    const r = run(['denials', 'show', deniedId, '--address', address()]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(`temporal-governance: cannot decode the failure of workflow ${deniedId}`);
    expect(r.stderr).toContain('--data-converter');
  });

  test('a module that is not a data converter: exit 1, naming the module and the problem', () => {
    const notConverter = join(dir, 'not-a-converter.js');
    writeFileSync(notConverter, 'exports.dataConverter = { payloadCodecs: [{ encode() {} }] };\n');
    const missingExport = join(dir, 'no-export.js');
    writeFileSync(missingExport, 'exports.somethingElse = 1;\n');
    const cases: Array<[string, string]> = [
      [notConverter, `data converter module ${notConverter}: dataConverter.payloadCodecs[0]: a payload codec must be an object with encode and decode methods`],
      [missingExport, `data converter module ${missingExport} has no \`dataConverter\` export`],
      [join(dir, 'absent.js'), `cannot find data converter module ${join(dir, 'absent.js')}`],
    ];
    for (const [module, message] of cases) {
      const r = run(['denials', 'show', deniedId, '--address', address(), '--data-converter', module]);
      expect(r.code).toBe(1);
      expect(r.stderr.trim()).toBe(`temporal-governance: ${message}`);
    }
  });
});
