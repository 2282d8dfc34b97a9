/**
 * Host guards: the devices whose detaching would break the host. Pure predicates over facts
 * (`nicGuard`, `diskGuard`, `vfioGuard`) and the small readers that gather those facts through Host:
 * - a NIC carrying the default route or host addresses, directly or through a bridge/bond
 *   (HOST_NIC_IN_USE); routes come from the one /proc/net parser, proc-net.ts;
 * - the controller of a disk that is mounted or used as swap (MOUNTED_DISK_CONTROLLER); mounts and
 *   swaps come from the one mount parser, mounts.ts;
 * - a device whose IOMMU group another process holds open through /dev/vfio/N (VFIO_GROUP_OPEN).
 * Reads only: a dry run runs these exactly as the real run does.
 */
import path from 'node:path';
import type { Host } from '../host/host.js';
import type { DeviceFacts } from './binding.js';
import { parseProcMounts, parseSwaps } from './mounts.js';
import { parseIfInet6, parseIpv6RouteTable, parseRouteTable } from './proc-net.js';

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

const RTF_UP = 0x0001;
const RTF_REJECT = 0x0200;

/** Pure: /proc/net/route (+ ipv6_route, if_inet6) → default routes and addressed interfaces (proc-net.ts parses). */
export function parseRoutes(route: string, ipv6Route = '', ifInet6 = ''): RouteFacts {
  const defaultRoutes: RouteFacts['defaultRoutes'] = [];
  const addressed = new Map<string, string[]>();
  const add = (iface: string, a: string): void => {
    const list = addressed.get(iface) ?? [];
    if (!list.includes(a)) list.push(a);
    addressed.set(iface, list);
  };
  for (const r of parseRouteTable(route)) {
    if ((r.flags & RTF_UP) === 0) continue;
    if (r.destination === '0.0.0.0' && r.prefix === 0)
      defaultRoutes.push({ iface: r.iface, gateway: r.gateway, family: 4 });
    else if (r.gateway === '0.0.0.0' && r.prefix !== 0) add(r.iface, `${r.destination}/${r.prefix}`);
  }
  for (const r of parseIpv6RouteTable(ipv6Route)) {
    if (r.destination !== '::' || r.prefix !== 0 || r.iface === 'lo') continue;
    if ((r.flags & RTF_UP) !== 0 && (r.flags & RTF_REJECT) === 0)
      defaultRoutes.push({ iface: r.iface, gateway: r.gateway, family: 6 });
  }
  // global scope only: link-local addresses carry no host connection worth guarding
  for (const a of parseIfInet6(ifInet6)) if (a.scope === 0) add(a.iface, a.address);
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
  for (const m of parseProcMounts((await host.readTrimmed('/proc/mounts')) ?? '')) {
    const names = await sourceNames(host, m.source);
    if (names.length > 0) mounts.push({ source: m.source, target: m.mountPoint, names });
  }
  const swaps: MountFacts['swaps'] = [];
  for (const source of parseSwaps((await host.readTrimmed('/proc/swaps')) ?? ''))
    swaps.push({ source, names: await sourceNames(host, source) });
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
