// The package as users get it: `npm pack` (prepack builds dist/), installed from the tarball into an
// empty app outside the repository, used through its public entry points only. Nothing from the
// repository is on that app's module path; its node_modules come from the npm registry.
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { MongoClient } from 'mongodb';
import { DEFAULT_DATABASE } from '../src/lineage/store';
import { freePort } from '../src/stack/stack';
import { ensureTemporalCli } from '../src/stack/tools';
import { address, mongoUri, uniqueName } from './helpers/harness';

const repo = join(__dirname, '..');
const work = mkdtempSync(join(tmpdir(), 'governance-pack-'));
const stage = join(work, 'stage');
const app = join(work, 'app');
const installed = join(app, 'node_modules', 'temporal-governance');

// npm's own variables (set when jest runs under `npm test`) would point the nested npm at this repo.
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_')));

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): SpawnSyncReturns<string> {
  const result = spawnSync(command, args, { cwd, env: { ...cleanEnv, ...env }, encoding: 'utf8', timeout: 240_000 });
  if (result.error) throw result.error;
  return result;
}

function ok(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): string {
  const result = run(command, args, cwd, env);
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${result.status}:\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

let tarball: string;

beforeAll(() => {
  // Pack a copy, so prepack's clean build does not replace the checkout's own dist/.
  mkdirSync(stage);
  for (const entry of ['package.json', 'tsconfig.json', 'tsconfig.build.json', 'README.md', 'src', 'interceptors', 'activities', 'workflows', 'examples', 'bin', 'tools', 'docs']) {
    cpSync(join(repo, entry), join(stage, entry), { recursive: true });
  }
  symlinkSync(join(repo, 'node_modules'), join(stage, 'node_modules'));
  ok('npm', ['pack', '--pack-destination', work], stage);
  const packed = readdirSync(work).filter((f) => f.endsWith('.tgz'));
  expect(packed).toHaveLength(1);
  tarball = join(work, packed[0]!);

  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'governed-app', version: '1.0.0', private: true }));
  ok('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], app);
  for (const file of ['main.ts', 'workflows.ts', 'activities.ts', 'policy.yaml']) copyFileSync(join(__dirname, 'fixtures', 'pack-app', file), join(app, file));
}, 300_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

test('the tarball carries the compiled code and every runtime asset, and no TypeScript sources to run', () => {
  process.stdout.write(`packed ${tarball}: ${statSync(tarball).size} bytes\n`);
  for (const asset of [
    'dist/src/index.js',
    'dist/src/client.js',
    'dist/src/workflow.js',
    'dist/src/testing.js',
    'dist/src/testing.d.ts',
    'dist/src/cli/main.js',
    'dist/interceptors/workflow/index.js',
    'dist/workflows/lineage.js',
    'dist/src/stack/supervisor.js',
    'dist/src/console/assets/proof-viewer.js',
    'dist/examples/payments/policy.yaml',
    'tools/ferretdb/go.mod',
    'tools/ferretdb/go.sum',
    'tools/ferretdb/main.go',
  ]) {
    expect([asset, existsSync(join(installed, asset))]).toEqual([asset, true]);
  }
  expect(existsSync(join(installed, 'src'))).toBe(false);
  expect(existsSync(join(installed, 'tsconfig.json'))).toBe(false);
});

test('the installed CLI runs compiled, without ts-node', () => {
  expect(existsSync(join(app, 'node_modules', 'ts-node'))).toBe(false);
  const help = run('npx', ['--no-install', 'temporal-governance', 'help'], app);
  expect(help.stderr).toBe('');
  expect(help.status).toBe(0);
  expect(help.stdout).toMatch(/^Usage: temporal-governance <command>/);
  const version = run('npx', ['--no-install', 'temporal-governance', '--version'], app);
  expect(version.status).toBe(0);
  expect(version.stdout.trim()).toBe(`temporal-governance version ${JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')).version}`);
  const check = run('npx', ['--no-install', 'temporal-governance', 'policy', 'check', join(installed, 'dist', 'examples', 'payments', 'policy.yaml')], app);
  expect(check.status).toBe(0);
  expect(check.stdout).toMatch(/^policy payments is valid/);
});

/** Runs the installed supervisor over `node -e script`; resolves with its exit code. */
function supervise(script: string, closeStdinAfterMs?: number): Promise<number | null> {
  const supervisor = spawn(process.execPath, [join(installed, 'dist', 'src', 'stack', 'supervisor.js'), process.execPath, '-e', script], { stdio: ['pipe', 'ignore', 'inherit'] });
  if (closeStdinAfterMs !== undefined) setTimeout(() => supervisor.stdin.end(), closeStdinAfterMs);
  return new Promise((resolve, reject) => {
    supervisor.once('error', reject);
    supervisor.once('exit', (code) => resolve(code));
  });
}

