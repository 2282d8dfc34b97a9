/**
 * The batch scheduler: pure logic with its effects injected (the install itself, the device pool,
 * the clock, the resume store). Guests start in manifest order, at most `concurrency` at a time;
 * a guest that needs devices gets them all at once from the pool or waits (first come, first
 * served: a later guest never takes a device an earlier waiting guest could use), and gives them
 * back when it ends, passed or failed. With `failFast` a guest that would wait fails at once, and
 * after the first failure no further guest starts (running ones finish and clean up).
 */
import { hostError, isInstallGuestError } from '../errors.js';
import { systemClock } from '../host/host.js';
import type { Clock } from '../host/host.js';
import type { Allocation, DeviceMatch, GuestPool, PoolDevice } from './pool.js';
import { describeMatch } from './pool.js';

export type PhaseName = 'install' | 'confirm';

export interface PhaseFailure {
  /** the error's stable code, e.g. INSTALL_FAILED */
  code?: string;
  message: string;
  hint?: string;
  /** the console line that ended the phase (a traceback, "Kernel panic", a package error) */
  fatalLine?: string;
  /** the serial log (or other log file) to read */
  logPath?: string;
  exitCode?: number;
}

export interface PhaseResult {
  phase: PhaseName;
  status: 'passed' | 'failed' | 'skipped';
  timeSec: number;
  failure?: PhaseFailure;
  /** why a skipped phase did not run */
  reason?: string;
}

/** What an install reports: its phases (install, then confirm). Throwing means the install phase failed. */
export interface GuestResult {
  phases: PhaseResult[];
}

/** The least a scheduled guest has: a unique name, its device requests, its log dir. */
export interface SchedulableGuest {
  name: string;
  devices: readonly { match: DeviceMatch }[];
  logDir: string;
}

export interface InstallContext {
  /** aborted when the batch is interrupted */
  signal: AbortSignal;
  logDir: string;
}

export type InstallFn<G> = (guest: G, allocation: Allocation, ctx: InstallContext) => Promise<GuestResult>;

export type GuestStatus = 'passed' | 'failed' | 'skipped' | 'cancelled';

export interface GuestOutcome {
  name: string;
  index: number;
  status: GuestStatus;
  exitCode: number;
  /** the batch host it installed on (batches over `hosts:` or --connect) */
  host?: string;
  /** the devices assigned, one per request */
  devices: PoolDevice[];
  /** every function held for the guest (whole IOMMU groups), by address */
  reserved: string[];
  logDir: string;
  /** epoch ms */
  startedAt?: number;
  endedAt?: number;
  /** seconds from the batch's start to this guest's start */
  waitedSec?: number;
  timeSec: number;
  phases: PhaseResult[];
  error?: { code: string; message: string; hint?: string };
  /** why a guest was skipped or cancelled */
  reason?: string;
}

export interface BatchResult {
  exitCode: number;
  startedAt: number;
  endedAt: number;
  timeSec: number;
  counts: Record<GuestStatus, number>;
  guests: GuestOutcome[];
}

export type BatchEvent =
  | { type: 'waiting'; guest: string; time: number; reason: string }
  | {
      type: 'start';
      guest: string;
      time: number;
      devices: string[];
      reserved: string[];
      host?: string;
    }
  | { type: 'end'; guest: string; time: number; status: GuestStatus; exitCode: number }
  | { type: 'skip'; guest: string; time: number; reason: string }
  | { type: 'cancel'; guest: string; time: number; reason: string }
  | { type: 'warning'; guest: string; time: number; message: string };

/** Remembers guests that passed, keyed by their resolved inputs (for --resume). */
export interface ResultStore<G> {
  passedBefore(guest: G): Promise<boolean>;
  record(guest: G, outcome: GuestOutcome): Promise<void>;
}

export interface BatchOptions<G extends SchedulableGuest> {
  concurrency: number;
  failFast?: boolean;
  install: InstallFn<G>;
  pool: GuestPool;
  signal?: AbortSignal;
  onEvent?: (e: BatchEvent) => void;
  clock?: Clock;
  /** with `resume`, guests the store says passed before are skipped; passes are recorded either way */
  store?: ResultStore<G>;
  resume?: boolean;
}

const EXIT_INTERRUPTED = 130;

function errorInfo(e: unknown): { code: string; message: string; hint?: string; exitCode: number } {
  if (isInstallGuestError(e)) {
    const ie = e;
    return {
      code: ie.code,
      message: ie.message,
      ...(ie.hint ? { hint: ie.hint } : {}),
      exitCode: ie.exitCode,
    };
  }
  const message = e instanceof Error ? e.message : String(e);
  return { code: 'INTERNAL', message, exitCode: 1 };
}

