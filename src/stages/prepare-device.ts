import { hostError } from '../errors.js';
import type { Stage } from '../pipeline/stage.js';
import type { InstallState } from '../pipeline/state.js';

/**
 * Detaches the selected devices from their host drivers and binds them to vfio-pci; cleanup gives
 * them back. A dry run plans the binding without touching the host.
 */
export const prepareDevice: Stage<InstallState> = {
  name: 'prepare-device',
  changesHost: true,
  plan: ({ state }) => ({ prepared: state.devices ?? [] }),
  run({ state }) {
    if ((state.devices ?? []).length === 0) return Promise.resolve({ prepared: [] });
    return Promise.reject(
      hostError('NOT_IMPLEMENTED', 'binding devices to vfio-pci is not implemented yet', {
        hint: 'use --dry-run to see the plan, or install without --hostdev',
      }),
    );
  },
};
