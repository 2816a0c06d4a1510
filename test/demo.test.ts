// `temporal-governance demo --keep-running` as a newcomer runs it: a real process against the test
// stack (TEMPORAL_ADDRESS / MONGODB_URI from global-setup). It must print everything the CLI needs
// to reach what it leaves running, and its private signing key must not survive an interrupt. Its
// governed signal, update and Schedule scenarios are checked against what the server and lineage
// recorded, and their histories replay.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Client, Connection, ScheduleNotFoundError } from '@temporalio/client';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { MongoClient } from 'mongodb';
import { lineageCollection } from '../src/lineage/store';
import { GovernancePlugin } from '../src/plugin';
import { launchChromium } from './helpers/browser';
import { readUntil } from './helpers/cli-process';

const bin = join(__dirname, '..', 'bin', 'temporal-governance.js');

function demoKeyDirs(): string[] {
  return readdirSync(tmpdir()).filter((name) => name.startsWith('governance-demo-keys-'));
}

// The replay workers below log at ERROR only.
Runtime.install({ logger: new DefaultLogger('ERROR') });

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
    // In Chromium: find the over-limit invoice's root, open its tree, see why its charge was denied.
    const overLimit = /inv-1002-[a-z0-9]+/.exec(output)![0];
    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      await page.goto(`${consoleUrl![1]}/lineage?workflowId=${overLimit}&roots=1`);
      const rows = page.locator('table.results tbody tr');
      await expect(rows.count()).resolves.toBe(1);
      await rows.first().locator('a[href^="/lineage/roots/"]').first().click();
      await page.waitForURL(/\/lineage\/roots\//);
      await expect(page.locator('code.deny').first().innerText()).resolves.toBe('AMOUNT_OVER_LIMIT');
    } finally {
      await browser.close();
    }

    // The printed command works as printed, while the demo keeps running.
    const cliEnv = { ...process.env, TEMPORAL_ADDRESS: temporal![1], TEMPORAL_NAMESPACE: 'default' };
    const run = spawnSync(process.execPath, [bin, 'lineage', 'verify', '--bundle', bundlePath!, '--database', database!], { encoding: 'utf8', env: cliEnv });
    // Six started runs, the held invoice's run, the scheduled run.
    expect([run.status, `${run.stdout}${run.stderr}`]).toEqual([0, expect.stringMatching(/verified [1-9]\d* record\(s\) in 8 root\(s\): 0 violation\(s\)/)]);
    const denials = spawnSync(process.execPath, [bin, 'denials', 'list', '--since', '1h', '-o', 'json'], { encoding: 'utf8', env: cliEnv });
    expect(denials.status).toBe(0);
    expect((JSON.parse(denials.stdout) as unknown[]).length).toBeGreaterThanOrEqual(3);
    // The held invoice: one line per approval, each refused or admitted on its sender's key.
    expect(output).toMatch(/Support agent approves a held invoice \(signal\)\s+support-agent\s+inv-1007-\S+\s+DROPPED\s+no\s+\(default deny\)\s+NO_MATCHING_ALLOW: .*signal approve for principal support-agent.*still awaiting approval/);
    expect(output).toMatch(/Billing bot approves its own invoice \(update\)\s+payments-bot\s+inv-1007-\S+\s+DENIED\s+no\s+no-self-approval\s+SELF_APPROVAL: .*GovernanceDenied, the invoice is still awaiting approval/);
    const held = /Finance approves the held invoice \(signal\)\s+finance-approver\s+(inv-1007-\S+)\s+COMPLETED\s+yes\s+-\s+ch_INV-1007/.exec(output);
    expect(held).not.toBeNull();
    const scheduled = /Monthly settlement run by a Schedule\s+billing-scheduler\s+(inv-1008-\S+)\s+COMPLETED\s+yes\s+-\s+ch_INV-1008 .*run granted to billing-scheduler by schedule (monthly-settlement-\S+)/.exec(output);
    expect(scheduled).not.toBeNull();

    const connection = await Connection.connect({ address: temporal![1] });
    const mongo = new MongoClient(process.env.MONGODB_URI!, { serverSelectionTimeoutMS: 5_000 });
    try {
      const temporalClient = new Client({ connection, namespace: 'default' });
      // The demo deleted its schedule.
      await expect(temporalClient.schedule.getHandle(scheduled![2]!).describe()).rejects.toBeInstanceOf(ScheduleNotFoundError);
      // Lineage names each approval's sender, under the held run's root.
      const messages = await lineageCollection(mongo.db(database!))
        .find({ action: { $in: ['signal', 'update'] } }, { projection: { _id: 0, action: 1, target: 1, principal: 1, decision: 1 } })
        .toArray();
      expect(messages.map((m) => `${m.action} ${m.target} ${m.principal} ${m.decision}`).sort()).toEqual([
        'signal approve finance-approver allow',
        'signal approve support-agent deny',
        'update approveAndCharge payments-bot deny',
      ]);
      // The held invoice (refused signal, refused update, admitted signal) and the scheduled run replay.
      for (const workflowId of [held![1]!, scheduled![1]!]) {
        const history = await temporalClient.workflow.getHandle(workflowId).fetchHistory();
        await Worker.runReplayHistory(
          // The trust bundle too: the workflow verifies the admitted signal's decision against it.
          { workflowsPath: require.resolve('../examples/payments/workflows'), plugins: [new GovernancePlugin({ trustBundle: bundlePath!, workflow: { taskQueue: 'temporal-governance' } })] },
          history,
          workflowId,
        );
      }
    } finally {
      await mongo.close();
      await connection.close();
    }

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