/** A failure as a phase failure: the fatal line and log path come from the error's data when it has them. */
export function phaseFailure(e: unknown): PhaseFailure {
  const info = errorInfo(e);
  const data = (isInstallGuestError(e) ? e.data : undefined) ?? {};
  const str = (k: string): string | undefined => (typeof data[k] === 'string' ? data[k] : undefined);
  const fatalLine = str('fatalLine');
  const logPath = str('logPath') ?? str('serialLog');
  return {
    code: info.code,
    message: info.message,
    ...(info.hint ? { hint: info.hint } : {}),
    ...(fatalLine !== undefined ? { fatalLine } : {}),
    ...(logPath !== undefined ? { logPath } : {}),
    exitCode: info.exitCode,
  };
}

/** Both phases, in order: a phase the install did not report is skipped (after a failure: because of it). */
export function normalizePhases(phases: readonly PhaseResult[]): PhaseResult[] {
  const out: PhaseResult[] = [];
  let failedBefore: PhaseName | undefined;
  for (const name of ['install', 'confirm'] as const) {
    const p = phases.find((x) => x.phase === name);
    if (p && !(failedBefore && p.status !== 'failed')) out.push(p);
    else
      out.push({
        phase: name,
        status: 'skipped',
        timeSec: 0,
        reason: failedBefore ? `${failedBefore} failed` : 'not run',
      });
    if (out[out.length - 1]!.status === 'failed') failedBefore ??= name;
  }
  return out;
}

