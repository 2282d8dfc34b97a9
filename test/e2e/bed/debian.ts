/**
 * The test bed's real guest OS: a Debian 12 cloud-style disk image built from Debian packages only
 * (mmdebstrap with linux-image-cloud-amd64, systemd, udev, cloud-init, openssh-server), cached
 * under <bed>/debian/ with an input-hash stamp, built under the bed's lock.
 *
 * No mount and no loop device is needed (the build runs in containers too):
 *  - the root tree comes from mmdebstrap (directory format), trimmed (no docs, man pages, locales,
 *    apt lists, ssh host keys, machine id);
 *  - partition 2, ext4 labelled `debroot`, is made from that tree with `mke2fs -d`;
 *  - partition 1, FAT32 labelled `DEBBOOT` and typed as an EFI system partition (0xEF), holds the
 *    kernel and initrd with two boot loaders: syslinux (BIOS: the MBR's boot code starts the
 *    active partition) and systemd-boot (UEFI: EFI/BOOT/BOOTX64.EFI, loader/entries/debian.conf);
 *  - the MBR is written here; the raw disk is converted to a compressed qcow2.
 * Both loaders give the kernel `console=ttyS0,115200`; the serial console is the only one.
 */
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { bedDir, buildAsset, FAST_KERNEL_ARGS, readStamp, withBedLock } from './build.js';
import { rmrf, run, sha256 } from './util.js';

/** Bump when the recipe changes in a way the inputs' hash cannot see. */
const DEBIAN_FORMAT = 'debian-1';
export const DEBIAN_SUITE = 'bookworm';
export const DEBIAN_ROOT_LABEL = 'debroot';
export const DEBIAN_BOOT_LABEL = 'DEBBOOT';
/** the image's virtual size */
export const DEBIAN_DISK_MIB = 2048;
const BOOT_START_SECTOR = 2048;
const BOOT_MIB = 160;

/**
 * The generic kernel, not linux-image-cloud-amd64: the cloud flavour (6.1, bookworm) is built
 * without e1000e (CONFIG_E1000E is not set) and without AHCI (q35's cdrom controller), so it could
 * neither drive the NIC the tests assign nor read a NoCloud seed on a q35 cdrom.
 */
export const DEBIAN_PACKAGES: readonly string[] = [
  'linux-image-amd64',
  'systemd',
  'systemd-sysv',
  'udev',
  'cloud-init',
  'openssh-server',
  'iproute2',
  'netbase',
  'initramfs-tools',
  'e2fsprogs',
];

/** What the image's initramfs loads (MODULES=list): the root disk on virtio, SATA or SCSI, ext4. */
const INITRAMFS_MODULES = [
  'virtio_pci',
  'virtio_blk',
  'virtio_scsi',
  'ahci',
  'ata_piix',
  'sd_mod',
  'ext4',
  'crc32c_generic',
];

/** The host tools the recipe runs (their versions are part of the stamp). */
const HOST_DEBS = [
  'mmdebstrap',
  'e2fsprogs',
  'dosfstools',
  'mtools',
  'syslinux',
  'systemd-boot-efi',
  'qemu-utils',
];

/** Files left out of the image (dpkg path excludes: documentation and translations). */
const DPKG_EXCLUDES = [
  'path-exclude=/usr/share/doc/*',
  'path-include=/usr/share/doc/*/copyright',
  'path-exclude=/usr/share/man/*',
  'path-exclude=/usr/share/info/*',
  'path-exclude=/usr/share/locale/*',
  'path-include=/usr/share/locale/locale.alias',
  'path-exclude=/usr/share/lintian/*',
];

export interface DebianImage {
  /** the compressed qcow2 disk (BIOS and UEFI bootable) */
  disk: string;
  /** virtual size, MiB */
  sizeMiB: number;
  /** the kernel release installed in the image */
  kernelRelease: string;
  /** the package versions that went in (name=version) */
  packages: string[];
  /** seconds the build took (as recorded when it was built) */
  buildSeconds: number;
  /** the qcow2 file's size on disk, bytes */
  fileBytes: number;
}

