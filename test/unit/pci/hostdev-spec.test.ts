import { expect } from 'chai';
import { assessAll } from '../../../src/pci/assignability.js';
import {
  parseHostdevSpec,
  rankAuto,
  requireAssignable,
  resolveHostdevSpec,
  selectAuto,
  selectHostdev,
} from '../../../src/pci/hostdev-spec.js';
import { bridge, dev, iface, inventory } from './make-inventory.js';
import { thrown } from '../../helpers/typed-error.js';

describe('pci/hostdev-spec: the --hostdev grammar', () => {
  const ok: [string, object][] = [
    ['0000:03:00.0', { kind: 'address', address: '0000:03:00.0' }],
    ['03:00.0', { kind: 'address', address: '0000:03:00.0' }],
    ['0000:3B:02.1', { kind: 'address', address: '0000:3b:02.1' }],
    ['10000:00:01.0', { kind: 'address', address: '10000:00:01.0' }],
    ['pci_0000_03_00_0', { kind: 'address', address: '0000:03:00.0' }],
    ['pci_10000_02_00_0', { kind: 'address', address: '10000:02:00.0' }],
    ['8086:10D3', { kind: 'id', vendorId: '8086', deviceId: '10d3' }],
    ['enp3s0', { kind: 'iface', name: 'enp3s0' }],
    ['enp1s0f0np0', { kind: 'iface', name: 'enp1s0f0np0' }],
    ['eth0.100', { kind: 'iface', name: 'eth0.100' }],
    ['auto', { kind: 'auto' }],
    ['  auto ', { kind: 'auto' }],
  ];
  for (const [text, want] of ok) {
    it(`parses ${JSON.stringify(text)}`, () => expect(parseHostdevSpec(text)).to.include(want));
  }

  const bad: [string, string][] = [
    ['', 'HOSTDEV_SPEC_EMPTY'],
    ['03:00', 'HOSTDEV_SPEC_INVALID'],
    ['0000:03:20.0', 'HOSTDEV_SPEC_INVALID'],
    ['808:10d3', 'HOSTDEV_SPEC_INVALID'],
    ['pci_0000_03_00', 'HOSTDEV_SPEC_INVALID'],
    ['a-very-long-interface-name', 'HOSTDEV_SPEC_INVALID'],
    ['eth/0', 'HOSTDEV_SPEC_INVALID'],
    ['two words', 'HOSTDEV_SPEC_INVALID'],
    ['..', 'HOSTDEV_SPEC_INVALID'],
  ];
  for (const [text, code] of bad) {
    it(`refuses ${JSON.stringify(text)} with ${code} (exit 2)`, () => {
      const e = thrown(() => parseHostdevSpec(text));
      expect(e.code).to.equal(code);
      expect(e.exitCode).to.equal(2);
      expect(e.message + (e.hint ?? '')).to.include('0000:03:00.0');
    });
  }
});

describe('pci/hostdev-spec: resolving against an inventory', () => {
  const inv = inventory([
    dev('0000:00:1f.6', { deviceId: '15b8', driver: 'e1000e', iommuGroup: 9, net: [iface('eno1')] }),
    dev('0000:03:00.0', { deviceId: '10d3', driver: 'e1000e', iommuGroup: 12, net: [iface('enp3s0')] }),
    dev('0000:04:00.0', { deviceId: '10d3', driver: 'e1000e', iommuGroup: 13, net: [iface('enp4s0')] }),
    dev('10000:02:00.0', { deviceId: '1572', driver: 'i40e', iommuGroup: 20 }),
  ]);
  const resolve = (t: string): string => resolveHostdevSpec(parseHostdevSpec(t), inv).address;

  it('finds a function by every form', () => {
    expect(resolve('0000:03:00.0')).to.equal('0000:03:00.0');
    expect(resolve('03:00.0')).to.equal('0000:03:00.0');
    expect(resolve('pci_0000_04_00_0')).to.equal('0000:04:00.0');
    expect(resolve('10000:02:00.0')).to.equal('10000:02:00.0');
    expect(resolve('pci_10000_02_00_0')).to.equal('10000:02:00.0');
    expect(resolve('8086:15b8')).to.equal('0000:00:1f.6');
    expect(resolve('enp4s0')).to.equal('0000:04:00.0');
  });

  it('refuses an id that matches several functions, listing them (exit 2)', () => {
    const e = thrown(() => resolve('8086:10d3'));
    expect(e.code).to.equal('HOSTDEV_AMBIGUOUS');
    expect(e.exitCode).to.equal(2);
    expect(e.message).to.include('0000:03:00.0').and.include('0000:04:00.0').and.not.include('0000:00:1f.6');
    expect(e.data).to.deep.include({ candidates: ['0000:03:00.0', '0000:04:00.0'] });
  });

  it('refuses unknown devices, listing the network functions (exit 2)', () => {
    for (const t of ['0000:05:00.0', '1af4:1041', 'enp9s0']) {
      const e = thrown(() => resolve(t));
      expect(e.code, t).to.equal('HOSTDEV_NOT_FOUND');
      expect(e.exitCode).to.equal(2);
      expect(e.message).to.include('0000:03:00.0 Ethernet controller [8086:10d3] driver=e1000e enp3s0');
    }
  });

  it('refuses an explicit device that cannot be assigned with a host error (exit 3) naming every blocking reason', () => {
    const inv2 = inventory([
      dev('0000:03:00.0', {
        iommuGroup: null,
        net: [iface('enp3s0', { defaultRoutes: ['0.0.0.0/0 via 1.2.3.4'] })],
      }),
    ]);
    const sel = selectHostdev(parseHostdevSpec('enp3s0'), inv2);
    expect(sel.kind).to.equal('device');
    if (sel.kind !== 'device') return;
    const e = thrown(() => requireAssignable(sel.device, sel.assessment));
    expect(e.exitCode).to.equal(3);
    expect(e.code).to.equal('DEVICE_NOT_ASSIGNABLE');
    expect(e.message).to.include('default route').and.include('IOMMU');
  });
});

