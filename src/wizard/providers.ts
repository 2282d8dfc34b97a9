/**
 * The wizard's default providers, until the PCI inventory, `media inspect` and `kickstart lint` are
 * wired in. Kept in this one file so they can be swapped for the real ones (the same functions the
 * `hostdev list`, `media inspect` and `kickstart lint` commands use).
 *
 * listDevices reads network functions minimally through the Host: /sys/bus/pci/devices/* with class
 * 0x02xxxx, vendor/device, driver, IOMMU group (and who shares it), interfaces under net/, and the
 * default route from /proc/net/route and /proc/net/ipv6_route. Decisions are the pure functions below.
 */
import { inputError } from '../errors.js';
import type { Host } from '../host/host.js';
import type { DeviceChoice, LintFinding, MediaFacts, WizardDeps } from './types.js';

export interface NicFacts {
  address: string;
  /** e.g. 0x020000 */
  classCode: number;
  vendor: string;
  device: string;
  driver: string | null;
  /** IOMMU group number, null when the device has none (IOMMU off or unsupported) */
  iommuGroup: string | null;
  /** other functions in the same IOMMU group */
  groupPeers: string[];
  /** network interfaces of this function, with the bridge/bond each is enslaved to, if any */
  interfaces: { name: string; master: string | null }[];
}

const CLASS_NAMES: Record<number, string> = {
  0x00: 'Ethernet controller',
  0x01: 'Token ring network controller',
  0x02: 'FDDI network controller',
  0x03: 'ATM network controller',
  0x04: 'ISDN controller',
  0x07: 'InfiniBand controller',
  0x80: 'Network controller',
};

const VENDOR_NAMES: Record<string, string> = {
  '8086': 'Intel',
  '10ec': 'Realtek',
  '14e4': 'Broadcom',
  '15b3': 'Mellanox',
  '1af4': 'Red Hat virtio',
  '1077': 'QLogic',
  '19ee': 'Netronome',
  '1924': 'Solarflare',
  '1d0f': 'Amazon',
  '1137': 'Cisco',
  '177d': 'Cavium',
  '1425': 'Chelsio',
  '8088': 'Wangxun',
};

export const DEFAULT_ROUTE_REASON = "carries the host's default route";

/** Interfaces that carry a default route, from /proc/net/route and /proc/net/ipv6_route text. */
export function defaultRouteInterfaces(ipv4: string | null, ipv6: string | null): Set<string> {
  const out = new Set<string>();
  for (const line of (ipv4 ?? '').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    // Iface Destination Gateway Flags RefCnt Use Metric Mask …; RTF_UP = 0x1
    if (f.length >= 8 && f[1] === '00000000' && f[7] === '00000000' && (parseInt(f[3]!, 16) & 1) === 1)
      out.add(f[0]!);
  }
  for (const line of (ipv6 ?? '').split('\n')) {
    const f = line.trim().split(/\s+/);
    // dest prefixlen src srcprefixlen nexthop metric refcnt use flags iface; `lo` holds unreachable routes
    if (f.length >= 10 && /^0{32}$/.test(f[0]!) && f[1] === '00' && f[9] !== 'lo') out.add(f[9]!);
  }
  return out;
}

/** The lspci-like label: `Intel Ethernet controller (8086:10d3) enp3s0`. */
export function nicLabel(nic: NicFacts): string {
  const vendorName = VENDOR_NAMES[nic.vendor] ?? nic.vendor;
  const ifaces = nic.interfaces.map((i) => i.name).join(',');
  return `${vendorName} ${className(nic.classCode)} (${nic.vendor}:${nic.device})${ifaces ? ` ${ifaces}` : ''}`;
}

export function className(classCode: number): string {
  return CLASS_NAMES[(classCode >> 8) & 0xff] ?? 'Network controller';
}

