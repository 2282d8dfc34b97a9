import { expect } from 'chai';
import { parseConfirmLines } from '../../../src/kickstart/confirm.js';
import type { GuestPciDevice } from '../../../src/qemu/qmp/commands.js';
import { emulatedNic, expectedDevices, verifyDevices } from '../../../src/stages/reboot-and-confirm.js';
import { installerFamily } from '../../../src/stages/launch-qemu.js';

const qdev = (qdevId: string, id: string, address: string): GuestPciDevice => {
  const [v, d] = id.split(':').map((x) => parseInt(x, 16));
  return {
    address,
    bus: 0,
    slot: 0,
    function: 0,
    vendorId: v!,
    deviceId: d!,
    id,
    subsystemVendorId: undefined,
    subsystemId: undefined,
    classCode: 0x200,
    classDesc: undefined,
    qdevId,
    parent: undefined,
  };
};

const BLOCK = `IG-CONFIRM begin boot=1
IG-CONFIRM pci addr=0000:00:02.0 id=8086:10d3 subsys=8086:0000 class=0x020000 driver=e1000e
IG-CONFIRM pci addr=0000:01:00.0 id=8086:1533 subsys=15d9:1533 class=0x020000 driver=none
IG-CONFIRM net name=eth0 mac=52:54:00:12:34:56 state=up pci=0000:00:02.0
IG-CONFIRM end pci=2 net=1
`;

describe('reboot-and-confirm: expected devices and their verification', () => {
  const argv = ['qemu', '-device', 'e1000e,netdev=net0,id=net0-dev,mac=52:54:00:12:34:56', '-no-reboot'];

  it('reads the emulated NIC from the argv', () => {
    expect(emulatedNic(argv)).to.deep.equal({
      model: 'e1000e',
      qdevId: 'net0-dev',
      mac: '52:54:00:12:34:56',
    });
    expect(emulatedNic(['qemu', '-nodefaults'])).to.equal(null);
  });

  it('expects assigned devices when there are any, else the emulated NIC', () => {
    expect(
      expectedDevices({
        argv: { install: argv, confirm: argv },
        prepared: [{ address: '0000:03:00.0', vendorDevice: '8086:1533' }],
      }),
    ).to.deep.equal([
      { kind: 'assigned', source: '0000:03:00.0', qdevId: 'hostdev0', vendorDevice: '8086:1533' },
    ]);
    expect(expectedDevices({ argv: { install: argv, confirm: argv } })).to.deep.equal([
      { kind: 'emulated', source: 'e1000e', qdevId: 'net0-dev', mac: '52:54:00:12:34:56' },
    ]);
  });

  it('confirms a device qemu placed and the guest lists, noting one with no driver', () => {
    const report = parseConfirmLines(BLOCK)!;
    const r = verifyDevices(
      [
        { kind: 'emulated', source: 'e1000e', qdevId: 'net0-dev', mac: '52:54:00:12:34:56' },
        { kind: 'assigned', source: '0000:03:00.0', qdevId: 'hostdev0', vendorDevice: '8086:1533' },
      ],
      [qdev('net0-dev', '8086:10d3', '0000:00:02.0'), qdev('hostdev0', '8086:1533', '0000:01:00.0')],
      report,
      '/l/serial-confirm.log',
    );
    expect(r.devices.map((d) => [d.vendorDevice, d.guestAddress, d.guestDriver])).to.deep.equal([
      ['8086:10d3', '0000:00:02.0', 'e1000e'],
      ['8086:1533', '0000:01:00.0', null],
    ]);
    expect(r.devices[0]!.interfaces).to.deep.equal([{ name: 'eth0', mac: '52:54:00:12:34:56', state: 'up' }]);
    expect(r.notes.join('\n')).to.match(/8086:1533 .*no driver/);
  });

  it('DEVICE_NOT_SEEN_BY_GUEST lists what the guest showed; DEVICE_NOT_IN_QEMU when qemu lacks it', () => {
    const report = parseConfirmLines(BLOCK)!;
    const want = [
      { kind: 'assigned' as const, source: '0000:05:00.0', qdevId: 'hostdev0', vendorDevice: '10de:1eb8' },
    ];
    expect(() => verifyDevices(want, [qdev('hostdev0', '10de:1eb8', '0000:01:00.0')], report, 'x'))
      .to.throw(/does not list assigned device 0000:05:00.0 \(10de:1eb8\).*8086:10d3/)
      .with.property('code', 'DEVICE_NOT_SEEN_BY_GUEST');
    expect(() => verifyDevices(want, [], report, 'x'))
      .to.throw()
      .with.property('code', 'DEVICE_NOT_IN_QEMU');
  });

  it('picks the console rule pack from the installer, else the OS family', () => {
    expect(
      installerFamily({
        media: { source: 'x', kind: 'iso', installer: 'debian-installer', boot: { kind: 'disk' } },
      }),
    ).to.equal('debian-installer');
    expect(
      installerFamily({
        media: { source: 'x', kind: 'kernel-initrd', family: 'fedora', boot: { kind: 'disk' } },
      }),
    ).to.equal('anaconda');
    expect(
      installerFamily({
        media: { source: 'x', kind: 'kernel-initrd', family: 'ubuntu22.04', boot: { kind: 'disk' } },
      }),
    ).to.equal('debian-installer');
    expect(installerFamily({})).to.equal('generic-linux');
  });
});
