/**
 * The truth tests of the bed: L1 is a real kernel with an emulated Intel IOMMU and two e1000e;
 * this machine's own node runs the built CLI there, a NIC is bound to vfio-pci through sysfs, and
 * a nested L2 guest sees the NIC through vfio-pci (real DMA through the emulated IOMMU).
 */
import { expect } from 'chai';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { type Bed, ensureBed, killAllQemu, runInL1, type RunInL1Result } from '../bed/index.js';
import { BUILT_CLI } from '../../helpers/cli.js';

const repo = path.resolve(import.meta.dirname, '..', '..', '..');
const cli = BUILT_CLI;

/** Runs in L1 with the host's node: lists the e1000e NICs and their IOMMU groups, then binds the first to vfio-pci. */
const BIND_SCRIPT = `
const fs = require('fs');
const dev = '/sys/bus/pci/devices';
const read = (p) => { try { return fs.readFileSync(p, 'utf8').trim(); } catch { return null; } };
const link = (p) => { try { return fs.readlinkSync(p).split('/').pop(); } catch { return null; } };
const nics = fs.readdirSync(dev).filter((a) => read(dev + '/' + a + '/vendor') === '0x8086' && read(dev + '/' + a + '/device') === '0x10d3');
const info = nics.map((addr) => {
  const group = link(dev + '/' + addr + '/iommu_group');
  const members = group === null ? [] : fs.readdirSync('/sys/kernel/iommu_groups/' + group + '/devices');
  return { addr, group, members, driver: link(dev + '/' + addr + '/driver') };
});
const target = nics[0];
const steps = [];
const write = (file, value) => {
  try { fs.writeFileSync(file, value); steps.push({ file, ok: true }); }
  catch (e) { steps.push({ file, ok: false, error: e.code }); }
};
write(dev + '/' + target + '/driver_override', 'vfio-pci');
write(dev + '/' + target + '/driver/unbind', target);
write('/sys/bus/pci/drivers_probe', target);
const group = link(dev + '/' + target + '/iommu_group');
const report = JSON.stringify({
  nics: info,
  target,
  steps,
  driver: link(dev + '/' + target + '/driver'),
  group,
  vfio: fs.existsSync('/dev/vfio') ? fs.readdirSync('/dev/vfio') : [],
});
if (process.env.IG_OUT) fs.writeFileSync(process.env.IG_OUT + '/report.json', report);
console.log(report);
`;

interface BindReport {
  nics: { addr: string; group: string | null; members: string[]; driver: string | null }[];
  target: string;
  steps: { file: string; ok: boolean; error?: string }[];
  driver: string | null;
  group: string | null;
  vfio: string[];
}

function explain(r: RunInL1Result): string {
  return `exit ${r.exitCode}\nstdout: ${r.stdout}\nstderr: ${r.stderr}\nconsole tail:\n${r.consoleLog.split('\n').slice(-25).join('\n')}`;
}

