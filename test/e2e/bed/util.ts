/**
 * Small helpers of the test bed: running tools with argv arrays, hashing, files, guest script
 * lookup. Test tooling only: these touch the bed's own cache and temp files, never host state.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

/** Runs a program (never a shell) and returns its stdout; a non-zero exit throws with stderr. */
export async function run(
  file: string,
  args: readonly string[],
  options: { cwd?: string; input?: string | Buffer; stdoutFile?: string; env?: Record<string, string> } = {},
): Promise<string> {
  const result = await execa(file, args, {
    cwd: options.cwd,
    input: options.input,
    stdout: options.stdoutFile === undefined ? 'pipe' : { file: options.stdoutFile },
    env: options.env,
    reject: false,
    stripFinalNewline: false,
    encoding: 'utf8',
  });
  if (result.exitCode !== 0 || result.failed) {
    const err = typeof result.stderr === 'string' ? result.stderr.trim().slice(-2000) : '';
    throw new Error(
      `testbed: \`${file} ${args.join(' ')}\` failed (exit ${String(result.exitCode)})${err ? `: ${err}` : ''}`,
    );
  }
  return typeof result.stdout === 'string' ? result.stdout : '';
}

export function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export async function sha256File(file: string): Promise<string> {
  return sha256(await fs.readFile(file));
}

/** A private (0700) temp directory under `base` (default the OS temp dir). */
export async function privateTempDir(prefix: string, base = os.tmpdir()): Promise<string> {
  await fs.mkdir(base, { recursive: true });
  return fs.mkdtemp(path.join(base, prefix));
}

export function randomId(): string {
  return randomBytes(6).toString('hex');
}

const here = path.dirname(fileURLToPath(import.meta.url));

/**
 * The directory of this module's sources (test/e2e/bed). Under `tsc` output (dist/test/e2e/bed)
 * the shell scripts are not copied, so the source tree beside dist is used.
 */
export function bedSourceDir(): string {
  if (existsSync(path.join(here, 'guest'))) return here;
  const fromDist = here.replace(`${path.sep}dist${path.sep}test${path.sep}`, `${path.sep}test${path.sep}`);
  if (existsSync(path.join(fromDist, 'guest'))) return fromDist;
  throw new Error(`testbed: guest scripts not found beside ${here}`);
}

/** The repository root (two levels above test/e2e/bed). */
export function repoRoot(): string {
  return path.resolve(bedSourceDir(), '..', '..', '..');
}

export async function readGuestScript(name: string): Promise<string> {
  return fs.readFile(path.join(bedSourceDir(), 'guest', name), 'utf8');
}

export async function readFixture(name: string): Promise<string> {
  return fs.readFile(path.join(bedSourceDir(), 'fixtures', name), 'utf8');
}

/** Lists every entry under `dir` (relative paths, parents before children, sorted). */
export async function listTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    const entries = await fs.readdir(path.join(dir, rel), { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const r = rel === '' ? e.name : `${rel}/${e.name}`;
      out.push(r);
      if (e.isDirectory()) await walk(r);
    }
  };
  await walk('');
  return out;
}

/** Writes a newc cpio archive of the whole tree `dir` (owner root) with the `cpio` tool. */
export async function cpioNewc(dir: string, outFile: string): Promise<void> {
  const entries = await listTree(dir);
  await run('cpio', ['-o', '-H', 'newc', '-R', '0:0', '--null', '--quiet'], {
    cwd: dir,
    input: entries.map((e) => `${e}\0`).join(''),
    stdoutFile: outFile,
  });
}

/** `quiet` shell-style single quoting for the generated run scripts (no expansion inside). */
export function shQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

export async function rmrf(p: string): Promise<void> {
  await fs.rm(p, { recursive: true, force: true });
}
