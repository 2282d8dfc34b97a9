/**
 * The libvirt backend (`--connect URI`): each boot is a libvirt domain. The install boot is a
 * transient domain (`virsh create`: kernel/initrd/cmdline, on_reboot=destroy), the confirm boot the
 * persistent one (`virsh define` + `start`), as virt-install does it.
 *
 *   lifecycle   `virsh qemu-monitor-event --loop --timestamp`: qemu's own QMP events (SHUTDOWN with
 *               its reason, RESET, GUEST_PANICKED, BLOCK_IO_ERROR…) through libvirt, so the same
 *               reducer (src/qemu/completion.ts) decides; `virsh event --loop --event lifecycle`
 *               says when the domain stopped (the process exit)
 *   console     the serial port into a file in the log dir (a local libvirtd writes it; read as it
 *               grows), fed to the same rule packs as the direct path
 *   query-pci   `virsh qemu-monitor-command NAME '{"execute":"query-pci"}'`
 *   stop        `virsh destroy NAME`; a failed install boot on this machine: SIGTERM to its qemu
 *               (src/libvirt/local-qemu.ts), libvirtd then drops the transient domain itself
 *   eject       `virsh change-media NAME TARGET --eject --live --config` (the cloud-init seed)
 */
import { createWriteStream, promises as fs } from 'node:fs';
import { PassThrough } from 'node:stream';
import { execa, type ResultPromise } from 'execa';
import { hostError } from '../errors.js';
import type { QemuExit, SerialConsole, StopResult } from '../qemu/process.js';
import { flattenQueryPci, type GuestPciDevice, type QmpEvent } from '../qemu/qmp.js';
import { cdromTarget, connectionFor, domainXml, uploadInstallMedia, uploadSeed } from '../libvirt/install.js';
import type { LibvirtConnection } from '../libvirt/connection.js';
import type { BootHandle, GuestBackend, GuestEvents } from './types.js';
import { need } from '../pipeline/stage.js';

/** libvirt's qdev ids → install-guest's (the confirm stage matches by them): net0 is our net0-dev. */
function ourQdevId(id: string): string {
  return /^net\d+$/.test(id) ? `${id}-dev` : id;
}

/** One line of `virsh qemu-monitor-event --timestamp` → the event, when it is for `domain`. Pure. */
export function parseMonitorEventLine(line: string, domain: string): QmpEvent | null {
  // with --timestamp: "2026-12-08 01:37:09.558+0000: event RESET for domain 'name': {"guest":true,…}"
  // without:          "event RESET at 1765157829.558123 for domain 'name': {…}"
  const m = /event (\S+) (?:at (\d+)\.(\d+) )?for domain '(.*)': (.*)$/.exec(line);
  if (!m || m[4] !== domain) return null;
  let seconds = m[2] === undefined ? NaN : Number(m[2]);
  let micro = m[3] === undefined ? 0 : Number(m[3].padEnd(6, '0').slice(0, 6));
  if (Number.isNaN(seconds)) {
    const t = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)\.(\d+)\+0000: /.exec(line);
    const ms = t ? Date.parse(`${t[1]}T${t[2]}.${t[3]}Z`) : Date.now();
    seconds = Math.floor(ms / 1000);
    micro = (ms % 1000) * 1000;
  }
  let data: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(m[5]!);
    if (parsed && typeof parsed === 'object') data = parsed as Record<string, unknown>;
  } catch {
    // "<null>" when the event has no data
  }
  return { event: m[1]!, data, timestamp: { seconds, microseconds: micro } };
}

/** One line of `virsh event --event lifecycle` → the stop detail, when the domain stopped. Pure. */
export function parseLifecycleLine(line: string, domain: string): string | null {
  // "event 'lifecycle' for domain 'name': Stopped Shutdown"
  const m = /event 'lifecycle' for domain '(.*)': Stopped (\S+)/.exec(line);
  return m && m[1] === domain ? m[2]! : null;
}

/** A lifecycle stop detail → the exit supervision sees (Shutdown: a clean exit). */
export function exitOfStop(detail: string, ms: number): QemuExit {
  switch (detail) {
    case 'Shutdown':
      return { code: 0, signal: null, stderrTail: '', durationMs: ms };
    case 'Destroyed':
      return { code: null, signal: 'SIGTERM', stderrTail: 'libvirt destroyed the domain', durationMs: ms };
    case 'Crashed':
      return {
        code: null,
        signal: 'SIGKILL',
        stderrTail: 'qemu crashed (libvirt: Stopped Crashed)',
        durationMs: ms,
      };
    default:
      return { code: 1, signal: null, stderrTail: `libvirt: Stopped ${detail}`, durationMs: ms };
  }
}

