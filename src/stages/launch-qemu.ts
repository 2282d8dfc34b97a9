/**
 * The install boot: starts qemu with the install argv, watches its console and QMP until the
 * installer powers the guest off (or asks to reboot under -no-reboot), and always stops qemu.
 * With --import there is no install boot (the confirm boot is the disk's only one).
 *
 * Launch and watch are ONE stage on purpose: the live qemu handle (a process, two sockets, a
 * stream) is not state another stage could pick up, and the only way to guarantee "never a qemu
 * left behind" without a module-level registry (stages are shared by parallel batch installs) is
 * a try/finally around launch + supervision in the same function. The shared helpers below are
 * used by reboot-and-confirm for the second boot.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { InstallGuestError } from '../errors.js';
import type { Stage, StageContext } from '../pipeline/stage.js';
import type { InstallState } from '../pipeline/state.js';
import { formatArgs, type Phase } from '../qemu/command.js';
import type { SuperviseEvent } from '../qemu/completion.js';
import type { BootHandle, PhaseFiles } from '../backend/types.js';
import type { InstallerFamily } from '../qemu/rules/types.js';
import { need } from '../pipeline/stage.js';

/** default for --stall-timeout */
export const DEFAULT_STALL_TIMEOUT_S = 600;
/** default for --wait */
export const DEFAULT_WAIT_MIN = 120;

/** The rule pack for the media's installer: the resolved installer, else guessed from the OS family. */
export function installerFamily(state: Pick<InstallState, 'media' | 'request'>): InstallerFamily {
  const inst = state.media?.installer;
  if (inst === 'anaconda' || inst === 'debian-installer') return inst;
  const fam = (state.media?.family ?? state.request?.osVariant ?? '').toLowerCase();
  if (/^(fedora|rhel|centos|rocky|alma|ol\d|oraclelinux)/.test(fam)) return 'anaconda';
  if (/^(debian|ubuntu)/.test(fam)) return 'debian-installer';
  return 'generic-linux';
}

export type { PhaseFiles } from '../backend/types.js';

/** Where one boot's files go (sockets in the private work dir, logs in the log dir). */
export function phaseFiles(workDir: string, logDir: string, phase: Phase): PhaseFiles {
  return {
    argvFile: path.join(logDir, `${phase}.args`),
    serialLog: path.join(logDir, `serial-${phase}.log`),
    qmpLog: path.join(logDir, `qmp-${phase}.jsonl`),
    stderrLog: path.join(logDir, `qemu-${phase}.log`),
    qmpSocket: path.join(workDir, `qmp-${phase}.sock`),
    serialSocket: path.join(workDir, `serial-${phase}.sock`),
  };
}

/** Both boots' argv, one argument per line, into the log dir (again when a fallback re-renders them). */
async function writeArgvFiles(logDir: string, argv: { install: string[]; confirm: string[] }): Promise<void> {
  await writeFile(path.join(logDir, 'install.args'), formatArgs(argv.install), { mode: 0o600 });
  await writeFile(path.join(logDir, 'confirm.args'), formatArgs(argv.confirm), { mode: 0o600 });
}

/** The console and stderr logs of one boot (kept aside when the boot is restarted under tcg). */
export function hungLogs(ctx: StageContext<InstallState>, phase: Phase): string[] {
  const f = phaseFiles(need(ctx.state, 'workDir'), need(ctx.state, 'logDir'), phase);
  return [f.serialLog, f.stderrLog];
}

/**
 * Starts one boot through the install's backend (qemu run directly, or a libvirt domain with
 * --connect; src/backend/). Throws QEMU_EXITED_EARLY / QEMU_NOT_FOUND / LIBVIRT_* errors.
 */
export async function startPhase(
  ctx: StageContext<InstallState>,
  phase: Phase,
  argv: readonly string[],
  maxLifetimeMs: number,
): Promise<{ handle: BootHandle; files: PhaseFiles }> {
  const { backendFor } = await import('../backend/select.js');
  const files = phaseFiles(need(ctx.state, 'workDir'), need(ctx.state, 'logDir'), phase);
  const handle = await (await backendFor(ctx.state)).startBoot(ctx, phase, argv, files, maxLifetimeMs);
  ctx.log.info(`${phase} boot: ${handle.describe}, serial log ${files.serialLog}`);
  return { handle, files };
}

