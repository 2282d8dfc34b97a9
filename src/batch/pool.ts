/**
 * The device pool of a batch: host PCI functions described as data (the inventory supplies them),
 * handed to guests whole IOMMU group at a time. Pure state, no I/O:
 * - a guest that gets a function holds its whole IOMMU group, so two functions of one group never
 *   go to two guests at once (vfio gives a group to one user: qemu fails with "group N is not viable");
 * - a guest's requests are granted all together or not at all (no guest holds part of what it needs
 *   while waiting for the rest, so no deadlock);
 * - waiting is first come, first served: the scheduler passes the groups earlier waiters could use as
 *   `blocked`, so a later guest never takes a device an earlier waiting guest could use (no starvation).
 */
import { canonicalAddress } from '../pci/address.js';

/** One host PCI function, as the inventory describes it. */
export interface PoolDevice {
  /** canonical sysfs address, e.g. 0000:03:00.0 */
  address: string;
  /** vendor:device, lowercase hex, e.g. 8086:10d3 */
  vendorDevice: string;
  /** the PCI class code as sysfs shows it, e.g. 0x020000 */
  class: string;
  /** the IOMMU group number, or null when the host shows none */
  iommuGroup: string | null;
  /** network interface names the host driver gave this function, if any (for `--hostdev enp3s0`) */
  interfaces?: string[];
}

export interface PoolFilterData {
  vendorDevice?: string | string[];
  class?: string;
  addresses?: string[];
}

export type DeviceMatch =
  | { kind: 'address'; address: string }
  | { kind: 'pool'; pool: string }
  | { kind: 'vendorDevice'; vendorDevice: string }
  | { kind: 'interface'; name: string };

/** The built-in pools: network and mass-storage controllers (PCI base classes 0x02 and 0x01). */
export const BUILTIN_POOLS: Readonly<Record<string, PoolFilterData>> = {
  net: { class: 'net' },
  storage: { class: 'storage' },
};

const CLASS_ALIASES: Record<string, string> = { net: '02', storage: '01' };

function classMatches(deviceClass: string, filter: string): boolean {
  const want = (CLASS_ALIASES[filter] ?? filter.replace(/^0x/i, '')).toLowerCase();
  const have = deviceClass.replace(/^0x/i, '').toLowerCase().padStart(6, '0');
  return have.startsWith(want);
}

export function matchesFilter(d: PoolDevice, f: PoolFilterData): boolean {
  if (f.class !== undefined && !classMatches(d.class, f.class)) return false;
  if (f.vendorDevice !== undefined) {
    const ids = ([] as string[]).concat(f.vendorDevice).map((x) => x.toLowerCase());
    if (!ids.includes(d.vendorDevice.toLowerCase())) return false;
  }
  if (f.addresses !== undefined) {
    const addrs = f.addresses.map((a) => canonicalAddress(a) ?? a.toLowerCase());
    if (!addrs.includes(d.address)) return false;
  }
  return true;
}

export function describeMatch(m: DeviceMatch): string {
  switch (m.kind) {
    case 'address':
      return m.address;
    case 'pool':
      return `a device from pool '${m.pool}'`;
    case 'vendorDevice':
      return `a ${m.vendorDevice} device`;
    case 'interface':
      return `the device of interface ${m.name}`;
  }
}

/** What one guest was given: the functions it asked for and every function of their IOMMU groups. */
export interface Allocation {
  owner: string;
  /** the batch host the guest installs on (a batch over `hosts:` or --connect); absent: this machine */
  host?: { name: string; uri?: string; force?: boolean };
  /** one per request, in request order */
  devices: PoolDevice[];
  /** the IOMMU group keys held */
  groups: string[];
  /** every function of those groups (the assigned ones included), by address */
  reserved: PoolDevice[];
}

/** A group key: the IOMMU group, or the address itself for a device the host shows in no group. */
export const groupKey = (d: PoolDevice): string =>
  d.iommuGroup === null ? `address:${d.address}` : `group:${d.iommuGroup}`;

/**
 * What the scheduler asks of the devices (and, over several hosts, the hosts): DevicePool for one
 * host, HostsPool (hosts.ts) for a batch spread over several.
 */
export interface GuestPool {
  /** the code of the per-guest error when impossible() says no (default NO_MATCHING_DEVICE) */
  readonly impossibleCode?: 'NO_HOST_FOR_GUEST';
  impossible(requests: readonly DeviceMatch[], owner?: string): string | null;
  candidateGroups(requests: readonly DeviceMatch[], owner?: string): Set<string>;
  tryAcquire(
    owner: string,
    requests: readonly DeviceMatch[],
    blocked?: ReadonlySet<string>,
    avoid?: ReadonlySet<string>,
  ): Allocation | null;
  release(owner: string): void;
}

export class DevicePool implements GuestPool {
  private readonly devices: PoolDevice[];
  private readonly pools: Record<string, PoolFilterData>;
  /** group key → the owner holding it */
  private readonly held = new Map<string, string>();
  private readonly allocations = new Map<string, Allocation>();

