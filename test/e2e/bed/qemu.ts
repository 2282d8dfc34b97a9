/**
 * Runs one qemu-system-x86_64 for the test bed, always bounded: the console (first serial port) is
 * streamed from qemu's stdout, QMP events are collected from a unix socket (qemu waits for it
 * before starting the guest, so no event is missed), and qemu is killed on timeout, on a console
 * match, on abort, and when the Node process exits (a mocha timeout or failure never leaves a
 * qemu behind).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { privateTempDir, rmrf, run } from './util.js';

export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
  timestamp?: { seconds: number; microseconds: number };
}

export interface RunQemuOptions {
  /** qemu's arguments, without the console and QMP ones (added here) */
  args: readonly string[];
  timeoutMs: number;
  /** stop qemu (SIGKILL) as soon as the console matches */
  stopWhen?: RegExp;
  /** stop qemu when the console has been silent this long after its first byte (result.stalled) */
  stallMs?: number;
  onConsole?: (chunk: string) => void;
  signal?: AbortSignal;
  /** collect QMP events (default true) */
  qmp?: boolean;
  binary?: string;
}

export interface QemuResult {
  /** everything the guest wrote on its first serial port */
  console: string;
  /** qemu's own stderr */
  stderr: string;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  /** true when stopWhen matched and qemu was stopped for it */
  matched: boolean;
  /** true when the console went silent for stallMs and qemu was stopped for it */
  stalled: boolean;
  aborted: boolean;
  events: QmpEvent[];
  /** the reason of the first SHUTDOWN event (guest-shutdown, guest-reset, host-qmp-quit, host-signal …) */
  shutdownReason: string | null;
  durationMs: number;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

/** Kills every qemu the bed started that is still running (for after/afterEach hooks). */
/** The start of every bed qemu argv: a q35 machine under TCG with no default devices and no display. */
export function baseTcgArgs(memoryMiB: number): string[] {
  return [
    '-nodefaults',
    '-no-user-config',
    '-display',
    'none',
    '-machine',
    'q35',
    '-accel',
    'tcg',
    '-m',
    String(memoryMiB),
  ];
}

export function killAllQemu(): void {
  for (const child of live) child.kill('SIGKILL');
}

/** The number of bed-started qemu processes still running. */
export function liveQemuCount(): number {
  return live.size;
}

async function waitForFile(file: string, ms: number, child: ChildProcess): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (existsSync(file)) return true;
    if (child.exitCode !== null || child.signalCode !== null) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}

function connectQmp(socket: string, events: QmpEvent[]): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const conn = net.createConnection(socket);
    let buf = '';
    conn.setEncoding('utf8');
    conn.on('data', (chunk: string) => {
      buf += chunk;
      let nl = buf.indexOf('\n');
      while (nl >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        nl = buf.indexOf('\n');
        if (line === '') continue;
        try {
          const msg = JSON.parse(line) as Record<string, unknown>;
          if ('QMP' in msg) conn.write('{"execute":"qmp_capabilities"}\n');
          else if (typeof msg.event === 'string') events.push(msg as unknown as QmpEvent);
        } catch {
          // not JSON: ignore
        }
      }
    });
    conn.once('connect', () => resolve(conn));
    conn.once('error', reject);
  });
}

export async function runQemu(options: RunQemuOptions): Promise<QemuResult> {
  installExitHook();
  const useQmp = options.qmp !== false;
  const tmp = await privateTempDir('ig-bed-qemu-');
  const qmpSock = path.join(tmp, 'qmp.sock');
  const args = [
    '-chardev',
    'stdio,id=bedcon,signal=off',
    '-serial',
    'chardev:bedcon',
    ...(useQmp ? ['-qmp', `unix:${qmpSock},server=on,wait=on`] : []),
    ...options.args,
  ];
  const t0 = Date.now();
  const child = spawn(options.binary ?? 'qemu-system-x86_64', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  live.add(child);
  let consoleText = '';
  let stderr = '';
  let timedOut = false;
  let matched = false;
  let stalled = false;
  let aborted = false;
  let stallTimer: NodeJS.Timeout | undefined;
  const events: QmpEvent[] = [];
  let qmpConn: net.Socket | null = null;

  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', (err) => {
      stderr += `spawn error: ${err.message}\n`;
      resolve({ code: null, signal: null });
    });
  });
  const stop = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    consoleText += chunk;
    options.onConsole?.(chunk);
    if (options.stallMs !== undefined) {
      clearTimeout(stallTimer);
      stallTimer = setTimeout(() => {
        stalled = true;
        stop();
      }, options.stallMs);
    }
    if (options.stopWhen !== undefined && !matched && options.stopWhen.test(consoleText)) {
      matched = true;
      stop();
    }
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => (stderr += chunk));
  const timer = setTimeout(() => {
    timedOut = true;
    stop();
  }, options.timeoutMs);
  const onAbort = (): void => {
    aborted = true;
    stop();
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) onAbort();

  try {
    if (useQmp) {
      // qemu waits for this connection before it starts the guest; the socket file exists a
      // moment before qemu listens on it, so a refused connection is retried
      const deadline = Date.now() + 30_000;
      while (
        qmpConn === null &&
        Date.now() < deadline &&
        child.exitCode === null &&
        child.signalCode === null
      ) {
        if (await waitForFile(qmpSock, 1000, child))
          qmpConn = await connectQmp(qmpSock, events).catch(() => null);
        if (qmpConn === null) await new Promise((r) => setTimeout(r, 50));
      }
      if (qmpConn === null) stderr += 'testbed: could not connect to QMP; qemu never started the guest\n';
    }
    const { code, signal } = await exited;
    // let the last QMP lines and console bytes arrive
    await new Promise((r) => setTimeout(r, 50));
    const shutdown = events.find((e) => e.event === 'SHUTDOWN');
    const reason = shutdown?.data?.reason;
    return {
      console: consoleText,
      stderr,
      exitCode: code,
      signal,
      timedOut,
      matched,
      stalled,
      aborted,
      events,
      shutdownReason: typeof reason === 'string' ? reason : null,
      durationMs: Date.now() - t0,
    };
  } finally {
    clearTimeout(timer);
    clearTimeout(stallTimer);
    options.signal?.removeEventListener('abort', onAbort);
    stop();
    await exited;
    live.delete(child);
    qmpConn?.destroy();
    await rmrf(tmp);
  }
}

/** The last `lines` lines of a console log, for error messages. */
export function tail(text: string, lines = 40): string {
  return text.split('\n').slice(-lines).join('\n');
}

/** Creates a qcow2 disk image. */
export async function createDisk(file: string, sizeMiB: number): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  await run('qemu-img', ['create', '-q', '-f', 'qcow2', file, `${sizeMiB}M`]);
}
