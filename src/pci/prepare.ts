/**
 * Device preparation: the orchestration of leases, guards, binding, reset and journal.
 *
 * prepareDevices: lease the IOMMU groups and devices → give back whatever a gone run left detached →
 * check group viability (every endpoint member on a stub or unbound; bridges stay; others are bound
 * only with `group`) → guards (default-route NIC, mounted-disk controller, /dev/vfio held open; `force`
 * turns them into warnings) → load the stub module → detach all → reset all. Any failure, or an
 * interruption between two writes, rolls every touched device back to its exact original driver,
 * driver_override and dynamic ids, and the error names the device and the step.
 *
 * The returned session gives the devices back (`release`) or leaves them detached on purpose (`keep`).
 * reattachDevice and resetDevice are the standalone `hostdev reattach|reset` operations.
 */
import path from 'node:path';
import { type InstallGuestError, hostError, interruptedError } from '../errors.js';
import type { Host } from '../host/host.js';
import {
  AbortedStep,
  type BindingContext,
  type BindingState,
  type DeviceFacts,
  STUB_DRIVERS,
  StepFailure,
  type StubDriver,
  VIABLE_DRIVERS,
  bindToPciStub,
  bindToVfio,
  ensureDriverLoaded,
  formatBinding,
  groupMembers,
  readBinding,
  readDeviceFacts,
  releaseToKernel,
  removeDynId,
  restoreBinding,
} from './binding.js';
import { RunJournal, readJournal, readJournals, removeIfSettled, appendRecord } from './journal.js';
import { type LeaseKey, type LeaseSet, type ProcessIdentity, acquireLeases, selfIdentity } from './lease.js';
import { recover } from './recover.js';
import { type ResetOutcome, applyReset, planReset, readResetFacts } from './reset.js';

export interface PrepLog {
  info(line: string): void;
  warn(line: string): void;
}

/** The state directory: /var/lib/install-guest, or under the host root for a fixture tree. */
export function defaultStateDir(host: Host): string {
  return host.isRealRoot ? '/var/lib/install-guest' : path.join(host.root, 'var/lib/install-guest');
}

// ---------------------------------------------------------------------------------------------------
// Guards: pure predicates over facts, and the small readers that gather those facts through Host.

export type GuardCode = 'HOST_NIC_IN_USE' | 'MOUNTED_DISK_CONTROLLER' | 'VFIO_GROUP_OPEN';

export interface GuardFinding {
  address: string;
  code: GuardCode;
  /** what would break */
  message: string;
}

export interface NicFacts {
  address: string;
  /** the device's network interfaces and, for each, the bridges/bonds it is enslaved to (innermost first) */
  interfaces: { name: string; masters: string[] }[];
}

export interface RouteFacts {
  defaultRoutes: { iface: string; gateway: string; family: 4 | 6 }[];
  /** interfaces with addresses: connected IPv4 subnets and global IPv6 addresses */
  addressed: { iface: string; addresses: string[] }[];
}

function hexToIpv4(hex: string): string {
  const n = parseInt(hex, 16) >>> 0;
  return [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, (n >>> 24) & 255].join('.');
}

function maskBits(hex: string): number {
  let n = parseInt(hex, 16) >>> 0;
  let bits = 0;
  while (n) {
    bits += n & 1;
    n >>>= 1;
  }
  return bits;
}

function hexToIpv6(hex: string): string {
  return (hex.match(/.{4}/g) ?? []).map((g) => g.replace(/^0{1,3}/, '')).join(':');
}

/** Pure: /proc/net/route (+ ipv6_route, if_inet6) → default routes and addressed interfaces. */
export function parseRoutes(route: string, ipv6Route = '', ifInet6 = ''): RouteFacts {
  const defaultRoutes: RouteFacts['defaultRoutes'] = [];
  const addressed = new Map<string, string[]>();
  const add = (iface: string, a: string): void => {
    const list = addressed.get(iface) ?? [];
    if (!list.includes(a)) list.push(a);
    addressed.set(iface, list);
  };
  for (const line of route.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const [iface, dest, gw, flags, , , , mask] = f as [
      string,
      string,
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    if ((parseInt(flags, 16) & 1) === 0) continue;
    if (dest === '00000000' && mask === '00000000')
      defaultRoutes.push({ iface, gateway: hexToIpv4(gw), family: 4 });
    else if (gw === '00000000' && mask !== '00000000') add(iface, `${hexToIpv4(dest)}/${maskBits(mask)}`);
  }
  for (const line of ipv6Route.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const [dest, plen, , , nexthop, , , , flags, iface] = f;
    const fl = parseInt(flags!, 16);
    if (/^0+$/.test(dest!) && plen === '00' && iface !== 'lo' && (fl & 1) !== 0 && (fl & 0x200) === 0) {
      defaultRoutes.push({ iface: iface!, gateway: hexToIpv6(nexthop!), family: 6 });
    }
  }
  for (const line of ifInet6.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 6) continue;
    const [addr, , plen, scope, , iface] = f;
    if (scope === '00') add(iface!, `${hexToIpv6(addr!)}/${parseInt(plen!, 16)}`);
  }
  return { defaultRoutes, addressed: [...addressed].map(([iface, addresses]) => ({ iface, addresses })) };
}

