import { expect } from 'chai';
import {
  canonicalAddress,
  compareAddressText,
  formatPciAddress,
  libvirtName,
  parseLibvirtName,
  parsePciAddress,
  parseSysfsAddress,
} from '../../../src/pci/address.js';

describe('pci/address', () => {
  const cases: [string, string | null][] = [
    ['0000:03:00.0', '0000:03:00.0'],
    ['03:00.0', '0000:03:00.0'],
    ['0000:3B:02.7', '0000:3b:02.7'],
    ['10000:00:01.0', '10000:00:01.0'],
    ['ffff:ff:1f.7', 'ffff:ff:1f.7'],
    [' 0000:00:1f.6 ', '0000:00:1f.6'],
    ['0000:03:20.0', null], // slot above 0x1f
    ['0000:03:00.8', null], // function above 7
    ['000:03:00.0', null], // domain shorter than 4 digits
    ['0000:3:00.0', null],
    ['03:00', null],
    ['enp3s0', null],
    ['8086:10d3', null],
  ];
  for (const [text, want] of cases) {
    it(`parses ${JSON.stringify(text)} as ${want ?? 'not an address'}`, () => {
      const a = parsePciAddress(text);
      expect(a === null ? null : formatPciAddress(a)).to.equal(want);
    });
  }

  it('accepts only the full form as a sysfs name', () => {
    expect(parseSysfsAddress('03:00.0')).to.equal(null);
    expect(parseSysfsAddress('10000:01:00.0')).to.deep.equal({ domain: 0x10000, bus: 1, slot: 0, func: 0 });
  });

  it("round-trips libvirt's node-device names, 5-digit domains included", () => {
    for (const name of ['pci_0000_03_00_0', 'pci_10000_02_00_1']) {
      const a = parseLibvirtName(name);
      expect(a).to.not.equal(null);
      expect(libvirtName(a!)).to.equal(name);
    }
    expect(parseLibvirtName('pci_0000_03_00')).to.equal(null);
    expect(parseLibvirtName('pci_000_03_00_0')).to.equal(null);
  });

  it('sorts numerically: a 5-digit domain after every 4-digit one, buses as numbers', () => {
    const sorted = ['10000:00:01.0', '0000:3b:02.0', '0000:03:00.1', 'ffff:00:00.0', '0000:03:00.0'].sort(
      compareAddressText,
    );
    expect(sorted).to.deep.equal([
      '0000:03:00.0',
      '0000:03:00.1',
      '0000:3b:02.0',
      'ffff:00:00.0',
      '10000:00:01.0',
    ]);
  });

  describe('canonicalAddress: the one selector grammar (--hostdev, batch manifests, exports)', () => {
    const selectors: [string, string | null][] = [
      ['0000:03:00.0', '0000:03:00.0'],
      ['03:00.0', '0000:03:00.0'],
      ['pci_0000_03_00_0', '0000:03:00.0'],
      ['PCI_0000_3B_02_7', '0000:3b:02.7'],
      // VMD domains: five digits as lspci and sysfs print them, and libvirt's name for them
      ['10000:00:02.0', '10000:00:02.0'],
      ['pci_10000_00_02_0', '10000:00:02.0'],
      // the kernel prints the domain as %04x: leading zeros beyond four digits are not a second name
      ['00010000:00:02.0', '10000:00:02.0'],
      ['0000ffff:00:02.0', 'ffff:00:02.0'],
      [' 0000:03:00.0 ', '0000:03:00.0'],
      ['100000000:00:02.0', null], // more than 32 bits of domain
      ['0000:03:20.0', null], // slot above 0x1f
      ['pci_0000_03_20_0', null],
      ['0000:03:00.8', null],
      ['8086:10d3', null],
      ['enp3s0', null],
      ['auto', null],
    ];
    for (const [text, want] of selectors) {
      it(`${JSON.stringify(text)} → ${want ?? 'not an address'}`, () => {
        expect(canonicalAddress(text)).to.equal(want);
      });
    }
  });
});
