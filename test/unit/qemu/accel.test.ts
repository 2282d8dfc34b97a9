/**
 * The accelerator choice over host facts (hardware KVM, PVM, no /dev/kvm, unreadable /dev/kvm) and
 * over recorded qemu probe outputs (fixtures/qemu-probe: MSR 0x10a abort, irqchip error, success).
 * The probe runs through the Host's executor, so a host whose executor answers with a recording
 * stands in for the qemu of another machine.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { InstallGuestError } from '../../../src/errors.js';
import { createHost, type ExecResult } from '../../../src/host/host.js';
import {
  assessKvm,
  chooseAccel,
  classifyProbe,
  clearProbeCache,
  gatherAccelFacts,
  probeArgv,
  withoutArchCapabilities,
  type AccelFacts,
  type ProbeShape,
} from '../../../src/qemu/accel.js';
import { parseCpu, parseMachine, machineOption, parseIommu } from '../../../src/request/machine.js';
import { rejection } from '../../helpers/typed-error.js';

const REC = path.resolve('fixtures/qemu-probe');
const rec = (f: string): string => readFileSync(path.join(REC, f), 'utf8');
const OK: ExecResult = { exitCode: 0, stdout: rec('success.stdout'), stderr: '' };
const MSR: ExecResult = {
  exitCode: 134,
  signal: 'SIGABRT',
  stdout: '',
  stderr: rec('msr-arch-capabilities.stderr'),
};
const IRQCHIP: ExecResult = { exitCode: 1, stdout: '', stderr: rec('irqchip.stderr') };
const KVM_INIT: ExecResult = { exitCode: 1, stdout: '', stderr: rec('kvm-init.stderr') };

const facts = (over: Partial<AccelFacts> = {}): AccelFacts => ({
  kvmDevice: 'usable',
  cpuFlag: 'svm',
  hardwareModules: ['kvm_amd'],
  softwareMonitors: [],
  vendor: 'AuthenticAMD',
  cpuModel: 'AMD EPYC 7763 64-Core Processor',
  kernelRelease: '6.1.0-28-amd64',
  ...over,
});
const PVM = facts({
  cpuFlag: null,
  hardwareModules: [],
  softwareMonitors: ['kvm_pvm'],
  cpuModel: 'AMD EPYC',
});
const SHAPE: ProbeShape = {
  binary: 'qemu-system-x86_64',
  machine: 'q35',
  cpu: 'host',
  smp: '2',
  devices: [],
};

/** A host whose executor answers qemu probes from a script, and records each call's argv. */
function scriptedHost(answers: ExecResult[]): { host: ReturnType<typeof createHost>; calls: string[][] } {
  const calls: string[][] = [];
  const host = createHost({
    exec: (file, args) => {
      calls.push([file, ...args]);
      const a = answers.shift();
      if (!a) throw new Error(`unexpected exec ${file} ${args.join(' ')}`);
      return Promise.resolve(a);
    },
  });
  return { host, calls };
}

