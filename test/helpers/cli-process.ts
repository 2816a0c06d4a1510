// The CLI as a real process: one whose stdout reader is gone before it writes a byte (`| head` that
// has already exited, so every write hits a broken pipe), and reading a long-running one's output.
import { spawn, type ChildProcess } from 'node:child_process';
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

/** Resolves with everything printed up to (and including) the line that matches `until`. */
export function readUntil(child: ChildProcess, until: RegExp, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`no line matching ${until} within ${timeoutMs} ms; output:\n${text}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      text += chunk.toString();
      if (until.test(text)) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        resolve(text);
      }
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`process exited (${code}) before printing ${until}; output:\n${text}`));
    });
  });
}
