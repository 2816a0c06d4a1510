// The CLI as users run it: a real process, real files, real exit codes.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { COMMANDS, commandHelp, findCommand, subcommandsOf, usageLine } from '../src/cli/commands';
import { exitCodeFor, main } from '../src/cli/main';
import { runWithClosedStdout } from './helpers/cli-process';

const bin = join(__dirname, '..', 'bin', 'temporal-governance.js');
const run = (...args: string[]) => {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, TEMPORAL_ADDRESS: '' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};

const lines = (text: string) => text.split('\n').filter((l) => l.trim() !== '');

/** The CLI in this process, exactly as cli() runs it (main, then exitCodeFor on a throw): fast. */
async function inProcess(...args: string[]) {
  const stdout: string[] = [];
  const stderr: string[] = [];
  let code: number;
  try {
    code = await main(args, (l) => stdout.push(l), (l) => stderr.push(l));
  } catch (err) {
    code = exitCodeFor(err, (l) => stderr.push(l));
  }
  return { code, stdout: stdout.map((l) => `${l}\n`).join(''), stderr: stderr.map((l) => `${l}\n`).join('') };
}

describe('a bad argument: exit 2, the error naming the command, its usage line, nothing more', () => {
  test.each([
    [['signing-keys', 'generate'], 'signing-keys generate', 'missing --key, --bundle'],
    [['signing-keys', 'generate', '--key', 'k', '--bundle', 'b', '--colour', 'red'], 'signing-keys generate', "Unknown option '--colour'"],
    [['signing-keys', 'retire', '--bundle', 'b'], 'signing-keys retire', 'missing --kid'],
    [['signing-keys', 'retire', '--bundle', 'b', '--kid', 'k', '--at', 'tomorrow'], 'signing-keys retire', '--at must be an ISO 8601 date or time'],
    [['principals', 'create', 'alice'], 'principals create', 'missing --roles'],
    [['principals', 'create', '--roles', 'operator'], 'principals create', 'expected 1 argument(s), got 0'],
    [['principals', 'create', 'alice', '--roles', 'operator,,auditor'], 'principals create', '--roles must be a comma-separated list of roles without empty entries'],
    [['principals', 'list', 'extra'], 'principals list', "Unexpected argument 'extra'"],
    [['principals', 'list', '-o', 'xml'], 'principals list', '-o/--output must be table, json or jsonl, got "xml"'],
    [['principals', 'list', '--json'], 'principals list', "Unknown option '--json'"],
    [['api-keys', 'create'], 'api-keys create', 'missing --principal'],
    [['api-keys', 'create', '--principal', 'alice', '--expires-in', 'soon'], 'api-keys create', '--expires-in: invalid duration "soon"'],
    [['api-keys', 'create', '--principal', 'alice', '--expires-in', '1h', '--expires-at', '2030-01-01'], 'api-keys create', 'give --expires-in or --expires-at, not both'],
    [['api-keys', 'create', '--principal', 'alice', '--expires-at', 'next week'], 'api-keys create', '--expires-at must be an ISO 8601 date or time'],
    [['api-keys', 'create', '--principal', 'alice', '--roles', ','], 'api-keys create', '--roles must be a comma-separated list'],
    [['api-keys', 'create', '--principal', 'alice', '--output', 'yaml'], 'api-keys create', '-o/--output must be table, json or jsonl'],
    [['api-keys', 'expire'], 'api-keys expire', 'expected 1 argument(s), got 0'],
    [['api-keys', 'expire', 'ak_0123456789abcdef', '--at', '31/12/2030'], 'api-keys expire', '--at must be an ISO 8601 date or time'],
    [['revoke'], 'revoke', 'unknown revoke kind (none)'],
    [['revoke', 'workflow', 'wf-1'], 'revoke', 'unknown revoke kind workflow'],
    [['revoke', 'principal'], 'revoke', 'expected 1 argument(s), got 0'],
    [['revoke', 'api-key', 'ak_0123456789abcdef', '--force'], 'revoke', "Unknown option '--force'"],
    [['policy', 'check'], 'policy check', 'expected 1 argument(s), got 0'],
    [['worker', 'governance', '--policy', 'p.yaml'], 'worker governance', 'missing --key, --bundle'],
    [['worker', 'governance', '--policy', 'p.yaml', '--key', 'k', '--bundle', 'b', '--log-level', 'loud'], 'worker governance', '--log-level must be one of trace, debug, info, warn, error'],
    [['worker', 'demo-app', '--bundle', 'b', '--log-level='], 'worker demo-app', '--log-level must be one of trace, debug, info, warn, error'],
    [['denials', 'list', '--since', 'yesterday'], 'denials list', 'invalid duration "yesterday"'],
    [['denials', 'list', '-o', 'csv'], 'denials list', '-o/--output must be table, json or jsonl'],
    [['denials', 'show', 'wf', '--tls-ca-path', 'a', '--tls-ca-data', 'b'], 'denials show', 'give --tls-ca-path or --tls-ca-data, not both'],
    [['denials', 'show', 'wf', '--grpc-meta', 'novalue'], 'denials show', '--grpc-meta must be KEY=VALUE'],
    [['denials', 'show', 'wf', '--data-converter', ''], 'denials show', '--data-converter must not be empty'],
    [['version', 'extra'], 'version', "Unexpected argument 'extra'"],
  ])('%j', async (args, command, message) => {
    const r = await inProcess(...args);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    const err = lines(r.stderr);
    expect(err).toEqual([
      expect.stringContaining(`temporal-governance ${command}: ${message}`),
      usageLine(findCommand(command)!).replace(/^/, 'Usage: '),
      `Run "temporal-governance help ${command}" for its options.`,
    ]);
  });

  test.each([
    [['signing-keys'], 'signing-keys', 'missing the command: one of generate, retire'],
    [['principals'], 'principals', 'missing the command: one of create, list'],
    [['api-keys', 'rotate'], 'api-keys', 'unknown api-keys command "rotate"; expected one of create, list, expire'],
    [['revocations', 'show'], 'revocations', 'unknown revocations command "show"; expected one of list'],
    [['worker', 'elsewhere'], 'worker', 'unknown worker command "elsewhere"; expected one of governance, demo-app'],
    [['denials', '--since', '1h'], 'denials', 'missing the command: one of list, show'],
  ])('%j: a group without a known command: the usage lines of that group', async (args, group, message) => {
    const r = await inProcess(...args);
    expect(r.code).toBe(2);
    const err = lines(r.stderr);
    expect(err[0]).toBe(`temporal-governance ${group}: ${message}`);
    expect(err[1]).toBe('Usage:');
    expect(err.slice(2, -1)).toEqual(subcommandsOf(group).map((c) => `  ${usageLine(c)}`));
    expect(err.at(-1)).toBe(`Run "temporal-governance help ${group} <command>" for a command's options.`);
  });

  test.each([[['bogus']], [['keys', 'generate']], [['--json']]])('%j: an unknown command, in two lines', async (args) => {
    const r = await inProcess(...args);
    expect(r.code).toBe(2);
    expect(lines(r.stderr)).toEqual([`temporal-governance: unknown command ${JSON.stringify(args[0])}`, 'Run "temporal-governance help" for the list of commands.']);
  });

  test('no command at all: the overview, exit 2', () => {
    const r = run();
    expect(r.code).toBe(2);
    expect(r.stdout).toContain('Usage: temporal-governance <command> [options]');
  });

  // A real process each: `worker governance` installs the Temporal runtime, once per process.
  test.each([
    [['--direct-port', 'http'], '--direct-port must be an integer from 1 to 65535'],
    [['--direct-host', '0.0.0.0'], '--direct-host needs --direct-port'],
    [['--direct-port', '7243', '--direct-tls-cert', 'c.pem'], '--direct-tls-cert and --direct-tls-key go together'],
  ])('worker governance %j: a usage error, nothing started', (flags, message) => {
    const r = run('worker', 'governance', '--policy', 'p.yaml', '--key', 'k', '--bundle', 'b', ...flags);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(lines(r.stderr)).toEqual([
      `temporal-governance worker governance: ${message}`,
      usageLine(findCommand('worker governance')!).replace(/^/, 'Usage: '),
      'Run "temporal-governance help worker governance" for its options.',
    ]);
  });

  test('the same from the real process: a command error, a group error, an unknown command', () => {
    const command = run('policy', 'check');
    expect(command.code).toBe(2);
    expect(command.stdout).toBe('');
    expect(command.stderr).toBe(
      'temporal-governance policy check: expected 1 argument(s), got 0\nUsage: temporal-governance policy check FILE\nRun "temporal-governance help policy check" for its options.\n',
    );
    const group = run('policy', 'frob');
    expect(group.code).toBe(2);
    expect(lines(group.stderr)).toEqual([
      'temporal-governance policy: unknown policy command "frob"; expected one of check',
      'Usage:',
      '  temporal-governance policy check FILE',
      'Run "temporal-governance help policy <command>" for a command\'s options.',
    ]);
    const unknown = run('bogus');
    expect(unknown.code).toBe(2);
    expect(lines(unknown.stderr)).toEqual(['temporal-governance: unknown command "bogus"', 'Run "temporal-governance help" for the list of commands.']);
  });
});

