/**
 * Builds and caches the test bed's assets, from Debian packages only (CONTRACTS.md §3):
 *  - kernel/: the current Debian amd64 kernel, unpacked (boot/vmlinuz-*, lib/modules/*), and its
 *    ELF vmlinux;
 *  - media/: the tiny installer as an install tree with a productmd .treeinfo, the same tree as a
 *    bootable ISO (xorriso + isolinux), a Debian-style netboot tree, and the installed system's
 *    initramfs;
 *  - l1/: the initramfs of the L1 host (shares the host's root over 9p and runs a command).
 * Each asset has a stamp with the hash of its inputs; ensureBed() is idempotent and locked.
 */
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import lockfile from 'proper-lockfile';
import {
  aptDownload,
  extractVmlinux,
  type KernelPackage,
  ModuleIndex,
  resolveKernelPackage,
  unpackKernel,
} from './kernel.js';
import { cpioNewc, readGuestScript, rmrf, run, sha256, sha256File } from './util.js';

/** Bump when the layout or the build recipe changes in a way the inputs' hash cannot see. */
const FORMAT = 'bed-1';
/**
 * Bump when the media recipe changes in a way its inputs' hash cannot see. The media live in a
 * directory named by their stamp (media-<stamp>), so checkouts with different recipes sharing one
 * cache each keep their own media instead of rebuilding them in turn.
 */
const MEDIA_FORMAT = 'media-2';

/** Kernel arguments that cut boot time under TCG (measured; see README "Test bed"). */
export const FAST_KERNEL_ARGS: readonly string[] = [
  'mitigations=off',
  'init_on_alloc=0',
  'cryptomgr.notests',
  'rodata=off',
  'nokaslr',
  'audit=0',
  'tsc=reliable',
  'no_timer_check',
  'page_alloc.shuffle=0',
  'lsm=capability',
  'pci=noaer',
  'nowatchdog',
];

/** The tiny installer's release, as its media and console name it. */
export const TINY_RELEASE = { name: 'Tiny Linux', short: 'Tiny', version: '1', arch: 'x86_64' } as const;
export const TINY_ISO_LABEL = 'TINY-1-x86_64';

/** The packages the tiny installer "installs", in order (the console shows them as (i/N)). */
export const TINY_PACKAGES: readonly { nevra: string; dir: string }[] = [
  { nevra: 'tiny-base-1.0-1.x86_64', dir: 'base' },
  { nevra: 'tiny-busybox-1.35.0-1.x86_64', dir: 'busybox' },
  { nevra: 'tiny-kernel-6.1-1.x86_64', dir: 'kernel' },
  { nevra: 'tiny-kernel-modules-6.1-1.x86_64', dir: 'modules' },
  { nevra: 'tiny-initramfs-1.0-1.x86_64', dir: 'initramfs' },
  { nevra: 'tiny-syslinux-6.04-1.x86_64', dir: 'syslinux' },
];

const HOST_DEBS = [
  'busybox-static',
  'extlinux',
  'syslinux-common',
  'e2fsprogs',
  'libc6',
  'xorriso',
  'cpio',
  // the UEFI install: a GPT (sfdisk), the EFI System Partition (mkfs.fat) and its boot loader
  'fdisk',
  'dosfstools',
  'systemd-boot-efi',
];

/** Under UEFI the installer mounts the EFI System Partition (FAT: code page 437, the kernel's default iocharset ascii). */
const EFI_MODULES: readonly string[] = ['vfat', 'nls_cp437', 'nls_ascii'];

/** Debian's systemd-boot-efi: the EFI boot loader the tiny installer writes under UEFI */
const SYSTEMD_BOOT_EFI = '/usr/lib/systemd/boot/efi/systemd-bootx64.efi';

