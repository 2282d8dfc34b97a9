/**
 * The host's PCI inventory, read through the Host boundary (so it works on `/`, on fixture trees and
 * on captured snapshots alike). `listDevices(host)` reads, per function, only what assignment
 * decisions need, with bounded concurrency:
 *
 *   /sys/bus/pci/devices/<addr>            link → topology (parent bridge)
 *   <dev>/ (directory listing)             which optional attributes exist
 *   <dev>/config (64 bytes, 256 when the kernel has no reset_method file or capabilities are asked for)
 *   <dev>/uevent                           the kernel's identity (PCI_ID, PCI_SUBSYS_ID, PCI_CLASS)
 *   <dev>/{driver,iommu_group,physfn,virtfnN} links
 *   <dev>/{numa_node,driver_override,reset_method,sriov_*,boot_vga}
 *   /sys/class/net, /sys/class/block       links → owning function; address/operstate; dev numbers
 *   /proc/net/{route,ipv6_route,fib_trie,if_inet6}, /proc/self/mountinfo, /proc/swaps
 *   /sys/class/iommu, /proc/<pid>/fd       (the latter only when some device is bound to vfio-pci)
 *
 * Everything returned is plain data (JSON-serialisable, no host paths outside `sysfsPath`).
 */
import path from 'node:path';
import type { Host } from '../host/host.js';
import { type Reads, readsOf } from './host-reads.js';
import { compareAddressText, isSysfsAddress } from './address.js';
import { className } from './class-names.js';
import { mapLimit } from './concurrency.js';
import { type ConfigState, parseConfigSpace } from './config-space.js';
import { parseMountInfo, parseSwaps } from './mounts.js';
import {
  assignIpv4Addresses,
  defaultRouteIfaces,
  parseFibTrieLocal,
  parseIfInet6,
  parseIpv6RouteTable,
  parseRouteTable,
} from './proc-net.js';

export type ClassKind = 'net' | 'storage' | 'display' | 'multimedia' | 'bridge' | 'other';
export type HeaderKind = 'endpoint' | 'bridge' | 'cardbus' | 'unknown';

export interface NetInterface {
  name: string;
  mac: string | null;
  operstate: string | null;
  /** `192.168.1.10/24`, `2001:db8::10/64` (link-local fe80:: addresses are left out) */
  addresses: string[];
  /** default routes this interface carries, directly or through an upper device (`0.0.0.0/0 via 192.168.1.1 (br0)`) */
  defaultRoutes: string[];
  /** virtual devices stacked on it (bridge, bond, VLAN) */
  uppers: string[];
}

export interface BlockMount {
  /** the block device that is mounted or used as swap (a partition, the disk, or a device-mapper device) */
  device: string;
  mountPoint: string;
  fsType: string;
  /** the stacked device actually mounted (device-mapper, md) when it is not `device` itself */
  via?: string;
}

export interface BlockDevice {
  name: string;
  partitions: string[];
  /** mounts and swap on this disk, its partitions, or devices stacked on them */
  mounts: BlockMount[];
}

export interface ResetInfo {
  /** the kernel's reset_method file (Linux ≥ 5.15), null when the file does not exist */
  methods: string[] | null;
  /** PCIe DevCap FLR; null when unknown (no PCIe capability, or capabilities not read) */
  pcieFlr: boolean | null;
  afFlr: boolean | null;
  /** PM No_Soft_Reset; false means a D3hot→D0 transition resets the function */
  pmNoSoftReset: boolean | null;
  /** no other function shares the bus and there is a parent bridge */
  busResetPossible: boolean;
  /** whether the capability list was read (false: only the header, see config.size) */
  capabilitiesRead: boolean;
}

