/**
 * A domain's serial console read THROUGH THE LIBVIRT CONNECTION, for a libvirt host whose files
 * install-guest cannot open (a remote URI): the serial port writes into a file that is a volume of
 * the host's storage pool, and a helper reads it as it grows with virStorageVolDownload (the same
 * storage API as `virsh vol-download --offset`), through the connection.
 *
 * Why not the console stream (virDomainOpenConsole on a pty): a pty moves only while a reader drains
 * it, so a slow or lost connection holds the guest at its next console write, and what it wrote
 * while no reader was attached is gone. A file never blocks the guest and loses nothing before the
 * reader attaches, while it lags, or after it stops.
 * Why a helper program: the node has no libvirt binding; Debian's python3-libvirt is the one
 * libvirt maintains (virt-install's own). It is passed to `python3 -c` as one argv element, its
 * arguments as further elements and the URI in the environment (not visible in `ps`): no shell, no
 * file to ship. One connection for the whole boot instead of a `virsh` per poll.
 *
 * Protocol: the helper writes "open" on stderr once the domain and the volume are found, then copies
 * every new byte of the volume to its stdout (every 100 ms) until the domain is gone or a "stop"
 * line arrives on its stdin (then one last read). A "destroy" line destroys the domain over the same
 * open connection ("destroyed" / "destroy-failed: …" on stderr): a fatal console line stops a remote
 * guest without the new connection (TCP or ssh, authentication) a `virsh destroy` would open first.
 */
import { existsSync } from 'node:fs';
import { execa } from 'execa';
import { hostError } from '../errors.js';
import { redactUri, type LibvirtConnection } from './connection.js';

/** The helper (Python 3, python3-libvirt). Exit 3: no binding; 4: libvirt refused; 0: stream ended. */
export const CONSOLE_HELPER = String.raw`
import os, sys, threading, time
try:
    import libvirt
except ImportError:
    sys.stderr.write("no-binding: python3-libvirt is not installed\n")
    sys.exit(3)
libvirt.registerErrorHandler(lambda ctx, err: None, None)
try:
    conn = libvirt.open(os.environ["IG_LIBVIRT_URI"])
    dom = conn.lookupByName(sys.argv[1])
    vol = conn.storagePoolLookupByName(sys.argv[2]).storageVolLookupByName(sys.argv[3])
except libvirt.libvirtError as e:
    sys.stderr.write("libvirt: %s\n" % e.get_error_message())
    sys.exit(4)
stop = threading.Event()
asked = threading.Event()
answered = threading.Event()
def control():
    for line in sys.stdin:
        word = line.strip()
        if word == "stop":
            stop.set()
        elif word == "destroy":
            asked.set()
            try:
                dom.destroy()
                sys.stderr.write("destroyed\n")
            except libvirt.libvirtError as e:
                sys.stderr.write("destroy-failed: %s\n" % e.get_error_message())
            sys.stderr.flush()
            answered.set()
    stop.set()
threading.Thread(target=control, daemon=True).start()
sys.stderr.write("open\n")
sys.stderr.flush()
pos = 0
def sink(_st, data, _opaque):
    os.write(1, data)
    return len(data)
def read_new():
    global pos
    size = vol.info()[1]
    if size <= pos:
        return
    st = conn.newStream(0)
    vol.download(st, pos, size - pos, 0)
    st.recvAll(sink, None)
    st.finish()
    pos = size
def active():
    try:
        return dom.isActive() == 1
    except libvirt.libvirtError:
        return False
try:
    while not stop.is_set() and active():
        read_new()
        stop.wait(0.1)
    read_new()
except libvirt.libvirtError as e:
    sys.stderr.write("ended: %s\n" % e.get_error_message())
except BrokenPipeError:
    pass
# a destroy asked for ends the loop (the domain is gone): let the answer out before exiting
if asked.is_set():
    answered.wait(10)
`;

