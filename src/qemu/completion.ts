/**
 * When is an install over, live: `superviseInstall` runs the lifecycle verdict (`lifecycle.ts`,
 * pure) on the boot's QMP events and exit together with the console watcher, a stall timer and an
 * overall deadline, stops qemu at once on a fatal console line, and returns the outcome or throws
 * the typed error the CLI maps to an exit code.
 */
import { InstallGuestError, guestError, hostError, interruptedError, timeoutError } from '../errors.js';
import type { QemuExit, QemuHandle, StopResult } from './process.js';
import type { QmpClient, QmpEvent } from './qmp/client.js';
import type {
  FatalEvent,
  MilestoneEvent,
  ProgressEvent,
  WarningEvent,
  WatchEvent,
} from './console/matcher.js';
import type { ConsoleWatcher } from './console/watcher.js';
import {
  initialLifecycle,
  reduceLifecycle,
  type LifecycleInput,
  type LifecycleOptions,
} from './lifecycle.js';

// ---------------------------------------------------------------------------------------------
// Live supervision

export type SuperviseEvent =
  | WatchEvent
  | { type: 'qmp'; event: string; data: Record<string, unknown> }
  | { type: 'stopping'; reason: string };

export interface SuperviseOptions {
  /** a qemu run directly or a libvirt domain (src/backend): QMP-shaped events, console, exit, stop */
  handle: Pick<QemuHandle, 'serial' | 'exited' | 'stopReason'> & {
    qmp: Pick<QmpClient, 'onEvent'> & { readonly history: readonly QmpEvent[] };
    stop(reason: string): Promise<StopResult>;
  };
  watcher: ConsoleWatcher;
  /** no new console text for this long → INSTALL_STALLED (exit 4); a redrawn screen or status-bar clock does not count */
  stallTimeoutMs: number;
  /** the whole install phase may take this long → INSTALL_TIMEOUT (exit 4) */
  deadlineMs: number;
  /**
   * the early-boot watchdog: no kernel output (the `Linux version` banner, or any later milestone)
   * this long after qemu started → EARLY_BOOT_HANG (exit 4). Off when absent.
   */
  earlyBootMs?: number;
  signal?: AbortSignal;
  onEvent?: (e: SuperviseEvent) => void;
  /** defaults to the handle's serial log */
  serialLogPath?: string;
  /** the argv has -no-reboot; default true */
  noReboot?: boolean;
  /** monotonic clock (ms), the watcher's; default performance.now */
  now?: () => number;
  /** how often the stall and deadline are checked; default 250 ms */
  pollMs?: number;
  /** after qemu exits, how long to wait for the rest of the console; default 2000 ms */
  drainMs?: number;
  /** after the guest shut down, how long qemu may take to exit before it is stopped; default 5000 ms */
  exitGraceMs?: number;
}

export interface InstallOutcome {
  how: 'poweroff' | 'reboot-request';
  /** qemu's SHUTDOWN reason (`guest-shutdown`, `guest-reset`) */
  shutdownReason: string;
  durationMs: number;
  resets: number;
  notes: string[];
  milestones: MilestoneEvent[];
  warnings: WarningEvent[];
  lastProgress: ProgressEvent | undefined;
  exit: QemuExit;
  serialBytes: number;
}

function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<undefined>((r) => (t = setTimeout(() => r(undefined), ms)))]).finally(
    () => clearTimeout(t),
  );
}

/** INSTALL_FAILED for a fatal console line: the line, the rule, where it is in the serial log. */
function installFailed(f: FatalEvent, serialLog: string, extra: Record<string, unknown>): InstallGuestError {
  return guestError(
    'INSTALL_FAILED',
    `install failed: ${f.message}: "${f.line}" (serial log ${serialLog}, byte ${f.offset})`,
    {
      hint: f.hint ?? `read the serial log ${serialLog} around byte ${f.offset}`,
      data: { rule: f.rule, line: f.line, offset: f.offset, trigger: f.trigger, serialLog, ...extra },
    },
  );
}

/**
 * Watches one install run to its end. Resolves when the guest shut down (or asked to reboot) with
 * no fatal console line; otherwise stops qemu and throws:
 * INSTALL_FAILED (fatal console line, exit 1, names the line and the serial log), GUEST_PANICKED (1),
 * QEMU_CRASHED (1), INSTALL_STALLED / INSTALL_TIMEOUT (4), DISK_IO_ERROR / QEMU_STOPPED (3),
 * INTERRUPTED (130).
 */
