/**
 * When is an install over, and how did it end, as a pure function of what qemu said:
 * `reduceLifecycle` folds QMP events and the process exit into a verdict. SHUTDOWN guest-shutdown
 * is a finished install; SHUTDOWN guest-reset under `-no-reboot` is the installer's reboot request
 * (also finished); RESET bursts count once; host-qmp-quit and host-signal mean someone stopped
 * qemu; GUEST_PANICKED is a failure; a process exit with no SHUTDOWN before it is a crash. Both
 * backends feed it (qemu's QMP socket, libvirt's qemu-monitor-event); `completion.ts` runs it live.
 */
import type { QmpEvent } from './qmp/client.js';

export type LifecycleInput =
  | { kind: 'event'; event: Pick<QmpEvent, 'event' | 'data'> & Partial<Pick<QmpEvent, 'timestamp'>> }
  | { kind: 'exit'; code: number | null; signal: string | null };

export type Verdict =
  | { state: 'running' }
  /** the guest ended the install itself */
  | { state: 'finished'; how: 'poweroff' | 'reboot-request'; reason: string }
  /** qemu was told to stop by the host (QMP quit, a signal, the UI) */
  | { state: 'stopped'; by: 'qmp-quit' | 'signal' | 'host'; reason: string }
  | { state: 'panicked'; detail: string }
  /** a disk write failed on the host side and qemu paused the guest (werror=stop) */
  | { state: 'io-error'; detail: string; nospace: boolean }
  /** qemu exited without the guest shutting down */
  | { state: 'crashed'; code: number | null; signal: string | null };

export interface Lifecycle {
  verdict: Verdict;
  /** guest resets, a burst of RESET events within `resetBurstMs` counting once */
  resets: number;
  /** facts worth a line in the report, in order */
  notes: string[];
  /** the process exit, once seen */
  exit: { code: number | null; signal: string | null } | undefined;
  /** qemu's timestamp (seconds) of the last RESET, for de-duplication */
  lastResetAt: number | undefined;
}

export interface LifecycleOptions {
  /** qemu runs with -no-reboot (a guest reboot becomes SHUTDOWN guest-reset); default true */
  noReboot?: boolean;
  /** RESET events closer together than this are one reset; default 1000 ms */
  resetBurstMs?: number;
}

export const initialLifecycle: Lifecycle = {
  verdict: { state: 'running' },
  resets: 0,
  notes: [],
  exit: undefined,
  lastResetAt: undefined,
};

const str = (v: unknown): string => (typeof v === 'string' ? v : v === undefined ? '' : JSON.stringify(v));

function eventSeconds(e: LifecycleInput & { kind: 'event' }): number | undefined {
  const t = e.event.timestamp;
  return t ? t.seconds + t.microseconds / 1e6 : undefined;
}

/** Folds one input into the lifecycle. The first terminal verdict stays; later inputs only add notes. */
export function reduceLifecycle(
  lc: Lifecycle,
  input: LifecycleInput,
  opts: LifecycleOptions = {},
): Lifecycle {
  const noReboot = opts.noReboot ?? true;
  const burst = (opts.resetBurstMs ?? 1000) / 1000;
  const running = lc.verdict.state === 'running';
  const next: Lifecycle = { ...lc, notes: [...lc.notes] };
  const settle = (v: Verdict, note?: string): Lifecycle => {
    if (running) next.verdict = v;
    if (note) next.notes.push(note);
    return next;
  };

  if (input.kind === 'exit') {
    next.exit = { code: input.code, signal: input.signal };
    if (running) {
      next.verdict = { state: 'crashed', code: input.code, signal: input.signal };
      next.notes.push(
        input.signal
          ? `qemu was killed by ${input.signal} without a SHUTDOWN event`
          : `qemu exited with code ${input.code ?? '?'} without a SHUTDOWN event`,
      );
    }
    return next;
  }

  const { event, data } = input.event;
  switch (event) {
    case 'SHUTDOWN': {
      const reason = str(data.reason);
      switch (reason) {
        case 'guest-shutdown':
          return settle({ state: 'finished', how: 'poweroff', reason }, 'the guest powered off');
        case 'guest-reset':
          return settle(
            { state: 'finished', how: 'reboot-request', reason },
            noReboot ? 'the guest asked to reboot; -no-reboot turned it into a shutdown' : 'the guest reset',
          );
        case 'guest-panic':
          return settle(
            { state: 'panicked', detail: 'SHUTDOWN guest-panic' },
            'the guest panicked (SHUTDOWN guest-panic)',
          );
        case 'host-qmp-quit':
          return settle({ state: 'stopped', by: 'qmp-quit', reason }, 'qemu was stopped by QMP quit');
        case 'host-signal':
          return settle({ state: 'stopped', by: 'signal', reason }, 'qemu was stopped by a signal');
        case 'host-error':
          return settle({ state: 'crashed', code: null, signal: null }, 'qemu shut down after a host error');
        default:
          return settle(
            { state: 'stopped', by: 'host', reason },
            `qemu shut down (${reason || 'no reason given'})`,
          );
      }
    }
    case 'RESET': {
      const at = eventSeconds(input);
      const sameBurst = at !== undefined && lc.lastResetAt !== undefined && at - lc.lastResetAt < burst;
      next.lastResetAt = at ?? lc.lastResetAt;
      if (!sameBurst) {
        next.resets = lc.resets + 1;
        next.notes.push(`the guest reset (${str(data.reason) || 'no reason given'})`);
      }
      return next;
    }
    case 'GUEST_PANICKED':
    case 'GUEST_CRASHLOADED': {
      const info = data.info === undefined ? '' : ` ${JSON.stringify(data.info)}`;
      return settle(
        { state: 'panicked', detail: `${event} action=${str(data.action)}${info}` },
        `the guest panicked (${event})`,
      );
    }
    case 'BLOCK_IO_ERROR': {
      const nospace = data.nospace === true;
      const detail = `${str(data.operation)} on ${str(data.device) || str(data['node-name'])} failed${nospace ? ' (no space left on the host)' : ''}: ${str(data.reason)}`;
      if (str(data.action) === 'stop')
        return settle({ state: 'io-error', detail, nospace }, `disk I/O error, guest paused: ${detail}`);
      next.notes.push(`disk I/O error (${str(data.action)}): ${detail}`);
      return next;
    }
    case 'STOP':
      next.notes.push('the guest was paused');
      return next;
    default:
      return next;
  }
}

export function classifyLifecycle(inputs: readonly LifecycleInput[], opts: LifecycleOptions = {}): Lifecycle {
  return inputs.reduce((lc, i) => reduceLifecycle(lc, i, opts), initialLifecycle);
}

/** Reads the QMP events out of a transcript written by the QMP client (JSON lines). */
export function eventsFromTranscript(text: string): LifecycleInput[] {
  const out: LifecycleInput[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const rec = JSON.parse(line) as { dir?: string; msg?: Record<string, unknown> };
    const msg = rec.msg;
    if (rec.dir === 'in' && msg && typeof msg.event === 'string') {
      out.push({
        kind: 'event',
        event: {
          event: msg.event,
          data: (msg.data as Record<string, unknown> | undefined) ?? {},
          timestamp: msg.timestamp as QmpEvent['timestamp'],
        },
      });
    }
  }
  return out;
}
