import { expect } from 'chai';
import { parseArch } from '../../../src/media/arch.js';
import { DETECTORS, defaultContext, detectTree } from '../../../src/media/detect.js';
import { mountedIsoPair } from '../../../src/media/detect-debian.js';
import { parseSuseContent, suseProduct, susePairs } from '../../../src/media/detect-extra.js';
import type { DetectContext } from '../../../src/media/detector.js';
import type { TreeReader } from '../../../src/media/types.js';
import { LAYOUTS, wantOn } from './layouts.js';
import type { Layout, Medium } from './layouts.js';

/** A tree in memory; the location is the layout's path, as the CLI would pass it. */
function reader(files: Record<string, string>): TreeReader {
  return {
    describe: 'memory',
    read: (p) => Promise.resolve(p in files ? Buffer.from(files[p]!) : null),
    exists: (p) => Promise.resolve(p in files),
  };
}

function ctxFor(layout: Layout, medium: Medium): DetectContext {
  const args = layout.args ?? [];
  const a = args.indexOf('--arch');
  return defaultContext({
    location: medium === 'iso' ? `/srv/${layout.dir}.iso` : `/srv/${layout.dir}`,
    hostArch: 'x86_64',
    medium,
    arch: a >= 0 ? parseArch(args[a + 1]!) : null,
    xen: args.includes('--xen'),
  });
}

describe('media/detect: every layout virt-install recognises, through the ordered detectors', () => {
  it('covers every family, detector and architecture', () => {
    expect(new Set(LAYOUTS.map((l) => l.want.family))).to.have.all.keys(
      'fedora',
      'centos-stream',
      'rhel',
      'centos',
      'suse',
      'mageia',
      'debian',
      'ubuntu',
    );
    expect(new Set(LAYOUTS.map((l) => l.want.detector))).to.have.all.keys(...DETECTORS.map((d) => d.name));
    expect(new Set(LAYOUTS.map((l) => l.want.arch))).to.have.all.keys(
      'x86_64',
      'aarch64',
      'ppc64le',
      's390x',
      'i686',
    );
    expect(new Set(LAYOUTS.map((l) => l.id)).size).to.equal(LAYOUTS.length);
  });

  for (const layout of LAYOUTS) {
    for (const medium of ['local', 'iso'] as const) {
      it(`${layout.id} (${medium}${layout.args ? ` ${layout.args.join(' ')}` : ''})`, async () => {
        const d = await detectTree(reader(layout.files), ctxFor(layout, medium));
        const want = wantOn(layout, medium);
        expect({
          detector: d.detector,
          family: d.family,
          version: d.version,
          arch: d.arch,
          kernel: d.kernel,
          initrd: d.initrd,
        }).to.deep.equal(want);
        expect(layout.files).to.have.property(d.kernel);
        expect(layout.files).to.have.property(d.initrd);
      });
    }
  }
});

