// The package as users get it: `npm pack` (prepack builds dist/), installed from the tarball into an
// empty app outside the repository, used through its public entry points only. Nothing from the
// repository is on that app's module path; its node_modules come from the npm registry.
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
    'dist/src/cli/main.js',
    'dist/interceptors/workflow/index.js',
    'dist/workflows/lineage.js',
    'dist/src/stack/supervisor.js',
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