/** Pure: refuses a NIC carrying the default route or addresses, directly or through a bridge/bond. */
export function nicGuard(nic: NicFacts, routes: RouteFacts): GuardFinding[] {
  const out: GuardFinding[] = [];
  for (const i of nic.interfaces) {
    const chain = [i.name, ...i.masters];
    const via = (name: string): string => (name === i.name ? '' : ` through ${name}`);
    const defaults = routes.defaultRoutes.filter((r) => chain.includes(r.iface));
    if (defaults.length > 0) {
      const r = defaults[0]!;
      out.push({
        address: nic.address,
        code: 'HOST_NIC_IN_USE',
        message: `${nic.address} is the NIC ${i.name} carrying the host's default route (via ${r.gateway}${via(r.iface)}): detaching it cuts the host off the network`,
      });
      continue;
    }
    const addr = routes.addressed.filter((a) => chain.includes(a.iface));
    if (addr.length > 0) {
      const list = addr.flatMap((a) => a.addresses.map((x) => `${x}${via(a.iface)}`));
      out.push({
        address: nic.address,
        code: 'HOST_NIC_IN_USE',
        message: `${nic.address} is the NIC ${i.name} with host addresses ${list.join(', ')}: connections to them (management, ssh) would drop`,
      });
    }
  }
  return out;
}

export interface DiskFacts {
  address: string;
  /** block devices below the controller; `names` holds the device, its holders (dm, md) and mapper names */
  blocks: { name: string; names: string[] }[];
}

export interface MountFacts {
  /** `names`: the block names the source resolves to (sda1, dm-0, mapper/vg-root) */
  mounts: { source: string; target: string; names: string[] }[];
  swaps: { source: string; names: string[] }[];
}

/** Pure: refuses the controller of a disk that is mounted or used as swap. */
export function diskGuard(disk: DiskFacts, m: MountFacts): GuardFinding[] {
  const out: GuardFinding[] = [];
  for (const b of disk.blocks) {
    const hit = (names: string[]): boolean => names.some((n) => b.names.includes(n));
    const mounted = m.mounts.filter((x) => hit(x.names));
    const swaps = m.swaps.filter((x) => hit(x.names));
    if (mounted.length === 0 && swaps.length === 0) continue;
    const what = [
      ...mounted.map((x) => `${x.source} mounted on ${x.target}`),
      ...swaps.map((x) => `${x.source} used as swap`),
    ];
    out.push({
      address: disk.address,
      code: 'MOUNTED_DISK_CONTROLLER',
      message: `${disk.address} controls disk ${b.name} (${what.join(', ')}): detaching it pulls the disk from under the host`,
    });
  }
  return out;
}

export interface VfioHolder {
  pid: number;
  comm: string;
}

/** Pure: refuses a device whose IOMMU group another process holds open through /dev/vfio/N. */
export function vfioGuard(
  address: string,
  group: string | null,
  holders: readonly VfioHolder[],
  selfPid: number,
): GuardFinding[] {
  const others = holders.filter((h) => h.pid !== selfPid);
  if (!group || others.length === 0) return [];
  return [
    {
      address,
      code: 'VFIO_GROUP_OPEN',
      message: `${address}: /dev/vfio/${group} is held open by ${others.map((h) => `PID ${h.pid} (${h.comm})`).join(', ')}: a running guest uses its group and would lose the device`,
    },
  ];
}

