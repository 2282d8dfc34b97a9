/**
 * The PCI inventory of a libvirt connection: `virsh nodedev-list --cap pci` and `--cap net`, then
 * `nodedev-dumpxml` of each, read into the same `Inventory` model src/pci/inventory.ts builds from
 * sysfs, so the same verdicts (src/pci/assignability.ts) and the same `--hostdev` grammar apply.
 *
 * What libvirt tells: address, vendor/product, class, driver, IOMMU group, NUMA node, the parent
 * bridge, PCIe, SR-IOV (virt_functions / phys_function) and the network interfaces under each
 * function (name, MAC, link state). What it does not: routes, addresses, mounts, reset methods. On
 * a remote host those guards are UNKNOWN (`inventory.unknownGuards`), and assess() refuses a NIC or
 * storage controller it cannot clear unless --force. For a local URI the facts are read from this
 * host's sysfs/proc (the same reads `hostdev list` does) and merged in by address.
 */
import type { Host } from '../host/host.js';
import type { Inventory, NetInterface, PciDevice } from '../pci/inventory.js';
import { className } from '../pci/class-names.js';
import { classKindOf } from '../pci/inventory.js';
import { compareAddressText } from '../pci/address.js';
import { mapLimit } from '../pci/concurrency.js';
import { redactUri, type LibvirtConnection } from './connection.js';
import { child, children, parseXml, textOf, type XmlElement } from './xml.js';

const hex = (s: string | undefined, width: number): string =>
  (s ?? '').replace(/^0x/i, '').toLowerCase().padStart(width, '0');

/** `<address domain='0x0000' bus='0x03' slot='0x00' function='0x1'/>` → `0000:03:00.1` */
function addressOf(a: XmlElement | undefined): string | null {
  if (!a) return null;
  const { domain, bus, slot, function: fn } = a.attrs;
  if (domain === undefined || bus === undefined || slot === undefined || fn === undefined) return null;
  return `${hex(domain, 4)}:${hex(bus, 2)}:${hex(slot, 2)}.${Number(fn)}`;
}

/** libvirt's nodedev name for a PCI address: `0000:03:00.1` → `pci_0000_03_00_1`. */
export function nodedevName(address: string): string {
  return `pci_${address.replace(/[:.]/g, '_')}`;
}

/** One `nodedev-dumpxml` of a PCI device → the inventory's device (net and block filled later). Pure. */
export function pciDeviceFromXml(xml: string): PciDevice {
  const dev = parseXml(xml);
  const cap = children(dev, 'capability').find((c) => c.attrs.type === 'pci');
  const num = (name: string): number => Number(textOf(cap, name) ?? 'NaN');
  const address = `${num('domain').toString(16).padStart(4, '0')}:${num('bus').toString(16).padStart(2, '0')}:${num('slot').toString(16).padStart(2, '0')}.${num('function')}`;
  const classCode = hex(textOf(cap, 'class'), 6);
  const parentName = textOf(dev, 'parent') ?? '';
  const pm = /^pci_([0-9a-f]{4,})_([0-9a-f]{2})_([0-9a-f]{2})_([0-7])$/i.exec(parentName);
  const group = child(cap, 'iommuGroup')?.attrs.number;
  const numa = child(cap, 'numa')?.attrs.node;
  const subcaps = children(cap, 'capability');
  const vfCap = subcaps.find((c) => c.attrs.type === 'virt_functions');
  const pfCap = subcaps.find((c) => c.attrs.type === 'phys_function');
  const vfs = children(vfCap, 'address')
    .map(addressOf)
    .filter((a): a is string => a !== null);
  const bridge = classCode.startsWith('0604') || classCode.startsWith('0609');
  return {
    address,
    vendorId: hex(child(cap, 'vendor')?.attrs.id, 4),
    deviceId: hex(child(cap, 'product')?.attrs.id, 4),
    subsystemVendorId: null,
    subsystemDeviceId: null,
    classCode,
    className: className(classCode),
    classKind: classKindOf(classCode),
    revision: null,
    headerType: bridge ? 'bridge' : 'endpoint',
    multifunction: false,
    driver: textOf(dev, 'driver', 'name') ?? null,
    driverOverride: null,
    // libvirt binds through driver_override itself (virpci.c)
    driverOverrideSupported: true,
    iommuGroup: group === undefined ? null : Number(group),
    numaNode: numa === undefined || Number(numa) < 0 ? null : Number(numa),
    parent: pm ? `${pm[1]}:${pm[2]}:${pm[3]}.${pm[4]}`.toLowerCase() : null,
    sysfsPath: textOf(dev, 'path') ?? '',
    sriov: vfCap ? { totalVfs: Number(vfCap.attrs.maxCount ?? vfs.length), numVfs: vfs.length, vfs } : null,
    physfn: addressOf(child(pfCap, 'address')),
    net: [],
    block: [],
    reset: {
      methods: null,
      pcieFlr: null,
      afFlr: null,
      pmNoSoftReset: null,
      busResetPossible: false,
      capabilitiesRead: false,
    },
    config: { state: 'ok', size: 0 },
    bootVga: null,
  };
}

