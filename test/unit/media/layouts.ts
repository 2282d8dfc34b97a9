/**
 * One install tree per family, variant and architecture install-guest recognises, written from the
 * distributions' documented layouts (metadata as the distributions publish it, kernels and initrds
 * as a few placeholder bytes). The unit test runs the detectors over each listing; the integration
 * test writes each to a directory, serves it over loopback HTTP and builds an ISO of it, and asks the
 * CLI's `media inspect --json`.
 */
import type { Arch, Family } from '../../../src/media/types.js';

export type Medium = 'local' | 'http' | 'iso';

export interface LayoutWant {
  detector: string;
  family: Family;
  version: string | null;
  arch: Arch;
  /** relative to the tree root */
  kernel: string;
  initrd: string;
}

export interface Layout {
  id: string;
  /**
   * where the tree sits under the test's root (mirror trees keep their `dists/CODENAME/…/installer-ARCH`
   * path: the release and arch of a mirror tree come from its location, as in virt-install); an
   * ISO of the tree is written to the same path with `.iso` appended
   */
  dir: string;
  files: Record<string, string>;
  /** extra `media inspect` arguments (`--arch`, `--xen`) */
  args?: string[];
  want: LayoutWant;
  /** what differs by medium (a CD's copy boots its netboot kernel, the ISO its CD kernel) */
  wantOn?: Partial<Record<Medium, Partial<LayoutWant>>>;
}

const img = (what: string): string => `placeholder ${what}\n`;

/** A pair of placeholder images. */
function pair(kernel: string, initrd: string): Record<string, string> {
  return { [kernel]: img(kernel), [initrd]: img(initrd) };
}

const productmd = (o: {
  name: string;
  short: string;
  version: string;
  arch: string;
  images: Record<string, [string, string]>;
  variants?: string;
}): string =>
  [
    '[header]',
    'type = productmd.treeinfo',
    'version = 1.2',
    '',
    '[release]',
    `name = ${o.name}`,
    `short = ${o.short}`,
    `version = ${o.version}`,
    '',
    '[tree]',
    `arch = ${o.arch}`,
    `platforms = ${Object.keys(o.images).join(',')}`,
    `variants = ${o.variants ?? 'BaseOS'}`,
    '',
    `[variant-${o.variants ?? 'BaseOS'}]`,
    `id = ${o.variants ?? 'BaseOS'}`,
    `name = ${o.variants ?? 'BaseOS'}`,
    'type = variant',
    'repository = .',
    'packages = Packages',
    '',
    ...Object.entries(o.images).flatMap(([p, [k, i]]) => [
      `[images-${p}]`,
      `kernel = ${k}`,
      `initrd = ${i}`,
      '',
    ]),
  ].join('\n');

const suseTreeinfo = (o: {
  family: string;
  name: string;
  version?: string;
  arch: string;
  kernel: string;
  initrd: string;
}) =>
  [
    '[header]',
    'version = 1.0',
    '',
    '[release]',
    `name = ${o.family}`,
    ...(o.version ? [`version = ${o.version}`] : []),
    '',
    '[general]',
    `arch = ${o.arch}`,
    `family = ${o.family}`,
    `name = ${o.name}`,
    ...(o.version ? [`version = ${o.version}`] : []),
    `platforms = ${o.arch},xen`,
    '',
    `[images-${o.arch}]`,
    `kernel = ${o.kernel}`,
    `initrd = ${o.initrd}`,
    '',
    '[images-xen]',
    `kernel = ${o.kernel}`,
    `initrd = ${o.initrd}`,
    '',
  ].join('\n');

const MANIFEST = (deb: 'Debian' | 'Ubuntu', arch: string, prefix = 'netboot') =>
  `${prefix}/${deb.toLowerCase()}-installer/${arch}/linux -- ${deb} kernel for netboot\n` +
  `${prefix}/${deb.toLowerCase()}-installer/${arch}/initrd.gz -- ${deb} initrd for netboot\n` +
  `${prefix}/netboot.tar.gz -- tarball of all files needed for netboot\n`;

