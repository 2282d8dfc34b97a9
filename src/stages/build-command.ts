import { buildQemuPlan, renderArgs } from '../qemu/command.js';
import type { QemuInputs } from '../qemu/command.js';
import type { Stage } from '../pipeline/stage.js';
import type { InstallState } from '../pipeline/state.js';

export function qemuInputs(state: InstallState): QemuInputs {
  return {
    request: state.request!,
    accel: state.accel!,
    ...(state.cpu && state.accel === 'kvm' ? { cpu: state.cpu } : {}),
    uuid: state.uuid!,
    mac: state.mac!,
    workDir: state.workDir!,
    boot: state.media!.boot,
    extraCdroms: [
      ...(state.media!.attachCdrom ? [state.media!.attachCdrom] : []),
      ...(state.extraCdroms ?? []),
    ],
    hostdevs: (state.prepared ?? state.devices ?? []).map(({ address, romBar, romFile, multifunction }) => ({
      address,
      ...(romBar !== undefined ? { romBar } : {}),
      ...(romFile ? { romFile } : {}),
      ...(multifunction ? { multifunction } : {}),
    })),
    network: state.network ?? state.request!.network,
  };
}

/** Renders both argvs (install boot and confirm boot) from the templates; pure. */
export const buildCommand: Stage<InstallState> = {
  name: 'build-command',
  changesHost: false,
  needs: ['request', 'media', 'workDir', 'uuid', 'mac', 'accel'],
  run({ state, dryRun, log }) {
    const inputs = qemuInputs(state);
    const argv = {
      install: renderArgs('install', buildQemuPlan(inputs, 'install')),
      confirm: renderArgs('confirm', buildQemuPlan(inputs, 'confirm')),
    };
    // a real run with --print-cmdline shows both argvs before qemu starts (a dry run prints its plan)
    if (!dryRun && state.request!.printCmdline) log.event?.({ event: 'cmdline', ...argv });
    return Promise.resolve({ argv });
  },
};
