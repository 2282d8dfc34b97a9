import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import {
  type Bed,
  ensureBed,
  l1QemuArgs,
  l1RunScript,
  ModuleIndex,
  parseMetaDepends,
  TINY_ISO_LABEL,
  TINY_PACKAGES,
  tinyQemuArgs,
} from '../bed/index.js';

/** A minimal configparser-style reader, enough to check the .treeinfo the bed writes. */
function parseIni(text: string): Map<string, Map<string, string>> {
  const sections = new Map<string, Map<string, string>>();
  let current: Map<string, string> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const sec = /^\[(.+)\]$/.exec(line);
    if (sec) {
      current = new Map();
      sections.set(sec[1]!, current);
      continue;
    }
    const eq = line.indexOf('=');
    if (eq > 0 && current) current.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  }
  return sections;
}

async function sha256(file: string): Promise<string> {
  return createHash('sha256')
    .update(await fs.readFile(file))
    .digest('hex');
}

describe('test bed: assets built from Debian packages', function () {
  this.timeout(60_000);
  let bed: Bed;

  before(async function () {
    this.timeout(15 * 60_000);
    bed = await ensureBed();
  });

  it('caches the kernel resolved from linux-image-amd64, with an ELF vmlinux and modules.dep', async () => {
    expect(bed.kernel.package.name).to.match(/^linux-image-\d+\.\d+\.\d+-\d+-amd64$/);
    expect(bed.kernel.release).to.equal(bed.kernel.package.name.replace('linux-image-', ''));
    const head = Buffer.alloc(4);
    const fd = await fs.open(bed.kernel.vmlinux, 'r');
    await fd.read(head, 0, 4, 0);
    await fd.close();
    expect(head.toString('latin1')).to.equal('\x7fELF');
    const modules = await ModuleIndex.load(bed.kernel.modulesDir);
    const order = modules.closure(['vfio-pci']);
    expect(order.at(-1)).to.match(/vfio-pci\.ko$/);
    expect(order.findIndex((f) => f.endsWith('/vfio.ko'))).to.be.lessThan(order.length - 1);
  });

  it('keeps the media in a directory named by their recipe stamp', async () => {
    const dir = path.dirname(bed.media.treeDir);
    expect(path.basename(dir)).to.match(/^media-[0-9a-f]{16}$/);
    const stamp = (await fs.readFile(path.join(dir, '.stamp'), 'utf8')).trim();
    expect(path.basename(dir)).to.equal(`media-${stamp.slice(0, 16)}`);
  });

  it('is idempotent: a second ensureBed rebuilds nothing', async () => {
    const before = (await fs.stat(bed.media.treeInitrd)).mtimeMs;
    const again = await ensureBed({ recheck: true, log: () => expect.fail('nothing should be rebuilt') });
    expect(again).to.deep.equal(bed);
    expect((await fs.stat(bed.media.treeInitrd)).mtimeMs).to.equal(before);
  });

  it('writes an install tree with a productmd .treeinfo whose checksums match the images', async () => {
    const ini = parseIni(await fs.readFile(bed.media.treeinfo, 'utf8'));
    expect(ini.get('header')?.get('type')).to.equal('productmd.treeinfo');
    expect(ini.get('release')?.get('short')).to.equal('Tiny');
    expect(ini.get('release')?.get('version')).to.equal('1');
    expect(ini.get('tree')?.get('arch')).to.equal('x86_64');
    expect(ini.get('tree')?.get('platforms')).to.equal('x86_64');
    const images = ini.get('images-x86_64')!;
    expect(images.get('kernel')).to.equal('images/pxeboot/vmlinuz');
    expect(images.get('initrd')).to.equal('images/pxeboot/initrd.img');
    expect(images.get('boot.iso')).to.equal('images/boot.iso');
    expect(ini.get('stage2')?.get('mainimage')).to.equal('images/install.img');
    const sums = ini.get('checksums')!;
    expect([...sums.keys()].sort()).to.deep.equal([
      'images/boot.iso',
      'images/install.img',
      'images/pxeboot/initrd.img',
      'images/pxeboot/vmlinuz',
    ]);
    for (const [rel, value] of sums) {
      expect(value, rel).to.equal(`sha256:${await sha256(path.join(bed.media.treeDir, rel))}`);
    }
  });

  it('writes a bootable ISO labelled TINY-1-x86_64 (El Torito, isolinux)', async () => {
    const fd = await fs.open(bed.media.iso, 'r');
    const pvd = Buffer.alloc(2048);
    const boot = Buffer.alloc(2048);
    await fd.read(pvd, 0, 2048, 16 * 2048);
    await fd.read(boot, 0, 2048, 17 * 2048);
    await fd.close();
    expect(pvd.subarray(1, 6).toString('latin1')).to.equal('CD001');
    expect(pvd.subarray(40, 72).toString('latin1').trim()).to.equal(TINY_ISO_LABEL);
    expect(boot.subarray(7, 30).toString('latin1')).to.equal('EL TORITO SPECIFICATION');
    expect(await sha256(bed.media.iso)).to.equal(
      await sha256(path.join(bed.media.treeDir, 'images', 'boot.iso')),
    );
  });

  it('writes a Debian-style netboot tree (debian-installer/amd64/linux + initrd.gz)', async () => {
    expect(bed.media.netbootKernel).to.equal(path.join(bed.media.netbootDir, 'debian-installer/amd64/linux'));
    const initrd = await fs.readFile(bed.media.netbootInitrd);
    expect(initrd.subarray(0, 2)).to.deep.equal(Buffer.from([0x1f, 0x8b]));
    expect(gunzipSync(initrd).subarray(0, 6).toString('latin1')).to.equal('070701');
    const kernel = await fs.readFile(bed.media.netbootKernel);
    expect(kernel.subarray(0x202, 0x206).toString('latin1')).to.equal('HdrS');
    expect(existsSync(path.join(bed.media.netbootDir, 'version.info'))).to.equal(true);
  });

  it('puts every tiny package, the bundled mke2fs/extlinux/sfdisk/mkfs.fat, systemd-boot and the target initramfs in the installer initrd', async () => {
    const cpio = gunzipSync(await fs.readFile(bed.media.treeInitrd)).toString('latin1');
    for (const p of TINY_PACKAGES) expect(cpio).to.contain(`${p.nevra} ${p.dir}`);
    for (const f of [
      'tiny/bin/mke2fs',
      'tiny/bin/extlinux',
      'tiny/bin/sfdisk',
      'tiny/bin/mkfs.fat',
      'tiny/lib/libfdisk.so.1',
      'tiny/lib/ld-linux-x86-64.so.2',
      'tiny/share/mbr.bin',
      'tiny/share/systemd-bootx64.efi',
      'etc/modules.efi',
    ]) {
      expect(cpio).to.contain(f);
    }
    expect(cpio).to.contain(`tiny/pkgs/initramfs/boot/initramfs-${bed.kernel.release}.img`);
  });
});