/** Modules each initramfs loads, by name; the closure (dependencies first) is computed from modules.dep. */
const MODULES = {
  installerBase: ['virtio_pci', 'virtio_blk', 'virtio_net', 'e1000e', 'crc32c_generic', 'ext4'],
  installerCdrom: [
    'ahci',
    'ata_piix',
    'sd_mod',
    'sr_mod',
    'isofs',
    'vfat',
    'nls_cp437',
    'nls_utf8',
    'nls_ascii',
  ],
  targetInitramfs: ['virtio_pci', 'virtio_blk', 'crc32c_generic', 'ext4'],
  targetRoot: ['e1000e', 'virtio_net'],
  l1Base: [
    'virtio_pci',
    '9pnet_virtio',
    '9p',
    'overlay',
    'virtio_console',
    'virtio_blk',
    'crc32c_generic',
    'ext4',
    'e1000e',
  ],
  l1Nic: ['virtio_pci', 'e1000e', 'virtio_net'],
} as const;

export interface BedKernel {
  package: KernelPackage;
  release: string;
  /** the unpacked package (boot/, lib/modules/) */
  root: string;
  /** the bzImage, boot/vmlinuz-<release> */
  vmlinuz: string;
  /** the ELF vmlinux extracted from it (qemu -kernel boots it directly through PVH) */
  vmlinux: string;
  /** lib/modules/<release>, with modules.dep */
  modulesDir: string;
}

export interface BedMedia {
  /** install tree: .treeinfo, .discinfo, images/pxeboot/{vmlinuz,initrd.img}, images/install.img, images/boot.iso, isolinux/ */
  treeDir: string;
  treeinfo: string;
  treeKernel: string;
  treeInitrd: string;
  /** the bootable ISO (isolinux, volume label TINY-1-x86_64); the tree's images/boot.iso is the same file */
  iso: string;
  isoLabel: string;
  /** Debian-style netboot tree: debian-installer/amd64/{linux,initrd.gz}, pxelinux.0, version.info */
  netbootDir: string;
  netbootKernel: string;
  netbootInitrd: string;
  /** the installed system's initramfs (also written to the target's /boot) */
  targetInitramfs: string;
}

export interface Bed {
  dir: string;
  kernel: BedKernel;
  media: BedMedia;
  l1: { initramfs: string };
  fastKernelArgs: readonly string[];
}

/** The cache directory: ${INSTALL_GUEST_TESTBED_DIR:-$HOME/.cache/install-guest/testbed}. */
export function bedDir(env: NodeJS.ProcessEnv = process.env): string {
  const configured = env.INSTALL_GUEST_TESTBED_DIR;
  if (configured !== undefined && configured !== '') return path.resolve(configured);
  return path.join(env.HOME ?? os.homedir(), '.cache', 'install-guest', 'testbed');
}

/** The media of one recipe: media-<first 16 hex digits of its stamp>. */
export function mediaDir(dir: string, mediaStamp: string): string {
  return path.join(dir, `media-${mediaStamp.slice(0, 16)}`);
}

/** The asset paths for a kernel release under a cache directory (pure; nothing is checked). */
export function bedLayout(dir: string, pkg: KernelPackage, mediaStamp: string): Bed {
  const release = pkg.release;
  const kroot = path.join(dir, 'kernel', 'root');
  const media = mediaDir(dir, mediaStamp);
  const tree = path.join(media, 'tree');
  const netboot = path.join(media, 'netboot');
  return {
    dir,
    kernel: {
      package: pkg,
      release,
      root: kroot,
      vmlinuz: path.join(kroot, 'boot', `vmlinuz-${release}`),
      vmlinux: path.join(dir, 'kernel', 'vmlinux'),
      modulesDir: path.join(kroot, 'lib', 'modules', release),
    },
    media: {
      treeDir: tree,
      treeinfo: path.join(tree, '.treeinfo'),
      treeKernel: path.join(tree, 'images', 'pxeboot', 'vmlinuz'),
      treeInitrd: path.join(tree, 'images', 'pxeboot', 'initrd.img'),
      iso: path.join(media, 'tiny-1-x86_64.iso'),
      isoLabel: TINY_ISO_LABEL,
      netbootDir: netboot,
      netbootKernel: path.join(netboot, 'debian-installer', 'amd64', 'linux'),
      netbootInitrd: path.join(netboot, 'debian-installer', 'amd64', 'initrd.gz'),
      targetInitramfs: path.join(media, 'target-initramfs.img'),
    },
    l1: { initramfs: path.join(dir, 'l1', 'initramfs.img') },
    fastKernelArgs: FAST_KERNEL_ARGS,
  };
}

