import { parseInstallRequest } from '../request/request.js';
import type { InstallState } from '../pipeline/state.js';
import type { Stage } from '../pipeline/stage.js';

/** Parses and checks every option; reads only the files options name. Nothing has been touched when this fails. */
export const validateRequest: Stage<InstallState> = {
  name: 'validate-request',
  changesHost: false,
  async run({ state }) {
    const request = parseInstallRequest(state.raw, state.cwd);
    if (state.raw.cloudInit === undefined) return { request };
    const { checkCloudInit } = await import('../cloudinit/check.js');
    return { request, cloudInit: { options: await checkCloudInit(state.raw, request, state.cwd) } };
  },
};
