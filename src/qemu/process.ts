/**
 * Launching and supervising one qemu process: execa with an argv array (never a shell), its QMP
 * socket and serial console in the install's private work directory.
 *
 * Serial console design: install-guest LISTENS on a unix socket before qemu starts, and the argv
 * makes qemu CONNECT to it as a client:
 *
 *     -chardev socket,id=serial0,path=<workDir>/serial.sock
 *     -serial chardev:serial0
 *     -qmp unix:<workDir>/qmp.sock,server=on,wait=off
 *
 * qemu connects while it creates its chardevs, before the guest's first instruction, so no byte
 * is ever lost (the guarantee `server=on,wait=on` gives, without its start-up deadlock: with
 * wait=on qemu blocks before creating the QMP socket). There is no polling for the serial socket,
 * and a listener that is missing makes qemu exit at once with a clear message. Every byte is
 * appended to the serial log as it arrives and handed, in order, to `handle.serial.stream` for the
 * console watcher. `-serial file:<path>` also works (pass no serialSocketPath), but then nothing
 * can be watched live.
 */
import { constants as fsConstants, createWriteStream, promises as fs } from 'node:fs';
import net from 'node:net';
import { PassThrough } from 'node:stream';
import { execa } from 'execa';
import { InstallGuestError, guestError, hostError, interruptedError } from '../errors.js';
import { connectQmp, type QmpClient } from './qmp/client.js';
import { quit } from './qmp/commands.js';

/** sun_path is 108 bytes on Linux, including the terminating NUL */
export const MAX_UNIX_SOCKET_PATH = 107;
const STDERR_TAIL_BYTES = 8192;

export interface LaunchQemuOptions {
  /** e.g. `qemu-system-x86_64` (looked up in PATH) or an absolute path */
  binary: string;
  /** the arguments, one per element, exactly as qemu gets them */
  argv: readonly string[];
  /** the install's private work directory (0700); qemu runs there */
  workDir: string;
  /** the path in the argv's `-qmp unix:<path>,server=on,wait=off` */
  qmpSocketPath: string;
  /** where the serial console is saved, whole (created 0600) */
  serialLogPath: string;
  /** the path in the argv's `-chardev socket,id=serial0,path=<path>` (qemu connects to us) */
  serialSocketPath?: string;
  /** JSON-lines QMP transcript for the log folder */
  qmpTranscriptPath?: string;
  /** where the caller saved the argv (named in start-up errors) */
  argvFilePath?: string;
  /** qemu's stdout and stderr, whole */
  stderrLogPath?: string;
  /** deadline for qemu to answer QMP after start; default 30 s */
  timeoutMs?: number;
  /** hard bound on the process's life: it is stopped (quit → SIGTERM → SIGKILL) after this */
  maxLifetimeMs?: number;
  /** aborting stops qemu (and a launch in progress) */
  signal?: AbortSignal;
  env?: Record<string, string>;
  /**
   * Tie qemu's life to this process (default true): qemu is started through util-linux's
   * `setpriv --pdeathsig KILL`, so when install-guest dies, even by SIGKILL, the kernel kills qemu
   * too and the device's /dev/vfio group is released for `install-guest recover`. Without setpriv
   * on PATH qemu starts directly (an orphaned qemu then keeps the device until it exits).
   */
  dieWithParent?: boolean;
}

let setprivPath: Promise<string | null> | undefined;

/** util-linux's setpriv on PATH, looked up once. */
export function findSetpriv(): Promise<string | null> {
  setprivPath ??= (async () => {
    for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':')) {
      if (!dir) continue;
      const candidate = `${dir}/setpriv`;
      if (
        await fs.access(candidate, fsConstants.X_OK).then(
          () => true,
          () => false,
        )
      )
        return candidate;
    }
    return null;
  })();
  return setprivPath;
}

/**
 * The program and arguments that start qemu (pure): through `setpriv --pdeathsig KILL --` when a
 * setpriv path is given. setpriv execs qemu, so the PID is qemu's and the argv is unchanged.
 */
