import { expect } from 'chai';
import { execa } from 'execa';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  diskTarget,
  libvirtDomainData,
  pciAddressParts,
  toLibvirtXml,
  xmlEscape,
} from '../../../src/export/libvirt.js';
import type { ExportDevice } from '../../../src/export/libvirt.js';
import { parseInstallRequest } from '../../../src/request/request.js';
import type { RawInstallArgs } from '../../../src/request/request.js';

const req = (raw: RawInstallArgs) =>
  parseInstallRequest({ import: true, disk: ['path=/srv/g.qcow2'], ...raw }, '/srv');

const cases: { name: string; raw: RawInstallArgs; devices: ExportDevice[] }[] = [
  { name: 'no device, user network', raw: { name: 'plain' }, devices: [] },
  {
    name: 'two devices, ROM options, bridge, topology, several buses',
    raw: {
      name: 'web1',
      memory: '4G',
      vcpus: 'vcpus=4,sockets=2,cores=2,threads=1',
      network: 'bridge=br0,mac=52:54:00:aa:bb:cc,model=e1000e',
      disk: [
        'path=/srv/a.qcow2',
        'path=/srv/b.img,bus=scsi',
        'path=/srv/c.qcow2,bus=sata',
        'path=/dev/sdz,format=raw,bus=ide',
      ],
    },
    devices: [
      { address: '0000:03:00.0', romBar: false },
      { address: '10000:e1:1f.7', romFile: "/roms/it's & <odd>.rom" },
    ],
  },
  {
    name: 'tcg, pc machine, named CPU model, no network, odd name',
    raw: {
      name: `x&<'">y`,
      accel: 'tcg',
      machine: 'pc',
      cpu: 'qemu64',
      network: 'none',
      disk: ['path=/srv/p.qcow2,bus=ide'],
    },
    devices: [{ address: '03:00.0' }],
  },
  {
    name: 'vIOMMU with interrupt remapping, machine properties, cpu features',
    raw: {
      name: 'viommu',
      machine: 'q35,kernel-irqchip=split',
      cpu: 'Skylake-Server,-hle,+ssse3,arch-capabilities=off',
      iommu: 'model=intel,driver.eim=on',
    },
    devices: [{ address: '0000:03:00.0' }],
  },
  {
    name: 'a GPU and its audio function on one slot, and a NIC',
    raw: { name: 'gpu' },
    devices: [
      { address: '0000:01:00.1' },
      { address: '0000:01:00.0', romBar: false },
      { address: '0000:03:00.0' },
    ],
  },
];

