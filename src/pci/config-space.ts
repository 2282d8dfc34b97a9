/**
 * Reading PCI configuration space bytes (the sysfs `config` file): header fields and the standard
 * capability list, for what assignment cares about: the PCIe capability's Function Level Reset bit
 * (DevCap bit 28), the Power Management capability's No_Soft_Reset bit (PMCSR bit 3), the Advanced
 * Features capability's FLR bit, and the SR-IOV extended capability. Pure functions over a Buffer.
 *
 * Unprivileged readers get only the first 64 bytes of `config`; capabilities are then unknown.
 * A header that reads all 0xff means the device is gone or powered off (D3cold).
 */

export const CAP_ID = { PM: 0x01, MSI: 0x05, PCIE: 0x10, MSIX: 0x11, AF: 0x13, SSVID: 0x0d } as const;
export const EXT_CAP_ID = { SRIOV: 0x0010, ACS: 0x000d, ARI: 0x000e } as const;

export type ConfigState = 'ok' | 'all-ones' | 'header-only' | 'unreadable';

export interface ConfigHeader {
  vendorId: number;
  deviceId: number;
  revision: number;
  progIf: number;
  subclass: number;
  classCode: number;
  /** low 7 bits of the header type byte: 0 endpoint, 1 PCI-to-PCI bridge, 2 CardBus bridge */
  headerType: number;
  multifunction: boolean;
  /** type 0 only */
  subsystemVendorId: number | null;
  subsystemDeviceId: number | null;
  /** type 1 only */
  secondaryBus: number | null;
  subordinateBus: number | null;
}

export interface Capability {
  id: number;
  offset: number;
}

export interface ResetCapabilities {
  /** PCIe DevCap bit 28; null when there is no PCIe capability */
  pcieFlr: boolean | null;
  /** Advanced Features capability FLR bit; null when absent */
  afFlr: boolean | null;
  /** PM PMCSR No_Soft_Reset; null when there is no PM capability. false means D3hot→D0 resets the device */
  pmNoSoftReset: boolean | null;
  /** PCIe device/port type (PCIe caps bits 7:4), null without a PCIe capability */
  pcieType: number | null;
}

export interface ConfigSpaceInfo {
  state: ConfigState;
  /** bytes available (0, 64, 256 or 4096) */
  size: number;
  header: ConfigHeader | null;
  capabilities: Capability[];
  extendedCapabilities: Capability[];
  reset: ResetCapabilities;
  sriovTotalVfs: number | null;
}

const NO_RESET: ResetCapabilities = { pcieFlr: null, afFlr: null, pmNoSoftReset: null, pcieType: null };

export function isAllOnes(buf: Buffer, length = 64): boolean {
  const n = Math.min(length, buf.length);
  if (n === 0) return false;
  for (let i = 0; i < n; i++) if (buf[i] !== 0xff) return false;
  return true;
}

export function parseHeader(buf: Buffer): ConfigHeader | null {
  if (buf.length < 64) return null;
  const headerByte = buf.readUInt8(0x0e);
  const headerType = headerByte & 0x7f;
  return {
    vendorId: buf.readUInt16LE(0x00),
    deviceId: buf.readUInt16LE(0x02),
    revision: buf.readUInt8(0x08),
    progIf: buf.readUInt8(0x09),
    subclass: buf.readUInt8(0x0a),
    classCode: buf.readUInt8(0x0b),
    headerType,
    multifunction: (headerByte & 0x80) !== 0,
    subsystemVendorId: headerType === 0 ? buf.readUInt16LE(0x2c) : null,
    subsystemDeviceId: headerType === 0 ? buf.readUInt16LE(0x2e) : null,
    secondaryBus: headerType === 1 ? buf.readUInt8(0x19) : null,
    subordinateBus: headerType === 1 ? buf.readUInt8(0x1a) : null,
  };
}

/** Walks the standard capability list (bounded: at most 48 entries, offsets within 0x40–0xff). */
export function listCapabilities(buf: Buffer): Capability[] {
  if (buf.length < 256) return [];
  const status = buf.readUInt16LE(0x06);
  if ((status & 0x10) === 0) return [];
  const headerType = buf.readUInt8(0x0e) & 0x7f;
  let ptr = buf.readUInt8(headerType === 2 ? 0x14 : 0x34) & 0xfc;
  const caps: Capability[] = [];
  const seen = new Set<number>();
  while (ptr >= 0x40 && ptr < 0x100 && !seen.has(ptr) && caps.length < 48) {
    seen.add(ptr);
    caps.push({ id: buf.readUInt8(ptr), offset: ptr });
    ptr = buf.readUInt8(ptr + 1) & 0xfc;
  }
  return caps;
}

/** Walks the extended capability list from 0x100 (needs the 4096-byte config space). */
export function listExtendedCapabilities(buf: Buffer): Capability[] {
  if (buf.length < 4096) return [];
  const caps: Capability[] = [];
  let ptr = 0x100;
  const seen = new Set<number>();
  while (ptr >= 0x100 && ptr + 4 <= buf.length && !seen.has(ptr) && caps.length < 256) {
    seen.add(ptr);
    const h = buf.readUInt32LE(ptr);
    if (h === 0 || h === 0xffffffff) break;
    caps.push({ id: h & 0xffff, offset: ptr });
    ptr = (h >>> 20) & 0xffc;
  }
  return caps;
}

export function resetCapabilities(buf: Buffer, caps: Capability[]): ResetCapabilities {
  const r: ResetCapabilities = { ...NO_RESET };
  for (const c of caps) {
    if (c.id === CAP_ID.PCIE && r.pcieFlr === null && c.offset + 8 <= buf.length) {
      r.pcieType = (buf.readUInt16LE(c.offset + 2) >> 4) & 0xf;
      r.pcieFlr = (buf.readUInt32LE(c.offset + 4) & (1 << 28)) !== 0;
    } else if (c.id === CAP_ID.PM && r.pmNoSoftReset === null && c.offset + 6 <= buf.length) {
      r.pmNoSoftReset = (buf.readUInt16LE(c.offset + 4) & 0x8) !== 0;
    } else if (c.id === CAP_ID.AF && r.afFlr === null && c.offset + 4 <= buf.length) {
      r.afFlr = (buf.readUInt8(c.offset + 3) & 0x2) !== 0;
    }
  }
  return r;
}

/** Everything the inventory takes from config space, from the bytes the `config` file gave. */
export function parseConfigSpace(buf: Buffer | null): ConfigSpaceInfo {
  if (buf === null || buf.length < 64) {
    return {
      state: 'unreadable',
      size: buf?.length ?? 0,
      header: null,
      capabilities: [],
      extendedCapabilities: [],
      reset: { ...NO_RESET },
      sriovTotalVfs: null,
    };
  }
  if (isAllOnes(buf)) {
    return {
      state: 'all-ones',
      size: buf.length,
      header: null,
      capabilities: [],
      extendedCapabilities: [],
      reset: { ...NO_RESET },
      sriovTotalVfs: null,
    };
  }
  const header = parseHeader(buf);
  const capabilities = listCapabilities(buf);
  const extendedCapabilities = listExtendedCapabilities(buf);
  const sriov = extendedCapabilities.find((c) => c.id === EXT_CAP_ID.SRIOV);
  return {
    state: buf.length < 256 ? 'header-only' : 'ok',
    size: buf.length,
    header,
    capabilities,
    extendedCapabilities,
    reset: resetCapabilities(buf, capabilities),
    sriovTotalVfs: sriov && sriov.offset + 0x10 <= buf.length ? buf.readUInt16LE(sriov.offset + 0x0e) : null,
  };
}
