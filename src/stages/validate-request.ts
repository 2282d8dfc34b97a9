import { parseInstallRequest } from '../request/request.js';
import type { InstallState } from '../pipeline/state.js';
import type { Stage } from '../pipeline/stage.js';

/** Parses and checks every option; pure. Nothing has been touched when this fails. */
export const validateRequest: Stage<InstallState> = {
  name: 'validate-request',
  changesHost: false,
  run: ({ state }) => Promise.resolve({ request: parseInstallRequest(state.raw, state.cwd) }),
};
