import { expect } from 'chai';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { DETECTORS, defaultContext, detectTree, detectWith } from '../../../src/media/detect.js';
import {
  debianCdDetector,
  debianMirrorDetector,
  debianNetbootDetector,
} from '../../../src/media/detect-debian.js';
import { treeinfoDetector } from '../../../src/media/detect-treeinfo.js';
import { ubuntuCasperDetector } from '../../../src/media/detect-ubuntu.js';
import type { DetectContext, Detector } from '../../../src/media/detector.js';
import type { Detection, TreeReader } from '../../../src/media/types.js';

const FIXTURES = path.resolve(import.meta.dirname, '../../../fixtures/media/trees');

/** Every file of a fixture tree as text, keyed by its path relative to the tree. */
function treeFiles(rel: string): Record<string, string> {
  const root = path.join(FIXTURES, rel);
  const out: Record<string, string> = {};
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const p = path.join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else out[path.relative(root, p).split(path.sep).join('/')] = readFileSync(p, 'latin1');
    }
  };
  walk(root);
  return out;
}

/** A mirror's `current` symlink, as the files appear through it. */
function viaCurrent(files: Record<string, string>, build: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [p, c] of Object.entries(files)) out[p.replace(`${build}/`, 'current/')] = c;
  return out;
}

class MemoryReader implements TreeReader {
  readonly describe = 'memory:/tree';
  readonly calls: string[] = [];
  constructor(private readonly files: Record<string, string>) {}
  read(p: string): Promise<Buffer | null> {
    this.calls.push(`read ${p}`);
    const f = this.files[p];
    return Promise.resolve(f === undefined ? null : Buffer.from(f, 'latin1'));
  }
  exists(p: string): Promise<boolean> {
    this.calls.push(`exists ${p}`);
    return Promise.resolve(p in this.files);
  }
}

const ctx = (over: Partial<DetectContext> = {}): DetectContext =>
  defaultContext({ location: '/srv/tree', hostArch: 'x86_64', ...over });

interface Case {
  name: string;
  detector: Detector;
  files: Record<string, string>;
  ctx?: Partial<DetectContext>;
  want: Partial<Detection> | null;
}

const DEBIAN_MIRROR = viaCurrent(
  treeFiles('debian/dists/bookworm/main/installer-amd64'),
  '20230607+deb12u15',
);
const MIRROR_URL = 'http://deb.debian.org/debian/dists/bookworm/main/installer-amd64/';
const K = 'MZ fake kernel';

