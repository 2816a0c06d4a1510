#!/usr/bin/env node
// Runs the compiled CLI when the package is built (npm run build), else the TypeScript sources.
'use strict';
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const compiled = join(__dirname, '..', 'dist', 'src', 'cli', 'main.js');
if (!existsSync(compiled)) require('ts-node').register({ transpileOnly: true, project: join(__dirname, '..', 'tsconfig.json') });
require(existsSync(compiled) ? compiled : '../src/cli/main').cli();
