// The voxface CLI as the picture and encoder benchmarks run it: a child process, its output
// kept, a failure reported with its last stderr lines, and the final JSON line parsed.
import { spawn } from 'node:child_process';
import { CLI_ENTRY, CLI_NODE_FLAGS } from '../../server/cli/nodeFlags';

/**
 * Runs `voxface <args>` (with the CLI's own Node flags unless `nodeFlags` says otherwise) and
 * resolves to its stdout; rejects with the exit code and the end of stderr.
 */
export function voxface(args: string[], env: NodeJS.ProcessEnv = {}, nodeFlags: readonly string[] = CLI_NODE_FLAGS): Promise<string> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [...nodeFlags, CLI_ENTRY, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    child.stdout.on('data', (b: Buffer) => { out += b.toString(); });
    child.stderr.on('data', (b: Buffer) => { err += b.toString(); });
    child.on('error', fail);
    child.on('close', (code) => (code === 0 ? done(out) : fail(new Error(`voxface ${args[0]} exited ${code}: ${err.trim().split('\n').slice(-3).join(' | ')}`))));
  });
}

/** The last line of `text` that is a JSON object, parsed. */
export function lastJson<T>(text: string): T {
  const line = text.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (!line) throw new Error(`no JSON line in: ${text.slice(-300)}`);
  return JSON.parse(line) as T;
}
