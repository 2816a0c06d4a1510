#!/usr/bin/env node
// Part of `npm run build`, after tsc: bundles the console's browser scripts (src/console/browser/)
// with esbuild into dist/src/console/assets/, where the compiled console serves them from. Uses the
// compiled src/console/browser-build.js, so the build and a source checkout bundle the same way.
'use strict';
const { mkdirSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const { BROWSER_BUNDLES, bundleForBrowser } = require(join(root, 'dist', 'src', 'console', 'browser-build.js'));

(async () => {
  const out = join(root, 'dist', 'src', 'console', 'assets');
  mkdirSync(out, { recursive: true });
  for (const [name, entry] of BROWSER_BUNDLES) {
    const text = await bundleForBrowser(join(root, 'src', 'console', 'browser', entry));
    writeFileSync(join(out, name), text);
    process.stdout.write(`bundled ${name} (${text.length} bytes) into dist/src/console/assets/\n`);
  }
})().catch((err) => {
  process.stderr.write(`build-browser: ${err.message}\n`);
  process.exit(1);
});
