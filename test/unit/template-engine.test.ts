import { expect } from 'chai';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createDomainEnvironment, libvirtDomainData } from '../../src/export/libvirt.js';
import { templatesDir } from '../../src/paths.js';
import { buildQemuPlan, createQemuEnvironment, type QemuInputs } from '../../src/qemu/command.js';
import { parseInstallRequest } from '../../src/request/request.js';
import { createEnvironment, precompiledPath } from '../../src/template-engine.js';
import { ensureBuilt } from '../helpers/cli.js';

// a request that reaches every partial: two disks on two buses, a cdrom, kernel boot, two devices
// (ROM options, a 5-digit domain), bridge networking with a comma in a value
const request = parseInstallRequest(
  {
    name: 'web,1',
    memory: '2G',
    vcpus: 'vcpus=2,sockets=1,cores=2,threads=1',
    disk: ['path=/srv/a.qcow2,size=4', 'path=/srv/c.img,format=raw,bus=scsi'],
    network: 'bridge=br0,model=e1000e',
    location: '/srv/tree',
  },
  '/srv',
);
const inputs = (hostdevs: QemuInputs['hostdevs']): QemuInputs => ({
  request,
  accel: 'tcg',
  uuid: '00000000-0000-4000-8000-000000000001',
  mac: '52:54:00:12:34:56',
  workDir: '/run/ig/w',
  boot: { kind: 'kernel', kernel: '/m/vmlinuz', initrd: '/m/initrd.img', append: 'console=ttyS0 ks=x,y' },
  extraCdroms: ['/run/ig/w/oemdrv.iso'],
  hostdevs,
  network: request.network,
});
const devices = [
  { address: '0000:03:00.0', romBar: false },
  { address: '10000:e1:1f.7', romFile: '/roms/a,b.rom', multifunction: true },
];

describe('template engine: precompiled specs and compiling from source give the same text', function () {
  this.timeout(120_000);
  before(async () => {
    await ensureBuilt();
  });

  it('uses the build’s specs for the shipped qemu templates, and they render what the compiler renders', () => {
    const fast = createQemuEnvironment();
    const slow = createQemuEnvironment({ precompiled: false });
    expect(fast.mode).to.equal('precompiled');
    expect(slow.mode).to.equal('compiled');
    for (const phase of ['install', 'confirm'] as const) {
      for (const hostdevs of [[], devices]) {
        const data = buildQemuPlan(inputs(hostdevs), phase);
        const a = fast.template(`qemu/${phase}.args.hbs`)(data);
        const b = slow.template(`qemu/${phase}.args.hbs`)(data);
        expect(a).to.equal(b);
        expect(a).to.include('guest=web,,1');
      }
    }
  });

  it('does the same for the libvirt domain XML', () => {
    const fast = createDomainEnvironment();
    const slow = createDomainEnvironment({ precompiled: false });
    expect(fast.mode).to.equal('precompiled');
    const data = libvirtDomainData(request, devices, request.disks);
    const a = fast.template('libvirt/domain.xml.hbs')(data);
    expect(a).to.equal(slow.template('libvirt/domain.xml.hbs')(data));
    expect(a).to.include("<hostdev mode='subsystem' type='pci' managed='yes'>");
  });

  it('compiles the whole set from source when one file no longer has the text its spec came from', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ig-tpl-'));
    try {
      await cp(templatesDir(), dir, { recursive: true });
      const file = path.join(dir, 'libvirt', 'domain.xml.hbs');
      await writeFile(file, (await readFile(file, 'utf8')).replace('<domain', '<!-- edited -->\n<domain'));
      const env = createEnvironment({
        dir,
        helpers: { xml: (v: unknown) => String(v) },
        files: [{ file: 'libvirt/domain.xml.hbs' }],
      });
      expect(env.mode).to.equal('compiled');
      const out = env.template('libvirt/domain.xml.hbs')(libvirtDomainData(request, [], request.disks));
      expect(out).to.include('<!-- edited -->');
      // the untouched copy matches the specs again
      const same = createEnvironment({
        dir: templatesDir(),
        helpers: { xml: (v: unknown) => String(v) },
        files: [{ file: 'libvirt/domain.xml.hbs' }],
      });
      expect(same.mode).to.equal('precompiled');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('names a template that is not in the environment', () => {
    expect(() => createDomainEnvironment().template('qemu/install.args.hbs')).to.throw(
      'template qemu/install.args.hbs is not in this environment',
    );
    expect(precompiledPath()).to.match(/dist\/templates\.precompiled\.cjs$/);
  });
});