test('the installed supervisor (the dev stack runs every server under it) passes on the exit code and stops its server when its parent goes', async () => {
  expect(await supervise('process.exit(3)')).toBe(3);
  // A server that would run for a minute: the end of stdin (its parent gone) stops it, exit code 0.
  expect(await supervise('setTimeout(() => process.exit(4), 60_000)', 200)).toBe(0);
});

const loadedBy = (entry: string): string[] =>
  JSON.parse(ok(process.execPath, ['-e', `require(${JSON.stringify(entry)}); console.log(JSON.stringify(Object.keys(require.cache)))`], app)) as string[];

test('temporal-governance/client loads neither the worker (its native bridge) nor the MongoDB driver', () => {
  const client = loadedBy('temporal-governance/client');
  expect(client.filter((m) => /[\\/]node_modules[\\/](mongodb|@temporalio[\\/](worker|core-bridge))[\\/]/.test(m))).toEqual([]);
  expect(client.some((m) => m.startsWith(join(installed, 'dist', 'src', 'plugin.js')))).toBe(true);
  // The root entry point is the worker's: it does load them (what the client entry is spared).
  const root = loadedBy('temporal-governance');
  expect(root.some((m) => /[\\/]node_modules[\\/]mongodb[\\/]/.test(m))).toBe(true);
  expect(root.some((m) => /[\\/]node_modules[\\/]@temporalio[\\/]core-bridge[\\/]/.test(m))).toBe(true);
});

test('an app type-checks against the installed declarations, with node10 and node16 module resolution', () => {
  const tsc = join(repo, 'node_modules', 'typescript', 'bin', 'tsc');
  const common = ['--strict', '--skipLibCheck', '--esModuleInterop', '--target', 'ES2022', '--typeRoots', join(repo, 'node_modules', '@types'), '--types', 'node'];
  ok(process.execPath, [tsc, ...common, '--module', 'commonjs', '--moduleResolution', 'node', '--outDir', 'build', 'main.ts', 'workflows.ts', 'activities.ts'], app);
  ok(process.execPath, [tsc, ...common, '--module', 'node16', '--moduleResolution', 'node16', '--noEmit', 'main.ts', 'workflows.ts', 'activities.ts'], app);
}, 120_000);

test('a governed workflow through the installed package: allowed within policy, denied outside it', () => {
  expect(existsSync(join(app, 'build', 'main.js'))).toBe(true); // compiled by the test above
  const database = uniqueName('pack').replace(/-/g, '_');
  const stackEnv = { TEMPORAL_ADDRESS: address(), MONGODB_URI: mongoUri() };
  const cli = (...args: string[]) => ok('npx', ['--no-install', 'temporal-governance', ...args], app, stackEnv);
  cli('signing-keys', 'generate', '--key', 'signing-key.json', '--bundle', 'trust-bundle.json', '--kid', 'pack-test');
  cli('principals', 'create', 'billing', '--roles', 'operator', '--database', database);
  const apiKey = cli('api-keys', 'create', '--principal', 'billing', '--database', database).split('\n').find((line) => line.startsWith('tgk.'));
  expect(apiKey).toBeDefined();

  const outcome = ok(process.execPath, [join('build', 'main.js')], app, {
    ...stackEnv,
    APP_DATABASE: database,
    APP_API_KEY: apiKey!,
    APP_SIGNING_KEY: join(app, 'signing-key.json'),
    APP_TRUST_BUNDLE: join(app, 'trust-bundle.json'),
    APP_SUFFIX: database,
  });
  expect(JSON.parse(outcome.trim().split('\n').pop()!)).toEqual({ allowed: expect.stringMatching(/^charged 10 sha256:[0-9a-f]{7}$/), denied: 'NO_MATCHING_ALLOW' });
}, 180_000);

/** One fenced block of the README's "Wire it into your project" section, in order. */
type ReadmeBlock = { kind: 'sh'; text: string } | { kind: 'file'; name: string; text: string };

