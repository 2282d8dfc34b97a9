/**
 * Device preparation: the transaction that takes the requested devices from their host drivers to a
 * stub driver, in named steps (after libvirt's virHostdevPreparePCIDevices):
 *
 *   step 1  check each requested device: present, not a bridge or a controller hosting others, in an
 *           IOMMU group when vfio-pci is asked for;
 *   step 2  lease the IOMMU groups and devices (a second run gets DEVICE_BUSY naming the owner);
 *   step 3  give back whatever a run that is gone left detached (recover, limited to these devices);
 *   step 4  group viability: every other endpoint member of each group on a stub or unbound; bridges
 *           and controllers hosting other devices stay; the others are bound too only with `group`;
 *   step 5  host guards (default-route NIC, mounted-disk controller, /dev/vfio held open); `force`
 *           turns them into warnings;
 *   step 6  load the stub driver;
 *   step 7  detach every device, journaled write by write;
 *   step 8  reset every device.
 *
 * Steps 1, 4 and 5 only read: `planPreparation` runs exactly those (the same functions) for a dry
 * run, so a dry run refuses what the real run refuses, with the same code. Any failure in steps 7–8,
 * or an interruption between two writes, rolls every touched device back to its exact original
 * driver, driver_override and dynamic ids, and the error names the device and the step.
 *
 * The returned session (session.ts) gives the devices back (`release`) or leaves them detached on
 * purpose (`keep`). The standalone `hostdev reattach|reset` live in standalone.ts.
 */
import path from 'node:path';
import { hostError, interruptedError } from '../errors.js';
import type { Host } from '../host/host.js';
import {
  AbortedStep,
  type BindingContext,
  type DeviceFacts,
  StepFailure,
  type StubDriver,
  VIABLE_DRIVERS,
  bindToPciStub,
  bindToVfio,
  formatBinding,
  groupMembers,
  readDeviceFacts,
} from './binding.js';
import { type GuardFinding, readVfioHolders, runGuards } from './guards.js';
import { RunJournal } from './journal.js';
import {
  type LeaseKey,
  acquireLeases,
  checkLeases,
  describeKey,
  describeOwner,
  selfIdentity,
} from './lease.js';
import { ensureDriverLoaded } from './modules.js';
import { recover } from './recover.js';
import { applyReset, planReset, readResetFacts } from './reset.js';
import { PreparedSession, type PreparedDevice, type Touched, rollback } from './session.js';
import { abortName, stepError } from './step-error.js';

export interface PrepLog {
  info(line: string): void;
  warn(line: string): void;
}

/** The state directory: /var/lib/install-guest, or under the host root for a fixture tree. */
export function defaultStateDir(host: Host): string {
  return host.isRealRoot ? '/var/lib/install-guest' : path.join(host.root, 'var/lib/install-guest');
}

/** What the read-only checks need (steps 1, 4, 5). */
export interface CheckOptions {
  host: Host;
  addresses: readonly string[];
  driver?: StubDriver;
  /** also bind the other endpoint members of each device's IOMMU group */
  group?: boolean;
  /** guards warn instead of refusing */
  force?: boolean;
  /**
   * planPreparation: the state directory whose leases the real run would take; a device or group a
   * live run holds is refused with DEVICE_BUSY, as step 2 does (read only: nothing is created)
   */
  stateDir?: string;
}

export interface PrepareOptions extends CheckOptions {
  stateDir: string;
  /** reset after detaching (default true) */
  reset?: boolean;
  guest: string;
  command: string;
  signal?: AbortSignal;
  log: PrepLog;
  /** may modprobe run (default: only on the real root) */
  allowModprobe?: boolean;
}

const dedupe = (xs: readonly string[]): string[] => [...new Set(xs)];

/** Bridges and controllers that host other devices (a VMD's whole PCI domain) are never detached. */
const stays = (m: DeviceFacts): boolean => m.isBridge || m.hostsDevices !== null;

function describeMember(m: DeviceFacts, requested: boolean, blocks: boolean): string {
  const role = m.isBridge
    ? 'bridge, stays'
    : m.hostsDevices
      ? 'hosts other devices, stays'
      : requested
        ? 'requested'
        : blocks
          ? 'blocks'
          : 'fine';
  return `${m.address}${m.vendorDevice ? ` [${m.vendorDevice}]` : ''} on ${m.driver ?? 'no driver'} (${role})`;
}

export async function factsOrThrow(host: Host, address: string): Promise<DeviceFacts> {
  const f = await readDeviceFacts(host, address);
  if (!f) {
    throw hostError('HOSTDEV_NOT_FOUND', `no PCI device ${address} on this host`, {
      hint: 'see install-guest hostdev list',
    });
  }
  return f;
}

