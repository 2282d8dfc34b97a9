/** Runs the CLI in-process (main with injected deps) and captures what it prints. */
import { execa } from 'execa';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
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

const ROOT = path.resolve(import.meta.dirname, '../..');

/** The built CLI (dist/), for tests that run it as a process. */
export const BUILT_CLI = path.join(ROOT, 'dist/src/bin/install-guest.js');

/** True when dist/ is missing or older than a source file (`npm test` builds first, so CI skips the rebuild). */
async function builtIsStale(): Promise<boolean> {
  let built: number;
  try {
    built = (await stat(BUILT_CLI)).mtimeMs;
  } catch {
    return true;
  }
  for (const f of await readdir(path.join(ROOT, 'src'), { recursive: true })) {
    if (f.endsWith('.ts') && (await stat(path.join(ROOT, 'src', f))).mtimeMs > built) return true;
  }
  return false;
}

/** Builds dist/ when it is missing or stale. */
export async function ensureBuilt(): Promise<void> {
  if (await builtIsStale()) await execa('npx', ['tsc', '-p', '.'], { cwd: ROOT });
}
