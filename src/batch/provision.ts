/**
 * CI provisioning: install a base image once per set of inputs, then give each job a copy-on-write
 * overlay of it, booted with the job's assigned device.
 *
 * - baseKey(inputs) names a base by everything that decides what ends up on its disk (the media's
 *   checksum, the kickstart text, the templates, the tool's version and the request fields that
 *   change the installed system): same inputs, same key, so a cache hit is safe.
 * - The cache keeps one folder per key: `<cache>/bases/<key>/disk.qcow2` and `meta.json`, published
 *   by renaming a finished temp folder into place (a half-written base is never seen).
 * - createOverlay runs `qemu-img create -f qcow2 -F FORMAT -b BASE OUT` (argv, never a shell), with
 *   BASE absolute: qemu resolves a relative backing file against the overlay's folder.
 */
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, open, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { hostError, inputError } from '../errors.js';
import type { Host } from '../host/host.js';
import { parseInstallRequest, safeFileName } from '../request/request.js';
import type { InstallRequest, RawInstallArgs } from '../request/request.js';
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
  /** the rendered kickstart/preseed, secrets included: they change the disk too */
  kickstartText: string;
  /** templatesHash() of the shipped templates */
  templatesHash: string;
  toolVersion: string;
  request: BaseRequestSubset;
}

