/**
 * The accelerator choice on THIS machine, with the real qemu: the probe's result is asserted against
 * the facts the host shows (no /dev/kvm → qemu cannot initialize KVM; no hardware virtualization →
 * auto picks tcg naming the fact; hardware → kvm exactly when the probe passed), the built CLI's dry
 * run reports the same choice, and the early-boot watchdog stops a real guest that prints no kernel
 * output (SeaBIOS with nothing to boot) within its bound.
 */
import { expect } from 'chai';
import { execa } from 'execa';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createHost } from '../../src/host/host.js';
import {
  assessKvm,
  chooseAccel,
  clearProbeCache,
  gatherAccelFacts,
  runProbe,
  type ProbeShape,
} from '../../src/qemu/accel.js';
import { requireBuiltCli } from '../helpers/cli.js';
import { QEMU } from './qemu-helpers.js';

const SHAPE: ProbeShape = { binary: QEMU, machine: 'q35', cpu: 'host', smp: '1', devices: [] };

describe('accelerator choice on this machine (real qemu)', function () {
  this.timeout(60_000);
  const host = createHost();
  beforeEach(() => clearProbeCache());

  it('the real KVM probe agrees with the host facts, and auto follows both', async () => {
    const facts = await gatherAccelFacts(host);
    const kvm = assessKvm(facts);
    const probe = await runProbe(host, facts, SHAPE);
    expect(probe.ok === false && probe.kind, 'qemu answered the probe in time').to.not.equal('timeout');
    if (facts.kvmDevice === 'missing') expect(probe).to.deep.include({ ok: false, kind: 'kvm-init' });
    const d = await chooseAccel(host, { wanted: 'auto', facts, shape: SHAPE, userCpu: false });
    if (!kvm.hardware) {
      expect(d.accel).to.equal('tcg');
      expect(d.reason).to.equal(kvm.fact);
      if (facts.softwareMonitors.includes('kvm_pvm') && facts.kvmDevice === 'usable')
        expect(d.warnings[0]).to.contain('kvm_pvm');
    } else {
      expect(d.accel).to.equal(probe.ok || d.cpu !== undefined ? 'kvm' : 'tcg');
    }
  });

  it('install --dry-run --json reports the chosen accel and the deciding fact', async () => {
    const facts = await gatherAccelFacts(host);
    const kernel = path.resolve('fixtures/cases/_media/vmlinuz');
    const r = await execa(
      'node',
      [requireBuiltCli(), 'install', '--dry-run', '--json', '--name', 'accel', '--boot', `kernel=${kernel}`],
      { reject: false, cwd: os.tmpdir() },
    );
    expect(r.exitCode, r.stderr).to.equal(0);
    const plan = JSON.parse(r.stdout) as { accel: string; accelDecision: { wanted: string; reason: string } };
    expect(plan.accelDecision.wanted).to.equal('auto');
    if (!assessKvm(facts).hardware) {
      expect(plan.accel).to.equal('tcg');
      expect(plan.accelDecision.reason).to.equal(assessKvm(facts).fact);
      expect(r.stderr).to.contain(`warning: ${assessKvm(facts).fact}: using tcg`);
    }
    expect(plan.accelDecision.reason).to.be.a('string').and.not.equal('');
  });

  it('--accel kvm: exit 3 with one line naming why exactly where the in-process choice refuses it', async () => {
    const facts = await gatherAccelFacts(host);
    const expected = await chooseAccel(host, { wanted: 'kvm', facts, shape: SHAPE, userCpu: false }).then(
      () => null,
      (e: { code: string }) => e.code,
    );
    const kernel = path.resolve('fixtures/cases/_media/vmlinuz');
    const r = await execa(
      'node',
      [
        requireBuiltCli(),
        'install',
        '--dry-run',
        '--accel',
        'kvm',
        '--name',
        'k',
        '--boot',
        `kernel=${kernel}`,
      ],
      { reject: false, cwd: os.tmpdir() },
    );
    if (expected === null) {
      expect(r.exitCode, r.stderr).to.equal(0);
      return;
    }
    expect(r.exitCode).to.equal(3);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('install-guest:'));
    expect(lines).to.have.length(1);
    expect(lines[0]).to.match(new RegExp(`\\[${expected}\\]$`));
    expect(r.stderr).to.not.match(/\n\s+at /);
  });

  describe('the early-boot watchdog (a real guest with nothing to boot: firmware output, no kernel)', () => {
    let dir: string;
    before(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), 'ig-early-boot-'));
      // a raw disk whose boot sector spins forever: SeaBIOS boots it, no kernel ever prints
      const sector = Buffer.alloc(512);
      sector[0] = 0xeb; // jmp $
      sector[1] = 0xfe;
      sector[510] = 0x55;
      sector[511] = 0xaa;
      await writeFile(path.join(dir, 'hang.img'), Buffer.concat([sector, Buffer.alloc(1024 * 1024 - 512)]));
    });
    after(() => rm(dir, { recursive: true, force: true }));

    it('install --import of a disk that hangs before any kernel: EARLY_BOOT_HANG, exit 4, within the bound', async () => {
      const t0 = performance.now();
      const r = await execa(
        'node',
        [
          requireBuiltCli(),
          'install',
          '--name',
          'hang',
          '--import',
          '--disk',
          `path=${path.join(dir, 'hang.img')},format=raw`,
          '--network',
          'none',
          '--accel',
          'tcg',
          '--memory',
          '128',
          '--early-boot-timeout',
          '4',
          '--log-dir',
          path.join(dir, 'logs'),
        ],
        { reject: false, cwd: dir },
      );
      const s = (performance.now() - t0) / 1000;
      expect(r.exitCode, r.stderr).to.equal(4);
      const lines = r.stderr.split('\n').filter((l) => l.startsWith('install-guest:'));
      expect(lines).to.have.length(1);
      expect(lines[0]).to.contain('no kernel output within 4 s').and.contain('(the firmware did)');
      expect(lines[0]).to.match(/\[EARLY_BOOT_HANG\]$/);
      // bounded: the watchdog, not the 600 s stall timeout, ended it
      expect(s).to.be.below(60);
      const left = await execa('pgrep', ['-f', `guest=hang,`], { reject: false });
      expect(left.stdout.trim(), 'no qemu left behind').to.equal('');
      expect(await readdir(path.join(dir, 'logs'))).to.include('serial-confirm.log');
    });
  });
});