/** Verdict for one network function (pure). */
export function nicVerdict(nic: NicFacts, defaultIfaces: ReadonlySet<string>): DeviceChoice {
  const base = { address: nic.address, label: nicLabel(nic), className: className(nic.classCode) };
  const routed = nic.interfaces.find((i) => defaultIfaces.has(i.name));
  if (routed) return { ...base, verdict: 'not-assignable', reason: DEFAULT_ROUTE_REASON };
  const enslaved = nic.interfaces.find((i) => i.master !== null && defaultIfaces.has(i.master));
  if (enslaved)
    return {
      ...base,
      verdict: 'not-assignable',
      reason: `${DEFAULT_ROUTE_REASON} (through ${enslaved.master})`,
    };
  if (nic.iommuGroup === null)
    return {
      ...base,
      verdict: 'not-assignable',
      reason:
        'has no IOMMU group: the IOMMU is off or unsupported (boot with intel_iommu=on or amd_iommu=on)',
    };
  if (nic.groupPeers.length > 0)
    return {
      ...base,
      verdict: 'warnings',
      reason: `shares IOMMU group ${nic.iommuGroup} with ${nic.groupPeers.join(', ')}: they are detached from the host together`,
    };
  return { ...base, verdict: 'assignable' };
}

/** The host's PCI network functions (class 0x02xxxx), sorted by address. */
export async function readNics(host: Host): Promise<NicFacts[]> {
  const out: NicFacts[] = [];
  for (const address of await host.list('/sys/bus/pci/devices')) {
    const dir = `/sys/bus/pci/devices/${address}`;
    const cls = await host.readTrimmed(`${dir}/class`);
    const classCode = cls === null ? NaN : parseInt(cls, 16);
    if (!Number.isFinite(classCode) || classCode >> 16 !== 0x02) continue;
    const hex = async (f: string): Promise<string> =>
      ((await host.readTrimmed(`${dir}/${f}`)) ?? '').replace(/^0x/, '').toLowerCase();
    const iommuGroup = await host.linkName(`${dir}/iommu_group`);
    const peers = iommuGroup === null ? [] : await host.list(`${dir}/iommu_group/devices`);
    const interfaces = await Promise.all(
      (await host.list(`${dir}/net`)).map(async (name) => ({
        name,
        master: await host.linkName(`${dir}/net/${name}/master`),
      })),
    );
    out.push({
      address,
      classCode,
      vendor: await hex('vendor'),
      device: await hex('device'),
      driver: await host.linkName(`${dir}/driver`),
      iommuGroup,
      groupPeers: peers.filter((p) => p !== address),
      interfaces,
    });
  }
  return out;
}

export async function listNetworkDevices(host: Host): Promise<DeviceChoice[]> {
  const [nics, v4, v6] = await Promise.all([
    readNics(host),
    host.readTrimmed('/proc/net/route'),
    host.readTrimmed('/proc/net/ipv6_route'),
  ]);
  const routes = defaultRouteInterfaces(v4, v6);
  return nics.map((n) => nicVerdict(n, routes));
}

/** The providers used until the real ones are wired in; media inspection and lint say they are absent. */
export function defaultProviders(
  host: Host,
): Pick<WizardDeps, 'listDevices' | 'inspectMedia' | 'lintKickstart'> {
  return {
    listDevices: () => listNetworkDevices(host),
    inspectMedia: (location: string): Promise<MediaFacts | Error> =>
      Promise.reject(
        inputError(
          'NOT_IMPLEMENTED',
          `media inspection is not available in this build: '${location}' was not checked`,
          {
            hint: 'the install reads the media itself when it starts',
          },
        ),
      ),
    lintKickstart: (path: string): Promise<LintFinding[]> =>
      Promise.reject(
        inputError(
          'NOT_IMPLEMENTED',
          `kickstart lint is not available in this build: '${path}' was not checked`,
          {
            hint: 'the installer reports kickstart errors on the serial console',
          },
        ),
      ),
  };
}