describe('libvirt domain export', () => {
  it('keeps the functions of one device on one guest slot, as the qemu command line does', () => {
    const xml = toLibvirtXml(
      req({ name: 'gpu' }),
      cases.find((c) => c.raw.name === 'gpu')!.devices,
      req({ name: 'gpu' }).disks,
    );
    expect(xml.match(/<controller type='pci'[^>]*>/g)).to.deep.equal([
      "<controller type='pci' index='1' model='pcie-root-port'/>",
    ]);
    const guest = [...xml.matchAll(/<address type='pci' domain='0x0000' bus='0x01'[^>]*>/g)].map((m) => m[0]);
    expect(guest).to.deep.equal([
      "<address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0' multifunction='on'/>",
      "<address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x1'/>",
    ]);
    // function 0 first; the lone NIC keeps libvirt's own placement (no guest address)
    expect(xml.indexOf("function='0x0'/>\n      </source>")).to.be.lessThan(
      xml.indexOf("function='0x1'/>\n      </source>"),
    );
    expect(xml.match(/<address type='pci'/g)).to.have.length(2);
  });

  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ig-libvirt-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  for (const [i, c] of cases.entries()) {
    it(`validates with virt-xml-validate: ${c.name}`, async () => {
      const r = req(c.raw);
      const xml = toLibvirtXml(r, c.devices, r.disks, { uuid: '00000000-0000-4000-8000-000000000001' });
      const file = path.join(dir, `d${i}.xml`);
      await writeFile(file, xml);
      const v = await execa('virt-xml-validate', [file, 'domain'], { reject: false });
      expect(v.exitCode, `${v.stdout}${v.stderr}\n${xml}`).to.equal(0);
      // the meaning: one managed hostdev per device, locked memory exactly when there is one
      const hostdevs = xml.match(/<hostdev mode='subsystem' type='pci' managed='yes'>/g) ?? [];
      expect(hostdevs).to.have.length(c.devices.length);
      expect(xml.includes('<locked/>')).to.equal(c.devices.length > 0);
      expect(xml).to.include(`<memory unit='MiB'>${r.memoryMiB}</memory>`);
      expect(xml).to.include("<console type='pty'>");
      expect(xml).to.include(`<name>${xmlEscape(r.name)}</name>`);
    });
  }

  it('says vIOMMU, split irqchip and cpu features as libvirt does', () => {
    const r = req({
      name: 'v',
      machine: 'q35,kernel-irqchip=split',
      cpu: 'Skylake-Server,-hle,+ssse3,arch-capabilities=off',
      iommu: 'model=intel,driver.eim=on',
    });
    const xml = toLibvirtXml(r, [], r.disks, {});
    expect(xml).to.include("machine='q35'>hvm</type>");
    expect(xml).to.include("<ioapic driver='qemu'/>");
    expect(xml).to.include("<driver intremap='on' caching_mode='on' eim='on'/>");
    expect(xml).to.include("<model fallback='forbid'>Skylake-Server</model>");
    expect(xml).to.include("<feature policy='disable' name='hle'/>");
    expect(xml).to.include("<feature policy='require' name='ssse3'/>");
    expect(xml).to.include("<feature policy='disable' name='arch-capabilities'/>");
    const plain = toLibvirtXml(req({ name: 'p' }), [], r.disks, {});
    expect(plain).to.not.include('<iommu').and.not.include('ioapic');
  });

  it('is valid XML that round-trips odd names and paths (xmllint reads back the originals)', async () => {
    const c = cases[2]!;
    const r = req(c.raw);
    const xml = toLibvirtXml(r, [{ address: '0000:03:00.0', romFile: `/r/a'b"&<c>.rom` }]);
    const file = path.join(dir, 'odd.xml');
    await writeFile(file, xml);
    const name = await execa('xmllint', ['--xpath', 'string(/domain/name)', file]);
    expect(name.stdout).to.equal(`x&<'">y`);
    const rom = await execa('xmllint', ['--xpath', 'string(//hostdev/rom/@file)', file]);
    expect(rom.stdout).to.equal(`/r/a'b"&<c>.rom`);
    expect(xml).to.match(/<domain type='qemu'>/);
  });

  it('plans disks, CPU and network as libvirt names them', () => {
    const d = libvirtDomainData(req(cases[1]!.raw), cases[1]!.devices, req(cases[1]!.raw).disks);
    expect(d.disks.map((x) => [x.target, x.bus, x.type])).to.deep.equal([
      ['vda', 'virtio', 'file'],
      ['sda', 'scsi', 'file'],
      ['sdb', 'sata', 'file'],
      ['sdc', 'sata', 'block'],
    ]);
    expect(d.scsi).to.equal(true);
    expect(d.cpu).to.deep.equal({ mode: 'host-passthrough', topology: { sockets: 2, cores: 2, threads: 1 } });
    expect(d.network).to.deep.equal({
      type: 'bridge',
      bridge: 'br0',
      mac: '52:54:00:aa:bb:cc',
      model: 'e1000e',
    });
    expect(d.hostdevs).to.deep.equal([
      { domain: '0x0000', bus: '0x03', slot: '0x00', function: '0x0', rom: { bar: 'off' } },
      {
        domain: '0x10000',
        bus: '0xe1',
        slot: '0x1f',
        function: '0x7',
        rom: { file: "/roms/it's & <odd>.rom" },
      },
    ]);
    const pc = libvirtDomainData(req(cases[2]!.raw), [], req(cases[2]!.raw).disks);
    expect(pc.disks[0]).to.deep.include({ target: 'hda', bus: 'ide' });
    expect(pc.cpu).to.deep.equal({ mode: 'custom', model: 'qemu64' });
    expect(pc.network).to.equal(false);
  });

  it('names disks past z as the kernel does, and splits PCI addresses', () => {
    expect([0, 25, 26, 27, 701, 702].map((n) => diskTarget('vd', n))).to.deep.equal([
      'vda',
      'vdz',
      'vdaa',
      'vdab',
      'vdzz',
      'vdaaa',
    ]);
    expect(pciAddressParts('03:1f.7')).to.deep.equal({
      domain: '0x0000',
      bus: '0x03',
      slot: '0x1f',
      function: '0x7',
    });
    expect(() => pciAddressParts('enp3s0')).to.throw(/not a PCI address/);
  });

  it('refuses values XML cannot carry instead of writing a broken file', () => {
    expect(() => xmlEscape('a\u0001b')).to.throw(/XML cannot carry/);
    expect(xmlEscape(`<a href="x">'&'</a>`)).to.equal(
      '&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;',
    );
  });
});