/** Runs `virsh ARGS` for as long as the boot lasts, handing each stdout line to `onLine`. */
function follow(conn: LibvirtConnection, args: string[], onLine: (l: string) => void): ResultPromise {
  const child = execa(conn.virshBinary, conn.argv(args), {
    reject: false,
    stdin: 'ignore',
    buffer: false,
    env: { LC_ALL: 'C' },
  });
  let rest = '';
  child.stdout.on('data', (b: Buffer) => {
    rest += b.toString('utf8');
    let i: number;
    while ((i = rest.indexOf('\n')) >= 0) {
      onLine(rest.slice(0, i));
      rest = rest.slice(i + 1);
    }
  });
  return child;
}

/** Reads a file that qemu writes as it grows, into a stream, until `stop()` (then the rest). */
function tailFile(file: string, stream: PassThrough): { stop: () => Promise<void>; bytes: () => number } {
  let pos = 0;
  let fh: fs.FileHandle | undefined;
  let stopped = false;
  let reading: Promise<void> = Promise.resolve();
  const buf = Buffer.alloc(64 * 1024);
  const readMore = async (): Promise<void> => {
    fh ??= await fs.open(file, 'r').catch(() => undefined);
    if (!fh) return;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      if (bytesRead <= 0) return;
      pos += bytesRead;
      stream.write(Buffer.from(buf.subarray(0, bytesRead)));
    }
  };
  const timer = setInterval(() => {
    reading = reading.then(readMore).catch(() => undefined);
  }, 20);
  return {
    bytes: () => pos,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      await reading;
      await readMore().catch(() => undefined);
      await fh?.close().catch(() => undefined);
      stream.end();
    },
  };
}

