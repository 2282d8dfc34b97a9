/**
 * The base cache: installed, confirmed guest disks kept read-only under a key, for `provision --base
 * KEY` to make copy-on-write overlays of.
 *
 * - baseKey(inputs) names a base by everything that decides what ends up on its disk (the media's
 *   checksum, the answer file, the templates, the tool's version and the request fields that change
 *   the installed system): same inputs, same key, so a cache hit is safe.
 * - One folder per key: `<cache>/bases/<key>/disk.qcow2` (read-only, 0444) and `meta.json`,
 *   published by renaming a finished temp folder into place (a half-written base is never seen).
 * - A key is 64 hex digits (one path component, never `..`), and every path is checked to stay a
 *   real folder under `<cache>/bases` (a link planted there is refused, not followed).
 */
import { randomBytes } from 'node:crypto';
import {
  access,
  chmod,
  copyFile,
  lstat,
  mkdir,
  readFile,
  readdir,
  realpath,
  rename,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises';
import { constants as fsConstants } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hostError, inputError, isInstallGuestError } from '../errors.js';
import { hashOf, sha256Hex } from './hash.js';

/** The request fields that change what an install writes to its disk. */
export interface BaseRequestSubset {
  osVariant?: string;
  machine: string;
  memoryMiB: number;
  disks: { sizeGiB?: number; format: string; bus: string }[];
  extraArgs?: string;
  kernelArgs?: string;
  /** an install tree given by URL (local media are covered by mediaChecksum) */
  location?: string;
}

export interface BaseKeyInputs {
  /** sha256 of the install media (ISO, kernel+initrd, or the tree's .treeinfo and images) */
  mediaChecksum: string;
  /** the answer file (or what decides it), secrets included: they change the disk too */
  kickstartText: string;
  /** templatesHash() of the shipped templates */
  templatesHash: string;
  toolVersion: string;
  request: BaseRequestSubset;
}

/** sha256 (hex) of the inputs' canonical JSON (keys sorted at every level): stable across runs and key order. */
export function baseKey(inputs: BaseKeyInputs): string {
  // the kickstart is hashed on its own first so that a secret in it never sits in a long-lived string
  const { kickstartText, ...rest } = inputs;
  return hashOf({ ...rest, kickstartSha256: sha256Hex(kickstartText) });
}

const KEY_RE = /^[0-9a-f]{64}$/;

/** A base key: 64 lowercase hex digits. */
export function isBaseKey(s: string): boolean {
  return KEY_RE.test(s);
}

/** sha256 over every file under a folder (relative path and content, in sorted order). */
export async function templatesHash(dir: string): Promise<string> {
  const files: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of (await readdir(d, { withFileTypes: true })).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) files.push(p);
    }
  };
  await walk(dir);
  const parts: string[] = [];
  for (const f of files) parts.push(`${path.relative(dir, f)}\0${sha256Hex(await readFile(f))}`);
  return sha256Hex(parts.join('\n'));
}

export interface BasePaths {
  dir: string;
  disk: string;
  meta: string;
}

/** Where a key's base lives; BAD_BASE_KEY for anything but 64 hex digits (so never a path outside). */
export function basePaths(cacheDir: string, key: string): BasePaths {
  if (!KEY_RE.test(key))
    throw inputError('BAD_BASE_KEY', `'${printableKey(key)}' is not a base key (64 hex digits)`, {
      hint: 'see install-guest base list',
    });
  const dir = path.join(cacheDir, 'bases', key);
  return { dir, disk: path.join(dir, 'disk.qcow2'), meta: path.join(dir, 'meta.json') };
}

