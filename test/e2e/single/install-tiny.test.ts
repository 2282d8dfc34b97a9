/**
 * The whole `install-guest install` against the tiny installer under single TCG (real qemu, real
 * kernel, real disk): install boot watched to its power-off, confirm boot from the installed disk,
 * result and logs; then the failure paths (fatal console lines, a stall, qemu killed), each with no
 * qemu left behind.
 */
import { expect } from 'chai';
import { execa } from 'execa';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type WatchedRun, alive, killLeft, runCliWatched } from '../../helpers/processes.js';
import { type Bed, ensureBed } from '../bed/index.js';
import type { ConfirmedDevice } from '../../../src/pipeline/state.js';

/** every qemu the runs started, for the after() guard */
const started: number[] = [];

/** Runs `install-guest install` in-process; `onPid` is called as each qemu starts. */
const install = (argv: string[], cwd: string, onPid?: (pid: number) => void): Promise<WatchedRun> =>
  runCliWatched(['install', ...argv], cwd, (pid) => {
    started.push(pid);
    onPid?.(pid);
  });

/** every tiny guest: TCG, 512 MiB, an emulated e1000e on user networking */
const GUEST = ['--accel', 'tcg', '--memory', '512', '--network', 'user,model=e1000e'];

function lastJson(stdout: string): Record<string, unknown> {
  const lines = stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!) as Record<string, unknown>;
}

