import { hostError } from '../errors.js';
import type { Stage } from '../pipeline/stage.js';
import type { InstallState } from '../pipeline/state.js';

/** Starts qemu with the install argv, watches the console and QMP, then boots the installed disk to confirm. */
export const launchQemu: Stage<InstallState> = {
  name: 'launch-qemu',
  changesHost: true,
  run() {
    return Promise.reject(
      hostError('NOT_IMPLEMENTED', 'running the install is not implemented yet', {
        hint: 'use --dry-run --print-cmdline to see the qemu command lines',
      }),
    );
  },
};
