/**
 * The BUILT command line (tsc → dist, run with node), on host-profile trees and on this machine:
 * exit codes, one-line errors, --host-root and INSTALL_GUEST_HOST_ROOT, --class, --mgmt-iface, and
 * `hostdev snapshot` round trips (a snapshot reads back to the same inventory).
 */
import { expect } from 'chai';
import { execa } from 'execa';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildHostTreeSync, loadProfile, makeTempRoot, profileDir } from '../helpers/sysfs-fixture.js';
import { BUILT_CLI } from '../helpers/cli.js';

const repo = path.resolve(import.meta.dirname, '../..');
const cli = BUILT_CLI;

async function run(args: string[], env: Record<string, string> = {}) {
  const r = await execa('node', [cli, ...args], { reject: false, timeout: 60_000, env, cwd: repo });
  return { code: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr) };
}

describe('integration: the built hostdev and doctor commands', function () {
  this.timeout(180_000);
  const roots: Record<string, string> = {};
  let scratch: string;

  before(async () => {
    const tsc = await execa('npx', ['tsc', '-p', '.'], { cwd: repo, reject: false, timeout: 170_000 });
    expect(tsc.exitCode, tsc.stdout + tsc.stderr).to.equal(0);
    for (const name of [
      'two-nics',
      'sriov-pf-vfs',
      'amd-bond-mgmt',
      'no-iommu',
      'sata-root-lvm',
      'vmd-five-digit-domain',
    ]) {
      roots[name] = makeTempRoot(name);
      buildHostTreeSync(loadProfile(name), roots[name]);
    }
    scratch = mkdtempSync(path.join(os.tmpdir(), 'ig-cli-'));
  });
  after(() => {
    for (const r of Object.values(roots)) rmSync(r, { recursive: true, force: true });
    rmSync(scratch, { recursive: true, force: true });
  });

  it('lists a profile tree named by INSTALL_GUEST_HOST_ROOT exactly as the golden file says', async () => {
    const r = await run(['hostdev', 'list', '--json'], { INSTALL_GUEST_HOST_ROOT: roots['two-nics']! });
    expect(r.code, r.stderr).to.equal(0);
    expect(JSON.parse(r.stdout)).to.deep.equal(
      JSON.parse(readFileSync(path.join(profileDir('two-nics'), 'expected-list.json'), 'utf8')),
    );
  });

  it('prints the table and explains a device named by its interface (--host-root)', async () => {
    const list = await run(['--host-root', roots['two-nics']!, 'hostdev', 'list']);
    expect(list.code).to.equal(0);
    expect(list.stdout).to.match(
      /0000:05:00\.0 +Ethernet controller \[0200\] +8086:1533 +igb +15 +enp5s0 down +assignable/,
    );
    expect(list.stdout).to.match(/0000:00:1f\.6 .* not-assignable \(DEFAULT_ROUTE\)/);
    const show = await run(['--host-root', roots['two-nics']!, 'hostdev', 'show', 'enp5s0']);
    expect(show.code).to.equal(0);
    expect(show.stdout).to.include('verdict: assignable').and.include('IOMMU group 15: 0000:05:00.0');
  });

  it('filters by class', async () => {
    const r = await run([
      '--host-root',
      roots['sata-root-lvm']!,
      'hostdev',
      'list',
      '--class',
      'storage',
      '--json',
    ]);
    const devices = (JSON.parse(r.stdout) as { devices: { address: string; verdict: string }[] }).devices;
    expect(devices.map((d) => `${d.address} ${d.verdict}`)).to.deep.equal([
      '0000:00:17.0 not-assignable',
      '0000:04:00.0 assignable',
    ]);
  });

  it('refuses a management interface named with --mgmt-iface', async () => {
    const r = await run([
      '--host-root',
      roots['amd-bond-mgmt']!,
      'hostdev',
      'show',
      '0000:02:00.0',
      '--mgmt-iface',
      'enp2s0',
      '--json',
    ]);
    const out = JSON.parse(r.stdout) as { device: { verdict: string; reasons: { code: string }[] } };
    expect(out.device.verdict).to.equal('not-assignable');
    expect(out.device.reasons.map((x) => x.code)).to.include('MANAGEMENT_INTERFACE');
  });

  it('accepts a 5-digit domain in every address form', async () => {
    for (const spec of ['10000:02:00.0', 'pci_10000_02_00_0', 'enp2s0f0']) {
      const r = await run([
        '--host-root',
        roots['vmd-five-digit-domain']!,
        'hostdev',
        'show',
        spec,
        '--json',
      ]);
      expect(r.code, r.stderr).to.equal(0);
      expect((JSON.parse(r.stdout) as { selected: string }).selected).to.equal('10000:02:00.0');
    }
  });

  it('exits 2 with one line for a malformed or ambiguous device, listing candidates', async () => {
    const bad = await run(['--host-root', roots['two-nics']!, 'hostdev', 'show', '03:00']);
    expect(bad.code).to.equal(2);
    expect(bad.stderr.trim().split('\n')).to.have.length(1);
    expect(bad.stderr).to.include('[HOSTDEV_SPEC_INVALID]');
    const amb = await run(['--host-root', roots['sriov-pf-vfs']!, 'hostdev', 'show', '8086:154c', '--json']);
    expect(amb.code).to.equal(2);
    const err = (JSON.parse(amb.stdout) as { error: { code: string; data: { candidates: string[] } } }).error;
    expect(err.code).to.equal('HOSTDEV_AMBIGUOUS');
    expect(err.data.candidates).to.deep.equal([
      '0000:3b:02.0',
      '0000:3b:02.1',
      '0000:3b:02.2',
      '0000:3b:02.3',
    ]);
    const missing = await run(['--host-root', roots['two-nics']!, 'hostdev', 'show', 'enp9s9']);
    expect(missing.code).to.equal(2);
    expect(missing.stderr).to.include('enp5s0').and.include('[HOSTDEV_NOT_FOUND]');
  });

  it('doctor exits 3 without an IOMMU, naming the kernel parameter, and 0 on a prepared host', async () => {
    const bad = await run(['--host-root', roots['no-iommu']!, 'doctor']);
    expect(bad.code).to.equal(3);
    expect(bad.stdout)
      .to.match(/FAIL +iommu-kernel/)
      .and.include('intel_iommu=on');
    const good = await run(['--host-root', roots['two-nics']!, 'doctor', '--memory', '4G']);
    expect(good.code, good.stdout).to.equal(0);
    expect(good.stdout).to.match(/PASS +qemu-vfio/);
  });

  it('doctor fails the qemu checks when the qemu binary does not exist', async () => {
    const r = await run([
      '--host-root',
      roots['two-nics']!,
      'doctor',
      '--json',
      '--qemu-binary',
      '/nonexistent/qemu-system-x86_64',
    ]);
    expect(r.code).to.equal(3);
    const checks = (JSON.parse(r.stdout) as { checks: { id: string; status: string }[] }).checks;
    expect(checks.find((c) => c.id === 'qemu')?.status).to.equal('FAIL');
    expect(checks.some((c) => c.id === 'qemu-vfio')).to.equal(false);
  });

  it('doctor refuses a malformed --memory with exit 2', async () => {
    const r = await run(['--host-root', roots['two-nics']!, 'doctor', '--memory', 'lots']);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.include('[BAD_MEMORY]');
  });

  it('snapshots a profile tree into a tree that reads back to the same inventory', async () => {
    for (const name of ['sriov-pf-vfs', 'amd-bond-mgmt', 'sata-root-lvm']) {
      const out = path.join(scratch, name);
      const snap = await run(['--host-root', roots[name]!, 'hostdev', 'snapshot', out]);
      expect(snap.code, snap.stderr).to.equal(0);
      const a = await run(['--host-root', roots[name]!, 'hostdev', 'list', '--json']);
      const b = await run(['--host-root', out, 'hostdev', 'list', '--json']);
      expect(JSON.parse(b.stdout), name).to.deep.equal(JSON.parse(a.stdout));
      const da = await run(['--host-root', roots[name]!, 'doctor', '--json']);
      const db = await run(['--host-root', out, 'doctor', '--json']);
      expect((JSON.parse(db.stdout) as { checks: unknown }).checks, name).to.deep.equal(
        (JSON.parse(da.stdout) as { checks: unknown }).checks,
      );
    }
  });

  it("snapshots this machine's real host and reads it back to the same inventory", async () => {
    const out = path.join(scratch, 'real');
    const snap = await run(['hostdev', 'snapshot', out]);
    expect(snap.code, snap.stderr).to.equal(0);
    const a = await run(['hostdev', 'list', '--json']);
    const b = await run(['--host-root', out, 'hostdev', 'list', '--json']);
    expect(JSON.parse(b.stdout)).to.deep.equal(JSON.parse(a.stdout));
    const again = await run(['hostdev', 'snapshot', out]);
    expect(again.code).to.equal(2);
    expect(again.stderr).to.include('[SNAPSHOT_OUT_NOT_EMPTY]');
    const bad = await run(['hostdev', 'snapshot', '/dev/null/out']);
    expect(bad.code).to.equal(2);
    expect(bad.stderr.trim()).to.match(
      /^install-guest: snapshot directory \/dev\/null\/out .*\[SNAPSHOT_OUT_UNWRITABLE\]$/,
    );
  });

  it('snapshots into a .tar.gz', async () => {
    const out = path.join(scratch, 'host.tar.gz');
    const r = await run(['--host-root', roots['two-nics']!, 'hostdev', 'snapshot', out, '--json']);
    expect(r.code, r.stderr).to.equal(0);
    const list = await execa('tar', ['-tzf', out]);
    expect(list.stdout).to.include('./sys/bus/pci/devices/0000:05:00.0').and.include('./proc/net/route');
  });
});
