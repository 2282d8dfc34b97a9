/**
 * Recovery: every device recorded in the journal of a run whose owner is gone goes back to its
 * original driver and driver_override, and every dynamic id such a run may have left in a stub
 * driver's table is removed. Devices kept on purpose (`hostdev detach`, `install --keep-device`) stay.
 *
 * Idempotent and safe at boot: after a reboot every owner is gone (the boot id differs) and devices
 * are already on their default drivers, so recovery writes nothing and closes the journals. A device
 * leased by a live process is left to that process. The plan is pure (`planRecovery`).
 */
import type { Host } from '../host/host.js';
import {
  type BindingState,
  type RestoreOutcome,
  StepFailure,
  formatBinding,
  readBinding,
  removeDynId,
  restoreBinding,
  sameBinding,
} from './binding.js';
import {
  type JournalDevice,
  type ParsedRun,
  appendRecord,
  isSettled,
  type RejectedJournal,
  readJournals,
  readJournalsChecked,
  removeIfSettled,
  unsettledDevices,
} from './journal.js';
import {
  type LeaseKey,
  type LeaseLog,
  type OwnerStatus,
  type ProcessIdentity,
  acquireLeases,
  checkOwner,
  removeStaleLeases,
  selfIdentity,
} from './lease.js';
import { isInstallGuestError } from '../errors.js';
import { printable } from './state-grammar.js';

export type DeviceAction = 'restore' | 'kept' | 'owner-alive';

export interface PlannedDevice {
  address: string;
  vendorDevice: string | null;
  iommuGroup: string | null;
  original: BindingState;
  current: BindingState | null;
  action: DeviceAction;
}

export interface PlannedRun {
  journal: string;
  runId: string;
  guest: string;
  command: string;
  owner: ProcessIdentity;
  ownerStatus: OwnerStatus;
  devices: PlannedDevice[];
  /** dynamic ids to remove */
  dynids: { driver: string; id: string; address: string }[];
  /** the journal has nothing left to do and can be deleted */
  settled: boolean;
}

/**
 * Pure: what recovery does with each run, newest first (so when two gone runs touched one device,
 * the oldest original is put back last and wins). `only` limits it to some addresses.
 */
export function planRecovery(
  runs: readonly ParsedRun[],
  status: ReadonlyMap<string, OwnerStatus>,
  current: ReadonlyMap<string, BindingState | null>,
  only?: readonly string[],
): PlannedRun[] {
  const wanted = (a: string): boolean => !only || only.includes(a);
  const plans: PlannedRun[] = [];
  for (const run of [...runs].reverse()) {
    const ownerStatus = status.get(run.id) ?? 'gone';
    const devices: PlannedDevice[] = [];
    const describe = (d: JournalDevice, action: DeviceAction): PlannedDevice => ({
      address: d.address,
      vendorDevice: d.vendorDevice,
      iommuGroup: d.iommuGroup,
      original: d.original,
      current: current.get(d.address) ?? null,
      action,
    });
    for (const d of [...unsettledDevices(run)].reverse()) {
      if (wanted(d.address)) devices.push(describe(d, ownerStatus === 'alive' ? 'owner-alive' : 'restore'));
    }
    for (const d of run.devices) {
      if (d.state === 'kept' && wanted(d.address)) devices.push(describe(d, 'kept'));
    }
    const dynids =
      ownerStatus === 'alive'
        ? []
        : run.dynids
            .filter((d) => d.pending && wanted(d.address))
            .map(({ driver, id, address }) => ({ driver, id, address }));
    // a settled journal of a gone owner is listed so it gets deleted; a live owner's file is never touched
    const closable = isSettled(run) && ownerStatus === 'gone' && !only;
    if (devices.length === 0 && dynids.length === 0 && !closable) continue;
    plans.push({
      journal: run.file,
      runId: run.id,
      guest: run.guest,
      command: run.command,
      owner: run.owner,
      ownerStatus,
      devices,
      dynids,
      settled: isSettled(run),
    });
  }
  return plans;
}

export interface RecoveredDevice extends PlannedDevice {
  result?: RestoreOutcome | 'busy' | 'failed' | 'skipped';
  error?: string;
}

export interface RecoveredRun extends Omit<PlannedRun, 'devices' | 'dynids'> {
  devices: RecoveredDevice[];
  dynids: {
    driver: string;
    id: string;
    address: string;
    result?: 'removed' | 'absent' | 'failed';
    error?: string;
  }[];
  /** the journal was deleted (nothing left in it) */
  closed?: boolean;
}

export interface RecoverReport {
  dryRun: boolean;
  stateDir: string;
  runs: RecoveredRun[];
  restored: number;
  failed: number;
  /** leases of owners that are gone: taken over to give their devices back, or removed at the end */
  staleLeases: number;
  /** journal lines refused because a field breaks its grammar (counted in `failed`; never acted on) */
  rejected: RejectedJournal[];
}

export interface RecoverOptions {
  host: Host;
  stateDir: string;
  dryRun?: boolean;
  log: LeaseLog & { info(line: string): void };
  /** only these devices (used when a run takes over a stale lease before preparing a device) */
  only?: readonly string[];
  /** the caller already holds the leases of `only` */
  leased?: boolean;
  /** the identity leases are taken under; default: this process */
  owner?: ProcessIdentity;
}