/** Step 1: each requested device exists, is an endpoint, and (for vfio-pci) has an IOMMU group. */
async function checkRequested(
  host: Host,
  addresses: readonly string[],
  driver: StubDriver,
): Promise<DeviceFacts[]> {
  const check = async (address: string): Promise<DeviceFacts> => {
    const f = await factsOrThrow(host, address);
    if (f.isBridge) {
      throw hostError(
        'DEVICE_IS_BRIDGE',
        `${address} is a PCI bridge (class ${f.classCode}); bridges are not assigned`,
        {
          hint: 'assign the endpoint devices behind it',
        },
      );
    }
    if (f.hostsDevices) {
      throw hostError(
        'DEVICE_HOSTS_DEVICES',
        `${address} [${f.vendorDevice ?? '?'}] hosts other PCI devices (${f.hostsDevices}); detaching it would pull them all from the host`,
        { hint: 'assign the endpoint devices behind it, if their IOMMU group allows it' },
      );
    }
    if (driver === 'vfio-pci' && !f.iommuGroup) {
      throw hostError(
        'NO_IOMMU_GROUP',
        `${address} has no IOMMU group: vfio-pci cannot take it (the IOMMU is off or missing)`,
        {
          hint: 'boot with intel_iommu=on (or amd_iommu=on) and enable VT-d/AMD-Vi in the firmware; --driver pci-stub only reserves the device',
        },
      );
    }
    return f;
  };
  return Promise.all(dedupe(addresses).map(check));
}

const groupsOf = (facts: readonly DeviceFacts[]): string[] =>
  dedupe(facts.flatMap((f) => (f.iommuGroup ? [f.iommuGroup] : []))).sort();

async function membersOf(host: Host, groups: readonly string[]): Promise<DeviceFacts[]> {
  const out: DeviceFacts[] = [];
  for (const g of groups) {
    for (const a of await groupMembers(host, g)) {
      const f = await readDeviceFacts(host, a);
      if (f) out.push(f);
    }
  }
  return out;
}

/**
 * Step 4: the other members of the groups that keep them from being viable (on a host driver). With
 * `group` they are bound too (returned); without, IOMMU_GROUP_NOT_VIABLE. A controller hosting other
 * devices (VMD) is never detached: a group it blocks is not viable even with `group`.
 */
async function checkViability(
  host: Host,
  facts: readonly DeviceFacts[],
  groups: readonly string[],
  group: boolean,
): Promise<DeviceFacts[]> {
  const all = await membersOf(host, groups);
  const isRequested = new Set(facts.map((f) => f.address));
  const onHostDriver = (m: DeviceFacts): boolean =>
    !isRequested.has(m.address) && !m.isBridge && m.driver !== null && !VIABLE_DRIVERS.includes(m.driver);
  const blocking = all.filter(onHostDriver);
  const hosting = blocking.filter((m) => m.hostsDevices);
  if (blocking.length > 0 && (!group || hosting.length > 0)) {
    const byGroup = groups.map((g) => {
      const ms = all.filter((m) => m.iommuGroup === g);
      return `IOMMU group ${g}: ${ms.map((m) => describeMember(m, isRequested.has(m.address), blocking.includes(m))).join(', ')}`;
    });
    const requested = facts.map((f) => f.address);
    const stuck = group ? hosting : blocking;
    throw hostError(
      'IOMMU_GROUP_NOT_VIABLE',
      `${requested.join(', ')} cannot be assigned${group ? '' : ' alone'}: ${stuck.map((b) => `${b.address} is on ${b.driver}${b.hostsDevices ? ` and hosts other devices (${b.hostsDevices}): it is never detached` : ''}`).join(', ')} in the same IOMMU group; ${byGroup.join('; ')}`,
      {
        hint:
          hosting.length > 0
            ? 'devices behind a VMD (or another controller hosting its own PCI domain) share its IOMMU group and cannot be assigned apart from it; disable VMD in the firmware to assign them'
            : 'add --group to detach the other endpoint members too (an install assigns them to the guest beside the device), or pick a device alone in its group',
        data: {
          groups: Object.fromEntries(
            groups.map((g) => [
              g,
              all
                .filter((m) => m.iommuGroup === g)
                .map((m) => ({ address: m.address, driver: m.driver, bridge: stays(m) })),
            ]),
          ),
        },
      },
    );
  }
  return blocking;
}

/** Step 5: the guards refuse (or, with `force`, warn); returns the warnings. */
async function checkGuards(
  host: Host,
  toBind: readonly DeviceFacts[],
  force: boolean,
  log: PrepLog | undefined,
): Promise<{ findings: GuardFinding[]; warnings: string[] }> {
  const findings = await runGuards(host, toBind);
  const warnings: string[] = [];
  if (findings.length === 0) return { findings, warnings };
  if (!force) {
    throw hostError(findings[0]!.code, findings.map((f) => f.message).join('; '), {
      hint: 'choose another device, or --force if you accept what breaks',
      data: { findings },
    });
  }
  for (const f of findings) {
    const w = `--force: ${f.message}`;
    warnings.push(w);
    log?.warn(`warning: ${w}`);
  }
  return { findings, warnings };
}

