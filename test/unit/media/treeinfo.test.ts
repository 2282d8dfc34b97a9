import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { familyOfRelease, parseTreeInfo } from '../../../src/media/treeinfo.js';

const fixture = (p: string): string =>
  readFileSync(new URL(`../../../fixtures/media/trees/${p}`, import.meta.url), 'utf8');

describe('media/treeinfo', () => {
  it('reads a Fedora productmd .treeinfo: release, arch, images, stage2, variants, checksums', () => {
    const ti = parseTreeInfo(fixture('fedora-39/.treeinfo'));
    expect(ti.formatVersion).to.equal('1.2');
    expect(ti).to.include({
      releaseName: 'Fedora',
      version: '39',
      family: 'fedora',
      arch: 'x86_64',
      stage2: 'images/install.img',
    });
    expect(ti.images['x86_64']).to.deep.equal({
      'boot.iso': 'images/boot.iso',
      'efiboot.img': 'images/efiboot.img',
      initrd: 'images/pxeboot/initrd.img',
      kernel: 'images/pxeboot/vmlinuz',
    });
    expect(ti.images['xen']).to.have.property('kernel', 'images/pxeboot/vmlinuz');
    expect(ti.variants).to.deep.equal([
      { id: 'Everything', name: 'Everything', type: 'variant', repository: '.', packages: 'Packages' },
    ]);
    expect(Object.keys(ti.checksums)).to.have.length(5);
    expect(ti.checksums['images/pxeboot/vmlinuz']!.algo).to.equal('sha256');
    expect(ti.warnings).to.deep.equal([]);
  });

  it('reads the RHEL 9 DVD: two variants with their own repositories', () => {
    const ti = parseTreeInfo(fixture('rhel-9.3-dvd/.treeinfo'));
    expect(ti).to.include({ family: 'rhel', version: '9.3', releaseShort: 'RHEL' });
    expect(ti.variants.map((v) => [v.id, v.repository, v.packages])).to.deep.equal([
      ['AppStream', 'AppStream', 'AppStream/Packages'],
      ['BaseOS', 'BaseOS', 'BaseOS/Packages'],
    ]);
  });

  it('reads the pre-productmd format ([general] only)', () => {
    const ti = parseTreeInfo(
      '[general]\nfamily = CentOS\nversion = 7\narch = x86_64\nvariant = \n\n[images-x86_64]\nkernel = images/pxeboot/vmlinuz\ninitrd = images/pxeboot/initrd.img\n\n[stage2]\nmainimage = LiveOS/squashfs.img\n',
    );
    expect(ti).to.include({
      formatVersion: null,
      family: 'centos',
      version: '7',
      stage2: 'LiveOS/squashfs.img',
    });
  });

  const FAMILIES: [string, string, string][] = [
    ['Fedora', 'Fedora', 'fedora'],
    ['Red Hat Enterprise Linux', 'RHEL', 'rhel'],
    ['CentOS Stream', 'CentOS-Stream', 'centos-stream'],
    ['CentOS Linux', 'CentOS', 'centos'],
    ['AlmaLinux', 'AlmaLinux', 'almalinux'],
    ['Rocky Linux', 'Rocky', 'rocky'],
    ['Oracle Linux', 'OL', 'oracle'],
    ['Example OS', 'EX', 'generic'],
  ];
  for (const [name, short, family] of FAMILIES) {
    it(`names the family of "${name}" ${family}`, () =>
      expect(familyOfRelease(name, short)).to.equal(family));
  }

  it('refuses image paths that leave the tree, and drops such checksums and variant repositories with a warning', () => {
    expect(() =>
      parseTreeInfo(
        '[general]\narch = x86_64\n[images-x86_64]\nkernel = ../../../../etc/passwd\ninitrd = x\n',
      ),
    )
      .to.throw(/leaves the tree/)
      .with.property('code', 'MEDIA_UNSAFE_PATH');
    expect(() =>
      parseTreeInfo('[general]\narch = x86_64\n[images-x86_64]\nkernel = http://evil.example/k\n'),
    ).to.throw(/leaves the tree/);
    expect(() => parseTreeInfo('[general]\narch = x86_64\n[stage2]\nmainimage = /etc/shadow\n')).to.throw(
      /stage2/,
    );
    const ti = parseTreeInfo(
      '[general]\narch = x86_64\n[tree]\nvariants = BaseOS,AppStream\n[variant-BaseOS]\nrepository = .\n[variant-AppStream]\nrepository = ../../../AppStream/x86_64/os\n[checksums]\n../x = sha256:' +
        '0'.repeat(64) +
        '\nimages/y = md5:abc\n',
    );
    expect(ti.variants.map((v) => v.repository)).to.deep.equal(['.', null]);
    expect(ti.checksums).to.deep.equal({});
    expect(ti.warnings.join('\n'))
      .to.match(/AppStream repository .* outside the tree/)
      .and.match(/checksum for "..\/x"/)
      .and.match(/unreadable checksum for images\/y/);
  });

  it('rejects text that is not a .treeinfo (exit 2)', () => {
    expect(() => parseTreeInfo('<html><body>404</body></html>\n'))
      .to.throw(/not a valid .treeinfo/)
      .with.property('code', 'MEDIA_BAD_TREEINFO');
    expect(() => parseTreeInfo('[header]\ntype = productmd.composeinfo\nversion = 1.2\n')).to.throw(
      /type=productmd.composeinfo/,
    );
    expect(() => parseTreeInfo('[foo]\nbar = 1\n')).to.throw(/none of the sections/);
  });
});
