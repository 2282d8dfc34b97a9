/** Runs the CLI in-process (main with injected deps) and captures what it prints. */
import { main } from '../../src/cli/main.js';
import type { Host } from '../../src/host/host.js';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runCli(
  argv: string[],
  options: { host?: Host; cwd?: string; env?: Record<string, string>; signal?: AbortSignal } = {},
): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const code = await main({
    argv,
    env: options.env ?? {},
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    cwd: options.cwd ?? process.cwd(),
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.host ? { host: options.host } : {}),
  });
  return { code, stdout, stderr };
}
