import { constants } from 'node:fs';
import { access, chmod, mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { inputError } from '../errors.js';
import type { Stage } from '../pipeline/stage.js';
import type { InstallState } from '../pipeline/state.js';
import { need } from '../pipeline/stage.js';

const badLogDir = (logDir: string, why: string): Error =>
  inputError('BAD_LOG_DIR', `--log-dir '${logDir}' cannot be created: ${why}`, {
    hint: 'give a directory path you can write to (default: ./<name>-logs)',
  });

/**
 * Reads only: the log dir is a writable directory, or its nearest existing ancestor is one (so
 * mkdir -p can make it). The real run checks this before creating it; a dry run checks only.
 */
export async function checkLogDir(logDir: string): Promise<void> {
  let dir = path.resolve(logDir);
  for (;;) {
    const s = await stat(dir).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? null : e));
    if (s instanceof Error) throw badLogDir(logDir, s.code ?? s.message);
    if (s) {
      if (!s.isDirectory()) throw badLogDir(logDir, 'ENOTDIR');
      const w = await access(dir, constants.W_OK | constants.X_OK).then(
        () => null,
        (e: NodeJS.ErrnoException) => e.code ?? 'EACCES',
      );
      if (w) throw badLogDir(logDir, w);
      return;
    }
    const up = path.dirname(dir);
    if (up === dir) return;
    dir = up;
  }
}

/**
 * A private work dir (0700) for QMP sockets and generated files, removed at the end, and the log dir
 * (0700), kept. Also fixes the run's volatile values (UUID, MAC) from the injected id source.
 */
export const prepareWorkdir: Stage<InstallState> = {
  name: 'prepare-workdir',
  changesHost: true,
  needs: ['request'],
  async plan({ state, host }) {
    await checkLogDir(need(state, 'request').logDir);
    return {
      workDir: '<workdir>',
      logDir: need(state, 'request').logDir,
      uuid: host.ids.uuid(),
      mac: host.ids.mac(),
    };
  },
  async run({ state, host }) {
    // the log dir first: it is the user's input, and a failure here leaves no work dir behind
    const logDir = need(state, 'request').logDir;
    await checkLogDir(logDir);
    try {
      await mkdir(logDir, { recursive: true, mode: 0o700 });
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw badLogDir(logDir, err.code ?? err.message);
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