export async function runBatch<G extends SchedulableGuest>(
  plan: { guests: readonly G[] },
  o: BatchOptions<G>,
): Promise<BatchResult> {
  if (!Number.isInteger(o.concurrency) || o.concurrency < 1)
    throw new Error(`runBatch: concurrency must be a positive integer, got ${o.concurrency}`);
  const names = new Set(plan.guests.map((g) => g.name));
  if (names.size !== plan.guests.length) throw new Error('runBatch: guest names must be unique');
  const clock = o.clock ?? systemClock;
  const signal = o.signal ?? new AbortController().signal;
  const emit = (e: BatchEvent): void => o.onEvent?.(e);
  const startedAt = clock.now();
  const outcomes: GuestOutcome[] = plan.guests.map((g, index) => ({
    name: g.name,
    index,
    status: 'cancelled',
    exitCode: 1,
    devices: [],
    reserved: [],
    logDir: g.logDir,
    timeSec: 0,
    phases: [],
  }));
  const pending: number[] = [];
  let running = 0;
  let stopReason: string | undefined;
  const waiting = new Set<number>();

  const finishWithout = (
    i: number,
    status: 'skipped' | 'cancelled' | 'failed',
    reason: string,
    err?: unknown,
  ): void => {
    const out = outcomes[i]!;
    out.status = status;
    out.reason = reason;
    if (status === 'failed') {
      const f = phaseFailure(err);
      out.exitCode = f.exitCode ?? 1;
      out.error = { code: f.code ?? 'INTERNAL', message: f.message, ...(f.hint ? { hint: f.hint } : {}) };
      out.phases = normalizePhases([{ phase: 'install', status: 'failed', timeSec: 0, failure: f }]);
      if (o.failFast) stopReason ??= `--fail-fast: ${out.name} failed`;
    } else {
      out.exitCode = status === 'skipped' ? 0 : 1;
      out.phases = (['install', 'confirm'] as const).map((phase) => ({
        phase,
        status: 'skipped',
        timeSec: 0,
        reason,
      }));
    }
    emit(
      status === 'failed'
        ? { type: 'end', guest: out.name, time: clock.now(), status, exitCode: out.exitCode }
        : { type: status === 'skipped' ? 'skip' : 'cancel', guest: out.name, time: clock.now(), reason },
    );
  };

  // resume: guests that passed before with the same inputs are not run again
  for (const [i, g] of plan.guests.entries()) {
    if (o.resume && o.store && (await o.store.passedBefore(g))) {
      finishWithout(i, 'skipped', 'passed in an earlier run with the same inputs (--resume)');
      continue;
    }
    pending.push(i);
  }
  // requests no inventory device can ever satisfy fail now instead of waiting forever
  for (const i of [...pending]) {
    const g = plan.guests[i]!;
    const why = o.pool.impossible(
      g.devices.map((d) => d.match),
      g.name,
    );
    if (why === null) continue;
    pending.splice(pending.indexOf(i), 1);
    finishWithout(
      i,
      'failed',
      why,
      o.pool.impossibleCode === 'NO_HOST_FOR_GUEST'
        ? hostError('NO_HOST_FOR_GUEST', `guest ${g.name}: no host can take it: ${why}`, {
            hint: "check the guest's hostdev against each host: `install-guest hostdev list --connect URI`",
          })
        : hostError('NO_MATCHING_DEVICE', `guest ${g.name}: ${why}`, {
            hint: "check the guest's hostdev and the pool definitions against `install-guest hostdev list`",
          }),
    );
  }

  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));

  const start = (i: number, allocation: Allocation): void => {
    const g = plan.guests[i]!;
    const out = outcomes[i]!;
    running += 1;
    waiting.delete(i);
    out.startedAt = clock.now();
    out.waitedSec = (out.startedAt - startedAt) / 1000;
    out.devices = allocation.devices;
    out.reserved = allocation.reserved.map((d) => d.address);
    if (allocation.host) out.host = allocation.host.name;
    emit({
      type: 'start',
      guest: g.name,
      time: out.startedAt,
      devices: allocation.devices.map((d) => d.address),
      reserved: out.reserved,
      ...(allocation.host ? { host: allocation.host.name } : {}),
    });
    void (async () => {
      let phases: PhaseResult[];
      try {
        const r = await Promise.resolve().then(() => o.install(g, allocation, { signal, logDir: g.logDir }));
        phases = normalizePhases(r.phases);
      } catch (e) {
        const timeSec = (clock.now() - out.startedAt!) / 1000;
        phases = normalizePhases([{ phase: 'install', status: 'failed', timeSec, failure: phaseFailure(e) }]);
      } finally {
        o.pool.release(g.name);
      }
      out.endedAt = clock.now();
      out.timeSec = (out.endedAt - out.startedAt!) / 1000;
      out.phases = phases;
      const failed = phases.find((p) => p.status === 'failed');
      out.status = failed ? 'failed' : 'passed';
      out.exitCode = failed ? (failed.failure?.exitCode ?? 1) : 0;
      if (failed?.failure)
        out.error = {
          code: failed.failure.code ?? 'INTERNAL',
          message: failed.failure.message,
          ...(failed.failure.hint ? { hint: failed.failure.hint } : {}),
        };
      if (!failed && o.store) {
        try {
          await o.store.record(g, out);
        } catch (e) {
          emit({
            type: 'warning',
            guest: g.name,
            time: clock.now(),
            message: `could not record the result for --resume: ${e instanceof Error ? e.message : String(e)}`,
          });
        }
      }
      if (failed && o.failFast) stopReason ??= `--fail-fast: ${g.name} failed`;
      emit({ type: 'end', guest: g.name, time: out.endedAt, status: out.status, exitCode: out.exitCode });
      running -= 1;
      pump();
    })();
  };

  function pump(): void {
    // groups that guests earlier in the queue could use: later guests must leave them alone
    const blocked = new Set<string>();
    for (const i of [...pending]) {
      const g = plan.guests[i]!;
      if (signal.aborted || stopReason) {
        pending.splice(pending.indexOf(i), 1);
        finishWithout(
          i,
          'cancelled',
          signal.aborted ? 'interrupted before it started' : `not started: ${stopReason}`,
        );
        continue;
      }
      if (running >= o.concurrency) break;
      const matches = g.devices.map((d) => d.match);
      // addresses other guests still to start ask for by name: a pool request takes them last
      const named = new Set(
        pending
          .filter((j) => j !== i)
          .flatMap((j) => plan.guests[j]!.devices.map((d) => d.match))
          .flatMap((m) => (m.kind === 'address' ? [m.address] : [])),
      );
      const allocation = o.pool.tryAcquire(g.name, matches, blocked, named);
      if (allocation) {
        pending.splice(pending.indexOf(i), 1);
        start(i, allocation);
        continue;
      }
      const what = matches.length ? matches.map(describeMatch).join(' and ') : 'a free host';
      if (o.failFast) {
        pending.splice(pending.indexOf(i), 1);
        finishWithout(
          i,
          'failed',
          `no free ${matches.length ? `device for ${what}` : 'host'}`,
          hostError(
            'POOL_EXHAUSTED',
            `guest ${g.name}: no free ${matches.length ? `device for ${what}` : 'host'} (--fail-fast: not waiting)`,
            {
              hint: 'add devices to the pool, or drop --fail-fast to let guests queue for them',
            },
          ),
        );
        continue;
      }
      if (!waiting.has(i)) {
        waiting.add(i);
        emit({ type: 'waiting', guest: g.name, time: clock.now(), reason: `waiting for ${what}` });
      }
      for (const k of o.pool.candidateGroups(matches, g.name)) blocked.add(k);
    }
    if (pending.length === 0 && running === 0) resolveDone();
  }

  const onAbort = (): void => pump();
  signal.addEventListener('abort', onAbort);
  try {
    pump();
    await done;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }

  const endedAt = clock.now();
  const counts: Record<GuestStatus, number> = { passed: 0, failed: 0, skipped: 0, cancelled: 0 };
  for (const out of outcomes) counts[out.status] += 1;
  const firstFailed = outcomes.find((x) => x.status === 'failed');
  const exitCode = signal.aborted
    ? EXIT_INTERRUPTED
    : counts.failed + counts.cancelled === 0
      ? 0
      : (firstFailed?.exitCode ?? 1);
  return { exitCode, startedAt, endedAt, timeSec: (endedAt - startedAt) / 1000, counts, guests: outcomes };
}
