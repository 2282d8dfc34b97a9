/**
 * The early-boot policy: under KVM the watchdog is on by default; a hang under a KVM that `auto`
 * chose restarts the boot under tcg (both argvs re-rendered, the decision records why); under an
 * explicit --accel kvm the hang is the answer (exit 4).
 */
import { expect } from 'chai';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { InstallGuestError, timeoutError } from '../../../src/errors.js';
import { createHost } from '../../../src/host/host.js';
import type { StageContext } from '../../../src/pipeline/stage.js';
import type { InstallState } from '../../../src/pipeline/state.js';
import { buildQemuPlan, renderArgs } from '../../../src/qemu/command.js';
import { parseInstallRequest } from '../../../src/request/request.js';
import { qemuInputs } from '../../../src/stages/build-command.js';
import { bootWithFallback, earlyBootMs, DEFAULT_EARLY_BOOT_S } from '../../../src/stages/early-boot.js';

const hang = (): InstallGuestError =>
  timeoutError('EARLY_BOOT_HANG', 'the guest printed no kernel output within 60 s of starting', {});

describe('early-boot watchdog policy (src/stages/early-boot.ts)', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ig-early-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  function stateFor(accelOption: 'auto' | 'kvm', extra: string[] = []): InstallState {
    const raw = {
      name: 'g',
      accel: accelOption,
      boot: `kernel=${path.resolve('fixtures/cases/_media/vmlinuz')}`,
      network: 'user,model=e1000e',
      ...(extra.length ? { earlyBootTimeout: extra[0] } : {}),
    };
    const request = parseInstallRequest(raw, dir);
    const base: InstallState = {
      raw,
      cwd: dir,
      request,
      workDir: dir,
      logDir: dir,
      accel: 'kvm',
      accelDecision: {
        wanted: accelOption,
        accel: 'kvm',
        reason: 'hardware virtualization (svm in /proc/cpuinfo)',
      },
      uuid: '00000000-0000-4000-8000-000000000001',
      mac: '52:54:00:00:00:01',
      media: {
        source: 'k',
        kind: 'kernel-initrd',
        boot: { kind: 'kernel', kernel: '/k', append: 'console=ttyS0' },
      },
    };
    const inputs = qemuInputs(base);
    return {
      ...base,
      argv: {
        install: renderArgs('install', buildQemuPlan(inputs, 'install')),
        confirm: renderArgs('confirm', buildQemuPlan(inputs, 'confirm')),
      },
    };
  }

  function ctxOf(state: InstallState, warnings: string[]): StageContext<InstallState> {
    return {
      state,
      host: createHost(),
      log: { info: () => undefined, warn: (m: string) => warnings.push(m) },
      signal: new AbortController().signal,
      dryRun: false,
      record: (fields: Partial<InstallState>) => Object.assign(state, fields),
    };
  }

  it('is on by default under kvm (60 s), off under tcg, and the option wins', () => {
    const s = stateFor('auto');
    expect(earlyBootMs(s)).to.equal(DEFAULT_EARLY_BOOT_S * 1000);
    expect(earlyBootMs({ ...s, accel: 'tcg' })).to.equal(undefined);
    expect(earlyBootMs(stateFor('auto', ['7']))).to.equal(7000);
    expect(earlyBootMs({ ...stateFor('auto', ['7']), accel: 'tcg' })).to.equal(7000);
  });

  it('auto: a hang under kvm restarts the boot under tcg, keeps the hung boot’s log, and says why', async () => {
    const state = stateFor('auto');
    await writeFile(path.join(dir, 'serial-install.log'), 'SeaBIOS (version 1.16.2)\n');
    const warnings: string[] = [];
    const boots: { argv: readonly string[]; early: number | undefined }[] = [];
    const { value, changed } = await bootWithFallback(
      ctxOf(state, warnings),
      'install',
      [path.join(dir, 'serial-install.log')],
      (argv, early) => {
        boots.push({ argv, early });
        return boots.length === 1 ? Promise.reject(hang()) : Promise.resolve('installed');
      },
    );
    expect(value).to.equal('installed');
    expect(boots).to.have.length(2);
    const accelOf = (a: readonly string[]) => a[a.indexOf('-accel') + 1];
    const cpuOf = (a: readonly string[]) => a[a.indexOf('-cpu') + 1];
    expect([accelOf(boots[0]!.argv), cpuOf(boots[0]!.argv)]).to.deep.equal(['kvm', 'host']);
    expect([accelOf(boots[1]!.argv), cpuOf(boots[1]!.argv)]).to.deep.equal(['tcg', 'max']);
    expect(boots[0]!.early).to.equal(60_000);
    expect(boots[1]!.early, 'no watchdog under tcg by default').to.equal(undefined);
    expect(changed.accel).to.equal('tcg');
    expect(accelOf(changed.argv!.confirm), 'the confirm boot follows').to.equal('tcg');
    expect(changed.accelDecision).to.deep.include({ accel: 'tcg' });
    expect(changed.accelDecision!.reason).to.contain('hung in early boot under kvm');
    expect(changed.accelDecision!.fallback!.phase).to.equal('install');
    expect(warnings).to.have.length(1);
    expect(warnings[0]).to.match(
      /^warning: the install boot hung in early boot under kvm .*restarting it under tcg/,
    );
    expect(await readdir(dir)).to.include('serial-install.kvm-hang.log');
  });

  it('--accel kvm: the hang is the answer (EARLY_BOOT_HANG, exit 4), no second boot', async () => {
    const state = stateFor('kvm');
    let n = 0;
    const err = await bootWithFallback(ctxOf(state, []), 'confirm', [], () => {
      n++;
      return Promise.reject(hang());
    }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(n).to.equal(1);
    expect(err).to.be.instanceOf(InstallGuestError);
    expect((err as InstallGuestError).code).to.equal('EARLY_BOOT_HANG');
    expect((err as InstallGuestError).exitCode).to.equal(4);
  });

  it('other failures pass through untouched', async () => {
    const state = stateFor('auto');
    let n = 0;
    const boom = timeoutError('INSTALL_STALLED', 'quiet', {});
    const err = await bootWithFallback(ctxOf(state, []), 'install', [], () => {
      n++;
      return Promise.reject(boom);
    }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).to.equal(boom);
    expect(n).to.equal(1);
  });
});