export function superviseInstall(opts: SuperviseOptions): Promise<InstallOutcome> {
  const { handle, watcher } = opts;
  const now = opts.now ?? (() => performance.now());
  const started = now();
  const serialLog = opts.serialLogPath ?? handle.serial.logPath;
  const lopts: LifecycleOptions = { noReboot: opts.noReboot ?? true };
  const emit = (e: SuperviseEvent): void => {
    try {
      opts.onEvent?.(e);
    } catch {
      // a reporter's bug must not stop supervision
    }
  };

  return new Promise<InstallOutcome>((resolve, reject) => {
    let lc = initialLifecycle;
    let settled = false;
    let finishing = false;
    const cleanups: (() => void)[] = [];
    const cleanup = (): void => {
      for (const c of cleanups.splice(0)) c();
    };
    const succeed = (o: InstallOutcome): void => {
      if (settled) return;
      settled = true;
      cleanup();
      resolve(o);
    };
    const fail = (e: unknown): void => {
      if (settled) return;
      settled = true;
      cleanup();
      reject(e instanceof Error ? e : new Error(String(e)));
    };
    const stopQemu = async (reason: string): Promise<StopResult | undefined> => {
      emit({ type: 'stopping', reason });
      try {
        return await handle.stop(reason);
      } catch (e) {
        fail(e);
        return undefined;
      }
    };
    const lastLineText = (): string => watcher.lastLine?.text.trim().slice(0, 200) ?? '';

    const failOnFatal = async (f: FatalEvent, seenAt: number): Promise<void> => {
      if (settled || finishing) return;
      finishing = true;
      const stop = await stopQemu(`fatal console line (${f.rule})`);
      const gone = now();
      fail(
        installFailed(f, serialLog, {
          stopSteps: stop?.steps,
          stopLatencyMs: Math.round(gone - seenAt),
        }),
      );
    };

    /** The guest or qemu ended the run: collect the rest of the console, then decide. */
    const finish = async (): Promise<void> => {
      if (finishing || settled) return;
      finishing = true;
      const v = lc.verdict;
      if (v.state === 'finished') {
        if (!(await within(handle.exited, opts.exitGraceMs ?? 5000)))
          await stopQemu('the guest shut down but qemu did not exit');
      } else if (v.state === 'panicked' || v.state === 'io-error') {
        await stopQemu(v.state === 'panicked' ? 'the guest panicked' : 'disk I/O error');
      }
      const exit = await within(handle.exited, 10_000);
      await within(watcher.done, opts.drainMs ?? 2000);
      watcher.end();
      if (settled) return;
      const fatal = watcher.fatals[0];
      if (fatal) {
        // The console said what went wrong before the guest went down: that is the failure.
        fail(installFailed(fatal, serialLog, { lifecycle: v }));
        return;
      }
      const data = { serialLog, notes: lc.notes, exit, lastLine: lastLineText() };
      switch (v.state) {
        case 'finished':
          succeed({
            how: v.how,
            shutdownReason: v.reason,
            durationMs: Math.round(now() - started),
            resets: lc.resets,
            notes: lc.notes,
            milestones: [...watcher.milestones],
            warnings: [...watcher.warnings],
            lastProgress: watcher.lastProgress,
            exit: exit ?? { code: null, signal: null, stderrTail: '', durationMs: 0 },
            serialBytes: watcher.bytes,
          });
          return;
        case 'panicked':
          fail(
            guestError('GUEST_PANICKED', `the guest panicked (${v.detail}); serial log ${serialLog}`, {
              hint: `read the end of ${serialLog}`,
              data,
            }),
          );
          return;
        case 'io-error':
          fail(
            hostError('DISK_IO_ERROR', `qemu paused the guest after a disk error: ${v.detail}`, {
              hint: v.nospace
                ? 'free space on the host file system holding the disk image'
                : 'check the disk image and the host file system',
              data,
            }),
          );
          return;
        case 'stopped':
          if (handle.stopReason === 'aborted') {
            fail(interruptedError('signal'));
            return;
          }
          fail(
            hostError(
              'QEMU_STOPPED',
              handle.stopReason
                ? `qemu was stopped (${handle.stopReason}) before the install finished`
                : `qemu was stopped from outside install-guest (${v.reason}) before the install finished`,
              {
                hint: 'another program sent qemu a signal or a QMP quit, or its lifetime limit passed; run the install again',
                data,
              },
            ),
          );
          return;
        case 'crashed': {
          const why = v.signal ? `was killed by ${v.signal}` : `exited with code ${v.code ?? '?'}`;
          const msg =
            exit?.stderrTail
              .split('\n')
              .filter((l) => l.trim() !== '')
              .pop() ?? '';
          fail(
            guestError(
              'QEMU_CRASHED',
              `qemu ${why} while the install ran, without the guest shutting down${msg ? `: ${msg}` : ''}`,
              {
                hint: `see qemu's stderr and the serial log ${serialLog}`,
                data: { ...data, stderrTail: exit?.stderrTail },
              },
            ),
          );
          return;
        }
        case 'running':
          return;
      }
    };

    const onInput = (input: LifecycleInput): void => {
      lc = reduceLifecycle(lc, input, lopts);
      // a stop this function asked for is settled where it asked; anything else ends the run
      if (lc.verdict.state === 'running' || finishing || settled) return;
      void finish();
    };

    // Console events: forward, and a fatal line stops qemu at once.
    cleanups.push(
      watcher.on((e) => {
        emit(e);
        if (e.type === 'fatal') void failOnFatal(e, now());
      }),
    );
    // QMP events received before supervision started count too.
    for (const e of handle.qmp.history) onInput({ kind: 'event', event: e });
    cleanups.push(
      handle.qmp.onEvent((e) => {
        emit({ type: 'qmp', event: e.event, data: e.data });
        onInput({ kind: 'event', event: e });
      }),
    );
    void handle.exited.then((x) => {
      if (!settled) onInput({ kind: 'exit', code: x.code, signal: x.signal });
    });
    const early = watcher.fatals[0];
    if (early) void failOnFatal(early, now());

    const kernelSeen = (): boolean => watcher.milestones.some((m) => m.rule !== 'firmware-started');
    const timer = setInterval(() => {
      if (settled || finishing) return;
      const t = now();
      if (opts.earlyBootMs !== undefined && t - started >= opts.earlyBootMs && !kernelSeen()) {
        finishing = true;
        const firmware = watcher.milestones.some((m) => m.rule === 'firmware-started');
        const secs = Math.round(opts.earlyBootMs / 1000);
        void stopQemu('no kernel output (early-boot watchdog)').then((s) =>
          fail(
            timeoutError(
              'EARLY_BOOT_HANG',
              `the guest printed no kernel output within ${secs} s of starting${firmware ? ' (the firmware did)' : ''}; last console line: "${lastLineText()}"`,
              {
                hint: 'the guest hung in early boot: a KVM without hardware virtualization does this; use --accel tcg, or raise --early-boot-timeout for a slow boot loader',
                data: {
                  serialLog,
                  stopSteps: s?.steps,
                  lastLine: lastLineText(),
                  firmware,
                  earlyBootMs: opts.earlyBootMs,
                },
              },
            ),
          ),
        );
      } else if (t - started >= opts.deadlineMs) {
        finishing = true;
        void stopQemu('install deadline reached').then((s) =>
          fail(
            timeoutError(
              'INSTALL_TIMEOUT',
              `the install did not finish within ${Math.round(opts.deadlineMs / 1000)} s (last console line: "${lastLineText()}")`,
              {
                hint: 'raise --wait, or read the serial log to see where it stopped',
                data: {
                  serialLog,
                  stopSteps: s?.steps,
                  lastLine: lastLineText(),
                  lastProgress: watcher.lastProgress?.text,
                },
              },
            ),
          ),
        );
      } else if (t - watcher.lastActivityAt >= opts.stallTimeoutMs) {
        finishing = true;
        const quietS = Math.round((t - watcher.lastActivityAt) / 1000);
        void stopQemu('console stalled').then((s) =>
          fail(
            timeoutError(
              'INSTALL_STALLED',
              `no new console output for ${quietS} s (last console line: "${lastLineText()}"); serial log ${serialLog}`,
              {
                hint: 'the installer may be waiting for an answer the answer file does not give; raise --stall-timeout for slow steps',
                data: {
                  serialLog,
                  stopSteps: s?.steps,
                  lastLine: lastLineText(),
                  quietMs: Math.round(t - watcher.lastActivityAt),
                },
              },
            ),
          ),
        );
      }
    }, opts.pollMs ?? 250);
    cleanups.push(() => clearInterval(timer));

    if (opts.signal) {
      const sig = opts.signal;
      const onAbort = (): void => {
        if (settled) return;
        finishing = true;
        const name = typeof sig.reason === 'string' ? sig.reason : 'signal';
        void stopQemu('interrupted').then(() => fail(interruptedError(name)));
      };
      if (sig.aborted) onAbort();
      else {
        sig.addEventListener('abort', onAbort, { once: true });
        cleanups.push(() => sig.removeEventListener('abort', onAbort));
      }
    }
  });
}

export function isInstallFailure(e: unknown): e is InstallGuestError {
  return (
    e instanceof InstallGuestError &&
    (e.code === 'INSTALL_FAILED' || e.code === 'GUEST_PANICKED' || e.code === 'QEMU_CRASHED')
  );
}
