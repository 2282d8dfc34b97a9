import { expect } from 'chai';
import { escapeLabel, kernelArgsFor } from '../../../src/media/kernel-args.js';
import type { KernelArgsMedia } from '../../../src/media/kernel-args.js';
import type { KernelArgsOptions } from '../../../src/media/types.js';

const FEDORA_HTTP: KernelArgsMedia = {
  kind: 'tree-http',
  installer: 'anaconda',
  family: 'fedora',
  location: 'http://mirror.example/fedora/39/Everything/x86_64/os/',
};
const FEDORA_ISO: KernelArgsMedia = {
  kind: 'iso',
  installer: 'anaconda',
  family: 'fedora',
  location: '/isos/Fedora.iso',
  volumeLabel: 'Fedora-S-dvd-x86_64-39',
};
const DEBIAN: KernelArgsMedia = {
  kind: 'tree-local',
  installer: 'debian-installer',
  family: 'debian',
  location: '/srv/netboot',
};
const UBUNTU: KernelArgsMedia = {
  kind: 'iso',
  installer: 'casper',
  family: 'ubuntu',
  location: '/isos/ubuntu.iso',
  volumeLabel: 'Ubuntu-Server 22.04.3 LTS amd64',
};
const SUSE: KernelArgsMedia = {
  kind: 'tree-http',
  installer: 'suse-linuxrc',
  family: 'suse',
  location: 'http://m/leap/15.5/',
};
const MAGEIA: KernelArgsMedia = {
  kind: 'tree-http',
  installer: 'mageia-drakx',
  family: 'mageia',
  location: 'http://m:8080/mageia/distrib/9/x86_64/',
};
const TESTBED: KernelArgsMedia = {
  kind: 'kernel-initrd',
  installer: 'unknown',
  family: 'generic',
  location: '/tb/vmlinuz',
};

const TABLE: [string, KernelArgsMedia, KernelArgsOptions, string[]][] = [
  [
    'anaconda over HTTP, kickstart URL, headless',
    FEDORA_HTTP,
    { ksUrl: 'http://10.0.2.2:8000/ks.cfg', headless: true },
    [
      'inst.repo=http://mirror.example/fedora/39/Everything/x86_64/os/',
      'inst.ks=http://10.0.2.2:8000/ks.cfg',
      'inst.text',
      'console=ttyS0',
    ],
  ],
  [
    'anaconda from an ISO: stage2 by label, kickstart inside the initrd',
    FEDORA_ISO,
    { ksPath: '/ks.cfg', headless: false },
    ['inst.stage2=hd:LABEL=Fedora-S-dvd-x86_64-39', 'inst.ks=file:/ks.cfg'],
  ],
  [
    'anaconda from a local tree served by the pipeline',
    { ...FEDORA_HTTP, kind: 'tree-local', location: '/srv/fedora' },
    { repoUrl: 'http://10.0.2.2:8123/', ksPath: 'ks.cfg', headless: true },
    ['inst.repo=http://10.0.2.2:8123/', 'inst.ks=file:/ks.cfg', 'inst.text', 'console=ttyS0'],
  ],
  [
    'd-i with a preseed file in the initrd',
    DEBIAN,
    { ksPath: '/preseed.cfg', headless: true },
    ['auto=true', 'priority=critical', 'preseed/file=/preseed.cfg', 'console=ttyS0'],
  ],
  [
    'd-i with a preseed URL',
    DEBIAN,
    { ksUrl: 'http://10.0.2.2/preseed.cfg', headless: false },
    ['auto=true', 'priority=critical', 'url=http://10.0.2.2/preseed.cfg'],
  ],
  ['d-i without an answer file stays interactive', DEBIAN, { headless: true }, ['console=ttyS0']],
  [
    'casper: autoinstall from a NoCloud URL',
    UBUNTU,
    { ksUrl: 'http://10.0.2.2/autoinstall/user-data', headless: true },
    ['autoinstall', 'ds=nocloud-net;s=http://10.0.2.2/autoinstall/', 'console=ttyS0'],
  ],
  [
    'casper: autoinstall from a directory',
    UBUNTU,
    { ksPath: '/nocloud/user-data', headless: false },
    ['autoinstall', 'ds=nocloud;s=/nocloud/'],
  ],
  [
    'SUSE linuxrc over HTTP with AutoYaST',
    SUSE,
    { ksUrl: 'http://10.0.2.2/autoinst.xml', headless: true },
    ['install=http://m/leap/15.5/', 'autoyast=http://10.0.2.2/autoinst.xml', 'textmode=1', 'console=ttyS0'],
  ],
  [
    'Mageia drakx over HTTP',
    MAGEIA,
    { headless: false },
    ['automatic=method:http,network:dhcp,server:m:8080,directory:/mageia/distrib/9/x86_64/'],
  ],
  [
    'the test-bed installer (unknown): inst.ks= spelling',
    TESTBED,
    { ksPath: '/ks.cfg', headless: true },
    ['inst.ks=file:/ks.cfg', 'console=ttyS0'],
  ],
  [
    'a CD booted by the firmware takes no kernel arguments',
    { ...FEDORA_ISO, kind: 'cdrom' },
    { ksPath: '/ks.cfg', headless: true },
    [],
  ],
];

describe('media/kernel-args', () => {
  for (const [name, media, opts, want] of TABLE) {
    it(name, () => expect(kernelArgsFor(media, opts)).to.deep.equal(want));
  }

  it('escapes blanks in labels as dracut expects (\\x20)', () => {
    expect(escapeLabel('Fedora-WS-Live 39')).to.equal('Fedora-WS-Live\\x2039');
    expect(kernelArgsFor({ ...FEDORA_ISO, volumeLabel: 'RHEL 9 x86_64' }, { headless: false })).to.deep.equal(
      ['inst.stage2=hd:LABEL=RHEL\\x209\\x20x86_64'],
    );
  });

  it('refuses an anaconda install from a local tree the guest cannot read (exit 2)', () => {
    expect(() =>
      kernelArgsFor({ ...FEDORA_HTTP, kind: 'tree-local', location: '/srv/fedora' }, { headless: true }),
    )
      .to.throw(/cannot read the local tree \/srv\/fedora/)
      .with.property('code', 'MEDIA_TREE_NOT_REACHABLE');
  });

  it('says Mageia has no unattended install yet instead of pretending', () => {
    expect(() => kernelArgsFor(MAGEIA, { ksUrl: 'http://x/auto_inst.cfg.pl', headless: true }))
      .to.throw(/no unattended install for Mageia/)
      .with.property('code', 'MEDIA_NO_UNATTENDED');
  });
});
