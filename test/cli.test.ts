// The CLI as users run it: a real process, real files, real exit codes.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const bin = join(__dirname, '..', 'bin', 'temporal-governance.js');
const run = (...args: string[]) => {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, TEMPORAL_ADDRESS: '' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};

describe('bad arguments print usage and exit non-zero', () => {
  test.each([
    [['bogus'], 'unknown command bogus'],
    [['keys', 'generate'], 'unknown command keys'],
    [['signing-keys'], 'unknown signing-keys command (none); expected generate or retire'],
    [['signing-keys', 'generate'], 'missing --key, --bundle'],
    [['signing-keys', 'generate', '--key', 'k', '--bundle', 'b', '--colour', 'red'], "Unknown option '--colour'"],
    [['signing-keys', 'retire', '--bundle', 'b'], 'missing --kid'],
    [['signing-keys', 'retire', '--bundle', 'b', '--kid', 'k', '--at', 'tomorrow'], '--at must be an ISO 8601 date or time'],
    [['principals'], 'unknown principals command (none); expected create or list'],
    [['principals', 'create', 'alice'], 'missing --roles'],
    [['principals', 'create', '--roles', 'operator'], 'expected 1 argument(s), got 0'],
    [['principals', 'create', 'alice', '--roles', 'operator,,auditor'], '--roles must be a comma-separated list of roles without empty entries'],
    [['principals', 'list', 'extra'], 'Unexpected argument'],
    [['api-keys', 'rotate'], 'unknown api-keys command rotate; expected create, list or expire'],
    [['api-keys', 'create'], 'missing --principal'],
    [['api-keys', 'create', '--principal', 'alice', '--expires-in', 'soon'], '--expires-in: invalid duration "soon"'],
    [['api-keys', 'create', '--principal', 'alice', '--expires-in', '1h', '--expires-at', '2030-01-01'], 'give --expires-in or --expires-at, not both'],
    [['api-keys', 'create', '--principal', 'alice', '--expires-at', 'next week'], '--expires-at must be an ISO 8601 date or time'],
    [['api-keys', 'create', '--principal', 'alice', '--roles', ','], '--roles must be a comma-separated list'],
    [['api-keys', 'expire'], 'expected 1 argument(s), got 0'],
    [['api-keys', 'expire', 'ak_0123456789abcdef', '--at', '31/12/2030'], '--at must be an ISO 8601 date or time'],
    [['revoke'], 'unknown revoke kind (none)'],
    [['revoke', 'workflow', 'wf-1'], 'unknown revoke kind workflow'],
    [['revoke', 'principal'], 'expected 1 argument(s), got 0'],
    [['revoke', 'api-key', 'ak_0123456789abcdef', '--force'], "Unknown option '--force'"],
    [['revocations', 'show'], 'expected "revocations list"'],
    [['policy', 'check'], 'expected 1 argument(s), got 0'],
    [['worker', 'elsewhere'], 'unknown worker kind elsewhere'],
    [['worker', 'governance', '--policy', 'p.yaml'], 'missing --key, --bundle'],
  ])('%j', (args, message) => {
    const r = run(...args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stderr).toContain('Usage: temporal-governance');
  });

  test('no command at all', () => {
    const r = run();
    expect(r.code).toBe(2);
    expect(r.stdout).toContain('Usage: temporal-governance');
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
  expect(r.stdout).toMatch(/policy payments is valid: 5 rule\(s\)/);
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