const CASES: Case[] = [
  {
    name: 'Fedora 39 tree with its packages (repodata): anaconda, local install possible',
    detector: treeinfoDetector,
    files: treeFiles('fedora-39'),
    want: {
      family: 'fedora',
      installer: 'anaconda',
      version: '39',
      arch: 'x86_64',
      name: 'Fedora 39',
      kernel: 'images/pxeboot/vmlinuz',
      initrd: 'images/pxeboot/initrd.img',
      stage2: 'images/install.img',
      bootIso: 'images/boot.iso',
      netInstall: false,
      checksumSource: '.treeinfo [checksums]',
    },
  },
  {
    name: 'RHEL 9.3 DVD: repositories in variant directories',
    detector: treeinfoDetector,
    files: treeFiles('rhel-9.3-dvd'),
    want: { family: 'rhel', version: '9.3', name: 'Red Hat Enterprise Linux 9.3', netInstall: false },
  },
  {
    name: 'CentOS Stream 9 BaseOS over HTTP: always a network install',
    detector: treeinfoDetector,
    files: treeFiles('centos-stream-9/BaseOS/x86_64/os'),
    ctx: { medium: 'http' },
    want: { family: 'centos-stream', version: '9', name: 'CentOS Stream 9', netInstall: true },
  },
  {
    name: 'a boot-only tree (no repodata) needs the network',
    detector: treeinfoDetector,
    files: { '.treeinfo': treeFiles('fedora-39')['.treeinfo']! },
    want: { family: 'fedora', netInstall: true },
  },
  {
    name: 'the old name "treeinfo" (no dot), AlmaLinux',
    detector: treeinfoDetector,
    files: {
      treeinfo:
        '[header]\ntype = productmd.treeinfo\nversion = 1.2\n[release]\nname = AlmaLinux\nshort = AlmaLinux\nversion = 9.3\n[tree]\narch = x86_64\n[images-x86_64]\nkernel = images/pxeboot/vmlinuz\ninitrd = images/pxeboot/initrd.img\n',
    },
    want: { family: 'almalinux', version: '9.3', kernel: 'images/pxeboot/vmlinuz' },
  },
  {
    name: 'Rocky Linux aarch64, asked as arm64',
    detector: treeinfoDetector,
    files: {
      '.treeinfo':
        '[release]\nname = Rocky Linux\nshort = Rocky\nversion = 9.3\n[tree]\narch = aarch64\n[images-aarch64]\nkernel = images/pxeboot/vmlinuz\ninitrd = images/pxeboot/initrd.img\n',
    },
    ctx: { arch: 'aarch64' },
    want: { family: 'rocky', arch: 'aarch64' },
  },
  {
    name: 'Xen images from [images-xen] with --xen',
    detector: treeinfoDetector,
    files: {
      '.treeinfo':
        '[release]\nname = Fedora\nversion = 39\n[tree]\narch = x86_64\n[images-x86_64]\nkernel = images/pxeboot/vmlinuz\ninitrd = images/pxeboot/initrd.img\n[images-xen]\nkernel = images/xen/vmlinuz\ninitrd = images/xen/initrd.img\n',
    },
    ctx: { xen: true },
    want: { kernel: 'images/xen/vmlinuz', initrd: 'images/xen/initrd.img' },
  },
  {
    name: 'Debian 12 mirror: MANIFEST, netboot kernel, SHA256SUMS, codename from the URL',
    detector: debianMirrorDetector,
    files: DEBIAN_MIRROR,
    ctx: { location: MIRROR_URL, medium: 'http' },
    want: {
      family: 'debian',
      installer: 'debian-installer',
      version: '12',
      name: 'Debian 12 (bookworm)',
      arch: 'x86_64',
      kernel: 'current/images/netboot/debian-installer/amd64/linux',
      initrd: 'current/images/netboot/debian-installer/amd64/initrd.gz',
      checksumSource: 'current/images/SHA256SUMS',
      netInstall: true,
    },
  },
  {
    name: 'Debian mirror Xen PV images with --xen',
    detector: debianMirrorDetector,
    files: DEBIAN_MIRROR,
    ctx: { location: MIRROR_URL, xen: true },
    want: { kernel: 'current/images/netboot/xen/vmlinuz', initrd: 'current/images/netboot/xen/initrd.gz' },
  },
  {
    name: 'Debian arm64 mirror: the arch comes from installer-arm64 in the URL',
    detector: debianMirrorDetector,
    files: {
      'current/images/MANIFEST': 'netboot/debian-installer/arm64/linux -- kernel for netboot\n',
      'current/images/netboot/debian-installer/arm64/linux': K,
      'current/images/netboot/debian-installer/arm64/initrd.gz': K,
    },
    ctx: { location: 'http://m/debian/dists/trixie/main/installer-arm64/' },
    want: {
      arch: 'aarch64',
      version: '13',
      name: 'Debian 13 (trixie)',
      kernel: 'current/images/netboot/debian-installer/arm64/linux',
    },
  },
  {
    name: 'Debian ppc64el mirror: the kernel is vmlinux',
    detector: debianMirrorDetector,
    files: {
      'current/images/MANIFEST': 'netboot/debian-installer/ppc64el/vmlinux\n',
      'current/images/netboot/debian-installer/ppc64el/vmlinux': K,
      'current/images/netboot/debian-installer/ppc64el/initrd.gz': K,
    },
    ctx: { location: 'http://m/debian/dists/bookworm/main/installer-ppc64el/' },
    want: { arch: 'ppc64le', kernel: 'current/images/netboot/debian-installer/ppc64el/vmlinux' },
  },
  {
    name: 'Ubuntu 20.04 legacy-images mirror (focal-updates)',
    detector: debianMirrorDetector,
    files: treeFiles('ubuntu/dists/focal-updates/main/installer-amd64'),
    ctx: { location: 'http://archive.ubuntu.com/ubuntu/dists/focal-updates/main/installer-amd64/' },
    want: {
      family: 'ubuntu',
      version: '20.04',
      name: 'Ubuntu 20.04 (focal)',
      kernel: 'current/legacy-images/netboot/ubuntu-installer/amd64/linux',
    },
  },
  {
    name: 'Debian daily images (d-i.debian.org/daily-images/amd64/)',
    detector: debianMirrorDetector,
    files: {
      'daily/MANIFEST': 'netboot/debian-installer/amd64/linux -- kernel for netboot\n',
      'daily/netboot/debian-installer/amd64/linux': K,
      'daily/netboot/debian-installer/amd64/initrd.gz': K,
    },
    ctx: { location: 'https://d-i.debian.org/daily-images/amd64/' },
    want: {
      family: 'debian',
      version: 'testing',
      name: 'Debian testing (daily installer build)',
      kernel: 'daily/netboot/debian-installer/amd64/linux',
    },
  },
  {
    name: 'a MANIFEST that names neither Debian nor Ubuntu is not a Debian mirror',
    detector: debianMirrorDetector,
    files: {
      'current/images/MANIFEST': 'foo -- bar\n',
      'current/images/netboot/debian-installer/amd64/linux': K,
    },
    want: null,
  },
  {
    name: 'the netboot tarball layout (package debian-installer-12-netboot-amd64)',
    detector: debianNetbootDetector,
    files: {
      'version.info': 'Debian version:  12 (bookworm)\nInstaller build: 20230607+deb12u15\n',
      'debian-installer/amd64/linux': K,
      'debian-installer/amd64/initrd.gz': K,
      'pxelinux.0': K,
    },
    want: {
      family: 'debian',
      version: '12',
      name: 'Debian 12 (bookworm)',
      arch: 'x86_64',
      kernel: 'debian-installer/amd64/linux',
      initrd: 'debian-installer/amd64/initrd.gz',
      netInstall: true,
    },
  },
  {
    name: 'a netboot tarball for arm64 only, on an x86_64 host',
    detector: debianNetbootDetector,
    files: { 'debian-installer/arm64/linux': K, 'debian-installer/arm64/initrd.gz': K },
    want: { arch: 'aarch64', version: null, name: 'Debian (version unknown)' },
  },
  {
    name: 'an Ubuntu netboot tarball (ubuntu-installer/)',
    detector: debianNetbootDetector,
    files: {
      'version.info': 'Ubuntu version: 20.04 (focal)\n',
      'ubuntu-installer/amd64/linux': K,
      'ubuntu-installer/amd64/initrd.gz': K,
    },
    want: { family: 'ubuntu', version: '20.04', kernel: 'ubuntu-installer/amd64/linux' },
  },
  {
    name: 'a netboot kernel without its initrd is not a tree',
    detector: debianNetbootDetector,
    files: { 'debian-installer/amd64/linux': K },
    want: null,
  },
  {
    name: 'a Debian 12 netinst CD: .disk/info and install.amd/',
    detector: debianCdDetector,
    files: treeFiles('debian-12-netinst-cd'),
    ctx: { medium: 'iso' },
    want: {
      family: 'debian',
      version: '12.5.0',
      name: 'Debian 12.5.0 (bookworm)',
      arch: 'x86_64',
      kernel: 'install.amd/vmlinuz',
      initrd: 'install.amd/initrd.gz',
      netInstall: true,
      checksumSource: 'sha256sum.txt',
    },
  },
  {
    name: 'a Debian DVD (not netinst) has its packages',
    detector: debianCdDetector,
    files: {
      '.disk/info': 'Debian GNU/Linux 12.5.0 "Bookworm" - Official amd64 DVD Binary-1 20240210-11:28',
      'install.amd/vmlinuz': K,
      'install.amd/initrd.gz': K,
      'md5sum.txt': `${'a'.repeat(32)}  ./install.amd/vmlinuz\n`,
    },
    ctx: { medium: 'iso' },
    want: { netInstall: false, checksumSource: 'md5sum.txt' },
  },
  {
    name: 'an Ubuntu 18.04 alternate CD: d-i from install/',
    detector: debianCdDetector,
    files: {
      '.disk/info': 'Ubuntu-Server 18.04.6 LTS "Bionic Beaver" - Release amd64 (20210915)',
      'install/vmlinuz': K,
      'install/initrd.gz': K,
    },
    ctx: { medium: 'iso' },
    want: {
      family: 'ubuntu',
      installer: 'debian-installer',
      version: '18.04.6',
      name: 'Ubuntu 18.04.6 (bionic)',
      kernel: 'install/vmlinuz',
    },
  },
  {
    name: 'an Ubuntu 22.04 live-server ISO: casper',
    detector: ubuntuCasperDetector,
    files: treeFiles('ubuntu-22.04-live-server'),
    ctx: { medium: 'iso' },
    want: {
      family: 'ubuntu',
      installer: 'casper',
      version: '22.04.3',
      name: 'Ubuntu 22.04.3 (jammy)',
      arch: 'x86_64',
      kernel: 'casper/vmlinuz',
      initrd: 'casper/initrd',
      netInstall: false,
      checksumSource: 'md5sum.txt',
    },
  },
  {
    name: 'an Ubuntu arm64 live-server ISO: the arch from .disk/info',
    detector: ubuntuCasperDetector,
    files: {
      '.disk/info': 'Ubuntu-Server 24.04 LTS "Noble Numbat" - Release arm64 (20240423)',
      'casper/vmlinuz': K,
      'casper/initrd': K,
    },
    ctx: { medium: 'iso' },
    want: { arch: 'aarch64', version: '24.04', name: 'Ubuntu 24.04 (noble)' },
  },
];