describe('media/detect-extra: what a SUSE content file says', () => {
  const TABLE: [string, Record<string, string>, ReturnType<typeof suseProduct>][] = [
    [
      'SLES 11 SP4: LABEL, the version from "11 SP4", BASEARCHS',
      { LABEL: 'SUSE Linux Enterprise Server 11 SP4', VERSION: '11.4', BASEARCHS: 's390x' },
      { productName: 'SUSE Linux Enterprise Server 11 SP4', version: '11.4', arches: ['s390x'] },
    ],
    [
      'SLES 10 SP4: VERSION 10.4-0 agrees with the name; DEFAULTBASE',
      { LABEL: 'SUSE Linux Enterprise Server 10 SP4', VERSION: '10.4-0', DEFAULTBASE: 'x86_64' },
      { productName: 'SUSE Linux Enterprise Server 10 SP4', version: '10.4', arches: ['x86_64'] },
    ],
    [
      'SLE 15 GA: no service pack',
      {
        DISTRO: 'cpe:/o:suse:sles:15,SUSE Linux Enterprise Server 15',
        REPOID: 'obs://x/SLES/15/DVD/aarch64',
      },
      { productName: 'SUSE Linux Enterprise Server 15', version: '15', arches: ['aarch64'] },
    ],
    [
      'SLED 12 SP3 from DISTRO and REPOID only',
      {
        DISTRO: 'cpe:/o:suse:sled:12:sp3,SUSE Linux Enterprise Desktop 12 SP3',
        REPOID: 'obsproduct://build.suse.de/SUSE:SLE-12-SP3:GA/SLED/12.3/DVD/x86_64',
      },
      { productName: 'SUSE Linux Enterprise Desktop 12 SP3', version: '12.3', arches: ['x86_64'] },
    ],
    [
      'openSUSE 13.2: the version in the cpe, i586-x86_64 is the x86_64 tree',
      { DISTRO: 'cpe:/o:opensuse:opensuse:13.2,openSUSE', REPOID: 'obs://x/openSUSE/13.2/ftp/i586-x86_64' },
      { productName: 'openSUSE', version: '13.2', arches: ['x86_64'] },
    ],
    [
      'openSUSE 12.3: LABEL without a number, VERSION, two base arches',
      { LABEL: 'openSUSE', VERSION: '12.3', BASEARCHS: 'i586 x86_64' },
      { productName: 'openSUSE', version: '12.3', arches: ['i686', 'x86_64'] },
    ],
    [
      'Tumbleweed (content era): a rolling release',
      {
        DISTRO: 'cpe:/o:opensuse:tumbleweed:20180911,openSUSE Tumbleweed',
        REPOID: 'obs://x/20180911/x86_64',
      },
      { productName: 'openSUSE Tumbleweed', version: 'tumbleweed', arches: ['x86_64'] },
    ],
    [
      'a label with the version in it and nothing else',
      { LABEL: 'openSUSE 11.4' },
      { productName: 'openSUSE 11.4', version: '11.4', arches: [] },
    ],
    ['another product named in a content file', { LABEL: 'Some Other Distro 3' }, null],
    ['no product at all', { DATADIR: 'suse' }, null],
  ];
  for (const [name, fields, want] of TABLE) {
    it(name, () => expect(suseProduct(fields)).to.deep.equal(want));
  }

  it('reads the first LABEL, not LABEL.de, and keeps META lines out of the checksums', () => {
    const c = parseSuseContent(
      'LABEL openSUSE 10.3\nLABEL.de openSUSE 10.3 (de)\nMETA SHA1 aa  packages\nHASH SHA1 bb  boot/i386/loader/linux\n',
    );
    expect(c.fields.LABEL).to.equal('openSUSE 10.3');
    expect(Object.keys(c.checksums)).to.deep.equal(['boot/i386/loader/linux']);
  });

  it('lists the kernel locations per arch in the order they are tried', () => {
    expect(susePairs('x86_64', false).map((p) => p[0])).to.deep.equal([
      'boot/x86_64/loader/linux',
      'boot/x86_64/linux',
      'boot/loader/linux64',
    ]);
    expect(susePairs('s390x', false).map((p) => p[0])).to.deep.equal([
      'boot/s390x/linux',
      'boot/s390x/loader/linux',
      'boot/s390x/vmrdr.ikr',
      'boot/loader/linux',
    ]);
    expect(susePairs('i686', false)[0]).to.deep.equal(['boot/i386/loader/linux', 'boot/i386/loader/initrd']);
    expect(susePairs('x86_64', true)).to.deep.equal([['boot/x86_64/vmlinuz-xen', 'boot/x86_64/initrd-xen']]);
  });

  it('picks the host arch of a multi-arch SUSE tree, and --arch among its arches', async () => {
    const files = {
      content: 'LABEL openSUSE 12.3\nBASEARCHS i586 x86_64\n',
      'boot/i386/loader/linux': 'k',
      'boot/i386/loader/initrd': 'i',
      'boot/x86_64/loader/linux': 'k',
      'boot/x86_64/loader/initrd': 'i',
    };
    const base = { location: '/srv/t', hostArch: 'x86_64' as const };
    expect((await detectTree(reader(files), defaultContext(base))).arch).to.equal('x86_64');
    const i686 = await detectTree(reader(files), defaultContext({ ...base, arch: 'i686' }));
    expect(i686.kernel).to.equal('boot/i386/loader/linux');
    try {
      await detectTree(reader(files), defaultContext({ ...base, arch: 's390x' }));
      expect.fail('s390x is not in BASEARCHS');
    } catch (e) {
      expect(e).to.have.property('code', 'MEDIA_ARCH_MISMATCH');
      expect((e as Error).message).to.equal('content is for i686, x86_64, --arch asked for s390x');
    }
  });
});

