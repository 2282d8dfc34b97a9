/**
 * The stage contract (after Packer's multistep): an install is one ordered list of stages; each has
 * `run` and may have `cleanup`; every stage that started is cleaned up in reverse order, the failing
 * one too. A stage reads the typed state written by earlier stages, names the fields it reads in
 * `needs` (the runner checks them before `run`), and writes through `ctx.record` as it goes, so
 * what it did before failing half-way is in the state its cleanup sees; what `run` returns is
 * recorded too. A stage keeps nothing of a run in itself or its module (parallel batch installs
 * share the stage objects): everything a cleanup needs goes into the state. A stage reads a field
 * it needs with `need(state, 'field')`: typed as present, and a bug named if it is not.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Host } from '../host/host.js';

export type Outcome = 'success' | 'failure' | 'interrupted';

export interface StageLog {
  info(line: string): void;
  warn(line: string): void;
  /** installer progress (0…1 when known) for a progress bar; optional */
  progress?(fraction: number | undefined, text: string): void;
  /** a machine-readable event (milestones, QMP events) for --json output; optional */
  event?(obj: Record<string, unknown>): void;
}

export interface StageContext<S> {
  /** everything recorded so far, this stage's own records included (read-only: write with `record`) */
  readonly state: Readonly<S>;
  /** merges fields into the state now: a later failure of the stage leaves them for its cleanup */
  readonly record: (fields: Partial<S>) => void;
  readonly host: Host;
  readonly log: StageLog;
  /** aborted on SIGINT/SIGTERM: stages pass it to every wait and child process */
  readonly signal: AbortSignal;
  readonly dryRun: boolean;
}

export interface Stage<S> {
  readonly name: string;
  /**
   * True when `run` changes the host (binds drivers, creates disks, starts qemu). In a dry run such a
   * stage is not run; its `plan` (if any) says what it would do.
   */
  readonly changesHost: boolean;
  /** the state fields `run` (and `plan`) read: an earlier stage must have written each one */
  readonly needs?: readonly (keyof S & string)[];
  run(ctx: StageContext<S>): Promise<Partial<S> | void>;
  /**
   * Undo what run did, from what the state records. Must not throw on a half-finished run; errors are
   * collected, never hide the first. Its `signal` is its own (the run's may be aborted already) and
   * aborts at the cleanup deadline, after which the runner goes on without it.
   */
  cleanup?(ctx: StageContext<S>, outcome: Outcome): Promise<void>;
  /** For a dry run: the pure description of what `run` would do, given the state so far. */
  plan?(ctx: StageContext<S>): Partial<S> | void | Promise<Partial<S> | void>;
}

export type StageStatus = 'done' | 'failed' | 'planned' | 'skipped';

export interface StageRecord {
  name: string;
  status: StageStatus;
  ms: number;
  cleanup?: 'done' | 'failed' | 'kept';
  error?: string;
}

/** The stage whose run, plan or cleanup is executing (per async context: parallel runs stay apart). */
const currentStage = new AsyncLocalStorage<string>();

/** Runs `fn` as stage `name`: `need` names that stage when a field is missing. Used by the runner. */
export function asStage<T>(name: string, fn: () => T): T {
  return currentStage.run(name, fn);
}

/**
 * A state field the stage reads, typed as present. The runner checks a stage's `needs` before
 * `run` and `plan`, so a missing field here is a bug in install-guest (a field read but not
 * declared in `needs`, or read by a cleanup before its stage wrote it): an internal error naming
 * the stage and the field, never a silent `undefined`.
 */
export function need<S extends object, K extends keyof S & string>(
  state: Readonly<S>,
  field: K,
): NonNullable<S[K]> {
  const value = state[field];
  if (value === undefined || value === null) {
    const stage = currentStage.getStore();
    throw new Error(
      `${stage ? `stage ${stage}` : 'a stage run outside the runner'} read the state field ${field}, which no stage wrote: declare it in the stage's needs, or check it in the cleanup`,
    );
  }
  return value;
}
