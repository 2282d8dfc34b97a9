import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DETECTORS, defaultContext, detectTree, detectWith } from '../../../src/media/detect.js';
import { mageiaDetector, parseSuseContent, suseContentDetector } from '../../../src/media/detect-extra.js';
import { treeinfoDetector } from '../../../src/media/detect-treeinfo.js';
import type { DetectContext, Detector } from '../../../src/media/detector.js';
import type { Detection, TreeReader } from '../../../src/media/types.js';

const LEAP = path.resolve(import.meta.dirname, '../../../fixtures/media/trees/opensuse-leap-15.5');
const K = 'fake kernel';
const ctx = (over: Partial<DetectContext> = {}): DetectContext =>
  defaultContext({ location: '/srv/tree', hostArch: 'x86_64', ...over });

const SLES11 = `PRODUCT SUSE_SLES
VERSION 11.4
LABEL SUSE Linux Enterprise Server 11 SP4
BASEARCHS x86_64
HASH SHA1 ${'a'.repeat(40)}  boot/x86_64/loader/linux
HASH SHA1 ${'b'.repeat(40)}  ../../etc/passwd
`;

const TABLE: [string, Detector, Record<string, string>, Partial<DetectContext>, Partial<Detection> | null][] =
  [
    [
      'openSUSE Leap 15.5: content, loader kernel, HASH SHA256 lines, packages in the tree',
      suseContentDetector,
      {
        content: readFileSync(path.join(LEAP, 'content'), 'utf8'),
        'boot/x86_64/loader/linux': K,
        'boot/x86_64/loader/initrd': K,
        'repodata/repomd.xml': '<repomd/>',
      },
      {},
      {
        family: 'suse',
        installer: 'suse-linuxrc',
        version: '15.5',
        name: 'openSUSE Leap 15.5',
        arch: 'x86_64',
        kernel: 'boot/x86_64/loader/linux',
        initrd: 'boot/x86_64/loader/initrd',
        netInstall: false,
        checksumSource: 'content (HASH lines)',
      },
    ],
    [
      'SLES 11 SP4: the arch from BASEARCHS, SHA1 hashes, an unsafe hash path dropped',
      suseContentDetector,
      { content: SLES11, 'boot/x86_64/loader/linux': K, 'boot/x86_64/loader/initrd': K },
      {},
      { version: '11.4', name: 'SUSE Linux Enterprise Server 11 SP4', netInstall: true },
    ],
    [
      'SLES 11 Xen PV images with --xen',
      suseContentDetector,
      {
        content: SLES11,
        'boot/x86_64/vmlinuz-xen': K,
        'boot/x86_64/initrd-xen': K,
        'boot/x86_64/loader/linux': K,
      },
      { xen: true },
      { kernel: 'boot/x86_64/vmlinuz-xen', initrd: 'boot/x86_64/initrd-xen' },
    ],
    [
      'SLES 12 on s390x: boot/s390x/linux, chosen with --arch',
      suseContentDetector,
      {
        content: 'LABEL SUSE Linux Enterprise Server 12 SP5\nVERSION 12.5\n',
        'boot/s390x/linux': K,
        'boot/s390x/initrd': K,
      },
      { arch: 's390x' },
      { arch: 's390x', kernel: 'boot/s390x/linux' },
    ],
    [
      'a 32-bit SUSE tree lives under boot/i386',
      suseContentDetector,
      { content: 'LABEL openSUSE 13.1\n', 'boot/i386/loader/linux': K, 'boot/i386/loader/initrd': K },
      { arch: 'i686' },
      { arch: 'i686', kernel: 'boot/i386/loader/linux' },
    ],
    [
      'a content file of another kind is not SUSE',
      suseContentDetector,
      { content: 'hello world\n' },
      {},
      null,
    ],
    [
      'Mageia 9 x86_64',
      mageiaDetector,
      {
        VERSION: 'Mageia 9 x86_64 2023-08-19 official\n',
        'isolinux/x86_64/vmlinuz': K,
        'isolinux/x86_64/all.rdz': K,
      },
      { medium: 'http' },
      {
        family: 'mageia',
        installer: 'mageia-drakx',
        version: '9',
        name: 'Mageia 9',
        arch: 'x86_64',
        kernel: 'isolinux/x86_64/vmlinuz',
        initrd: 'isolinux/x86_64/all.rdz',
        netInstall: true,
      },
    ],
    [
      'Mageia 8 32-bit (i586)',
      mageiaDetector,
      { VERSION: 'Mageia 8 i586\n', 'isolinux/i586/vmlinuz': K, 'isolinux/i586/all.rdz': K },
      {},
      { arch: 'i686', kernel: 'isolinux/i586/vmlinuz', version: '8' },
    ],
    ['a VERSION file of another distribution', mageiaDetector, { VERSION: '1.2.3\n' }, {}, null],
    [
      'openSUSE with a .treeinfo: the treeinfo detector names linuxrc, not anaconda',
      treeinfoDetector,
      {
        '.treeinfo':
          '[release]\nname = openSUSE Leap\nversion = 15.5\n[tree]\narch = x86_64\n[images-x86_64]\nkernel = boot/x86_64/loader/linux\ninitrd = boot/x86_64/loader/initrd\n',
      },
      {},
      { family: 'suse', installer: 'suse-linuxrc' },
    ],
  ];

describe('media/detect-extra: SUSE content and Mageia VERSION trees', () => {
  for (const [name, detector, files, over, want] of TABLE) {
    it(`${detector.name}: ${name}`, () => {
      const got = detectWith(detector, files, ctx(over));
      if (want === null) expect(got).to.equal(null);
      else expect(got).to.include(want);
    });
  }

  it('parses content fields, keeps only safe HASH paths', () => {
    const c = parseSuseContent(SLES11);
    expect(c.fields).to.include({ PRODUCT: 'SUSE_SLES', VERSION: '11.4', BASEARCHS: 'x86_64' });
    expect(Object.keys(c.checksums)).to.deep.equal(['boot/x86_64/loader/linux']);
    expect(c.checksums['boot/x86_64/loader/linux']!.algo).to.equal('sha1');
    expect(c.warnings.join()).to.include('../../etc/passwd');
  });

  it('refuses --arch that contradicts the tree, and --xen without Xen images', () => {
    const files = { content: SLES11, 'boot/x86_64/loader/linux': K, 'boot/x86_64/loader/initrd': K };
    expect(() => detectWith(suseContentDetector, files, ctx({ arch: 'aarch64' })))
      .to.throw()
      .with.property('code', 'MEDIA_ARCH_MISMATCH');
    expect(() => detectWith(suseContentDetector, files, ctx({ xen: true })))
      .to.throw()
      .with.property('code', 'MEDIA_NO_XEN_IMAGES');
  });

  it('come after the anaconda and Debian detectors in the ordered list, and the engine finds them', async () => {
    expect(DETECTORS.map((d) => d.name)).to.deep.equal([
      'treeinfo',
      'debian-mirror',
      'debian-netboot',
      'ubuntu-casper',
      'debian-cd',
      'suse-content',
      'mageia',
    ]);
    const files: Record<string, string> = {
      VERSION: 'Mageia 9 x86_64\n',
      'isolinux/x86_64/vmlinuz': K,
      'isolinux/x86_64/all.rdz': K,
    };
    const reader: TreeReader = {
      describe: 'memory',
      read: (p) => Promise.resolve(p in files ? Buffer.from(files[p]!) : null),
      exists: (p) => Promise.resolve(p in files),
    };
    expect((await detectTree(reader, ctx())).detector).to.equal('mageia');
  });
});