export async function recover(o: RecoverOptions): Promise<RecoverReport> {
  const { host, log } = o;
  const { runs, rejected } = await readJournalsChecked(o.stateDir);
  for (const j of rejected)
    for (const l of j.lines)
      log.warn(`warning: ${j.file}: line ${l.line} refused and not acted on: ${printable(l.reason)}`);
  const status = new Map<string, OwnerStatus>();
  const current = new Map<string, BindingState | null>();
  for (const run of runs) {
    status.set(run.id, await checkOwner(host, run.owner));
    for (const d of run.devices)
      if (!current.has(d.address)) current.set(d.address, await readBinding(host, d.address));
  }
  const plans = planRecovery(runs, status, current, o.only);
  const report: RecoverReport = {
    dryRun: Boolean(o.dryRun),
    stateDir: o.stateDir,
    runs: [],
    restored: 0,
    failed: 0,
    staleLeases: 0,
    rejected,
  };
  // a refused record is work that could not be done safely: the run is incomplete
  report.failed += rejected.reduce((n, j) => n + j.lines.length, 0);
  const owner = o.owner ?? (await selfIdentity(host));
  for (const plan of plans) {
    const out: RecoveredRun = {
      ...plan,
      devices: plan.devices.map((d) => ({ ...d })),
      dynids: plan.dynids.map((d) => ({ ...d })),
    };
    report.runs.push(out);
    if (o.dryRun || plan.ownerStatus === 'alive') continue;
    const journal = plan.journal;
    const ctx = { host };
    // ids first: with a stale id in a stub's table, drivers_probe could hand the device to the stub
    for (const d of out.dynids) {
      try {
        d.result = await removeDynId(ctx, d.driver, d.id);
        await appendRecord(journal, {
          type: 'dynid-done',
          driver: d.driver,
          id: d.id,
          outcome: d.result === 'removed' ? 'removed' : 'absent',
        });
      } catch (e) {
        d.result = 'failed';
        d.error = e instanceof Error ? e.message : String(e);
        report.failed++;
      }
    }
    for (const d of out.devices) {
      if (d.action !== 'restore') continue;
      let leases: Awaited<ReturnType<typeof acquireLeases>> | undefined;
      try {
        if (!o.leased) {
          const keys: LeaseKey[] = [{ kind: 'device', id: d.address }];
          if (d.iommuGroup) keys.push({ kind: 'group', id: d.iommuGroup });
          leases = await acquireLeases({
            host,
            stateDir: o.stateDir,
            keys,
            owner: { ...owner, guest: plan.guest, command: 'recover' },
            log,
          });
          report.staleLeases += leases.takenOver.length;
        }
        d.result = await restoreBinding(ctx, d.address, d.original);
        await appendRecord(journal, {
          type: 'state',
          address: d.address,
          state: d.result === 'gone' ? 'gone' : 'restored',
        });
        if (d.result !== 'gone') report.restored++;
        log.info(
          `${d.address}: ${d.result === 'gone' ? 'no longer present' : `back on ${formatBinding(d.original)}`} (${describeRun(plan)})`,
        );
      } catch (e) {
        if (isInstallGuestError(e) && e.code === 'DEVICE_BUSY') {
          d.result = 'busy';
          d.error = e.message;
          log.warn(`warning: ${d.address} left alone: ${e.message}`);
          continue;
        }
        d.result = 'failed';
        d.error = e instanceof StepFailure || e instanceof Error ? e.message : String(e);
        report.failed++;
        log.warn(`warning: could not give ${d.address} back: ${d.error}`);
      } finally {
        await leases?.release();
      }
    }
    const now = await readJournals(o.stateDir).then((rs) => rs.find((r) => r.id === plan.runId));
    if (now && isSettled(now)) {
      if (!now.ended) await appendRecord(journal, { type: 'end' });
      out.closed = await removeIfSettled(journal);
    }
  }
  // leases a gone run took before it journaled anything (and any other orphan): only a full recover
  if (!o.dryRun && !o.only) report.staleLeases += (await removeStaleLeases(host, o.stateDir)).length;
  return report;
}

export function describeRun(p: Pick<PlannedRun, 'owner' | 'guest' | 'command' | 'ownerStatus'>): string {
  return `${printable(p.command)} for guest ${printable(p.guest)}, PID ${p.owner.pid} ${p.ownerStatus === 'alive' ? 'still running' : 'gone'}`;
}

/** Human lines for a report (also the dry-run plan). */
export function formatRecoverReport(r: RecoverReport): string[] {
  const lines: string[] = [];
  const todo = r.runs.filter((run) => run.devices.length > 0 || run.dynids.length > 0);
  for (const j of r.rejected ?? [])
    lines.push(`refused: ${j.lines.length} line(s) of journal ${j.file} (see the warnings); not acted on`);
  if (todo.length === 0) {
    if (!r.rejected?.length) lines.push(`nothing to recover (state directory ${r.stateDir})`);
    return lines;
  }
  for (const run of todo) {
    lines.push(`${r.dryRun ? 'would recover' : 'recovered'}: ${describeRun(run)} (journal ${run.journal})`);
    for (const d of run.devices) {
      const id = d.vendorDevice ? ` [${d.vendorDevice}]` : '';
      if (d.action === 'kept') {
        lines.push(
          `  ${d.address}${id}: kept detached on purpose; \`install-guest hostdev reattach ${d.address}\` gives it back`,
        );
      } else if (d.action === 'owner-alive') {
        lines.push(`  ${d.address}${id}: left alone, its owner is still running`);
      } else {
        const from = d.current ? formatBinding(d.current) : 'not present';
        const same = d.current !== null && sameBinding(d.current, d.original);
        const result = d.result ? ` [${d.result}${d.error ? `: ${d.error}` : ''}]` : '';
        lines.push(
          `  ${d.address}${id}: ${same ? `already on ${from}` : `${from} → ${formatBinding(d.original)}`}${result}`,
        );
      }
    }
    for (const d of run.dynids) {
      lines.push(
        `  dynamic id ${d.id} on ${d.driver}: remove${d.result ? ` [${d.result}${d.error ? `: ${d.error}` : ''}]` : ''}`,
      );
    }
  }
  return lines;
}