function wireInBlocks(): ReadmeBlock[] {
  const readme = readFileSync(join(repo, 'README.md'), 'utf8');
  const section = readme.split('\n## Wire it into your project\n')[1]?.split('\n## ')[0];
  if (!section) throw new Error('README.md has no "Wire it into your project" section');
  return [...section.matchAll(/^( *)```(\w+)\n([\s\S]*?)^\1```$/gm)].map(([, indent = '', lang, body = '']) => {
    const text = body
      .split('\n')
      .map((line) => (line.startsWith(indent) ? line.slice(indent.length) : line))
      .join('\n');
    if (lang === 'sh') return { kind: 'sh', text };
    // A file block names itself on its first line: `// worker.ts`, `# policy.yaml`.
    const name = /^(?:\/\/|#) ([\w.-]+\.(?:ts|yaml))$/.exec(text.split('\n')[0] ?? '')?.[1];
    if (!name) throw new Error(`README block without a file name on its first line:\n${text}`);
    return { kind: 'file', name, text };
  });
}


async function dropDefaultDatabase(): Promise<void> {
  const client = new MongoClient(mongoUri(), { serverSelectionTimeoutMS: 5_000 });
  try {
    await client.db(DEFAULT_DATABASE).dropDatabase();
  } finally {
    await client.close();
  }
}

test("the README's 'Wire it into your project' steps run as written in an empty directory", async () => {
  const blocks = wireInBlocks();
  expect(blocks.filter((b) => b.kind === 'file').map((b) => (b as { name: string }).name)).toEqual(['policy.yaml', 'governance-worker.ts', 'worker.ts', 'start.ts']);
  const dir = join(work, 'readme-app');
  mkdirSync(dir);
  // "Your" workflow and activity code, which the README refers to but does not show.
  for (const file of ['workflows.ts', 'activities.ts']) copyFileSync(join(__dirname, 'fixtures', 'readme-app', file), join(dir, file));

  // The steps, in order, as one shell session (exports carry over). Two substitutions only: npm
  // installs the packed tarball instead of the registry's release, and a command marked
  // `# own terminal` runs in the background, as if in a terminal of its own.
  const script = ['set -euo pipefail'];
  let terminals = 0;
  for (const block of blocks) {
    if (block.kind === 'file') {
      writeFileSync(join(dir, block.name), block.text);
      continue;
    }
    for (const line of block.text.split('\n')) {
      const own = /^(.*\S)\s+# own terminal$/.exec(line);
      const command = (own ? own[1]! : line).replace(/^npm install temporal-governance /, `npm install ${tarball} `);
      script.push(own ? `${command} > terminal-${++terminals}.log 2>&1 & echo $! >> terminals.pids` : command);
    }
  }
  expect(terminals).toBe(2);

  // A Temporal server of its own, without the search attributes (step 5 registers them), so the
  // README's default task queues meet no other test's workers; the default database is this test's.
  const temporal = ensureTemporalCli();
  const port = await freePort();
  const server = spawn(temporal, ['server', 'start-dev', '--headless', '--ip', '127.0.0.1', '--port', String(port), '--log-level', 'error'], { stdio: 'ignore' });
  const temporalAddress = `127.0.0.1:${port}`;
  await dropDefaultDatabase();
  try {
    for (let i = 0; run(temporal, ['operator', 'cluster', 'health', '--address', temporalAddress], dir).status !== 0; i++) {
      if (i > 60) throw new Error('the Temporal dev server did not start');
      await new Promise((r) => setTimeout(r, 500));
    }
    const env = {
      TEMPORAL_ADDRESS: temporalAddress,
      MONGODB_URI: mongoUri(),
      PATH: `${dirname(temporal)}${delimiter}${process.env.PATH}`,
      npm_config_prefer_offline: 'true',
      npm_config_audit: 'false',
      npm_config_fund: 'false',
    };
    const steps = run('bash', ['-c', script.join('\n')], dir, env);
    const terminalLogs = () =>
      Array.from({ length: terminals }, (_, i) => join(dir, `terminal-${i + 1}.log`))
        .filter(existsSync)
        .map((f) => `--- ${f}\n${readFileSync(f, 'utf8')}`)
        .join('\n');
    const pids = existsSync(join(dir, 'terminals.pids')) ? readFileSync(join(dir, 'terminals.pids'), 'utf8').split('\n').filter(Boolean).map(Number) : [];
    try {
      if (steps.status !== 0) throw new Error(`the README steps failed (exit ${steps.status}):\n${steps.stdout}\n${steps.stderr}\n${terminalLogs()}`);
      // Step 8's output: the small charge ran, the large one was denied and never reached the body.
      expect(steps.stdout).toMatch(/^charged 250 for invoice-250-\d+$/m);
      expect(steps.stdout).toMatch(/^invoice-25000-\d+ denied: .*NO_MATCHING_ALLOW/m);
      expect(existsSync(join(dir, 'charged-250'))).toBe(true);
      expect(existsSync(join(dir, 'charged-25000'))).toBe(false);
      expect(statSync(join(dir, 'secrets')).mode & 0o777).toBe(0o700);
    } finally {
      // Stop each "terminal": both workers drain and exit. SIGTERM, as a service manager would send:
      // bash starts background commands with SIGINT ignored, so Ctrl-C cannot be imitated here.
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          // already gone
        }
      }
      const lingering: number[] = [];
      for (const pid of pids) {
        for (let i = 0; i < 60 && isAlive(pid); i++) await new Promise((r) => setTimeout(r, 500));
        if (isAlive(pid)) {
          lingering.push(pid);
          process.kill(pid, 'SIGKILL');
        }
      }
      if (steps.status === 0 && lingering.length > 0) throw new Error(`worker(s) still running 30 s after SIGTERM:\n${terminalLogs()}`);
    }
  } finally {
    server.kill('SIGKILL');
    await dropDefaultDatabase();
  }
}, 420_000);

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