export interface PciDevice {
  address: string;
  vendorId: string;
  deviceId: string;
  subsystemVendorId: string | null;
  subsystemDeviceId: string | null;
  /** six hex digits: class, subclass, programming interface */
  classCode: string;
  className: string;
  classKind: ClassKind;
  revision: string | null;
  headerType: HeaderKind;
  multifunction: boolean;
  driver: string | null;
  /** content of driver_override (null = none set) */
  driverOverride: string | null;
  /** false when the kernel has no driver_override file (Linux < 3.16) */
  driverOverrideSupported: boolean;
  iommuGroup: number | null;
  numaNode: number | null;
  /** the bridge above it, null on a root bus */
  parent: string | null;
  /** /sys/devices/… path of the function */
  sysfsPath: string;
  sriov: { totalVfs: number; numVfs: number; vfs: string[] } | null;
  physfn: string | null;
  net: NetInterface[];
  block: BlockDevice[];
  reset: ResetInfo;
  config: { state: ConfigState; size: number };
  /** display devices: the firmware's boot VGA device (boot_vga = 1) */
  bootVga: boolean | null;
}

export interface VfioUser {
  pid: number;
  comm: string;
}

export interface Inventory {
  devices: PciDevice[];
  /** IOMMU group → member addresses */
  groups: Record<string, string[]>;
  iommu: { enabled: boolean; units: string[]; groupCount: number };
  /** interface → default routes it carries directly */
  defaultRoutes: Record<string, string[]>;
  /** IOMMU group → processes holding /dev/vfio/<group> open */
  vfioUsers: Record<string, VfioUser[]>;
  /** where the inventory came from when not this host's sysfs (a libvirt connection, src/libvirt/nodedev.ts) */
  source?: { kind: 'libvirt'; uri: string };
  /**
   * host facts this inventory cannot give (a remote libvirt host: routes, addresses, mounts): the
   * guards that rest on them are unknown, and assess() refuses what it cannot clear unless forced
   */
  unknownGuards?: { facts: string[]; why: string };
}

export interface ListOptions {
  /** read the capability list (256 bytes of config) for every function, not only where reset_method is missing */
  capabilities?: boolean;
  /** reads in flight at once */
  concurrency?: number;
}

const PCI_DEVICES = '/sys/bus/pci/devices';

export function classKindOf(classCode: string): ClassKind {
  const c = classCode.slice(0, 2);
  if (c === '02') return 'net';
  if (c === '01') return 'storage';
  if (c === '03') return 'display';
  if (c === '04') return 'multimedia';
  if (c === '06') return 'bridge';
  return 'other';
}

const hex4 = (n: number): string => n.toString(16).padStart(4, '0');

/** The last PCI address component of a sysfs path: the function that owns a netdev or disk. */
export function owningFunction(sysfsPath: string): string | null {
  const parts = sysfsPath.split('/');
  for (let i = parts.length - 1; i >= 0; i--) if (isSysfsAddress(parts[i]!)) return parts[i]!;
  return null;
}

const stripHex = (s: string | null): string | null =>
  s === null ? null : s.replace(/^0x/i, '').toLowerCase();

interface RawDevice {
  address: string;
  device: Omit<PciDevice, 'net' | 'block'>;
}

const hex2 = (n: number): string => n.toString(16).padStart(2, '0');

/** attributes most functions lack: found out before reading (see Reads.present) */
const RARE_ATTRIBUTES = ['sriov_totalvfs', 'physfn'] as const;
/**
 * attributes most functions have: read directly, a failed read meaning absent (driver: unbound;
 * iommu_group: no IOMMU; reset_method: no reset method or Linux < 5.15). numa_node (≥ 2.6.14) and
 * driver_override (≥ 3.16) are always read.
 */
const LIKELY_ATTRIBUTES = ['driver', 'iommu_group', 'reset_method'] as const;

/**
 * One function. Identity (ids, class, revision, header type) comes from config space, which is
 * what a guest will see; the kernel's cached attribute files are read only when config space is
 * unreadable or reads all 0xff. Only attributes that exist are opened (a failed open costs more
 * than finding out first, see Reads.present).
 */
