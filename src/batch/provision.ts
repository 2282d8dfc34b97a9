/**
 * CI provisioning: install a base image once per set of inputs (`install --publish-base`, the cache in
 * src/base/), then give each job a copy-on-write overlay of it, booted with the job's assigned device.
 *
 * - baseKey(inputs) names a base by everything that decides what ends up on its disk (the media's
 *   checksum, the kickstart text, the templates, the tool's version and the request fields that
 *   change the installed system): same inputs, same key, so a cache hit is safe.
 * - The cache keeps one folder per key: `<cache>/bases/<key>/disk.qcow2` and `meta.json`, published
 *   by renaming a finished temp folder into place (a half-written base is never seen).
 * - createOverlay runs `qemu-img create -f qcow2 -F FORMAT -b BASE OUT` (argv, never a shell), with
 *   BASE absolute: qemu resolves a relative backing file against the overlay's folder.
 */
import { lstat, mkdir, open, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { type BaseMeta, basePaths, isBaseKey, readBaseMeta } from '../base/cache.js';
import { hostError, inputError } from '../errors.js';
import type { Host } from '../host/host.js';
import { parseInstallRequest, safeFileName } from '../request/request.js';
import type { InstallRequest, RawInstallArgs } from '../request/request.js';

export type { BaseKeyInputs, BaseMeta, BasePaths, BaseRequestSubset } from '../base/cache.js';
export {
  baseKey,
  basePaths,
  defaultCacheDir,
  publishBase,
  readBaseMeta,
  templatesHash,
} from '../base/cache.js';
export { baseRequestSubset } from '../base/key.js';

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
  if (isBaseKey(base)) {
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
