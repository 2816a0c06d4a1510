// An operator on call finds and understands denials in the Temporal Web UI, in a real browser, and
// with the operator CLI.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { governedEnv, uniqueName, type Env } from './helpers/harness';
import { launchChromium } from './helpers/browser';
import { payOnce } from './fixtures/workflows';

const screenshots = join(__dirname, '..', 'docs', 'screenshots');
const bin = join(__dirname, '..', 'bin', 'temporal-governance.js');
let env: Env;
let browser: Browser;
let allowedId: string;
let deniedId: string;
let deniedRunId: string;

beforeAll(async () => {
  env = await governedEnv();
  browser = await launchChromium();
  allowedId = uniqueName('ui-allowed');
  deniedId = uniqueName('ui-denied');
  await env.run(async () => {
    const allowed = await env.client.workflow.start(payOnce, { taskQueue: env.taskQueue, workflowId: allowedId, args: [100, uniqueName('ui')] });
    const denied = await env.client.workflow.start(payOnce, { taskQueue: env.taskQueue, workflowId: deniedId, args: [4_200, uniqueName('ui')] });
    deniedRunId = denied.firstExecutionRunId;
    await allowed.result();
    await denied.result().catch(() => undefined);
  });
  // Visibility is eventually consistent: wait until the denied run is searchable.
  for (let i = 0; i < 100; i++) {
    const found = [];
    for await (const wf of env.client.workflow.list({ query: `GovernanceDecision = "denied" AND WorkflowId = "${deniedId}"` })) found.push(wf);
    if (found.length > 0) break;
    await new Promise((r) => setTimeout(r, 200));
  }
}, 600_000);

afterAll(async () => {
  await browser?.close();
  await env?.close();
});

const ui = () => {
  const url = process.env.GOVERNANCE_TEST_UI_URL;
  if (!url) throw new Error('the test stack has no Web UI (TEMPORAL_ADDRESS points at an external server)');
  return url;
};

test('the workflow list filtered by GovernanceDecision = "denied" lists the denied workflow and not the allowed one', async () => {
  const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  try {
    const query = encodeURIComponent('GovernanceDecision = "denied"');
    await page.goto(`${ui()}/namespaces/default/workflows?query=${query}`);
    await page.getByText(deniedId).first().waitFor({ timeout: 30_000 });
    expect(await page.getByText(allowedId).count()).toBe(0);
    await page.screenshot({ path: join(screenshots, 'denied-workflows.png') });
  } finally {
    await page.close();
  }
});

test('the denied workflow page says what was denied, for whom, by which rule, and why', async () => {
  const page = await browser.newPage({ viewport: { width: 1600, height: 1200 } });
  try {
    await page.goto(`${ui()}/namespaces/default/workflows/${deniedId}/${deniedRunId}/history`);
    const sentence = page.getByText(/Governance denied activity charge for principal alice by rule deny-large-charges/).first();
    await sentence.waitFor({ timeout: 30_000 });
    const text = await sentence.innerText();
    expect(text).toContain('args[0].amount = 4200 (gt 1000)');
    expect(text).toContain('AMOUNT_OVER_LIMIT');
    await page.screenshot({ path: join(screenshots, 'denied-workflow.png'), fullPage: true });
  } finally {
    await page.close();
  }
});

test('denials list and denials show explain the denial from the command line', () => {
  const cliEnv = { ...process.env, TEMPORAL_ADDRESS: process.env.TEMPORAL_ADDRESS };
  const list = spawnSync(process.execPath, [bin, 'denials', 'list', '--since', '1h', '-o', 'json'], { encoding: 'utf8', env: cliEnv });
  expect(list.status).toBe(0);
  const rows = JSON.parse(list.stdout) as Array<{ workflowId: string; denyCode: string; principal: string }>;
  expect(rows).toContainEqual(expect.objectContaining({ workflowId: deniedId, denyCode: 'AMOUNT_OVER_LIMIT', principal: 'alice' }));
  expect(rows.map((r) => r.workflowId)).not.toContain(allowedId);

  const show = spawnSync(process.execPath, [bin, 'denials', 'show', deniedId], { encoding: 'utf8', env: cliEnv });
  expect(show.status).toBe(0);
  expect(show.stdout).toContain('Governance denied activity charge for principal alice by rule deny-large-charges');
  expect(show.stdout).toMatch(/decision id\s+dec_[0-9a-f]{32}/);

  const notDenied = spawnSync(process.execPath, [bin, 'denials', 'show', allowedId], { encoding: 'utf8', env: cliEnv });
  expect(notDenied.status).toBe(1);
  expect(notDenied.stdout).toContain('was not denied by governance');

  const badSince = spawnSync(process.execPath, [bin, 'denials', 'list', '--since', 'yesterday'], { encoding: 'utf8', env: cliEnv });
  expect(badSince.status).toBe(2);
  expect(badSince.stderr).toContain('invalid duration');
});

test('authorization activities carry a summary naming the call they authorize', async () => {
  const history = await env.client.workflow.getHandle(deniedId).fetchHistory();
  const summaries = (history.events ?? [])
    .filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'temporal-governance.authorize')
    .map((e) => e.userMetadata?.summary?.data && Buffer.from(e.userMetadata.summary.data).toString());
  expect(summaries).toEqual(['"authorize workflow payOnce"', '"authorize activity charge #2"']);
});
