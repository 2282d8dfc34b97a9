import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { formatManifestError, parseManifest } from '../../../src/batch/manifest.js';
import { guestInstallArgs, loadBatchPlan, parseDeviceSpec, planBatch } from '../../../src/batch/plan.js';
import { isInstallGuestError } from '../../../src/errors.js';
import { parseInstallRequest } from '../../../src/request/request.js';
import { golden } from '../../helpers/golden.js';

const FIX = path.resolve('fixtures/batch');
const CWD = '/work/somewhere';

const plan = (text: string, manifestPath = path.join(FIX, 'inline.yaml')) =>
  planBatch(text, { manifestPath, cwd: CWD });

describe('batch manifest', () => {
  it('reports all ten mistakes of a manifest, each with its path and line', () => {
    const file = path.join(FIX, 'invalid', 'ten-errors.yaml');
    const text = readFileSync(file, 'utf8');
    const { plan: p, errors } = plan(text, file);
    expect(p).to.equal(undefined);
    expect(errors).to.have.length(10);
    golden(
      path.join(FIX, 'invalid', 'ten-errors.errors.txt'),
      errors.map(formatManifestError).join('\n') + '\n',
    );
    // each line named is the line of the thing the error is about
    const lines = text.split('\n');
    for (const e of errors) {
      expect(e.line, e.path).to.be.a('number');
      const last = /([A-Za-z-]+)$/.exec(e.path)?.[1];
      const src = lines[e.line! - 1]!;
      if (last) expect(src, `${e.path} → line ${e.line}`).to.include(last);
      else expect(src.trimStart(), `${e.path} → line ${e.line}`).to.match(/^- /);
    }
    expect(new Set(errors.map((e) => e.path)).size, 'ten different places').to.equal(10);
  });

  it('names the line of YAML syntax errors and of JSON manifests', () => {
    const bad = plan('guests:\n  - name: a\n    memory: [1, 2\n');
    expect(bad.errors[0]!.line).to.be.a('number');
    expect(bad.errors[0]!.path).to.equal('');
    const dup = plan('guests:\n  - name: a\n    name: b\n');
    expect(dup.errors.map(formatManifestError)[0]).to.match(/line 3\b.*unique/);
    const json = plan('{\n  "guests": [\n    { "name": "a",\n      "memroy": 2 }\n  ]\n}\n', '/m/x.json');
    expect(json.errors.map(formatManifestError)).to.deep.equal([
      "guests[0].memroy (line 4): unknown key 'memroy'",
    ]);
  });

  it('rejects an empty guest list and a document that is not a mapping', () => {
    expect(plan('guests: []\n').errors.map(formatManifestError)).to.deep.equal([
      'guests (line 1): must have at least 1 item(s)',
    ]);
    expect(plan('- a\n').errors.map((e) => e.message)).to.deep.equal(['must be a mapping, found a list']);
  });

  it('overlays each guest on the defaults and parses it with the install parser', () => {
    const file = path.join(FIX, 'fleet.yaml');
    const { plan: p, errors } = plan(readFileSync(file, 'utf8'), file);
    expect(errors).to.deep.equal([]);
    const g = Object.fromEntries(p!.guests.map((x) => [x.name, x]));
    expect(p!.name).to.equal('fleet');
    expect(p!.logRoot).to.equal(path.join(CWD, 'fleet-logs'));
    expect(g.web1!.request.memoryMiB).to.equal(2048);
    expect(g.web2!.request.memoryMiB, 'a guest’s value wins').to.equal(4096);
    expect(g.db1!.request.vcpus).to.deep.equal({ count: 4, sockets: 1, cores: 2, threads: 2 });
    expect(g.web1!.request.boot!.kernel, 'relative to the manifest').to.equal(
      path.resolve('fixtures/cases/_media/vmlinuz'),
    );
    expect(g.db1!.request.disks.map((d) => [path.basename(d.path), d.sizeGiB, d.bus])).to.deep.equal([
      ['db1.qcow2', 20, 'virtio'],
      ['db1-data.qcow2', 50, 'scsi'],
    ]);
    expect(g.web1!.vars).to.deep.equal({ domain: 'lab.example', timezone: 'UTC', hostname: 'web1' });
    expect(g.web1!.logDir).to.equal(path.join(CWD, 'fleet-logs', 'web1'));
    expect(g.web1!.devices.map((d) => d.match)).to.deep.equal([{ kind: 'pool', pool: 'net' }]);
    expect(g.web2!.devices[0]).to.deep.equal({
      spec: '0000:03:00.0,rom.bar=off',
      match: { kind: 'address', address: '0000:03:00.0' },
      options: { romBar: false },
    });
    expect(g.db1!.devices.map((d) => d.match)).to.deep.equal([
      { kind: 'pool', pool: 'e1000e' },
      { kind: 'pool', pool: 'storage-nvme' },
    ]);
    expect(g.tools!.devices, 'hostdev: [] opts out of the default').to.deep.equal([]);
    expect(p!.pools['storage-nvme']).to.deep.equal({ class: '0x0108' });
  });

  it('catches a disk two guests would share, naming the other guest', () => {
    const text =
      'defaults:\n  cdrom: x.iso\n  disk: path=/srv/shared.qcow2\nguests:\n  - name: a\n  - name: b\n';
    expect(plan(text).errors.map(formatManifestError)).to.deep.equal([
      "defaults.disk (line 3): disk '/srv/shared.qcow2' is also used by guests[0] (a)",
    ]);
  });

  it('maps every --hostdev form to a device request', () => {
    const table: [Parameters<typeof parseDeviceSpec>[0], unknown][] = [
      ['auto', { kind: 'pool', pool: 'net' }],
      ['03:00.0', { kind: 'address', address: '0000:03:00.0' }],
      ['pci_0000_03_00_1', { kind: 'address', address: '0000:03:00.1' }],
      ['8086:10D3', { kind: 'vendorDevice', vendorDevice: '8086:10d3' }],
      ['enp3s0', { kind: 'interface', name: 'enp3s0' }],
      [{ pool: 'storage' }, { kind: 'pool', pool: 'storage' }],
      [{ pool: { vendorDevice: '15B3:1017' } }, { kind: 'vendorDevice', vendorDevice: '15b3:1017' }],
    ];
    for (const [spec, match] of table)
      expect(parseDeviceSpec(spec).match, JSON.stringify(spec)).to.deep.equal(match);
  });

  it('gives the install the assigned device with the options its request carried', () => {
    const text =
      "guests:\n  - name: a\n    cdrom: /x.iso\n    hostdev: 'auto,rom.bar=off,rom.file=/r/a,,b.rom,multifunction=on'\n";
    const g = plan(text).plan!.guests[0]!;
    const raw = guestInstallArgs(g, [{ address: '0000:05:00.0' }]);
    expect(raw.hostdev).to.deep.equal(['0000:05:00.0,rom.bar=off,rom.file=/r/a,,b.rom,multifunction=on']);
    const req = parseInstallRequest(raw, g.cwd);
    expect(req.hostdevs).to.deep.equal([
      { selector: '0000:05:00.0', romBar: false, romFile: '/r/a,b.rom', multifunction: true },
    ]);
    expect(() => guestInstallArgs(g, [])).to.throw(/0 devices for 1 requests/);
  });

  it('loadBatchPlan throws one input error (exit 2) carrying every error', () => {
    try {
      loadBatchPlan('guests:\n  - name: a\n    memory: lots\n  - name: b\n    vcpus: 0\n', {
        manifestPath: '/m/b.yaml',
        cwd: CWD,
      });
      expect.fail('expected an error');
    } catch (e) {
      expect(isInstallGuestError(e)).to.equal(true);
      if (!isInstallGuestError(e)) return;
      expect(e.exitCode).to.equal(2);
      expect(e.code).to.equal('BAD_MANIFEST');
      expect((e.data!.errors as unknown[]).length).to.equal(2);
    }
  });

  it('ships a schema that parses and describes every install option a manifest may set', () => {
    const schema = JSON.parse(readFileSync('templates/batch/manifest.schema.json', 'utf8')) as {
      $defs: { optionProperties: { properties: Record<string, unknown> } };
    };
    const keys = Object.keys(schema.$defs.optionProperties.properties);
    for (const k of ['memory', 'disk', 'boot', 'hostdev', 'vars', 'os-variant', 'on-error'])
      expect(keys).to.include(k);
    expect(parseManifest('guests:\n  - name: x\n').errors).to.deep.equal([]);
  });
});