export interface EnsureBedOptions {
  dir?: string;
  /** rebuild every asset even when its stamp matches */
  force?: boolean;
  /** check the stamps again even if this process already did */
  recheck?: boolean;
  log?: (line: string) => void;
}

export async function readStamp(dir: string): Promise<string | null> {
  try {
    return (await fs.readFile(path.join(dir, '.stamp'), 'utf8')).trim();
  } catch {
    return null;
  }
}

async function dpkgVersion(pkg: string): Promise<string> {
  try {
    return (await run('dpkg-query', ['-W', '-f', '${Version}', pkg])).trim();
  } catch {
    return 'absent';
  }
}

/** Builds `final` through `final.new` and swaps it in; the stamp is written last. */
export async function buildAsset(
  final: string,
  stamp: string,
  build: (dir: string) => Promise<void>,
): Promise<void> {
  const tmp = `${final}.new`;
  await rmrf(tmp);
  await fs.mkdir(tmp, { recursive: true, mode: 0o755 });
  await build(tmp);
  await fs.writeFile(path.join(tmp, '.stamp'), `${stamp}\n`);
  await rmrf(final);
  await fs.rename(tmp, final);
}

/**
 * Builds whatever is missing or stale and returns the asset paths. Locked across processes (a
 * second caller waits); cheap when everything is cached (one `apt-cache` look-up).
 */
export async function ensureBed(options: EnsureBedOptions = {}): Promise<Bed> {
  const dir = options.dir ?? bedDir();
  // within one process the first check stands (tests call this in several before hooks)
  const memo = checked.get(dir);
  if (memo !== undefined && options.force !== true && options.recheck !== true) return memo;
  const result = ensureBedNow(dir, options);
  checked.set(dir, result);
  result.catch(() => checked.delete(dir));
  return result;
}

const checked = new Map<string, Promise<Bed>>();

async function ensureBedNow(dir: string, options: EnsureBedOptions): Promise<Bed> {
  const log = options.log ?? ((line: string) => process.stderr.write(`testbed: ${line}\n`));
  return withBedLock(dir, () => ensureLocked(dir, options.force === true, log));
}

/** Runs `fn` holding the cache directory's lock (a second process waits for it). */
export async function withBedLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  await fs.mkdir(dir, { recursive: true, mode: 0o755 });
  const release = await lockfile.lock(dir, {
    stale: 120_000,
    update: 15_000,
    retries: { retries: 200, minTimeout: 2000, maxTimeout: 5000 },
    lockfilePath: path.join(dir, '.lock'),
  });
  try {
    return await fn();
  } finally {
    await release();
  }
}

