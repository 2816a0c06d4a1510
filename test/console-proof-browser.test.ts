// The proof viewer in real chromium (Debian's, through playwright-core) on the real stack: a record
// opened by id verifies in the browser with every check passing; a pasted tampered artifact names
// the failing check; the auditor's own trust bundle without the signing key fails the signature.
// Saves docs/screenshots/console-proof-{pass,tampered,phone}.png.
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { CHECK_NAMES } from '../src/lineage/verify-record';
import { launchChromium } from './helpers/browser';
import { startTestConsole, type TestConsole } from './helpers/console';
import { buildLineageFixture, makeKeys, type LineageFixture } from './lineage-fixture';

const T0 = Date.parse('2025-06-01T09:00:00.000Z');
const screenshots = join(__dirname, '..', 'docs', 'screenshots');

let f: LineageFixture;
let web: TestConsole;
let browser: Browser;
/** Console messages and page errors of every page: a CSP violation or a script error fails the test. */
const problems: string[] = [];

beforeAll(async () => {
  mkdirSync(screenshots, { recursive: true });
  f = await buildLineageFixture({ base: T0, prefix: 'console_proof_browser' });
  web = await startTestConsole({ database: f.database, bundlePath: f.keys.bundlePath });
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await web?.stop();
  await f?.close();
});
afterEach(() => {
  expect(problems).toEqual([]);
  problems.length = 0;
});

async function open(path: string, width = 1280): Promise<Page> {
  const page = await browser.newPage({ viewport: { width, height: 900 } });
  page.on('console', (m) => {
    // Failed loads are judged by URL below (chromium's message names none).
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(`console: ${m.text()}`);
  });
  page.on('response', (r) => {
    // The console has no favicon; every other request of the page must succeed.
    if (r.status() >= 400 && new URL(r.url()).pathname !== '/favicon.ico') problems.push(`${r.status()} ${r.url()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  await page.goto(`${web.url}${path}`);
  return page;
}

/** Waits for a verdict (or an error) and reads every check as rendered. */
async function checks(page: Page): Promise<Array<{ name: string; status: string; reason: string }>> {
  await page.waitForSelector('#proof-verdict, #proof-error', { timeout: 30_000 });
  const error = await page.$('#proof-error');
  if (error) throw new Error(`the viewer reported: ${await error.textContent()}`);
  return page.$$eval('#proof-checks li', (items) =>
    items.map((li) => ({ name: li.getAttribute('data-check') ?? '', status: li.getAttribute('data-status') ?? '', reason: li.querySelector('.check-reason')?.textContent ?? '' })),
  );
}

test('a record opened from /proof?record=ID verifies in the browser: every check passes, the server facts are named', async () => {
  const id = f.childCharge.payload.id;
  const page = await open(`/proof?record=${id}`);
  const seen = await checks(page);
  expect(seen.map((c) => [c.name, c.status])).toEqual(CHECK_NAMES.map((name) => [name, 'pass']));
  expect(seen.find((c) => c.name === 'signature')!.reason).toBe('the Ed25519 signature verifies over the canonical payload with key lineage-key-1 of the trust bundle');
  expect(await page.textContent('#proof-verdict')).toBe('Every check passes (or does not apply)');
  const facts = await page.$$eval('#proof-facts li', (items) => items.map((li) => li.textContent));
  expect(facts).toEqual([
    "GET /api/trust-bundle: the console's trust bundle",
    `GET /api/proof/${id}: the lineage record ${id}`,
    `GET /api/proof/${f.childRun.payload.id}: the parent record ${f.childRun.payload.id}`,
    `GET /api/proof/${f.childRun.payload.id}: the previous record ${f.childRun.payload.id} (seq 3)`,
  ]);
  expect(await page.textContent('#proof-server-verdict')).toBe("The server's own verification (node:crypto, its trust bundle) gives the same statuses.");
  await page.screenshot({ path: join(screenshots, 'console-proof-pass.png'), fullPage: true });
  await page.close();

  const phone = await open(`/proof?record=${id}`, 390);
  expect((await checks(phone)).every((c) => c.status === 'pass')).toBe(true);
  // Readable on a phone: nothing wider than the screen.
  expect(await phone.$eval('html', (html) => html.scrollWidth)).toBeLessThanOrEqual(390);
  await phone.screenshot({ path: join(screenshots, 'console-proof-phone.png'), fullPage: true });
  await phone.close();
});

test('a pasted tampered artifact: the signature check fails and says why, and the binding names the difference from lineage', async () => {
  const page = await open('/proof');
  const tampered = { ...f.charge1, payload: { ...f.charge1.payload, rules: ['allow-everything'] } };
  await page.fill('#proof-document', JSON.stringify(tampered, null, 2));
  await page.click('#proof-verify');
  const seen = await checks(page);
  const byName = Object.fromEntries(seen.map((c) => [c.name, c]));
  expect(byName.signature).toMatchObject({ status: 'fail', reason: 'signature does not verify with key lineage-key-1' });
  expect(byName['key-window']!.status).toBe('pass');
  expect(byName.binding!.status).toBe('fail');
  expect(byName.binding!.reason).toContain(`the lineage record ${f.charge1.payload.id} holds a different signed artifact than the one verified here`);
  expect(await page.textContent('#proof-verdict')).toBe('2 check(s) failed: Signature, Binding');
  await page.screenshot({ path: join(screenshots, 'console-proof-tampered.png'), fullPage: true });

  // The genuine one, pasted the same way, passes.
  await page.fill('#proof-document', JSON.stringify(f.charge1));
  await page.click('#proof-verify');
  await page.waitForSelector('#proof-verdict[data-ok="true"]');
  expect((await checks(page)).filter((c) => c.status === 'fail')).toEqual([]);
  await page.close();
});

test("the auditor's own trust bundle without the signing key fails the signature check", async () => {
  const stranger = makeKeys('auditor-key', T0 - 86_400_000);
  const bundle = readFileSync(stranger.bundlePath, 'utf8');
  rmSync(stranger.dir, { recursive: true, force: true }); // only its public bundle is used
  const page = await open(`/proof?record=${f.root.payload.id}`);
  expect((await checks(page)).every((c) => c.status === 'pass')).toBe(true);
  await page.fill('#proof-bundle', bundle);
  expect(await page.isChecked('input[name="bundle-source"][value="own"]')).toBe(true);
  await page.click('#proof-verify');
  await page.waitForSelector('#proof-verdict[data-ok="false"]');
  const seen = await checks(page);
  expect(seen.find((c) => c.name === 'signature')).toEqual({ name: 'signature', status: 'fail', reason: 'key "lineage-key-1" is not in the trust bundle' });
  expect(seen.find((c) => c.name === 'key-window')!.status).toBe('not-applicable');
  expect(await page.textContent('#proof-result')).toContain('your own trust bundle (keys auditor-key), not the server');
  // The bundle came from the auditor: it is not among the server's facts.
  expect(await page.$$eval('#proof-facts li', (items) => items.map((li) => li.textContent ?? ''))).not.toContainEqual(expect.stringContaining('/api/trust-bundle'));
  // Garbage as a trust bundle is refused with the reason.
  await page.fill('#proof-bundle', '{"typ": "temporal-governance/trust-bundle@1", "keys": []}');
  await page.click('#proof-verify');
  await page.waitForSelector('#proof-error');
  expect(await page.textContent('#proof-error')).toContain('invalid trust bundle (yours): keys');
  await page.close();
});