export function qemuSpawnArgv(
  binary: string,
  argv: readonly string[],
  setpriv: string | null,
): [string, string[]] {
  return setpriv ? [setpriv, ['--pdeathsig', 'KILL', '--', binary, ...argv]] : [binary, [...argv]];
}

export interface QemuExit {
  /** exit code, or null when a signal ended it */
  code: number | null;
  signal: string | null;
  /** the last lines qemu wrote to stderr/stdout (at most 8 KiB) */
  stderrTail: string;
  /** ms from launch to exit */
  durationMs: number;
}

export type StopStep = 'quit' | 'SIGTERM' | 'SIGKILL';

export interface StopOptions {
  /** wait after QMP `quit`; default 2000 ms */
  quitWaitMs?: number;
  /** wait after SIGTERM; default 2000 ms */
  termWaitMs?: number;
  /** wait after SIGKILL; default 5000 ms */
  killWaitMs?: number;
}

export interface StopResult {
  exit: QemuExit;
  /** what it took, in order ([] when qemu had already exited) */
  steps: StopStep[];
  /** ms from the stop request to the process being gone */
  ms: number;
  reason: string;
}

export interface SerialConsole {
  /** every console byte in order, from qemu's first; ends when qemu closes the console */
  readonly stream: PassThrough;
  readonly logPath: string;
  /** resolves when the console ended and the log file is flushed */
  readonly ended: Promise<void>;
  /** bytes received so far */
  readonly bytes: number;
}

export interface QemuHandle {
  readonly pid: number;
  readonly qmp: QmpClient;
  readonly serial: SerialConsole;
  /** settles (never rejects) when the process has exited */
  readonly exited: Promise<QemuExit>;
  /** the exit, once it happened */
  readonly exit: QemuExit | undefined;
  /** why stop() was first called, if it was */
  readonly stopReason: string | undefined;
  /** Stops qemu: QMP quit, then SIGTERM, then SIGKILL, each with a short bounded wait. Idempotent. */
  stop(reason: string, opts?: StopOptions): Promise<StopResult>;
}

class Tail {
  private buf = '';
  push(s: string): void {
    this.buf += s;
    if (this.buf.length > STDERR_TAIL_BYTES * 2) this.buf = this.buf.slice(-STDERR_TAIL_BYTES);
  }
  get text(): string {
    return this.buf.slice(-STDERR_TAIL_BYTES).trim();
  }
}

function lastLine(s: string): string {
  const lines = s
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  return lines[lines.length - 1] ?? '';
}

async function removeStaleSocket(p: string): Promise<void> {
  const st = await fs.lstat(p).catch(() => null);
  if (st?.isSocket()) await fs.unlink(p);
}

function checkSocketPath(p: string, what: string): void {
  if (Buffer.byteLength(p) > MAX_UNIX_SOCKET_PATH) {
    throw hostError(
      'SOCKET_PATH_TOO_LONG',
      `the ${what} socket path is ${Buffer.byteLength(p)} bytes, more than the ${MAX_UNIX_SOCKET_PATH} a unix socket allows: ${p}`,
      {
        hint: 'use a shorter work directory (e.g. set TMPDIR to a short path)',
        data: { path: p },
      },
    );
  }
}

function timeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<undefined>((r) => (t = setTimeout(() => r(undefined), ms)))]).finally(
    () => clearTimeout(t),
  );
}

