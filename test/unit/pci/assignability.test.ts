import { expect } from 'chai';
import { type AssessContext, assess } from '../../../src/pci/assignability.js';
import type { Inventory, PciDevice } from '../../../src/pci/inventory.js';
import { bridge, dev, iface, inventory } from './make-inventory.js';

const T = '0000:03:00.0';

interface Case {
  name: string;
  /** the device under test is always T */
  devices: PciDevice[];
  inv?: Partial<Inventory>;
  ctx?: AssessContext;
  verdict: 'assignable' | 'warnings' | 'not-assignable';
  /** reason codes that must appear, with their severity */
  codes: string[];
}

const cases: Case[] = [
  { name: 'a quiet NIC alone in its group with FLR', devices: [dev(T)], verdict: 'assignable', codes: [] },
  {
    name: 'no IOMMU on the host',
    devices: [dev(T, { iommuGroup: null })],
    verdict: 'not-assignable',
    codes: ['block:NO_IOMMU'],
  },
  {
    name: 'group shared with an endpoint on a host driver',
    devices: [
      dev(T, { iommuGroup: 4 }),
      dev('0000:04:00.0', { iommuGroup: 4, driver: 'ahci', classKind: 'storage' }),
    ],
    verdict: 'not-assignable',
    codes: ['block:IOMMU_GROUP_NOT_VIABLE'],
  },
  {
    name: 'group shared with an unbound endpoint',
    devices: [dev(T, { iommuGroup: 4 }), dev('0000:03:00.1', { iommuGroup: 4, driver: null })],
    verdict: 'warnings',
    codes: ['warn:IOMMU_GROUP_SHARED'],
  },
  {
    name: 'group shared with an endpoint on vfio-pci or pci-stub',
    devices: [
      dev(T, { iommuGroup: 4 }),
      dev('0000:03:00.1', { iommuGroup: 4, driver: 'vfio-pci' }),
      dev('0000:03:00.2', { iommuGroup: 4, driver: 'pci-stub' }),
    ],
    verdict: 'warnings',
    codes: ['warn:IOMMU_GROUP_SHARED'],
  },
  {
    name: 'group shared with a bridge only (VFIO allows bridges)',
    devices: [dev(T, { iommuGroup: 4 }), bridge('0000:02:00.0', { iommuGroup: 4, driver: null })],
    verdict: 'assignable',
    codes: ['info:IOMMU_GROUP_INCLUDES_BRIDGE'],
  },
  {
    name: 'carries the default route',
    devices: [
      dev(T, { net: [iface('enp3s0', { operstate: 'up', defaultRoutes: ['0.0.0.0/0 via 10.0.0.1'] })] }),
    ],
    verdict: 'not-assignable',
    codes: ['block:DEFAULT_ROUTE'],
  },
  {
    name: 'a port of the bond that carries the default route',
    devices: [
      dev(T, {
        net: [iface('enp3s0', { uppers: ['bond0'], defaultRoutes: ['0.0.0.0/0 via 10.0.0.1 (bond0)'] })],
      }),
    ],
    verdict: 'not-assignable',
    codes: ['block:DEFAULT_ROUTE'],
  },
  {
    name: 'named as a management interface',
    devices: [dev(T, { net: [iface('enp3s0', { addresses: ['10.99.0.5/24'] })] })],
    ctx: { mgmtIfaces: ['enp3s0'] },
    verdict: 'not-assignable',
    codes: ['block:MANAGEMENT_INTERFACE'],
  },
  {
    name: 'has host addresses but no default route',
    devices: [dev(T, { net: [iface('enp3s0', { operstate: 'up', addresses: ['10.99.0.5/24'] })] })],
    verdict: 'warnings',
    codes: ['warn:INTERFACE_IN_USE'],
  },
  {
    name: 'controls a mounted disk',
    devices: [
      dev(T, {
        classKind: 'storage',
        classCode: '010802',
        block: [
          {
            name: 'nvme0n1',
            partitions: ['nvme0n1p1'],
            mounts: [{ device: 'nvme0n1p1', mountPoint: '/', fsType: 'ext4' }],
          },
        ],
      }),
    ],
    verdict: 'not-assignable',
    codes: ['block:MOUNTED_DISK'],
  },
  {
    name: 'controls a disk that is not mounted',
    devices: [dev(T, { classKind: 'storage', block: [{ name: 'nvme1n1', partitions: [], mounts: [] }] })],
    verdict: 'assignable',
    codes: ['info:HAS_DISKS'],
  },
  { name: 'is a bridge', devices: [bridge(T)], verdict: 'not-assignable', codes: ['block:IS_BRIDGE'] },
  {
    name: 'is a host bridge (class 0600, header type 0)',
    devices: [dev(T, { classCode: '060000', className: 'Host bridge', classKind: 'bridge' })],
    verdict: 'not-assignable',
    codes: ['block:IS_BRIDGE'],
  },
  {
    name: 'has no reset method (reset_method missing on a new kernel, caps say none)',
    devices: [
      dev(T, {
        reset: {
          methods: null,
          pcieFlr: false,
          afFlr: null,
          pmNoSoftReset: true,
          busResetPossible: false,
          capabilitiesRead: true,
        },
      }),
    ],
    verdict: 'warnings',
    codes: ['warn:NO_RESET'],
  },
  {
    name: 'has an empty reset_method',
    devices: [dev(T, { reset: { ...dev(T).reset, methods: [] } })],
    verdict: 'warnings',
    codes: ['warn:NO_RESET'],
  },
  {
    name: 'resets by PM only (No_Soft_Reset = 0), old kernel',
    devices: [
      dev(T, {
        reset: {
          methods: null,
          pcieFlr: false,
          afFlr: null,
          pmNoSoftReset: false,
          busResetPossible: false,
          capabilitiesRead: true,
        },
      }),
    ],
    verdict: 'assignable',
    codes: [],
  },
  {
    name: 'resets by secondary bus reset only',
    devices: [dev(T, { reset: { ...dev(T).reset, methods: ['bus'] } })],
    verdict: 'assignable',
    codes: ['info:BUS_RESET_ONLY'],
  },
  {
    name: 'reset support unknown (header-only config, no reset_method)',
    devices: [
      dev(T, {
        config: { state: 'header-only', size: 64 },
        reset: {
          methods: null,
          pcieFlr: null,
          afFlr: null,
          pmNoSoftReset: null,
          busResetPossible: false,
          capabilitiesRead: false,
        },
      }),
    ],
    verdict: 'assignable',
    codes: ['info:RESET_UNKNOWN'],
  },
  {
    name: 'a display device',
    devices: [
      dev(T, {
        classCode: '030000',
        className: 'VGA compatible controller',
        classKind: 'display',
        bootVga: false,
      }),
    ],
    verdict: 'warnings',
    codes: ['warn:DISPLAY_ROM'],
  },
  {
    name: 'leased to another run',
    devices: [dev(T)],
    ctx: { leased: new Set([T]) },
    verdict: 'not-assignable',
    codes: ['block:LEASED'],
  },
  {
    name: 'held open by a running qemu',
    devices: [dev(T, { driver: 'vfio-pci' })],
    inv: { vfioUsers: { '1': [{ pid: 4242, comm: 'qemu-system-x86' }] } },
    verdict: 'not-assignable',
    codes: ['block:ALREADY_ASSIGNED'],
  },
  {
    name: 'on vfio-pci and free',
    devices: [dev(T, { driver: 'vfio-pci', driverOverride: 'vfio-pci' })],
    verdict: 'assignable',
    codes: ['info:ON_VFIO'],
  },
  {
    name: 'a kernel without driver_override',
    devices: [dev(T, { driverOverrideSupported: false })],
    verdict: 'not-assignable',
    codes: ['block:DRIVER_OVERRIDE_UNSUPPORTED'],
  },
  {
    name: 'driver_override set to another driver',
    devices: [dev(T, { driverOverride: 'pci-stub' })],
    verdict: 'warnings',
    codes: ['warn:DRIVER_OVERRIDE_SET'],
  },
  {
    name: 'config space reads all 0xff',
    devices: [dev(T, { config: { state: 'all-ones', size: 256 } })],
    verdict: 'not-assignable',
    codes: ['block:CONFIG_ALL_ONES'],
  },
  {
    name: 'an SR-IOV PF with VFs enabled',
    devices: [dev(T, { sriov: { totalVfs: 64, numVfs: 2, vfs: ['0000:03:02.0', '0000:03:02.1'] } })],
    verdict: 'warnings',
    codes: ['warn:SRIOV_PF_HAS_VFS'],
  },
];

