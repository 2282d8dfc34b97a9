/**
 * Real qemu-system-x86_64 (TCG) with no guest kernel: SeaBIOS alone gives a real serial byte
 * stream ("SeaBIOS (version …)", "No bootable device."), a real QMP monitor and a real process to
 * stop, signal and kill. Every qemu is bounded by maxLifetimeMs and stopped in afterEach.
 */
import { expect } from 'chai';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { superviseInstall } from '../../src/qemu/completion.js';
import { launchQemu, type QemuHandle } from '../../src/qemu/process.js';
import { QmpCommandError } from '../../src/qemu/qmp/client.js';
import { queryPci, queryStatus, systemPowerdown } from '../../src/qemu/qmp/commands.js';
import { rulesFor } from '../../src/qemu/console/rules.js';
import { watch } from '../../src/qemu/console/watcher.js';
import { QEMU, firmwareOnlyArgs, makeWorkDir, removeDir, workPaths, type WorkPaths } from './qemu-helpers.js';
import { rejection } from '../helpers/typed-error.js';

const LIFETIME_MS = 60_000;

describe('qemu process and QMP (real qemu, firmware only)', function () {
  this.timeout(60_000);
  let dir: string | undefined;
  let paths: WorkPaths;
  const handles: QemuHandle[] = [];

  beforeEach(async () => {
    dir = await makeWorkDir();
    paths = workPaths(dir);
  });

  afterEach(async () => {
    for (const h of handles.splice(0)) await h.stop('test cleanup').catch(() => undefined);
    await removeDir(dir);
  });

  async function launch(extra: string[] = [], argvFilePath?: string): Promise<QemuHandle> {
    const h = await launchQemu({
      binary: QEMU,
      argv: [...firmwareOnlyArgs(paths), ...extra],
      workDir: dir as string,
      ...paths,
      argvFilePath,
      stderrLogPath: path.join(dir as string, 'qemu.stderr'),
      maxLifetimeMs: LIFETIME_MS,
    });
    handles.push(h);
    return h;
  }

  it('runs commands over QMP, maps error replies to typed errors and writes a private transcript', async () => {
    const h = await launch(['-device', 'e1000e,id=nic0']);
    expect(h.qmp.greeting.QMP.version.qemu.major).to.be.at.least(7);
    expect(await queryStatus(h.qmp)).to.deep.equal({ status: 'running', running: true });

    const devices = await queryPci(h.qmp);
    const ids = devices.map((d) => d.id);
    expect(ids).to.include.members(['8086:29c0', '8086:2918', '8086:2922', '8086:2930']); // q35 host bridge, LPC, AHCI, SMBus
    expect(devices.find((d) => d.qdevId === 'nic0')).to.include({
      id: '8086:10d3',
      classCode: 0x0200,
      parent: undefined,
    });

    const err = await rejection(h.qmp.execute('no-such-command'));
    expect(err).to.be.instanceOf(QmpCommandError);
    expect(err).to.include({ code: 'QMP_COMMAND_FAILED', qmpClass: 'CommandNotFound' });
    expect(err.message).to.contain('no-such-command');

    // concurrent commands get their own replies
    const [a, b] = await Promise.all([
      h.qmp.execute<{ status: string }>('query-status'),
      h.qmp.execute<unknown[]>('query-pci'),
    ]);
    expect(a.status).to.equal('running');
    expect(b).to.be.an('array');

    const stopped = await h.stop('test');
    expect(stopped.steps[0]).to.equal('quit'); // (a loaded machine may need the SIGTERM too)
    expect(stopped.exit).to.include({ code: 0, signal: null });
    await h.qmp.closed;
    const transcript = (await fs.readFile(paths.qmpTranscriptPath, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(transcript[0].msg.note).to.match(/^connected to /);
    expect(transcript.some((r) => r.dir === 'out' && r.msg.execute === 'qmp_capabilities')).to.equal(true);
    expect(transcript.some((r) => r.dir === 'in' && r.msg.error?.class === 'CommandNotFound')).to.equal(true);
    expect(
      transcript.some((r) => r.msg.event === 'SHUTDOWN' && r.msg.data.reason === 'host-qmp-quit'),
    ).to.equal(true);
    expect(transcript.every((r) => typeof r.t === 'string' && typeof r.ms === 'number')).to.equal(true);
    expect((await fs.stat(paths.qmpTranscriptPath)).mode & 0o777).to.equal(0o600);
    // qemu and install-guest removed their sockets
    expect(await fs.readdir(dir as string)).to.not.include.members(['qmp.sock', 'serial.sock']);
  });

  it('streams the serial console live from its first byte and saves it whole', async () => {
    const h = await launch();
    const watcher = watch(h.serial.stream, { rules: rulesFor('generic-linux') });
    const fatal = new Promise((resolve) => watcher.on((e) => e.type === 'fatal' && resolve(e)));
    expect(await fatal).to.include({ rule: 'no-bootable-device', line: 'No bootable device.' });
    expect(watcher.milestones.map((m) => m.rule)).to.deep.equal(['firmware-started']);
    await h.stop('test');
    await h.serial.ended;
    await watcher.done;
    const log = await fs.readFile(paths.serialLogPath);
    // SeaBIOS's first bytes reset the terminal: nothing before them was lost
    expect(log.subarray(0, 2).toString('latin1')).to.equal('\x1bc');
    expect(log.length).to.equal(watcher.bytes);
    expect(log.length).to.equal(h.serial.bytes);
    expect((await fs.stat(paths.serialLogPath)).mode & 0o777).to.equal(0o600);
  });

  it('waits for events and passes the power button press to the guest', async () => {
    const h = await launch();
    const powerdown = h.qmp.waitForEvent('POWERDOWN', { timeoutMs: 10_000 });
    await systemPowerdown(h.qmp);
    expect((await powerdown).event).to.equal('POWERDOWN');
    const timedOut = await rejection(h.qmp.waitForEvent('NO_SUCH_EVENT', { timeoutMs: 50 }));
    expect(timedOut.code).to.equal('QMP_EVENT_TIMEOUT');
  });

  it('escalates quit → SIGTERM → SIGKILL when qemu does not answer', async () => {
    const h = await launch();
    process.kill(h.pid, 'SIGSTOP'); // a hung qemu: neither QMP nor SIGTERM is acted on
    const stopped = await h.stop('test', { quitWaitMs: 300, termWaitMs: 300 });
    expect(stopped.steps).to.deep.equal(['quit', 'SIGTERM', 'SIGKILL']);
    expect(stopped.exit.signal).to.equal('SIGKILL');
    expect(h.stopReason).to.equal('test');
  });

  it('sees SIGTERM from outside as SHUTDOWN host-signal and a clean exit', async () => {
    const h = await launch();
    const shutdown = h.qmp.waitForEvent('SHUTDOWN', { timeoutMs: 10_000 });
    process.kill(h.pid, 'SIGTERM');
    expect((await shutdown).data).to.deep.equal({ guest: false, reason: 'host-signal' });
    const exit = await h.exited;
    expect(exit.code).to.equal(0);
    expect(exit.stderrTail).to.match(/terminating on signal 15/);
  });

  it('detects a killed qemu: pending commands fail, the event stream ends, supervision reports a crash', async () => {
    const h = await launch();
    const watcher = watch(h.serial.stream, { rules: [] });
    const outcome = superviseInstall({ handle: h, watcher, stallTimeoutMs: 50_000, deadlineMs: 50_000 });
    const events = h.qmp.events();
    const pending = h.qmp.execute('query-status', undefined, { timeoutMs: 10_000 });
    process.kill(h.pid, 'SIGKILL');
    const settled = await Promise.allSettled([pending]);
    // the reply may have come first; if not, the command failed with QMP_DISCONNECTED
    if (settled[0].status === 'rejected')
      expect(settled[0].reason).to.have.property('code', 'QMP_DISCONNECTED');
    expect((await events.next()).done).to.equal(true);
    const err = await rejection(outcome);
    expect(err.code).to.equal('QEMU_CRASHED');
    expect(err.exitCode).to.equal(1);
    expect(err.message).to.contain('killed by SIGKILL');
    const after = await rejection(h.qmp.execute('query-status'));
    expect(after.code).to.equal('QMP_DISCONNECTED');
  });

  it('reports qemu dying before QMP answers with its stderr and the argv file', async () => {
    const argvFile = path.join(dir as string, 'qemu.argv');
    const err = await rejection(launch(['-device', 'no-such-device-model'], argvFile));
    expect(err.code).to.equal('QEMU_EXITED_EARLY');
    expect(err.exitCode).to.equal(1);
    expect(err.message).to.match(/exited with code 1 before answering QMP: .*no-such-device-model/);
    expect(err.hint).to.contain(argvFile);
    expect(err.data).to.include({ argvFile, code: 1 });
    expect(await fs.readFile(path.join(dir as string, 'qemu.stderr'), 'utf8')).to.contain(
      'no-such-device-model',
    );
  });

  it('names a missing emulator and a socket path that is too long', async () => {
    const missing = await rejection(
      launchQemu({
        binary: 'qemu-system-does-not-exist',
        argv: [],
        workDir: dir as string,
        ...paths,
        maxLifetimeMs: 5000,
      }),
    );
    expect(missing.code).to.equal('QEMU_NOT_FOUND');
    const long = path.join(dir as string, 'x'.repeat(120), 'qmp.sock');
    const tooLong = await rejection(
      launchQemu({ binary: QEMU, argv: [], workDir: dir as string, ...paths, qmpSocketPath: long }),
    );
    expect(tooLong.code).to.equal('SOCKET_PATH_TOO_LONG');
  });

  for (const die of [true, false]) {
    it(
      die
        ? 'ends qemu with its supervisor: a SIGKILLed install-guest leaves no qemu holding the device'
        : 'without the parent-death tie (dieWithParent: false) qemu outlives a SIGKILLed supervisor',
      async () => {
        const child = execa(
          process.execPath,
          [
            '--import',
            'tsx',
            path.join(import.meta.dirname, 'qemu-launcher-child.ts'),
            dir!,
            die ? 'yes' : 'no',
          ],
          { buffer: false, stdout: 'pipe', stderr: 'inherit', reject: false },
        );
        const pid = await new Promise<number>((resolve, reject) => {
          let text = '';
          child.stdout.on('data', (d: Buffer) => {
            text += d.toString();
            const m = /^(\d+)\n/.exec(text);
            if (m) resolve(Number(m[1]));
          });
          void child.then((r) => reject(new Error(`launcher ended first: ${String(r.exitCode)}`)));
        });
        const comm = (await fs.readFile(`/proc/${pid}/comm`, 'utf8')).trim();
        expect(comm).to.equal('qemu-system-x86');
        child.kill('SIGKILL');
        await child;
        const gone = async (): Promise<boolean> =>
          fs.stat(`/proc/${pid}`).then(
            () => false,
            () => true,
          );
        let isGone = false;
        for (let i = 0; i < 50 && !(isGone = await gone()); i += 1)
          await new Promise((r) => setTimeout(r, 100));
        try {
          expect(isGone, `qemu ${pid} after its supervisor was SIGKILLed`).to.equal(die);
        } finally {
          if (!isGone) process.kill(pid, 'SIGKILL');
        }
      },
    );
  }

  describe('supervising an install', () => {
    it('stops qemu on a fatal console line and names the line and the serial log', async () => {
      const h = await launch();
      const watcher = watch(h.serial.stream, { rules: rulesFor('generic-linux') });
      const seen: string[] = [];
      const err = await rejection(
        superviseInstall({
          handle: h,
          watcher,
          stallTimeoutMs: 30_000,
          deadlineMs: 50_000,
          onEvent: (e) => seen.push(e.type),
        }),
      );
      expect(err.code).to.equal('INSTALL_FAILED');
      expect(err.exitCode).to.equal(1);
      expect(err.message).to.contain('"No bootable device."').and.contain(paths.serialLogPath);
      expect(err.data).to.include({ rule: 'no-bootable-device', serialLog: paths.serialLogPath });
      expect((err.data?.stopSteps as string[])[0]).to.equal('quit');
      expect(h.exit).to.not.equal(undefined); // qemu is gone when the error arrives
      expect(seen).to.include.members(['milestone', 'fatal', 'stopping']);
    });

    it('stops a guest whose console went quiet: INSTALL_STALLED, exit 4', async () => {
      const h = await launch();
      const watcher = watch(h.serial.stream, { rules: [] }); // nothing is fatal: only silence ends it
      while (watcher.lastLine?.text !== 'No bootable device.') await new Promise((r) => setTimeout(r, 50));
      const err = await rejection(
        superviseInstall({ handle: h, watcher, stallTimeoutMs: 1500, deadlineMs: 50_000, pollMs: 100 }),
      );
      expect(err.code).to.equal('INSTALL_STALLED');
      expect(err.exitCode).to.equal(4);
      expect(err.message).to.contain('last console line: "No bootable device."');
      expect(h.exit).to.not.equal(undefined);
    });

    it('stops an install that outlives its deadline: INSTALL_TIMEOUT, exit 4', async () => {
      const h = await launch();
      const watcher = watch(h.serial.stream, { rules: [] });
      const err = await rejection(
        superviseInstall({ handle: h, watcher, stallTimeoutMs: 50_000, deadlineMs: 800, pollMs: 100 }),
      );
      expect(err.code).to.equal('INSTALL_TIMEOUT');
      expect(err.exitCode).to.equal(4);
      expect(h.exit).to.not.equal(undefined);
    });

    it('stops qemu when interrupted: exit 130', async () => {
      const h = await launch();
      const watcher = watch(h.serial.stream, { rules: [] });
      const ac = new AbortController();
      const outcome = superviseInstall({
        handle: h,
        watcher,
        stallTimeoutMs: 50_000,
        deadlineMs: 50_000,
        signal: ac.signal,
      });
      setTimeout(() => ac.abort('SIGINT'), 200);
      const err = await rejection(outcome);
      expect(err.code).to.equal('INTERRUPTED');
      expect(err.exitCode).to.equal(130);
      expect(err.message).to.contain('SIGINT');
      expect(h.exit).to.not.equal(undefined);
    });
  });
});
