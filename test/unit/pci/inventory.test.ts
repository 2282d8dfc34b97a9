import { expect } from 'chai';
import { lstatSync, readFileSync, readlinkSync, realpathSync, rmSync } from 'node:fs';
import path from 'node:path';
import { createHost } from '../../../src/host/host.js';
import { type Inventory, type PciDevice, listDevices, owningFunction } from '../../../src/pci/inventory.js';
import { buildHostTreeSync, listProfiles, loadProfile, makeTempRoot } from '../../helpers/sysfs-fixture.js';

describe('pci/inventory on host profiles', () => {
  const roots = new Map<string, string>();
  const invs = new Map<string, Inventory>();
  before(async () => {
    for (const name of listProfiles()) {
      const root = makeTempRoot(name);
      buildHostTreeSync(loadProfile(name), root);
      roots.set(name, root);
      invs.set(name, await listDevices(createHost({ root })));
    }
  });
  after(() => {
    for (const root of roots.values()) rmSync(root, { recursive: true, force: true });
  });
  const dev = (profile: string, address: string): PciDevice => {
    const d = invs.get(profile)!.devices.find((x) => x.address === address);
    if (!d) throw new Error(`${profile}: no ${address}`);
    return d;
  };

  it('has at least ten profiles, each listing every function of its profile in numeric order', () => {
    expect(listProfiles().length).to.be.at.least(10);
    for (const name of listProfiles()) {
      const want = loadProfile(name).devices.map((d) => d.address);
      const got = invs.get(name)!.devices.map((d) => d.address);
      expect([...got].sort(), name).to.deep.equal([...want].sort());
    }
    expect(
      invs
        .get('vmd-five-digit-domain')!
        .devices.map((d) => d.address)
        .at(-1),
    ).to.equal('10000:02:00.0');
  });

  it('builds the tree the kernel shows: bus links into nested device paths, driver and group links both ways', () => {
    const root = roots.get('one-nic-default-route')!;
    const busLink = path.join(root, 'sys/bus/pci/devices/0000:03:00.0');
    expect(lstatSync(busLink).isSymbolicLink()).to.equal(true);
    expect(readlinkSync(busLink)).to.equal('../../../devices/pci0000:00/0000:00:1c.0/0000:03:00.0');
    const devDir = realpathSync(busLink);
    expect(readlinkSync(path.join(devDir, 'driver'))).to.equal('../../../../bus/pci/drivers/igb');
    expect(realpathSync(path.join(root, 'sys/bus/pci/drivers/igb/0000:03:00.0'))).to.equal(devDir);
    expect(readlinkSync(path.join(devDir, 'iommu_group'))).to.equal('../../../../kernel/iommu_groups/12');
    expect(realpathSync(path.join(root, 'sys/kernel/iommu_groups/12/devices/0000:03:00.0'))).to.equal(devDir);
    expect(realpathSync(path.join(root, 'sys/class/net/enp3s0'))).to.equal(path.join(devDir, 'net/enp3s0'));
    expect(realpathSync(path.join(root, 'sys/class/block/nvme0n1p2'))).to.match(
      /0000:04:00\.0\/nvme\/nvme0\/nvme0n1\/nvme0n1p2$/,
    );
    expect(readFileSync(path.join(devDir, 'config')).length).to.equal(4096);
    expect(readFileSync(path.join(devDir, 'vendor'), 'utf8')).to.equal('0x8086\n');
    expect(lstatSync(path.join(root, 'sys/class/iommu/dmar0')).isSymbolicLink()).to.equal(true);
    expect(readFileSync(path.join(root, 'sys/firmware/acpi/tables/DMAR')).subarray(0, 4).toString()).to.equal(
      'DMAR',
    );
  });

  it('reads identity, driver, group, NUMA node, topology and reset methods', () => {
    const nic = dev('one-nic-default-route', '0000:03:00.0');
    expect(nic).to.deep.include({
      vendorId: '8086',
      deviceId: '1533',
      subsystemVendorId: '1458',
      subsystemDeviceId: 'e000',
      classCode: '020000',
      className: 'Ethernet controller',
      classKind: 'net',
      revision: '03',
      headerType: 'endpoint',
      driver: 'igb',
      driverOverride: null,
      driverOverrideSupported: true,
      iommuGroup: 12,
      numaNode: -1,
      parent: '0000:00:1c.0',
      sysfsPath: '/sys/devices/pci0000:00/0000:00:1c.0/0000:03:00.0',
    });
    expect(nic.reset.methods).to.deep.equal(['flr', 'bus']);
    expect(dev('one-nic-default-route', '0000:00:1c.0').headerType).to.equal('bridge');
  });

  it('maps interfaces to functions with MAC, state, addresses and default routes (IPv4 and IPv6)', () => {
    expect(dev('one-nic-default-route', '0000:03:00.0').net).to.deep.equal([
      {
        name: 'enp3s0',
        mac: '00:1b:21:3a:4c:10',
        operstate: 'up',
        addresses: ['192.168.1.10/24', '2001:db8:1::10/64'],
        defaultRoutes: ['0.0.0.0/0 via 192.168.1.1', '::/0 via fe80::1'],
        uppers: [],
      },
    ]);
    expect(invs.get('one-nic-default-route')!.defaultRoutes).to.deep.equal({
      enp3s0: ['0.0.0.0/0 via 192.168.1.1', '::/0 via fe80::1'],
    });
  });

  it('gives a bond port the default route its bridge carries', () => {
    const port = dev('amd-bond-mgmt', '0000:01:00.1').net[0]!;
    expect(port.uppers).to.have.members(['bond0', 'br0']);
    expect(port.defaultRoutes).to.deep.equal(['0.0.0.0/0 via 10.10.0.1 (br0)', '::/0 via fe80::1 (br0)']);
    expect(dev('amd-bond-mgmt', '0000:02:00.0').net[0]!.addresses).to.deep.equal(['10.99.0.5/24']);
  });

  it('maps disks and their mounts to controllers, through LVM and swap', () => {
    expect(dev('one-nic-default-route', '0000:04:00.0').block).to.deep.equal([
      {
        name: 'nvme0n1',
        partitions: ['nvme0n1p1', 'nvme0n1p2'],
        mounts: [
          { device: 'nvme0n1p2', mountPoint: '/', fsType: 'ext4' },
          { device: 'nvme0n1p1', mountPoint: '/boot/efi', fsType: 'vfat' },
        ],
      },
    ]);
    const sata = dev('sata-root-lvm', '0000:00:17.0').block[0]!;
    expect(sata.mounts.map((m) => `${m.device} ${m.mountPoint}`)).to.deep.equal([
      'sda2 /',
      'sda1 /boot',
      'sda3 [swap]',
    ]);
    expect(dev('sata-root-lvm', '0000:04:00.0').block).to.deep.equal([
      { name: 'nvme0n1', partitions: ['nvme0n1p1'], mounts: [] },
    ]);
  });

  it('reads SR-IOV: the PF lists its VFs, each VF names its PF', () => {
    const pf = dev('sriov-pf-vfs', '0000:3b:00.0');
    expect(pf.sriov).to.deep.equal({
      totalVfs: 64,
      numVfs: 4,
      vfs: ['0000:3b:02.0', '0000:3b:02.1', '0000:3b:02.2', '0000:3b:02.3'],
    });
    expect(dev('sriov-pf-vfs', '0000:3b:02.1').physfn).to.equal('0000:3b:00.0');
    expect(dev('sriov-pf-vfs', '0000:3b:02.0').driverOverride).to.equal('vfio-pci');
  });

  it('handles a 5-digit domain below a VMD function', () => {
    expect(dev('vmd-five-digit-domain', '10000:00:01.0').parent).to.equal(null);
    expect(dev('vmd-five-digit-domain', '10000:00:01.0').sysfsPath).to.equal(
      '/sys/devices/pci0000:00/0000:00:0e.0/pci10000:00/10000:00:01.0',
    );
    expect(dev('vmd-five-digit-domain', '10000:02:00.0').parent).to.equal('10000:00:02.0');
    expect(dev('vmd-five-digit-domain', '10000:02:00.0').net[0]!.name).to.equal('enp2s0f0');
  });

  it('takes the identity of an all-0xff function from the kernel’s attribute files', () => {
    const gone = dev('config-all-ones', '0000:02:00.0');
    expect(gone.config.state).to.equal('all-ones');
    expect(gone).to.deep.include({
      vendorId: '8086',
      deviceId: '1521',
      classCode: '020000',
      revision: '01',
      subsystemDeviceId: '00a3',
    });
  });

  it('reads reset support from config space on a kernel without reset_method or driver_override', () => {
    const pm = dev('legacy-kernel', '0000:02:00.0');
    expect(pm.driverOverrideSupported).to.equal(false);
    expect(pm.reset).to.deep.equal({
      methods: null,
      pcieFlr: false,
      afFlr: null,
      pmNoSoftReset: false,
      busResetPossible: false,
      capabilitiesRead: true,
    });
    expect(dev('legacy-kernel', '0000:00:19.0').reset.pcieFlr).to.equal(true);
  });

  it('sees only the header as an unprivileged reader, and who holds a VFIO group', () => {
    const inv = invs.get('busy-unprivileged')!;
    expect(dev('busy-unprivileged', '0000:02:00.0').config).to.deep.equal({ state: 'header-only', size: 64 });
    expect(inv.vfioUsers).to.deep.equal({ '14': [{ pid: 4242, comm: 'qemu-system-x86' }] });
  });

  it('reports the IOMMU state: units and groups, or none', () => {
    expect(invs.get('two-nics')!.iommu).to.deep.equal({ enabled: true, units: ['dmar0'], groupCount: 4 });
    expect(invs.get('amd-bond-mgmt')!.iommu.units).to.deep.equal(['ivhd0']);
    expect(invs.get('no-iommu')!.iommu).to.deep.equal({ enabled: false, units: [], groupCount: 0 });
    expect(dev('gpu-audio', '0000:00:02.0').bootVga).to.equal(true);
    expect(dev('gpu-audio', '0000:01:00.0').bootVga).to.equal(false);
  });

  it('gives the same inventory through synchronous host reads as through the asynchronous ones', async () => {
    for (const [name, root] of roots) {
      expect(createHost({ root }).sync, name).to.not.equal(undefined);
      const viaThreadPool = await listDevices(createHost({ root, syncReads: false }));
      expect(viaThreadPool, name).to.deep.equal(invs.get(name));
    }
  });

  it('finds the function that owns a sysfs path', () => {
    expect(owningFunction('/sys/devices/pci0000:00/0000:00:02.0/virtio1/block/vda')).to.equal('0000:00:02.0');
    expect(owningFunction('/sys/devices/pci0000:00/0000:00:1c.0/0000:03:00.0/net/enp3s0')).to.equal(
      '0000:03:00.0',
    );
    expect(owningFunction('/sys/devices/virtual/net/lo')).to.equal(null);
  });
});