describe('media/detect-debian: a CD copied to a directory or served over HTTP', () => {
  it('boots the netboot kernel under install/netboot/ where the CD has one (not on s390x)', () => {
    expect(mountedIsoPair('ubuntu', 'x86_64')).to.deep.equal([
      'install/netboot/ubuntu-installer/amd64/linux',
      'install/netboot/ubuntu-installer/amd64/initrd.gz',
    ]);
    expect(mountedIsoPair('debian', 'ppc64le')?.[0]).to.equal(
      'install/netboot/debian-installer/ppc64el/vmlinux',
    );
    expect(mountedIsoPair('debian', 's390x')).to.equal(null);
  });

  it('warns that a CD kernel needs the CD only when it boots the CD kernel', async () => {
    const ub = LAYOUTS.find((l) => l.id === 'ubuntu-18.04-server-cd')!;
    const local = await detectTree(reader(ub.files), ctxFor(ub, 'local'));
    expect(local.netInstall).to.equal(true);
    expect(local.warnings.join()).not.to.include('needs the ISO attached');
    const deb = LAYOUTS.find((l) => l.id === 'debian-12-netinst-amd64')!;
    const copy = await detectTree(reader(deb.files), ctxFor(deb, 'local'));
    expect(copy.warnings.join()).to.include('needs the ISO attached');
  });
});

describe('media/detect-treeinfo: arch from the images sections', () => {
  const ti = (extra: string) =>
    `[general]\nfamily = Generic\nversion = 1\n${extra}[images-x86_64]\nkernel = a/k\ninitrd = a/i\n[images-s390x]\nkernel = b/k\ninitrd = b/i\n`;
  it('a .treeinfo without an arch: the host arch section, or --arch', async () => {
    const files = { '.treeinfo': ti(''), 'a/k': '', 'a/i': '', 'b/k': '', 'b/i': '' };
    const base = { location: '/srv/t', hostArch: 'x86_64' as const };
    expect((await detectTree(reader(files), defaultContext(base))).kernel).to.equal('a/k');
    const z = await detectTree(reader(files), defaultContext({ ...base, arch: 's390x' }));
    expect([z.arch, z.kernel]).to.deep.equal(['s390x', 'b/k']);
    try {
      await detectTree(reader(files), defaultContext({ ...base, hostArch: 'aarch64' }));
      expect.fail('two sections, neither the host arch');
    } catch (e) {
      expect(e).to.have.property('code', 'MEDIA_NO_ARCH');
    }
  });
});

describe('media/detect: a tree with nothing for the requested arch', () => {
  it('is not recognised for that arch, and the message says which arch was looked for', async () => {
    const tarball = LAYOUTS.find((l) => l.id === 'debian-12-netboot-tarball-arm64')!;
    try {
      await detectTree(
        reader(tarball.files),
        defaultContext({ location: '/srv/netboot', hostArch: 'x86_64', arch: 's390x' }),
      );
      expect.fail('an arm64 netboot tree has no s390x kernel');
    } catch (e) {
      expect(e).to.have.property('code', 'MEDIA_NOT_RECOGNISED');
      expect((e as Error).message).to.match(
        /^memory is not an install tree install-guest recognises for s390x: looked for /,
      );
    }
  });
});