describe('media/detect: each detector over the files it asks for', () => {
  for (const c of CASES) {
    it(`${c.detector.name}: ${c.name}`, () => {
      const got = detectWith(c.detector, c.files, ctx(c.ctx));
      if (c.want === null) {
        expect(got).to.equal(null);
        return;
      }
      expect(got, 'recognised').to.not.equal(null);
      expect(got).to.include(c.want);
      expect(got!.detector).to.equal(c.detector.name);
      // every path a detection names stays inside the tree
      for (const p of [got!.kernel, got!.initrd, got!.stage2, ...Object.keys(got!.checksums)].filter(
        Boolean,
      )) {
        expect(p).to.not.match(/^\/|(^|\/)\.\.(\/|$)|^[a-z]+:/);
      }
    });
  }

  it('checks the checksum list against the files (fixture sanity): every checksum names a file of the tree', () => {
    const d = detectWith(treeinfoDetector, treeFiles('fedora-39'), ctx())!;
    const files = treeFiles('fedora-39');
    for (const p of Object.keys(d.checksums)) expect(files).to.have.property(p);
  });

  const ERRORS: [string, Detector, Record<string, string>, Partial<DetectContext>, string][] = [
    [
      'a tree for another arch than --arch',
      treeinfoDetector,
      treeFiles('fedora-39'),
      { arch: 'aarch64' },
      'MEDIA_ARCH_MISMATCH',
    ],
    [
      '--xen on a tree without [images-xen]',
      treeinfoDetector,
      { '.treeinfo': '[general]\narch = x86_64\n[images-x86_64]\nkernel = a\ninitrd = b\n' },
      { xen: true },
      'MEDIA_NO_XEN_IMAGES',
    ],
    [
      'a .treeinfo without images',
      treeinfoDetector,
      { '.treeinfo': '[general]\narch = x86_64\n' },
      {},
      'MEDIA_NO_KERNEL',
    ],
    [
      'a Debian arm64 mirror asked for x86_64',
      debianMirrorDetector,
      DEBIAN_MIRROR,
      { arch: 'aarch64', location: MIRROR_URL },
      'MEDIA_ARCH_MISMATCH',
    ],
    [
      '--xen on a netboot tarball',
      debianNetbootDetector,
      { 'debian-installer/amd64/linux': K, 'debian-installer/amd64/initrd.gz': K },
      { xen: true },
      'MEDIA_NO_XEN_IMAGES',
    ],
  ];
  for (const [name, detector, files, over, code] of ERRORS) {
    it(`${detector.name}: ${name} is an input error ${code}`, () => {
      expect(() => detectWith(detector, files, ctx(over)))
        .to.throw()
        .with.property('code', code);
    });
  }
});

