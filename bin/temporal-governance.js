#!/usr/bin/env node
// An installed package runs the compiled CLI (dist/, built by `npm pack` through prepack); it needs
// no ts-node. A source checkout (it has tsconfig.json, which the package does not ship) runs the
// TypeScript sources through ts-node, a devDependency, so a dist/ left by an earlier `npm run build`
// never runs stale code there; TEMPORAL_GOVERNANCE_COMPILED=1 runs the checkout's dist/ instead.
'use strict';
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const compiled = join(root, 'dist', 'src', 'cli', 'main.js');
const checkout = existsSync(join(root, 'tsconfig.json')) && existsSync(join(root, 'src', 'cli', 'main.ts'));

if (checkout && process.env.TEMPORAL_GOVERNANCE_COMPILED !== '1') {
  require('ts-node').register({ transpileOnly: true, project: join(root, 'tsconfig.json') });
  require(join(root, 'src', 'cli', 'main.ts')).cli();
} else if (existsSync(compiled)) {
  require(compiled).cli();
} else {
  process.stderr.write(`temporal-governance: the compiled CLI is missing (${compiled}); build it with \`npm run build\`\n`);
  process.exit(1);
}
