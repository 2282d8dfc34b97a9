/**
 * A domain's serial console read THROUGH THE LIBVIRT CONNECTION (virDomainOpenConsole + a
 * virStream), for a libvirt host whose files install-guest cannot read (a remote URI).
 *
 * Why a helper program: `virsh console` insists on a terminal (it refuses a pipe on stdin/stdout),
 * and libvirt's console stream is only reachable through its client library. Debian's
 * python3-libvirt (the binding libvirt maintains, the one virt-install itself uses) opens it in a
 * dozen lines; the program is passed to `python3 -c` as one argv element, its arguments as further
 * elements and the URI in the environment (so it is not visible in `ps`): no shell, no file to ship.
 *
 * The helper writes "open" on stderr once the stream is attached, then copies every console byte
 * to its stdout until the stream ends (the domain stopped). The caller starts the domain paused,
 * waits for "open", then resumes it: no byte of the guest's console is lost before the reader
 * attaches. A "destroy" line on its stdin destroys the domain over the same, already open,
 * connection ("destroyed" / "destroy-failed: …" on stderr): a fatal console line stops a remote
 * guest without the new connection (TCP, ssh, authentication) a `virsh destroy` would open first.
 */
import { existsSync } from 'node:fs';
import { execa } from 'execa';
import { hostError } from '../errors.js';
import { redactUri, type LibvirtConnection } from './connection.js';

/** The helper (Python 3, python3-libvirt). Exit 3: no binding; 4: libvirt refused; 0: stream ended. */
export const CONSOLE_HELPER = String.raw`
import os, sys, threading
try:
    import libvirt
except ImportError:
    sys.stderr.write("no-binding: python3-libvirt is not installed\n")
    sys.exit(3)
libvirt.registerErrorHandler(lambda ctx, err: None, None)
# a non-blocking stream on libvirt's event loop, as virsh console reads it: a blocking recv can
# leave the stream undrained on a slow connection, and a guest writing to a full console stalls
libvirt.virEventRegisterDefaultImpl()
try:
    conn = libvirt.open(os.environ["IG_LIBVIRT_URI"])
    dom = conn.lookupByName(sys.argv[1])
    st = conn.newStream(libvirt.VIR_STREAM_NONBLOCK)
    dom.openConsole(None, st, libvirt.VIR_DOMAIN_CONSOLE_FORCE)
except libvirt.libvirtError as e:
    sys.stderr.write("libvirt: %s\n" % e.get_error_message())
    sys.exit(4)
running = [True]
def readable(stream, events, _opaque):
    while running[0]:
        try:
            data = stream.recv(65536)
        except libvirt.libvirtError as e:
            sys.stderr.write("ended: %s\n" % e.get_error_message())
            running[0] = False
            return
        if isinstance(data, int):
            break
        if not data:
            running[0] = False
            return
        try:
            os.write(1, data)
        except BrokenPipeError:
            running[0] = False
            return
    if events & (libvirt.VIR_STREAM_EVENT_ERROR | libvirt.VIR_STREAM_EVENT_HANGUP):
        running[0] = False
st.eventAddCallback(
    libvirt.VIR_STREAM_EVENT_READABLE | libvirt.VIR_STREAM_EVENT_ERROR | libvirt.VIR_STREAM_EVENT_HANGUP,
    readable, None)
asked = threading.Event()
answered = threading.Event()
def control():
    for line in sys.stdin:
        if line.strip() != "destroy":
            continue
        asked.set()
        try:
            dom.destroy()
            sys.stderr.write("destroyed\n")
        except libvirt.libvirtError as e:
            sys.stderr.write("destroy-failed: %s\n" % e.get_error_message())
        sys.stderr.flush()
        answered.set()
threading.Thread(target=control, daemon=True).start()
sys.stderr.write("open\n")
sys.stderr.flush()
while running[0]:
    libvirt.virEventRunDefaultImpl()
try:
    st.eventRemoveCallback()
    st.finish()
except libvirt.libvirtError:
    pass
# the stream ends as the domain is destroyed: let the answer out before exiting
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
  /** resolves once the stream is attached; rejects (LIBVIRT_CONSOLE_UNAVAILABLE) when it cannot be */
  readonly open: Promise<void>;
  /** resolves when the helper has exited (the stream ended, or stop() ended it) */
  readonly done: Promise<void>;
  /** destroys the domain over the helper's connection; false when that failed (then use virsh) */
  destroy(timeoutMs?: number): Promise<boolean>;
  /** ends the helper at once (idempotent) */
  stop(): Promise<void>;
}

/**
 * Opens the serial console of `domain` over `conn` and hands each chunk to `onData` until the
 * stream ends. The domain must exist (start it paused, then resume it once `open` resolves).
 */
export function openConsoleStream(
  conn: LibvirtConnection,
  domain: string,
  onData: (chunk: Buffer) => void,
  openTimeoutMs = 60_000,
): ConsoleStream {
  const child = execa(helperPython(), ['-c', CONSOLE_HELPER, domain], {
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
          ? 'install python3-libvirt (apt-get install python3-libvirt): the console stream is read through libvirt'
          : 'check the domain has a serial console and nothing else holds it (virsh console --force)',
      },
    );
  const timer = setTimeout(() => {
    settle?.fail(failure(`the console stream did not open within ${openTimeoutMs} ms`));
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
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await done;
    },
  };
}