describe('version and help', () => {
  const version = (JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }).version;

  test.each([[['--version']], [['version']], [['-v']]])('%j prints the package version', async (args) => {
    const r = await inProcess(...args);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`temporal-governance version ${version}\n`);
  });

  test('help lists every command', () => {
    const r = run('help');
    expect(r.code).toBe(0);
    for (const c of COMMANDS) expect(r.stdout).toContain(`  ${c.name}`);
  });

  test('COMMAND --help, COMMAND -h and help COMMAND print that command\'s usage only', async () => {
    const expected = commandHelp(findCommand('policy check')!);
    for (const args of [['policy', 'check', '--help'], ['policy', 'check', '-h'], ['help', 'policy', 'check'], ['policy', 'check', 'some-file', '--help']]) {
      const r = args[0] === 'help' ? run(...args) : await inProcess(...args);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`${expected}\n`);
    }
    expect(expected.startsWith('Usage: temporal-governance policy check FILE\n')).toBe(true);
    expect(expected).not.toContain('lineage');
  });

  test('GROUP --help and help GROUP: the usage lines of the group', async () => {
    for (const args of [['policy', '--help'], ['help', 'policy']]) {
      const r = await inProcess(...args);
      expect(r.code).toBe(0);
      expect(lines(r.stdout)).toEqual(['Usage:', '  temporal-governance policy check FILE', 'Run "temporal-governance help policy <command>" for a command\'s options.']);
    }
  });

  test('help for an unknown command: exit 2', async () => {
    const r = await inProcess('help', 'frobnicate');
    expect(r.code).toBe(2);
    expect(lines(r.stderr)[0]).toBe('temporal-governance: no command "frobnicate"');
  });

  test('every command has its help: options, and the connection and MongoDB settings where they apply (in process)', async () => {
    for (const c of COMMANDS) {
      const printed: string[] = [];
      expect(await main([...c.name.split(' '), '--help'], (l) => printed.push(l))).toBe(0);
      const text = printed.join('\n');
      expect(text).toBe(commandHelp(c));
      expect(text.startsWith(`Usage: ${usageLine(c)}\n`)).toBe(true);
      for (const [flag] of c.options ?? []) expect(text).toContain(flag);
      expect(text.includes('--api-key KEY')).toBe(c.temporal !== undefined);
      expect(text.includes('--data-converter MODULE')).toBe(c.temporal === 'client');
      expect(text.includes('MONGODB_URI')).toBe(c.mongo === true);
    }
  });

  test('docs/cli.md documents every command with its usage line', () => {
    const doc = readFileSync(join(__dirname, '..', 'docs', 'cli.md'), 'utf8');
    for (const c of COMMANDS) expect(doc).toContain(usageLine(c));
  });
});

