/**
 * The early-boot watchdog's policy, shared by the install boot and the confirm boot.
 *
 * Under KVM a guest may hang before its kernel prints anything (a /dev/kvm without hardware
 * virtualization does this after the launch probe passed). The watchdog (superviseInstall's
 * `earlyBootMs`) turns that into EARLY_BOOT_HANG within a bounded time instead of the stall
 * timeout; when the accelerator was chosen by `--accel auto`, the boot is started again under tcg
 * with a warning, and the rest of the run (the other boot too) stays on tcg.
 */
import { rename } from 'node:fs/promises';
import { InstallGuestError } from '../errors.js';
import type { StageContext } from '../pipeline/stage.js';
import type { InstallState } from '../pipeline/state.js';
import type { Phase } from '../qemu/command.js';
import { qemuInputs, renderBoth } from './build-command.js';
import { need } from '../pipeline/stage.js';

/** default for --early-boot-timeout under KVM (a KVM guest's kernel prints within seconds) */
export const DEFAULT_EARLY_BOOT_S = 60;

/** The watchdog's limit for this run: the option, else the default under KVM, else off. */
export function earlyBootMs(state: Pick<InstallState, 'request' | 'accel'>): number | undefined {
  const s = state.request?.earlyBootSeconds;
  if (s !== undefined) return s * 1000;
  return state.accel === 'kvm' ? DEFAULT_EARLY_BOOT_S * 1000 : undefined;
}

/** Both argvs rendered for tcg (the cpu the KVM choice picked does not apply). */
export function tcgArgv(state: InstallState): { install: string[]; confirm: string[] } {
  const inputs = { ...qemuInputs(state), accel: 'tcg' as const };
  delete inputs.cpu;
  return renderBoth(inputs);
}

/**
 * Runs one boot with the watchdog. A hang under KVM that `auto` chose restarts the boot under tcg
 * (the hung boot's console and stderr logs are kept beside, as `*.kvm-hang.log`); the state fields
 * that changed (accel, argv, accelDecision) come back with the boot's own result.
 */
export async function bootWithFallback<T>(
  ctx: StageContext<InstallState>,
  phase: Phase,
  /** the boot's console and stderr logs: a hung boot's are kept beside as `*.kvm-hang.log` */
  logs: readonly string[],
  boot: (argv: readonly string[], earlyBootMs: number | undefined) => Promise<T>,
): Promise<{ value: T; changed: Partial<InstallState> }> {
  const { state } = ctx;
  const t0 = performance.now();
  try {
    return { value: await boot(need(state, 'argv')[phase], earlyBootMs(state)), changed: {} };
  } catch (e) {
    const hung = e instanceof InstallGuestError && e.code === 'EARLY_BOOT_HANG';
    if (!hung || state.accel !== 'kvm' || need(state, 'request').accel !== 'auto') throw e;
    let argv: { install: string[]; confirm: string[] };
    try {
      argv = tcgArgv(state);
    } catch {
      throw e; // e.g. --cpu host, which tcg cannot run: the hang is the answer
    }
    for (const log of logs) await rename(log, log.replace(/\.log$/, '.kvm-hang.log')).catch(() => undefined);
    const afterMs = Math.round(performance.now() - t0);
    ctx.log.warn(
      `warning: the ${phase} boot hung in early boot under kvm (${e.message}); restarting it under tcg software emulation`,
    );
    const changed: Partial<InstallState> = {
      accel: 'tcg',
      argv,
      ...(state.accelDecision
        ? {
            accelDecision: {
              ...state.accelDecision,
              accel: 'tcg',
              reason: `${state.accelDecision.reason}; then the guest hung in early boot under kvm`,
              fallback: { phase, afterMs },
            },
          }
        : {}),
    };
    const value = await boot(
      argv[phase],
      need(state, 'request').earlyBootSeconds !== undefined ? earlyBootMs(state) : undefined,
    );
    return { value, changed };
  }
}