/** What a preparation binds, decided by the read-only steps. */
export interface PreparationPlan {
  driver: StubDriver;
  groups: string[];
  /** the requested devices, then (with `group`) the other endpoint members of their groups */
  toBind: DeviceFacts[];
  requested: ReadonlySet<string>;
  /** the guards' findings accepted with `force` */
  warnings: string[];
  /** each device of `toBind` as the session will hold it; `changed`: it is not on the stub yet */
  devices: PreparedDevice[];
}

/** Already on the stub, with the override the stub needs: nothing to detach, nothing to give back. */
function onStubAlready(f: DeviceFacts, driver: StubDriver): boolean {
  return (
    f.driver === driver &&
    (driver === 'pci-stub' ? f.override === null || f.override === driver : f.override === driver)
  );
}

/** Steps 1, 2 (the leases, given `stateDir`), 4 and 5, reads only: what the real run would bind, or the error it would stop with. */
export async function planPreparation(o: CheckOptions, log?: PrepLog): Promise<PreparationPlan> {
  const driver: StubDriver = o.driver ?? 'vfio-pci';
  const facts = await checkRequested(o.host, o.addresses, driver);
  const groups = groupsOf(facts);
  // step 2, read only: the leases the real run would take (it stops there with DEVICE_BUSY)
  const stale = o.stateDir ? await checkLeases(o.host, o.stateDir, await leaseKeysOf(o, groups)) : [];
  for (const t of stale)
    log?.warn(
      `warning: the real run would take over the stale lease on ${describeKey(t.key)}${t.previous ? ` (${describeOwner(t.previous)} is gone)` : ''}`,
    );
  const blocking = await checkViability(o.host, facts, groups, Boolean(o.group));
  const toBind = [...facts, ...blocking];
  const { warnings } = await checkGuards(o.host, toBind, Boolean(o.force), log);
  const requested = new Set(facts.map((f) => f.address));
  const devices = toBind.map((f) => ({
    address: f.address,
    vendorDevice: f.vendorDevice,
    iommuGroup: f.iommuGroup,
    original: { driver: f.driver, override: f.override },
    driver,
    requested: requested.has(f.address),
    changed: !onStubAlready(f, driver),
    vfioNode: null,
  }));
  return { driver, groups, toBind, requested, warnings, devices };
}

/** Step 7 for one device: journal it, bind it to the stub, mark it detached. */
async function detachOne(
  ctx: BindingContext & { journal: RunJournal },
  f: DeviceFacts,
  p: PreparedDevice,
  touched: Touched[],
  log: PrepLog,
): Promise<void> {
  const { host, journal } = ctx;
  const driver = p.driver;
  await journal.device({
    address: f.address,
    vendorDevice: f.vendorDevice,
    iommuGroup: f.iommuGroup,
    original: p.original,
    target: driver,
    reason: p.requested ? 'requested' : `member of IOMMU group ${f.iommuGroup} (--group)`,
  });
  touched.push({ address: f.address, original: p.original });
  p.changed = true;
  if (driver === 'vfio-pci') {
    p.vfioNode = await bindToVfio(ctx, f);
  } else {
    const bystanders = await unboundSameId(host, f);
    await bindToPciStub(ctx, f, {
      bystanders: bystanders.map((b) => b.address),
      beforeNewId: async () => {
        for (const b of bystanders) {
          await journal.device({
            address: b.address,
            vendorDevice: b.vendorDevice,
            iommuGroup: b.iommuGroup,
            original: { driver: b.driver, override: b.override },
            target: null,
            reason: `same id as ${f.address}: pci-stub's new_id may grab it`,
          });
          touched.push({ address: b.address, original: { driver: b.driver, override: b.override } });
        }
      },
    });
    for (const b of bystanders) await journal.mark(b.address, 'restored');
  }
  await journal.mark(f.address, 'detached');
  log.info(`${f.address}: ${formatBinding(p.original)} → ${driver}${p.vfioNode ? ` (${p.vfioNode})` : ''}`);
}

/** Step 2's lease keys: each IOMMU group, then each requested device (and, with `group`, the other endpoint members). */
async function leaseKeysOf(
  o: Pick<CheckOptions, 'host' | 'addresses' | 'group'>,
  groups: readonly string[],
): Promise<LeaseKey[]> {
  const endpointMembers = (await membersOf(o.host, groups)).filter((m) => !stays(m)).map((m) => m.address);
  return [
    ...groups.map((id) => ({ kind: 'group' as const, id })),
    ...dedupe([...dedupe(o.addresses), ...(o.group ? endpointMembers : [])]).map((id) => ({
      kind: 'device' as const,
      id,
    })),
  ];
}

