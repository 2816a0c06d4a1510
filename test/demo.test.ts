// `temporal-governance demo --keep-running` as a newcomer runs it: a real process against the test
// stack (TEMPORAL_ADDRESS / MONGODB_URI from global-setup). It must print everything the CLI needs
// to reach what it leaves running, and its private signing key must not survive an interrupt.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { MongoClient } from 'mongodb';
import { readUntil } from './helpers/cli-process';

const bin = join(__dirname, '..', 'bin', 'temporal-governance.js');

function demoKeyDirs(): string[] {
  return readdirSync(tmpdir()).filter((name) => name.startsWith('governance-demo-keys-'));
}

describe('demo --keep-running', () => {
  let demo: ChildProcess | undefined;
  afterEach(() => {
    if (demo && demo.exitCode === null) demo.kill('SIGKILL');
  });

  it('prints the addresses, database and bundle the CLI needs, and removes its key material on Ctrl-C', async () => {
    const before = new Set(demoKeyDirs());
    // A Temporal dev server of the demo's own (its task queues are fixed names other tests' workers
    // may poll on the shared one); MongoDB is the test stack's.
    const env = { ...process.env, TEMPORAL_ADDRESS: '' };
    demo = spawn(process.execPath, [bin, 'demo', '--keep-running'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    demo.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    const output = await readUntil(demo, /lineage denials --database \S+/, 110_000).catch((err: Error) => {
      throw new Error(`${err.message}\nstderr:\n${stderr}`);
    });

    const temporal = /export TEMPORAL_ADDRESS=(127\.0\.0\.1:\d+) TEMPORAL_NAMESPACE=default/.exec(output);
    expect(temporal).not.toBeNull();
    expect(output).toMatch(/# Temporal Web UI: http:\/\/127\.0\.0\.1:\d+/);
    expect(output).toContain(`export MONGODB_URI='${process.env.MONGODB_URI}'`);
    const verify = /npx temporal-governance lineage verify --bundle (\S+) --database (\S+)/.exec(output);
    expect(verify).not.toBeNull();
    const [, bundlePath, database] = verify!;

    // The console serves the demo's lineage while the demo keeps running.
    const consoleUrl = /Governance console \(lineage explorer, proof viewer, health\): (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
    expect(consoleUrl).not.toBeNull();
    const home = await fetch(`${consoleUrl![1]}/`);
    expect(home.status).toBe(200);
    expect(await home.text()).toContain(`<code>${database}</code>`);

    // The printed command works as printed, while the demo keeps running.
    const cliEnv = { ...process.env, TEMPORAL_ADDRESS: temporal![1], TEMPORAL_NAMESPACE: 'default' };
    const run = spawnSync(process.execPath, [bin, 'lineage', 'verify', '--bundle', bundlePath!, '--database', database!], { encoding: 'utf8', env: cliEnv });
    expect([run.status, `${run.stdout}${run.stderr}`]).toEqual([0, expect.stringMatching(/verified [1-9]\d* record\(s\) in 6 root\(s\): 0 violation\(s\)/)]);
    const denials = spawnSync(process.execPath, [bin, 'denials', 'list', '--since', '1h', '-o', 'json'], { encoding: 'utf8', env: cliEnv });
    expect(denials.status).toBe(0);
    expect((JSON.parse(denials.stdout) as unknown[]).length).toBeGreaterThanOrEqual(3);
    // Nothing signs any more: the private key is gone already, the public bundle stays for verify.
    const keyDir = dirname(bundlePath!);
    expect(readdirSync(keyDir)).toEqual(['trust-bundle.json']);

    const exited = new Promise<number | null>((resolve) => demo!.once('exit', (code) => resolve(code)));
    demo.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(existsSync(keyDir)).toBe(false);
    expect(demoKeyDirs().filter((d) => !before.has(d))).toEqual([]);

    const client = new MongoClient(process.env.MONGODB_URI!, { serverSelectionTimeoutMS: 5_000 });
    try {
      await client.db(database).dropDatabase();
    } finally {
      await client.close();
    }
  }, 150_000);
});
