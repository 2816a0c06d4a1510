// Where the console's browser bundle comes from: built from the TypeScript entry in a source
// checkout, read from the file `npm run build` wrote in a package (never esbuild there), and a clear
// error when neither exists.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BROWSER_BUNDLES, browserBundle, BrowserBundleError } from '../../src/console/browser-build';

const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'browser-build-'));
  dirs.push(dir);
  return dir;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

test('a package (no TypeScript entry) serves the prebuilt file as is', async () => {
  const here = tempDir();
  mkdirSync(join(here, 'assets'));
  writeFileSync(join(here, 'assets', 'proof-viewer.js'), 'prebuilt();');
  expect((await browserBundle('proof-viewer.js', here)).toString()).toBe('prebuilt();');
});

test('neither entry nor prebuilt file: an error that says to build, and it is not cached', async () => {
  const here = tempDir();
  await expect(browserBundle('proof-viewer.js', here)).rejects.toThrow(BrowserBundleError);
  await expect(browserBundle('proof-viewer.js', here)).rejects.toThrow(/proof-viewer\.js is missing; build the package with `npm run build`/);
  mkdirSync(join(here, 'assets'));
  writeFileSync(join(here, 'assets', 'proof-viewer.js'), 'now();');
  expect((await browserBundle('proof-viewer.js', here)).toString()).toBe('now();');
  await expect(browserBundle('unknown.js', here)).rejects.toThrow('no browser bundle named unknown.js');
});

test('a source checkout bundles the entry with esbuild for the browser: one file, no require, no Node built-in', async () => {
  expect([...BROWSER_BUNDLES.keys()]).toEqual(['proof-viewer.js']);
  const js = (await browserBundle('proof-viewer.js', join(__dirname, '../../src/console'))).toString();
  expect(js.startsWith('"use strict";(()=>{') || js.startsWith('(()=>{')).toBe(true);
  expect(js).not.toMatch(/\brequire\(/);
  expect(js).not.toMatch(/["'`]node:[a-z]/);
  // The shared checks and noble's Ed25519 are in it.
  expect(js).toContain('signature does not verify with key');
  expect(js).toContain('zip215');
});