describe('pci/hostdev-spec: auto', () => {
  it('ranks VFs before PFs, vfio-pci first, quiet links, lone groups; never the default-route NIC', () => {
    const pfAddr = '0000:3b:00.0';
    const inv = inventory([
      dev(pfAddr, {
        iommuGroup: 31,
        sriov: { totalVfs: 8, numVfs: 3, vfs: ['0000:3b:02.0', '0000:3b:02.1', '0000:3b:02.2'] },
        net: [iface('pf0', { operstate: 'up', defaultRoutes: ['0.0.0.0/0 via 10.0.0.1'] })],
      }),
      dev('0000:3b:02.0', {
        iommuGroup: 60,
        physfn: pfAddr,
        driver: 'iavf',
        net: [iface('vf0', { operstate: 'up', addresses: ['10.1.0.2/24'] })],
      }),
      dev('0000:3b:02.1', { iommuGroup: 61, physfn: pfAddr, driver: 'iavf', net: [iface('vf1')] }),
      dev('0000:3b:02.2', { iommuGroup: 62, physfn: pfAddr, driver: 'vfio-pci' }),
      dev('0000:05:00.0', { iommuGroup: 15, driver: 'vfio-pci' }),
      dev('0000:06:00.0', { iommuGroup: 16, net: [iface('enp6s0')] }),
      dev('0000:06:00.1', { iommuGroup: 16, driver: null }),
      bridge('0000:00:1c.0', { iommuGroup: 15 }),
    ]);
    const { ranked, refused } = rankAuto(inv, assessAll(inv));
    expect(ranked.map((r) => r.address)).to.deep.equal([
      '0000:3b:02.2', // VF on vfio-pci
      '0000:3b:02.1', // VF, link down
      '0000:3b:02.0', // VF, up with an address (warnings)
      '0000:05:00.0', // PF on vfio-pci, alone in its group (the bridge does not count)
      '0000:06:00.0', // shares its group with an unbound endpoint
    ]);
    // the PF carries the default route; 06:00.1 shares its group with 06:00.0, which is on igb
    expect(refused.map((d) => d.address)).to.deep.equal([pfAddr, '0000:06:00.1']);
    const pick = selectAuto(inv);
    expect(pick.kind).to.equal('device');
    expect(pick.kind === 'device' && pick.device.address).to.equal('0000:3b:02.2');
  });

  it('is deterministic: the same inventory in another order picks the same device', () => {
    const devices = [
      dev('0000:07:00.0', { iommuGroup: 7, net: [iface('a')] }),
      dev('0000:05:00.0', { iommuGroup: 5, net: [iface('b')] }),
    ];
    const a = selectAuto(inventory(devices));
    const b = selectAuto(inventory([...devices].reverse()));
    expect(a.kind === 'device' && a.device.address).to.equal(b.kind === 'device' && b.device.address);
  });

  it('returns none with the reasons for every network function when nothing is assignable', () => {
    const inv = inventory([
      dev('0000:00:1f.6', {
        iommuGroup: null,
        net: [iface('eno1', { defaultRoutes: ['0.0.0.0/0 via 10.0.0.1'] })],
      }),
      dev('0000:02:00.0', { iommuGroup: null, net: [iface('enp2s0')] }),
      dev('0000:00:17.0', { iommuGroup: null, classKind: 'storage' }),
    ]);
    const s = selectAuto(inv);
    expect(s.kind).to.equal('none');
    if (s.kind !== 'none') return;
    expect(s.refused.map((r) => r.address)).to.deep.equal(['0000:00:1f.6', '0000:02:00.0']);
    expect(s.refused[0]!.assessment.reasons.map((r) => r.code)).to.include.members([
      'NO_IOMMU',
      'DEFAULT_ROUTE',
    ]);
    expect(s.message).to.match(/none of the 2 network function/);
  });

  it('returns none on a host without network functions', () => {
    const s = selectAuto(inventory([dev('0000:00:17.0', { classKind: 'storage' })]));
    expect(s.kind === 'none' && s.message).to.equal('the host has no network functions');
  });
});
