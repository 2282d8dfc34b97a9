/**
 * --tpm emulator on the qemu backend: one swtpm per boot, as libvirt runs it (qemuTPMEmulatorBuildCommand):
 *
 *   swtpm socket --tpm2 --tpmstate dir=.,mode=0600 --ctrl type=unixio,path=SOCK,mode=0600
 *                --log fd=3,level=1 --terminate      (fd 3: a pipe into swtpm-<phase>.log)
 *
 * The TPM state is the guest's, like its vars store: a private directory (0700) in the log dir,
 * kept from the install boot to the confirm boot and after (a later boot of the disk finds the
 * same TPM). swtpm runs in it (`dir=.`: swtpm's option values cannot escape a comma, so the user's
 * log dir never goes into one); the control socket lives in the install's private work dir and is
 * 0600. swtpm's own log goes to `swtpm-<phase>.log` beside qemu's. It is started before qemu, which
 * connects to the socket (-chardev socket … -tpmdev emulator), ends when qemu closes that
 * connection (--terminate), and is stopped with the boot in any case; `setpriv --pdeathsig KILL`
 * ends it with install-guest, as qemu is.
 */
import { createWriteStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { hostError } from '../errors.js';
import { findSetpriv, MAX_UNIX_SOCKET_PATH } from './process.js';

export interface SwtpmFiles {
  /** the TPM's state directory (created 0700 when missing) */
  stateDir: string;
  /** the control socket qemu connects to */
  socket: string;
  /** swtpm's log */
  logFile: string;
}

/** swtpm's argv for one boot (pure); runs with the state directory as its working directory. */
export function swtpmArgs(socket: string): string[] {
  return [
    'socket',
    '--tpm2',
    '--tpmstate',
    'dir=.,mode=0600',
    '--ctrl',
    `type=unixio,path=${socket},mode=0600`,
    '--log',
    // fd 3, a pipe install-guest copies into the log (swtpm refuses fd=2; a file= path would need
    // commas escaped, which swtpm's option parser cannot)
    'fd=3,level=1',
    '--terminate',
  ];
}

/** The guest's TPM state directory: `<name>_TPM` in its log dir, beside `<name>_VARS.fd`. */
export function tpmStateDir(logDir: string, safeName: string): string {
  return path.join(logDir, `${safeName}_TPM`);
}

export interface SwtpmHandle {
  readonly pid: number;
  /** Stops swtpm (SIGTERM, then SIGKILL after 2 s); idempotent, never rejects. */
  stop(): Promise<void>;
}

const SOCKET_WAIT_MS = 5000;

/**
 * Starts swtpm and waits until its control socket exists. Throws SWTPM_NOT_FOUND (not installed)
 * or SWTPM_FAILED (bad socket path, or swtpm exited or did not listen; its last log line said why).
 */
export async function startSwtpm(files: SwtpmFiles, signal?: AbortSignal): Promise<SwtpmHandle> {
  if (files.socket.includes(',') || Buffer.byteLength(files.socket) > MAX_UNIX_SOCKET_PATH)
    throw hostError(
      'SWTPM_FAILED',
      `the TPM's control socket path cannot be given to swtpm: ${files.socket}`,
      {
        hint: 'set TMPDIR to a short path without commas',
      },
    );
  await fs.mkdir(files.stateDir, { recursive: true, mode: 0o700 });
  await fs.chmod(files.stateDir, 0o700);
  await fs.rm(files.socket, { force: true });
  const setpriv = await findSetpriv();
  const [cmd, args] = setpriv
    ? [setpriv, ['--pdeathsig', 'KILL', '--', 'swtpm', ...swtpmArgs(files.socket)]]
    : ['swtpm', swtpmArgs(files.socket)];
  const log = createWriteStream(files.logFile, { flags: 'a', mode: 0o600 });
  let tail = '';
  let child: ResultPromise<{ cwd: string; stdio: ['ignore', 'pipe', 'pipe', 'pipe']; reject: false }>;
  try {
    child = execa(cmd, args, {
      cwd: files.stateDir,
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
      reject: false,
    });
  } catch (e) {
    log.end();
    throw hostError('SWTPM_FAILED', `swtpm could not be started: ${(e as Error).message}`, {
      hint: 'apt-get install swtpm',
    });
  }
  const onData = (b: Buffer): void => {
    log.write(b);
    tail = (tail + b.toString('utf8')).slice(-4096);
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  child.stdio[3]?.on('data', onData);
  const logClosed = child.then(() => new Promise<void>((r) => log.end(r)));
  let exited = false;
  const done = child.then((r) => {
    exited = true;
    return r;
  });
  const lastLine = (): string =>
    tail
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '')
      .pop() ?? '';
  const stop = async (): Promise<void> => {
    if (!exited) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 2000);
      await done;
      clearTimeout(t);
    } else {
      await done;
    }
    await logClosed;
    await fs.rm(files.socket, { force: true });
  };

  const t0 = Date.now();
  while (!(await fs.lstat(files.socket).catch(() => null))?.isSocket()) {
    if (exited || signal?.aborted || Date.now() - t0 > SOCKET_WAIT_MS) {
      const r = await (exited ? done : stop().then(() => done));
      const notFound = r.failed && /ENOENT/.test(String(r.message)) && !setpriv;
      if (notFound || (setpriv && r.exitCode === 127))
        throw hostError('SWTPM_NOT_FOUND', 'swtpm is not installed: --tpm emulator needs it', {
          hint: 'apt-get install swtpm swtpm-tools',
        });
      const why = lastLine() || (exited ? `exit status ${r.exitCode ?? r.signal}` : 'no control socket');
      throw hostError(
        'SWTPM_FAILED',
        `swtpm did not start for the guest's TPM: ${why} (log ${files.logFile})`,
        { hint: `check the TPM state directory ${files.stateDir}`, data: { logPath: files.logFile } },
      );
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return { pid: child.pid ?? 0, stop };
}