async function readDevice(r: Reads, address: string, options: ListOptions): Promise<RawDevice> {
  const base = `${PCI_DEVICES}/${address}`;
  const [link, entries] = await Promise.all([
    r.link(base),
    r.present(base, RARE_ATTRIBUTES, LIKELY_ATTRIBUTES),
  ]);
  const has = (n: string): boolean => entries.has(n);
  const [driver, group, numa, override, resetMethod, totalVfs, physfn] = await Promise.all([
    has('driver') ? r.linkName(`${base}/driver`) : null,
    has('iommu_group') ? r.linkName(`${base}/iommu_group`) : null,
    r.small(`${base}/numa_node`, 32),
    r.small(`${base}/driver_override`, 256),
    has('reset_method') ? r.small(`${base}/reset_method`, 256) : null,
    has('sriov_totalvfs') ? r.small(`${base}/sriov_totalvfs`, 32) : null,
    has('physfn') ? r.linkName(`${base}/physfn`) : null,
  ]);
  const want256 = options.capabilities === true || resetMethod === null;
  const cs = parseConfigSpace(await r.bytes(`${base}/config`, want256 ? 256 : 64));
  const sysfsPath = link ? path.posix.resolve(PCI_DEVICES, link) : base;
  const h = cs.header;
  // identity from the kernel's attribute files when config space cannot give it; bridges keep
  // their subsystem ids in a capability, which the kernel has already read into the files
  const fileNames = h
    ? h.headerType === 0
      ? []
      : ['', '', 'subsystem_vendor', 'subsystem_device']
    : ['vendor', 'device', 'subsystem_vendor', 'subsystem_device', 'class', 'revision'];
  const files = await Promise.all(
    fileNames.map((f) => (f ? r.small(`${base}/${f}`, 64) : Promise.resolve(null))),
  );
  const vendorId = h ? hex4(h.vendorId) : (stripHex(files[0] ?? null) ?? 'ffff');
  const deviceId = h ? hex4(h.deviceId) : (stripHex(files[1] ?? null) ?? 'ffff');
  const subV = h && h.subsystemVendorId !== null ? hex4(h.subsystemVendorId) : stripHex(files[2] ?? null);
  const subD = h && h.subsystemDeviceId !== null ? hex4(h.subsystemDeviceId) : stripHex(files[3] ?? null);
  const classCode = h
    ? hex2(h.classCode) + hex2(h.subclass) + hex2(h.progIf)
    : (stripHex(files[4] ?? null)?.padStart(6, '0') ?? 'ffffff');
  const revision = h ? hex2(h.revision) : stripHex(files[5] ?? null);
  const headerType: HeaderKind = h
    ? h.headerType === 0
      ? 'endpoint'
      : h.headerType === 1
        ? 'bridge'
        : h.headerType === 2
          ? 'cardbus'
          : 'unknown'
    : classCode.startsWith('0604') || classCode.startsWith('0609')
      ? 'bridge'
      : 'unknown';
  const parentCandidate = path.posix.basename(path.posix.dirname(sysfsPath));
  const parent = isSysfsAddress(parentCandidate) ? parentCandidate : null;
  const methods = resetMethod === null ? null : resetMethod.split(/\s+/).filter(Boolean);
  const capsRead = cs.size >= 256 && cs.state === 'ok';

  let sriov: PciDevice['sriov'] = null;
  if (totalVfs !== null) {
    const num = Number((await r.small(`${base}/sriov_numvfs`, 32)) ?? 0);
    const vfs = await Promise.all(Array.from({ length: num }, (_, i) => r.linkName(`${base}/virtfn${i}`)));
    sriov = { totalVfs: Number(totalVfs), numVfs: num, vfs: vfs.filter((v): v is string => v !== null) };
  }
  const bootVga = classCode.startsWith('03') ? await r.small(`${base}/boot_vga`, 8) : null;
  const numaNode = numa === null || numa === '' ? null : Number(numa);
  return {
    address,
    device: {
      address,
      vendorId,
      deviceId,
      subsystemVendorId: subV,
      subsystemDeviceId: subD,
      classCode,
      className: className(classCode),
      classKind: classKindOf(classCode),
      revision,
      headerType,
      multifunction: h?.multifunction ?? false,
      driver,
      driverOverride: override === null || override === '(null)' || override === '' ? null : override,
      driverOverrideSupported: override !== null,
      iommuGroup: group === null ? null : Number(group),
      numaNode: Number.isFinite(numaNode) ? numaNode : null,
      parent,
      sysfsPath,
      sriov,
      physfn,
      reset: {
        methods,
        pcieFlr: capsRead ? cs.reset.pcieFlr : null,
        afFlr: capsRead ? cs.reset.afFlr : null,
        pmNoSoftReset: capsRead ? cs.reset.pmNoSoftReset : null,
        busResetPossible: false,
        capabilitiesRead: capsRead,
      },
      config: { state: cs.state, size: cs.size },
      bootVga: bootVga === null ? null : bootVga === '1',
    },
  };
}

