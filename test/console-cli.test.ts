// `temporal-governance console` as an operator runs it: a real process against the test stack.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cliBin, readUntil } from './helpers/cli-process';
import { uniqueDatabase } from './lineage-fixture';

describe('console command', () => {
  let child: ChildProcess | undefined;
  afterEach(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
  });

  test('serves until SIGTERM, then exits 0', async () => {
    child = spawn(process.execPath, [cliBin, 'console', '--port', '0', '--database', uniqueDatabase('console_cli')], { env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    const output = await readUntil(child, /Console: http:\/\/127\.0\.0\.1:\d+\n/, 30_000).catch((err: Error) => {
      throw new Error(`${err.message}\nstderr:\n${stderr}`);
    });
    expect(output).toContain('No --bundle given: records are shown unverified.');
    const url = /Console: (\S+)/.exec(output)![1]!;
    expect((await fetch(`${url}/`)).status).toBe(200);
    const exited = new Promise<number | null>((resolve) => child!.once('exit', resolve));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr).toBe('');
  });

  test.each([
    [['--port', 'http'], /--port must be an integer from 0 to 65535/],
    [['--host', '0.0.0.0'], /binding 0\.0\.0\.0 \(not loopback\) requires a bearer token/],
    [['--web-ui', 'not a url'], /--web-ui: Invalid URL/],
    [['--bogus'], /Unknown option '--bogus'/],
  ])('bad arguments %j: usage error, exit 2, nothing served', (args, message) => {
    const r = spawnSync(process.execPath, [cliBin, 'console', ...args], { encoding: 'utf8', env: { ...process.env, TEMPORAL_GOVERNANCE_CONSOLE_TOKEN: '' } });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toContain('Usage: temporal-governance console');
    expect(r.stdout).toBe('');
  });

  test('an unreadable trust bundle or a missing MONGODB_URI: one line, exit 1', () => {
    const bundle = spawnSync(process.execPath, [cliBin, 'console', '--bundle', '/nonexistent/bundle.json'], { encoding: 'utf8', env: process.env });
    expect(bundle.status).toBe(1);
    expect(bundle.stderr).toMatch(/bundle/);
    expect(bundle.stderr.trim().split('\n')).toHaveLength(1);
    const mongo = spawnSync(process.execPath, [cliBin, 'console'], { encoding: 'utf8', env: { ...process.env, MONGODB_URI: '' } });
    expect(mongo.status).toBe(1);
    expect(mongo.stderr).toMatch(/MONGODB_URI is not set/);
  });
});