export const LAYOUTS: Layout[] = [
  // ---------------------------------------------------------------- .treeinfo (anaconda, SUSE)
  {
    id: 'fedora-39-x86_64',
    dir: 'fedora/linux/releases/39/Everything/x86_64/os',
    files: {
      '.treeinfo': productmd({
        name: 'Fedora',
        short: 'Fedora',
        version: '39',
        arch: 'x86_64',
        variants: 'Everything',
        images: { x86_64: ['images/pxeboot/vmlinuz', 'images/pxeboot/initrd.img'] },
      }),
      ...pair('images/pxeboot/vmlinuz', 'images/pxeboot/initrd.img'),
      'repodata/repomd.xml': '<repomd/>\n',
    },
    want: {
      detector: 'treeinfo',
      family: 'fedora',
      version: '39',
      arch: 'x86_64',
      kernel: 'images/pxeboot/vmlinuz',
      initrd: 'images/pxeboot/initrd.img',
    },
  },
  {
    id: 'centos-stream-9-aarch64',
    dir: 'centos-stream/9-stream/BaseOS/aarch64/os',
    files: {
      '.treeinfo': productmd({
        name: 'CentOS Stream',
        short: 'CentOS-Stream',
        version: '9',
        arch: 'aarch64',
        images: { aarch64: ['images/pxeboot/vmlinuz', 'images/pxeboot/initrd.img'] },
      }),
      ...pair('images/pxeboot/vmlinuz', 'images/pxeboot/initrd.img'),
    },
    args: ['--arch', 'arm64'],
    want: {
      detector: 'treeinfo',
      family: 'centos-stream',
      version: '9',
      arch: 'aarch64',
      kernel: 'images/pxeboot/vmlinuz',
      initrd: 'images/pxeboot/initrd.img',
    },
  },
  {
    id: 'rhel-9.3-ppc64le',
    dir: 'rhel/9.3/BaseOS/ppc64le/os',
    files: {
      '.treeinfo': productmd({
        name: 'Red Hat Enterprise Linux',
        short: 'RHEL',
        version: '9.3',
        arch: 'ppc64le',
        images: { ppc64le: ['ppc/ppc64/vmlinuz', 'ppc/ppc64/initrd.img'] },
      }),
      ...pair('ppc/ppc64/vmlinuz', 'ppc/ppc64/initrd.img'),
    },
    want: {
      detector: 'treeinfo',
      family: 'rhel',
      version: '9.3',
      arch: 'ppc64le',
      kernel: 'ppc/ppc64/vmlinuz',
      initrd: 'ppc/ppc64/initrd.img',
    },
  },
  {
    id: 'rhel-8.9-s390x',
    dir: 'rhel/8.9/BaseOS/s390x/os',
    files: {
      '.treeinfo': productmd({
        name: 'Red Hat Enterprise Linux',
        short: 'RHEL',
        version: '8.9',
        arch: 's390x',
        images: { s390x: ['images/kernel.img', 'images/initrd.img'] },
      }),
      ...pair('images/kernel.img', 'images/initrd.img'),
      'generic.prm': 'ro\n',
    },
    args: ['--arch', 's390x'],
    want: {
      detector: 'treeinfo',
      family: 'rhel',
      version: '8.9',
      arch: 's390x',
      kernel: 'images/kernel.img',
      initrd: 'images/initrd.img',
    },
  },
  {
    id: 'centos-6.10-i386-xen',
    dir: 'centos/6.10/os/i386',
    files: {
      // the pre-productmd format: [general] only; Xen PV images of their own
      '.treeinfo':
        '[general]\nfamily = CentOS\ntimestamp = 1530390770.84\nvariant = \nversion = 6.10\n' +
        'packagedir = \narch = i386\n\n[stage2]\nmainimage = images/install.img\n\n' +
        '[images-i386]\nkernel = images/pxeboot/vmlinuz\ninitrd = images/pxeboot/initrd.img\n\n' +
        '[images-xen]\nkernel = images/xen/vmlinuz\ninitrd = images/xen/initrd.img\n',
      ...pair('images/pxeboot/vmlinuz', 'images/pxeboot/initrd.img'),
      ...pair('images/xen/vmlinuz', 'images/xen/initrd.img'),
      'images/install.img': img('stage2'),
    },
    args: ['--xen'],
    want: {
      detector: 'treeinfo',
      family: 'centos',
      version: '6.10',
      arch: 'i686',
      kernel: 'images/xen/vmlinuz',
      initrd: 'images/xen/initrd.img',
    },
  },
  {
    id: 'opensuse-leap-15.6-treeinfo',
    dir: 'opensuse/distribution/leap/15.6/repo/oss',
    files: {
      '.treeinfo': suseTreeinfo({
        family: 'openSUSE Leap',
        name: 'openSUSE Leap 15.6',
        version: '15.6',
        arch: 'x86_64',
        kernel: 'boot/x86_64/loader/linux',
        initrd: 'boot/x86_64/loader/initrd',
      }),
      ...pair('boot/x86_64/loader/linux', 'boot/x86_64/loader/initrd'),
      'repodata/repomd.xml': '<repomd/>\n',
    },
    want: {
      detector: 'treeinfo',
      family: 'suse',
      version: '15.6',
      arch: 'x86_64',
      kernel: 'boot/x86_64/loader/linux',
      initrd: 'boot/x86_64/loader/initrd',
    },
  },
  {
    id: 'opensuse-tumbleweed-aarch64-treeinfo',
    dir: 'opensuse/ports/aarch64/tumbleweed/repo/oss',
    files: {
      '.treeinfo': suseTreeinfo({
        family: 'openSUSE Tumbleweed',
        name: 'openSUSE Tumbleweed',
        arch: 'aarch64',
        kernel: 'boot/aarch64/linux',
        initrd: 'boot/aarch64/initrd',
      }),
      ...pair('boot/aarch64/linux', 'boot/aarch64/initrd'),
    },
    args: ['--arch', 'aarch64'],
    want: {
      detector: 'treeinfo',
      family: 'suse',
      version: 'tumbleweed',
      arch: 'aarch64',
      kernel: 'boot/aarch64/linux',
      initrd: 'boot/aarch64/initrd',
    },
  },
  // ---------------------------------------------------------------- SUSE `content`
  {
    id: 'opensuse-leap-15.5-content',
    dir: 'opensuse/distribution/leap/15.5/repo/oss',
    files: {
      content:
        'CONTENTSTYLE  11\nDATADIR       suse\nDESCRDIR      suse/setup/descr\nDISTRIBUTION  openSUSE\n' +
        'LABEL         openSUSE Leap 15.5\n' +
        'REPOID        obsproduct://build.opensuse.org/openSUSE:Leap:15.5/Leap/15.5/x86_64\n' +
        'VENDOR        openSUSE\nVERSION       15.5-0\n',
      ...pair('boot/x86_64/loader/linux', 'boot/x86_64/loader/initrd'),
      'repodata/repomd.xml': '<repomd/>\n',
    },
    want: {
      detector: 'suse-content',
      family: 'suse',
      version: '15.5',
      arch: 'x86_64',
      kernel: 'boot/x86_64/loader/linux',
      initrd: 'boot/x86_64/loader/initrd',
    },
  },
  {
    id: 'opensuse-leap-42.3-content',
    dir: 'opensuse/distribution/leap/42.3/repo/oss',
    files: {
      // since 2018 only DISTRO (a cpe and the name) and REPOID say what the product is
      content:
        'CONTENTSTYLE  11\nDATADIR       suse\nDESCRDIR      suse/setup/descr\n' +
        'DISTRO        cpe:/o:opensuse:leap:42.3,openSUSE Leap 42.3\n' +
        'REPOID        obsproduct://build.opensuse.org/openSUSE:Leap:42.3/openSUSE/42.3/ftp/x86_64\n' +
        'VENDOR        openSUSE\n',
      ...pair('boot/x86_64/loader/linux', 'boot/x86_64/loader/initrd'),
      'suse/setup/descr/packages.gz': 'packages\n',
    },
    want: {
      detector: 'suse-content',
      family: 'suse',
      version: '42.3',
      arch: 'x86_64',
      kernel: 'boot/x86_64/loader/linux',
      initrd: 'boot/x86_64/loader/initrd',
    },
  },
  {
    id: 'opensuse-13.2-content',
    dir: 'opensuse/distribution/13.2/repo/oss',
    files: {
      // the release only in the cpe; the oss repository serves i586 and x86_64 (`i586-x86_64`)
      content:
        'CONTENTSTYLE  11\nDATADIR       suse\nDISTRO        cpe:/o:opensuse:opensuse:13.2,openSUSE\n' +
        'REPOID        obsproduct://build.opensuse.org/openSUSE:13.2/openSUSE/13.2/ftp/i586-x86_64\n',
      ...pair('boot/x86_64/loader/linux', 'boot/x86_64/loader/initrd'),
    },
    want: {
      detector: 'suse-content',
      family: 'suse',
      version: '13.2',
      arch: 'x86_64',
      kernel: 'boot/x86_64/loader/linux',
      initrd: 'boot/x86_64/loader/initrd',
    },
  },
  {
    id: 'opensuse-10.3-i586-content',
    dir: 'opensuse/distribution/10.3/repo/oss',
    files: {
      content:
        'PRODUCT openSUSE-FTP\nVERSION 10.3\nDISTPRODUCT openSUSE-10.3-FTP\nDEFAULTBASE i586\n' +
        'SHORTLABEL oS 10.3\nLABEL openSUSE 10.3\nLABEL.de openSUSE 10.3\nDESCRDIR suse/setup/descr\n',
      ...pair('boot/i386/loader/linux', 'boot/i386/loader/initrd'),
    },
    want: {
      detector: 'suse-content',
      family: 'suse',
      version: '10.3',
      arch: 'i686',
      kernel: 'boot/i386/loader/linux',
      initrd: 'boot/i386/loader/initrd',
    },
  },
  {
    id: 'opensuse-10.0-content',
    dir: 'opensuse/distribution/SL-10.0-OSS/inst-source',
    files: {
      // openSUSE 10.0 kept its loader at boot/loader/, the 64-bit kernel named linux64
      content: 'PRODUCT SUSE LINUX\nVERSION 10.0\nLABEL SUSE Linux 10.0 OSS\nDEFAULTBASE x86_64\n',
      ...pair('boot/loader/linux64', 'boot/loader/initrd64'),
    },
    want: {
      detector: 'suse-content',
      family: 'suse',
      version: '10.0',
      arch: 'x86_64',
      kernel: 'boot/loader/linux64',
      initrd: 'boot/loader/initrd64',
    },
  },
  {
    id: 'sles-10-sp4-xen',
    dir: 'suse/SLES-10-SP4-DVD-x86_64',
    files: {
      content:
        'PRODUCT SUSE_SLES_SP4\nVERSION 10.4-0\nDISTPRODUCT SUSE-Linux-Enterprise-Server-SP4\n' +
        'DEFAULTBASE x86_64\nSHORTLABEL SLES 10 SP4\nLABEL SUSE Linux Enterprise Server 10 SP4\n',
      ...pair('boot/x86_64/loader/linux', 'boot/x86_64/loader/initrd'),
      ...pair('boot/x86_64/vmlinuz-xen', 'boot/x86_64/initrd-xen'),
    },
    args: ['--xen'],
    want: {
      detector: 'suse-content',
      family: 'suse',
      version: '10.4',
      arch: 'x86_64',
      kernel: 'boot/x86_64/vmlinuz-xen',
      initrd: 'boot/x86_64/initrd-xen',
    },
  },
  {
    id: 'sles-11-sp4-s390x',
    dir: 'suse/SLES-11-SP4-DVD-s390x',
    files: {
      content:
        'BASEARCHS     s390x\nCONTENTSTYLE  11\nDISTRIBUTION  SUSE_SLE\n' +
        'LABEL         SUSE Linux Enterprise Server 11 SP4\nNAME          SUSE_SLES\n' +
        'REPOID        obsproduct://build.suse.de/SUSE:SLE-11-SP4:GA/SUSE_SLES/11.4/DVD/s390x\n' +
        'VERSION       11.4\n',
      // z/VM reader kernel and its initrd
      ...pair('boot/s390x/vmrdr.ikr', 'boot/s390x/initrd'),
      'boot/s390x/parmfile': 'ramdisk_size=65536 root=/dev/ram1 ro init=/linuxrc\n',
    },
    want: {
      detector: 'suse-content',
      family: 'suse',
      version: '11.4',
      arch: 's390x',
      kernel: 'boot/s390x/vmrdr.ikr',
      initrd: 'boot/s390x/initrd',
    },
  },
  {
    id: 'sled-12-sp3-x86_64',
    dir: 'suse/SLE-12-SP3-Desktop-DVD-x86_64',
    files: {
      content:
        'CONTENTSTYLE  11\nDATADIR       suse\n' +
        'DISTRO        cpe:/o:suse:sled:12:sp3,SUSE Linux Enterprise Desktop 12 SP3\n' +
        'REPOID        obsproduct://build.suse.de/SUSE:SLE-12-SP3:GA/SLED/12.3/DVD/x86_64\n',
      ...pair('boot/x86_64/loader/linux', 'boot/x86_64/loader/initrd'),
    },
    want: {
      detector: 'suse-content',
      family: 'suse',
      version: '12.3',
      arch: 'x86_64',
      kernel: 'boot/x86_64/loader/linux',
      initrd: 'boot/x86_64/loader/initrd',
    },
  },
  {
    id: 'sles-15-sp5-ppc64le',
    dir: 'suse/SLE-15-SP5-Full-ppc64le',
    files: {
      content:
        'CONTENTSTYLE  11\nDATADIR       suse\n' +
        'DISTRO        cpe:/o:suse:sles:15:sp5,SUSE Linux Enterprise Server 15 SP5\n' +
        'REPOID        obsproduct://build.suse.de/SUSE:SLE-15-SP5:GA/SLES/15.5/DVD/ppc64le\n',
      ...pair('boot/ppc64le/linux', 'boot/ppc64le/initrd'),
    },
    args: ['--arch', 'ppc64el'],
    want: {
      detector: 'suse-content',
      family: 'suse',
      version: '15.5',
      arch: 'ppc64le',
      kernel: 'boot/ppc64le/linux',
      initrd: 'boot/ppc64le/initrd',
    },
  },
  // ---------------------------------------------------------------- Mageia
  {
    id: 'mageia-9-x86_64',
    dir: 'mageia/distrib/9/x86_64',
    files: {
      VERSION: 'Mageia 9 x86_64 Official 20230819 14:26\n',
      ...pair('isolinux/x86_64/vmlinuz', 'isolinux/x86_64/all.rdz'),
    },
    want: {
      detector: 'mageia',
      family: 'mageia',
      version: '9',
      arch: 'x86_64',
      kernel: 'isolinux/x86_64/vmlinuz',
      initrd: 'isolinux/x86_64/all.rdz',
    },
  },
  {
    id: 'mageia-8-i586',
    dir: 'mageia/distrib/8/i586',
    files: {
      VERSION: 'Mageia 8 Devel-i586-Download 20210211 09:14\n',
      ...pair('isolinux/i586/vmlinuz', 'isolinux/i586/all.rdz'),
    },
    args: ['--arch', 'i586'],
    want: {
      detector: 'mageia',
      family: 'mageia',
      version: '8',
      arch: 'i686',
      kernel: 'isolinux/i586/vmlinuz',
      initrd: 'isolinux/i586/all.rdz',
    },
  },
  // ---------------------------------------------------------------- Debian and Ubuntu mirrors
  {
    id: 'debian-12-mirror-amd64',
    dir: 'debian/dists/bookworm/main/installer-amd64',
    files: {
      'current/images/MANIFEST': MANIFEST('Debian', 'amd64'),
      'current/images/netboot/version.info':
        'Debian version:  12 (bookworm)\nInstaller build: 20230607+deb12u5\n',
      ...pair(
        'current/images/netboot/debian-installer/amd64/linux',
        'current/images/netboot/debian-installer/amd64/initrd.gz',
      ),
    },
    want: {
      detector: 'debian-mirror',
      family: 'debian',
      version: '12',
      arch: 'x86_64',
      kernel: 'current/images/netboot/debian-installer/amd64/linux',
      initrd: 'current/images/netboot/debian-installer/amd64/initrd.gz',
    },
  },
  {
    id: 'debian-11-mirror-amd64-xen',
    dir: 'debian/dists/bullseye/main/installer-amd64',
    files: {
      'current/images/MANIFEST': MANIFEST('Debian', 'amd64') + 'netboot/xen/vmlinuz -- Xen kernel\n',
      ...pair(
        'current/images/netboot/debian-installer/amd64/linux',
        'current/images/netboot/debian-installer/amd64/initrd.gz',
      ),
      ...pair('current/images/netboot/xen/vmlinuz', 'current/images/netboot/xen/initrd.gz'),
    },
    args: ['--xen'],
    want: {
      detector: 'debian-mirror',
      family: 'debian',
      version: '11',
      arch: 'x86_64',
      kernel: 'current/images/netboot/xen/vmlinuz',
      initrd: 'current/images/netboot/xen/initrd.gz',
    },
  },
  {
    id: 'debian-13-mirror-s390x',
    dir: 'debian/dists/trixie/main/installer-s390x',
    files: {
      'current/images/MANIFEST':
        'generic/kernel.debian -- Debian kernel\ngeneric/initrd.debian -- Debian initrd\n',
      ...pair('current/images/generic/kernel.debian', 'current/images/generic/initrd.debian'),
      'current/images/generic/parmfile.debian': 'ro\n',
    },
    want: {
      detector: 'debian-mirror',
      family: 'debian',
      version: '13',
      arch: 's390x',
      kernel: 'current/images/generic/kernel.debian',
      initrd: 'current/images/generic/initrd.debian',
    },
  },
  {
    id: 'debian-12-mirror-ppc64el',
    dir: 'debian/dists/bookworm/main/installer-ppc64el',
    files: {
      'current/images/MANIFEST': MANIFEST('Debian', 'ppc64el'),
      ...pair(
        'current/images/netboot/debian-installer/ppc64el/vmlinux',
        'current/images/netboot/debian-installer/ppc64el/initrd.gz',
      ),
    },
    want: {
      detector: 'debian-mirror',
      family: 'debian',
      version: '12',
      arch: 'ppc64le',
      kernel: 'current/images/netboot/debian-installer/ppc64el/vmlinux',
      initrd: 'current/images/netboot/debian-installer/ppc64el/initrd.gz',
    },
  },
  {
    id: 'ubuntu-20.04-legacy-images-amd64',
    dir: 'ubuntu/dists/focal-updates/main/installer-amd64',
    files: {
      'current/legacy-images/MANIFEST': MANIFEST('Ubuntu', 'amd64'),
      ...pair(
        'current/legacy-images/netboot/ubuntu-installer/amd64/linux',
        'current/legacy-images/netboot/ubuntu-installer/amd64/initrd.gz',
      ),
    },
    want: {
      detector: 'debian-mirror',
      family: 'ubuntu',
      version: '20.04',
      arch: 'x86_64',
      kernel: 'current/legacy-images/netboot/ubuntu-installer/amd64/linux',
      initrd: 'current/legacy-images/netboot/ubuntu-installer/amd64/initrd.gz',
    },
  },
  {
    id: 'debian-daily-arm64',
    dir: 'd-i/daily-images/arm64',
    files: {
      'daily/MANIFEST': MANIFEST('Debian', 'arm64'),
      ...pair('daily/netboot/debian-installer/arm64/linux', 'daily/netboot/debian-installer/arm64/initrd.gz'),
    },
    want: {
      detector: 'debian-mirror',
      family: 'debian',
      version: 'testing',
      arch: 'aarch64',
      kernel: 'daily/netboot/debian-installer/arm64/linux',
      initrd: 'daily/netboot/debian-installer/arm64/initrd.gz',
    },
  },
  {
    id: 'debian-12-netboot-tarball-arm64',
    dir: 'netboot/debian-12-arm64',
    files: {
      'version.info': 'Debian version:  12 (bookworm)\nInstaller build: 20230607+deb12u5\n',
      ...pair('debian-installer/arm64/linux', 'debian-installer/arm64/initrd.gz'),
    },
    want: {
      detector: 'debian-netboot',
      family: 'debian',
      version: '12',
      arch: 'aarch64',
      kernel: 'debian-installer/arm64/linux',
      initrd: 'debian-installer/arm64/initrd.gz',
    },
  },
  // ---------------------------------------------------------------- CDs: .disk/info
  ...(
    [
      ['amd64', 'x86_64', 'install.amd/vmlinuz', 'install.amd/initrd.gz'],
      ['arm64', 'aarch64', 'install.a64/vmlinuz', 'install.a64/initrd.gz'],
      ['i386', 'i686', 'install.386/vmlinuz', 'install.386/initrd.gz'],
      ['ppc64el', 'ppc64le', 'install/vmlinux', 'install/initrd.gz'],
      ['s390x', 's390x', 'boot/linux_vm', 'boot/root.bin'],
    ] as const
  ).map(([deb, arch, kernel, initrd]): Layout => ({
    id: `debian-12-netinst-${deb}`,
    dir: `cd/debian-12.5.0-${deb}-netinst`,
    files: {
      '.disk/info': `Debian GNU/Linux 12.5.0 "Bookworm" - Official ${deb} NETINST with firmware 20240210-11:27`,
      ...pair(kernel, initrd),
      'md5sum.txt': '',
    },
    want: { detector: 'debian-cd', family: 'debian', version: '12.5.0', arch, kernel, initrd },
  })),
  {
    id: 'ubuntu-18.04-server-cd',
    dir: 'cd/ubuntu-18.04.6-server-amd64',
    files: {
      '.disk/info': 'Ubuntu-Server 18.04.6 LTS "Bionic Beaver" - Release amd64 (20210915)',
      ...pair('install/vmlinuz', 'install/initrd.gz'),
      ...pair(
        'install/netboot/ubuntu-installer/amd64/linux',
        'install/netboot/ubuntu-installer/amd64/initrd.gz',
      ),
    },
    // the ISO boots its CD kernel; its contents over HTTP or in a directory boot the netboot one
    want: {
      detector: 'debian-cd',
      family: 'ubuntu',
      version: '18.04.6',
      arch: 'x86_64',
      kernel: 'install/netboot/ubuntu-installer/amd64/linux',
      initrd: 'install/netboot/ubuntu-installer/amd64/initrd.gz',
    },
    wantOn: { iso: { kernel: 'install/vmlinuz', initrd: 'install/initrd.gz' } },
  },
  {
    id: 'ubuntu-22.04-live-server',
    dir: 'cd/ubuntu-22.04.3-live-server-amd64',
    files: {
      '.disk/info': 'Ubuntu-Server 22.04.3 LTS "Jammy Jellyfish" - Release amd64 (20230807.2)',
      ...pair('casper/vmlinuz', 'casper/initrd'),
    },
    want: {
      detector: 'ubuntu-casper',
      family: 'ubuntu',
      version: '22.04.3',
      arch: 'x86_64',
      kernel: 'casper/vmlinuz',
      initrd: 'casper/initrd',
    },
  },
];

/** The expectation for one medium. */
export function wantOn(layout: Layout, medium: Medium): LayoutWant {
  return { ...layout.want, ...(layout.wantOn?.[medium] ?? {}) };
}