interface ClassEntry {
  name: string;
  path: string;
  owner: string | null;
}

async function readClassLinks(r: Reads, dir: string, concurrency: number): Promise<ClassEntry[]> {
  const names = await r.list(dir);
  return mapLimit(names, concurrency, async (name) => {
    const link = await r.link(`${dir}/${name}`);
    const p = link ? path.posix.resolve(dir, link) : `${dir}/${name}`;
    return { name, path: p, owner: owningFunction(p) };
  });
}

async function readNetwork(
  r: Reads,
  concurrency: number,
): Promise<{ byOwner: Map<string, NetInterface[]>; defaults: Map<string, string[]> }> {
  const [links, routeText, route6Text, trieText, inet6Text] = await Promise.all([
    readClassLinks(r, '/sys/class/net', concurrency),
    r.text('/proc/net/route'),
    r.text('/proc/net/ipv6_route'),
    r.text('/proc/net/fib_trie'),
    r.text('/proc/net/if_inet6'),
  ]);
  const v4 = parseRouteTable(routeText ?? '');
  const v6 = parseIpv6RouteTable(route6Text ?? '');
  const defaults = defaultRouteIfaces(v4, v6);
  const addrs = [
    ...assignIpv4Addresses(parseFibTrieLocal(trieText ?? ''), v4),
    ...parseIfInet6(inet6Text ?? '').filter((a) => !a.address.startsWith('fe80:')),
  ];
  const addrBy = new Map<string, string[]>();
  for (const a of addrs) addrBy.set(a.iface, [...(addrBy.get(a.iface) ?? []), a.address]);

  // upper devices (bridge/bond/VLAN) that carry a default route or addresses: follow lower_* links
  // down to the physical ports, which then carry the route too (through their uppers)
  const byName = new Map(links.map((l) => [l.name, l]));
  const virtual = links.filter((l) => l.owner === null && (defaults.has(l.name) || addrBy.has(l.name)));
  const uppersOf = new Map<string, Set<string>>();
  const inheritedDefaults = new Map<string, Set<string>>();
  const visit = async (dir: string, ancestors: string[], routes: string[]): Promise<void> => {
    if (ancestors.length > 8) return;
    const lowers = (await r.list(dir)).filter((e) => e.startsWith('lower_')).map((e) => e.slice(6));
    for (const low of lowers) {
      const ups = uppersOf.get(low) ?? new Set<string>();
      for (const a of ancestors) ups.add(a);
      uppersOf.set(low, ups);
      if (routes.length) {
        const inh = inheritedDefaults.get(low) ?? new Set<string>();
        for (const route of routes) inh.add(route);
        inheritedDefaults.set(low, inh);
      }
      const lowLink = byName.get(low);
      if (lowLink && lowLink.owner === null) await visit(lowLink.path, [low, ...ancestors], routes);
    }
  };
  for (const v of virtual) {
    await visit(
      v.path,
      [v.name],
      (defaults.get(v.name) ?? []).map((route) => `${route} (${v.name})`),
    );
  }

  const owned = links.filter((l) => l.owner !== null);
  const ifaces = await mapLimit(owned, concurrency, async (l) => {
    const [mac, operstate] = await Promise.all([
      r.small(`${l.path}/address`, 64),
      r.small(`${l.path}/operstate`, 64),
    ]);
    const iface: NetInterface = {
      name: l.name,
      mac,
      operstate,
      addresses: addrBy.get(l.name) ?? [],
      defaultRoutes: [...(defaults.get(l.name) ?? []), ...(inheritedDefaults.get(l.name) ?? [])],
      uppers: [...(uppersOf.get(l.name) ?? [])],
    };
    return { owner: l.owner!, iface };
  });
  const byOwner = new Map<string, NetInterface[]>();
  for (const { owner, iface } of ifaces) byOwner.set(owner, [...(byOwner.get(owner) ?? []), iface]);
  return { byOwner, defaults };
}

