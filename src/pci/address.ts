/**
 * PCI addresses as the kernel names them in sysfs: `DDDD:BB:SS.F`, where the domain has four or
 * more hex digits (VMD and some hypervisors use 5-digit domains such as `10000:00:01.0`), the bus
 * two, the slot two (0x00–0x1f) and the function one (0–7). Pure functions only.
 */

export interface PciAddress {
  domain: number;
  bus: number;
  slot: number;
  func: number;
}

const ADDRESS_RE = /^(?:([0-9a-f]{4,8}):)?([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$/i;
const FULL_ADDRESS_RE = /^([0-9a-f]{4,8}):([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$/i;
const LIBVIRT_RE = /^pci_([0-9a-f]{4,8})_([0-9a-f]{2})_([0-9a-f]{2})_([0-7])$/i;

function build(domain: string | undefined, bus: string, slot: string, func: string): PciAddress | null {
  const a = {
    domain: domain === undefined ? 0 : Number.parseInt(domain, 16),
    bus: Number.parseInt(bus, 16),
    slot: Number.parseInt(slot, 16),
    func: Number.parseInt(func, 16),
  };
  return a.slot > 0x1f ? null : a;
}

/** `0000:03:00.0` or `03:00.0` (domain 0); null when the text is not an address. */
export function parsePciAddress(text: string): PciAddress | null {
  const m = ADDRESS_RE.exec(text.trim());
  return m ? build(m[1], m[2]!, m[3]!, m[4]!) : null;
}

/** Only the full sysfs form `DDDD:BB:SS.F` (what /sys/bus/pci/devices lists). */
export function parseSysfsAddress(text: string): PciAddress | null {
  const m = FULL_ADDRESS_RE.exec(text);
  return m ? build(m[1], m[2]!, m[3]!, m[4]!) : null;
}

/** libvirt's node-device name `pci_0000_03_00_0`; null when the text is not one. */
export function parseLibvirtName(text: string): PciAddress | null {
  const m = LIBVIRT_RE.exec(text.trim());
  return m ? build(m[1], m[2]!, m[3]!, m[4]!) : null;
}

const hex = (n: number, width: number): string => n.toString(16).padStart(width, '0');

/** The canonical sysfs spelling: lowercase, domain padded to at least four digits. */
export function formatPciAddress(a: PciAddress): string {
  return `${hex(a.domain, 4)}:${hex(a.bus, 2)}:${hex(a.slot, 2)}.${a.func}`;
}

/** libvirt's node-device name for an address. */
export function libvirtName(a: PciAddress): string {
  return `pci_${hex(a.domain, 4)}_${hex(a.bus, 2)}_${hex(a.slot, 2)}_${a.func}`;
}

/** Numeric order (domain, bus, slot, function): what lspci prints. */
export function comparePciAddress(a: PciAddress, b: PciAddress): number {
  return a.domain - b.domain || a.bus - b.bus || a.slot - b.slot || a.func - b.func;
}

/** Sorts canonical address strings numerically (a 5-digit domain sorts after every 4-digit one). */
export function compareAddressText(a: string, b: string): number {
  const pa = parseSysfsAddress(a);
  const pb = parseSysfsAddress(b);
  if (pa && pb) return comparePciAddress(pa, pb);
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A path component that is a full sysfs PCI address (used to find the function owning a netdev). */
export function isSysfsAddress(text: string): boolean {
  return FULL_ADDRESS_RE.test(text);
}

/**
 * A device selector that names an address: `0000:03:00.0`, `03:00.0` (domain 0) or libvirt's
 * `pci_0000_03_00_0` → the canonical sysfs name (`formatPciAddress`); null for other selectors
 * (vendor:device, interface names, `auto`). The one address grammar every command and stage uses.
 */
export function canonicalAddress(selector: string): string | null {
  const a = parsePciAddress(selector) ?? parseLibvirtName(selector);
  return a ? formatPciAddress(a) : null;
}