describe('media/detect: the ordered engine', () => {
  it('runs the detectors in order: .treeinfo first, then Debian mirror, netboot, casper, CD', () => {
    expect(DETECTORS.map((d) => d.name).slice(0, 5), 'the first five').to.deep.equal([
      'treeinfo',
      'debian-mirror',
      'debian-netboot',
      'ubuntu-casper',
      'debian-cd',
    ]);
  });

  it('asks only for what it needs: a netboot tree costs the misses, version.info and two existence checks', async () => {
    const reader = new MemoryReader({
      'version.info': 'Debian version:  12 (bookworm)\n',
      'debian-installer/amd64/linux': K,
      'debian-installer/amd64/initrd.gz': K,
    });
    const d = await detectTree(reader, ctx());
    expect(d.detector).to.equal('debian-netboot');
    expect(reader.calls).to.deep.equal([
      'read .treeinfo',
      'read treeinfo',
      'read current/images/MANIFEST',
      'read current/legacy-images/MANIFEST',
      'read daily/MANIFEST',
      'read MANIFEST',
      'read version.info',
      'exists debian-installer/amd64/linux',
      'exists debian-installer/amd64/initrd.gz',
    ]);
  });

  it('stops at the first detector that recognises the tree (a .treeinfo wins over a casper directory)', async () => {
    const reader = new MemoryReader({ ...treeFiles('fedora-39'), 'casper/vmlinuz': K, 'casper/initrd': K });
    const d = await detectTree(reader, ctx());
    expect(d.detector).to.equal('treeinfo');
    expect(reader.calls.some((c) => c.includes('casper'))).to.equal(false);
  });

  it('says what it looked for and where when nothing matches (exit 2)', async () => {
    const reader = new MemoryReader({ 'README.txt': 'hello' });
    try {
      await detectTree(reader, ctx());
      expect.fail('recognised an empty tree');
    } catch (e) {
      const err = e as { code: string; exitCode: number; message: string; data: { probed: string[] } };
      expect(err.code).to.equal('MEDIA_NOT_RECOGNISED');
      expect(err.exitCode).to.equal(2);
      expect(err.message)
        .to.include('memory:/tree')
        .and.include('.treeinfo')
        .and.include('current/images/MANIFEST')
        .and.include('casper/vmlinuz');
      expect(err.data.probed).to.include('.disk/info').and.include('debian-installer/amd64/linux');
    }
  });
});