export async function readNicFacts(host: Host, address: string): Promise<NicFacts> {
  const interfaces: NicFacts['interfaces'] = [];
  // /sys/class/net/<if> links into the device's tree, directly (…/<address>/net/<if>) or deeper
  // (virtio: …/<address>/virtio0/net/<if>)
  const names: string[] = [];
  for (const name of await host.list('/sys/class/net')) {
    const link = await host.readLink(`/sys/class/net/${name}`);
    if (link && link.split('/').includes(address)) names.push(name);
  }
  for (const name of names) {
    const masters: string[] = [];
    let cur = name;
    for (let i = 0; i < 4; i++) {
      const m = await host.linkName(`/sys/class/net/${cur}/master`);
      if (!m || masters.includes(m)) break;
      masters.push(m);
      cur = m;
    }
    interfaces.push({ name, masters });
  }
  return { address, interfaces };
}

export async function readRouteFacts(host: Host): Promise<RouteFacts> {
  return parseRoutes(
    (await host.readTrimmed('/proc/net/route')) ?? '',
    (await host.readTrimmed('/proc/net/ipv6_route')) ?? '',
    (await host.readTrimmed('/proc/net/if_inet6')) ?? '',
  );
}

async function holderNames(host: Host, name: string, depth = 0): Promise<string[]> {
  const out = [name];
  const dm = await host.readTrimmed(`/sys/class/block/${name}/dm/name`);
  if (dm) out.push(`mapper/${dm}`);
  if (depth >= 3) return out;
  for (const h of await host.list(`/sys/class/block/${name}/holders`))
    out.push(...(await holderNames(host, h, depth + 1)));
  return out;
}

export async function readDiskFacts(host: Host, address: string): Promise<DiskFacts> {
  const blocks: DiskFacts['blocks'] = [];
  for (const name of await host.list('/sys/class/block')) {
    const link = await host.readLink(`/sys/class/block/${name}`);
    if (!link || !link.split('/').includes(address)) continue;
    blocks.push({ name, names: await holderNames(host, name) });
  }
  return { address, blocks };
}

const unescapeMount = (s: string): string =>
  s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));

async function sourceNames(host: Host, source: string): Promise<string[]> {
  if (!source.startsWith('/dev/')) return [];
  const names = [source.slice('/dev/'.length)];
  const base = path.posix.basename(source);
  if (!names.includes(base)) names.push(base);
  const target = await host.readLink(source);
  if (target) names.push(path.posix.basename(target));
  return names;
}

export async function readMountFacts(host: Host): Promise<MountFacts> {
  const mounts: MountFacts['mounts'] = [];
  for (const line of ((await host.readTrimmed('/proc/mounts')) ?? '').split('\n')) {
    const [src, target] = line.split(/\s+/);
    if (!src || !target) continue;
    const source = unescapeMount(src);
    const names = await sourceNames(host, source);
    if (names.length > 0) mounts.push({ source, target: unescapeMount(target), names });
  }
  const swaps: MountFacts['swaps'] = [];
  for (const line of ((await host.readTrimmed('/proc/swaps')) ?? '').split('\n').slice(1)) {
    const [src] = line.split(/\s+/);
    if (src) swaps.push({ source: src, names: await sourceNames(host, src) });
  }
  return { mounts, swaps };
}

/** Processes holding /dev/vfio/<group> open (scans /proc/<pid>/fd links; only when the node exists). */
export async function readVfioHolders(host: Host, group: string): Promise<VfioHolder[]> {
  const node = `/dev/vfio/${group}`;
  if (!(await host.exists(node))) return [];
  const out: VfioHolder[] = [];
  for (const p of await host.list('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    for (const fd of await host.list(`/proc/${p}/fd`)) {
      if ((await host.readLink(`/proc/${p}/fd/${fd}`)) === node) {
        out.push({ pid: Number(p), comm: (await host.readTrimmed(`/proc/${p}/comm`)) ?? '?' });
        break;
      }
    }
  }
  return out;
}

export async function runGuards(host: Host, devices: readonly DeviceFacts[]): Promise<GuardFinding[]> {
  const findings: GuardFinding[] = [];
  let routes: RouteFacts | undefined;
  let mounts: MountFacts | undefined;
  const holders = new Map<string, VfioHolder[]>();
  for (const d of devices) {
    const nic = await readNicFacts(host, d.address);
    if (nic.interfaces.length > 0) findings.push(...nicGuard(nic, (routes ??= await readRouteFacts(host))));
    const disk = await readDiskFacts(host, d.address);
    if (disk.blocks.length > 0) findings.push(...diskGuard(disk, (mounts ??= await readMountFacts(host))));
    if (d.iommuGroup) {
      if (!holders.has(d.iommuGroup)) holders.set(d.iommuGroup, await readVfioHolders(host, d.iommuGroup));
      findings.push(...vfioGuard(d.address, d.iommuGroup, holders.get(d.iommuGroup)!, process.pid));
    }
  }
  return findings;
}

