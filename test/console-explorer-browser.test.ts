// The lineage explorer in real Chromium over a real governed run: find the root of a workflow that
// started a child whose charge was denied, open its tree, expand the child's nodes, open the denied
// record and read why; the arguments the policy saw are shown as text. Saves the screenshots
// docs/console.md shows, and checks the pages fit a phone's width.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { connectLineage } from '../src/lineage/store';
import { searchLineage } from '../src/lineage/queries';
import { launchChromium } from './helpers/browser';
import { startTestConsole, type TestConsole } from './helpers/console';
import { expectGovernanceDenied, governedEnv, mongoUri, uniqueName, type Env } from './helpers/harness';
import { parentPays, payTwice } from './fixtures/workflows';

const SCREENSHOTS = join(__dirname, '..', 'docs', 'screenshots');
const MARKER = '<script>alert("arg")</script>';

let env: Env;
let ui: TestConsole;
let browser: Browser;
let parentId: string;

/** Waits until lineage holds `count` records of `workflowId` (the lineage workflow persists asynchronously). */
async function lineageOf(database: string, workflowId: string, count: number): Promise<void> {
  const { client, db } = await connectLineage(mongoUri(), database);
  try {
    for (let i = 0; i < 300; i++) {
      if ((await searchLineage(db, { workflowId, limit: 50 })).items.length >= count) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`lineage of ${workflowId} never reached ${count} records`);
  } finally {
    await client.close();
  }
}

beforeAll(async () => {
  env = await governedEnv();
  parentId = uniqueName('parentPays');
  await env.run(async () => {
    const denied = await env.client.workflow.start(parentPays, { taskQueue: env.taskQueue, workflowId: parentId, args: [5000, MARKER] });
    const allowed = await env.client.workflow.start(payTwice, { taskQueue: env.taskQueue, workflowId: uniqueName('payTwice'), args: [300, 'invoice-7'] });
    await expectGovernanceDenied(denied).catch(() => undefined);
    await allowed.result();
    // parent: run grant, child-workflow artifact; child: run grant, denied charge.
    await lineageOf(env.lineageDatabase, parentId, 2);
    await lineageOf(env.lineageDatabase, `${parentId}-child`, 2);
  });
  ui = await startTestConsole({ database: env.lineageDatabase, webUiUrl: process.env.GOVERNANCE_TEST_UI_URL || 'http://127.0.0.1:8233' });
  browser = await launchChromium();
  mkdirSync(SCREENSHOTS, { recursive: true });
});
afterAll(async () => {
  await browser?.close();
  await ui?.stop();
  await env?.close();
});

async function noHorizontalOverflow(page: Page): Promise<void> {
  const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
  expect({ url: page.url(), overflow }).toEqual({ url: page.url(), overflow: 0 });
}