async function ensureLocked(dir: string, force: boolean, log: (line: string) => void): Promise<Bed> {
  const kdir = path.join(dir, 'kernel');
  let pkg: KernelPackage;
  try {
    pkg = await resolveKernelPackage();
  } catch (err) {
    // offline or no apt lists: a kernel already in the cache will do
    const cached = await readStamp(kdir);
    if (cached === null) throw err;
    pkg = JSON.parse(cached) as KernelPackage;
    log(`using the cached kernel ${pkg.name} (${(err as Error).message})`);
  }
  const kstamp = JSON.stringify(pkg);
  const kernelModulesDir = bedLayout(dir, pkg, '').kernel.modulesDir;

  if (force || (await readStamp(kdir)) !== kstamp) {
    const t0 = Date.now();
    log(`fetching ${pkg.name} ${pkg.version}`);
    await buildAsset(kdir, kstamp, async (tmp) => {
      const deb = await aptDownload(pkg.name, path.join(dir, 'debs'));
      await unpackKernel(deb, path.join(tmp, 'root'), pkg.release);
      await extractVmlinux(
        path.join(tmp, 'root', 'boot', `vmlinuz-${pkg.release}`),
        path.join(tmp, 'vmlinux'),
      );
      await fs.rm(deb);
    });
    log(`kernel ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  const modules = await ModuleIndex.load(kernelModulesDir);

  const versions = await Promise.all(HOST_DEBS.map(async (p) => `${p}=${await dpkgVersion(p)}`));
  const scriptHash = async (names: readonly string[]): Promise<string[]> =>
    Promise.all(names.map(async (s) => `${s}:${sha256(await readGuestScript(s))}`));
  const mediaScripts = await scriptHash([
    'installer-init.sh',
    'target-initramfs-init.sh',
    'target-init.sh',
    'udhcpc.script',
  ]);
  const mediaStamp = sha256(
    [
      FORMAT,
      MEDIA_FORMAT,
      kstamp,
      ...versions,
      ...mediaScripts,
      JSON.stringify(MODULES),
      JSON.stringify(EFI_MODULES),
      JSON.stringify(TINY_PACKAGES),
    ].join('\n'),
  );
  const bed = bedLayout(dir, pkg, mediaStamp);
  const mdir = mediaDir(dir, mediaStamp);
  if (force || (await readStamp(mdir)) !== mediaStamp) {
    const t0 = Date.now();
    log('building the tiny installer media');
    await buildAsset(mdir, mediaStamp, (tmp) => buildMedia(tmp, bed, modules, dir));
    log(`media ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  const l1Stamp = sha256(
    [FORMAT, kstamp, `busybox-static=${await dpkgVersion('busybox-static')}`, ...(await scriptHash(['l1-init.sh'])), JSON.stringify(MODULES)].join('\n'),
  );
  const ldir = path.join(dir, 'l1');
  if (force || (await readStamp(ldir)) !== l1Stamp) {
    const t0 = Date.now();
    log('building the L1 initramfs');
    await buildAsset(ldir, l1Stamp, async (tmp) => {
      const stage = path.join(tmp, 'stage');
      await busyboxRoot(stage);
      await writeExec(path.join(stage, 'init'), await readGuestScript('l1-init.sh'));
      await copyModules(modules, stage, 'base', MODULES.l1Base);
      await copyModules(modules, stage, 'nic', MODULES.l1Nic);
      await packInitramfs(stage, path.join(tmp, 'initramfs.img'));
      await rmrf(stage);
    });
    log(`L1 initramfs ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  return bed;
}

// ---------------------------------------------------------------------------------------------
// staging helpers

async function writeExec(file: string, text: string): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, text, { mode: 0o755 });
  await fs.chmod(file, 0o755);
}

let appletCache: string[] | null = null;
async function busyboxApplets(): Promise<string[]> {
  if (appletCache === null) {
    appletCache = (await run('busybox', ['--list-full']))
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && l !== 'bin/busybox');
  }
  return appletCache;
}

/** A busybox root: /bin/busybox, its applet links, the API mount points and /dev/console. */
async function busyboxRoot(stage: string, skip: readonly string[] = []): Promise<void> {
  for (const d of [
    'bin',
    'sbin',
    'usr/bin',
    'usr/sbin',
    'etc',
    'proc',
    'sys',
    'dev',
    'tmp',
    'run',
    'root',
    'mnt',
  ]) {
    await fs.mkdir(path.join(stage, d), { recursive: true });
  }
  await fs.copyFile('/bin/busybox', path.join(stage, 'bin', 'busybox'));
  await fs.chmod(path.join(stage, 'bin', 'busybox'), 0o755);
  for (const applet of await busyboxApplets()) {
    if (skip.includes(applet)) continue;
    const link = path.join(stage, applet);
    await fs.mkdir(path.dirname(link), { recursive: true });
    if (!existsSync(link)) await fs.symlink('/bin/busybox', link);
  }
  await fs.chmod(path.join(stage, 'tmp'), 0o1777);
  // the kernel opens /dev/console before /init runs; without the node init starts with no stdio
  if (process.getuid?.() === 0)
    await run('mknod', ['-m', '600', path.join(stage, 'dev', 'console'), 'c', '5', '1']);
}

/** Copies the modules' closure into stage/lib/modules/<release>/ and lists the load order in etc/modules.<list>. */
async function copyModules(
  modules: ModuleIndex,
  stage: string,
  list: string | null,
  names: readonly string[],
): Promise<string[]> {
  const files = modules.closure(names);
  const release = path.basename(modules.dir);
  for (const f of files) {
    const dest = path.join(stage, 'lib', 'modules', release, f);
    await fs.mkdir(path.dirname(dest), { recursive: true });
    await fs.copyFile(path.join(modules.dir, f), dest);
  }
  if (list !== null) {
    await fs.mkdir(path.join(stage, 'etc'), { recursive: true });
    await fs.writeFile(path.join(stage, 'etc', `modules.${list}`), files.map((f) => `${f}\n`).join(''));
  }
  return files;
}

/** newc cpio of the stage, gzip-compressed. */
async function packInitramfs(stage: string, out: string): Promise<void> {
  const raw = `${out}.cpio`;
  await cpioNewc(stage, raw);
  await fs.writeFile(out, gzipSync(await fs.readFile(raw), { level: 6 }));
  await fs.rm(raw);
}

/** Copies an ELF program and the shared libraries ldd reports into <stage>/tiny/{bin,lib}. */
async function bundleProgram(stage: string, program: string): Promise<void> {
  const bin = path.join(stage, 'tiny', 'bin');
  const lib = path.join(stage, 'tiny', 'lib');
  await fs.mkdir(bin, { recursive: true });
  await fs.mkdir(lib, { recursive: true });
  await fs.copyFile(program, path.join(bin, path.basename(program)));
  await fs.chmod(path.join(bin, path.basename(program)), 0o755);
  const ldd = await run('ldd', [program]);
  for (const line of ldd.split('\n')) {
    const m = /^\s*(\S+)\s+=>\s+(\/\S+)/.exec(line) ?? /^\s*(\/\S+ld-linux\S*)\s+\(/.exec(line);
    if (!m) continue;
    const src = m[2] ?? m[1]!;
    const name = path.basename(m[1]!);
    const dest = path.join(lib, name);
    if (!existsSync(dest)) {
      await fs.copyFile(src, dest);
      await fs.chmod(dest, 0o755);
    }
  }
}

function which(candidates: readonly string[]): string {
  for (const c of candidates) if (existsSync(c)) return c;
  throw new Error(
    `testbed: none of ${candidates.join(', ')} exists (install the Debian package that provides it)`,
  );
}

// ---------------------------------------------------------------------------------------------
// the tiny installer media

async function buildTargetPackages(
  pkgs: string,
  bed: Bed,
  modules: ModuleIndex,
  targetInitramfs: string,
): Promise<void> {
  const release = bed.kernel.release;
  // tiny-base: the skeleton, /sbin/init and the accounts
  const base = path.join(pkgs, 'base');
  for (const d of [
    'proc',
    'sys',
    'dev',
    'run',
    'tmp',
    'root',
    'mnt',
    'boot',
    'var/log',
    'var/tmp',
    'usr/local/sbin',
    'usr/local/bin',
    'etc',
  ]) {
    await fs.mkdir(path.join(base, d), { recursive: true });
  }
  await fs.chmod(path.join(base, 'tmp'), 0o1777);
  await fs.chmod(path.join(base, 'root'), 0o700);
  await writeExec(path.join(base, 'sbin', 'init'), await readGuestScript('target-init.sh'));
  await writeExec(path.join(base, 'etc', 'udhcpc.script'), await readGuestScript('udhcpc.script'));
  await fs.writeFile(path.join(base, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  await fs.writeFile(path.join(base, 'etc', 'group'), 'root:x:0:\n');
  await fs.writeFile(path.join(base, 'etc', 'shadow'), 'root:!:19000:0:99999:7:::\n', { mode: 0o600 });
  await fs.writeFile(path.join(base, 'etc', 'hostname'), 'tiny\n');
  await fs.writeFile(
    path.join(base, 'etc', 'os-release'),
    'NAME="Tiny Linux"\nID=tiny\nVERSION_ID=1\nPRETTY_NAME="Tiny Linux 1"\n',
  );
  // tiny-busybox (its sbin/init link would replace the system's init)
  const bb = path.join(pkgs, 'busybox');
  await busyboxRoot(bb, ['sbin/init', 'linuxrc']);
  for (const d of ['etc', 'proc', 'sys', 'dev', 'tmp', 'run', 'root', 'mnt']) await rmrf(path.join(bb, d));
  // tiny-kernel
  const k = path.join(pkgs, 'kernel', 'boot');
  await fs.mkdir(k, { recursive: true });
  await fs.copyFile(bed.kernel.vmlinuz, path.join(k, `vmlinuz-${release}`));
  await fs.copyFile(
    path.join(bed.kernel.root, 'boot', `config-${release}`),
    path.join(k, `config-${release}`),
  );
  // tiny-kernel-modules: the NIC drivers, with their own modules.dep for busybox modprobe
  const mods = path.join(pkgs, 'modules');
  await copyModules(modules, mods, null, MODULES.targetRoot);
  await fs.copyFile(
    path.join(bed.kernel.modulesDir, 'modules.builtin'),
    path.join(mods, 'lib', 'modules', release, 'modules.builtin'),
  );
  await run('busybox', ['depmod', '-b', mods, release]);
  // tiny-initramfs
  const ird = path.join(pkgs, 'initramfs', 'boot');
  await fs.mkdir(ird, { recursive: true });
  await fs.copyFile(targetInitramfs, path.join(ird, `initramfs-${release}.img`));
  // tiny-syslinux
  const sl = path.join(pkgs, 'syslinux', 'usr', 'share', 'syslinux');
  await fs.mkdir(sl, { recursive: true });
  await fs.copyFile('/usr/lib/syslinux/mbr/mbr.bin', path.join(sl, 'mbr.bin'));
}

function treeinfo(checksums: Record<string, string>, withBootIso: boolean): string {
  const r = TINY_RELEASE;
  const images = [
    ...(withBootIso ? ['boot.iso = images/boot.iso'] : []),
    'initrd = images/pxeboot/initrd.img',
    'kernel = images/pxeboot/vmlinuz',
  ];
  const sums = Object.keys(checksums)
    .sort()
    .map((k) => `${k} = sha256:${checksums[k]}`);
  return [
    '[header]',
    'type = productmd.treeinfo',
    'version = 1.2',
    '',
    '[release]',
    `name = ${r.name}`,
    `short = ${r.short}`,
    `version = ${r.version}`,
    '',
    '[tree]',
    `arch = ${r.arch}`,
    'build_timestamp = 1700000000',
    `platforms = ${r.arch}`,
    'variants = BaseOS',
    '',
    '[variant-BaseOS]',
    'id = BaseOS',
    'name = BaseOS',
    'type = variant',
    'uid = BaseOS',
    'packages = Packages',
    'repository = .',
    '',
    `[images-${r.arch}]`,
    ...images,
    '',
    '[stage2]',
    'mainimage = images/install.img',
    '',
    '[checksums]',
    ...sums,
    '',
    '[general]',
    `arch = ${r.arch}`,
    `family = ${r.name}`,
    `name = ${r.name} ${r.version}`,
    `packagedir = Packages`,
    `platforms = ${r.arch}`,
    'repository = .',
    'timestamp = 1700000000',
    'variant = BaseOS',
    `version = ${r.version}`,
    '',
  ].join('\n');
}

async function buildMedia(out: string, bed: Bed, modules: ModuleIndex, cacheDir: string): Promise<void> {
  const work = path.join(out, 'work');
  await fs.mkdir(work, { recursive: true });
  const fast = FAST_KERNEL_ARGS.join(' ');

  // the installed system's initramfs
  const tstage = path.join(work, 'target-initramfs');
  await busyboxRoot(tstage);
  await writeExec(path.join(tstage, 'init'), await readGuestScript('target-initramfs-init.sh'));
  await copyModules(modules, tstage, 'base', MODULES.targetInitramfs);
  const targetInitramfs = path.join(out, 'target-initramfs.img');
  await packInitramfs(tstage, targetInitramfs);

  // the installer's initramfs
  const stage = path.join(work, 'installer');
  await busyboxRoot(stage);
  await writeExec(
    path.join(stage, 'init'),
    (await readGuestScript('installer-init.sh')).replace('@FASTARGS@', fast),
  );
  await writeExec(path.join(stage, 'etc', 'udhcpc.script'), await readGuestScript('udhcpc.script'));
  if (existsSync('/etc/mke2fs.conf'))
    await fs.copyFile('/etc/mke2fs.conf', path.join(stage, 'etc', 'mke2fs.conf'));
  await copyModules(modules, stage, 'base', MODULES.installerBase);
  await copyModules(modules, stage, 'cdrom', MODULES.installerCdrom);
  await copyModules(modules, stage, 'efi', EFI_MODULES);
  await bundleProgram(stage, which(['/usr/sbin/mke2fs', '/sbin/mke2fs']));
  await bundleProgram(stage, which(['/usr/bin/extlinux']));
  await bundleProgram(stage, which(['/usr/sbin/sfdisk', '/sbin/sfdisk']));
  await bundleProgram(stage, which(['/usr/sbin/mkfs.fat', '/sbin/mkfs.fat']));
  await fs.mkdir(path.join(stage, 'tiny', 'share'), { recursive: true });
  await fs.copyFile('/usr/lib/syslinux/mbr/mbr.bin', path.join(stage, 'tiny', 'share', 'mbr.bin'));
  await fs.copyFile(which([SYSTEMD_BOOT_EFI]), path.join(stage, 'tiny', 'share', 'systemd-bootx64.efi'));
  await buildTargetPackages(path.join(stage, 'tiny', 'pkgs'), bed, modules, targetInitramfs);
  await fs.writeFile(
    path.join(stage, 'tiny', 'packages.list'),
    TINY_PACKAGES.map((p) => `${p.nevra} ${p.dir}\n`).join(''),
  );

  // the install tree
  const tree = path.join(out, 'tree');
  const pxe = path.join(tree, 'images', 'pxeboot');
  await fs.mkdir(pxe, { recursive: true });
  await fs.copyFile(bed.kernel.vmlinuz, path.join(pxe, 'vmlinuz'));
  await packInitramfs(stage, path.join(pxe, 'initrd.img'));
  // stage2: a real (if tiny) image, so the checksum entry names an existing file
  const s2 = path.join(work, 'stage2');
  await fs.mkdir(path.join(s2, 'etc'), { recursive: true });
  await fs.writeFile(
    path.join(s2, 'etc', 'tiny-stage2'),
    'Tiny Linux 1 stage2: everything lives in the initrd\n',
  );
  await cpioNewc(s2, path.join(tree, 'images', 'install.img'));
  await fs.writeFile(
    path.join(tree, '.discinfo'),
    `1700000000.000000\n${TINY_RELEASE.name} ${TINY_RELEASE.version}\n${TINY_RELEASE.arch}\n`,
  );
  const iso = path.join(tree, 'isolinux');
  await fs.mkdir(iso, { recursive: true });
  const isolinuxDeb = await aptDownload(
    `isolinux=${await dpkgVersion('syslinux-common')}`,
    path.join(cacheDir, 'debs'),
  );
  const isolinuxRoot = path.join(work, 'isolinux-deb');
  await run('dpkg', ['-x', isolinuxDeb, isolinuxRoot]);
  await fs.copyFile(
    path.join(isolinuxRoot, 'usr', 'lib', 'ISOLINUX', 'isolinux.bin'),
    path.join(iso, 'isolinux.bin'),
  );
  await fs.copyFile('/usr/lib/syslinux/modules/bios/ldlinux.c32', path.join(iso, 'ldlinux.c32'));
  await fs.writeFile(
    path.join(iso, 'isolinux.cfg'),
    [
      'SERIAL 0 115200',
      'DEFAULT linux',
      'PROMPT 0',
      'TIMEOUT 0',
      'LABEL linux',
      `  MENU LABEL Install ${TINY_RELEASE.name} ${TINY_RELEASE.version}`,
      '  KERNEL /images/pxeboot/vmlinuz',
      '  INITRD /images/pxeboot/initrd.img',
      `  APPEND inst.stage2=hd:LABEL=${TINY_ISO_LABEL} console=tty0 console=ttyS0,115200 ${fast}`,
      '',
    ].join('\n'),
  );
  const sums: Record<string, string> = {};
  for (const rel of ['images/pxeboot/vmlinuz', 'images/pxeboot/initrd.img', 'images/install.img']) {
    sums[rel] = await sha256File(path.join(tree, rel));
  }
  // the ISO carries the tree without boot.iso (it cannot hold itself)
  await fs.writeFile(path.join(tree, '.treeinfo'), treeinfo(sums, false));
  const isoFile = path.join(out, 'tiny-1-x86_64.iso');
  await run('xorriso', [
    '-as',
    'mkisofs',
    '-quiet',
    '-o',
    isoFile,
    '-V',
    TINY_ISO_LABEL,
    '-J',
    '-R',
    '-b',
    'isolinux/isolinux.bin',
    '-c',
    'isolinux/boot.cat',
    '-no-emul-boot',
    '-boot-load-size',
    '4',
    '-boot-info-table',
    '-isohybrid-mbr',
    path.join(isolinuxRoot, 'usr', 'lib', 'ISOLINUX', 'isohdpfx.bin'),
    tree,
  ]);
  await fs.link(isoFile, path.join(tree, 'images', 'boot.iso'));
  sums['images/boot.iso'] = await sha256File(isoFile);
  await fs.writeFile(path.join(tree, '.treeinfo'), treeinfo(sums, true));

  // the Debian-style netboot tree
  const nb = path.join(out, 'netboot');
  const di = path.join(nb, 'debian-installer', 'amd64');
  await fs.mkdir(path.join(di, 'pxelinux.cfg'), { recursive: true });
  await fs.link(path.join(pxe, 'vmlinuz'), path.join(di, 'linux'));
  await fs.link(path.join(pxe, 'initrd.img'), path.join(di, 'initrd.gz'));
  const dipxe = '/usr/lib/debian-installer/images/12/amd64/text/debian-installer/amd64/pxelinux.0';
  if (existsSync(dipxe)) {
    await fs.copyFile(dipxe, path.join(di, 'pxelinux.0'));
    await fs.copyFile('/usr/lib/syslinux/modules/bios/ldlinux.c32', path.join(di, 'ldlinux.c32'));
    await fs.symlink('debian-installer/amd64/pxelinux.0', path.join(nb, 'pxelinux.0'));
    await fs.symlink('debian-installer/amd64/ldlinux.c32', path.join(nb, 'ldlinux.c32'));
  }
  await fs.writeFile(
    path.join(di, 'pxelinux.cfg', 'default'),
    [
      'SERIAL 0 115200',
      'DEFAULT install',
      'LABEL install',
      '  KERNEL debian-installer/amd64/linux',
      `  APPEND initrd=debian-installer/amd64/initrd.gz console=ttyS0,115200 ${fast}`,
      '',
    ].join('\n'),
  );
  await fs.symlink('debian-installer/amd64/pxelinux.cfg', path.join(nb, 'pxelinux.cfg'));
  await fs.writeFile(
    path.join(nb, 'version.info'),
    `${TINY_RELEASE.name} ${TINY_RELEASE.version} (tiny test bed) - netboot\n`,
  );

  await rmrf(work);
}