describe('safe when piped', () => {
  test('a reader that closes before the output (| head): exit 0, no stack trace', async () => {
    const { code, stderr } = await runWithClosedStdout(['help'], { ...process.env, TEMPORAL_ADDRESS: '' });
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });

  test('| head -1 in a shell with pipefail: the first line, and success', () => {
    const r = spawnSync('bash', ['-c', `set -o pipefail; "${process.execPath}" "${bin}" help | head -1`], { encoding: 'utf8' });
    expect(r.stdout).toBe('Usage: temporal-governance <command> [options]\n');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});

test('signing-keys generate writes a 0600 key that is never printed, and a trust bundle', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cli-keys-'));
  const key = join(dir, 'signing-key.json');
  const bundle = join(dir, 'trust-bundle.json');
  const r = run('signing-keys', 'generate', '--key', key, '--bundle', bundle, '--kid', 'cli-key');
  expect(r.code).toBe(0);
  expect(statSync(key).mode & 0o777).toBe(0o600);
  const secret = JSON.parse(readFileSync(key, 'utf8')).d as string;
  expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
  expect(r.stdout + r.stderr).not.toContain(secret);
  expect(readFileSync(bundle, 'utf8')).not.toContain(secret);
  expect(JSON.parse(readFileSync(bundle, 'utf8')).keys).toEqual([expect.objectContaining({ kid: 'cli-key', notAfter: null })]);

  const again = run('signing-keys', 'generate', '--key', key, '--bundle', bundle, '--kid', 'cli-key-2');
  expect(again.code).toBe(1);
  expect(again.stderr).toContain('refusing to overwrite a signing key');
  expect(again.stderr).not.toContain(secret);

  // Rotation, first half: a second key joins the same bundle.
  const rotated = run('signing-keys', 'generate', '--key', join(dir, 'next-key.json'), '--bundle', bundle, '--kid', 'cli-key-2');
  expect(rotated.code).toBe(0);
  expect(JSON.parse(readFileSync(bundle, 'utf8')).keys.map((k: { kid: string }) => k.kid)).toEqual(['cli-key', 'cli-key-2']);
});

test('policy check accepts the demo policy and prints its version', () => {
  const r = run('policy', 'check', join(__dirname, '..', 'examples', 'payments', 'policy.yaml'));
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/policy payments is valid: 7 rule\(s\)/);
  expect(r.stdout).toMatch(/version sha256:[0-9a-f]{64}/);
});