export async function prepareDevices(o: PrepareOptions): Promise<PreparedSession> {
  const { host, log } = o;
  const driver: StubDriver = o.driver ?? 'vfio-pci';
  const requested = dedupe(o.addresses);

  // step 1 (again after step 3, which may have changed bindings)
  const first = await checkRequested(host, requested, driver);
  const groups = groupsOf(first);
  const endpointMembers = (await membersOf(host, groups)).filter((m) => !stays(m)).map((m) => m.address);

  // step 2
  const owner = await selfIdentity(host);
  const keys = await leaseKeysOf(o, groups);
  const leases = await acquireLeases({
    host,
    stateDir: o.stateDir,
    keys,
    owner: { ...owner, guest: o.guest, command: o.command },
    log,
  });
  let journal: RunJournal | undefined;
  try {
    // step 3: a run that is gone may have left these devices detached: give them back before we start
    const rec = await recover({
      host,
      stateDir: o.stateDir,
      log,
      only: dedupe([...requested, ...endpointMembers]),
      leased: true,
      owner,
    });
    if (rec.failed > 0) {
      const what = rec.runs.flatMap((r) =>
        r.devices.filter((d) => d.result === 'failed').map((d) => `${d.address}: ${d.error}`),
      );
      throw hostError(
        'RECOVER_FAILED',
        `a run that is gone left devices detached and they could not be given back: ${what.join('; ')}`,
        {
          hint: 'run `install-guest recover` and read its report',
        },
      );
    }

    // steps 1, 4, 5: the read-only checks a dry run runs too (step 2 is done: the leases are ours)
    const plan = await planPreparation({ ...o, stateDir: undefined }, log);
    if (driver === 'pci-stub') {
      log.warn(
        'warning: pci-stub only reserves the device (legacy: modern qemu has no pci-assign); use vfio-pci to assign it',
      );
    }
    // step 6
    await ensureDriverLoaded(host, driver, { allowModprobe: o.allowModprobe });

    journal = await RunJournal.open({
      host,
      stateDir: o.stateDir,
      owner,
      guest: o.guest,
      command: o.command,
    });
    const ctx = { host, journal, signal: o.signal };
    const touched: Touched[] = [];
    const prepared: PreparedDevice[] = [];
    try {
      // step 7
      for (const f of plan.toBind) {
        const p: PreparedDevice = {
          address: f.address,
          vendorDevice: f.vendorDevice,
          iommuGroup: f.iommuGroup,
          original: { driver: f.driver, override: f.override },
          driver,
          requested: plan.requested.has(f.address),
          changed: false,
          vfioNode: null,
        };
        prepared.push(p);
        if (onStubAlready(f, driver)) {
          p.vfioNode = driver === 'vfio-pci' && f.iommuGroup ? `/dev/vfio/${f.iommuGroup}` : null;
          continue;
        }
        await detachOne(ctx, f, p, touched, log);
      }
      // step 8
      if (o.reset !== false) {
        for (const p of prepared) {
          const rf = await readResetFacts(host, p.address, {
            groupInUse: async (g) => (await readVfioHolders(host, g)).some((h) => h.pid !== process.pid),
          });
          p.reset = await applyReset(ctx, rf, planReset(rf));
          if (p.reset.method !== 'skipped') log.info(`${p.address}: reset (${p.reset.detail})`);
        }
      }
      if (o.signal?.aborted) throw new AbortedStep(o.signal.reason);
    } catch (e) {
      const failures = await rollback(host, journal, touched);
      if (failures.length === 0) await journal.end();
      else await journal.abandon();
      if (e instanceof AbortedStep) {
        const err = interruptedError(abortName(e.reason));
        if (failures.length > 0) log.warn(`warning: could not give back: ${failures.join('; ')}`);
        throw err;
      }
      if (e instanceof StepFailure) throw stepError(e, failures, `binding to ${driver}`);
      throw e;
    }
    return new PreparedSession(prepared, journal.file, plan.warnings, host, journal, leases, touched);
  } catch (e) {
    await leases.release();
    throw e;
  }
}

/** Unbound devices with the same vendor:device that pci-stub's new_id could grab as a side effect. */
async function unboundSameId(host: Host, f: DeviceFacts): Promise<DeviceFacts[]> {
  const out: DeviceFacts[] = [];
  for (const a of await host.list('/sys/bus/pci/devices')) {
    if (a === f.address) continue;
    const o = await readDeviceFacts(host, a);
    if (
      o &&
      o.vendorDevice === f.vendorDevice &&
      o.driver === null &&
      (o.override === null || o.override === 'pci-stub')
    ) {
      out.push(o);
    }
  }
  return out;
}
