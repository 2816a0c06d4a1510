#!/usr/bin/env node
// Part of `npm run build`: tsc emits only what it compiles, so every other file in the compiled
// trees (src/stack/supervisor.js, examples/payments/policy.yaml, ...) is copied to the same place
// under dist/, where the compiled code looks for it next to itself (__dirname).
'use strict';
const { copyFileSync, mkdirSync, readdirSync } = require('node:fs');
const { dirname, join, relative } = require('node:path');

const root = join(__dirname, '..');
// Only these kinds of file (the console's .eta templates and .css included), never dotfiles: a stray local file (a key, an .env) must not be published.
const ASSET = /^[^.][^/]*\.(js|yaml|md|eta|css)$/;
// The trees tsconfig.build.json compiles.
const TREES = ['src', 'interceptors', 'activities', 'workflows', 'examples'];

function* assets(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* assets(path);
    else if (ASSET.test(entry.name)) yield path;
  }
}

let copied = 0;
for (const tree of TREES) {
  for (const from of assets(join(root, tree))) {
    const to = join(root, 'dist', relative(root, from));
    mkdirSync(dirname(to), { recursive: true });
    copyFileSync(from, to);
    copied += 1;
  }
}
process.stdout.write(`copied ${copied} asset(s) into dist/\n`);