/** The python3 that has Debian's libvirt binding: /usr/bin/python3 (a pyenv or venv python lacks it). */
export function helperPython(exists: (p: string) => boolean = existsSync): string {
  return exists('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
}

/** What the helper's stderr says about its state (pure): attached, failed (with why), or nothing yet. */
export function readHelperStatus(stderr: string): { open: boolean; failure?: string } {
  const lines = stderr.split('\n');
  if (lines.includes('open')) return { open: true };
  const bad = lines.find((l) => l.startsWith('no-binding: ') || l.startsWith('libvirt: '));
  return bad ? { open: false, failure: bad.replace(/^(no-binding|libvirt): /, '') } : { open: false };
}

export interface ConsoleStream {
  /** resolves once the reader is attached; rejects (LIBVIRT_CONSOLE_UNAVAILABLE) when it cannot be */
  readonly open: Promise<void>;
  /** resolves when the helper has exited (the domain is gone, or stop() ended it) */
  readonly done: Promise<void>;
  /** destroys the domain over the helper's connection; false when that failed (then use virsh) */
  destroy(timeoutMs?: number): Promise<boolean>;
  /** reads what is left and ends the helper (bounded, idempotent) */
  stop(): Promise<void>;
}

/**
 * Reads the serial console of `domain`, written into the volume `volume` of `pool`, over `conn`,
 * handing each chunk to `onData` until the domain is gone or `stop()`. The domain must exist
 * (create it paused, then resume it once `open` resolves, so the reader is there from the start).
 */
export function openConsoleStream(
  conn: LibvirtConnection,
  domain: string,
  where: { pool: string; volume: string },
  onData: (chunk: Buffer) => void,
  openTimeoutMs = 60_000,
): ConsoleStream {
  const child = execa(helperPython(), ['-c', CONSOLE_HELPER, domain, where.pool, where.volume], {
    reject: false,
    stdin: 'pipe',
    buffer: false,
    env: { IG_LIBVIRT_URI: conn.uri, LC_ALL: 'C' },
    extendEnv: true,
  });
  child.stdout.on('data', (b: Buffer) => onData(b));
  let stderr = '';
  let settle: { ok: () => void; fail: (e: Error) => void } | undefined;
  const open = new Promise<void>((ok, fail) => (settle = { ok, fail }));
  const failure = (why: string): Error =>
    hostError(
      'LIBVIRT_CONSOLE_UNAVAILABLE',
      `cannot read the console of ${domain} through ${redactUri(conn.uri)}: ${why}`,
      {
        hint: /python3-libvirt|ENOENT/.test(why)
          ? 'install python3-libvirt (apt-get install python3-libvirt): the console is read through libvirt'
          : 'check the storage pool is active and the connection allows storage access (virsh pool-list)',
      },
    );
  const timer = setTimeout(() => {
    settle?.fail(failure(`the console reader did not start within ${openTimeoutMs} ms`));
    settle = undefined;
    child.kill('SIGKILL');
  }, openTimeoutMs);
  child.stdin.on('error', () => undefined);
  const destroyWaiters = new Set<(ok: boolean) => void>();
  child.stderr.on('data', (b: Buffer) => {
    const text = b.toString('utf8');
    if (/^destroyed$/m.test(text)) for (const w of destroyWaiters) w(true);
    else if (/^destroy-failed: /m.test(text)) for (const w of destroyWaiters) w(false);
    stderr = (stderr + text).slice(-4000);
    const s = readHelperStatus(stderr);
    if (s.open) {
      settle?.ok();
      settle = undefined;
      clearTimeout(timer);
    } else if (s.failure !== undefined) {
      settle?.fail(failure(s.failure));
      settle = undefined;
      clearTimeout(timer);
    }
  });
  const done = child.then(
    (r) => {
      clearTimeout(timer);
      const code = (r as { code?: string }).code;
      settle?.fail(
        failure(
          code === 'ENOENT'
            ? `${helperPython()} not found (ENOENT)`
            : (readHelperStatus(stderr).failure ?? `the helper exited (${String(r.exitCode ?? r.signal)})`),
        ),
      );
      settle = undefined;
    },
    () => undefined,
  );
  let exited = false;
  void done.then(() => {
    exited = true;
    for (const w of destroyWaiters) w(false);
  });
  return {
    open,
    done,
    destroy(timeoutMs = 5000) {
      if (exited || settle !== undefined) return Promise.resolve(false);
      return new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => finish(false), timeoutMs);
        const finish = (ok: boolean): void => {
          clearTimeout(timer);
          destroyWaiters.delete(finish);
          resolve(ok);
        };
        destroyWaiters.add(finish);
        child.stdin.write('destroy\n');
      });
    },
    async stop() {
      // one last read, then the helper exits; bounded
      if (!exited) child.stdin.write('stop\n');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([done, new Promise<void>((r) => (timer = setTimeout(r, 3000)))]).finally(() =>
        clearTimeout(timer),
      );
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await done;
    },
  };
}