describe('test bed: pure helpers', () => {
  it('resolves the kernel package from apt-cache show/depends output of the metapackage', () => {
    const show =
      'Package: linux-image-amd64\nVersion: 6.1.192-2\nDepends: linux-image-6.1.0-56-amd64 (= 6.1.192-2)\n';
    expect(parseMetaDepends(show)).to.deep.equal({
      name: 'linux-image-6.1.0-56-amd64',
      version: '6.1.192-2',
    });
    const depends = 'linux-image-amd64\n  Depends: linux-image-6.1.0-56-amd64\n';
    expect(parseMetaDepends(depends)).to.deep.equal({ name: 'linux-image-6.1.0-56-amd64', version: null });
    expect(parseMetaDepends('linux-image-amd64\n')).to.equal(null);
    expect(
      parseMetaDepends('Depends: linux-image-6.1.0-56-cloud-amd64 (= 1)\n', 'cloud-amd64')?.name,
    ).to.equal('linux-image-6.1.0-56-cloud-amd64');
  });

  it('orders module closures dependencies first and skips built-ins', () => {
    const idx = new ModuleIndex(
      '/m',
      'kernel/a.ko: kernel/b.ko kernel/c.ko\nkernel/b.ko: kernel/c.ko\nkernel/c.ko:\nkernel/pci-stub.ko:\n',
      'kernel/builtin-x.ko\n',
    );
    expect(idx.closure(['a'])).to.deep.equal(['kernel/c.ko', 'kernel/b.ko', 'kernel/a.ko']);
    expect(idx.closure(['pci_stub', 'builtin-x'])).to.deep.equal(['kernel/pci-stub.ko']);
    expect(() => idx.closure(['nope'])).to.throw(/nope/);
  });

  it('quotes the L1 run script so argv and env reach the command unchanged', () => {
    const script = l1RunScript(['node', "it's", '$HOME', 'a b'], '/work dir', { X: 'y z' });
    expect(script).to.contain(`cd '/work dir' || exit 125`);
    expect(script).to.contain(`'X=y z'`);
    expect(script).to.contain(`'node' 'it'\\''s' '$HOME' 'a b'`);
  });

  it('puts the IOMMU before the devices and escapes commas in qemu values', () => {
    const bed = {
      dir: '/c',
      kernel: { vmlinux: '/c/vmlinux', modulesDir: '/c/m' },
      l1: { initramfs: '/c/l1.img' },
      media: { treeInitrd: '/c/i.img' },
      fastKernelArgs: ['nokaslr'],
    } as unknown as Bed;
    const files = { runDir: '/c/r', stdout: '/c/r/o', stderr: '/c/r/e', status: '/c/r/s' };
    const args = l1QemuArgs(bed, { timeoutMs: 1, outDir: '/tmp/a,b' }, files);
    const iommu = args.findIndex((a) => a.startsWith('intel-iommu'));
    const firstNic = args.findIndex((a) => a.startsWith('e1000e'));
    expect(iommu).to.be.greaterThan(0);
    expect(iommu).to.be.lessThan(firstNic);
    expect(args.filter((a) => a.startsWith('e1000e,'))).to.have.length(2);
    expect(args).to.include('local,path=/tmp/a,,b,mount_tag=igout,security_model=none,multidevs=remap');
    expect(
      l1QemuArgs(bed, { timeoutMs: 1, iommu: false }, files).some((a) => a.includes('intel-iommu')),
    ).to.equal(false);
    const tiny = tinyQemuArgs(
      bed,
      { media: 'direct', disk: '/d,1.qcow2', timeoutMs: 1, failMode: 'hang' },
      {},
    );
    expect(tiny).to.include('file=/d,,1.qcow2,if=none,id=disk0,format=qcow2,cache=unsafe');
    expect(tiny[tiny.indexOf('-append') + 1]).to.match(/ ig\.fail=hang$/);
  });
});