export const libvirtBackend: GuestBackend = {
  kind: 'libvirt',
  async startBoot(ctx, phase, _argv, files, maxLifetimeMs): Promise<BootHandle> {
    const { state, signal } = ctx;
    const lv = need(state, 'libvirt');
    const name = need(state, 'request').name;
    const conn = await connectionFor(lv);
    if (!lv.local) {
      throw hostError(
        'LIBVIRT_REMOTE_CONSOLE',
        `installing on a remote libvirt host (${conn.uri}) needs its console over the connection, which this version does not read yet`,
        { hint: 'run install-guest on that host with --connect qemu:///system, or use a local URI' },
      );
    }
    const media =
      phase === 'install'
        ? await uploadInstallMedia(conn, state, signal)
        : { cdroms: await uploadSeed(conn, state, signal) };
    await fs.rm(files.serialLog, { force: true });
    const xml = domainXml(state, phase, media, files.serialLog);
    const xmlFile = `${need(state, 'workDir')}/domain-${phase}.xml`;
    await fs.writeFile(xmlFile, xml, { mode: 0o600 });
    await fs.writeFile(files.argvFile.replace(/\.args$/, '.xml'), xml, { mode: 0o600 });

    // events first, so nothing the domain does is missed
    const history: QmpEvent[] = [];
    const listeners = new Set<(e: QmpEvent) => void>();
    const transcript = createWriteStream(files.qmpLog, { flags: 'w', mode: 0o600 });
    transcript.on('error', () => undefined);
    const qmp: GuestEvents = {
      history,
      onEvent(l) {
        listeners.add(l);
        return () => listeners.delete(l);
      },
    };
    const t0 = performance.now();
    let resolveExit!: (x: QemuExit) => void;
    const exited = new Promise<QemuExit>((r) => (resolveExit = r));
    let exit: QemuExit | undefined;
    const onExit = (x: QemuExit): void => {
      if (exit) return;
      exit = x;
      resolveExit(x);
    };
    const monitor = follow(conn, ['qemu-monitor-event', '--loop', '--timestamp'], (line) => {
      const e = parseMonitorEventLine(line, name);
      if (!e) return;
      transcript.write(`${JSON.stringify({ dir: 'in', ...e })}\n`);
      history.push(e);
      for (const l of listeners) l(e);
    });
    const lifecycle = follow(conn, ['event', '--loop', '--event', 'lifecycle'], (line) => {
      const detail = parseLifecycleLine(line, name);
      if (detail) onExit(exitOfStop(detail, Math.round(performance.now() - t0)));
    });
    // the listeners register within a fraction of a second; the guest's first event comes later
    await new Promise((r) => setTimeout(r, 300));

    const stream = new PassThrough();
    const tail = tailFile(files.serialLog, stream);
    let resolveEnded!: () => void;
    const ended = new Promise<void>((r) => (resolveEnded = r));
    const serial: SerialConsole = {
      stream,
      logPath: files.serialLog,
      ended,
      get bytes() {
        return tail.bytes();
      },
    };
    let stopReason: string | undefined;
    const endAll = async (): Promise<void> => {
      await tail.stop();
      resolveEnded();
      monitor.kill();
      lifecycle.kill();
      transcript.end();
    };
    void exited.then(endAll);

    /** true when the domain's qemu is gone (virsh destroy returns after it is) */
    const destroy = async (): Promise<boolean> => {
      // the install boot on this machine: its qemu signalled directly (src/libvirt/local-qemu.ts)
      if (phase === 'install' && lv.local) {
        const { terminateLocalQemu } = await import('../libvirt/local-qemu.js');
        if (await terminateLocalQemu(name)) return true;
      }
      return conn.virsh(['destroy', name]).then(
        () => true,
        () => false,
      );
    };
    const stop = async (reason: string): Promise<StopResult> => {
      const t = performance.now();
      stopReason ??= reason;
      if (exit) return { exit, steps: [], ms: 0, reason };
      if (await destroy()) onExit(exitOfStop('Destroyed', Math.round(performance.now() - t0)));
      // destroy refused (already gone, or the connection broke): the lifecycle event decides, or a
      // domain gone without one (listener lost) still counts as stopped after 5 s
      let timer: NodeJS.Timeout | undefined;
      const x = await Promise.race([
        exited,
        new Promise<QemuExit>((r) => {
          timer = setTimeout(() => r(exitOfStop('Destroyed', Math.round(performance.now() - t0))), 5000);
        }),
      ]).finally(() => clearTimeout(timer));
      onExit(x);
      return { exit: x, steps: ['SIGTERM'], ms: Math.round(performance.now() - t), reason };
    };

    try {
      if (phase === 'install') {
        await conn.virsh(['create', xmlFile], { ...(signal ? { signal } : {}) });
      } else {
        await conn.virsh(['define', xmlFile]);
        lv.created.defined = true;
        await conn.virsh(['start', name], { ...(signal ? { signal } : {}) });
      }
    } catch (e) {
      monitor.kill();
      lifecycle.kill();
      await tail.stop();
      transcript.end();
      throw e;
    }
    const lifetime = setTimeout(
      () => void stop(`lifetime limit of ${maxLifetimeMs} ms reached`),
      maxLifetimeMs,
    );
    lifetime.unref();
    void exited.then(() => clearTimeout(lifetime));
    const onAbort = (): void => void stop('aborted');
    signal.addEventListener('abort', onAbort, { once: true });
    void exited.then(() => signal.removeEventListener('abort', onAbort));

    return {
      describe: `libvirt domain ${name} on ${conn.uri} (${phase === 'install' ? 'transient' : 'persistent'})`,
      qmp,
      serial,
      exited,
      get exit() {
        return exit;
      },
      get stopReason() {
        return stopReason;
      },
      stop,
      async queryPci(): Promise<GuestPciDevice[]> {
        const out = await conn.virsh(['qemu-monitor-command', name, '{"execute":"query-pci"}']);
        const r = JSON.parse(out) as { return: Parameters<typeof flattenQueryPci>[0] };
        return flattenQueryPci(r.return).map((d) => ({ ...d, qdevId: ourQdevId(d.qdevId) }));
      },
      async ejectCdrom(drive: string): Promise<void> {
        // the confirm boot's one cdrom is the seed (drive `cidata`); live and in the persistent
        // definition, whose volume is deleted with the other boot volumes after the run
        const i = drive === 'cidata' ? media.cdroms.length - 1 : -1;
        if (phase !== 'confirm' || i < 0)
          throw hostError('LIBVIRT_NO_CDROM', `the ${phase} domain ${name} has no cdrom '${drive}'`, {
            hint: 'a bug in install-guest: report it with the log dir',
          });
        await conn.virsh(['change-media', name, cdromTarget(i), '--eject', '--live', '--config', '--force']);
      },
    };
  },
};
