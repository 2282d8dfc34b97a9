import { buildQemuPlan, renderArgs } from '../qemu/command.js';
import type { QemuInputs } from '../qemu/command.js';
import type { Stage } from '../pipeline/stage.js';
import type { InstallState } from '../pipeline/state.js';
import path from 'node:path';
import { OVMF_CODE, OVMF_VARS, safeFileName } from '../request/request.js';
import { need } from '../pipeline/stage.js';

export function qemuInputs(state: InstallState): QemuInputs {
  const media = need(state, 'media');
  return {
    request: need(state, 'request'),
    accel: need(state, 'accel'),
    ...(state.cpu && state.accel === 'kvm' ? { cpu: state.cpu } : {}),
    uuid: need(state, 'uuid'),
    mac: need(state, 'mac'),
    workDir: need(state, 'workDir'),
    boot: media.boot,
    extraCdroms: [
      ...(media.attachCdrom ? [media.attachCdrom] : []),
      ...(state.extraCdroms ?? []),
    ],
    hostdevs: (state.prepared ?? state.devices ?? []).map(
      ({ address, romBar, romFile, multifunction, guestAddress }) => ({
        address,
        ...(romBar !== undefined ? { romBar } : {}),
        ...(romFile ? { romFile } : {}),
        ...(multifunction ? { multifunction } : {}),
        ...(guestAddress ? { guestAddress } : {}),
      }),
    ),
    network: state.network ?? need(state, 'request').network,
    ...(state.cloudInit?.seedIso || state.cloudInit?.smbiosSerial
      ? {
          seed: {
            ...(state.cloudInit.seedIso ? { iso: state.cloudInit.seedIso } : {}),
            ...(state.cloudInit.smbiosSerial ? { smbiosSerial: state.cloudInit.smbiosSerial } : {}),
          },
        }
      : {}),
    ...(firmwareOf(state) ? { firmware: firmwareOf(state)! } : {}),
  };
}

/** --boot uefi: OVMF's code (or loader=) and this guest's own vars store, kept in the log dir beside its disk's logs */
export function firmwareOf(
  state: InstallState,
): { code: string; vars: string; template: string } | undefined {
  const req = need(state, 'request');
  const uefi = req.boot?.uefi;
  if (!uefi) return undefined;
  return {
    code: uefi.loader ?? OVMF_CODE,
    vars: path.join(state.logDir ?? req.logDir, `${safeFileName(req.name)}_VARS.fd`),
    template: uefi.varsTemplate ?? OVMF_VARS,
  };
}

/** Both argvs (install boot and confirm boot) for these inputs; pure. */
export function renderBoth(inputs: QemuInputs): { install: string[]; confirm: string[] } {
  return {
    install: renderArgs('install', buildQemuPlan(inputs, 'install')),
    confirm: renderArgs('confirm', buildQemuPlan(inputs, 'confirm')),
  };
}

/** Renders both argvs (install boot and confirm boot) from the templates; pure. */
export const buildCommand: Stage<InstallState> = {
  name: 'build-command',
  changesHost: false,
  needs: ['request', 'media', 'workDir', 'uuid', 'mac', 'accel'],
  run({ state, dryRun, log }) {
    const argv = renderBoth(qemuInputs(state));
    // a real run with --print-cmdline shows both argvs before qemu starts (a dry run prints its plan)
    if (!dryRun && need(state, 'request').printCmdline) log.event?.({ event: 'cmdline', ...argv });
    return Promise.resolve({ argv });
  },
};
