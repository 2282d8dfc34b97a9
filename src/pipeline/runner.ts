/**
 * Runs stages in order. Guarantees (each has a unit test in test/unit/pipeline/runner.test.ts):
 * - a stage is recorded as started before its `run` is awaited, so a stage that throws half-way is
 *   still cleaned up;
 * - cleanups run in reverse order of start, after success and after failure (Packer's model);
 * - a cleanup that throws is logged and collected; it never hides the first error;
 * - an aborted signal stops before the next stage and the run ends with INTERRUPTED (exit 130),
 *   after the cleanups;
 * - onError 'keep' skips cleanups after a failure (post-mortem), never after success;
 * - dry run: stages that change the host are not run; their `plan` fills the state instead;
 * - what a stage records (`ctx.record`) is in the state at once: its cleanup sees it after a failure
 *   half-way through `run`;
 * - a stage's `needs` are checked before it runs: a field no earlier stage wrote is a bug in the
 *   stage list, reported as such (test/unit/pipeline/install-pipeline.test.ts checks the real list);
 * - each cleanup gets a fresh signal that aborts at its deadline; a cleanup that does not end by then
 *   is reported as failed (CLEANUP_TIMEOUT) and the runner goes on with the next one.
 */
import { InstallGuestError, interruptedError, isInstallGuestError, timeoutError } from '../errors.js';
import {
  type Outcome,
  type Stage,
  type StageContext,
  type StageLog,
  type StageRecord,
  asStage,
} from './stage.js';
import type { Host } from '../host/host.js';

export interface RunOptions<S> {
  host: Host;
  log: StageLog;
  signal: AbortSignal;
  dryRun?: boolean;
  onError?: 'cleanup' | 'keep';
  initial: S;
  /** how long one stage's cleanup may take before the runner goes on without it (default 120 s) */
  cleanupTimeoutMs?: number;
  /** called as each stage starts and ends (for progress output) */
  onStage?(record: StageRecord, phase: 'start' | 'end'): void;
}

export interface RunResult<S> {
  state: S;
  records: StageRecord[];
}

export class PipelineError extends Error {
  constructor(
    readonly error: unknown,
    readonly records: StageRecord[],
    readonly cleanupErrors: { stage: string; error: unknown }[],
    readonly state: unknown,
  ) {
    super(error instanceof Error ? error.message : String(error));
  }
}

export const DEFAULT_CLEANUP_TIMEOUT_MS = 120_000;

function abortSignalName(signal: AbortSignal): string {
  const reason = signal.reason as { signal?: string } | undefined;
  return reason?.signal ?? 'abort';
}

export async function runStages<S extends object>(
  stages: readonly Stage<S>[],
  options: RunOptions<S>,
): Promise<RunResult<S>> {
  const { host, log, signal } = options;
  const dryRun = options.dryRun ?? false;
  let state = { ...options.initial };
  const records: StageRecord[] = [];
  const started: { stage: Stage<S>; record: StageRecord }[] = [];
  const context = (sig: AbortSignal): StageContext<S> => ({
    get state() {
      return state;
    },
    record(fields) {
      state = { ...state, ...fields };
    },
    host,
    log,
    signal: sig,
    dryRun,
  });
  const ctx = (): StageContext<S> => context(signal);
  const checkNeeds = (stage: Stage<S>): void => {
    const missing = (stage.needs ?? []).filter((k) => (state as Record<string, unknown>)[k] === undefined);
    if (missing.length > 0)
      throw new Error(
        `stage ${stage.name} needs ${missing.join(', ')}, which no stage before it wrote: the stage list is out of order`,
      );
  };
  let firstError: unknown;

  for (const stage of stages) {
    if (signal.aborted) {
      firstError = interruptedError(abortSignalName(signal));
      break;
    }
    const record: StageRecord = { name: stage.name, status: 'done', ms: 0 };
    records.push(record);
    const t0 = host.clock.monotonic();
    if (dryRun && stage.changesHost) {
      record.status = stage.plan ? 'planned' : 'skipped';
      try {
        if (stage.plan) checkNeeds(stage);
        const planned = await asStage(stage.name, () => stage.plan?.(ctx()));
        if (planned) state = { ...state, ...planned };
      } catch (e) {
        // planning reads and decides only: nothing started that needs a cleanup
        record.status = 'failed';
        record.error = e instanceof Error ? e.message : String(e);
        firstError = e;
        options.onStage?.(record, 'end');
        break;
      }
      options.onStage?.(record, 'end');
      continue;
    }
    started.push({ stage, record });
    options.onStage?.(record, 'start');
    try {
      checkNeeds(stage);
      const written = await asStage(stage.name, () => stage.run(ctx()));
      if (written) state = { ...state, ...written };
      record.ms = Math.round(host.clock.monotonic() - t0);
      options.onStage?.(record, 'end');
    } catch (e) {
      record.status = 'failed';
      record.ms = Math.round(host.clock.monotonic() - t0);
      record.error = e instanceof Error ? e.message : String(e);
      options.onStage?.(record, 'end');
      // a stage that fails because the run was interrupted reports the interruption, not its own abort error
      firstError = signal.aborted ? interruptedError(abortSignalName(signal)) : e;
      break;
    }
  }

  const outcome: Outcome =
    firstError === undefined
      ? 'success'
      : isInstallGuestError(firstError) && firstError.kind === 'interrupted'
        ? 'interrupted'
        : 'failure';
  const cleanupWithDeadline = async (stage: Stage<S>, outcome: Outcome, ms: number): Promise<void> => {
    const deadline = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const e = timeoutError(
          'CLEANUP_TIMEOUT',
          `cleanup of ${stage.name} did not finish within ${Math.round(ms / 1000)} s`,
          { hint: 'run `install-guest recover` to give detached devices back; see the log for what was left' },
        );
        deadline.abort(e);
        reject(e);
      }, ms);
    });
    try {
      await Promise.race([
        asStage(stage.name, () => stage.cleanup!(context(deadline.signal), outcome)),
        expired,
      ]);
    } finally {
      clearTimeout(timer);
    }
  };
  const cleanupErrors: { stage: string; error: unknown }[] = [];
  const keep = outcome === 'failure' && options.onError === 'keep';
  for (const { stage, record } of [...started].reverse()) {
    if (!stage.cleanup) continue;
    if (keep) {
      record.cleanup = 'kept';
      log.warn(`kept for inspection (--on-error keep): ${stage.name} was not cleaned up`);
      continue;
    }
    try {
      await cleanupWithDeadline(stage, outcome, options.cleanupTimeoutMs ?? DEFAULT_CLEANUP_TIMEOUT_MS);
      record.cleanup = 'done';
    } catch (e) {
      record.cleanup = 'failed';
      cleanupErrors.push({ stage: stage.name, error: e });
      log.warn(`cleanup of ${stage.name} failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  if (firstError !== undefined) throw new PipelineError(firstError, records, cleanupErrors, state);
  if (cleanupErrors.length > 0) {
    const first = cleanupErrors[0]!;
    throw new PipelineError(
      first.error instanceof InstallGuestError
        ? first.error
        : new InstallGuestError(
            'host',
            'CLEANUP_FAILED',
            `cleanup of ${first.stage} failed: ${String((first.error as Error)?.message ?? first.error)}`,
            {
              hint: 'run `install-guest recover` to give detached devices back',
              cause: first.error,
            },
          ),
      records,
      cleanupErrors,
      state,
    );
  }
  return { state, records };
}
