import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { inputError } from '../errors.js';
import type { Stage } from '../pipeline/stage.js';
import type { InstallState } from '../pipeline/state.js';

/**
 * A private work dir (0700) for QMP sockets and generated files, removed at the end, and the log dir
 * (0700), kept. Also fixes the run's volatile values (UUID, MAC) from the injected id source.
 */
export const prepareWorkdir: Stage<InstallState> = {
  name: 'prepare-workdir',
  changesHost: true,
  needs: ['request'],
  plan: ({ state, host }) => ({
    workDir: '<workdir>',
    logDir: state.request!.logDir,
    uuid: host.ids.uuid(),
    mac: host.ids.mac(),
  }),
  async run({ state, host }) {
    // the log dir first: it is the user's input, and a failure here leaves no work dir behind
    const logDir = state.request!.logDir;
    try {
      await mkdir(logDir, { recursive: true, mode: 0o700 });
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw inputError('BAD_LOG_DIR', `--log-dir '${logDir}' cannot be created: ${err.code ?? err.message}`, {
        hint: 'give a directory path you can write to (default: ./<name>-logs)',
      });
    }
    const workDir = await mkdtemp(path.join(os.tmpdir(), 'install-guest-'));
    try {
      await chmod(workDir, 0o700);
      return { workDir, logDir, uuid: host.ids.uuid(), mac: host.ids.mac() };
    } catch (e) {
      await rm(workDir, { recursive: true, force: true });
      throw e;
    }
  },
  async cleanup({ state }) {
    if (state.workDir && state.workDir !== '<workdir>')
      await rm(state.workDir, { recursive: true, force: true });
  },
};
