/**
 * `install-guest provision` with real qemu-img: the overlay is a qcow2 backed by the base (checked
 * with `qemu-img info`), the boot is the install pipeline's --import path (the runner is injected
 * where the test needs to see it, and the real pipeline runs in-process otherwise), --dry-run
 * creates nothing, a failed boot removes the overlay, --print-xml prints a valid domain.
 */
import { expect } from 'chai';
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { mkdir, symlink, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { runProvisionCommand } from '../../src/batch/provision-command.js';
import { baseKey, createOverlay, publishBase } from '../../src/batch/provision.js';
import type { Args, CommandContext } from '../../src/command-context.js';
import { createHost, fixedClock, sequentialIds } from '../../src/host/host.js';
import type { RawInstallArgs } from '../../src/request/request.js';
import { runCli } from '../helpers/cli.js';

async function info(file: string): Promise<Record<string, unknown>> {
  const r = await execa('qemu-img', ['info', '--output=json', '-U', file]);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

describe('provision', function () {
  this.timeout(30_000);
  let dir: string;
  let base: string;
  let hostRoot: string;
  const host = () => createHost({ root: hostRoot, clock: fixedClock(), ids: sequentialIds() });
  const ctxFor = (
    out: { stdout: string; stderr: string },
    env: Record<string, string> = {},
  ): CommandContext => ({
    deps: { argv: [], env, stdout: { write: () => true }, stderr: { write: () => true }, cwd: dir },
    host: host(),
    json: false,
    print: (l) => void (out.stdout += `${l}\n`),
    printJson: (v) => void (out.stdout += `${JSON.stringify(v)}\n`),
    warn: (l) => void (out.stderr += `${l}\n`),
  });

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ig-prov-'));
    base = path.join(dir, 'base.qcow2');
    await execa('qemu-img', ['create', '-q', '-f', 'qcow2', base, '64M']);
    // a host with one NIC, as sysfs shows it (vendor and device ids)
    hostRoot = path.join(dir, 'host');
    const dev = path.join(hostRoot, 'sys/bus/pci/devices/0000:03:00.0');
    await mkdir(dev, { recursive: true });
    await writeFile(path.join(dev, 'vendor'), '0x8086\n');
    await writeFile(path.join(dev, 'device'), '0x10d3\n');
    // alone in its IOMMU group, as the dry run checks group viability like the real run does
    const group = path.join(hostRoot, 'sys/kernel/iommu_groups/7/devices');
    await mkdir(group, { recursive: true });
    await symlink('../../../../bus/pci/devices/0000:03:00.0', path.join(group, '0000:03:00.0'));
    await symlink('../../../../kernel/iommu_groups/7', path.join(dev, 'iommu_group'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('createOverlay makes a qcow2 backed by the absolute base', async () => {
    const out = path.join(dir, 'sub dir, with comma', 'o.qcow2');
    await mkdir(path.dirname(out), { recursive: true });
    await createOverlay(host(), base, out);
    const i = await info(out);
    expect(i.format).to.equal('qcow2');
    expect(i['backing-filename']).to.equal(base);
    expect(i['backing-filename-format']).to.equal('qcow2');
    let err: unknown;
    await createOverlay(host(), path.join(dir, 'missing.qcow2'), path.join(dir, 'x.qcow2')).catch(
      (e: unknown) => (err = e),
    );
    expect((err as { code?: string }).code).to.equal('OVERLAY_CREATE_FAILED');
  });

  it('creates the overlay of a cached base and boots it as an --import install with the device', async () => {
    const cache = path.join(dir, 'cache');
    const key = baseKey({
      mediaChecksum: '0'.repeat(64),
      kickstartText: 'ks',
      templatesHash: '1'.repeat(64),
      toolVersion: '0.1.0',
      request: { machine: 'q35', memoryMiB: 1024, disks: [{ sizeGiB: 1, format: 'qcow2', bus: 'virtio' }] },
    });
    await publishBase(cache, key, base, {
      createdAt: '2026-01-01T00:00:00Z',
      toolVersion: '0.1.0',
      name: 'fedora',
    });
    const seen: RawInstallArgs[] = [];
    const out = { stdout: '', stderr: '' };
    const args: Args = {
      _: ['provision'],
      base: key,
      cache,
      name: 'ci-1',
      hostdev: ['0000:03:00.0'],
      memory: '1G',
    };
    const code = await runProvisionCommand(args, ctxFor(out), {
      runner: (raw) => {
        seen.push(raw);
        return Promise.resolve(0);
      },
    });
    expect(code).to.equal(0);
    const overlay = path.join(dir, 'ci-1.qcow2');
    expect((await info(overlay))['backing-filename']).to.equal(path.join(cache, 'bases', key, 'disk.qcow2'));
    expect(seen).to.deep.equal([
      {
        hostdev: ['0000:03:00.0'],
        memory: '1G',
        name: 'ci-1',
        import: true,
        disk: [`path=${overlay},format=qcow2`],
      },
    ]);
  });

  it('removes the overlay when the boot fails (the real pipeline, in-process, stops at launch)', async () => {
    const r = await runCli(['provision', '--base', base, '--name', 'p1', '--accel', 'tcg'], {
      host: host(),
      cwd: dir,
    });
    // the base image holds no boot sector: the firmware finds nothing to boot (a guest error, exit 1)
    expect(r.code, r.stderr).to.equal(1);
    expect(r.stderr).to.include('No bootable device');
    expect(existsSync(path.join(dir, 'p1.qcow2')), 'the failed boot removed its overlay').to.equal(false);
    const keep = await runCli(
      ['provision', '--base', base, '--name', 'p2', '--accel', 'tcg', '--on-error', 'keep'],
      {
        host: host(),
        cwd: dir,
      },
    );
    expect(keep.code).to.equal(1);
    expect(existsSync(path.join(dir, 'p2.qcow2')), '--on-error keep keeps it').to.equal(true);
  });

  it('--dry-run prints the overlay command and the import plan, and creates nothing', async () => {
    const before = await readdir(dir);
    const r = await runCli(
      ['provision', '--base', base, '--name', 'p1', '--hostdev', '0000:03:00.0', '--dry-run'],
      {
        host: host(),
        cwd: dir,
      },
    );
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.include(
      `dry run: would create the overlay: qemu-img create -q -f qcow2 -F qcow2 -b ${base} ${path.join(dir, 'p1.qcow2')}`,
    );
    expect(r.stdout).to.match(/done\s+validate-request/);
    expect(r.stdout).to.match(/planned\s+prepare-disk/);
    expect(await readdir(dir)).to.deep.equal(before);
    const j = await runCli(
      ['provision', '--base', base, '--name', 'p1', '--hostdev', '0000:03:00.0', '--dry-run', '--json'],
      {
        host: host(),
        cwd: dir,
      },
    );
    const plan = JSON.parse(j.stdout) as {
      media: { kind: string };
      devices: { address: string; vendorDevice: string }[];
    };
    expect(plan.media.kind).to.equal('disk');
    expect(plan.devices[0]).to.deep.include({ address: '0000:03:00.0', vendorDevice: '8086:10d3' });
  });

  it('refuses to overwrite an existing overlay and names a missing base', async () => {
    await writeFile(path.join(dir, 'p1.qcow2'), 'x');
    const r = await runCli(['provision', '--base', base, '--name', 'p1'], { host: host(), cwd: dir });
    expect(r.code).to.equal(2);
    expect(r.stderr).to.include('already exists');
    const m = await runCli(['provision', '--base', 'f'.repeat(64), '--cache', path.join(dir, 'c')], {
      host: host(),
      cwd: dir,
    });
    expect(m.code).to.equal(2);
    expect(m.stderr).to.include('no such base in the cache');
  });

  it('--print-xml creates the overlay and prints a domain that validates; --print-kubevirt a VM', async () => {
    const r = await runCli(
      ['provision', '--base', base, '--name', 'web7', '--hostdev', '0000:03:00.0', '--print-xml'],
      {
        host: host(),
        cwd: dir,
      },
    );
    expect(r.code, r.stderr).to.equal(0);
    const file = path.join(dir, 'web7.xml');
    await writeFile(file, r.stdout);
    const v = await execa('virt-xml-validate', [file, 'domain'], { reject: false });
    expect(v.exitCode, v.stdout + v.stderr).to.equal(0);
    expect(r.stdout).to.include(`<source file='${path.join(dir, 'web7.qcow2')}'/>`);
    expect((await info(path.join(dir, 'web7.qcow2')))['backing-filename']).to.equal(base);
    const k = await runCli(
      [
        'provision',
        '--base',
        base,
        '--name',
        'web8',
        '--hostdev',
        '0000:03:00.0',
        '--print-kubevirt',
        '--dry-run',
      ],
      { host: host(), cwd: dir },
    );
    expect(k.code, k.stderr).to.equal(0);
    const docs = parseAllDocuments(k.stdout).map(
      (d) => d.toJS() as { kind: string; spec: Record<string, unknown> },
    );
    expect(docs.map((d) => d.kind)).to.deep.equal(['KubeVirt', 'VirtualMachine']);
    expect(k.stdout).to.include('deviceName: intel.com/8086_10D3');
    expect(existsSync(path.join(dir, 'web8.qcow2')), 'a dry run creates no overlay').to.equal(false);
  });
});