/** A key as an error line may show it: short, printable. */
function printableKey(key: string): string {
  const s = key.replace(/[^\x20-\x7e]/g, '?');
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

export interface BaseMeta {
  key: string;
  createdAt: string;
  toolVersion: string;
  /** the guest name the base was installed as */
  name?: string;
  request?: BaseRequestSubset;
  mediaChecksum?: string;
  /** what the install was given (media source, answer file source) */
  source?: { media?: string; answerFile?: string };
}

/** `$INSTALL_GUEST_CACHE`, else `$XDG_CACHE_HOME/install-guest`, else `~/.cache/install-guest` */
export function defaultCacheDir(env: Readonly<Record<string, string | undefined>>): string {
  if (env.INSTALL_GUEST_CACHE) return path.resolve(env.INSTALL_GUEST_CACHE);
  const xdg = env.XDG_CACHE_HOME || path.join(env.HOME || os.homedir(), '.cache');
  return path.join(xdg, 'install-guest');
}

const errCode = (e: unknown): string | undefined => (e as NodeJS.ErrnoException | null)?.code;

/**
 * The `bases` folder and a key's folder, checked without following links: each is a real directory
 * (or absent). A link or a file there is refused: it would lead reads and removals out of the cache.
 */
async function checkedDir(p: string, what: string): Promise<'absent' | 'dir'> {
  const s = await lstat(p).catch((e: unknown) => {
    if (errCode(e) === 'ENOENT') return null;
    throw hostError('BASE_CACHE_INVALID', `${what} ${p} cannot be read (${errCode(e) ?? String(e)})`, {
      hint: 'check the permissions of the base cache (--cache DIR or INSTALL_GUEST_CACHE)',
    });
  });
  if (s === null) return 'absent';
  if (!s.isDirectory())
    throw hostError('BASE_CACHE_INVALID', `${what} ${p} is not a directory (a link or a file)`, {
      hint: 'something other than install-guest wrote the base cache; inspect it and remove that entry by hand',
    });
  return 'dir';
}

/**
 * The cache can take a base: `<cache>/bases` is a real directory, or can be created (its nearest
 * existing parent a directory, not on /proc, /sys or /dev), and is writable. Run before a long install
 * (and in its dry run), so the publication at its end does not fail on a cache it could have checked.
 */
export async function checkBaseCacheWritable(cacheDir: string): Promise<void> {
  const bases = path.join(cacheDir, 'bases');
  const refuse = (what: string): never => {
    throw hostError('BASE_CACHE_INVALID', `the base cache ${cacheDir} ${what}`, {
      hint: 'give a folder of your own with --base-cache DIR (or INSTALL_GUEST_CACHE)',
    });
  };
  let at = bases;
  for (;;) {
    const st = await stat(at).catch((e: unknown) => e as NodeJS.ErrnoException);
    if (!(st instanceof Error)) {
      if (!st.isDirectory()) refuse(`cannot hold bases: ${at} is not a directory`);
      break;
    }
    if (errCode(st) !== 'ENOENT') refuse(`cannot be used: ${at} (${errCode(st) ?? String(st)})`);
    const up = path.dirname(at);
    if (up === at) break;
    at = up;
  }
  if (at === bases) await checkedDir(bases, 'the base cache');
  const real = await realpath(at).catch(() => at);
  if (['/proc', '/sys', '/dev'].some((k) => real === k || real.startsWith(`${k}/`)))
    refuse(`cannot be created: ${real} is a kernel file system`);
  await access(at, fsConstants.W_OK).catch(() => refuse(`cannot be written: ${at} is not writable`));
}

/** The base of a key, or null when the cache has none (a folder without a readable meta is none). */
export async function readBaseMeta(cacheDir: string, key: string): Promise<BaseMeta | null> {
  const p = basePaths(cacheDir, key);
  if ((await checkedDir(path.join(cacheDir, 'bases'), 'the base cache')) === 'absent') return null;
  if ((await checkedDir(p.dir, 'base')) === 'absent') return null;
  try {
    const meta = JSON.parse(await readFile(p.meta, 'utf8')) as BaseMeta;
    if (meta === null || typeof meta !== 'object' || meta.key !== key) return null;
    const d = await lstat(p.disk);
    if (!d.isFile()) return null;
    return meta;
  } catch {
    return null;
  }
}

/** A base's folder exists (published, or being published by another run). */
async function baseExists(cacheDir: string, key: string): Promise<BaseMeta | 'folder' | null> {
  const meta = await readBaseMeta(cacheDir, key);
  if (meta) return meta;
  return (await checkedDir(basePaths(cacheDir, key).dir, 'base')) === 'dir' ? 'folder' : null;
}

/** BASE_EXISTS for a key the cache holds already, naming what it holds. */
export function baseExistsError(cacheDir: string, key: string, meta: BaseMeta | 'folder'): Error {
  const what =
    meta === 'folder'
      ? 'a folder without a complete base'
      : `installed ${meta.createdAt}${meta.name ? ` as ${meta.name}` : ''}`;
  return inputError(
    'BASE_EXISTS',
    `base ${key} is already in the cache ${path.join(cacheDir, 'bases')} (${what})`,
    {
      hint: `provision from it: install-guest provision --base ${key}; to install it again, install-guest base rm ${key} first`,
      data: { key },
    },
  );
}

/** Refuses a key the cache holds already (before a long install, and again when publishing). */
export async function assertBaseAbsent(cacheDir: string, key: string): Promise<void> {
  const found = await baseExists(cacheDir, key);
  if (found) throw baseExistsError(cacheDir, key, found);
}

/**
 * Moves an installed disk into the cache under its key, with its meta, atomically: a temp folder is
 * filled, then renamed into place. The disk is made read-only (overlays only read it). A key the cache
 * holds already is refused (BASE_EXISTS) and the disk is left where it was; so is any failure.
 */
export async function publishBase(
  cacheDir: string,
  key: string,
  disk: string,
  meta: Omit<BaseMeta, 'key'>,
): Promise<BasePaths> {
  const target = basePaths(cacheDir, key);
  const bases = path.join(cacheDir, 'bases');
  const d = await stat(disk).catch(() => null);
  if (!d?.isFile())
    throw inputError('BASE_NOT_CONFIRMED', `the disk ${disk} to publish is not a file`, {
      hint: 'a base is the disk a confirmed install wrote (one qcow2 file)',
    });
  try {
    await mkdir(bases, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw hostError(
      'BASE_CACHE_INVALID',
      `the base cache ${bases} cannot be created (${errCode(e) ?? String(e)})`,
      {
        hint: 'give a writable folder with --base-cache DIR or INSTALL_GUEST_CACHE',
      },
    );
  }
  await checkedDir(bases, 'the base cache');
  await assertBaseAbsent(cacheDir, key);
  const tmp = path.join(bases, `.tmp-${key.slice(0, 12)}-${randomBytes(4).toString('hex')}`);
  await mkdir(tmp, { mode: 0o700 });
  const inTmp = path.join(tmp, 'disk.qcow2');
  let moved: 'renamed' | 'copied' | null = null;
  try {
    try {
      await rename(disk, inTmp);
      moved = 'renamed';
    } catch (e) {
      if (errCode(e) !== 'EXDEV') throw e;
      // another file system: copy (a clone where it can), then remove the original once published
      await copyFile(disk, inTmp, fsConstants.COPYFILE_FICLONE);
      moved = 'copied';
    }
    await chmod(inTmp, 0o444);
    await writeFile(path.join(tmp, 'meta.json'), `${JSON.stringify({ key, ...meta }, null, 2)}\n`, {
      mode: 0o600,
    });
    try {
      await rename(tmp, target.dir);
    } catch (e) {
      const code = errCode(e);
      if (code === 'ENOTEMPTY' || code === 'EEXIST')
        throw baseExistsError(cacheDir, key, (await readBaseMeta(cacheDir, key)) ?? 'folder');
      throw e;
    }
  } catch (e) {
    // the disk goes back where it was: a refused or failed publication loses nothing
    if (moved === 'renamed') {
      await chmod(inTmp, d.mode & 0o7777).catch(() => undefined);
      await rename(inTmp, disk).catch(() => undefined);
    }
    await rm(tmp, { recursive: true, force: true });
    if (isInstallGuestError(e)) throw e;
    throw hostError(
      'BASE_PUBLISH_FAILED',
      `could not publish ${disk} as base ${key} (${errCode(e) ?? String(e)})`,
      {
        hint: 'check the free space and permissions of the base cache',
        cause: e,
      },
    );
  }
  if (moved === 'copied') await rm(disk, { force: true });
  return target;
}

export interface BaseEntry {
  key: string;
  dir: string;
  /** null: the folder holds no complete base (a failed or foreign write) */
  meta: BaseMeta | null;
  /** the disk's size on the host (allocated bytes) */
  bytes: number | null;
}

/** Every base in the cache, by creation time; entries that are not bases (temp folders) are left out. */
export async function listBases(cacheDir: string): Promise<BaseEntry[]> {
  const bases = path.join(cacheDir, 'bases');
  if ((await checkedDir(bases, 'the base cache')) === 'absent') return [];
  const out: BaseEntry[] = [];
  for (const name of (await readdir(bases)).sort()) {
    if (!KEY_RE.test(name)) continue;
    const p = basePaths(cacheDir, name);
    const s = await lstat(p.dir).catch(() => null);
    if (!s?.isDirectory()) continue;
    const meta = await readBaseMeta(cacheDir, name);
    const d = meta ? await stat(p.disk).catch(() => null) : null;
    out.push({ key: name, dir: p.dir, meta, bytes: d ? d.blocks * 512 : null });
  }
  return out.sort((a, b) => (a.meta?.createdAt ?? '').localeCompare(b.meta?.createdAt ?? ''));
}

/**
 * Removes a base (its folder, never following a link). Overlays made from it stop working: qemu
 * needs their backing file.
 */
export async function removeBase(cacheDir: string, key: string): Promise<BasePaths> {
  const p = basePaths(cacheDir, key);
  const bases = path.join(cacheDir, 'bases');
  if (
    (await checkedDir(bases, 'the base cache')) === 'absent' ||
    (await checkedDir(p.dir, 'base')) === 'absent'
  )
    throw inputError('BASE_NOT_FOUND', `no base ${key} in the cache ${bases}`, {
      hint: 'see install-guest base list; --cache DIR or INSTALL_GUEST_CACHE names the cache',
    });
  // rename out of the way first: a concurrent provision sees the base whole or not at all
  const gone = path.join(bases, `.rm-${key.slice(0, 12)}-${randomBytes(4).toString('hex')}`);
  await rename(p.dir, gone);
  await rm(gone, { recursive: true, force: true });
  return p;
}
