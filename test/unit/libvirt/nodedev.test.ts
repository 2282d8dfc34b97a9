import { expect } from 'chai';
import { poolFromInventory } from '../../../src/batch/host-pool.js';
import { inventoryFromNodedevs, nodedevName, pciDeviceFromXml } from '../../../src/libvirt/nodedev.js';
import { parseXml } from '../../../src/libvirt/xml.js';
import { assess, assessAll } from '../../../src/pci/assignability.js';
import { selectAuto } from '../../../src/pci/hostdev-spec.js';

const pf = `<device>
  <name>pci_0000_03_00_0</name>
  <path>/sys/devices/pci0000:00/0000:00:02.0/0000:03:00.0</path>
  <parent>pci_0000_00_02_0</parent>
  <driver><name>igb</name></driver>
  <capability type='pci'>
    <class>0x020000</class>
    <domain>0</domain><bus>3</bus><slot>0</slot><function>0</function>
    <product id='0x10c9'>82576 Gigabit Network Connection</product>
    <vendor id='0x8086'>Intel Corporation</vendor>
    <capability type='virt_functions' maxCount='7'>
      <address domain='0x0000' bus='0x03' slot='0x10' function='0x0'/>
      <address domain='0x0000' bus='0x03' slot='0x10' function='0x2'/>
    </capability>
    <iommuGroup number='12'>
      <address domain='0x0000' bus='0x03' slot='0x00' function='0x0'/>
    </iommuGroup>
    <numa node='0'/>
    <pci-express><link validity='cap' port='0' speed='2.5' width='4'/></pci-express>
  </capability>
</device>`;
const vf = `<device><name>pci_0000_03_10_0</name><path>/sys/x</path><parent>pci_0000_00_02_0</parent>
  <capability type='pci'><class>0x020000</class><domain>0</domain><bus>3</bus><slot>16</slot><function>0</function>
  <product id='0x10ca'/><vendor id='0x8086'>Intel &amp; co</vendor>
  <capability type='phys_function'><address domain='0x0000' bus='0x03' slot='0x00' function='0x0'/></capability>
  <iommuGroup number='13'><address domain='0x0000' bus='0x03' slot='0x10' function='0x0'/></iommuGroup>
  </capability></device>`;
const bridge = `<device><name>pci_0000_00_02_0</name><path>/sys/y</path><parent>computer</parent>
  <driver><name>pcieport</name></driver>
  <capability type='pci'><class>0x060400</class><domain>0</domain><bus>0</bus><slot>2</slot><function>0</function>
  <product id='0x29c9'/><vendor id='0x8086'/><iommuGroup number='2'><address domain='0x0000' bus='0x00' slot='0x02' function='0x0'/></iommuGroup>
  </capability></device>`;
const net = `<device><name>net_enp3s0_52_54_00_aa_bb_cc</name><path>/sys/z</path><parent>pci_0000_03_00_0</parent>
  <capability type='net'><interface>enp3s0</interface><address>52:54:00:AA:BB:CC</address><link state='up'/></capability></device>`;

describe('libvirt nodedev inventory', () => {
  it('reads a PCI nodedev into the inventory model: ids, class, driver, group, NUMA, parent, SR-IOV', () => {
    const d = pciDeviceFromXml(pf);
    expect(d).to.include({
      address: '0000:03:00.0',
      vendorId: '8086',
      deviceId: '10c9',
      classCode: '020000',
      classKind: 'net',
      driver: 'igb',
      iommuGroup: 12,
      numaNode: 0,
      parent: '0000:00:02.0',
      headerType: 'endpoint',
    });
    expect(d.sriov).to.deep.equal({ totalVfs: 7, numVfs: 2, vfs: ['0000:03:10.0', '0000:03:10.2'] });
    expect(pciDeviceFromXml(vf)).to.include({
      address: '0000:03:10.0',
      physfn: '0000:03:00.0',
      driver: null,
    });
    expect(pciDeviceFromXml(bridge).headerType).to.equal('bridge');
    expect(nodedevName('0000:03:10.2')).to.equal('pci_0000_03_10_2');
  });

  it('hangs net nodedevs under their PCI function and groups functions by IOMMU group', () => {
    const inv = inventoryFromNodedevs([vf, pf, bridge], [net], { uri: 'qemu:///system', local: true });
    expect(inv.devices.map((d) => d.address)).to.deep.equal(['0000:00:02.0', '0000:03:00.0', '0000:03:10.0']);
    expect(inv.devices[1]!.net).to.deep.equal([
      {
        name: 'enp3s0',
        mac: '52:54:00:aa:bb:cc',
        operstate: 'up',
        addresses: [],
        defaultRoutes: [],
        uppers: [],
      },
    ]);
    expect(inv.groups).to.deep.equal({
      '2': ['0000:00:02.0'],
      '12': ['0000:03:00.0'],
      '13': ['0000:03:10.0'],
    });
    expect(inv.iommu).to.include({ enabled: true, groupCount: 3 });
    expect(inv.unknownGuards).to.equal(undefined);
  });

  it('a remote host: the default-route and mount guards are unknown, so auto picks nothing unless forced', () => {
    const inv = inventoryFromNodedevs([pf, vf, bridge], [net], {
      uri: 'qemu+ssh://root@h1/system',
      local: false,
    });
    expect(inv.unknownGuards?.facts).to.include('default route');
    const a = assess(inv.devices[2]!, inv);
    expect(a.verdict).to.equal('not-assignable');
    expect(a.reasons.find((r) => r.code === 'GUARD_UNKNOWN')?.message).to.match(
      /^unknown: whether 0000:03:10.0/,
    );
    expect(assess(inv.devices[0]!, inv).reasons.map((r) => r.code)).to.not.include('GUARD_UNKNOWN');
    expect(selectAuto(inv).kind).to.equal('none');
    const forced = selectAuto(inv, { force: true });
    expect(forced.kind).to.equal('device');
    if (forced.kind === 'device') {
      expect(forced.device.address).to.equal('0000:03:10.0');
      expect(forced.assessment.verdict).to.equal('warnings');
    }
  });

  it("a batch host's pool: a remote host's NICs join only when the manifest forces that host", () => {
    const inv = inventoryFromNodedevs([pf, vf, bridge], [net], {
      uri: 'qemu+ssh://root@h1/system',
      local: false,
    });
    const nics = (force: boolean) =>
      poolFromInventory(inv, assessAll(inv, force ? { force: true } : {}))
        .devices.filter((d) => d.class.startsWith('0x02'))
        .map((d) => d.address);
    expect(nics(false)).to.deep.equal([]);
    expect(nics(true)).to.include('0000:03:10.0');
  });

  it('the XML reader decodes entities and refuses what it cannot read', () => {
    const e = parseXml(`<?xml version='1.0'?><a x="1 &lt; 2"><!-- c --><b>t&#x41;&amp;</b><b/></a>`);
    expect(e.attrs.x).to.equal('1 < 2');
    expect(e.children.map((c) => c.name)).to.deep.equal(['b', 'b']);
    expect(e.children[0]!.text).to.equal('tA&');
    expect(() => parseXml('<a><b></a>')).to.throw(/LIBVIRT_BAD_XML|cannot read/);
    expect(() => parseXml('<!DOCTYPE x><a/>')).to.throw(/DOCTYPE/);
  });
});