/** The deb822 and one-line apt sources of this host, as one-line `deb URI SUITE COMPONENTS…` entries. */
export function parseAptSources(texts: readonly string[]): string[] {
  const out: string[] = [];
  for (const text of texts) {
    if (/^\s*Types:/im.test(text)) {
      for (const stanza of text.split(/\n\s*\n/)) {
        const field = (name: string): string[] => {
          const m = new RegExp(`^${name}:\\s*(.*)$`, 'im').exec(stanza);
          return m ? m[1]!.trim().split(/\s+/).filter(Boolean) : [];
        };
        if (!field('Types').includes('deb')) continue;
        if (/^Enabled:\s*no/im.test(stanza)) continue;
        for (const uri of field('URIs'))
          for (const suite of field('Suites'))
            out.push(['deb', uri, suite, ...field('Components')].join(' '));
      }
    } else {
      for (const line of text.split('\n')) {
        const l = line.replace(/#.*/, '').trim();
        const m = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s*(.*)$/.exec(l);
        if (m) out.push(['deb', m[1]!, m[2]!, ...m[3]!.split(/\s+/).filter(Boolean)].join(' '));
      }
    }
  }
  return [...new Set(out)];
}

/** The mirrors mmdebstrap is given: the host's sources for the Debian 12 suites. */
export async function hostDebianSources(): Promise<string[]> {
  const files: string[] = [];
  if (existsSync('/etc/apt/sources.list')) files.push('/etc/apt/sources.list');
  if (existsSync('/etc/apt/sources.list.d'))
    for (const f of (await fs.readdir('/etc/apt/sources.list.d')).sort())
      if (/\.(list|sources)$/.test(f)) files.push(path.join('/etc/apt/sources.list.d', f));
  const texts = await Promise.all(files.map((f) => fs.readFile(f, 'utf8')));
  const all = parseAptSources(texts).filter((l) => l.split(' ')[2]!.startsWith(DEBIAN_SUITE));
  if (all.length === 0)
    throw new Error(
      `testbed: no apt source for ${DEBIAN_SUITE} in /etc/apt/sources.list* (the Debian image is built from it)`,
    );
  return all;
}

async function dpkgVersion(pkg: string): Promise<string> {
  try {
    return (await run('dpkg-query', ['-W', '-f', '${Version}', pkg])).trim();
  } catch {
    return 'absent';
  }
}

/** The candidate versions apt would install (one `apt-cache policy` call). */
async function candidateVersions(pkgs: readonly string[]): Promise<string[]> {
  const text = await run('apt-cache', ['policy', ...pkgs]);
  const out: string[] = [];
  let current = '';
  for (const line of text.split('\n')) {
    const name = /^(\S+):$/.exec(line);
    if (name) current = name[1]!;
    const cand = /^\s+Candidate:\s*(\S+)/.exec(line);
    if (cand && current) out.push(`${current}=${cand[1]}`);
  }
  return out;
}

/** The hash of everything that decides the image's content. */
export async function debianStamp(recipe: string): Promise<string> {
  const [sources, candidates, tools] = await Promise.all([
    hostDebianSources(),
    candidateVersions(DEBIAN_PACKAGES),
    Promise.all(HOST_DEBS.map(async (p) => `${p}=${await dpkgVersion(p)}`)),
  ]);
  return sha256([DEBIAN_FORMAT, recipe, ...sources, ...candidates, ...tools].join('\n'));
}

/** The kernel command line both boot loaders give. */
export function debianKernelArgs(): string {
  return [
    `root=LABEL=${DEBIAN_ROOT_LABEL}`,
    'rw',
    'console=ttyS0,115200n8',
    'net.ifnames=1',
    ...FAST_KERNEL_ARGS.filter((a) => !a.startsWith('lsm=')),
  ].join(' ');
}

/** One MBR partition entry (LBA addressing; CHS fields set to the "beyond 8 GiB" marker). */
function mbrEntry(active: boolean, type: number, startLba: number, sectors: number): Buffer {
  const e = Buffer.alloc(16);
  e[0] = active ? 0x80 : 0;
  e.writeUIntBE(0xfeffff, 1, 3);
  e[4] = type;
  e.writeUIntBE(0xfeffff, 5, 3);
  e.writeUInt32LE(startLba, 8);
  e.writeUInt32LE(sectors, 12);
  return e;
}

/** The 512-byte MBR: boot code (syslinux's mbr.bin), disk signature, two partitions, 0x55AA. */
export function buildMbr(bootCode: Buffer, totalSectors: number, signature = 0x1e2d3c4b): Buffer {
  const mbr = Buffer.alloc(512);
  bootCode.copy(mbr, 0, 0, Math.min(bootCode.length, 440));
  mbr.writeUInt32LE(signature, 440);
  const bootSectors = BOOT_MIB * 2048;
  const rootStart = BOOT_START_SECTOR + bootSectors;
  mbrEntry(true, 0xef, BOOT_START_SECTOR, bootSectors).copy(mbr, 446);
  mbrEntry(false, 0x83, rootStart, totalSectors - rootStart).copy(mbr, 462);
  mbr[510] = 0x55;
  mbr[511] = 0xaa;
  return mbr;
}

const SYSLINUX_CFG = (args: string): string =>
  [
    'SERIAL 0 115200',
    'DEFAULT debian',
    'PROMPT 0',
    'TIMEOUT 0',
    'LABEL debian',
    '  KERNEL /vmlinuz',
    '  INITRD /initrd.img',
    `  APPEND ${args}`,
    '',
  ].join('\n');

const LOADER_ENTRY = (args: string): string =>
  ['title Debian 12', 'linux /vmlinuz', 'initrd /initrd.img', `options ${args}`, ''].join('\n');

/** cloud-init's settings baked into the image: NoCloud only (no probing of cloud metadata services). */
const CLOUD_CFG = [
  '# install-guest test bed: the seed is a NoCloud volume (cidata) or the SMBIOS serial',
  'datasource_list: [ NoCloud, None ]',
  '',
].join('\n');

/** The recipe text (part of the stamp): everything written into the tree besides packages. */
export function debianRecipe(): string {
  return [
    debianKernelArgs(),
    SYSLINUX_CFG(debianKernelArgs()),
    LOADER_ENTRY(debianKernelArgs()),
    CLOUD_CFG,
    DEBIAN_PACKAGES.join(','),
    INITRAMFS_MODULES.join(','),
    DPKG_EXCLUDES.join(','),
    `${DEBIAN_DISK_MIB}/${BOOT_MIB}`,
  ].join('\n');
}

/** Builds the image into `out` (a fresh directory); returns what the stamp records. */
export async function buildDebianImage(
  out: string,
  log: (line: string) => void,
): Promise<Omit<DebianImage, 'disk' | 'fileBytes'>> {
  const t0 = Date.now();
  const work = path.join(out, 'work');
  const root = path.join(work, 'root');
  await fs.mkdir(work, { recursive: true });
  const sources = await hostDebianSources();
  log(`mmdebstrap ${DEBIAN_SUITE} from ${sources.map((s) => s.split(' ')[1]).join(', ')}`);
  await run('mmdebstrap', [
    '--variant=apt',
    '--mode=root',
    '--format=directory',
    '--quiet',
    `--include=${DEBIAN_PACKAGES.join(',')}`,
    ...DPKG_EXCLUDES.map((o) => `--dpkgopt=${o}`),
    '--aptopt=Acquire::Languages "none"',
    '--customize-hook=chroot "$1" systemctl enable systemd-networkd.service',
    // a small initramfs: only what finds and mounts the root (the generic kernel's `most` is ~10x)
    '--customize-hook=echo MODULES=list > "$1/etc/initramfs-tools/conf.d/install-guest-testbed"',
    `--customize-hook=printf '%s\\n' ${INITRAMFS_MODULES.join(' ')} > "$1/etc/initramfs-tools/modules"`,
    '--customize-hook=chroot "$1" update-initramfs -u -k all',
    `--customize-hook=chroot "$1" dpkg-query -W -f '\${Package}=\${Version}\\n' > "$1/.packages"`,
    DEBIAN_SUITE,
    root,
    ...sources,
  ]);
  log(`root tree ready in ${((Date.now() - t0) / 1000).toFixed(0)} s`);

  // the tree's own settings
  const etc = (p: string): string => path.join(root, 'etc', p);
  await fs.writeFile(etc('hostname'), 'debian\n');
  await fs.writeFile(etc('hosts'), '127.0.0.1\tlocalhost\n127.0.1.1\tdebian\n::1\tlocalhost ip6-localhost\n');
  await fs.writeFile(
    etc('fstab'),
    `LABEL=${DEBIAN_ROOT_LABEL} / ext4 defaults,errors=remount-ro 0 1\n` +
      `LABEL=${DEBIAN_BOOT_LABEL} /boot/efi vfat defaults,nofail,umask=0077 0 2\n`,
  );
  await fs.mkdir(path.join(root, 'boot', 'efi'), { recursive: true });
  await fs.mkdir(etc('cloud/cloud.cfg.d'), { recursive: true });
  await fs.writeFile(etc('cloud/cloud.cfg.d/90-install-guest-testbed.cfg'), CLOUD_CFG);
  // every clone gets its own machine id and ssh host keys (systemd and cloud-init make them)
  await fs.writeFile(etc('machine-id'), '');
  await rmrf(path.join(root, 'var', 'lib', 'dbus', 'machine-id'));
  for (const f of await fs.readdir(etc('ssh'))) if (f.startsWith('ssh_host_')) await fs.rm(etc(`ssh/${f}`));
  for (const d of ['var/lib/apt/lists', 'var/cache/apt', 'var/log', 'tmp'])
    for (const f of await fs.readdir(path.join(root, d)).catch(() => [] as string[]))
      await rmrf(path.join(root, d, f));
  const packages = (await fs.readFile(path.join(root, '.packages'), 'utf8')).trim().split('\n');
  await fs.rm(path.join(root, '.packages'));

  // the kernel and initrd go to the boot partition
  const boot = (await fs.readdir(path.join(root, 'boot'))).sort();
  const vmlinuz = boot.find((f) => f.startsWith('vmlinuz-'));
  const initrd = boot.find((f) => f.startsWith('initrd.img-'));
  if (!vmlinuz || !initrd)
    throw new Error(`testbed: no kernel or initrd in the image's /boot (${boot.join(' ')})`);
  const kernelRelease = vmlinuz.slice('vmlinuz-'.length);

  // partition 2: ext4 from the tree
  const totalSectors = DEBIAN_DISK_MIB * 2048;
  const rootStart = BOOT_START_SECTOR + BOOT_MIB * 2048;
  const rootImg = path.join(work, 'root.ext4');
  await run('mke2fs', [
    '-q',
    '-t',
    'ext4',
    '-L',
    DEBIAN_ROOT_LABEL,
    '-d',
    root,
    '-E',
    'root_owner=0:0',
    rootImg,
    `${(totalSectors - rootStart) / 2}k`,
  ]);

  // partition 1: FAT32 with syslinux (BIOS) and systemd-boot (UEFI)
  const bootImg = path.join(work, 'boot.vfat');
  await run('mkfs.vfat', ['-F', '32', '-n', DEBIAN_BOOT_LABEL, '-C', bootImg, String(BOOT_MIB * 1024)]);
  const stage = path.join(work, 'bootfs');
  await fs.mkdir(path.join(stage, 'syslinux'), { recursive: true });
  await fs.mkdir(path.join(stage, 'EFI', 'BOOT'), { recursive: true });
  await fs.mkdir(path.join(stage, 'loader', 'entries'), { recursive: true });
  await fs.copyFile(path.join(root, 'boot', vmlinuz), path.join(stage, 'vmlinuz'));
  await fs.copyFile(path.join(root, 'boot', initrd), path.join(stage, 'initrd.img'));
  await fs.writeFile(path.join(stage, 'syslinux', 'syslinux.cfg'), SYSLINUX_CFG(debianKernelArgs()));
  await fs.copyFile(
    '/usr/lib/systemd/boot/efi/systemd-bootx64.efi',
    path.join(stage, 'EFI', 'BOOT', 'BOOTX64.EFI'),
  );
  await fs.writeFile(path.join(stage, 'loader', 'loader.conf'), 'default debian.conf\ntimeout 0\n');
  await fs.writeFile(path.join(stage, 'loader', 'entries', 'debian.conf'), LOADER_ENTRY(debianKernelArgs()));
  const mtoolsEnv = { MTOOLS_SKIP_CHECK: '1', PATH: process.env.PATH ?? '/usr/bin:/bin' };
  for (const entry of ['vmlinuz', 'initrd.img', 'syslinux', 'EFI', 'loader'])
    await run('mcopy', ['-s', '-i', bootImg, path.join(stage, entry), '::'], { env: mtoolsEnv });
  await run('syslinux', ['--install', '--directory', '/syslinux', bootImg]);

  // the disk: MBR + the two partitions at their offsets, then qcow2 (compressed)
  const raw = path.join(work, 'disk.raw');
  const fh = await fs.open(raw, 'w');
  try {
    await fh.truncate(totalSectors * 512);
    const mbrCode = await fs.readFile('/usr/lib/syslinux/mbr/mbr.bin');
    await fh.write(buildMbr(mbrCode, totalSectors), 0, 512, 0);
  } finally {
    await fh.close();
  }
  await run('dd', [
    `if=${bootImg}`,
    `of=${raw}`,
    'bs=1M',
    `seek=${BOOT_START_SECTOR / 2048}`,
    'conv=notrunc,sparse',
    'status=none',
  ]);
  await run('dd', [
    `if=${rootImg}`,
    `of=${raw}`,
    'bs=1M',
    `seek=${rootStart / 2048}`,
    'conv=notrunc,sparse',
    'status=none',
  ]);
  await run('qemu-img', [
    'convert',
    '-c',
    '-f',
    'raw',
    '-O',
    'qcow2',
    raw,
    path.join(out, 'debian-12.qcow2'),
  ]);
  await rmrf(work);
  return {
    sizeMiB: DEBIAN_DISK_MIB,
    kernelRelease,
    packages,
    buildSeconds: Math.round((Date.now() - t0) / 100) / 10,
  };
}

export interface EnsureDebianOptions {
  /** the bed's cache directory (default bedDir()) */
  dir?: string;
  force?: boolean;
  log?: (line: string) => void;
}

/**
 * The cached Debian image, built when missing or stale (under the bed's lock). The stamp holds the
 * inputs' hash and what the build recorded (time, kernel, package versions).
 */
export async function ensureDebianImage(options: EnsureDebianOptions = {}): Promise<DebianImage> {
  const dir = options.dir ?? bedDir();
  const log = options.log ?? ((line: string) => process.stderr.write(`testbed: ${line}\n`));
  const ddir = path.join(dir, 'debian');
  const disk = path.join(ddir, 'debian-12.qcow2');
  return withBedLock(dir, async () => {
    let hash: string;
    try {
      hash = await debianStamp(debianRecipe());
    } catch (err) {
      // offline or no apt lists: an image already in the cache will do
      const cached = await readStamp(ddir);
      if (cached === null) throw err;
      log(`using the cached Debian image (${(err as Error).message})`);
      hash = (JSON.parse(cached) as { hash: string }).hash;
    }
    const stampOf = (
      text: string | null,
    ): ({ hash: string } & Omit<DebianImage, 'disk' | 'fileBytes'>) | null => {
      try {
        return text === null
          ? null
          : (JSON.parse(text) as { hash: string } & Omit<DebianImage, 'disk' | 'fileBytes'>);
      } catch {
        return null;
      }
    };
    let stamp = stampOf(await readStamp(ddir));
    if (options.force === true || stamp?.hash !== hash) {
      log('building the Debian 12 cloud image (mmdebstrap: minutes on a quiet machine)');
      let built: Omit<DebianImage, 'disk' | 'fileBytes'> | undefined;
      const t0 = Date.now();
      // buildAsset writes the stamp last; its text is only known once the build is done
      await buildAsset(ddir, '', async (tmp) => {
        built = await buildDebianImage(tmp, log);
      });
      stamp = { hash, ...built! };
      await fs.writeFile(path.join(ddir, '.stamp'), `${JSON.stringify(stamp)}\n`);
      log(`Debian image ready in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    }
    const { hash: _h, ...rest } = stamp;
    return { disk, ...rest, fileBytes: (await fs.stat(disk)).size };
  });
}