describe('pci/assignability: assess', () => {
  for (const c of cases) {
    it(`${c.name} → ${c.verdict}`, () => {
      const inv = inventory(c.devices, c.inv);
      const a = assess(
        inv.devices.find((d) => d.address === T)!,
        inv,
        c.ctx,
      );
      expect(a.verdict).to.equal(c.verdict);
      const got = a.reasons.map((r) => `${r.severity}:${r.code}`);
      for (const code of c.codes) expect(got).to.include(code);
      if (c.codes.length === 0) expect(a.reasons.filter((r) => r.severity !== 'info')).to.deep.equal([]);
      for (const r of a.reasons) {
        expect(r.message, r.code).to.be.a('string').and.not.include('\n');
        expect(r.code).to.match(/^[A-Z][A-Z0-9_]+$/);
      }
    });
  }

  it('lists each group member with its driver and whether it is a bridge', () => {
    const inv = inventory([
      dev(T, { iommuGroup: 4 }),
      dev('0000:04:00.0', { iommuGroup: 4, driver: 'ahci', className: 'SATA controller' }),
      bridge('0000:02:00.0', { iommuGroup: 4 }),
    ]);
    const r = assess(inv.devices[0]!, inv).reasons.find((x) => x.code === 'IOMMU_GROUP_NOT_VIABLE')!;
    expect(r.message).to.include('0000:04:00.0 (ahci)').and.not.include('0000:02:00.0');
    expect(r.evidence).to.include(
      '/sys/kernel/iommu_groups/4/devices: 0000:03:00.0 0000:04:00.0 0000:02:00.0', // group order,
    );
    expect(r.evidence.join('\n')).to.include('0000:04:00.0 [0200] driver=ahci endpoint');
    expect(r.evidence.join('\n')).to.include(
      '0000:02:00.0 [0604] driver=pcieport bridge (bridge)',
    );
  });

  it('names the host-wide cause when the host has no IOMMU at all', () => {
    const inv = inventory([dev(T, { iommuGroup: null })]);
    expect(assess(inv.devices[0]!, inv).reasons[0]!.message).to.include('the host has no active IOMMU');
  });
});
