/** The guard predicates are pure: facts in, findings out (so the inventory's verdicts can replace the readers). */
import { expect } from 'chai';
import {
  diskGuard,
  nicGuard,
  parseRoutes,
  readDiskFacts,
  readMountFacts,
  readNicFacts,
  readRouteFacts,
  vfioGuard,
} from '../../../src/pci/guards.js';
import { type ModelHost, modelHost, standardSpec } from '../../helpers/kernel-model.js';

const HEADER = 'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n';

describe('guards', () => {
  it('parses IPv4 and IPv6 default routes and addresses from /proc', () => {
    const r = parseRoutes(
      `${HEADER}eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n` +
        'eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n' +
        'eth1\t00000000\t01010A0A\t0002\t0\t0\t0\t00000000\t0\t0\t0\n',
      '00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003 eth2\n' +
        '00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200 lo\n',
      'fe800000000000000000000000000001 02 40 20 80 eth3\n20010db8000000000000000000000002 03 40 00 80 eth3\n',
    );
    expect(r.defaultRoutes).to.deep.equal([
      { iface: 'eth0', gateway: '192.0.2.1', family: 4 },
      { iface: 'eth2', gateway: 'fe80::1', family: 6 },
    ]);
    expect(r.addressed).to.deep.equal([
      { iface: 'eth0', addresses: ['192.0.2.0/24'] },
      { iface: 'eth3', addresses: ['2001:db8::2/64'] },
    ]);
  });

  const routes = {
    defaultRoutes: [{ iface: 'bond0', gateway: '10.0.0.1', family: 4 as const }],
    addressed: [{ iface: 'mgmt0', addresses: ['172.16.0.0/24'] }],
  };
  const table: [string, { name: string; masters: string[] }[], string | null][] = [
    ['a NIC with nothing on it', [{ name: 'enp1s0', masters: [] }], null],
    [
      'a NIC enslaved to the bond with the default route',
      [{ name: 'enp1s0', masters: ['bond0'] }],
      'default route (via 10.0.0.1 through bond0)',
    ],
    ['a NIC under a bridge under the bond', [{ name: 'enp1s0', masters: ['br1', 'bond0'] }], 'through bond0'],
    ['the management NIC', [{ name: 'mgmt0', masters: [] }], 'host addresses 172.16.0.0/24'],
    [
      'a second port of a device, one port carrying the route',
      [
        { name: 'p0', masters: [] },
        { name: 'p1', masters: ['bond0'] },
      ],
      'NIC p1',
    ],
  ];
  for (const [name, interfaces, expected] of table) {
    it(`nicGuard: ${name}`, () => {
      const out = nicGuard({ address: '0000:01:00.0', interfaces }, routes);
      if (expected === null) expect(out).to.deep.equal([]);
      else {
        expect(out).to.have.length(1);
        expect(out[0]!.code).to.equal('HOST_NIC_IN_USE');
        expect(out[0]!.message).to.include(expected);
      }
    });
  }

  it('diskGuard: sees a mounted partition, an LVM volume on it (by mapper name), swap; ignores an idle disk', () => {
    const disk = {
      address: '0000:00:17.0',
      blocks: [
        { name: 'sda', names: ['sda'] },
        { name: 'sda3', names: ['sda3', 'dm-0', 'mapper/vg-root'] },
        { name: 'sdb', names: ['sdb'] },
      ],
    };
    const out = diskGuard(disk, {
      mounts: [{ source: '/dev/mapper/vg-root', target: '/', names: ['mapper/vg-root', 'vg-root', 'dm-0'] }],
      swaps: [{ source: '/dev/sda', names: ['sda'] }],
    });
    expect(out.map((f) => f.message)).to.deep.equal([
      '0000:00:17.0 controls disk sda (/dev/sda used as swap): detaching it pulls the disk from under the host',
      '0000:00:17.0 controls disk sda3 (/dev/mapper/vg-root mounted on /): detaching it pulls the disk from under the host',
    ]);
  });

  it('vfioGuard: other processes holding the group count, this process does not', () => {
    expect(vfioGuard('a', '7', [{ pid: 1, comm: 'qemu' }], 1)).to.deep.equal([]);
    expect(vfioGuard('a', null, [{ pid: 2, comm: 'qemu' }], 1)).to.deep.equal([]);
    expect(vfioGuard('a', '7', [{ pid: 2, comm: 'qemu' }], 1)[0]!.message).to.include(
      '/dev/vfio/7 is held open by PID 2 (qemu)',
    );
  });

  describe('readers', () => {
    let m: ModelHost;
    afterEach(() => m?.cleanup());

    it('gather interfaces with their masters, the disks below a controller, mounts resolved through /dev links', async () => {
      const spec = standardSpec();
      spec.files!['/proc/mounts'] =
        '/dev/disk/by-uuid/1234 /srv ext4 rw 0 0\n/dev/sda1 /boot\\040efi vfat rw 0 0\n';
      spec.links = { '/dev/disk/by-uuid/1234': '../../sda2' };
      m = await modelHost(spec);
      expect(await readNicFacts(m.host, '0000:05:00.0')).to.deep.equal({
        address: '0000:05:00.0',
        interfaces: [{ name: 'eno1', masters: ['br0'] }],
      });
      expect((await readDiskFacts(m.host, '0000:00:1f.2')).blocks.map((b) => b.name)).to.deep.equal([
        'sda',
        'sda1',
        'sda2',
      ]);
      expect((await readDiskFacts(m.host, '0000:03:00.0')).blocks).to.deep.equal([]);
      const mounts = await readMountFacts(m.host);
      expect(mounts.mounts).to.deep.equal([
        { source: '/dev/disk/by-uuid/1234', target: '/srv', names: ['disk/by-uuid/1234', '1234', 'sda2'] },
        { source: '/dev/sda1', target: '/boot efi', names: ['sda1'] },
      ]);
      const findings = diskGuard(await readDiskFacts(m.host, '0000:00:1f.2'), mounts);
      expect(findings.map((f) => f.message.split(' (')[1])).to.deep.equal([
        '/dev/sda1 mounted on /boot efi): detaching it pulls the disk from under the host',
        '/dev/disk/by-uuid/1234 mounted on /srv): detaching it pulls the disk from under the host',
      ]);
      expect((await readRouteFacts(m.host)).defaultRoutes).to.deep.equal([
        { iface: 'br0', gateway: '192.168.1.1', family: 4 },
      ]);
    });

    it('finds an interface nested below the device, as virtio puts it (…/virtio0/net/eth0)', async () => {
      m = await modelHost(
        standardSpec({
          devices: { '0000:03:00.0': { net: [{ name: 'eth0', under: 'virtio0', master: 'br0' }] } },
        }),
      );
      expect(await readNicFacts(m.host, '0000:03:00.0')).to.deep.equal({
        address: '0000:03:00.0',
        interfaces: [{ name: 'eth0', masters: ['br0'] }],
      });
    });
  });
});
