import { parseInstallRequest } from '../request/request.js';
import type { InstallState } from '../pipeline/state.js';
import type { Stage } from '../pipeline/stage.js';

/**
 * Parses and checks every option, and that the emulator can be run (a dry run too: a real run
 * would stop at launch with the same QEMU_NOT_FOUND). Reads only; nothing has been touched when
 * this fails. With --cloud-init, also reads and checks the files its sub-options name.
 */
export const validateRequest: Stage<InstallState> = {
  name: 'validate-request',
  changesHost: false,
  async run({ state }) {
    const request = parseInstallRequest(state.raw, state.cwd, { libvirt: state.connect !== undefined });
    const { resolveQemuBinary } = await import('../qemu/binary.js');
    await resolveQemuBinary(request.qemuBinary, state.cwd);
    if (state.raw.cloudInit === undefined) return { request };
    const { checkCloudInit } = await import('../cloudinit/check.js');
    return {
      request,
      cloudInit: {
        options: await checkCloudInit(state.raw, request, state.cwd, undefined, state.connect?.uri),
      },
    };
  },
};