/** Opens the serial listener (qemu connects to it) and the log file. */
async function openSerial(
  socketPath: string | undefined,
  logPath: string,
): Promise<{
  console: SerialConsole;
  /** qemu exited: end the console once the connection has delivered its last bytes */
  onExit: () => void;
}> {
  const stream = new PassThrough();
  let bytes = 0;
  let resolveEnded!: () => void;
  const ended = new Promise<void>((r) => (resolveEnded = r));
  const console: SerialConsole = {
    stream,
    logPath,
    ended,
    get bytes() {
      return bytes;
    },
  };
  if (!socketPath) {
    let done = false;
    return {
      console,
      onExit: () => {
        if (done) return;
        done = true;
        stream.end();
        resolveEnded();
      },
    };
  }
  const log = createWriteStream(logPath, { flags: 'w', mode: 0o600 });
  log.on('error', () => undefined);
  let finished = false;
  const server = net.createServer();
  const finish = (): void => {
    if (finished) return;
    finished = true;
    server.close();
    stream.end();
    log.end(() => resolveEnded());
  };
  let connected = false;
  const onExit = (): void => {
    // Never connected (or -serial file:): nothing more can come. Connected: the socket closes
    // after its last bytes are read, which ends the console; the timer only guards against a
    // connection that somehow outlives the process.
    if (!connected) finish();
    else setTimeout(finish, 5000).unref();
  };
  server.on('connection', (sock) => {
    // qemu connects once; a second client (nobody else should know the path) is refused
    if (connected) {
      sock.destroy();
      return;
    }
    connected = true;
    sock.on('data', (buf: Buffer) => {
      if (finished) return;
      bytes += buf.length;
      log.write(buf);
      stream.write(buf);
    });
    sock.on('error', () => undefined);
    sock.on('close', finish);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return { console, onExit };
}

/**
 * Starts qemu and connects to its QMP monitor. Resolves once QMP answered `qmp_capabilities`.
 * qemu dying first → guestError QEMU_EXITED_EARLY with its stderr tail and the argv file.
 */
export async function launchQemu(opts: LaunchQemuOptions): Promise<QemuHandle> {
  const started = performance.now();
  checkSocketPath(opts.qmpSocketPath, 'QMP');
  if (opts.serialSocketPath) checkSocketPath(opts.serialSocketPath, 'serial console');
  await removeStaleSocket(opts.qmpSocketPath);
  if (opts.serialSocketPath) await removeStaleSocket(opts.serialSocketPath);
  if (opts.signal?.aborted)
    throw interruptedError(typeof opts.signal.reason === 'string' ? opts.signal.reason : 'signal');

  const serial = await openSerial(opts.serialSocketPath, opts.serialLogPath);
  const tail = new Tail();
  const stderrLog = opts.stderrLogPath
    ? createWriteStream(opts.stderrLogPath, { flags: 'w', mode: 0o600 })
    : undefined;
  stderrLog?.on('error', () => undefined);

  const [program, programArgs] = qemuSpawnArgv(
    opts.binary,
    opts.argv,
    opts.dieWithParent === false ? null : await findSetpriv(),
  );
  const child = execa(program, programArgs, {
    cwd: opts.workDir,
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
    buffer: false,
    reject: false,
    cleanup: true,
    env: opts.env,
    extendEnv: true,
  });
  const onOutput = (d: Buffer): void => {
    tail.push(d.toString('utf8'));
    stderrLog?.write(d);
  };
  child.stdout?.on('data', onOutput);
  child.stderr?.on('data', onOutput);

  let exitInfo: QemuExit | undefined;
  let spawnError: string | undefined;
  const exited: Promise<QemuExit> = child.then(
    async (r) => {
      if (r.failed && r.exitCode === undefined && r.signal === undefined)
        spawnError = r.code ?? r.shortMessage ?? 'spawn failed';
      await new Promise<void>((res) => (stderrLog ? stderrLog.end(res) : res()));
      exitInfo = {
        code: r.exitCode ?? null,
        signal: r.signal ?? null,
        stderrTail: tail.text,
        durationMs: Math.round(performance.now() - started),
      };
      serial.onExit();
      return exitInfo;
    },
    (e: unknown) => {
      spawnError = String(e);
      serial.onExit();
      exitInfo = {
        code: null,
        signal: null,
        stderrTail: tail.text,
        durationMs: Math.round(performance.now() - started),
      };
      return exitInfo;
    },
  );

  let qmp: QmpClient | undefined;
  let stopping: Promise<StopResult> | undefined;
  let stopReason: string | undefined;

  const stop = (reason: string, so: StopOptions = {}): Promise<StopResult> => {
    if (stopping) return stopping;
    stopReason = reason;
    stopping = (async () => {
      const t0 = performance.now();
      const steps: StopStep[] = [];
      const done = (): StopResult => ({
        exit: exitInfo as QemuExit,
        steps,
        ms: Math.round(performance.now() - t0),
        reason,
      });
      if (exitInfo) return done();
      if (qmp?.isOpen) {
        steps.push('quit');
        quit(qmp, { timeoutMs: so.quitWaitMs ?? 2000 }).catch(() => undefined);
        if (await timeout(exited, so.quitWaitMs ?? 2000)) return done();
      }
      steps.push('SIGTERM');
      child.kill('SIGTERM');
      if (await timeout(exited, so.termWaitMs ?? 2000)) return done();
      steps.push('SIGKILL');
      child.kill('SIGKILL');
      if (await timeout(exited, so.killWaitMs ?? 5000)) return done();
      throw hostError('QEMU_WONT_DIE', `qemu (pid ${child.pid ?? '?'}) did not exit after SIGKILL`, {
        hint: 'the process is stuck in the kernel (D state); check dmesg and the vfio device',
        data: { pid: child.pid },
      });
    })();
    return stopping;
  };

  const lifetime = opts.maxLifetimeMs
    ? setTimeout(
        () => void stop(`lifetime limit of ${opts.maxLifetimeMs} ms reached`).catch(() => undefined),
        opts.maxLifetimeMs,
      )
    : undefined;
  const onAbort = (): void => void stop('aborted').catch(() => undefined);
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  void exited.then(() => {
    if (lifetime) clearTimeout(lifetime);
    opts.signal?.removeEventListener('abort', onAbort);
  });

  // Connect to QMP, giving up as soon as qemu exits.
  const giveUp = new AbortController();
  void exited.then(() => giveUp.abort(new Error('qemu exited')));
  const connectSignal = opts.signal ? AbortSignal.any([giveUp.signal, opts.signal]) : giveUp.signal;
  try {
    qmp = await connectQmp({
      path: opts.qmpSocketPath,
      timeoutMs: opts.timeoutMs ?? 30_000,
      signal: connectSignal,
      transcriptPath: opts.qmpTranscriptPath,
    });
  } catch (e) {
    // qemu may create its QMP socket and then fail (a bad -device comes after the monitor): a
    // connection closed before the greeting means "look at the process" too
    const ex = exitInfo ?? (await timeout(exited, giveUp.signal.aborted ? 10_000 : 2000));
    if (ex) {
      // through setpriv, a missing emulator is setpriv's exit 127 with "failed to execute"
      const execFailed = /^setpriv: failed to execute .*$/m.exec(ex.stderrTail);
      if (!spawnError && ex.code === 127 && execFailed) spawnError = execFailed[0].replace(/^setpriv: /, '');
      if (spawnError) {
        throw hostError('QEMU_NOT_FOUND', `cannot run ${opts.binary}: ${spawnError}`, {
          hint: 'install qemu-system-x86 (Debian) / qemu-kvm (Fedora) or pass the emulator path',
          data: { binary: opts.binary },
        });
      }
      const why = ex.signal ? `was killed by ${ex.signal}` : `exited with code ${ex.code ?? '?'}`;
      const msg = lastLine(ex.stderrTail) || 'no message on stderr';
      throw guestError('QEMU_EXITED_EARLY', `qemu ${why} before answering QMP: ${msg}`, {
        hint: opts.argvFilePath ? `the full command is in ${opts.argvFilePath}` : 'check the qemu arguments',
        data: {
          code: ex.code,
          signal: ex.signal,
          stderrTail: ex.stderrTail,
          argvFile: opts.argvFilePath,
          binary: opts.binary,
        },
      });
    }
    await stop(e instanceof InstallGuestError ? e.code : 'launch failed').catch(() => undefined);
    throw e;
  }

  const client = qmp;
  return {
    pid: child.pid ?? -1,
    qmp: client,
    serial: serial.console,
    exited,
    get exit() {
      return exitInfo;
    },
    get stopReason() {
      return stopReason;
    },
    stop,
  };
}
