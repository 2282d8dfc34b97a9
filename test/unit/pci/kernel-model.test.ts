/**
 * The kernel model must react like the kernel, or every test built on it proves nothing: these pin
 * the behaviours the binding code relies on (libvirt's virpcimock is the reference).
 */
import { expect } from 'chai';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { type ModelHost, modelHost, readWriteLog, standardSpec } from '../../helpers/kernel-model.js';

const NIC = '0000:03:00.0';

async function writeFails(p: Promise<void>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? 'no code';
  }
  throw new Error('expected the write to fail');
}

describe('kernel model', () => {
  let m: ModelHost;
  afterEach(() => m.cleanup());

  it('builds real links: bus → device dir, driver ↔ device, iommu group', async () => {
    m = await modelHost(standardSpec());
    expect(await m.host.linkName(`/sys/bus/pci/devices/${NIC}/driver`)).to.equal('e1000e');
    expect(await m.host.linkName(`/sys/bus/pci/devices/${NIC}/iommu_group`)).to.equal('7');
    expect(await m.host.readLink(`/sys/bus/pci/devices/${NIC}`)).to.equal(
      '../../../devices/pci0000:00/0000:00:1c.0/0000:03:00.0',
    );
    expect(await m.host.list('/sys/bus/pci/drivers/e1000e')).to.include(NIC);
    expect(await m.host.list('/sys/kernel/iommu_groups/8/devices')).to.deep.equal([
      '0000:00:1c.1',
      '0000:04:00.0',
      '0000:04:00.1',
    ]);
    expect(await m.host.readTrimmed(`/sys/bus/pci/devices/${NIC}/driver_override`)).to.equal('(null)');
  });

  it('is the fake-sysfs builder\'s tree: the inventory reads it as it reads a host profile', async () => {
    const { listDevices, findDevice } = await import('../../../src/pci/inventory.js');
    m = await modelHost(standardSpec());
    // files only the builder writes (sysfs-fixture.ts), and the model's own on top of them
    expect(await m.host.readTrimmed(`/sys/bus/pci/devices/${NIC}/uevent`)).to.include(`PCI_SLOT_NAME=${NIC}`);
    expect(await m.host.readTrimmed('/sys/bus/pci/devices/0000:00:1c.0/reset_subordinate')).to.equal('');
    expect(await m.host.linkName('/sys/class/net/eno1/master')).to.equal('br0');
    const inv = await listDevices(m.host);
    const nic = findDevice(inv, NIC)!;
    expect(nic.driver).to.equal('e1000e');
    expect(nic.iommuGroup).to.equal(7);
    expect(nic.net.map((n) => n.name)).to.deep.equal(['enp3s0']);
    expect(findDevice(inv, '0000:00:1f.2')!.block.map((b) => b.name)).to.include('sda');
  });

  it('override + unbind + drivers_probe moves the device to vfio-pci and creates /dev/vfio/<group>', async () => {
    m = await modelHost(standardSpec());
    await m.host.write(`/sys/bus/pci/devices/${NIC}/driver_override`, 'vfio-pci');
    expect(m.model.binding(NIC)).to.deep.equal({ driver: 'e1000e', override: 'vfio-pci' });
    await m.host.write('/sys/bus/pci/drivers/e1000e/unbind', NIC);
    expect(m.model.driverOf(NIC)).to.equal(null);
    expect(await m.host.list('/sys/bus/pci/drivers/e1000e')).to.not.include(NIC);
    await m.host.write('/sys/bus/pci/drivers_probe', NIC);
    expect(m.model.driverOf(NIC)).to.equal('vfio-pci');
    expect(m.model.vfioNodes()).to.include('7');
    // clearing the override with a newline, unbind, reprobe: back on e1000e, the node goes away
    await m.host.write(`/sys/bus/pci/devices/${NIC}/driver_override`, '\n');
    await m.host.write(`/sys/bus/pci/devices/${NIC}/driver/unbind`, NIC);
    expect(m.model.vfioNodes()).to.not.include('7');
    await m.host.write('/sys/bus/pci/drivers_probe', NIC);
    expect(m.model.binding(NIC)).to.deep.equal({ driver: 'e1000e', override: null });
  });

  it('follows override semantics: a device with an override binds only to that driver', async () => {
    m = await modelHost(standardSpec());
    await m.host.write(`/sys/bus/pci/devices/${NIC}/driver_override`, 'pci-stub');
    await m.host.write('/sys/bus/pci/drivers/e1000e/unbind', NIC);
    expect(await writeFails(m.host.write('/sys/bus/pci/drivers/e1000e/bind', NIC))).to.equal('ENODEV');
    await m.host.write('/sys/bus/pci/drivers/pci-stub/bind', NIC);
    expect(m.model.driverOf(NIC)).to.equal('pci-stub');
    expect(await writeFails(m.host.write('/sys/bus/pci/drivers/pci-stub/bind', NIC))).to.equal('EBUSY');
    expect(await writeFails(m.host.write('/sys/bus/pci/drivers/e1000e/unbind', NIC))).to.equal('ENODEV');
  });

  it('new_id adds a dynamic id and probes unbound matching devices; EEXIST twice; remove_id ENODEV when absent', async () => {
    m = await modelHost(standardSpec());
    await m.host.write('/sys/bus/pci/drivers/e1000e/unbind', '0000:04:00.1');
    await m.host.write('/sys/bus/pci/drivers/pci-stub/new_id', '8086 105e');
    expect(m.model.dynids('pci-stub')).to.deep.equal(['8086:105e']);
    expect(m.model.driverOf('0000:04:00.1'), 'the unbound one is grabbed').to.equal('pci-stub');
    expect(m.model.driverOf('0000:04:00.0'), 'a bound one is not').to.equal('e1000e');
    expect(await writeFails(m.host.write('/sys/bus/pci/drivers/pci-stub/new_id', '8086 105e'))).to.equal(
      'EEXIST',
    );
    expect(await writeFails(m.host.write('/sys/bus/pci/drivers/e1000e/new_id', '8086 10d3'))).to.equal(
      'EEXIST',
    );
    await m.host.write('/sys/bus/pci/drivers/pci-stub/remove_id', '8086 105e');
    expect(m.model.dynids('pci-stub')).to.deep.equal([]);
    expect(m.model.driverOf('0000:04:00.1'), 'remove_id does not unbind').to.equal('pci-stub');
    expect(await writeFails(m.host.write('/sys/bus/pci/drivers/pci-stub/remove_id', '8086 105e'))).to.equal(
      'ENODEV',
    );
  });

  it('a dynamic id on a driver registered earlier steals the device on drivers_probe', async () => {
    m = await modelHost(standardSpec());
    await m.host.write('/sys/bus/pci/drivers/pci-stub/new_id', '8086 10d3');
    await m.host.write('/sys/bus/pci/drivers/e1000e/unbind', NIC);
    await m.host.write('/sys/bus/pci/drivers_probe', NIC);
    expect(m.model.driverOf(NIC)).to.equal('pci-stub');
  });

  it('vfio-pci refuses a device without an IOMMU group: bind fails EINVAL, drivers_probe leaves it unbound', async () => {
    m = await modelHost(standardSpec({ devices: { [NIC]: { group: null } } }));
    await m.host.write(`/sys/bus/pci/devices/${NIC}/driver_override`, 'vfio-pci');
    await m.host.write('/sys/bus/pci/drivers/e1000e/unbind', NIC);
    await m.host.write('/sys/bus/pci/drivers_probe', NIC);
    expect(m.model.driverOf(NIC)).to.equal(null);
    expect(await writeFails(m.host.write('/sys/bus/pci/drivers/vfio-pci/bind', NIC))).to.equal('EINVAL');
    expect(m.model.vfioNodes()).to.deep.equal(['vfio']);
  });

  it('injects faults (a number of times), vanishes a device, and logs every write', async () => {
    m = await modelHost(standardSpec(), {
      faults: [{ op: 'unbind', driver: 'e1000e', code: 'EBUSY', times: 1 }],
      vanish: { address: '0000:04:00.0', beforeWrite: 3 },
    });
    expect(await writeFails(m.host.write('/sys/bus/pci/drivers/e1000e/unbind', NIC))).to.equal('EBUSY');
    await m.host.write('/sys/bus/pci/drivers/e1000e/unbind', NIC);
    expect(await writeFails(m.host.write('/sys/bus/pci/devices/0000:04:00.0/driver_override', 'x'))).to.equal(
      'ENOENT',
    );
    expect(existsSync(path.join(m.root, 'sys/bus/pci/devices/0000:04:00.0'))).to.equal(false);
    expect(m.model.writes.map((w) => w.error ?? 'ok')).to.deep.equal(['EBUSY', 'ok', 'ENOENT']);
    expect(readWriteLog(m.root).map((w) => w.n)).to.deep.equal([1, 2, 3]);
  });

  it('reset, reset_method and reset_subordinate are checked against the device and recorded', async () => {
    m = await modelHost(
      standardSpec({
        devices: { '0000:04:00.0': { pm: { noSoftReset: false }, resetMethods: ['pm', 'bus'] } },
      }),
    );
    await m.host.write('/sys/bus/pci/devices/0000:04:00.0/reset_method', 'bus');
    await m.host.write('/sys/bus/pci/devices/0000:04:00.0/reset', '1');
    expect(await writeFails(m.host.write('/sys/bus/pci/devices/0000:04:00.0/reset_method', 'flr'))).to.equal(
      'EINVAL',
    );
    await m.host.write('/sys/bus/pci/devices/0000:04:00.0/reset_method', 'default');
    expect(await m.host.readTrimmed('/sys/bus/pci/devices/0000:04:00.0/reset_method')).to.equal('pm bus');
    await m.host.write('/sys/bus/pci/devices/0000:00:1c.0/reset_subordinate', '1');
    expect(m.model.events).to.deep.equal(['reset 0000:04:00.0 bus', 'bus-reset 0000:00:1c.0']);
    expect(await writeFails(m.host.write('/sys/bus/pci/devices/0000:04:00.1/reset', '1'))).to.equal('ENOENT');
  });

  it('modprobe registers a driver and probes devices whose override names it; canned failures answer instead', async () => {
    const spec = standardSpec();
    spec.drivers = spec.drivers.map((d) => (d.name === 'vfio-pci' ? { ...d, loaded: false } : d));
    m = await modelHost(spec);
    await m.host.write(`/sys/bus/pci/devices/${NIC}/driver_override`, 'vfio-pci');
    await m.host.write('/sys/bus/pci/drivers/e1000e/unbind', NIC);
    expect(await writeFails(m.host.write('/sys/bus/pci/drivers/vfio-pci/bind', NIC))).to.equal('ENOENT');
    const r = await m.host.exec('modprobe', ['vfio-pci']);
    expect(r.exitCode).to.equal(0);
    expect(m.model.driverOf(NIC)).to.equal('vfio-pci');
    const missing = await m.host.exec('modprobe', ['no-such-module']);
    expect(missing.exitCode).to.equal(1);
    expect(missing.stderr).to.match(/not found/);
  });
});
