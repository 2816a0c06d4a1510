// The dev stack: cached tools, clear provisioning errors, and no server outliving its starter.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, symlinkSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const bin = join(__dirname, '..', 'bin', 'temporal-governance.js');

function listening(hostPort: string): Promise<boolean> {
  const [host, port] = hostPort.split(':');
  return new Promise((resolve) => {
    const socket = createConnection({ host, port: Number(port) });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

test('servers started by the stack stop when the process that started them is killed (SIGKILL)', async () => {
  const env = { ...process.env, TEMPORAL_ADDRESS: '', MONGODB_URI: '' };
  const child = spawn(process.execPath, [bin, 'stack'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const addresses = await new Promise<{ temporal: string; mongo: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`stack did not start:\n${output}`)), 90_000);
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const temporal = /export TEMPORAL_ADDRESS=(\S+)/.exec(output)?.[1];
      const mongo = /export MONGODB_URI=mongodb:\/\/(\S+?)\//.exec(output)?.[1];
      if (temporal && mongo && output.includes('Press Ctrl-C')) {
        clearTimeout(timer);
        resolve({ temporal, mongo });
      }
    });
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  });
  expect(await listening(addresses.temporal)).toBe(true);
  expect(await listening(addresses.mongo)).toBe(true);

  child.kill('SIGKILL'); // no handler runs: only the supervisors' stdin pipes notice
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline && ((await listening(addresses.temporal)) || (await listening(addresses.mongo)))) {
    await new Promise((r) => setTimeout(r, 250));
  }
  expect(await listening(addresses.temporal)).toBe(false);
  expect(await listening(addresses.mongo)).toBe(false);
});

test('a stack that cannot provision Temporal says what it tried and what to set instead', () => {
  const emptyTools = mkdtempSync(join(tmpdir(), 'no-tools-'));
  // A PATH with node and nothing else: no temporal, no python3 to fetch it with.
  const onlyNode = mkdtempSync(join(tmpdir(), 'only-node-'));
  symlinkSync(process.execPath, join(onlyNode, 'node'));
  const r = spawnSync(process.execPath, [bin, 'stack'], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, TEMPORAL_ADDRESS: '', GOVERNANCE_TOOLS_DIR: emptyTools, PATH: onlyNode },
  });
  expect(r.status).toBe(1);
  expect(r.stderr).toContain('cannot provision the Temporal CLI');
  expect(r.stderr).toContain('TEMPORAL_ADDRESS');
  expect(r.stderr).not.toContain('    at '); // a message, not a stack trace
});