/** One `nodedev-dumpxml` of a net device → its owning PCI address and interface (no addresses, no routes). */
export function netFromXml(xml: string): { owner: string | null; iface: NetInterface } {
  const dev = parseXml(xml);
  const cap = children(dev, 'capability').find((c) => c.attrs.type === 'net');
  const pm = /^pci_([0-9a-f]{4,})_([0-9a-f]{2})_([0-9a-f]{2})_([0-7])$/i.exec(textOf(dev, 'parent') ?? '');
  return {
    owner: pm ? `${pm[1]}:${pm[2]}:${pm[3]}.${pm[4]}`.toLowerCase() : null,
    iface: {
      name: textOf(cap, 'interface') ?? '?',
      mac: textOf(cap, 'address')?.toLowerCase() ?? null,
      operstate: child(cap, 'link')?.attrs.state ?? null,
      addresses: [],
      defaultRoutes: [],
      uppers: [],
    },
  };
}

const list = (out: string): string[] =>
  out
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');

/** Builds the inventory from a list of PCI and net nodedev XML documents. Pure. */
export function inventoryFromNodedevs(
  pciXml: readonly string[],
  netXml: readonly string[],
  source: { uri: string; local: boolean },
): Inventory {
  const devices = pciXml.map(pciDeviceFromXml).sort((a, b) => compareAddressText(a.address, b.address));
  const byAddr = new Map(devices.map((d) => [d.address, d]));
  for (const x of netXml) {
    const { owner, iface } = netFromXml(x);
    const d = owner ? byAddr.get(owner) : undefined;
    if (d) d.net.push(iface);
  }
  for (const d of devices) d.net.sort((a, b) => (a.name < b.name ? -1 : 1));
  const perBus = new Map<string, number>();
  const busKey = (a: string): string => a.slice(0, a.lastIndexOf(':'));
  for (const d of devices) perBus.set(busKey(d.address), (perBus.get(busKey(d.address)) ?? 0) + 1);
  for (const d of devices)
    d.reset.busResetPossible =
      d.parent !== null && d.headerType === 'endpoint' && perBus.get(busKey(d.address)) === 1;
  const groups: Record<string, string[]> = {};
  for (const d of devices) if (d.iommuGroup !== null) (groups[String(d.iommuGroup)] ??= []).push(d.address);
  return {
    devices,
    groups,
    iommu: { enabled: Object.keys(groups).length > 0, units: [], groupCount: Object.keys(groups).length },
    defaultRoutes: {},
    vfioUsers: {},
    source: { kind: 'libvirt', uri: redactUri(source.uri) },
    ...(source.local
      ? {}
      : {
          unknownGuards: {
            facts: ['default route', 'interface addresses', 'mounted disks'],
            why: `libvirt (${redactUri(source.uri)}) does not report the host's routes, addresses or mounts`,
          },
        }),
  };
}

/**
 * Merges this host's own facts (interfaces with addresses and routes, mounted disks, reset
 * methods, config space, processes holding /dev/vfio) into a local connection's inventory, by
 * address. libvirt's identity, driver and group stay.
 */
export function mergeLocalFacts(inv: Inventory, local: Inventory): Inventory {
  const byAddr = new Map(local.devices.map((d) => [d.address, d]));
  const devices = inv.devices.map((d) => {
    const l = byAddr.get(d.address);
    if (!l) return d;
    return {
      ...d,
      subsystemVendorId: l.subsystemVendorId,
      subsystemDeviceId: l.subsystemDeviceId,
      revision: l.revision,
      headerType: l.headerType,
      multifunction: l.multifunction,
      driverOverride: l.driverOverride,
      driverOverrideSupported: l.driverOverrideSupported,
      net: l.net,
      block: l.block,
      reset: l.reset,
      config: l.config,
      bootVga: l.bootVga,
    };
  });
  const { unknownGuards: _u, ...rest } = inv;
  return {
    ...rest,
    devices,
    iommu: { ...inv.iommu, units: local.iommu.units },
    defaultRoutes: local.defaultRoutes,
    vfioUsers: local.vfioUsers,
  };
}

/** Reads the connection's PCI inventory (and, for a local URI, this host's facts through `host`). */
export async function listLibvirtDevices(
  conn: LibvirtConnection,
  host?: Host,
  signal?: AbortSignal,
): Promise<Inventory> {
  const opt = signal ? { signal } : {};
  const [pciNames, netNames] = await Promise.all([
    conn.virsh(['nodedev-list', '--cap', 'pci'], opt).then(list),
    conn.virsh(['nodedev-list', '--cap', 'net'], opt).then(list),
  ]);
  const dump = (n: string): Promise<string> => conn.virsh(['nodedev-dumpxml', n], opt);
  const [pciXml, netXml] = await Promise.all([mapLimit(pciNames, 8, dump), mapLimit(netNames, 8, dump)]);
  const inv = inventoryFromNodedevs(pciXml, netXml, conn);
  if (!conn.local || !host) return inv;
  const { listDevices } = await import('../pci/inventory.js');
  return mergeLocalFacts(inv, await listDevices(host));
}
