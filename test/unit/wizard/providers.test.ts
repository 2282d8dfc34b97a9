import { expect } from 'chai';
import { rm } from 'node:fs/promises';
import { isInstallGuestError } from '../../../src/errors.js';
import { createHost } from '../../../src/host/host.js';
import {
  DEFAULT_ROUTE_REASON,
  defaultProviders,
  defaultRouteInterfaces,
  listNetworkDevices,
  nicVerdict,
  type NicFacts,
} from '../../../src/wizard/providers.js';
import { buildHostTree, loadProfile, snapshotTree, type HostProfile } from './fixture-host.js';

const HEADER = 'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT';
const v4 = (...rows: string[]): string => [HEADER, ...rows].join('\n');
const V6_DEFAULT = (iface: string): string =>
  `${'0'.repeat(32)} 00 ${'0'.repeat(32)} 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003 ${iface}`;

describe('wizard default providers', () => {
  describe('defaultRouteInterfaces', () => {
    const cases: [string, string | null, string | null, string[]][] = [
      ['no route files', null, null, []],
      ['IPv4 default', v4('eth0\t00000000\t0102A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0'), null, ['eth0']],
      ['only a subnet route', v4('eth0\t0002A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0'), null, []],
      [
        'a default route that is down',
        v4('eth0\t00000000\t0102A8C0\t0002\t0\t0\t100\t00000000\t0\t0\t0'),
        null,
        [],
      ],
      ['IPv6 default', null, V6_DEFAULT('enp5s0'), ['enp5s0']],
      ['IPv6 unreachable default on lo', null, V6_DEFAULT('lo'), []],
      [
        'both, on two interfaces',
        v4('br0\t00000000\t0102A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0'),
        V6_DEFAULT('enp5s0'),
        ['br0', 'enp5s0'],
      ],
    ];
    for (const [title, a, b, want] of cases)
      it(title, () => expect([...defaultRouteInterfaces(a, b)].sort()).to.deep.equal(want));
  });

  describe('nicVerdict', () => {
    const nic = (over: Partial<NicFacts>): NicFacts => ({
      address: '0000:03:00.0',
      classCode: 0x020000,
      vendor: '8086',
      device: '10d3',
      driver: 'e1000e',
      iommuGroup: '7',
      groupPeers: [],
      interfaces: [{ name: 'enp3s0', master: null }],
      ...over,
    });
    const routes = new Set(['enp3s0', 'br0']);
    const cases: [string, Partial<NicFacts>, string, RegExp | undefined][] = [
      [
        'a free NIC alone in its group',
        { interfaces: [{ name: 'enp4s0', master: null }] },
        'assignable',
        undefined,
      ],
      ['the NIC with the default route', {}, 'not-assignable', /^carries the host's default route$/],
      [
        'a port of the bridge with the default route',
        { interfaces: [{ name: 'enp4s0', master: 'br0' }] },
        'not-assignable',
        /default route \(through br0\)/,
      ],
      [
        'no IOMMU group',
        { iommuGroup: null, interfaces: [] },
        'not-assignable',
        /no IOMMU group.*intel_iommu=on/,
      ],
      [
        'a group shared with another function',
        { interfaces: [], groupPeers: ['0000:03:00.1'] },
        'warnings',
        /shares IOMMU group 7 with 0000:03:00.1/,
      ],
      [
        'an InfiniBand card without interfaces',
        { classCode: 0x020700, vendor: '15b3', interfaces: [] },
        'assignable',
        undefined,
      ],
    ];
    for (const [title, over, verdict, reason] of cases)
      it(title, () => {
        const d = nicVerdict(nic(over), routes);
        expect(d.verdict).to.equal(verdict);
        if (reason) expect(d.reason).to.match(reason);
        else expect(d.reason).to.equal(undefined);
      });

    it('labels like lspci: vendor, class, ids, interfaces', () => {
      expect(nicVerdict(nic({}), new Set()).label).to.equal('Intel Ethernet controller (8086:10d3) enp3s0');
      const ib = nicVerdict(
        nic({ classCode: 0x020700, vendor: '15b3', device: '1017', interfaces: [] }),
        new Set(),
      );
      expect(ib.label).to.equal('Mellanox InfiniBand controller (15b3:1017)');
      expect(ib.className).to.equal('InfiniBand controller');
      expect(nicVerdict(nic({ vendor: 'abcd' }), new Set()).label).to.match(/^abcd Ethernet/);
    });
  });

  describe('listNetworkDevices on a fixture host tree', () => {
    let root: string | undefined;
    afterEach(async () => {
      if (root) await rm(root, { recursive: true, force: true });
      root = undefined;
    });

    it('lists the two NICs (not the SATA controller) and greys the default-route one', async () => {
      root = await buildHostTree(await loadProfile('two-nics'));
      const before = await snapshotTree(root);
      const list = await listNetworkDevices(createHost({ root }));
      expect(list).to.deep.equal([
        {
          address: '0000:03:00.0',
          label: 'Intel Ethernet controller (8086:10d3) enp3s0',
          className: 'Ethernet controller',
          verdict: 'not-assignable',
          reason: DEFAULT_ROUTE_REASON,
        },
        {
          address: '0000:04:00.0',
          label: 'Intel Ethernet controller (8086:10d3) enp4s0',
          className: 'Ethernet controller',
          verdict: 'assignable',
        },
      ]);
      expect(await snapshotTree(root), 'listing reads only').to.deep.equal(before);
    });

    it('reads shared groups, bridge ports and missing groups from the tree', async () => {
      const profile: HostProfile = {
        devices: [
          {
            address: '0000:05:00.0',
            class: '0x020000',
            vendor: '0x8086',
            device: '0x1521',
            driver: 'igb',
            iommuGroup: '9',
            net: ['enp5s0f0'],
          },
          {
            address: '0000:05:00.1',
            class: '0x020000',
            vendor: '0x8086',
            device: '0x1521',
            driver: 'igb',
            iommuGroup: '9',
            net: [{ name: 'enp5s0f1', master: 'br0' }],
          },
          { address: '0000:06:00.0', class: '0x028000', vendor: '0x14e4', device: '0x43a0', net: ['wlp6s0'] },
        ],
        files: { '/proc/net/route': v4('br0\t00000000\t0102A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0') },
      };
      root = await buildHostTree(profile);
      const list = await listNetworkDevices(createHost({ root }));
      expect(list.map((d) => [d.address, d.verdict, d.reason])).to.deep.equal([
        [
          '0000:05:00.0',
          'warnings',
          'shares IOMMU group 9 with 0000:05:00.1: they are detached from the host together',
        ],
        ['0000:05:00.1', 'not-assignable', `${DEFAULT_ROUTE_REASON} (through br0)`],
        [
          '0000:06:00.0',
          'not-assignable',
          'has no IOMMU group: the IOMMU is off or unsupported (boot with intel_iommu=on or amd_iommu=on)',
        ],
      ]);
      expect(list[2]!.label).to.equal('Broadcom Network controller (14e4:43a0) wlp6s0');
    });

    it('an empty host lists nothing', async () => {
      root = await buildHostTree({ devices: [] });
      expect(await listNetworkDevices(createHost({ root }))).to.deep.equal([]);
    });
  });

  it('says media inspection and kickstart lint are not available in this build', async () => {
    const p = defaultProviders(createHost({ root: '/nonexistent' }));
    for (const attempt of [p.inspectMedia('/srv/os.iso'), p.lintKickstart('/srv/ks.cfg')]) {
      const e: unknown = await attempt.then(
        () => null,
        (err: unknown) => err,
      );
      expect(isInstallGuestError(e) && e.code).to.equal('NOT_IMPLEMENTED');
      expect((e as Error).message).to.match(
        /not available in this build: '\/srv\/(os\.iso|ks\.cfg)' was not checked/,
      );
    }
  });
});