  constructor(inventory: readonly PoolDevice[], pools: Record<string, PoolFilterData> = {}) {
    this.devices = inventory
      .map((d) => ({ ...d, address: canonicalAddress(d.address) ?? d.address.toLowerCase() }))
      .sort((a, b) => a.address.localeCompare(b.address));
    this.pools = { ...BUILTIN_POOLS, ...pools };
  }

  get inventory(): readonly PoolDevice[] {
    return this.devices;
  }

  hasPool(name: string): boolean {
    return Object.hasOwn(this.pools, name);
  }

  /** every device a request could be given, in the order they are preferred */
  candidates(m: DeviceMatch): PoolDevice[] {
    let found: PoolDevice[];
    switch (m.kind) {
      case 'address': {
        const a = canonicalAddress(m.address) ?? m.address;
        found = this.devices.filter((d) => d.address === a);
        break;
      }
      case 'pool': {
        const f = this.pools[m.pool];
        found = f ? this.devices.filter((d) => matchesFilter(d, f)) : [];
        break;
      }
      case 'vendorDevice':
        found = this.devices.filter((d) => d.vendorDevice.toLowerCase() === m.vendorDevice.toLowerCase());
        break;
      case 'interface':
        found = this.devices.filter((d) => d.interfaces?.includes(m.name));
        break;
    }
    // prefer functions of small groups (reserving a big group idles its other functions), then address
    const size = (d: PoolDevice): number => this.devices.filter((x) => groupKey(x) === groupKey(d)).length;
    return found.sort((a, b) => size(a) - size(b) || a.address.localeCompare(b.address));
  }

  /** every function of a group */
  groupMembers(key: string): PoolDevice[] {
    return this.devices.filter((d) => groupKey(d) === key);
  }

  /** the IOMMU group keys any of these requests could use */
  candidateGroups(requests: readonly DeviceMatch[]): Set<string> {
    return new Set(requests.flatMap((r) => this.candidates(r).map(groupKey)));
  }

  /**
   * Why these requests can never be granted together, even on an empty pool (a request no device
   * matches, or two requests that only one device could satisfy); null when they can.
   */
  impossible(requests: readonly DeviceMatch[]): string | null {
    for (const r of requests) {
      if (r.kind === 'pool' && !this.hasPool(r.pool)) return `pool '${r.pool}' is not defined`;
      if (this.candidates(r).length === 0) return `no device in the inventory matches ${describeMatch(r)}`;
    }
    return this.assign(requests, new Set()) ? null : 'the requests need more distinct devices than match';
  }

  /** all-or-nothing: the devices for every request, using only free groups that are not blocked */
  private assign(
    requests: readonly DeviceMatch[],
    unavailable: ReadonlySet<string>,
    avoid: ReadonlySet<string> = new Set(),
  ): PoolDevice[] | null {
    const chosen: PoolDevice[] = [];
    const used = new Set<string>();
    // a small backtracking search: a guest asks for few devices
    const go = (i: number): boolean => {
      if (i === requests.length) return true;
      const all = this.candidates(requests[i]!);
      // devices other guests asked for by name come last: a pool request should not take them
      const ordered = [
        ...all.filter((d) => !avoid.has(d.address)),
        ...all.filter((d) => avoid.has(d.address)),
      ];
      for (const d of ordered) {
        if (unavailable.has(groupKey(d)) || used.has(d.address)) continue;
        chosen.push(d);
        used.add(d.address);
        if (go(i + 1)) return true;
        chosen.pop();
        used.delete(d.address);
      }
      return false;
    };
    return go(0) ? chosen : null;
  }

  /**
   * Grants every request at once or nothing. `blocked`: group keys this caller must not take
   * (the ones earlier waiters could use); `avoid`: addresses to take only when nothing else fits
   * (the ones other guests name). Returns null when the devices are not free now.
   */
  tryAcquire(
    owner: string,
    requests: readonly DeviceMatch[],
    blocked: ReadonlySet<string> = new Set(),
    avoid: ReadonlySet<string> = new Set(),
  ): Allocation | null {
    if (this.allocations.has(owner)) throw new Error(`device pool: ${owner} already holds devices`);
    const unavailable = new Set([...this.held.keys(), ...blocked]);
    const devices = this.assign(requests, unavailable, avoid);
    if (!devices) return null;
    const groups = [...new Set(devices.map(groupKey))];
    for (const g of groups) this.held.set(g, owner);
    const reserved = groups.flatMap((g) => this.groupMembers(g));
    const allocation: Allocation = { owner, devices, groups, reserved };
    this.allocations.set(owner, allocation);
    return allocation;
  }

  /** gives back everything the owner holds (a no-op when it holds nothing) */
  release(owner: string): void {
    const a = this.allocations.get(owner);
    if (!a) return;
    for (const g of a.groups) if (this.held.get(g) === owner) this.held.delete(g);
    this.allocations.delete(owner);
  }

  /** who holds which group now */
  holders(): Map<string, string> {
    return new Map(this.held);
  }
}
