/**
 * `install --print-xml` / `--print-kubevirt`: through main() on a fixture host tree (--host-root),
 * the libvirt domain XML carries the device the install selected as a managed PCI <hostdev> and
 * passes virt-xml-validate; the KubeVirt VM selects it by vendor:device and names the
 * permittedHostDevices entry the cluster needs; a finished install's exports use what it prepared.
 */
import { expect } from 'chai';
import { execa } from 'execa';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import {
  installExportDevices,
  renderInstallExports,
  saveInstallExports,
} from '../../../src/export/install-export.js';
import type { InstallState } from '../../../src/pipeline/state.js';
import { parseInstallRequest } from '../../../src/request/request.js';
import { runCli } from '../../helpers/cli.js';
import { buildHostTree, loadProfile } from '../../helpers/sysfs-fixture.js';

const MEDIA = path.resolve('fixtures/cases/_media');
const BOOT = `kernel=${path.join(MEDIA, 'vmlinuz')},initrd=${path.join(MEDIA, 'initrd.img')}`;

async function xpath(file: string, x: string): Promise<string> {
  return (await execa('xmllint', ['--xpath', x, file])).stdout;
}

describe('install --print-xml / --print-kubevirt', function () {
  this.timeout(30_000);
  let tmp: string;
  let root: string;
  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'ig-install-export-'));
    root = path.join(tmp, 'host');
    await buildHostTree(loadProfile('two-nics'), root);
  });
  after(() => rm(tmp, { recursive: true, force: true }));

  const install = (extra: string[]) =>
    runCli(
      [
        '--host-root',
        root,
        'install',
        '--dry-run',
        '--name',
        'web1',
        '--memory',
        '2048',
        '--disk',
        'size=4',
        '--boot',
        BOOT,
        '--hostdev',
        'auto,rom.bar=off',
        ...extra,
      ],
      { cwd: tmp },
    );

  it('prints the domain XML with the selected device as a managed PCI hostdev; virt-xml-validate accepts it', async () => {
    const r = await install(['--print-xml']);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout.startsWith('<domain '), 'stdout is the document alone').to.equal(true);
    const file = path.join(tmp, 'web1.xml');
    await writeFile(file, r.stdout);
    const v = await execa('virt-xml-validate', [file, 'domain'], { reject: false });
    expect(v.exitCode, v.stderr + v.stdout).to.equal(0);
    const hd = "//hostdev[@mode='subsystem'][@type='pci'][@managed='yes']";
    expect(await xpath(file, `count(${hd})`)).to.equal('1');
    // two-nics: auto picks the spare NIC at 0000:05:00.0 (the other carries the default route)
    expect(await xpath(file, `string(${hd}/source/address/@domain)`)).to.equal('0x0000');
    expect(await xpath(file, `string(${hd}/source/address/@bus)`)).to.equal('0x05');
    expect(await xpath(file, `string(${hd}/source/address/@slot)`)).to.equal('0x00');
    expect(await xpath(file, `string(${hd}/source/address/@function)`)).to.equal('0x0');
    expect(await xpath(file, `string(${hd}/rom/@bar)`)).to.equal('off');
    expect(await xpath(file, 'count(//memoryBacking/locked)'), 'vfio pins guest memory').to.equal('1');
    expect(await xpath(file, 'string(//disk/source/@file)')).to.equal(path.join(tmp, 'web1.qcow2'));
    expect(await xpath(file, 'string(/domain/name)')).to.equal('web1');
  });

  it('prints a KubeVirt VirtualMachine selecting the device by vendor:device, with the permittedHostDevices entry', async () => {
    const r = await install(['--print-kubevirt']);
    expect(r.code, r.stderr).to.equal(0);
    const docs = r.stdout
      .split(/^---$/m)
      .map((d) => parseYaml(d) as Record<string, unknown> | null)
      .filter((d): d is Record<string, unknown> => d !== null);
    const vm = docs.find((d) => d.kind === 'VirtualMachine') as {
      spec: { template: { spec: { domain: { devices: { hostDevices: { deviceName: string }[] } } } } };
    };
    const hostDevices = vm.spec.template.spec.domain.devices.hostDevices;
    expect(hostDevices).to.have.length(1);
    const profile = loadProfile('two-nics') as unknown as {
      devices: { address: string; vendor?: string; device?: string; id?: string }[];
    };
    const dev = profile.devices.find((d) => d.address.endsWith('05:00.0'))!;
    const id = (dev.id ?? `${dev.vendor}:${dev.device}`).replace(/0x/g, '').toLowerCase();
    expect(r.stdout).to.include(`pciVendorSelector: "${id.toUpperCase()}"`);
    expect(r.stdout).to.include(`resourceName: ${hostDevices[0]!.deviceName}`);
  });

  it('with --json, the dry-run plan carries the documents', async () => {
    const r = await install(['--print-xml', '--print-kubevirt', '--json']);
    expect(r.code, r.stderr).to.equal(0);
    const plan = JSON.parse(r.stdout) as { exports: { xml: string; kubevirt: string }; devices: unknown[] };
    expect(plan.exports.xml).to.include("<hostdev mode='subsystem' type='pci' managed='yes'>");
    expect(plan.exports.kubevirt).to.include('kind: VirtualMachine');
  });

  it('a finished install exports what it prepared, its accel, UUID and MAC, and saves them privately', async () => {
    const request = parseInstallRequest(
      { name: 'db1', boot: BOOT, disk: ['size=1'], hostdev: ['0000:03:00.0'], accel: 'auto' },
      tmp,
    );
    const state = {
      raw: {},
      cwd: tmp,
      request,
      accel: 'tcg',
      uuid: '11111111-2222-4333-8444-555555555555',
      mac: '52:54:00:aa:bb:cc',
      devices: [{ address: '0000:03:00.0' }],
      prepared: [{ address: '0000:03:00.0', vendorDevice: '8086:10d3', romBar: true }],
    } as InstallState;
    expect(installExportDevices(state)).to.deep.equal([
      { address: '0000:03:00.0', vendorDevice: '8086:10d3', romBar: true },
    ]);
    const ex = await renderInstallExports(state, { xml: true, kubevirt: true });
    expect(ex.xml).to.include("<domain type='qemu'>");
    expect(ex.xml).to.include('<uuid>11111111-2222-4333-8444-555555555555</uuid>');
    expect(ex.xml).to.include("<mac address='52:54:00:aa:bb:cc'/>");
    expect(ex.kubevirt).to.include('pciVendorSelector: "8086:10D3"');
    const saved = await saveInstallExports(tmp, ex);
    expect(saved.map((f) => path.basename(f))).to.deep.equal(['domain.xml', 'kubevirt.yaml']);
    for (const f of saved) expect((await stat(f)).mode & 0o777).to.equal(0o600);
    expect(await readFile(saved[0]!, 'utf8')).to.equal(ex.xml);
    const v = await execa('virt-xml-validate', [saved[0]!, 'domain'], { reject: false });
    expect(v.exitCode, v.stderr).to.equal(0);
  });
});
