// The console's browser scripts, bundled by esbuild from src/console/browser/*.ts (which import the
// same modules the CLI runs, e.g. src/lineage/verify-record.ts). `npm run build` writes each bundle
// to dist/src/console/assets/ (tools/build-browser.js); a source checkout (tests, `npm run cli`)
// bundles in memory on first request. esbuild is a devDependency: an installed package only reads
// the prebuilt file and never requires it.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Served asset name -> entry file under src/console/browser/. */
export const BROWSER_BUNDLES: ReadonlyMap<string, string> = new Map([['proof-viewer.js', 'proof-viewer.ts']]);

export class BrowserBundleError extends Error {
  override readonly name = 'BrowserBundleError';
}

/**
 * Bundles one entry for the browser: one IIFE file, no Node built-in (esbuild fails on any import of
 * one under platform "browser", which keeps node:crypto out of what the browser runs).
 */
export async function bundleForBrowser(entry: string): Promise<string> {
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    platform: 'browser',
    format: 'iife',
    target: ['es2020'],
    minify: true,
    legalComments: 'none',
    charset: 'utf8',
    write: false,
    logLevel: 'silent',
  });
  const file = result.outputFiles[0];
  if (!file) throw new BrowserBundleError(`esbuild produced nothing for ${entry}`);
  return file.text;
}

const built = new Map<string, Promise<Buffer>>();

/**
 * The bytes of a browser bundle: built from the TypeScript entry next to this file in a source
 * checkout (once per process), else the file `npm run build` wrote next to this (compiled) file.
 */
export function browserBundle(name: string, here: string = __dirname): Promise<Buffer> {
  const entry = BROWSER_BUNDLES.get(name);
  if (entry === undefined) return Promise.reject(new BrowserBundleError(`no browser bundle named ${name}`));
  const key = join(here, name);
  let bytes = built.get(key);
  if (!bytes) {
    const source = join(here, 'browser', entry);
    const prebuilt = join(here, 'assets', name);
    bytes = existsSync(source)
      ? bundleForBrowser(source).then((text) => Buffer.from(text))
      : existsSync(prebuilt)
        ? Promise.resolve(readFileSync(prebuilt))
        : Promise.reject(new BrowserBundleError(`the console's browser bundle ${prebuilt} is missing; build the package with \`npm run build\``));
    // A failed build is not cached: the next request tries again (and reports again).
    bytes.catch(() => built.delete(key));
    built.set(key, bytes);
  }
  return bytes;
}
