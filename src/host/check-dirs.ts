/**
 * The two directories every host-touching command is pointed at, checked before anything reads or
 * writes under them: the host root (`--host-root`, INSTALL_GUEST_HOST_ROOT) and the state directory
 * (`--state-dir`, INSTALL_GUEST_STATE_DIR). A mistyped path must not look like a clean host ("0
 * functions", "nothing to recover") and must never become a place the tool writes its journal.
 *
 * Host root: exists, is a directory (links followed; a loop is named as one), and looks like a
 * Linux root: it has `sys/bus/pci` (every host with PCI has it; `hostdev snapshot` writes it; an
 * empty host stands as a tree with an empty `sys/bus/pci/devices`). A snapshot archive (.tar.gz,
 * .tgz, .tar) is refused with the exact command that extracts it: commands that change devices write
 * under the root, and a temporary extraction would silently drop those writes.
 *
 * State directory: when it exists, a directory holding nothing but what install-guest puts there
 * (`journal/`, `leases/`), not on a kernel file system (/proc, /sys, /dev); when it does not exist,
 * its nearest existing parent is a directory it could be created in. Commands that only read it
 * (`recover`) refuse a missing directory that was named explicitly. (Node's recursive mkdir never
 * returns for a path under /proc, so the kernel file systems are refused before any mkdir.)
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { inputError } from '../errors.js';

const errCode = (e: unknown): string | undefined => (e as NodeJS.ErrnoException | null)?.code;

/** A path as a shell word: quoted only when it needs to be. */
export function shellWord(p: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(p) ? p : `'${p.replace(/'/g, `'\\''`)}'`;
}

const ARCHIVE_RE = /\.(tar\.gz|tgz|tar)$/;

/** How a missing/looping/non-directory path reads in a message. */
async function describeStatFailure(p: string, e: unknown): Promise<string> {
  const code = errCode(e);
  if (code === 'ELOOP') return 'is a symbolic link loop';
  if (code === 'ENOTDIR') return 'has a file where a directory should be in its path';
  if (code === 'EACCES') return 'cannot be read (permission denied)';
  if (code === 'ENOENT') {
    const l = await fs.lstat(p).catch(() => null);
    return l?.isSymbolicLink() ? 'is a symbolic link to nothing' : 'does not exist';
  }
  return `cannot be read (${code ?? String(e)})`;
}

/**
 * Checks a host root given by `source` (`--host-root` or INSTALL_GUEST_HOST_ROOT); resolves to its
 * absolute path. `/` passes without a look (it is the machine itself).
 */
export async function checkHostRoot(given: string, source: string, cwd = process.cwd()): Promise<string> {
  const root = path.resolve(cwd, given);
  if (root === '/') return root;
  const hint =
    'give the directory that stands for / (a tree `install-guest hostdev snapshot DIR` wrote), or leave it out for this host';
  if (given.trim() === '') throw inputError('HOST_ROOT_INVALID', `${source} is empty`, { hint });
  let st;
  try {
    st = await fs.stat(root);
  } catch (e) {
    throw inputError('HOST_ROOT_INVALID', `${source} ${given} ${await describeStatFailure(root, e)}`, {
      hint,
    });
  }
  if (!st.isDirectory()) {
    if (st.isFile() && ARCHIVE_RE.test(root)) {
      const dir = root.replace(ARCHIVE_RE, '');
      const z = root.endsWith('.tar') ? 'x' : 'xz';
      throw inputError('HOST_ROOT_IS_ARCHIVE', `${source} ${given} is a snapshot archive, not a directory`, {
        hint: `extract it first: mkdir -p ${shellWord(dir)} && tar -${z}f ${shellWord(root)} -C ${shellWord(dir)}; then use --host-root ${shellWord(dir)}`,
      });
    }
    throw inputError('HOST_ROOT_INVALID', `${source} ${given} is not a directory`, { hint });
  }
  const pci = await fs.stat(path.join(root, 'sys/bus/pci')).catch(() => null);
  if (!pci?.isDirectory()) {
    throw inputError(
      'HOST_ROOT_INVALID',
      `${source} ${given} does not look like a host root: it has no sys/bus/pci`,
      {
        hint,
      },
    );
  }
  return root;
}

/** What install-guest keeps in a state directory. */
export const STATE_DIR_ENTRIES: readonly string[] = ['journal', 'leases'];

const KERNEL_FS = ['/proc', '/sys', '/dev'];
const onKernelFs = (real: string): boolean => KERNEL_FS.some((k) => real === k || real.startsWith(`${k}/`));

export interface StateDirCheck {
  /** `--state-dir`, INSTALL_GUEST_STATE_DIR, or "the default state directory" */
  source: string;
  /** refuse a directory that does not exist (a command that only reads it, named explicitly) */
  mustExist?: boolean;
  /** what may live in it (default STATE_DIR_ENTRIES) */
  entries?: readonly string[];
  /** the error code (default STATE_DIR_INVALID) and hint, for other directories the tool creates */
  code?: string;
  hint?: string;
}

/** Checks a state directory (absolute path) before its first use; see the module comment. */
export async function checkStateDir(dir: string, o: StateDirCheck): Promise<void> {
  const hint =
    o.hint ??
    'give a directory of its own for install-guest state (default /var/lib/install-guest), or leave it out';
  const fail = (what: string, extraHint = hint): never => {
    throw inputError(o.code ?? 'STATE_DIR_INVALID', `${o.source} ${dir} ${what}`, { hint: extraHint });
  };
  let st;
  try {
    st = await fs.stat(dir);
  } catch (e) {
    if (errCode(e) !== 'ENOENT' || (await fs.lstat(dir).catch(() => null))?.isSymbolicLink())
      return fail(await describeStatFailure(dir, e));
    if (o.mustExist) {
      throw inputError('STATE_DIR_MISSING', `${o.source} ${dir} does not exist`, {
        hint: 'check the path: a run that detached devices keeps its journal there (default /var/lib/install-guest)',
      });
    }
    // to be created: its nearest existing parent must be a directory on an ordinary file system
    let parent = path.dirname(dir);
    for (;;) {
      const p = await fs.stat(parent).catch((err: unknown) => err as NodeJS.ErrnoException);
      if (!(p instanceof Error)) {
        if (!p.isDirectory()) return fail(`cannot be created: ${parent} is not a directory`);
        break;
      }
      if (errCode(p) !== 'ENOENT')
        return fail(`cannot be created: ${parent} ${await describeStatFailure(parent, p)}`);
      parent = path.dirname(parent);
    }
    const real = await fs.realpath(parent).catch(() => parent);
    if (onKernelFs(real)) return fail(`cannot be created: ${real} is a kernel file system`);
    return;
  }
  if (!st.isDirectory()) return fail('is not a directory');
  const real = await fs.realpath(dir).catch(() => dir);
  if (onKernelFs(real)) return fail(`is on a kernel file system (${real})`);
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (e) {
    return fail(await describeStatFailure(dir, e));
  }
  const allowed = o.entries ?? STATE_DIR_ENTRIES;
  const foreign = names.filter((n) => !allowed.includes(n));
  if (foreign.length > 0) {
    fail(
      `does not look like an install-guest state directory: it holds ${foreign
        .slice(0, 3)
        .map((n) => JSON.stringify(n))
        .join(', ')}${foreign.length > 3 ? ', …' : ''}`,
      `a state directory holds only ${allowed.join('/ and ')}/; give an empty or new directory`,
    );
  }
}