// ---------------------------------------------------------------------------------------------------
// Errors

const STEP_HINT: Record<string, string> = {
  DRIVER_OVERRIDE_FAILED:
    'the kernel may lack driver_override (Linux 3.16+); --driver pci-stub uses new_id instead',
  UNBIND_FAILED: 'the host driver would not let go of the device; see dmesg, stop what uses it, then retry',
  PROBE_FAILED: 'see dmesg for why no driver took the device',
  BIND_FAILED:
    'the driver refused the device; see dmesg (for vfio-pci the IOMMU must be on: intel_iommu=on or amd_iommu=on)',
  BIND_VERIFY_FAILED:
    'the driver refused the device; see dmesg (for vfio-pci the IOMMU must be on: intel_iommu=on or amd_iommu=on)',
  NEW_ID_FAILED: 'pci-stub refused the id; see dmesg, or use --driver vfio-pci',
  REMOVE_ID_FAILED: 'pci-stub kept the id; run install-guest recover',
  RESET_FAILED: 'use --driver vfio-pci (vfio resets the device when the guest opens it)',
  NO_RESET_METHOD: 'use --driver vfio-pci (vfio resets the device when the guest opens it)',
  DEVICE_VANISHED:
    'the device disappeared (hot-unplug or removal); rescan with: echo 1 > /sys/bus/pci/rescan',
};

/** The user-facing error for a failed step, saying whether every device was given back. */
export function stepError(
  e: StepFailure,
  rollbackFailures: readonly string[],
  verb: string,
): InstallGuestError {
  const back =
    rollbackFailures.length === 0
      ? `every device was given back its original driver`
      : `could NOT give back: ${rollbackFailures.join('; ')}`;
  return hostError(
    e.code,
    `${e.address ? `${e.address}: ` : ''}step '${e.step}' (${e.attempted}) failed while ${verb}: ${e.detail}; ${back}`,
    {
      hint:
        rollbackFailures.length === 0
          ? STEP_HINT[e.code]
          : 'run `install-guest recover` to give the remaining devices back',
      data: { address: e.address, step: e.step, attempted: e.attempted, errno: e.errno, rollbackFailures },
      cause: e,
    },
  );
}

function abortName(reason: unknown): string {
  return (reason as { signal?: string } | undefined)?.signal ?? 'abort';
}

// ---------------------------------------------------------------------------------------------------
// Preparation

export interface PrepareOptions {
  host: Host;
  stateDir: string;
  addresses: readonly string[];
  driver?: StubDriver;
  /** also bind the other endpoint members of each device's IOMMU group */
  group?: boolean;
  /** guards warn instead of refusing */
  force?: boolean;
  /** reset after detaching (default true) */
  reset?: boolean;
  guest: string;
  command: string;
  signal?: AbortSignal;
  log: PrepLog;
  /** may modprobe run (default: only on the real root) */
  allowModprobe?: boolean;
}

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

interface Touched {
  address: string;
  original: BindingState;
}