test('find the root, open its tree, expand a node, open the denied record and see why', async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  // Every response of the console is a success (the browser's own /favicon.ico guess aside).
  page.on('response', (r) => r.status() >= 400 && !r.url().endsWith('/favicon.ico') && errors.push(`${r.status()} ${r.url()}`));

  // Search roots of this workflow id through the form.
  await page.goto(`${ui.url}/lineage`);
  await page.screenshot({ path: join(SCREENSHOTS, 'console-explorer.png'), fullPage: true });
  await page.fill('input[name=workflowId]', parentId);
  await page.check('input[name=roots]');
  await page.click('button[type=submit]');
  expect(new URL(page.url()).searchParams.get('workflowId')).toBe(parentId);
  const rows = page.locator('table.results tbody tr');
  await expect(rows.count()).resolves.toBe(1);
  await expect(rows.first().innerText()).resolves.toContain('workflow parentPays');

  // Its tree: the run grant, then its child-workflow artifact (first level, rendered by the server).
  await rows.first().locator('a', { hasText: 'tree' }).click();
  await page.waitForSelector('ul.tree');
  const childGrant = page.locator('li.node', { has: page.locator('> .node-head .call', { hasText: 'child-workflow payOnce' }) });
  await expect(childGrant.count()).resolves.toBe(1);
  // Expand it: the child's run grant is loaded by explorer.js; expand that: the denied charge.
  await childGrant.locator('> .node-head button.toggle').click();
  const childRun = childGrant.locator('> ul.children > li.node', { has: page.locator('> .node-head .call', { hasText: 'workflow payOnce' }) });
  await childRun.waitFor();
  await childRun.locator('> .node-head button.toggle').click();
  const denied = childRun.locator('> ul.children > li.node-deny');
  await denied.waitFor();
  await expect(denied.locator('> .node-head').innerText()).resolves.toContain('AMOUNT_OVER_LIMIT');
  // Its details: the reason, and the arguments the policy saw, loaded on demand, shown as text.
  await denied.locator('> details > summary').click();
  await expect(denied.locator('> details').innerText()).resolves.toContain('charges above 1000 need a second approver');
  await denied.locator('button[data-arguments]').click();
  const args = denied.locator('.args-found');
  await args.waitFor();
  await expect(args.innerText()).resolves.toContain(JSON.stringify(MARKER));
  await expect(args.innerText()).resolves.toContain('digest matches the signed argsDigest');
  await page.screenshot({ path: join(SCREENSHOTS, 'console-tree.png'), fullPage: true });
  // Collapse and expand again: no second load, the children stay.
  await childGrant.locator('> .node-head button.toggle').click();
  await expect(childGrant.locator('> ul.children').isHidden()).resolves.toBe(true);
  await childGrant.locator('> .node-head button.toggle').click();
  await expect(childRun.isVisible()).resolves.toBe(true);

  // The denied record's page: why, in words.
  await denied.locator('> .node-head a.node-id').click();
  await page.waitForSelector('#deny-code');
  await expect(page.locator('#deny-code').innerText()).resolves.toBe('AMOUNT_OVER_LIMIT');
  await expect(page.locator('#deny-reason').innerText()).resolves.toContain('charges above 1000 need a second approver; args[0].amount = 5000 (gt 1000)');
  await expect(page.locator('.why').innerText()).resolves.toContain('deny-large-charges');
  await expect(page.locator('td.arguments').innerText()).resolves.toContain(JSON.stringify(MARKER));
  await expect(page.locator('a', { hasText: 'Verify in the proof viewer' }).getAttribute('href')).resolves.toMatch(/^\/proof\?record=den_[0-9a-f]{32}$/);
  await expect(page.locator('#web-ui-link').getAttribute('href')).resolves.toMatch(new RegExp(`/namespaces/default/workflows/${parentId}-child/[0-9a-f-]{36}/history$`));
  // The marker was never run as a script.
  await expect(page.evaluate<number>("document.querySelectorAll('script:not([src])').length")).resolves.toBe(0);
  await page.screenshot({ path: join(SCREENSHOTS, 'console-record-denied.png'), fullPage: true });
  expect(errors).toEqual([]);
  await page.close();
});

test('at phone width (390 px) no page scrolls sideways', async () => {
  const page = await browser.newPage({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 1 });
  await page.goto(`${ui.url}/lineage`);
  await noHorizontalOverflow(page);
  await page.screenshot({ path: join(SCREENSHOTS, 'console-explorer-phone.png'), fullPage: true });
  const { client, db } = await connectLineage(mongoUri(), env.lineageDatabase);
  let rootId: string;
  let deniedId: string;
  try {
    const root = (await searchLineage(db, { workflowId: parentId, rootsOnly: true, limit: 1 })).items[0]!;
    const denial = (await searchLineage(db, { workflowId: `${parentId}-child`, decision: 'deny', limit: 1 })).items[0]!;
    rootId = root.ok ? root.record._id : root.id;
    deniedId = denial.ok ? denial.record._id : denial.id;
  } finally {
    await client.close();
  }
  await page.goto(`${ui.url}/lineage/roots/${rootId}`);
  await page.locator('li.node button.toggle').nth(1).click();
  await page.locator('li.node li.node').first().waitFor();
  await page.locator('li.node details > summary').first().click();
  await noHorizontalOverflow(page);
  await page.goto(`${ui.url}/lineage/records/${deniedId}`);
  await noHorizontalOverflow(page);
  await page.goto(`${ui.url}/lineage?decision=nope`);
  await noHorizontalOverflow(page);
  await page.close();
});