describe('install-guest install: tiny installer end to end (single TCG)', function () {
  this.timeout(180_000);
  let bed: Bed;
  let tmp: string;
  let n = 0;
  /** the disk the first case installed (the --import case boots an overlay of it) */
  let installedDisk: string | undefined;

  before(async function () {
    this.timeout(15 * 60_000);
    bed = await ensureBed();
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'ig-install-'));
  });
  after(async () => {
    // a failed assertion must not leave a qemu behind
    killLeft(started);
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  });

  const baseArgs = (name: string, extra: string[] = []): string[] => [
    '--boot',
    `kernel=${bed.media.treeKernel},initrd=${bed.media.treeInitrd}`,
    '--os-variant',
    'fedora',
    '--name',
    name,
    '--disk',
    'size=1',
    ...GUEST,
    '--log-dir',
    path.join(tmp, `${name}-logs`),
    ...extra,
  ];

  async function caseDir(): Promise<string> {
    const dir = path.join(tmp, `case${++n}`);
    await fs.mkdir(dir);
    return dir;
  }

  it('installs, boots the installed disk and confirms the guest sees the emulated NIC (exit 0)', async () => {
    const cwd = await caseDir();
    const logDir = path.join(tmp, 't1-logs');
    const r = await install([...baseArgs('t1'), '--json', '--print-cmdline'], cwd);
    expect(r.code, r.stderr + r.stdout.slice(-3000)).to.equal(0);
    expect(r.pids).to.have.length(2);
    for (const pid of r.pids) expect(alive(pid), `qemu ${pid} still running`).to.equal(false);

    const files = await fs.readdir(logDir);
    for (const f of [
      'install.args',
      'confirm.args',
      'serial-install.log',
      'serial-confirm.log',
      'qmp-install.jsonl',
      'qmp-confirm.jsonl',
      'ks.cfg.redacted',
      'result.json',
      'timings.json',
    ])
      expect(files, f).to.include(f);
    const installArgs = (await fs.readFile(path.join(logDir, 'install.args'), 'utf8')).split('\n');
    const confirmArgs = (await fs.readFile(path.join(logDir, 'confirm.args'), 'utf8')).split('\n');
    expect(installArgs).to.include('-kernel');
    expect(confirmArgs).to.not.include('-kernel');
    expect(installArgs.some((a) => a.startsWith('socket,id=serial0,path='))).to.equal(true);
    const serial = await fs.readFile(path.join(logDir, 'serial-install.log'), 'utf8');
    expect(serial).to.include('Installation complete');
    // SeaBIOS prints to the serial port with graphics=off
    expect(await fs.readFile(path.join(logDir, 'serial-confirm.log'), 'utf8')).to.match(/SeaBIOS/);

    // --json: events, one per line, then the result object
    const events = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { event: string; name?: string; status?: string });
    expect(
      events.some((e) => e.event === 'stage' && e.name === 'launch-qemu' && e.status === 'done'),
    ).to.equal(true);
    expect(events.some((e) => e.event === 'progress')).to.equal(true);
    // --print-cmdline in a real run: both argvs as an event before qemu starts, equal to the log dir's files
    const cmdline = events.find((e) => e.event === 'cmdline') as unknown as
      { install: string[]; confirm: string[] } | undefined;
    expect(cmdline?.install).to.deep.equal(installArgs.filter((a) => a !== ''));
    expect(cmdline?.confirm).to.deep.equal(confirmArgs.filter((a) => a !== ''));
    expect(events.indexOf(cmdline as never)).to.be.lessThan(
      events.findIndex((e) => e.event === 'stage' && e.name === 'launch-qemu'),
    );
    const result = lastJson(r.stdout);
    expect(result.event).to.equal('result');
    expect(result.verdict).to.equal('confirmed');
    const devices = result.devices as ConfirmedDevice[];
    expect(devices).to.have.length(1);
    // e1000e's id comes from qemu's query-pci and must match the guest's own listing
    expect(devices[0]).to.include({
      kind: 'emulated',
      source: 'e1000e',
      vendorDevice: '8086:10d3',
      guestDriver: 'e1000e',
    });
    const onDisk = JSON.parse(await fs.readFile(path.join(logDir, 'result.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(onDisk.verdict).to.equal('confirmed');
    const phases = onDisk.phases as { install: { ms: number }; confirm: { ms: number } };
    expect(phases.install.ms).to.be.greaterThan(0);
    expect(phases.confirm.ms).to.be.greaterThan(0);
    // the answer file's secrets never reach the log dir
    const redacted = await fs.readFile(path.join(logDir, 'ks.cfg.redacted'), 'utf8');
    expect(redacted).to.include('%post');
    // the disk the install wrote stays (the install succeeded)
    expect((await fs.stat(path.join(cwd, 't1.qcow2'))).size).to.be.greaterThan(0);
    installedDisk = path.join(cwd, 't1.qcow2');
    console.log(
      `      install+confirm: ${r.ms} ms (install ${phases.install.ms} ms, confirm ${phases.confirm.ms} ms)`,
    );
  });

  it('--import boots an installed disk once, to confirm it: no install boot (exit 0)', async () => {
    expect(installedDisk, 'the first case installed a disk').to.be.a('string');
    const cwd = await caseDir();
    // an overlay, so the installed disk stays as it was
    const overlay = path.join(cwd, 'imp.qcow2');
    await execa('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', installedDisk!, overlay]);
    const logDir = path.join(tmp, 'imp-logs');
    const r = await install(
      ['--import', '--disk', `path=${overlay}`, '--name', 'imp', ...GUEST, '--log-dir', logDir, '--json'],
      cwd,
    );
    expect(r.code, r.stderr + r.stdout.slice(-3000)).to.equal(0);
    expect(r.pids, 'qemu started once').to.have.length(1);
    for (const pid of r.pids) expect(alive(pid), `qemu ${pid} still running`).to.equal(false);
    const files = await fs.readdir(logDir);
    expect(files).to.include('serial-confirm.log');
    expect(files).to.not.include('serial-install.log');
    const result = lastJson(r.stdout);
    expect(result.verdict).to.equal('confirmed');
    expect((result.phases as { install: unknown }).install).to.deep.equal({ skipped: '--import' });
  });

  // the media forms a user gives: the tree (served to the guest over HTTP), the ISO as --location
  // (kernel and initrd read from it, the ISO attached), and the ISO booted by the firmware (--cdrom)
  for (const form of ['tree', 'iso-location', 'cdrom'] as const) {
    it(`installs from the tiny ${form === 'tree' ? 'tree with --location' : form === 'cdrom' ? 'ISO with --cdrom' : 'ISO with --location'} and confirms the guest's NIC`, async () => {
      const cwd = await caseDir();
      const name = `m-${form}`;
      const media =
        form === 'tree'
          ? ['--location', bed.media.treeDir]
          : form === 'iso-location'
            ? ['--location', bed.media.iso]
            : ['--cdrom', bed.media.iso];
      const r = await install(
        [
          ...media,
          ...['--name', name, '--disk', 'size=1', '--accel', 'tcg', '--memory', '512'],
          ...['--network', 'user,model=e1000e', '--log-dir', path.join(tmp, `${name}-logs`), '--json'],
        ],
        cwd,
      );
      expect(r.code, r.stderr + r.stdout.slice(-3000)).to.equal(0);
      const result = lastJson(r.stdout);
      expect(result.verdict).to.equal('confirmed');
      expect((result.media as { kind: string }).kind).to.equal(
        form === 'tree' ? 'tree-local' : form === 'cdrom' ? 'cdrom' : 'iso',
      );
      const devices = result.devices as ConfirmedDevice[];
      expect(devices.map((d) => `${d.vendorDevice} ${d.guestDriver}`)).to.deep.equal(['8086:10d3 e1000e']);
      for (const pid of r.pids) expect(alive(pid), `qemu ${pid} still running`).to.equal(false);
      console.log(`      ${form}: install+confirm ${r.ms} ms`);
    });
  }

  for (const mode of ['traceback', 'panic', 'diskfull'] as const) {
    it(`ig.fail=${mode}: exit 1 soon after the fatal line, the line reported, qemu gone`, async () => {
      const cwd = await caseDir();
      const name = `f-${mode}`;
      const r = await install([...baseArgs(name, ['--extra-args', `ig.fail=${mode}`]), '--json'], cwd);
      expect(r.code, r.stderr + r.stdout.slice(-2000)).to.equal(1);
      const err = (lastJson(r.stdout).error ?? {}) as {
        code: string;
        message: string;
        data: { fatalLine: string; logPath: string; stopLatencyMs: number };
      };
      expect(err.code).to.equal('INSTALL_FAILED');
      expect(err.data.fatalLine).to.match(
        mode === 'traceback'
          ? /PayloadInstallationError: Failed to install package tiny-base/
          : mode === 'panic'
            ? /Kernel panic/
            : /No space left on device/,
      );
      expect(err.message).to.include(err.data.fatalLine.slice(0, 40));
      expect(err.data.logPath).to.equal(path.join(tmp, `${name}-logs`, 'serial-install.log'));
      // qemu is stopped as soon as the line is seen
      expect(err.data.stopLatencyMs).to.be.lessThan(3000);
      expect(r.pids).to.have.length(1);
      expect(alive(r.pids[0]!)).to.equal(false);
      // a failed install removes the disk it created
      expect(await fs.readdir(cwd)).to.not.include(`${name}.qcow2`);
      console.log(`      ig.fail=${mode}: exit after ${r.ms} ms, stop latency ${err.data.stopLatencyMs} ms`);
    });
  }

  it('ig.fail=hang with --stall-timeout 5: exit 4, qemu gone', async () => {
    const cwd = await caseDir();
    const r = await install(
      [...baseArgs('f-hang', ['--extra-args', 'ig.fail=hang', '--stall-timeout', '5']), '--json'],
      cwd,
    );
    expect(r.code, r.stderr + r.stdout.slice(-2000)).to.equal(4);
    const err = (lastJson(r.stdout).error ?? {}) as { code: string };
    expect(err.code).to.equal('INSTALL_STALLED');
    expect(alive(r.pids[0]!)).to.equal(false);
  });

  it('qemu killed mid-install: exit 1, everything cleaned up', async () => {
    const cwd = await caseDir();
    let killed = false;
    const r = await install([...baseArgs('f-kill')], cwd, (pid) => {
      if (killed) return;
      killed = true;
      setTimeout(() => process.kill(pid, 'SIGKILL'), 2000);
    });
    expect(killed).to.equal(true);
    expect(r.code, r.stderr).to.equal(1);
    expect(r.stderr).to.match(/QEMU_CRASHED|killed by SIGKILL/);
    expect(alive(r.pids[0]!)).to.equal(false);
    expect(await fs.readdir(cwd)).to.not.include('f-kill.qcow2');
  });
});