export function baseRequestSubset(r: InstallRequest): BaseRequestSubset {
  return {
    ...(r.osVariant ? { osVariant: r.osVariant } : {}),
    machine: r.machine,
    memoryMiB: r.memoryMiB,
    disks: r.disks.map((d) => ({
      ...(d.sizeGiB !== undefined ? { sizeGiB: d.sizeGiB } : {}),
      format: d.format,
      bus: d.bus,
    })),
    ...(r.extraArgs ? { extraArgs: r.extraArgs } : {}),
    ...(r.boot?.kernelArgs ? { kernelArgs: r.boot.kernelArgs } : {}),
    ...(r.location && /^[a-z]+:\/\//i.test(r.location) ? { location: r.location } : {}),
  };
}

/** sha256 (hex) of the inputs' canonical JSON (keys sorted at every level): stable across runs and key order. */
export function baseKey(inputs: BaseKeyInputs): string {
  // the kickstart is hashed on its own first so that a secret in it never sits in a long-lived string
  const { kickstartText, ...rest } = inputs;
  return hashOf({ ...rest, kickstartSha256: sha256Hex(kickstartText) });
}

const KEY_RE = /^[0-9a-f]{64}$/;

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

export function basePaths(cacheDir: string, key: string): BasePaths {
  if (!KEY_RE.test(key))
    throw inputError('BAD_BASE_KEY', `'${key}' is not a base key (64 hex digits)`, {
      hint: 'see install-guest provision --help',
    });
  const dir = path.join(cacheDir, 'bases', key);
  return { dir, disk: path.join(dir, 'disk.qcow2'), meta: path.join(dir, 'meta.json') };
}

export interface BaseMeta {
  key: string;
  createdAt: string;
  toolVersion: string;
  /** the guest name the base was installed as */
  name?: string;
  request?: BaseRequestSubset;
  mediaChecksum?: string;
}

/** `$INSTALL_GUEST_CACHE`, else `$XDG_CACHE_HOME/install-guest`, else `~/.cache/install-guest` */
export function defaultCacheDir(env: Readonly<Record<string, string | undefined>>): string {
  if (env.INSTALL_GUEST_CACHE) return path.resolve(env.INSTALL_GUEST_CACHE);
  const xdg = env.XDG_CACHE_HOME || path.join(env.HOME || os.homedir(), '.cache');
  return path.join(xdg, 'install-guest');
}

export async function readBaseMeta(cacheDir: string, key: string): Promise<BaseMeta | null> {
  const p = basePaths(cacheDir, key);
  try {
    const meta = JSON.parse(await readFile(p.meta, 'utf8')) as BaseMeta;
    if (meta.key !== key) return null;
    await stat(p.disk);
    return meta;
  } catch {
    return null;
  }
}

/**
 * Moves a finished install's disk into the cache under its key, with its meta, atomically. When
 * another job published the same key first, theirs is kept and the given disk is removed.
 */
export async function publishBase(
  cacheDir: string,
  key: string,
  disk: string,
  meta: Omit<BaseMeta, 'key'>,
): Promise<BasePaths> {
  const target = basePaths(cacheDir, key);
  await mkdir(path.join(cacheDir, 'bases'), { recursive: true, mode: 0o700 });
  const tmp = path.join(cacheDir, 'bases', `.tmp-${key.slice(0, 12)}-${randomBytes(4).toString('hex')}`);
  await mkdir(tmp, { mode: 0o700 });
  try {
    await rename(disk, path.join(tmp, 'disk.qcow2'));
    await writeFile(path.join(tmp, 'meta.json'), `${JSON.stringify({ key, ...meta }, null, 2)}\n`, {
      mode: 0o600,
    });
    try {
      await rename(tmp, target.dir);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e;
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return target;
}

/**
 * Pure: the format of a disk image from its first 4608 bytes, or null when it is not a disk image.
 * qcow2: the magic `QFI\xfb` and version 2 or 3. raw: a partitioned disk, i.e. the MBR boot signature
 * 0x55 0xAA at byte 510 (a GPT disk has it too, in its protective MBR) or a GPT header `EFI PART` at
 * LBA 1 of 512- or 4096-byte sectors. Anything else (a text file, a bare file system, an ISO) is not a
 * base a guest boots from.
 */
export function imageFormatOf(head: Buffer): 'qcow2' | 'raw' | null {
  if (head.length >= 8 && head.subarray(0, 4).equals(Buffer.from([0x51, 0x46, 0x49, 0xfb]))) {
    const version = head.readUInt32BE(4);
    return version === 2 || version === 3 ? 'qcow2' : null;
  }
  const mbr = head.length >= 512 && head[510] === 0x55 && head[511] === 0xaa;
  const gpt = (at: number): boolean => head.subarray(at, at + 8).toString('latin1') === 'EFI PART';
  return mbr || gpt(512) || gpt(4096) ? 'raw' : null;
}

/** The format of an image file (imageFormatOf); BASE_NOT_AN_IMAGE when it is not a disk image. */
export async function imageFormat(file: string, given = file): Promise<'qcow2' | 'raw'> {
  const fh = await open(file, 'r');
  let head: Buffer;
  try {
    const b = Buffer.alloc(4608);
    const { bytesRead } = await fh.read(b, 0, b.length, 0);
    head = b.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
  const format = imageFormatOf(head);
  if (format === null)
    throw inputError('BASE_NOT_AN_IMAGE', `--base '${given}' is not a disk image`, {
      hint: 'a base is a qcow2 image, or a raw disk image with an MBR or GPT partition table (an installed guest disk)',
    });
  return format;
}

export interface ResolvedBase {
  image: string;
  format: 'qcow2' | 'raw';
  key?: string;
  meta?: BaseMeta;
}

/** `--base KEY|IMAGE`: a key found in the cache, or an image file. */
export async function resolveBase(base: string, cacheDir: string, cwd: string): Promise<ResolvedBase> {
  if (KEY_RE.test(base)) {
    const meta = await readBaseMeta(cacheDir, base);
    if (!meta)
      throw inputError(
        'BASE_NOT_FOUND',
        `--base ${base}: no such base in the cache ${path.join(cacheDir, 'bases')}`,
        {
          hint: 'install the base first, or give the image file; --cache DIR or INSTALL_GUEST_CACHE names the cache',
        },
      );
    const disk = basePaths(cacheDir, base).disk;
    return { image: disk, format: await imageFormat(disk), key: base, meta };
  }
  const image = path.resolve(cwd, base);
  const s = await stat(image).catch(() => null);
  if (!s?.isFile())
    throw inputError('BASE_NOT_FOUND', `--base '${base}' is neither a cached base key nor an image file`, {
      hint: 'give a 64-hex base key or the path of a qcow2/raw image',
    });
  return { image, format: await imageFormat(image, base) };
}

export function overlayArgv(base: string, format: 'qcow2' | 'raw', out: string): string[] {
  if (!path.isAbsolute(base)) throw new Error(`overlay base must be an absolute path: ${base}`);
  return ['create', '-q', '-f', 'qcow2', '-F', format, '-b', base, out];
}

/** Creates a qcow2 overlay backed by `base` (qemu-img through Host.exec, argv only). */
export async function createOverlay(
  host: Host,
  base: string,
  out: string,
  options: { format?: 'qcow2' | 'raw'; signal?: AbortSignal } = {},
): Promise<void> {
  const r = await host.exec('qemu-img', overlayArgv(path.resolve(base), options.format ?? 'qcow2', out), {
    ...(options.signal ? { signal: options.signal } : {}),
  });
  if (r.notFound)
    throw hostError('QEMU_IMG_MISSING', 'qemu-img is not installed', { hint: 'apt-get install qemu-utils' });
  if (r.exitCode !== 0)
    throw hostError(
      'OVERLAY_CREATE_FAILED',
      `qemu-img could not create the overlay '${out}': ${r.stderr.trim()}`,
      {
        hint: 'check the folder, free space and that the base image is readable',
      },
    );
}

export interface ProvisionOptions {
  /** --base KEY|IMAGE */
  base: string;
  cacheDir: string;
  cwd: string;
  name?: string;
  /** the overlay file; default `<cwd>/<name>.qcow2` */
  out?: string;
  /** install options for the boot (hostdev, memory, vcpus, network, …) */
  install: Partial<RawInstallArgs>;
  /** the boot goes through a libvirt connection (--connect): its networks may be named */
  libvirt?: boolean;
}

export interface ProvisionPlan {
  base: ResolvedBase;
  overlay: string;
  /** the qemu-img argv (after the program name) */
  qemuImg: string[];
  /** the import request that boots the overlay */
  raw: RawInstallArgs;
  request: InstallRequest;
}

/** Resolves the base and builds the import request; reads only (the cache and the base's first bytes). */
export async function planProvision(o: ProvisionOptions): Promise<ProvisionPlan> {
  const base = await resolveBase(o.base, o.cacheDir, o.cwd);
  const name =
    o.name ??
    (base.meta?.name
      ? `${base.meta.name}-overlay`
      : safeFileName(path.basename(base.image).replace(/\.(qcow2|img|raw)$/i, '')) + '-overlay');
  const overlay = path.resolve(o.cwd, o.out ?? `${safeFileName(name)}.qcow2`);
  if (overlay === base.image)
    throw inputError('OVERLAY_IS_BASE', `--out '${overlay}' is the base image itself`, {
      hint: 'name another file with --out',
    });
  const raw: RawInstallArgs = {
    ...o.install,
    name,
    import: true,
    disk: [`path=${overlay.replace(/,/g, ',,')},format=qcow2`],
  };
  const request = parseInstallRequest(raw, o.cwd, { libvirt: Boolean(o.libvirt) });
  return { base, overlay, qemuImg: overlayArgv(base.image, base.format, overlay), raw, request };
}

export type ProvisionRunner = (raw: RawInstallArgs) => Promise<number>;

/**
 * Creates the overlay and boots it through `runner` (the install pipeline's --import path). A dry
 * run creates nothing and runs the pipeline's dry run. With `boot: false` only the overlay is
 * made (for --print-xml / --print-kubevirt). An overlay this run created is removed when the boot
 * fails, unless `keep`.
 */
export async function runProvision(
  plan: ProvisionPlan,
  o: {
    host: Host;
    runner: ProvisionRunner;
    dryRun: boolean;
    boot: boolean;
    keep?: boolean;
    signal?: AbortSignal;
  },
): Promise<number> {
  if (o.dryRun) return o.boot ? o.runner({ ...plan.raw, dryRun: true }) : 0;
  if (await lstat(plan.overlay).catch(() => null))
    throw inputError('OVERLAY_EXISTS', `overlay '${plan.overlay}' already exists`, {
      hint: 'remove it, or name another file with --out',
    });
  await mkdir(path.dirname(plan.overlay), { recursive: true });
  await createOverlay(o.host, plan.base.image, plan.overlay, {
    format: plan.base.format,
    ...(o.signal ? { signal: o.signal } : {}),
  });
  if (!o.boot) return 0;
  let ok = false;
  try {
    const code = await o.runner(plan.raw);
    ok = code === 0;
    return code;
  } finally {
    if (!ok && !o.keep) await rm(plan.overlay, { force: true });
  }
}