async function readStorage(r: Reads, concurrency: number): Promise<Map<string, BlockDevice[]>> {
  const [links, mountText, swapText] = await Promise.all([
    readClassLinks(r, '/sys/class/block', concurrency),
    r.text('/proc/self/mountinfo'),
    r.text('/proc/swaps'),
  ]);
  const byName = new Map(links.map((l) => [l.name, l]));
  const byPath = new Map(links.map((l) => [l.path, l]));
  // a partition's directory sits inside its disk's directory
  const diskOf = (l: ClassEntry): string => byPath.get(path.posix.dirname(l.path))?.name ?? l.name;
  const out = new Map<string, BlockDevice[]>();
  const disks = new Map<string, BlockDevice>();
  for (const l of links) {
    if (!l.owner || diskOf(l) !== l.name) continue;
    const bd: BlockDevice = { name: l.name, partitions: [], mounts: [] };
    disks.set(l.name, bd);
    out.set(l.owner, [...(out.get(l.owner) ?? []), bd]);
  }
  for (const l of links) {
    const disk = diskOf(l);
    if (l.owner && disk !== l.name) disks.get(disk)?.partitions.push(l.name);
  }
  for (const list of out.values()) {
    list.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const bd of list) bd.partitions.sort();
  }

  const uses: { majorMinor: string | null; source: string; mountPoint: string; fsType: string }[] = [
    ...parseMountInfo(mountText ?? '')
      .filter((m) => !m.majorMinor.startsWith('0:'))
      .map((m) => ({
        majorMinor: m.majorMinor,
        source: m.source,
        mountPoint: m.mountPoint,
        fsType: m.fsType,
      })),
    ...parseSwaps(swapText ?? '').map((s) => ({
      majorMinor: null,
      source: s,
      mountPoint: '[swap]',
      fsType: 'swap',
    })),
  ];
  if (uses.length === 0 || links.length === 0) return out;
  // device numbers, read only when a mount cannot be matched by its source name
  let devNumbers: Map<string, string> | null = null;
  const byDevNumber = async (mm: string): Promise<string | null> => {
    if (!devNumbers) {
      const nums = await mapLimit(
        links,
        concurrency,
        async (l) => [await r.small(`${l.path}/dev`, 32), l.name] as const,
      );
      devNumbers = new Map(nums.filter((n): n is readonly [string, string] => n[0] !== null));
    }
    return devNumbers.get(mm) ?? null;
  };
  const resolveDown = async (name: string, mount: BlockMount, depth: number): Promise<void> => {
    const l = byName.get(name);
    if (!l || depth > 8) return;
    if (l.owner) {
      const bd = disks.get(diskOf(l));
      const use: BlockMount = mount.device === name ? mount : { ...mount, device: name, via: mount.device };
      if (bd && !bd.mounts.some((m) => m.device === use.device && m.mountPoint === use.mountPoint)) {
        bd.mounts.push(use);
      }
      return;
    }
    for (const slave of await r.list(`${l.path}/slaves`)) await resolveDown(slave, mount, depth + 1);
  };
  for (const u of uses) {
    const base = path.posix.basename(u.source);
    let name: string | null = null;
    const l = byName.get(base);
    if (l && u.source.startsWith('/dev/')) {
      if (u.majorMinor === null || (await r.small(`${l.path}/dev`, 32)) === u.majorMinor) name = base;
    }
    if (name === null && u.majorMinor !== null) name = await byDevNumber(u.majorMinor);
    if (name === null) continue;
    await resolveDown(name, { device: name, mountPoint: u.mountPoint, fsType: u.fsType }, 0);
  }
  return out;
}

