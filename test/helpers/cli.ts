/** Runs the CLI in-process (main with injected deps) and captures what it prints. */
import { execa } from 'execa';
import { existsSync } from 'node:fs';
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

/** The built CLI (the bundle `npm run build` writes, package.json's bin), for tests that run it as a process. */
export const BUILT_CLI = path.join(ROOT, 'dist/bin/install-guest.mjs');

/** BUILT_CLI, or a clear failure when the build is missing (`npm test` builds before mocha runs). */
export function requireBuiltCli(): string {
  if (!existsSync(BUILT_CLI))
    throw new Error(`${BUILT_CLI} is missing: run \`npm run build\` first (npm test does)`);
  return BUILT_CLI;
}

/** True when dist/ is missing or older than a source file (`npm test` builds first, so CI skips the rebuild). */
async function builtIsStale(): Promise<boolean> {
  let built: number;
  try {
    built = (await stat(BUILT_CLI)).mtimeMs;
  } catch {
    return true;
  }
  for (const dir of ['src', 'templates']) {
    for (const f of await readdir(path.join(ROOT, dir), { recursive: true })) {
      if (/\.(ts|hbs)$/.test(f) && (await stat(path.join(ROOT, dir, f))).mtimeMs > built) return true;
    }
  }
  return false;
}

/** Builds dist/ (tsc, then the bundle and the precompiled templates) when it is missing or stale. */
export async function ensureBuilt(): Promise<void> {
  if (await builtIsStale()) await execa('npm', ['run', '--silent', 'build'], { cwd: ROOT });
}