test('policy check rejects an invalid policy, naming the field, with exit 1', () => {
  const file = join(mkdtempSync(join(tmpdir(), 'cli-policy-')), 'policy.yaml');
  writeFileSync(file, 'id: p\nrules:\n  - id: r\n    effect: permit\n');
  const r = run('policy', 'check', file);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain('rules[0].effect');
  expect(r.stderr).not.toContain('    at '); // a clear message, not a stack trace
});

test('worker governance connects with the connection settings: the error names the address, never the API key', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cli-worker-'));
  const key = join(dir, 'signing-key.json');
  const bundle = join(dir, 'trust-bundle.json');
  expect(run('signing-keys', 'generate', '--key', key, '--bundle', bundle).code).toBe(0);
  const policy = join(__dirname, '..', 'examples', 'payments', 'policy.yaml');
  const secret = 'tgk.worker-secret-0123456789';
  const r = spawnSync(process.execPath, [bin, 'worker', 'governance', '--policy', policy, '--key', key, '--bundle', bundle, '--address', '127.0.0.1:1', '-n', 'payments'], {
    encoding: 'utf8',
    env: { ...process.env, TEMPORAL_ADDRESS: 'ignored.example:7233', TEMPORAL_API_KEY: secret, MONGODB_URI: 'mongodb://127.0.0.1:9' },
  });
  expect(r.status).toBe(1);
  expect(lines(r.stderr)).toEqual([expect.stringMatching(/^temporal-governance: cannot reach Temporal at 127\.0\.0\.1:1 \(namespace payments, TLS, API key\): /)]);
  expect(r.stdout + r.stderr).not.toContain(secret);
});
