/**
 * Host profiles (JSON, fixtures/hosts/<name>/profile.json) built into real trees that look like what
 * the kernel shows: /sys/bus/pci/devices/<addr> are symlinks into /sys/devices/pci<dom>:<bus>/…
 * (nested under their bridges), `driver` links to /sys/bus/pci/drivers/<name> (which link back),
 * `iommu_group` links to /sys/kernel/iommu_groups/<N> (whose devices/ link back), `config` files
 * hold real config-space bytes (header, capability list with PM/PCIe/AF, SR-IOV extended
 * capability), network interfaces and block devices sit under their functions, and /proc, /dev,
 * /sys/class, /sys/module, /sys/firmware/acpi/tables and /lib/modules are filled to match.
 *
 * The builder is generic (profile → tree) so that a kernel model (bind/unbind semantics) can be
 * attached to the same trees:
 *   buildHostTree(profile, dir)  builds the tree under dir (dir stands for `/`)
 *   loadProfile(name)            reads fixtures/hosts/<name>/profile.json
 *   listProfiles()               every profile name
 *   withHostTree(profile, fn)    builds into a private temp dir, runs fn(root), removes it
 *   generateProfile(n)           a synthetic host with n PCI functions (benchmarks)
 *   normalizeProfile(profile)    the profile with every default made explicit (what the tree shows)
 */
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// ---------------------------------------------------------------------------------------------
// Profile types

export interface NetProfile {
  name: string;
  mac: string;
  /** /sys/class/net/X/operstate; default "up" */
  operstate?: string;
  /** where the netdev sits: directly under the function (`net/`) or under a virtio child (`virtioN/net/`) */
  via?: 'direct' | 'virtio';
}

export interface DiskProfile {
  name: string;
  partitions?: string[];
}

export interface BlockProfile {
  kind: 'nvme' | 'sata' | 'virtio';
  disks: DiskProfile[];
}

export interface DeviceProfile {
  address: string;
  /** vendor:device, hex */
  id: string;
  /** subsystem vendor:device; default the same as id */
  subsys?: string;
  /** six hex digits: class, subclass, prog-if */
  class: string;
  rev?: string;
  driver?: string | null;
  /** the bridge this function sits behind; absent = on the root bus */
  parent?: string;
  /** IOMMU group; ignored when the host has no IOMMU */
  group?: number;
  numa?: number;
  multifunction?: boolean;
  /** PCIe capability; default present with FLR for PCIe devices, absent when false */
  pcie?: false | { flr?: boolean; type?: number };
  /** PM capability; default present with No_Soft_Reset=1 */
  pm?: false | { noSoftReset?: boolean };
  /** Advanced Features capability (conventional PCI FLR); default absent */
  af?: false | { flr?: boolean };
  /** bytes in `config`: 64 (unprivileged view), 256 (conventional) or 4096 (PCIe); default 4096 with PCIe */
  configSize?: 64 | 256 | 4096;
  /** the header reads all 0xff (device gone or in D3cold) */
  configAllOnes?: boolean;
  /** content of reset_method; null or "" = the file does not exist (kernel < 5.15, or no method); default derived from caps */
  resetMethod?: string | null;
  /** content of driver_override; false = the file does not exist (kernel < 3.16); default none */
  driverOverride?: string | null | false;
  sriov?: { totalVfs: number; numVfs: number };
  /** for a VF: its PF */
  physfn?: string;
  net?: NetProfile[];
  block?: BlockProfile;
  /** display devices: content of boot_vga */
  bootVga?: boolean;
}

export interface RouteProfile {
  iface: string;
  /** `0.0.0.0/0`, `10.0.0.0/8`, `::/0`, `2001:db8::/64` */
  dest: string;
  gateway?: string;
  metric?: number;
}

export interface VirtualNetProfile {
  name: string;
  mac: string;
  operstate?: string;
  /** lower devices (bridge ports, bond slaves, VLAN parent) */
  lower: string[];
}

export interface MountProfile {
  /** block device name (`nvme0n1p2`, `sda1`, `dm-0`) or a pseudo source (`tmpfs`) */
  device: string;
  mountpoint: string;
  fstype: string;
}

export interface HostProfile {
  name: string;
  description: string;
  kernel?: { release?: string; cmdline?: string };
  cpu?: { vendor?: 'intel' | 'amd'; flags?: string[]; count?: number };
  memory?: { totalMiB: number; availableMiB: number };
  /** RLIMIT_MEMLOCK in bytes, or "unlimited"; default 8 MiB */
  memlock?: number | 'unlimited';
  /** the reading process's uid and whether it holds CAP_IPC_LOCK; default root with all caps.
   * A non-root reader sees only the first 64 bytes of every `config` file, as the kernel allows. */
  process?: { uid?: number; capIpcLock?: boolean };
  /** /dev/kvm present; default true */
  kvm?: boolean;
  iommu: {
    kind: 'intel' | 'amd' | 'none';
    /** the firmware table exists but the kernel did not enable the IOMMU (no intel_iommu=on) */
    disabled?: boolean;
    /** interrupt remapping in use (Intel: ecap IR bit; /proc/interrupts shows IR- chips); default true */
    interruptRemapping?: boolean;
  };
  /** loaded modules (/sys/module/<name>); default kvm, kvm_intel|kvm_amd and the drivers in use */
  modules?: string[];
  /** modules installed but not loaded (/lib/modules/<release>/modules.dep) */
  availableModules?: string[];
  /** modules built into the kernel (/lib/modules/<release>/modules.builtin) */
  builtinModules?: string[];
  /** vfio_iommu_type1 allow_unsafe_interrupts */
  allowUnsafeInterrupts?: boolean;
  /** processes holding /dev/vfio/<group> open */
  vfioUsers?: { pid: number; comm: string; group: number }[];
  devices: DeviceProfile[];
  net?: {
    routes?: RouteProfile[];
    /** `192.168.1.10/24`, `2001:db8::10/64` on an interface */
    addresses?: { iface: string; cidr: string }[];
    virtual?: VirtualNetProfile[];
  };
  mounts?: MountProfile[];
  /** block devices used as swap */
  swaps?: string[];
  /** root buses that hang below a PCI function (Intel VMD): `"10000:00": "0000:00:0e.0"` */
  rootBusParents?: Record<string, string>;
}