async function rollback(host: Host, journal: RunJournal, touched: readonly Touched[]): Promise<string[]> {
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

const dedupe = (xs: readonly string[]): string[] => [...new Set(xs)];

function describeMember(m: DeviceFacts, requested: boolean, blocks: boolean): string {
  const role = m.isBridge ? 'bridge, stays' : requested ? 'requested' : blocks ? 'blocks' : 'fine';
  return `${m.address}${m.vendorDevice ? ` [${m.vendorDevice}]` : ''} on ${m.driver ?? 'no driver'} (${role})`;
}

async function factsOrThrow(host: Host, address: string): Promise<DeviceFacts> {
  const f = await readDeviceFacts(host, address);
  if (!f) {
    throw hostError('HOSTDEV_NOT_FOUND', `no PCI device ${address} on this host`, {
      hint: 'see install-guest hostdev list',
    });
  }
  return f;
}

export async function prepareDevices(o: PrepareOptions): Promise<PreparedSession> {
  const { host, log } = o;
  const driver: StubDriver = o.driver ?? 'vfio-pci';
  const requested = dedupe(o.addresses);
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
  const first = await Promise.all(requested.map(check));
  const groups = dedupe(first.flatMap((f) => (f.iommuGroup ? [f.iommuGroup] : []))).sort();
  const members = async (): Promise<DeviceFacts[]> => {
    const out: DeviceFacts[] = [];
    for (const g of groups) {
      for (const a of await groupMembers(host, g)) {
        const f = await readDeviceFacts(host, a);
        if (f) out.push(f);
      }
    }
    return out;
  };
  const endpointMembers = (await members()).filter((m) => !m.isBridge).map((m) => m.address);
  const owner = await selfIdentity(host);
  const keys: LeaseKey[] = [
    ...groups.map((id) => ({ kind: 'group' as const, id })),
    ...dedupe([...requested, ...(o.group ? endpointMembers : [])]).map((id) => ({
      kind: 'device' as const,
      id,
    })),
  ];
  const leases = await acquireLeases({
    host,
    stateDir: o.stateDir,
    keys,
    owner: { ...owner, guest: o.guest, command: o.command },
    log,
  });
  let journal: RunJournal | undefined;
  try {
    // a run that is gone may have left these devices detached: give them back before we start
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

    const facts = await Promise.all(requested.map(check));
    const all = await members();
    const isRequested = new Set(requested);
    const blocking = all.filter(
      (m) =>
        !isRequested.has(m.address) && !m.isBridge && m.driver !== null && !VIABLE_DRIVERS.includes(m.driver),
    );
    if (blocking.length > 0 && !o.group) {
      const byGroup = groups.map((g) => {
        const ms = all.filter((m) => m.iommuGroup === g);
        return `IOMMU group ${g}: ${ms.map((m) => describeMember(m, isRequested.has(m.address), blocking.includes(m))).join(', ')}`;
      });
      throw hostError(
        'IOMMU_GROUP_NOT_VIABLE',
        `${requested.join(', ')} cannot be assigned alone: ${blocking.map((b) => `${b.address} is on ${b.driver}`).join(', ')} in the same IOMMU group; ${byGroup.join('; ')}`,
        {
          hint: "add --group to detach the other endpoint members too (they go to the guest's group, not to the guest), or pick a device alone in its group",
          data: {
            groups: Object.fromEntries(
              groups.map((g) => [
                g,
                all
                  .filter((m) => m.iommuGroup === g)
                  .map((m) => ({ address: m.address, driver: m.driver, bridge: m.isBridge })),
              ]),
            ),
          },
        },
      );
    }
    const toBind = [...facts, ...blocking];
    const findings = await runGuards(host, toBind);
    const warnings: string[] = [];
    if (findings.length > 0) {
      if (!o.force) {
        throw hostError(findings[0]!.code, findings.map((f) => f.message).join('; '), {
          hint: 'choose another device, or --force if you accept what breaks',
          data: { findings },
        });
      }
      for (const f of findings) {
        const w = `--force: ${f.message}`;
        warnings.push(w);
        log.warn(`warning: ${w}`);
      }
    }
    if (driver === 'pci-stub') {
      log.warn(
        'warning: pci-stub only reserves the device (legacy: modern qemu has no pci-assign); use vfio-pci to assign it',
      );
    }
    await ensureDriverLoaded(host, driver, { allowModprobe: o.allowModprobe });

    journal = await RunJournal.open({
      host,
      stateDir: o.stateDir,
      owner,
      guest: o.guest,
      command: o.command,
    });
    const ctx: BindingContext = { host, journal, signal: o.signal };
    const touched: Touched[] = [];
    const prepared: PreparedDevice[] = [];
    try {
      for (const f of toBind) {
        const p: PreparedDevice = {
          address: f.address,
          vendorDevice: f.vendorDevice,
          iommuGroup: f.iommuGroup,
          original: { driver: f.driver, override: f.override },
          driver,
          requested: isRequested.has(f.address),
          changed: false,
          vfioNode: null,
        };
        prepared.push(p);
        const there =
          f.driver === driver &&
          (driver === 'pci-stub' ? f.override === null || f.override === driver : f.override === driver);
        if (there) {
          p.vfioNode = driver === 'vfio-pci' && f.iommuGroup ? `/dev/vfio/${f.iommuGroup}` : null;
          continue;
        }
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
                await journal!.device({
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
        log.info(
          `${f.address}: ${formatBinding(p.original)} → ${driver}${p.vfioNode ? ` (${p.vfioNode})` : ''}`,
        );
      }
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
    return new PreparedSession(prepared, journal.file, warnings, host, journal, leases, touched);
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

// ---------------------------------------------------------------------------------------------------
// Reattach and reset (standalone)

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
