// The scale test (`npm run bench -- --scale`, bench/scale.ts) as a real process at tiny sizes, on the
// jest stack (TEMPORAL_ADDRESS / MONGODB_URI from globalSetup): its report has every table, every
// issued decision is stored once quiet, and the workflows end as the policy says.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(__dirname, '..');
const bench = join(root, 'bench', 'run.ts');

function runBench(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['-r', require.resolve('ts-node/register/transpile-only'), bench, ...args], { cwd: root, env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'bench-scale-test-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  // A failed run's report, for whoever reads the test output.
  try {
    process.stderr.write(`scale report decisions: ${JSON.stringify(JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')).decisions)}\n`);
  } catch {
    // no report written
  }
});

test('scale options outside --scale are a usage error (exit 2), before any server is touched', async () => {
  const r = await runBench(['--soak-workflows', '5']);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain('--soak-workflows is an option of --scale');
});

test('--fault mongo-restart refuses a MongoDB the bench did not start', async () => {
  const r = await runBench(['--scale', '--soak-workflows', '1', '--chain-depth', '0', '--fault', 'mongo-restart']);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain('--fault mongo-restart restarts the MongoDB server the bench started itself');
});

test('a tiny scale run stores every issued decision and prints the whole report', async () => {
  const reportPath = join(dir, 'report.json');
  const soakWorkflows = 6;
  const soakCalls = 2;
  const chainDepth = 4;
  const r = await runBench([
    '--scale',
    '--soak-workflows', String(soakWorkflows),
    '--soak-calls', String(soakCalls),
    '--soak-concurrency', '3',
    '--deny-every', '3',
    '--chain-depth', String(chainDepth),
    '--quiet-timeout-s', '60',
    '--report-json', reportPath,
  ]);
  if (r.code !== 0) throw new Error(`scale bench exited ${r.code}:\n${r.stdout}\n${r.stderr.slice(-4000)}`);
  for (const title of [
    'Scale: workflow outcomes',
    'Scale: decisions issued (governance worker) vs stored (MongoDB) once quiet',
    'Scale: lineage lag',
    'Scale: memory',
    'Scale: largest histories',
    'Scale: largest payloads by place in the history',
    'scale: PASS',
  ]) {
    expect(r.stdout).toContain(title);
  }

  const report = JSON.parse(readFileSync(reportPath, 'utf8'));
  expect(report.problems).toEqual([]);
  // Soak: workflows 2 and 5 (every 3rd) end with the policy's denial, the others complete.
  expect(report.outcomes.soak).toMatchObject({ workflows: soakWorkflows, completed: 4, denied: { NEGATIVE_SEQUENCE: 2 }, failed: {}, unexpected: 0 });
  expect(report.outcomes.chain).toMatchObject({ workflows: 1, completed: 1, unexpected: 0, runs: chainDepth + 1 });

  // Every issued decision is stored, per section. Soak: a run grant + its calls per workflow.
  // Chain: per run a run grant and a call, plus a continue-as-new decision for every run but the
  // last. A decision can be stored and never returned (it is written ahead of its return, and an
  // attempt can be lost after that on a loaded machine): counted, never a missing one.
  // "Issued" is counted from the governance worker's decision log lines; under load a decision can
  // reach the store and its workflow without its line being counted (seen 1 in 14 on a loaded CI
  // machine). What the store holds is the evidence: exactly the expected decisions, none missing.
  const { soak, chain, total } = report.decisions;
  if (total.storedNotIssued > 0) console.log(`scale bench: stored but not counted as issued: ${JSON.stringify(total.samples.storedNotIssued)}`);
  expect(soak).toMatchObject({ stored: soakWorkflows * (1 + soakCalls), missing: 0 });
  expect(chain).toMatchObject({ stored: 3 * (chainDepth + 1) - 1, issuedDenials: 0, missing: 0 });
  expect(soak.stored).toBe(soak.issued + soak.storedNotIssued);
  expect(chain.stored).toBe(chain.issued + chain.storedNotIssued);
  expect(total.missing).toBe(0);
  expect(report.quiet).toMatchObject({ reached: true, outboxLeft: 0, deadLetters: 0 });

  expect(report.lineageLagMs.all.records).toBe(total.stored);
  expect(report.lineageLagMs.all.p95).toBeGreaterThanOrEqual(report.lineageLagMs.all.p50);

  // This process and the governance child are measured; the jest stack's servers are not the bench's.
  const memory = Object.fromEntries(report.memory.map((m: { name: string }) => [m.name, m]));
  expect(memory['bench (client + app worker)'].rssKiB).toBeGreaterThan(0);
  expect(memory['governance worker'].hwmKiB).toBeGreaterThan(0);
  expect(memory['Temporal server'].pid).toBeNull();

  // Every workflow's history: the soak's, every chain run's and each root's lineage runs (at least
  // one per root; an idle lineage run ends and the next record starts another).
  expect(report.histories.read).toBeGreaterThanOrEqual(soakWorkflows + (chainDepth + 1) + soakWorkflows + 1);
  expect(report.histories.largestByBytes.bytes).toBeGreaterThan(0);
  const places = report.histories.payloads.map((p: { where: string }) => p.where);
  expect(places).toContain('activityTaskScheduledEventAttributes.input.payloads');
  expect(places).toContain('workflowExecutionContinuedAsNewEventAttributes.header.fields[temporal-governance-parent-grant]');
});
