/**
 * The direct backend: install-guest runs qemu itself (src/qemu/process.ts) and talks QMP to it;
 * with --tpm it runs the guest's swtpm too (src/qemu/swtpm.ts), started before qemu and stopped
 * with the boot.
 */
import path from 'node:path';
import type { BootHandle, GuestBackend } from './types.js';
import { need } from '../pipeline/stage.js';

export const qemuBackend: GuestBackend = {
  kind: 'qemu',
  async startBoot(ctx, phase, argv, files, maxLifetimeMs): Promise<BootHandle> {
    const [{ launchQemu }, { queryPci }, { eject }] = await Promise.all([
      import('../qemu/process.js'),
      import('../qemu/qmp.js'),
      import('../qemu/qmp/commands.js'),
    ]);
    const req = need(ctx.state, 'request');
    let tpm: { stop(): Promise<void> } | undefined;
    if (req.tpm) {
      const [{ startSwtpm, tpmStateDir }, { tpmSocketPath }, { safeFileName }] = await Promise.all([
        import('../qemu/swtpm.js'),
        import('../qemu/command.js'),
        import('../request/request.js'),
      ]);
      const logDir = ctx.state.logDir ?? req.logDir;
      const swtpm = await startSwtpm(
        {
          stateDir: tpmStateDir(logDir, safeFileName(req.name)),
          socket: tpmSocketPath(need(ctx.state, 'workDir'), phase),
          logFile: path.join(logDir, `swtpm-${phase}.log`),
        },
        ctx.signal,
      );
      ctx.log.info(`${phase} boot: swtpm pid ${swtpm.pid} (TPM 2.0, ${req.tpm.model})`);
      tpm = swtpm;
    }
    const stopTpm = async (): Promise<void> => {
      await tpm?.stop().catch((e: unknown) => {
        ctx.log.warn(`stopping swtpm failed: ${e instanceof Error ? e.message : String(e)}`);
      });
    };
    let handle;
    try {
      handle = await launchQemu({
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
    } catch (e) {
      await stopTpm();
      throw e;
    }
    const h = handle;
    // the guest's swtpm goes with its qemu
    const exited = h.exited.then(async (exit) => {
      await stopTpm();
      return exit;
    });
    return {
      describe: `qemu pid ${handle.pid}`,
      qmp: handle.qmp,
      serial: handle.serial,
      exited,
      get exit() {
        return handle.exit;
      },
      get stopReason() {
        return handle.stopReason;
      },
      stop: async (reason) => {
        const r = await h.stop(reason);
        await exited;
        return r;
      },
      queryPci: () => queryPci(h.qmp),
      // the templates give a drive `X` the device id `X-dev`
      ejectCdrom: (drive) => eject(h.qmp, `${drive}-dev`),
    };
  },
};