// ---------------------------------------------------------------------------------------------
// Loading

const here = path.dirname(fileURLToPath(import.meta.url));
export const PROFILES_DIR = path.resolve(here, '../../fixtures/hosts');

export function profileDir(name: string): string {
  return path.join(PROFILES_DIR, name);
}

export function loadProfile(name: string): HostProfile {
  return JSON.parse(readFileSync(path.join(profileDir(name), 'profile.json'), 'utf8')) as HostProfile;
}

export function listProfiles(): string[] {
  return readdirSync(PROFILES_DIR, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
}

// ---------------------------------------------------------------------------------------------
// Normalisation: every default made explicit

interface Addr {
  domain: number;
  bus: number;
  slot: number;
  func: number;
}

function parseAddr(text: string): Addr {
  const m = /^([0-9a-f]{4,8}):([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$/.exec(text);
  if (!m) throw new Error(`profile: bad PCI address ${text}`);
  return {
    domain: parseInt(m[1]!, 16),
    bus: parseInt(m[2]!, 16),
    slot: parseInt(m[3]!, 16),
    func: parseInt(m[4]!, 16),
  };
}

const hex = (n: number, w: number): string => n.toString(16).padStart(w, '0');

export interface NormalDevice {
  address: string;
  addr: Addr;
  vendor: number;
  device: number;
  subVendor: number;
  subDevice: number;
  classCode: number;
  rev: number;
  driver: string | null;
  parent: string | null;
  group: number | null;
  numa: number;
  header: 0 | 1 | 2;
  multifunction: boolean;
  pcie: { flr: boolean; type: number } | null;
  pm: { noSoftReset: boolean } | null;
  af: { flr: boolean } | null;
  configSize: 64 | 256 | 4096;
  configAllOnes: boolean;
  resetMethod: string | null;
  driverOverride: string | null | false;
  sriov: { totalVfs: number; numVfs: number } | null;
  physfn: string | null;
  vfs: string[];
  net: Required<NetProfile>[];
  block: BlockProfile | null;
  bootVga: boolean | null;
  secondaryBus: number | null;
  subordinateBus: number | null;
}

function splitId(id: string): [number, number] {
  const m = /^([0-9a-f]{4}):([0-9a-f]{4})$/i.exec(id);
  if (!m) throw new Error(`profile: bad id ${id}`);
  return [parseInt(m[1]!, 16), parseInt(m[2]!, 16)];
}

/** Applies defaults and derives what the kernel would show (bridge bus numbers, reset methods, VF lists). */
export function normalizeDevices(profile: HostProfile): NormalDevice[] {
  const byAddr = new Map<string, DeviceProfile>();
  for (const d of profile.devices) {
    if (byAddr.has(d.address)) throw new Error(`profile ${profile.name}: duplicate device ${d.address}`);
    byAddr.set(d.address, d);
  }
  const iommu = profile.iommu.kind !== 'none' && !profile.iommu.disabled;
  // functions per (parent, bus): a bus reset is possible only for a function alone on its bus
  const onBus = new Map<string, number>();
  const childBuses = new Map<string, number[]>();
  const vfsOf = new Map<string, string[]>();
  for (const d of profile.devices) {
    const key = `${d.parent ?? ''}/${parseAddr(d.address).bus}`;
    onBus.set(key, (onBus.get(key) ?? 0) + 1);
    if (d.parent) childBuses.set(d.parent, [...(childBuses.get(d.parent) ?? []), parseAddr(d.address).bus]);
    if (d.physfn) vfsOf.set(d.physfn, [...(vfsOf.get(d.physfn) ?? []), d.address]);
  }
  const out: NormalDevice[] = [];
  for (const d of profile.devices) {
    const addr = parseAddr(d.address);
    if (d.parent && !byAddr.has(d.parent))
      throw new Error(`profile: ${d.address} has unknown parent ${d.parent}`);
    const [vendor, device] = splitId(d.id);
    const [subVendor, subDevice] = splitId(d.subsys ?? d.id);
    const classCode = parseInt(d.class, 16);
    const cls16 = classCode >> 8;
    const header: 0 | 1 | 2 = cls16 === 0x0604 || cls16 === 0x0609 ? 1 : cls16 === 0x0607 ? 2 : 0;
    const isRoot = !d.parent;
    const defaultType = header === 1 ? (isRoot ? 4 : 6) : isRoot ? 9 : 0;
    const pcie =
      d.pcie === false || cls16 === 0x0600
        ? null
        : { flr: d.pcie?.flr ?? header === 0, type: d.pcie?.type ?? defaultType };
    const pm = d.pm === false ? null : { noSoftReset: d.pm?.noSoftReset ?? true };
    const af = d.af ? { flr: d.af.flr ?? true } : null;
    const alone = onBus.get(`${d.parent ?? ''}/${addr.bus}`) === 1;
    const derived: string[] = [];
    if (pcie?.flr) derived.push('flr');
    if (af?.flr) derived.push('af_flr');
    if (pm && !pm.noSoftReset) derived.push('pm');
    if (!isRoot && header === 0 && alone) derived.push('bus');
    const children = childBuses.get(d.address) ?? [];
    const secondary = header === 1 ? (children.length ? Math.min(...children) : addr.bus + 1) : null;
    const subordinate = header === 1 ? (children.length ? Math.max(...children) : secondary) : null;
    out.push({
      address: d.address,
      addr,
      vendor,
      device,
      subVendor,
      subDevice,
      classCode,
      rev: parseInt(d.rev ?? '01', 16),
      driver: d.driver ?? null,
      parent: d.parent ?? null,
      group: iommu ? (d.group ?? null) : null,
      numa: d.numa ?? -1,
      header,
      multifunction: d.multifunction ?? false,
      pcie,
      pm,
      af,
      configSize: d.configSize ?? (pcie ? 4096 : 256),
      configAllOnes: d.configAllOnes ?? false,
      resetMethod: d.resetMethod === undefined ? derived.join(' ') : d.resetMethod,
      driverOverride: d.driverOverride === undefined ? null : d.driverOverride,
      sriov: d.sriov ?? null,
      physfn: d.physfn ?? null,
      vfs: vfsOf.get(d.address) ?? [],
      net: (d.net ?? []).map((n) => ({ operstate: 'up', via: 'direct', ...n })),
      block: d.block ?? null,
      bootVga: d.bootVga ?? null,
      secondaryBus: secondary,
      subordinateBus: subordinate,
    });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Config space bytes

export function configBytes(d: NormalDevice): Buffer {
  const b = Buffer.alloc(d.configSize);
  if (d.configAllOnes) return b.fill(0xff);
  const full = Buffer.alloc(4096);
  full.writeUInt16LE(d.vendor, 0x00);
  full.writeUInt16LE(d.device, 0x02);
  full.writeUInt16LE(0x0406, 0x04); // memory space, bus master, INTx disable
  full.writeUInt16LE(0x0010, 0x06); // capabilities list
  full.writeUInt8(d.rev, 0x08);
  full.writeUInt8(d.classCode & 0xff, 0x09);
  full.writeUInt8((d.classCode >> 8) & 0xff, 0x0a);
  full.writeUInt8((d.classCode >> 16) & 0xff, 0x0b);
  full.writeUInt8(d.header | (d.multifunction ? 0x80 : 0), 0x0e);
  const caps: { id: number; len: number; fill(off: number): void }[] = [];
  if (d.pm) {
    const pm = d.pm;
    caps.push({
      id: 0x01,
      len: 8,
      fill: (o) => {
        full.writeUInt16LE(0x0003, o + 2); // PMC: version 3
        full.writeUInt16LE(pm.noSoftReset ? 0x0008 : 0x0000, o + 4); // PMCSR: D0, No_Soft_Reset
      },
    });
  }
  if (d.pcie) {
    const pcie = d.pcie;
    caps.push({
      id: 0x10,
      len: 0x3c,
      fill: (o) => {
        full.writeUInt16LE(0x0002 | (pcie.type << 4), o + 2); // version 2, device/port type
        full.writeUInt32LE((pcie.flr ? 1 << 28 : 0) | 0x8000 | 0x2, o + 4); // DevCap: FLR, role-based err, MPS 512
        full.writeUInt16LE(0x2810, o + 8); // DevCtl
      },
    });
  }
  if (d.af) {
    const af = d.af;
    caps.push({
      id: 0x13,
      len: 6,
      fill: (o) => {
        full.writeUInt8(0x06, o + 2); // length
        full.writeUInt8(0x01 | (af.flr ? 0x02 : 0), o + 3); // TP, FLR
      },
    });
  }
  if (d.header === 1) {
    caps.push({
      id: 0x0d,
      len: 8,
      fill: (o) => {
        full.writeUInt16LE(d.subVendor, o + 4);
        full.writeUInt16LE(d.subDevice, o + 6);
      },
    });
  }
  let off = 0x40;
  let prev = 0x34;
  for (const c of caps) {
    full.writeUInt8(off, prev);
    full.writeUInt8(c.id, off);
    c.fill(off);
    prev = off + 1;
    off += Math.ceil(c.len / 8) * 8 + 8;
  }
  if (d.header === 0) {
    full.writeUInt16LE(d.subVendor, 0x2c);
    full.writeUInt16LE(d.subDevice, 0x2e);
    full.writeUInt8(0x0b, 0x3c); // interrupt line
    full.writeUInt8(0x01, 0x3d); // INTA
  } else if (d.header === 1) {
    full.writeUInt8(d.addr.bus, 0x18);
    full.writeUInt8(d.secondaryBus ?? 0, 0x19);
    full.writeUInt8(d.subordinateBus ?? 0, 0x1a);
  }
  if (d.sriov) {
    // SR-IOV extended capability at 0x100
    full.writeUInt32LE(0x0010 | (1 << 16), 0x100);
    full.writeUInt16LE(d.sriov.totalVfs, 0x100 + 0x0c); // InitialVFs
    full.writeUInt16LE(d.sriov.totalVfs, 0x100 + 0x0e); // TotalVFs
    full.writeUInt16LE(d.sriov.numVfs, 0x100 + 0x10); // NumVFs
    full.writeUInt16LE(0x80, 0x100 + 0x14); // First VF offset
    full.writeUInt16LE(0x01, 0x100 + 0x16); // VF stride
  }
  full.copy(b, 0, 0, d.configSize);
  return b;
}

// ---------------------------------------------------------------------------------------------
// Network text files

function ipv4ToLeHex(ip: string): string {
  const p = ip.split('.').map(Number);
  if (p.length !== 4) throw new Error(`profile: bad IPv4 ${ip}`);
  return p
    .reverse()
    .map((x) => hex(x, 2).toUpperCase())
    .join('');
}

function prefixMaskV4(prefix: number): string {
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return ipv4ToLeHex([mask >>> 24, (mask >>> 16) & 0xff, (mask >>> 8) & 0xff, mask & 0xff].join('.'));
}

function networkV4(ip: string, prefix: number): string {
  const n = ip.split('.').reduce((a, x) => ((a << 8) | Number(x)) >>> 0, 0);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  const v = (n & mask) >>> 0;
  return [v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff].join('.');
}

export function expandIpv6(ip: string): string {
  const [head, tail] = ip.includes('::') ? ip.split('::') : [ip, undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const missing = 8 - h.length - t.length;
  const groups = tail === undefined ? h : [...h, ...Array<string>(missing).fill('0'), ...t];
  if (groups.length !== 8) throw new Error(`profile: bad IPv6 ${ip}`);
  return groups.map((g) => g.padStart(4, '0')).join('');
}

const isV6 = (cidr: string): boolean => cidr.includes(':');

function routeFile(routes: RouteProfile[]): string {
  const rows = routes
    .filter((r) => !isV6(r.dest))
    .map((r) => {
      const [ip, pfx] = r.dest.split('/');
      const flags = 0x1 | (r.gateway ? 0x2 : 0);
      return [
        r.iface,
        ipv4ToLeHex(ip!),
        ipv4ToLeHex(r.gateway ?? '0.0.0.0'),
        hex(flags, 4).toUpperCase(),
        '0',
        '0',
        String(r.metric ?? 0),
        prefixMaskV4(Number(pfx)),
        '0',
        '0',
        '0',
      ].join('\t');
    });
  const headerLine = 'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT';
  return [`${headerLine.padEnd(127)}`, ...rows.map((r) => r.padEnd(127))].join('\n') + '\n';
}

function ipv6RouteFile(routes: RouteProfile[]): string {
  return routes
    .filter((r) => isV6(r.dest))
    .map((r) => {
      const [ip, pfx] = r.dest.split('/');
      const flags = 0x1 | (r.gateway ? 0x2 | 0x00040000 : 0);
      return [
        expandIpv6(ip!),
        hex(Number(pfx), 2),
        '0'.repeat(32),
        '00',
        expandIpv6(r.gateway ?? '::'),
        hex(r.metric ?? 1024, 8),
        '00000001',
        '00000000',
        hex(flags, 8),
        r.iface.padStart(8),
      ].join(' ');
    })
    .join('\n')
    .concat('\n');
}

/** A flattened fib_trie: each local address as the kernel prints it (`|-- A.B.C.D` then `/32 host LOCAL`). */
function fibTrieFile(addresses: { iface: string; cidr: string }[]): string {
  const v4 = addresses.filter((a) => !isV6(a.cidr));
  const block = (title: string): string[] => {
    const lines = [`${title}:`, '  +-- 0.0.0.0/0 3 0 5'];
    for (const a of v4) {
      const [ip, pfx] = a.cidr.split('/');
      lines.push(`     |-- ${networkV4(ip!, Number(pfx))}`, `        /${pfx} link UNICAST`);
      lines.push(`     |-- ${ip}`, '        /32 host LOCAL');
    }
    lines.push('     |-- 127.0.0.1', '        /32 host LOCAL');
    return lines;
  };
  return [...block('Main'), ...block('Local')].join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------------
// The tree

class Tree {
  constructor(readonly root: string) {}
  abs(p: string): string {
    return path.join(this.root, p);
  }
  dir(p: string): void {
    mkdirSync(this.abs(p), { recursive: true });
  }
  file(p: string, content: string | Buffer, mode?: number): void {
    mkdirSync(path.dirname(this.abs(p)), { recursive: true });
    writeFileSync(this.abs(p), content, mode === undefined ? undefined : { mode });
  }
  /** a relative symlink at `linkPath` to `target`, both host paths */
  link(linkPath: string, target: string): void {
    mkdirSync(path.dirname(this.abs(linkPath)), { recursive: true });
    symlinkSync(path.relative(path.dirname(linkPath), target), this.abs(linkPath));
  }
}

function ecapFor(ir: boolean): string {
  // bits: 1 QI, 3 IR, 4 EIM, 6 PT, 7 SC (a Skylake-era value with IR toggled)
  return (0xf050d2 | (ir ? 0x8 : 0)).toString(16);
}

function acpiTable(signature: string, body: Buffer): Buffer {
  const t = Buffer.alloc(36 + body.length);
  t.write(signature, 0, 'ascii');
  t.writeUInt32LE(t.length, 4);
  t.writeUInt8(1, 8);
  t.write('IGFIXT', 10, 'ascii');
  t.write('IGHOST  ', 16, 'ascii');
  t.writeUInt32LE(1, 24);
  t.write('IGTB', 28, 'ascii');
  t.writeUInt32LE(1, 32);
  body.copy(t, 36);
  let sum = 0;
  for (const x of t) sum = (sum + x) & 0xff;
  t.writeUInt8((0x100 - sum) & 0xff, 9);
  return t;
}

function dmarTable(ir: boolean): Buffer {
  const body = Buffer.alloc(12 + 16);
  body.writeUInt8(38, 0); // host address width - 1 (39 bits)
  body.writeUInt8(ir ? 0x1 : 0x0, 1); // flags: INTR_REMAP
  // one DRHD covering every device: type 0, length 16, flags INCLUDE_PCI_ALL, segment 0, base fed90000
  body.writeUInt16LE(0, 12);
  body.writeUInt16LE(16, 14);
  body.writeUInt8(1, 16);
  body.writeUInt16LE(0, 18);
  body.writeBigUInt64LE(0xfed90000n, 20);
  return acpiTable('DMAR', body);
}

function ivrsTable(): Buffer {
  const body = Buffer.alloc(12);
  body.writeUInt32LE(0x00203040, 0); // IVinfo: VA size, PA size, GVA size
  return acpiTable('IVRS', body);
}

const moduleOf = (driver: string): string => driver.replace(/-/g, '_');

function rootBusName(a: Addr): string {
  return `pci${hex(a.domain, 4)}:${hex(a.bus, 2)}`;
}

/** Builds the profile's host tree under `dir` (which stands for `/`). `dir` must exist and be empty. */
export function buildHostTree(profile: HostProfile, dir: string): Promise<void> {
  buildHostTreeSync(profile, dir);
  return Promise.resolve();
}

export function buildHostTreeSync(profile: HostProfile, dir: string): void {
  const t = new Tree(dir);
  const devices = normalizeDevices(profile);
  const byAddr = new Map(devices.map((d) => [d.address, d]));
  const iommuOn = profile.iommu.kind !== 'none' && !profile.iommu.disabled;
  const ir = profile.iommu.interruptRemapping ?? true;
  const release = profile.kernel?.release ?? '6.1.0-28-amd64';

  // sysfs device paths, nested under bridges (and VMD-style root buses under their function)
  const devPath = new Map<string, string>();
  const rootBusDir = (a: Addr): string => {
    const key = `${hex(a.domain, 4)}:${hex(a.bus, 2)}`;
    const host = profile.rootBusParents?.[key];
    const hostDev = host ? byAddr.get(host) : undefined;
    if (host && !hostDev) throw new Error(`profile ${profile.name}: root bus ${key} below unknown ${host}`);
    return hostDev ? `${pathOf(hostDev)}/${rootBusName(a)}` : `/sys/devices/${rootBusName(a)}`;
  };
  const pathOf = (d: NormalDevice): string => {
    const known = devPath.get(d.address);
    if (known) return known;
    const p = d.physfn
      ? path.join(path.dirname(pathOf(byAddr.get(d.physfn)!)), d.address)
      : d.parent
        ? path.join(pathOf(byAddr.get(d.parent)!), d.address)
        : path.join(rootBusDir(d.addr), d.address);
    devPath.set(d.address, p);
    return p;
  };

  t.dir('/sys/bus/pci/devices');
  t.dir('/sys/bus/pci/drivers');
  t.file('/sys/bus/pci/drivers_probe', '', 0o200);
  t.file('/sys/bus/pci/rescan', '', 0o200);
  t.dir('/sys/kernel/iommu_groups');
  t.dir('/sys/class/iommu');
  t.dir('/sys/class/net');
  t.dir('/sys/class/block');
  t.dir('/sys/block');
  t.dir('/sys/module');
  t.dir('/dev');
  t.dir('/run');

  // root buses
  const roots = new Set(devices.filter((d) => !d.parent && !d.physfn).map((d) => rootBusDir(d.addr)));
  for (const r of roots) {
    const bus = path.basename(r).slice(3);
    t.dir(`${r}/pci_bus/${bus}`);
    t.file(`${r}/uevent`, '');
  }

  // IOMMU units
  const iommuUnit =
    profile.iommu.kind === 'intel'
      ? '/sys/devices/virtual/iommu/dmar0'
      : profile.iommu.kind === 'amd'
        ? (() => {
            const fn = devices.find((d) => d.classCode >> 8 === 0x0806 && !d.parent);
            return fn ? `${pathOf(fn)}/iommu/ivhd0` : '/sys/devices/virtual/iommu/ivhd0';
          })()
        : null;
  if (iommuOn && iommuUnit) {
    if (profile.iommu.kind === 'intel') {
      t.file(`${iommuUnit}/intel-iommu/cap`, 'd2008c40660462\n');
      t.file(`${iommuUnit}/intel-iommu/ecap`, `${ecapFor(ir)}\n`);
      t.file(`${iommuUnit}/intel-iommu/version`, '1:0\n');
      t.file(`${iommuUnit}/intel-iommu/address`, 'fed90000\n');
    } else {
      t.file(`${iommuUnit}/amd-iommu/cap`, '0x00190003\n');
      t.file(`${iommuUnit}/amd-iommu/features`, '0x246577efa2254afa\n');
    }
    t.dir(`${iommuUnit}/devices`);
    t.link(`/sys/class/iommu/${path.basename(iommuUnit)}`, iommuUnit);
  }
  if (profile.iommu.kind === 'intel') t.file('/sys/firmware/acpi/tables/DMAR', dmarTable(ir), 0o400);
  if (profile.iommu.kind === 'amd') t.file('/sys/firmware/acpi/tables/IVRS', ivrsTable(), 0o400);
  t.file('/sys/firmware/acpi/tables/APIC', acpiTable('APIC', Buffer.alloc(8)), 0o400);
  t.file('/sys/firmware/acpi/tables/FACP', acpiTable('FACP', Buffer.alloc(8)), 0o400);

  // drivers
  const drivers = new Set<string>();
  for (const d of devices) if (d.driver) drivers.add(d.driver);
  const loaded = new Set(
    profile.modules ?? [
      'kvm',
      profile.cpu?.vendor === 'amd' ? 'kvm_amd' : 'kvm_intel',
      ...[...drivers].map(moduleOf),
    ],
  );
  if (loaded.has('vfio_pci')) drivers.add('vfio-pci');
  if (loaded.has('pci_stub')) drivers.add('pci-stub');
  for (const drv of drivers) {
    const base = `/sys/bus/pci/drivers/${drv}`;
    for (const f of ['bind', 'unbind', 'new_id', 'remove_id']) t.file(`${base}/${f}`, '', 0o200);
    t.file(`${base}/uevent`, '', 0o200);
    const mod = moduleOf(drv);
    if (loaded.has(mod)) {
      t.link(`${base}/module`, `/sys/module/${mod}`);
      t.link(`/sys/module/${mod}/drivers/pci:${drv}`, base);
    }
  }
  for (const m of loaded) {
    t.dir(`/sys/module/${m}`);
    t.file(`/sys/module/${m}/refcnt`, '0\n');
    t.file(`/sys/module/${m}/initstate`, 'live\n');
  }
  if (loaded.has('vfio_iommu_type1')) {
    t.file(
      '/sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts',
      profile.allowUnsafeInterrupts ? 'Y\n' : 'N\n',
    );
  }

  // block device numbering
  let nvmeCtl = 0;
  let nvmeMinor = 0;
  let ataPort = 1;
  let scsiHost = 0;
  let sdIndex = 0;
  let vdIndex = 0;
  let virtioIndex = 0;
  const blockDev = new Map<string, string>(); // name -> maj:min
  const blockPath = new Map<string, string>(); // name -> sysfs path
  const netPath = new Map<string, string>(); // ifname -> sysfs path

  const groups = new Map<number, string[]>();
  for (const d of devices) {
    const p = pathOf(d);
    const busLink = `/sys/bus/pci/devices/${d.address}`;
    t.link(busLink, p);
    const conf = (profile.process?.uid ?? 0) === 0 ? configBytes(d) : configBytes(d).subarray(0, 64);
    t.file(`${p}/config`, conf, 0o644);
    const x4 = (n: number): string => `0x${hex(n, 4)}`;
    t.file(`${p}/vendor`, `${x4(d.vendor)}\n`);
    t.file(`${p}/device`, `${x4(d.device)}\n`);
    t.file(`${p}/subsystem_vendor`, `${x4(d.subVendor)}\n`);
    t.file(`${p}/subsystem_device`, `${x4(d.subDevice)}\n`);
    t.file(`${p}/class`, `0x${hex(d.classCode, 6)}\n`);
    t.file(`${p}/revision`, `0x${hex(d.rev, 2)}\n`);
    t.file(`${p}/irq`, '11\n');
    t.file(`${p}/numa_node`, `${d.numa}\n`);
    t.file(`${p}/enable`, '1\n');
    t.file(`${p}/local_cpulist`, '0-1\n');
    t.file(`${p}/remove`, '', 0o200);
    t.file(`${p}/rescan`, '', 0o200);
    // Linux ≥ 5.15 hides reset and reset_method when the function has no reset method
    if (d.resetMethod) {
      t.file(`${p}/reset`, '', 0o200);
      t.file(`${p}/reset_method`, `${d.resetMethod}\n`);
    }
    if (d.driverOverride !== false) t.file(`${p}/driver_override`, `${d.driverOverride ?? '(null)'}\n`);
    const up = (n: number, w: number): string => hex(n, w).toUpperCase();
    const modalias = `pci:v0000${up(d.vendor, 4)}d0000${up(d.device, 4)}sv0000${up(d.subVendor, 4)}sd0000${up(d.subDevice, 4)}bc${up(d.classCode >> 16, 2)}sc${up((d.classCode >> 8) & 0xff, 2)}i${up(d.classCode & 0xff, 2)}`;
    t.file(`${p}/modalias`, `${modalias}\n`);
    t.file(
      `${p}/uevent`,
      [
        ...(d.driver ? [`DRIVER=${d.driver}`] : []),
        `PCI_CLASS=${d.classCode.toString(16).toUpperCase()}`,
        `PCI_ID=${up(d.vendor, 4)}:${up(d.device, 4)}`,
        `PCI_SUBSYS_ID=${up(d.subVendor, 4)}:${up(d.subDevice, 4)}`,
        `PCI_SLOT_NAME=${d.address}`,
        `MODALIAS=${modalias}`,
      ].join('\n') + '\n',
    );
    t.file(`${p}/resource`, `${'0x0000000000000000 0x0000000000000000 0x0000000000000000\n'.repeat(13)}`);
    t.link(`${p}/subsystem`, '/sys/bus/pci');
    if (d.header === 1) t.dir(`${p}/pci_bus/${hex(d.addr.domain, 4)}:${hex(d.secondaryBus ?? 0, 2)}`);
    if (d.bootVga !== null) t.file(`${p}/boot_vga`, d.bootVga ? '1\n' : '0\n');
    if (d.driver) {
      t.link(`${p}/driver`, `/sys/bus/pci/drivers/${d.driver}`);
      t.link(`/sys/bus/pci/drivers/${d.driver}/${d.address}`, p);
    }
    if (d.group !== null) {
      const g = `/sys/kernel/iommu_groups/${d.group}`;
      t.link(`${p}/iommu_group`, g);
      t.link(`${g}/devices/${d.address}`, p);
      if (!groups.has(d.group)) groups.set(d.group, []);
      groups.get(d.group)!.push(d.address);
      if (iommuUnit && !iommuUnit.startsWith(`${p}/`)) {
        t.link(`${p}/iommu`, iommuUnit);
        t.link(`${iommuUnit}/devices/${d.address}`, p);
      }
    }
    if (d.sriov) {
      t.file(`${p}/sriov_totalvfs`, `${d.sriov.totalVfs}\n`);
      t.file(`${p}/sriov_numvfs`, `${d.sriov.numVfs}\n`);
      t.file(`${p}/sriov_offset`, '128\n');
      t.file(`${p}/sriov_stride`, '1\n');
      t.file(`${p}/sriov_drivers_autoprobe`, '1\n');
      d.vfs.forEach((vf, i) => t.link(`${p}/virtfn${i}`, pathOf(byAddr.get(vf)!)));
    }
    if (d.physfn) t.link(`${p}/physfn`, pathOf(byAddr.get(d.physfn)!));

    let ifindex = 2;
    for (const n of d.net) {
      const base = n.via === 'virtio' ? `${p}/virtio${virtioIndex++}/net/${n.name}` : `${p}/net/${n.name}`;
      t.file(`${base}/address`, `${n.mac}\n`);
      t.file(`${base}/operstate`, `${n.operstate}\n`);
      t.file(`${base}/carrier`, n.operstate === 'up' ? '1\n' : '0\n');
      t.file(`${base}/ifindex`, `${ifindex++}\n`);
      t.file(`${base}/type`, '1\n');
      t.link(`/sys/class/net/${n.name}`, base);
      netPath.set(n.name, base);
    }

    if (d.block) {
      for (const disk of d.block.disks) {
        let base: string;
        let major: number;
        let minor: number;
        if (d.block.kind === 'nvme') {
          base = `${p}/nvme/nvme${nvmeCtl}/${disk.name}`;
          major = 259;
          minor = nvmeMinor++;
        } else if (d.block.kind === 'sata') {
          const h = scsiHost++;
          base = `${p}/ata${ataPort++}/host${h}/target${h}:0:0/${h}:0:0:0/block/${disk.name}`;
          major = 8;
          minor = 16 * sdIndex++;
        } else {
          base = `${p}/virtio${virtioIndex++}/block/${disk.name}`;
          major = 254;
          minor = 16 * vdIndex++;
        }
        t.file(`${base}/dev`, `${major}:${minor}\n`);
        t.file(`${base}/size`, '1953525168\n');
        t.dir(`${base}/holders`);
        t.link(`/sys/class/block/${disk.name}`, base);
        t.link(`/sys/block/${disk.name}`, base);
        blockDev.set(disk.name, `${major}:${minor}`);
        blockPath.set(disk.name, base);
        (disk.partitions ?? []).forEach((part, i) => {
          const pm = d.block!.kind === 'nvme' ? nvmeMinor++ : minor + i + 1;
          t.file(`${base}/${part}/dev`, `${major}:${pm}\n`);
          t.file(`${base}/${part}/partition`, `${i + 1}\n`);
          t.dir(`${base}/${part}/holders`);
          t.link(`/sys/class/block/${part}`, `${base}/${part}`);
          blockDev.set(part, `${major}:${pm}`);
          blockPath.set(part, `${base}/${part}`);
        });
      }
      if (d.block.kind === 'nvme') nvmeCtl++;
    }
  }
  for (const [g] of groups) {
    t.file(`/sys/kernel/iommu_groups/${g}/type`, 'DMA\n');
    t.file(`/sys/kernel/iommu_groups/${g}/reserved_regions`, '0x00000000fee00000 0x00000000feefffff msi\n');
  }

  // virtual network devices (bridges, bonds, VLANs) with lower_* links to their ports
  for (const v of profile.net?.virtual ?? []) {
    const base = `/sys/devices/virtual/net/${v.name}`;
    t.file(`${base}/address`, `${v.mac}\n`);
    t.file(`${base}/operstate`, `${v.operstate ?? 'up'}\n`);
    t.link(`/sys/class/net/${v.name}`, base);
    for (const low of v.lower) {
      t.link(`${base}/lower_${low}`, netPath.get(low) ?? `/sys/devices/virtual/net/${low}`);
    }
  }
  const lo = '/sys/devices/virtual/net/lo';
  t.file(`${lo}/address`, '00:00:00:00:00:00\n');
  t.file(`${lo}/operstate`, 'unknown\n');
  t.link('/sys/class/net/lo', lo);

  // device-mapper holders: a mount on dm-N whose slaves are listed in the profile as `dm-N:slave,slave`
  for (const m of profile.mounts ?? []) {
    const dm = /^(dm-\d+)=(.+)$/.exec(m.device);
    if (!dm) continue;
    const name = dm[1]!;
    const base = `/sys/devices/virtual/block/${name}`;
    const num = Number(name.slice(3));
    t.file(`${base}/dev`, `253:${num}\n`);
    t.link(`/sys/class/block/${name}`, base);
    t.link(`/sys/block/${name}`, base);
    blockDev.set(name, `253:${num}`);
    for (const slave of dm[2]!.split(',')) {
      const sp = blockPath.get(slave);
      if (!sp) throw new Error(`profile ${profile.name}: ${name} has unknown slave ${slave}`);
      t.link(`${base}/slaves/${slave}`, sp);
      t.link(`${sp}/holders/${name}`, base);
    }
  }

  // /proc
  const routes = [...(profile.net?.routes ?? [])];
  for (const a of profile.net?.addresses ?? []) {
    if (isV6(a.cidr)) continue;
    const [ip, pfx] = a.cidr.split('/');
    const dest = `${networkV4(ip!, Number(pfx))}/${pfx}`;
    if (!routes.some((r) => r.iface === a.iface && r.dest === dest)) routes.push({ iface: a.iface, dest });
  }
  t.file('/proc/net/route', routeFile(routes));
  t.file(
    '/proc/net/ipv6_route',
    ipv6RouteFile(routes) +
      `${'0'.repeat(31)}1 80 ${'0'.repeat(32)} 00 ${'0'.repeat(32)} 00000000 00000002 00000000 80200001       lo\n`,
  );
  t.file('/proc/net/fib_trie', fibTrieFile(profile.net?.addresses ?? []));
  const v6 = (profile.net?.addresses ?? []).filter((a) => isV6(a.cidr));
  t.file(
    '/proc/net/if_inet6',
    [
      `${'0'.repeat(31)}1 01 80 10 80       lo`,
      ...v6.map((a, i) => {
        const [ip, pfx] = a.cidr.split('/');
        const scope = ip!.toLowerCase().startsWith('fe80') ? '20' : '00';
        return `${expandIpv6(ip!)} ${hex(i + 2, 2)} ${hex(Number(pfx), 2)} ${scope} 80 ${a.iface.padStart(8)}`;
      }),
    ].join('\n') + '\n',
  );
  const mountLines = [
    '21 26 0:20 / /proc rw,relatime - proc proc rw',
    '22 26 0:21 / /sys rw,relatime - sysfs sysfs rw',
    '23 26 0:6 / /dev rw,relatime - devtmpfs devtmpfs rw,mode=755',
  ];
  let mountId = 30;
  for (const m of profile.mounts ?? []) {
    const name = m.device.split('=')[0]!;
    const majmin = blockDev.get(name) ?? `0:${mountId}`;
    const source = blockDev.has(name)
      ? name.startsWith('dm-')
        ? `/dev/mapper/vg-${name}`
        : `/dev/${name}`
      : name;
    mountLines.push(
      `${mountId} ${m.mountpoint === '/' ? 1 : 26} ${majmin} / ${m.mountpoint} rw,relatime shared:${mountId} - ${m.fstype} ${source} rw`,
    );
    mountId++;
  }
  t.file('/proc/self/mountinfo', mountLines.join('\n') + '\n');
  t.file(
    '/proc/swaps',
    [
      'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority',
      ...(profile.swaps ?? []).map((s) => `/dev/${s}\tpartition\t8388604\t\t0\t\t-2`),
    ].join('\n') + '\n',
  );
  const memlock = profile.memlock ?? 8 * 1024 * 1024;
  const lim = (v: number | 'unlimited'): string => String(v).padEnd(21);
  t.file(
    '/proc/self/limits',
    [
      'Limit                     Soft Limit           Hard Limit           Units     ',
      `Max open files            ${lim(1048576)}${lim(1048576)}files     `,
      `Max locked memory         ${lim(memlock)}${lim(memlock)}bytes     `,
      `Max address space         ${lim('unlimited')}${lim('unlimited')}bytes     `,
    ].join('\n') + '\n',
  );
  const uid = profile.process?.uid ?? 0;
  const capEff = (profile.process?.capIpcLock ?? uid === 0) ? '000001ffffffffff' : '0000000000000000';
  t.file(
    '/proc/self/status',
    [
      'Name:\tinstall-guest',
      'State:\tR (running)',
      `Uid:\t${uid}\t${uid}\t${uid}\t${uid}`,
      `CapEff:\t${capEff}`,
    ].join('\n') + '\n',
  );
  t.file(
    '/proc/cmdline',
    `${profile.kernel?.cmdline ?? `BOOT_IMAGE=/boot/vmlinuz-${release} root=UUID=0b6d7d5e ro quiet`}\n`,
  );
  t.file('/proc/sys/kernel/osrelease', `${release}\n`);
  const cpus = profile.cpu?.count ?? 4;
  const vendor = profile.cpu?.vendor ?? 'intel';
  const flags = profile.cpu?.flags ?? [
    'fpu',
    'vme',
    'de',
    'pse',
    'tsc',
    'msr',
    'pae',
    'mce',
    'cx8',
    'apic',
    vendor === 'amd' ? 'svm' : 'vmx',
    'sse4_2',
    'avx2',
  ];
  t.file(
    '/proc/cpuinfo',
    Array.from({ length: cpus }, (_, i) =>
      [
        `processor\t: ${i}`,
        `vendor_id\t: ${vendor === 'amd' ? 'AuthenticAMD' : 'GenuineIntel'}`,
        `model name\t: ${vendor === 'amd' ? 'AMD EPYC 7302P 16-Core Processor' : 'Intel(R) Xeon(R) CPU E5-2630 v4 @ 2.20GHz'}`,
        `flags\t\t: ${flags.join(' ')}`,
        '',
      ].join('\n'),
    ).join('\n'),
  );
  const mem = profile.memory ?? { totalMiB: 32768, availableMiB: 24576 };
  t.file(
    '/proc/meminfo',
    [
      `MemTotal:       ${mem.totalMiB * 1024} kB`,
      `MemFree:        ${Math.floor(mem.availableMiB * 1024 * 0.8)} kB`,
      `MemAvailable:   ${mem.availableMiB * 1024} kB`,
      'HugePages_Total:       0',
      'Hugepagesize:       2048 kB',
    ].join('\n') + '\n',
  );
  const irChip = iommuOn && ir ? 'IR-' : '';
  t.file(
    '/proc/interrupts',
    [
      '           CPU0       CPU1       ',
      `  0:         20          0   ${irChip}IO-APIC    2-edge      timer`,
      `  8:          0          0   ${irChip}IO-APIC    8-edge      rtc0`,
      `120:          0          0   ${irChip}PCI-MSI 65536-edge      aerdrv`,
    ].join('\n') + '\n',
  );
  for (const u of profile.vfioUsers ?? []) {
    t.file(`/proc/${u.pid}/comm`, `${u.comm}\n`);
    t.dir(`/proc/${u.pid}/fd`);
    symlinkSync(`/dev/vfio/${u.group}`, t.abs(`/proc/${u.pid}/fd/17`));
  }

  // /dev
  if (profile.kvm ?? true) t.file('/dev/kvm', '', 0o660);
  if (loaded.has('vfio')) {
    t.file('/dev/vfio/vfio', '', 0o666);
    const vfioGroups = new Set(
      devices.filter((d) => d.driver === 'vfio-pci' && d.group !== null).map((d) => d.group!),
    );
    for (const g of vfioGroups) t.file(`/dev/vfio/${g}`, '', 0o600);
  }

  // /lib/modules
  const ko = (m: string): string => `kernel/drivers/vfio/${m}.ko.xz`;
  const avail = profile.availableModules ?? ['vfio', 'vfio_pci', 'vfio_iommu_type1', 'vfio_pci_core'];
  t.file(`/lib/modules/${release}/modules.dep`, avail.map((m) => `${ko(m)}:`).join('\n') + '\n');
  t.file(
    `/lib/modules/${release}/modules.builtin`,
    (profile.builtinModules ?? []).map((m) => `${ko(m).replace('.xz', '')}`).join('\n') + '\n',
  );
}

/** Builds `profile` into a private temp dir, runs `fn(root)` and removes the dir whatever happens. */
export async function withHostTree<T>(profile: HostProfile, fn: (root: string) => Promise<T>): Promise<T> {
  const root = makeTempRoot(profile.name);
  try {
    buildHostTreeSync(profile, root);
    return await fn(root);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

export function makeTempRoot(label: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `ig-host-${label.replace(/[^a-z0-9-]/gi, '')}-`));
}

// ---------------------------------------------------------------------------------------------
// Synthetic hosts for benchmarks: n functions in domains of up to 31 root ports, each with an
// 8-function card (NIC, USB, NVMe and GPU functions); half the cards have ACS (a group per function)

export function generateProfile(n: number): HostProfile {
  const devices: DeviceProfile[] = [];
  const routes: RouteProfile[] = [];
  const addresses: { iface: string; cidr: string }[] = [];
  let group = 0;
  let ifn = 0;
  let disk = 0;
  let domain = 0;
  while (devices.length < n) {
    const dom = hex(domain, 4);
    devices.push({ address: `${dom}:00:00.0`, id: '8086:2020', class: '060000', group: group++ });
    let bus = 1;
    for (let slot = 1; slot < 32 && devices.length < n; slot++) {
      const port = `${dom}:00:${hex(slot, 2)}.0`;
      devices.push({ address: port, id: '8086:2030', class: '060400', driver: 'pcieport', group: group });
      const portGroup = group++;
      // odd slots: a card without ACS (all its functions share the port's group); even slots: ACS
      // isolates every function in its own group
      const acs = slot % 2 === 0;
      for (let f = 0; f < 8 && devices.length < n; f++) {
        const address = `${dom}:${hex(bus, 2)}:00.${f}`;
        const g = acs ? group++ : portGroup;
        const kind = f % 4;
        if (kind === 0) {
          const name = `enp${bus}s0f${f}x${ifn++}`.slice(0, 15);
          devices.push({
            address,
            id: '8086:1521',
            subsys: '8086:0001',
            class: '020000',
            driver: 'igb',
            parent: port,
            group: g,
            multifunction: true,
            net: [
              {
                name,
                mac: `52:54:00:${hex((ifn >> 16) & 0xff, 2)}:${hex((ifn >> 8) & 0xff, 2)}:${hex(ifn & 0xff, 2)}`,
                operstate: ifn % 3 ? 'up' : 'down',
              },
            ],
          });
          if (ifn === 1) {
            routes.push({ iface: name, dest: '0.0.0.0/0', gateway: '192.168.0.1' });
            addresses.push({ iface: name, cidr: '192.168.0.10/24' });
          }
        } else if (kind === 1) {
          devices.push({
            address,
            id: '8086:a36d',
            class: '0c0330',
            driver: 'xhci_hcd',
            parent: port,
            group: g,
            multifunction: true,
          });
        } else if (kind === 2) {
          devices.push({
            address,
            id: '144d:a808',
            class: '010802',
            driver: 'nvme',
            parent: port,
            group: g,
            multifunction: true,
            block: { kind: 'nvme', disks: [{ name: `nvme${disk++}n1` }] },
          });
        } else {
          devices.push({
            address,
            id: '10de:1eb8',
            class: '030200',
            driver: null,
            parent: port,
            group: g,
            multifunction: true,
          });
        }
      }
      bus++;
    }
    domain++;
  }
  return {
    name: `generated-${n}`,
    description: `${n} synthetic PCI functions behind root ports, for benchmarks`,
    iommu: { kind: 'intel' },
    modules: [
      'kvm',
      'kvm_intel',
      'igb',
      'nvme',
      'pcieport',
      'xhci_hcd',
      'vfio',
      'vfio_pci',
      'vfio_iommu_type1',
    ],
    devices: devices.slice(0, n),
    net: { routes, addresses },
    mounts: [{ device: 'nvme0n1', mountpoint: '/', fstype: 'ext4' }],
  };
}
