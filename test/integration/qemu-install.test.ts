/**
 * The whole watch-and-complete stack on a real Linux guest (Debian 12 netboot kernel under TCG):
 * a busybox /init that prints the test installer's lines and powers off, and a kernel that panics
 * for real. (The reboot request under -no-reboot is covered by the lifecycle table test on a real
 * transcript.) Each guest is bounded by maxLifetimeMs and stopped in afterEach.
 */
import { expect } from 'chai';
import { promises as fs } from 'node:fs';
import { InstallGuestError } from '../../src/errors.js';
import { superviseInstall, type SuperviseEvent } from '../../src/qemu/completion.js';
import { launchQemu, type QemuHandle } from '../../src/qemu/process.js';
import { rulesFor } from '../../src/qemu/console/rules.js';
import { watch } from '../../src/qemu/console/watcher.js';
import {
  QEMU,
  buildInitramfs,
  kernelArgs,
  makeWorkDir,
  removeDir,
  workPaths,
  type WorkPaths,
} from './qemu-helpers.js';

const LIFETIME_MS = 150_000;

/** The test installer's console (CONTRACTS §2), printed by a shell script. */
const INSTALLER_LINES = [
  'Starting installer, one moment...',
  'anaconda 40.22.3 for Tiny Linux 1 (pre-release) started.',
  'Starting automated install.',
  'Setting up the installation environment',
  'Configuring storage',
  'Creating disklabel on /dev/vda',
  'Creating ext4 on /dev/vda1',
  'Running pre-installation scripts',
  ...[1, 2, 3].map((n) => `Installing the software: Installing tiny-pkg${n}-1.0-1.x86_64 (${n}/3)`),
  'Performing post-installation setup tasks',
  'Installing boot loader',
  'Running post-installation scripts',
  'Configuring installed system',
  'Installation complete',
];
const printLines = (lines: string[]): string =>
  lines.map((l) => `echo '${l.replace(/'/g, `'\\''`)}'`).join('\n');

describe('install supervision on a real guest kernel', function () {
  this.timeout(LIFETIME_MS + 30_000);
  let dir: string | undefined;
  let paths: WorkPaths;
  let handle: QemuHandle | undefined;

  beforeEach(async () => {
    dir = await makeWorkDir();
    paths = workPaths(dir);
  });

  afterEach(async () => {
    await handle?.stop('test cleanup').catch(() => undefined);
    handle = undefined;
    await removeDir(dir);
  });

  async function run(
    append: string,
    script?: string,
  ): Promise<{ h: QemuHandle; events: SuperviseEvent[]; outcome: ReturnType<typeof superviseInstall> }> {
    const initrd = script === undefined ? undefined : await buildInitramfs(dir as string, script);
    const h = await launchQemu({
      binary: QEMU,
      argv: kernelArgs(paths, { initrd, append }),
      workDir: dir as string,
      ...paths,
      timeoutMs: 60_000,
      maxLifetimeMs: LIFETIME_MS,
    });
    handle = h;
    const watcher = watch(h.serial.stream, { rules: rulesFor('anaconda') });
    const events: SuperviseEvent[] = [];
    const outcome = superviseInstall({
      handle: h,
      watcher,
      stallTimeoutMs: 120_000,
      deadlineMs: LIFETIME_MS - 10_000,
      onEvent: (e) => events.push(e),
    });
    return { h, events, outcome };
  }

  it('finishes when the installer powers the guest off, with its progress and milestones', async () => {
    const { events, outcome } = await run(
      'console=ttyS0 quiet panic=0',
      `${printLines(INSTALLER_LINES)}\n/bin/busybox poweroff -f`,
    );
    const o = await outcome;
    expect(o.how).to.equal('poweroff');
    expect(o.shutdownReason).to.equal('guest-shutdown');
    expect(o.exit.code).to.equal(0);
    expect(o.milestones.map((m) => m.rule)).to.include.members([
      'anaconda-started',
      'anaconda-installation-complete',
    ]);
    expect(o.lastProgress?.text).to.equal('Configuring installed system');
    const fractions = events.flatMap((e) =>
      e.type === 'progress' && e.fraction !== undefined ? [e.fraction] : [],
    );
    expect(fractions).to.deep.equal([1 / 3, 2 / 3, 1]);
    expect(events.some((e) => e.type === 'qmp' && e.event === 'SHUTDOWN')).to.equal(true);
    const log = await fs.readFile(paths.serialLogPath, 'utf8');
    expect(log).to.contain('Installation complete');
    expect(o.serialBytes).to.equal(Buffer.byteLength(log));
  });

  it('fails on a real kernel panic, naming the panic line, even when the guest reboots right after it', async () => {
    // no initrd: the kernel panics for real; panic=-1 makes it reboot at once, which -no-reboot
    // turns into SHUTDOWN guest-reset racing with the console: the panic line must still win
    const { h, outcome } = await run('console=ttyS0 panic=-1');
    let err: unknown;
    try {
      await outcome;
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(InstallGuestError);
    const e = err as InstallGuestError;
    expect(e.code).to.equal('INSTALL_FAILED');
    expect(e.exitCode).to.equal(1);
    expect(e.data).to.include({ rule: 'kernel-panic', serialLog: paths.serialLogPath });
    expect(e.data?.line).to.match(
      /Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block\(0,0\)$/,
    );
    expect(h.exit).to.not.equal(undefined);
    const log = await fs.readFile(paths.serialLogPath);
    const offset = e.data?.offset as number;
    expect(log.subarray(offset, offset + 40).toString()).to.match(/^\[\s*\d+\.\d+\] Kernel panic/);
  });
});
