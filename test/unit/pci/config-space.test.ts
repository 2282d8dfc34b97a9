import { expect } from 'chai';
import { isAllOnes, listCapabilities, parseConfigSpace } from '../../../src/pci/config-space.js';
import { configBytes, normalizeDevices, type HostProfile } from '../../helpers/sysfs-fixture.js';

function device(
  over: Partial<HostProfile['devices'][number]> = {},
): ReturnType<typeof normalizeDevices>[number] {
  const profile: HostProfile = {
    name: 't',
    description: 't',
    iommu: { kind: 'intel' },
    devices: [
      { address: '0000:00:1c.0', id: '8086:a33c', class: '060400' },
      {
        address: '0000:03:00.0',
        id: '8086:1533',
        subsys: '1458:e000',
        class: '020000',
        rev: '03',
        parent: '0000:00:1c.0',
        group: 1,
        ...over,
      },
    ],
  };
  return normalizeDevices(profile)[1]!;
}

describe('pci/config-space', () => {
  it('reads the header: ids, class, revision, header type, subsystem', () => {
    const info = parseConfigSpace(configBytes(device()));
    expect(info.state).to.equal('ok');
    expect(info.size).to.equal(4096);
    expect(info.header).to.include({
      vendorId: 0x8086,
      deviceId: 0x1533,
      classCode: 0x02,
      subclass: 0x00,
      revision: 0x03,
      headerType: 0,
      subsystemVendorId: 0x1458,
      subsystemDeviceId: 0xe000,
    });
  });

  const resetCases: [string, Partial<HostProfile['devices'][number]>, object][] = [
    [
      'PCIe FLR (DevCap bit 28)',
      { pcie: { flr: true } },
      { pcieFlr: true, pmNoSoftReset: true, afFlr: null },
    ],
    ['no FLR', { pcie: { flr: false } }, { pcieFlr: false }],
    [
      'PM reset (No_Soft_Reset = 0)',
      { pcie: { flr: false }, pm: { noSoftReset: false } },
      { pmNoSoftReset: false },
    ],
    ['no PM capability', { pm: false }, { pmNoSoftReset: null }],
    [
      'conventional PCI with AF FLR',
      { pcie: false, af: { flr: true }, configSize: 256 },
      { pcieFlr: null, afFlr: true },
    ],
    ['AF without FLR', { pcie: false, af: { flr: false }, configSize: 256 }, { afFlr: false }],
  ];
  for (const [name, over, want] of resetCases) {
    it(`finds reset capabilities: ${name}`, () => {
      expect(parseConfigSpace(configBytes(device(over))).reset).to.include(want);
    });
  }

  it('finds the SR-IOV extended capability and its TotalVFs', () => {
    const info = parseConfigSpace(configBytes(device({ sriov: { totalVfs: 64, numVfs: 4 } })));
    expect(info.extendedCapabilities.map((c) => c.id)).to.deep.equal([0x10]);
    expect(info.sriovTotalVfs).to.equal(64);
  });

  it('reports an all-0xff header as a device that is gone (D3cold), not as ids ffff:ffff', () => {
    const info = parseConfigSpace(configBytes(device({ configAllOnes: true })));
    expect(info.state).to.equal('all-ones');
    expect(info.header).to.equal(null);
    expect(isAllOnes(Buffer.alloc(64, 0xff))).to.equal(true);
    expect(isAllOnes(Buffer.concat([Buffer.alloc(63, 0xff), Buffer.from([0])]))).to.equal(false);
  });

  it('reads the header but no capabilities from the 64 bytes an unprivileged user sees', () => {
    const info = parseConfigSpace(configBytes(device()).subarray(0, 64));
    expect(info.state).to.equal('header-only');
    expect(info.header?.vendorId).to.equal(0x8086);
    expect(info.capabilities).to.deep.equal([]);
    expect(info.reset.pcieFlr).to.equal(null);
  });

  it('stops on a capability list that loops', () => {
    const b = Buffer.alloc(256);
    b.writeUInt16LE(0x0010, 0x06);
    b.writeUInt8(0x40, 0x34);
    b.writeUInt8(0x01, 0x40);
    b.writeUInt8(0x40, 0x41); // next → itself
    expect(listCapabilities(b)).to.deep.equal([{ id: 1, offset: 0x40 }]);
  });

  it('reads bridge bus numbers from a type 1 header', () => {
    const profile: HostProfile = {
      name: 't',
      description: 't',
      iommu: { kind: 'intel' },
      devices: [
        { address: '0000:00:1c.0', id: '8086:a33c', class: '060400' },
        { address: '0000:05:00.0', id: '8086:1533', class: '020000', parent: '0000:00:1c.0' },
      ],
    };
    const info = parseConfigSpace(configBytes(normalizeDevices(profile)[0]!));
    expect(info.header).to.include({
      headerType: 1,
      secondaryBus: 5,
      subordinateBus: 5,
      subsystemVendorId: null,
    });
  });
});