/** Forwards supervision events to the stage log (the CLI's reporter). */
export function forwardEvents(ctx: StageContext<InstallState>, phase: Phase): (e: SuperviseEvent) => void {
  return (e) => {
    switch (e.type) {
      case 'progress':
        ctx.log.progress?.(e.fraction, e.text);
        break;
      case 'milestone':
        ctx.log.progress?.(undefined, e.text);
        ctx.log.event?.({ event: 'milestone', phase, text: e.text });
        break;
      case 'warning':
        ctx.log.warn(`${phase} console: ${e.message}: ${e.line}`);
        break;
      case 'qmp':
        ctx.log.event?.({ event: 'qmp', phase, name: e.event, data: e.data });
        break;
      case 'stopping':
        ctx.log.info(`${phase} boot: stopping qemu (${e.reason})`);
        break;
      default:
        break;
    }
  };
}

/**
 * Adds the names the batch report reads (`fatalLine`, `logPath`) to a supervision error; other
 * errors pass unchanged.
 */
export function withReportFields(e: unknown, serialLog: string): unknown {
  if (!(e instanceof InstallGuestError)) return e;
  const data = e.data ?? {};
  const line = typeof data.line === 'string' ? data.line : undefined;
  return new InstallGuestError(e.kind, e.code, e.message, {
    ...(e.hint !== undefined ? { hint: e.hint } : {}),
    cause: e,
    data: { ...data, ...(line !== undefined ? { fatalLine: line } : {}), logPath: serialLog },
  });
}

export const launchQemu: Stage<InstallState> = {
  name: 'launch-qemu',
  changesHost: true,
  needs: ['request', 'argv', 'logDir', 'workDir'],
  async run(ctx) {
    const { state } = ctx;
    const req = need(state, 'request');
    const argv = need(state, 'argv');
    const logDir = need(state, 'logDir');
    await writeArgvFiles(logDir, argv);
    if (req.import) {
      // nothing to install: the disk's one boot is the confirm boot. Booting it here as well would
      // wait for an installed system to power off by itself, which a real one never does.
      ctx.log.info('--import: nothing to install; the disk boots once, to confirm');
      return {};
    }

    const stallTimeoutMs = (req.stallTimeoutSeconds ?? DEFAULT_STALL_TIMEOUT_S) * 1000;
    const deadlineMs = (req.waitMinutes ?? DEFAULT_WAIT_MIN) * 60_000;
    const family = installerFamily(state);
    const { rulesFor, watch } = await import('../qemu/watch.js');
    const { superviseInstall } = await import('../qemu/completion.js');

    const { bootWithFallback } = await import('./early-boot.js');
    const bootOnce = async (installArgv: readonly string[], earlyBootMs: number | undefined) => {
      const t0 = performance.now();
      const { handle, files } = await startPhase(ctx, 'install', installArgv, deadlineMs + 60_000);
      try {
        const watcher = watch(handle.serial.stream, { rules: rulesFor(family) });
        const outcome = await superviseInstall({
          handle,
          watcher,
          stallTimeoutMs,
          deadlineMs,
          ...(earlyBootMs !== undefined ? { earlyBootMs } : {}),
          signal: ctx.signal,
          onEvent: forwardEvents(ctx, 'install'),
          serialLogPath: files.serialLog,
          noReboot: true,
        });
        const ms = Math.round(performance.now() - t0);
        ctx.log.info(
          `install finished in ${(ms / 1000).toFixed(1)} s (${outcome.how}, ${outcome.shutdownReason})`,
        );
        return {
          installRun: {
            ms,
            how: outcome.how,
            shutdownReason: outcome.shutdownReason,
            rules: family,
            resets: outcome.resets,
            serialBytes: outcome.serialBytes,
            warnings: outcome.warnings.map((w) => `${w.message}: ${w.line}`),
            ...files,
          },
        };
      } catch (e) {
        throw withReportFields(e, files.serialLog);
      } finally {
        await handle.stop('install phase over').catch((e: unknown) => {
          ctx.log.warn(`stopping the install qemu failed: ${e instanceof Error ? e.message : String(e)}`);
        });
      }
    };
    const { value, changed } = await bootWithFallback(ctx, 'install', hungLogs(ctx, 'install'), bootOnce);
    if (changed.argv) {
      await writeArgvFiles(logDir, changed.argv);
    }
    return { ...value, ...changed };
  },
};
