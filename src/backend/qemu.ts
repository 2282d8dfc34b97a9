/** The direct backend: install-guest runs qemu itself (src/qemu/process.ts) and talks QMP to it. */
import type { BootHandle, GuestBackend } from './types.js';
import { need } from '../pipeline/stage.js';

export const qemuBackend: GuestBackend = {
  kind: 'qemu',
  async startBoot(ctx, _phase, argv, files, maxLifetimeMs): Promise<BootHandle> {
    const [{ launchQemu }, { queryPci }, { eject }] = await Promise.all([
      import('../qemu/process.js'),
      import('../qemu/qmp.js'),
      import('../qemu/qmp/commands.js'),
    ]);
    const handle = await launchQemu({
      binary: argv[0]!,
      argv: argv.slice(1),
      workDir: need(ctx.state, 'workDir'),
      qmpSocketPath: files.qmpSocket,
      serialSocketPath: files.serialSocket,
      serialLogPath: files.serialLog,
      qmpTranscriptPath: files.qmpLog,
      stderrLogPath: files.stderrLog,
      argvFilePath: files.argvFile,
      maxLifetimeMs,
      signal: ctx.signal,
    });
    return {
      describe: `qemu pid ${handle.pid}`,
      qmp: handle.qmp,
      serial: handle.serial,
      exited: handle.exited,
      get exit() {
        return handle.exit;
      },
      get stopReason() {
        return handle.stopReason;
      },
      stop: (reason) => handle.stop(reason),
      queryPci: () => queryPci(handle.qmp),
      // the templates give a drive `X` the device id `X-dev`
      ejectCdrom: (drive) => eject(handle.qmp, `${drive}-dev`),
    };
  },
};
