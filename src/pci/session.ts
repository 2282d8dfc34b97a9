/**
 * A prepared session: the devices one run holds on a stub driver, with the run's journal and leases.
 * `release` gives every changed device back its exact original binding (driver, driver_override,
 * dynamic ids) in reverse order; `keep` leaves them detached on purpose (`hostdev reattach` gives
 * them back). `rollback` is the same undo, used by prepare.ts when a step fails half-way.
 */
import { hostError } from '../errors.js';
import type { Host } from '../host/host.js';
import {
  type BindingContext,
  type BindingState,
  type StubDriver,
  removeDynId,
  restoreBinding,
} from './binding.js';
import { type RunJournal, readJournal } from './journal.js';
import type { LeaseSet } from './lease.js';
import type { ResetOutcome } from './reset.js';

export interface PreparedDevice {
  address: string;
  vendorDevice: string | null;
  iommuGroup: string | null;
  original: BindingState;
  driver: StubDriver;
  /** false for a group member bound because of --group */
  requested: boolean;
  /** false when it was already on the stub: nothing to give back */
  changed: boolean;
  /** /dev/vfio/<group> for vfio-pci */
  vfioNode: string | null;
  reset?: ResetOutcome;
}

export interface Touched {
  address: string;
  original: BindingState;
}

export async function rollback(
  host: Host,
  journal: RunJournal,
  touched: readonly Touched[],
): Promise<string[]> {
  const failures: string[] = [];
  const ctx: BindingContext = { host, journal };
  const run = await readJournal(journal.file);
  for (const d of run?.dynids.filter((x) => x.pending) ?? []) {
    try {
      await removeDynId(ctx, d.driver, d.id);
    } catch (e) {
      failures.push(`id ${d.id} on ${d.driver}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  for (const t of [...touched].reverse()) {
    try {
      const r = await restoreBinding(ctx, t.address, t.original);
      await journal.mark(t.address, r === 'gone' ? 'gone' : 'restored');
    } catch (e) {
      failures.push(e instanceof Error ? e.message : String(e));
    }
  }
  return failures;
}

/** Devices this run holds on a stub; give them back (`release`) or leave them detached (`keep`). */
export class PreparedSession {
  private done = false;
  constructor(
    readonly devices: readonly PreparedDevice[],
    readonly journalFile: string,
    readonly warnings: readonly string[],
    private readonly host: Host,
    private readonly journal: RunJournal,
    private readonly leases: LeaseSet,
    private readonly touched: readonly Touched[],
  ) {}

  /** Gives every changed device back its original binding; throws RESTORE_FAILED naming what is left. */
  async release(): Promise<void> {
    if (this.done) return;
    this.done = true;
    let failures: string[];
    try {
      failures = await rollback(this.host, this.journal, this.touched);
      if (failures.length === 0) await this.journal.end();
      else await this.journal.abandon();
    } finally {
      await this.leases.release();
    }
    if (failures.length > 0) {
      throw hostError('RESTORE_FAILED', `could not give back: ${failures.join('; ')}`, {
        hint: 'run `install-guest recover` (it retries from the journal)',
        data: { failures },
      });
    }
  }

  /** Leaves the devices detached on purpose: `hostdev reattach` (not `recover`) gives them back. */
  async keep(): Promise<void> {
    if (this.done) return;
    this.done = true;
    try {
      for (const d of this.devices) if (d.changed) await this.journal.mark(d.address, 'kept');
      await this.journal.end();
    } finally {
      await this.leases.release();
    }
  }
}