async function readVfioUsers(r: Reads, groups: Set<number>): Promise<Record<string, VfioUser[]>> {
  const out: Record<string, VfioUser[]> = {};
  if (groups.size === 0) return out;
  const pids = (await r.list('/proc')).filter((e) => /^\d+$/.test(e));
  await mapLimit(pids, 32, async (pid) => {
    const fds = await r.list(`/proc/${pid}/fd`);
    let comm: string | null = null;
    for (const fd of fds) {
      const target = await r.link(`/proc/${pid}/fd/${fd}`);
      const m = target ? /^\/dev\/vfio\/(\d+)$/.exec(target) : null;
      if (!m || !groups.has(Number(m[1]))) continue;
      comm ??= (await r.small(`/proc/${pid}/comm`, 64)) ?? '?';
      const list = (out[m[1]!] ??= []);
      if (!list.some((u) => u.pid === Number(pid))) list.push({ pid: Number(pid), comm });
    }
  });
  for (const list of Object.values(out)) list.sort((a, b) => a.pid - b.pid);
  return out;
}

/** Reads every PCI function of the host with its links, interfaces, disks, reset methods and group. */
export async function listDevices(host: Host, options: ListOptions = {}): Promise<Inventory> {
  const r = readsOf(host);
  const concurrency = options.concurrency ?? 16;
  const addresses = (await r.list(PCI_DEVICES)).filter(isSysfsAddress).sort(compareAddressText);
  const [raws, network, storage, iommuUnits, groupDirs] = await Promise.all([
    mapLimit(addresses, concurrency, (a) => readDevice(r, a, options)),
    readNetwork(r, concurrency),
    readStorage(r, concurrency),
    r.list('/sys/class/iommu'),
    r.list('/sys/kernel/iommu_groups'),
  ]);

  // a secondary bus reset is possible when the function is alone on its bus below a bridge
  const perBus = new Map<string, number>();
  const busKey = (a: string): string => a.slice(0, a.lastIndexOf(':'));
  for (const r of raws) perBus.set(busKey(r.address), (perBus.get(busKey(r.address)) ?? 0) + 1);

  const devices: PciDevice[] = raws.map((r) => ({
    ...r.device,
    reset: {
      ...r.device.reset,
      busResetPossible:
        r.device.parent !== null && r.device.headerType === 'endpoint' && perBus.get(busKey(r.address)) === 1,
    },
    net: (network.byOwner.get(r.address) ?? []).sort((a, b) => (a.name < b.name ? -1 : 1)),
    block: storage.get(r.address) ?? [],
  }));
  const groups: Record<string, string[]> = {};
  for (const d of devices) if (d.iommuGroup !== null) (groups[String(d.iommuGroup)] ??= []).push(d.address);
  const vfioGroups = new Set(
    devices.filter((d) => d.driver?.startsWith('vfio') && d.iommuGroup !== null).map((d) => d.iommuGroup!),
  );
  return {
    devices,
    groups,
    iommu: {
      enabled: groupDirs.length > 0,
      units: iommuUnits,
      groupCount: groupDirs.length,
    },
    defaultRoutes: Object.fromEntries([...network.defaults.entries()].sort()),
    vfioUsers: await readVfioUsers(r, vfioGroups),
  };
}

export function findDevice(inv: Inventory, address: string): PciDevice | undefined {
  return inv.devices.find((d) => d.address === address);
}
