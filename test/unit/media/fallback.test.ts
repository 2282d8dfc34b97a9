import { expect } from 'chai';
import { chooseFallback, isNetworkLocation, isNetworkMedia } from '../../../src/media/fallback.js';
import { parseInstallRequest } from '../../../src/request/request.js';
import type { FallbackDecision, FallbackInput } from '../../../src/media/fallback.js';

const HTTP = { location: 'http://mirror.example/fedora/39/Everything/x86_64/os/', arch: 'x86_64' };
const ISO = { location: '/isos/Fedora-39.iso' };
const NIC_OK = { status: 'assignable' as const, device: 'enp3s0 (0000:03:00.0)' };
const NIC_UPLINK = { status: 'assignable' as const, onlyUplink: true, device: 'enp3s0 (0000:03:00.0)' };
const NO_NIC = { status: 'none-assignable' as const, why: 'IOMMU group 7 is not viable' };

const TABLE: [string, FallbackInput, Partial<FallbackDecision> & { reasonMatch?: RegExp }][] = [
  [
    'an assignable NIC: nothing changes',
    { request: HTTP, nic: NIC_OK },
    { media: HTTP, network: 'passthrough', fellBack: false, reason: null },
  ],
  [
    'no assignable NIC, network media, --fallback-location: local media, user networking',
    { request: HTTP, nic: NO_NIC, fallbackLocation: '/isos/Fedora-39.iso' },
    {
      media: { location: '/isos/Fedora-39.iso', arch: 'x86_64' },
      network: 'user',
      fellBack: true,
      reasonMatch:
        /no NIC can be assigned \(IOMMU group 7 is not viable\); installing from the local media \/isos\/Fedora-39.iso \(--fallback-location\) instead of http:\/\/mirror/,
    },
  ],
  [
    "the NIC is the host's only uplink: the configured default, no network when user networking is off",
    { request: HTTP, nic: NIC_UPLINK, configuredFallback: '/srv/trees/fedora-39', userNetworking: false },
    {
      media: { location: '/srv/trees/fedora-39', arch: 'x86_64' },
      network: 'none',
      fellBack: true,
      reasonMatch:
        /enp3s0 \(0000:03:00.0\) is the host's only uplink: assigning it would cut the host off the network; .*\(the configured default\).*no network/,
    },
  ],
  [
    '--fallback-location wins over the configured default',
    { request: HTTP, nic: NO_NIC, fallbackLocation: '/a.iso', configuredFallback: '/b.iso' },
    { media: { location: '/a.iso', arch: 'x86_64' }, fellBack: true },
  ],
  [
    'local media already: kept, the guest gets user networking',
    { request: ISO, nic: NO_NIC, fallbackLocation: '/other.iso' },
    {
      media: ISO,
      network: 'user',
      fellBack: false,
      reasonMatch: /no NIC can be assigned .*; the guest gets qemu's user-mode network$/,
    },
  ],
  [
    'a local netboot tree needs the network too: replaced',
    {
      request: { location: '/srv/netboot' },
      nic: NO_NIC,
      fallbackLocation: '/isos/debian-12-dvd.iso',
      mediaNeedsNetwork: true,
    },
    { media: { location: '/isos/debian-12-dvd.iso' }, fellBack: true },
  ],
  [
    'network media and no local media configured: kept over user networking, and said so',
    { request: HTTP, nic: NO_NIC },
    {
      media: HTTP,
      network: 'user',
      fellBack: false,
      reasonMatch: /no local media is configured \(--fallback-location\)/,
    },
  ],
  [
    'the only uplink, assigned anyway when the user insists',
    { request: HTTP, nic: NIC_UPLINK, allowOnlyUplink: true },
    {
      media: HTTP,
      network: 'passthrough',
      fellBack: false,
      reasonMatch: /only uplink and is assigned anyway/,
    },
  ],
];

describe('media/fallback: chooseFallback', () => {
  for (const [name, input, want] of TABLE) {
    it(name, () => {
      const got = chooseFallback(input);
      const { reasonMatch, ...rest } = want;
      expect(got).to.include(Object.fromEntries(Object.entries(rest).filter(([k]) => k !== 'media')));
      if (rest.media) expect(got.media).to.deep.equal(rest.media);
      if (reasonMatch) expect(got.reason).to.match(reasonMatch);
    });
  }

  it('refuses network media with no network and no local media (exit 2)', () => {
    expect(() => chooseFallback({ request: HTTP, nic: NO_NIC, userNetworking: false }))
      .to.throw(/need the network/)
      .with.property('code', 'MEDIA_NEEDS_NETWORK');
  });

  it('refuses a fallback that is itself network media', () => {
    expect(() => chooseFallback({ request: HTTP, nic: NO_NIC, fallbackLocation: 'https://other/tree/' }))
      .to.throw(/must be local/)
      .with.property('code', 'FALLBACK_NOT_LOCAL');
  });

  it('a network fallback is refused alike on the command line and in the decision: any URL, one message', () => {
    for (const url of ['https://other/tree/', 'ftp://mirror/tree/', 'nfs://server/export/tree']) {
      expect(isNetworkLocation(url), url).to.equal(true);
      const message = `--fallback-location '${url}' is network media; the fallback must be local`;
      expect(() => parseInstallRequest({ location: HTTP.location, fallbackLocation: url }, '/work'))
        .to.throw(message)
        .with.property('code', 'FALLBACK_NOT_LOCAL');
      expect(() => chooseFallback({ request: HTTP, nic: NO_NIC, fallbackLocation: url }))
        .to.throw(message)
        .with.property('code', 'FALLBACK_NOT_LOCAL');
    }
    for (const local of ['/isos/f.iso', './tree', 'C:tree', 'weird:name/x.iso'])
      expect(isNetworkLocation(local), local).to.equal(false);
  });

  it('knows network media: http(s) trees and kernels', () => {
    expect(isNetworkMedia(HTTP)).to.equal(true);
    expect(isNetworkMedia({ boot: { kernel: 'https://x/vmlinuz', initrd: '/i' } })).to.equal(true);
    expect(isNetworkMedia(ISO)).to.equal(false);
    expect(isNetworkMedia({ cdrom: '/x.iso' })).to.equal(false);
  });
});
