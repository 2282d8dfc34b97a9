import { expect } from 'chai';
import { parseAllDocuments } from 'yaml';
import { kubeName, kubeVirtYaml, resourceNameFor, toKubeVirt } from '../../../src/export/kubevirt.js';
import { parseInstallRequest } from '../../../src/request/request.js';
import type { RawInstallArgs } from '../../../src/request/request.js';

const req = (raw: RawInstallArgs) =>
  parseInstallRequest({ import: true, disk: ['path=/srv/g.qcow2'], ...raw }, '/srv');
type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('KubeVirt export', () => {
  it('builds a VirtualMachine asking for each device by resource name, and the CR entry that permits it', () => {
    const r = req({
      name: 'Web_1',
      memory: '2G',
      vcpus: '2',
      disk: ['path=/srv/a.qcow2', 'path=/srv/b.img,bus=ide'],
    });
    const ex = toKubeVirt(r, [
      { address: '0000:03:00.0', vendorDevice: '8086:10d3' },
      { address: '0000:04:00.0', vendorDevice: '8086:10d3' },
      { address: '0000:05:00.0', vendorDevice: '10de:1eb8' },
    ]);
    const vm = ex.virtualMachine as Obj;
    expect(vm.apiVersion).to.equal('kubevirt.io/v1');
    expect(vm.kind).to.equal('VirtualMachine');
    expect(vm.metadata.name).to.equal('web-1');
    expect(vm.metadata.annotations).to.deep.equal({ 'install-guest/name': 'Web_1' });
    const spec = vm.spec.template.spec;
    expect(spec.domain.devices.hostDevices).to.deep.equal([
      { name: 'hostdev0', deviceName: 'intel.com/8086_10D3' },
      { name: 'hostdev1', deviceName: 'intel.com/8086_10D3' },
      { name: 'hostdev2', deviceName: 'nvidia.com/10DE_1EB8' },
    ]);
    expect(spec.domain.memory).to.deep.equal({ guest: '2048Mi' });
    expect(spec.domain.cpu).to.deep.equal({ sockets: 1, cores: 2, threads: 1 });
    expect(spec.domain.devices.disks.map((d: Obj) => d.disk.bus)).to.deep.equal(['virtio', 'sata']);
    expect(spec.volumes.map((v: Obj) => v.persistentVolumeClaim.claimName)).to.deep.equal([
      'web-1-disk0',
      'web-1-disk1',
    ]);
    expect(spec.networks).to.deep.equal([{ name: 'default', pod: {} }]);
    expect(ex.pciHostDevices, 'each vendor:device once').to.deep.equal([
      { pciVendorSelector: '8086:10D3', resourceName: 'intel.com/8086_10D3' },
      { pciVendorSelector: '10DE:1EB8', resourceName: 'nvidia.com/10DE_1EB8' },
    ]);
    // every device name the VM asks for is permitted by the CR entry
    const permitted = new Set(ex.pciHostDevices.map((p) => p.resourceName));
    for (const h of spec.domain.devices.hostDevices as Obj[])
      expect(permitted.has(h.deviceName)).to.equal(true);
  });

  it('serializes the CR snippet and the VMs as YAML documents that parse back to the same structure', () => {
    const a = toKubeVirt(req({ name: 'a', network: 'none' }), [
      { address: '0000:03:00.0', vendorDevice: '8086:10d3' },
    ]);
    const b = toKubeVirt(
      req({ name: 'b', network: 'bridge=br0' }),
      [{ address: '0000:04:00.0', vendorDevice: '8086:10d3' }],
      undefined,
      {
        namespace: 'ci',
        resourceNames: { '8086:10d3': 'example.org/e1000e' },
      },
    );
    const text = kubeVirtYaml([a, b]);
    expect(text).to.include('pciVendorSelector: "8086:10D3"');
    const docs = parseAllDocuments(text).map((d) => {
      expect(d.errors).to.deep.equal([]);
      return d.toJS() as Obj;
    });
    expect(docs.map((d) => d.kind)).to.deep.equal(['KubeVirt', 'VirtualMachine', 'VirtualMachine']);
    expect(docs[0]!.spec.configuration.permittedHostDevices.pciHostDevices).to.deep.equal([
      { pciVendorSelector: '8086:10D3', resourceName: 'intel.com/8086_10D3' },
    ]);
    expect(docs[1]).to.deep.equal(a.virtualMachine);
    expect(docs[1]!.spec.template.spec.domain.devices.autoattachPodInterface).to.equal(false);
    expect(docs[1]!.spec.template.spec.domain.devices.interfaces).to.deep.equal([]);
    expect(docs[2]!.metadata.namespace).to.equal('ci');
    expect(docs[2]!.spec.template.spec.networks).to.deep.equal([
      { name: 'br0', multus: { networkName: 'br0' } },
    ]);
    expect(docs[2]!.spec.template.spec.domain.devices.hostDevices[0].deviceName).to.equal(
      'example.org/e1000e',
    );
  });

  it('needs each device’s vendor:device, and a name Kubernetes accepts', () => {
    expect(() => toKubeVirt(req({ name: 'a' }), [{ address: '0000:03:00.0' }])).to.throw(
      /vendor:device is not known/,
    );
    expect(kubeName('Web.Server_01')).to.equal('web-server-01');
    expect(kubeName('x'.repeat(80))).to.have.length(63);
    expect(() => kubeName('___')).to.throw(/no usable Kubernetes name/);
    expect(resourceNameFor('abcd:0001')).to.equal('pci-abcd.install-guest.io/ABCD_0001');
    expect(kubeVirtYaml([toKubeVirt(req({ name: 'nodev' }), [])])).to.not.include('KubeVirt\n');
  });
});
