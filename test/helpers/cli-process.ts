// The CLI as a real process whose stdout reader is gone before it writes a byte (`| head` that has
// already exited): every write hits a broken pipe.
import { spawn } from 'node:child_process';
import { join } from 'node:path';

export const cliBin = join(__dirname, '..', '..', 'bin', 'temporal-governance.js');

export async function runWithClosedStdout(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [cliBin, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.destroy();
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { code, stderr };
}
