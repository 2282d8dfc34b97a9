/**
 * The standalone `hostdev reattach` and `hostdev reset` operations on one device, leased like an
 * install: reattach gives a device back to the driver its journal recorded (or to the kernel's
 * choice), reset applies the reset policy to a device no host driver is using.
 */
import { hostError } from '../errors.js';
import type { Host } from '../host/host.js';
import {
  type BindingContext,
  type BindingState,
  type DeviceFacts,
  STUB_DRIVERS,
  StepFailure,
  readBinding,
  releaseToKernel,
  restoreBinding,
} from './binding.js';
import { readVfioHolders, vfioGuard } from './guards.js';
import { RunJournal, appendRecord, readJournals, removeIfSettled } from './journal.js';
import { type LeaseKey, type ProcessIdentity, acquireLeases, selfIdentity } from './lease.js';
import { type PrepLog, factsOrThrow } from './prepare.js';
import { recover } from './recover.js';
import { type ResetOutcome, applyReset, planReset, readResetFacts } from './reset.js';
import { STEP_HINT, stepError } from './step-error.js';

export interface StandaloneOptions {
  host: Host;
  stateDir: string;
  address: string;
  guest: string;
  command: string;
  log: PrepLog;
}

export interface ReattachResult {
  address: string;
  before: BindingState;
  after: BindingState | null;
  /** where the original came from */
  source: 'journal' | 'recovered' | 'kernel' | 'already';
  journal?: string;
}

async function withLeases<T>(
  o: StandaloneOptions,
  f: DeviceFacts,
  owner: ProcessIdentity,
  fn: () => Promise<T>,
): Promise<T> {
  const keys: LeaseKey[] = [{ kind: 'device', id: f.address }];
  if (f.iommuGroup) keys.push({ kind: 'group', id: f.iommuGroup });
  const leases = await acquireLeases({
    host: o.host,
    stateDir: o.stateDir,
    keys,
    owner: { ...owner, guest: o.guest, command: o.command },
    log: o.log,
  });
  try {
    return await fn();
  } finally {
    await leases.release();
  }
}

/**
 * Gives a device back to its original driver: the original comes from the journal of the run that
 * detached it (kept on purpose or left by a run that is gone); without a record the override is
 * cleared, the stub lets go and the kernel picks the driver.
 */
export async function reattachDevice(o: StandaloneOptions): Promise<ReattachResult> {
  const { host } = o;
  const f = await factsOrThrow(host, o.address);
  const before: BindingState = { driver: f.driver, override: f.override };
  const owner = await selfIdentity(host);
  return withLeases(o, f, owner, async () => {
    const rec = await recover({
      host,
      stateDir: o.stateDir,
      log: o.log,
      only: [o.address],
      leased: true,
      owner,
    });
    const restored = rec.runs
      .flatMap((r) => r.devices)
      .find((d) => d.address === o.address && d.action === 'restore');
    if (restored) {
      if (restored.result === 'failed')
        throw hostError('REATTACH_FAILED', `${o.address}: ${restored.error}`, { hint: 'see dmesg' });
      return {
        address: o.address,
        before,
        after: await readBinding(host, o.address),
        source: 'recovered' as const,
      };
    }
    const runs = await readJournals(o.stateDir);
    let kept: { file: string; original: BindingState } | undefined;
    for (const run of [...runs].reverse()) {
      const d = run.devices.find((x) => x.address === o.address && x.state === 'kept');
      if (d) {
        kept = { file: run.file, original: d.original };
        break;
      }
    }
    const onStub =
      (f.driver !== null && STUB_DRIVERS.includes(f.driver)) ||
      (f.override !== null && STUB_DRIVERS.includes(f.override));
    if (!kept && !onStub) return { address: o.address, before, after: before, source: 'already' as const };
    const original = kept?.original ?? before;
    const journal = await RunJournal.open({
      host,
      stateDir: o.stateDir,
      owner,
      guest: o.guest,
      command: o.command,
    });
    try {
      await journal.device({
        address: o.address,
        vendorDevice: f.vendorDevice,
        iommuGroup: f.iommuGroup,
        original,
        target: original.driver,
        reason: 'reattach',
        ...(kept ? { from: kept.file } : {}),
      });
      if (kept)
        await appendRecord(kept.file, {
          type: 'state',
          address: o.address,
          state: 'transferred',
          to: journal.id,
        });
      const ctx: BindingContext = { host, journal };
      let after: BindingState | null;
      if (kept) {
        const r = await restoreBinding(ctx, o.address, kept.original);
        after = r === 'gone' ? null : await readBinding(host, o.address);
      } else {
        after = await releaseToKernel(ctx, o.address);
        if (after && after.driver === null)
          o.log.warn(`warning: ${o.address}: no driver claimed it after the stub let go`);
      }
      await journal.mark(o.address, after ? 'restored' : 'gone');
      await journal.end();
      if (kept) await removeIfSettled(kept.file);
      return {
        address: o.address,
        before,
        after,
        source: kept ? ('journal' as const) : ('kernel' as const),
        ...(kept ? { journal: kept.file } : {}),
      };
    } catch (e) {
      // the device record stays in this run's journal: recover finishes the job
      await journal.abandon();
      if (e instanceof StepFailure)
        throw stepError(e, [`${o.address} (run install-guest recover)`], 'giving it back');
      throw e;
    }
  });
}

export interface ResetOptions extends StandaloneOptions {
  force?: boolean;
}

/** `hostdev reset`: the reset policy applied to one device that no host driver is using. */
export async function resetDevice(o: ResetOptions): Promise<ResetOutcome> {
  const { host } = o;
  const f = await factsOrThrow(host, o.address);
  const owner = await selfIdentity(host);
  return withLeases(o, f, owner, async () => {
    if (f.driver !== null && !STUB_DRIVERS.includes(f.driver) && !o.force) {
      throw hostError(
        'DEVICE_IN_USE',
        `${o.address} is bound to the host driver ${f.driver}: a reset would pull the device from under it`,
        {
          hint: `detach it first (install-guest hostdev detach ${o.address}), or --force`,
        },
      );
    }
    const findings = f.iommuGroup
      ? vfioGuard(o.address, f.iommuGroup, await readVfioHolders(host, f.iommuGroup), process.pid)
      : [];
    if (findings.length > 0 && !o.force) {
      throw hostError(findings[0]!.code, findings[0]!.message, { hint: 'stop that guest first, or --force' });
    }
    const rf = await readResetFacts(host, o.address, {
      groupInUse: async (g) => (await readVfioHolders(host, g)).some((h) => h.pid !== process.pid),
    });
    try {
      return await applyReset({ host }, rf, planReset(rf));
    } catch (e) {
      if (e instanceof StepFailure) {
        throw hostError(e.code, `resetting ${o.address}: ${e.detail}`, {
          hint: STEP_HINT[e.code],
          data: { address: o.address, step: e.step },
        });
      }
      throw e;
    }
  });
}