describe('test bed: L1 host with a real (emulated) IOMMU (nested TCG)', function () {
  this.timeout(10 * 60_000);
  let bed: Bed;

  before(async function () {
    this.timeout(20 * 60_000);
    bed = await ensureBed();
    // the built CLI is what runs in L1: build it here too, so the suite runs on its own
    await execa(path.join(repo, 'node_modules', '.bin', 'tsc'), ['-p', repo], { cwd: repo });
  });

  after(() => killAllQemu());

  it('runs the built install-guest CLI with the host node inside L1 (chrooted into the 9p-shared root)', async () => {
    expect(existsSync(cli), cli).to.equal(true);
    const pkg = JSON.parse(await fs.readFile(path.join(repo, 'package.json'), 'utf8')) as { version: string };
    const r = await runInL1(bed, ['node', cli, '--version'], { timeoutMs: 5 * 60_000 });
    expect(r.exitCode, explain(r)).to.equal(0);
    expect(r.stdout.trim()).to.equal(pkg.version);
    // the command ran under L1's kernel, with the IOMMU on
    expect(r.consoleLog).to.contain(`Linux version ${bed.kernel.release}`);
    expect(r.consoleLog).to.match(/DMAR: Intel\(R\) Virtualization Technology for Directed I\/O/);
  });

  it('shows each e1000e alone in its IOMMU group; driver_override → unbind → drivers_probe binds one to vfio-pci and /dev/vfio/N appears', async () => {
    // the report also comes back through a writable share (outDir) named by the environment
    const out = await fs.mkdtemp(path.join(os.tmpdir(), 'ig-bed-l1-out-'));
    try {
      const r = await runInL1(bed, ['node', '-e', BIND_SCRIPT], {
        timeoutMs: 5 * 60_000,
        outDir: out,
        env: { IG_OUT: out },
      });
      expect(r.exitCode, explain(r)).to.equal(0);
      expect(await fs.readFile(path.join(out, 'report.json'), 'utf8')).to.equal(r.stdout.trim());
      checkBound(JSON.parse(r.stdout) as BindReport);
    } finally {
      await fs.rm(out, { recursive: true, force: true });
    }
  });

  function checkBound(report: BindReport): void {
    expect(report.nics).to.have.length(2);
    const groups = new Set(report.nics.map((n) => n.group));
    expect(groups.size).to.equal(2);
    for (const nic of report.nics) {
      expect(nic.group).to.match(/^\d+$/);
      expect(nic.members).to.deep.equal([nic.addr]);
      expect(nic.driver).to.equal('e1000e');
    }
    expect(
      report.steps.every((s) => s.ok),
      JSON.stringify(report.steps),
    ).to.equal(true);
    expect(report.driver).to.equal('vfio-pci');
    expect(report.vfio).to.include(report.group);
    expect(report.vfio).to.include('vfio');
  }

  it('without the vIOMMU, vfio-pci refuses the NIC (no IOMMU group, no /dev/vfio/N)', async () => {
    const r = await runInL1(bed, ['node', '-e', BIND_SCRIPT], { timeoutMs: 5 * 60_000, iommu: false });
    expect(r.exitCode, explain(r)).to.equal(0);
    const report = JSON.parse(r.stdout) as BindReport;
    expect(report.nics.map((n) => n.group)).to.deep.equal([null, null]);
    expect(report.driver).to.equal(null);
    expect(report.vfio.filter((v) => /^\d+$/.test(v))).to.deep.equal([]);
    expect(r.consoleLog).to.match(/vfio-pci: probe of \S+ failed with error -22/);
  });

  it('starts L2 inside L1 with that NIC through vfio-pci; L2 sees 8086:10d3, binds e1000e and gets carrier', async function () {
    this.timeout(30 * 60_000);
    const script = [
      'set -eu',
      'addr=""',
      'for d in /sys/bus/pci/devices/*; do',
      '  [ "$(cat "$d/vendor"):$(cat "$d/device")" = 0x8086:0x10d3 ] && { addr=${d##*/}; break; }',
      'done',
      'echo vfio-pci > "/sys/bus/pci/devices/$addr/driver_override"',
      'echo "$addr" > "/sys/bus/pci/devices/$addr/driver/unbind"',
      'echo "$addr" > /sys/bus/pci/drivers_probe',
      'echo "L1-ASSIGNED $addr $(basename "$(readlink "/sys/bus/pci/devices/$addr/driver")")"',
      `exec timeout 1500 qemu-system-x86_64 -nodefaults -no-user-config -display none -machine q35 -accel tcg -m 256 -no-reboot \\`,
      `  -kernel ${bed.kernel.vmlinux} -initrd ${bed.l1.initramfs} \\`,
      `  -append "console=ttyS0,115200 ${bed.fastKernelArgs.join(' ')} ig.probe panic=-1" \\`,
      '  -device "vfio-pci,host=$addr,rombar=0" -serial stdio',
      '',
    ].join('\n');
    const r = await runInL1(bed, ['sh', '-c', script], { timeoutMs: 28 * 60_000, memoryMiB: 1536 });
    expect(r.exitCode, explain(r)).to.equal(0);
    expect(r.stdout).to.match(/^L1-ASSIGNED \S+ vfio-pci$/m);
    expect(r.stdout).to.match(/^IG-PCI addr=\S+ id=8086:10d3 class=0x020000 driver=e1000e\r?$/m);
    expect(r.stdout).to.match(/^IG-NET name=eth\d+ mac=\S+ carrier=1 operstate=up irqlines=[1-9]\d*\r?$/m);
    expect(r.stdout).to.match(/^IG-PROBE done\r?$/m);
  });
});
