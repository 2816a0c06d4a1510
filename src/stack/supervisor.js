#!/usr/bin/env node
// Runs one server process and stops it when the parent that started us goes away: our stdin is a
// pipe from that parent, so its end (normal exit, Ctrl-C, crash, SIGKILL) is our signal to stop.
'use strict';
const { spawn } = require('node:child_process');

const [command, ...args] = process.argv.slice(2);
if (!command) {
  process.stderr.write('usage: supervisor.js COMMAND [ARGS...]\n');
  process.exit(2);
}
const child = spawn(command, args, { stdio: ['ignore', 'inherit', 'inherit'] });
let stopping = false;

function stop() {
  if (stopping) return;
  stopping = true;
  child.kill('SIGTERM');
  setTimeout(() => child.kill('SIGKILL'), 5000).unref();
}

child.on('exit', (code, signal) => process.exit(stopping ? 0 : code ?? (signal ? 1 : 0)));
child.on('error', (err) => {
  process.stderr.write(`supervisor: cannot start ${command}: ${err.message}\n`);
  process.exit(127);
});
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.on('error', stop);
process.stdin.resume();
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, stop);