describe('accelerator choice (src/qemu/accel.ts)', () => {
  beforeEach(() => clearProbeCache());

  describe('assessKvm: host facts', () => {
    it('hardware KVM: svm in cpuinfo and kvm_amd loaded', () => {
      const a = assessKvm(facts());
      expect(a.hardware).to.equal(true);
      expect(a.fact).to.equal('hardware virtualization (svm in /proc/cpuinfo, kvm_amd loaded)');
    });
    it('hardware KVM: a loaded kvm_intel counts even when cpuinfo hides vmx', () => {
      expect(assessKvm(facts({ cpuFlag: null, hardwareModules: ['kvm_intel'] })).hardware).to.equal(true);
    });
    it('PVM: /dev/kvm usable but provided by kvm_pvm, no vmx/svm → no hardware, named', () => {
      const a = assessKvm(PVM);
      expect(a.hardware).to.equal(false);
      expect(a.fact).to.contain('kvm_pvm').and.contain('software').and.contain('no vmx or svm');
    });
    it('no /dev/kvm', () => {
      expect(assessKvm(facts({ kvmDevice: 'missing' }))).to.deep.equal({
        hardware: false,
        fact: '/dev/kvm does not exist',
      });
    });
    it('/dev/kvm not openable read-write', () => {
      const a = assessKvm(facts({ kvmDevice: 'no-access' }));
      expect(a.hardware).to.equal(false);
      expect(a.fact).to.contain('cannot open it read-write');
    });
    it('an unknown monitor without vmx/svm is not taken for hardware', () => {
      const a = assessKvm(facts({ cpuFlag: null, hardwareModules: [] }));
      expect(a.hardware).to.equal(false);
      expect(a.fact).to.contain('no vmx or svm');
    });
  });

  describe('gatherAccelFacts: from a host tree', () => {
    let root: string;
    before(async () => {
      root = await mkdtemp(path.join(os.tmpdir(), 'ig-accel-'));
      await mkdir(path.join(root, 'proc/sys/kernel'), { recursive: true });
      await mkdir(path.join(root, 'sys/module/kvm'), { recursive: true });
      await mkdir(path.join(root, 'sys/module/kvm_pvm'), { recursive: true });
      await mkdir(path.join(root, 'dev'), { recursive: true });
      await writeFile(path.join(root, 'dev/kvm'), '');
      await writeFile(
        path.join(root, 'proc/cpuinfo'),
        'vendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse2 hypervisor\n',
      );
      await writeFile(path.join(root, 'proc/sys/kernel/osrelease'), '6.18.44\n');
    });
    after(() => rm(root, { recursive: true, force: true }));

    it('reads the PVM host as it is: kvm_pvm, no flag, a usable /dev/kvm', async () => {
      const f = await gatherAccelFacts(createHost({ root }));
      expect(f).to.deep.include({
        kvmDevice: 'usable',
        cpuFlag: null,
        hardwareModules: [],
        softwareMonitors: ['kvm_pvm'],
        cpuModel: 'AMD EPYC',
        kernelRelease: '6.18.44',
      });
    });
  });

  describe('classifyProbe: recorded qemu output', () => {
    it('success', () => expect(classifyProbe(OK, 120)).to.deep.equal({ ok: true, ms: 120 }));
    it('the MSR 0x10a abort, quoting qemu’s line', () => {
      const r = classifyProbe(MSR, 90);
      expect(r).to.deep.include({ ok: false, kind: 'msr-arch-capabilities' });
      expect(r.ok === false && r.line).to.equal(
        'qemu-system-x86_64: error: failed to set MSR 0x10a to 0x200000024bb',
      );
    });
    it('intremap with kernel-irqchip=on', () => {
      const r = classifyProbe(IRQCHIP, 50);
      expect(r).to.deep.include({ ok: false, kind: 'irqchip' });
      expect(r.ok === false && r.line).to.contain("please use 'split|off'");
    });
    it('no KVM device', () =>
      expect(classifyProbe(KVM_INIT, 40)).to.deep.include({ ok: false, kind: 'kvm-init' }));
    it('a probe that did not answer in time', () =>
      expect(classifyProbe({ exitCode: 1, stdout: '', stderr: '', timedOut: true }, 10_000)).to.deep.include({
        ok: false,
        kind: 'timeout',
      }));
    it('exit 0 without a QMP answer is not a pass', () =>
      expect(classifyProbe({ exitCode: 0, stdout: '', stderr: '' }, 10).ok).to.equal(false));
  });

  describe('probeArgv: the real argv’s shape', () => {
    it('machine with its properties, kvm, the cpu, the vIOMMU, paused, QMP on stdio', () => {
      const iommu = parseIommu('model=intel');
      const argv = probeArgv({
        ...SHAPE,
        machine: machineOption('q35', 'kvm', iommu),
        devices: ['intel-iommu,intremap=on,caching-mode=on'],
      });
      expect(argv.join(' ')).to.equal(
        '-machine q35,kernel-irqchip=split,graphics=off -accel kvm -cpu host -smp 2 -m 64 -nodefaults -display none ' +
          '-device intel-iommu,intremap=on,caching-mode=on -S -qmp stdio',
      );
    });
    it('arch-capabilities=off is added once', () => {
      expect(withoutArchCapabilities('host')).to.equal('host,arch-capabilities=off');
      expect(withoutArchCapabilities('host,arch-capabilities=off')).to.equal('host,arch-capabilities=off');
    });
  });

  describe('chooseAccel', () => {
    it('auto on hardware KVM whose probe passes: kvm, the fact and the probe named', async () => {
      const { host, calls } = scriptedHost([OK]);
      const d = await chooseAccel(host, { wanted: 'auto', facts: facts(), shape: SHAPE, userCpu: false });
      expect(d.accel).to.equal('kvm');
      expect(d.reason).to.equal(
        'hardware virtualization (svm in /proc/cpuinfo, kvm_amd loaded); launch probe passed',
      );
      expect(d.warnings).to.deep.equal([]);
      expect(calls).to.have.length(1);
      expect(calls[0]).to.include('-S').and.include('kvm');
    });

    it('auto on PVM: tcg without starting qemu, the warning names kvm_pvm', async () => {
      const { host, calls } = scriptedHost([]);
      const d = await chooseAccel(host, { wanted: 'auto', facts: PVM, shape: SHAPE, userCpu: false });
      expect(d.accel).to.equal('tcg');
      expect(calls).to.have.length(0);
      expect(d.warnings).to.have.length(1);
      expect(d.warnings[0]).to.match(/^warning: .*kvm_pvm.*no vmx or svm: using tcg/);
    });

    it('auto with no /dev/kvm: tcg, named', async () => {
      const { host } = scriptedHost([]);
      const d = await chooseAccel(host, {
        wanted: 'auto',
        facts: facts({ kvmDevice: 'missing' }),
        shape: SHAPE,
        userCpu: false,
      });
      expect(d).to.deep.include({ accel: 'tcg', reason: '/dev/kvm does not exist' });
    });

    it('--accel kvm with no access to /dev/kvm: KVM_UNAVAILABLE, exit 3', async () => {
      const { host } = scriptedHost([]);
      const e = await rejection(
        chooseAccel(host, {
          wanted: 'kvm',
          facts: facts({ kvmDevice: 'no-access' }),
          shape: SHAPE,
          userCpu: false,
        }),
      );
      expect(e.code).to.equal('KVM_UNAVAILABLE');
      expect(e.exitCode).to.equal(3);
      expect(e.hint).to.contain('kvm group');
    });

    it('MSR 0x10a on an svm host: a retry with arch-capabilities=off that passes keeps kvm, with a warning', async () => {
      const { host, calls } = scriptedHost([MSR, OK]);
      const d = await chooseAccel(host, { wanted: 'auto', facts: facts(), shape: SHAPE, userCpu: false });
      expect(d.accel).to.equal('kvm');
      expect(d.cpu).to.equal('host,arch-capabilities=off');
      expect(d.warnings[0]).to.contain('MSR 0x10a').and.contain('-cpu host,arch-capabilities=off');
      expect(calls[1]).to.include('host,arch-capabilities=off');
    });

    it('MSR 0x10a on a vmx host is not retried: auto falls back to tcg quoting qemu', async () => {
      const { host, calls } = scriptedHost([MSR]);
      const d = await chooseAccel(host, {
        wanted: 'auto',
        facts: facts({ cpuFlag: 'vmx', hardwareModules: ['kvm_intel'] }),
        shape: SHAPE,
        userCpu: false,
      });
      expect(calls).to.have.length(1);
      expect(d.accel).to.equal('tcg');
      expect(d.warnings[0]).to.contain('failed to set MSR 0x10a').and.contain('using tcg');
    });

    it('MSR 0x10a with a cpu the user named: not changed behind their back', async () => {
      const { host, calls } = scriptedHost([MSR]);
      const e = await rejection(
        chooseAccel(host, { wanted: 'kvm', facts: facts(), shape: { ...SHAPE, cpu: 'EPYC' }, userCpu: true }),
      );
      expect(calls).to.have.length(1);
      expect(e.code).to.equal('KVM_LAUNCH_FAILED');
      expect(e.hint).to.contain('--cpu EPYC,arch-capabilities=off');
    });

    it('--accel kvm whose probe fails on irqchip: KVM_LAUNCH_FAILED, exit 3, the line and the split hint', async () => {
      const { host } = scriptedHost([IRQCHIP]);
      const e = await rejection(
        chooseAccel(host, { wanted: 'kvm', facts: facts(), shape: SHAPE, userCpu: false }),
      );
      expect(e.code).to.equal('KVM_LAUNCH_FAILED');
      expect(e.exitCode).to.equal(3);
      expect(e.message).to.contain('Intel Interrupt Remapping cannot work with kernel-irqchip=on');
      expect(e.hint).to.contain('kernel-irqchip=split');
    });

    it('--accel kvm on PVM: warned, then the probe decides', async () => {
      const { host } = scriptedHost([MSR]);
      const e = await rejection(
        chooseAccel(host, { wanted: 'kvm', facts: PVM, shape: SHAPE, userCpu: false }),
      );
      expect(e.code).to.equal('KVM_LAUNCH_FAILED');
    });

    it('a batch pays the probe once: the result is cached per binary, kernel, cpu model and shape', async () => {
      const { host, calls } = scriptedHost([OK, OK]);
      const a = await chooseAccel(host, { wanted: 'auto', facts: facts(), shape: SHAPE, userCpu: false });
      const b = await chooseAccel(host, { wanted: 'auto', facts: facts(), shape: SHAPE, userCpu: false });
      expect(calls).to.have.length(1);
      expect(a.probe?.cached).to.equal(false);
      expect(b.probe?.cached).to.equal(true);
      await chooseAccel(host, {
        wanted: 'auto',
        facts: facts({ cpuModel: 'other' }),
        shape: SHAPE,
        userCpu: false,
      });
      expect(calls).to.have.length(2);
    });

    it('--accel tcg never probes', async () => {
      const { host, calls } = scriptedHost([]);
      const d = await chooseAccel(host, { wanted: 'tcg', facts: facts(), shape: SHAPE, userCpu: false });
      expect(d).to.deep.include({ accel: 'tcg', reason: '--accel tcg' });
      expect(calls).to.have.length(0);
    });
  });

  describe('--machine and --cpu grammar: passed as written, nothing else', () => {
    for (const ok of [
      'host',
      'host,arch-capabilities=off',
      'Skylake-Server,-hle',
      'EPYC-v4,+ssse3,pmu=off',
      'max',
    ])
      it(`accepts --cpu ${ok}`, () => expect(parseCpu(ok)).to.equal(ok));
    for (const bad of ['host -device x', 'host,,x', 'host,a=b=c', '-hle', 'host,x=1 -S', 'host,"a"', ''])
      it(`refuses --cpu '${bad}'`, () => expect(() => parseCpu(bad)).to.throw(InstallGuestError, /--cpu/));
    for (const ok of ['q35', 'pc-q35-7.2', 'q35,kernel-irqchip=split', 'pc'])
      it(`accepts --machine ${ok}`, () => expect(parseMachine(ok)).to.equal(ok));
    for (const bad of ['q35,split', 'q35 -S', 'q35,a=b,,c', ''])
      it(`refuses --machine '${bad}'`, () =>
        expect(() => parseMachine(bad)).to.throw(InstallGuestError, /--machine/));
    it('kernel-irqchip=split only under kvm with interrupt remapping, and never twice', () => {
      const ir = parseIommu('model=intel');
      expect(machineOption('q35', 'kvm', ir)).to.equal('q35,kernel-irqchip=split');
      expect(machineOption('q35', 'tcg', ir)).to.equal('q35');
      expect(machineOption('q35', 'kvm', parseIommu('model=intel,driver.intremap=off'))).to.equal('q35');
      expect(machineOption('q35,kernel-irqchip=split', 'kvm', ir)).to.equal('q35,kernel-irqchip=split');
      expect(machineOption('q35', 'kvm', undefined)).to.equal('q35');
    });
  });
});
