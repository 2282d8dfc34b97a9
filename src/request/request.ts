/**
 * The install request: every `install` option parsed with virt-install's grammar into one typed,
 * validated value. Pure: no host access. Each mistake is an inputError naming the option and value.
 */
import path from 'node:path';
import { inputError, assertPrintable } from '../errors.js';
import { fallbackNotLocal, isNetworkLocation } from '../media/fallback.js';
import { checkIommu, parseCpu, parseIommu, parseMachine, type IommuRequest } from './machine.js';
import { assertPlainValue, parseMiB, parseOnOff, parsePositiveInt, parseSubOptions } from './suboptions.js';
import { kickstartIdiom, NIC_MODEL_DEVICES } from './virt-install.js';

export type Accel = 'kvm' | 'tcg' | 'auto';
export type DiskBus = 'virtio' | 'sata' | 'scsi' | 'ide';

export type DiskCache = 'none' | 'writeback' | 'writethrough' | 'directsync' | 'unsafe';

export interface DiskRequest {
  /** absolute path; a new disk is created there when `sizeGiB` is given and it does not exist */
  path: string;
  sizeGiB?: number;
  /** --disk pool=NAME (with --connect): the new volume goes to this libvirt pool, named after `path`'s file */
  pool?: string;
  format: 'qcow2' | 'raw';
  bus: DiskBus;
  /** virt-install's cache=, io=, discard=, serial=, readonly=, sparse=, boot.order= */
  cache?: DiskCache;
  io?: 'native' | 'threads' | 'io_uring';
  discard?: 'unmap' | 'ignore';
  serial?: string;
  readonly?: boolean;
  /** false: a new disk is fully allocated (sparse=no) */
  sparse?: boolean;
  bootOrder?: number;
}

/** a PCI address in the guest (libvirt's `<address type='pci'>`): controller index (bus), slot, function */
export interface GuestPciAddress {
  domain: number;
  bus: number;
  slot: number;
  function: number;
}

export interface HostdevRequest {
  /** as given: an address, libvirt name, vendor:device, interface name or `auto` */
  selector: string;
  romBar?: boolean;
  romFile?: string;
  multifunction?: boolean;
  /** address.type=pci,address.bus=,address.slot=,address.function=: where the guest sees it */
  guestAddress?: GuestPciAddress;
  /**
   * managed=no: install-guest binds the device itself (journal, lease, vfio-pci) and libvirt gets
   * `<hostdev managed='no'>`; default (managed=yes): with --connect libvirt detaches and gives back
   */
  managed?: boolean;
}

export type NetworkRequest =
  | { kind: 'user'; mac?: string; model: string }
  | { kind: 'bridge'; bridge: string; mac?: string; model: string }
  /** a libvirt virtual network (--network network=NAME): only with --connect */
  | { kind: 'network'; network: string; mac?: string; model: string }
  | { kind: 'none' };

export interface BootRequest {
  kernel?: string;
  initrd?: string;
  kernelArgs?: string;
  /** --boot uefi / firmware=efi / loader=PATH: boot through UEFI firmware (OVMF) */
  uefi?: { loader?: string; varsTemplate?: string };
}

export interface InstallRequest {
  name: string;
  memoryMiB: number;
  vcpus: { count: number; max?: number; sockets?: number; cores?: number; threads?: number };
  cpu?: string;
  machine: string;
  /** a guest vIOMMU (virt-install's --iommu) */
  iommu?: IommuRequest;
  accel: Accel;
  disks: DiskRequest[];
  location?: string;
  cdrom?: string;
  /** local media (directory or ISO) used instead of network media when no NIC can be assigned */
  fallbackLocation?: string;
  import: boolean;
  boot?: BootRequest;
  extraArgs?: string;
  initrdInject: string[];
  osVariant?: string;
  /** a kickstart/preseed file, or a built-in template name (fedora, debian) */
  kickstart?: string;
  /** how the answer file reaches the installer (absent: chosen from the boot) */
  kickstartDelivery?: 'initrd' | 'oemdrv' | 'http';
  /** template variables for a built-in template (`key=value`, dotted keys) */
  ksSet: string[];
  /** add the in-guest confirmation unit to the answer file (default true) */
  confirmUnit: boolean;
  /** the answer file came through --initrd-inject (the kickstart idiom): its name in the initrd root */
  kickstartInjectedAs?: string;
  hostdevs: HostdevRequest[];
  network: NetworkRequest;
  /** --tpm emulator: a TPM 2.0 (swtpm) for the guest */
  tpm?: { model: 'tpm-crb' | 'tpm-tis' };
  /** --rng /dev/urandom: a virtio-rng fed from this host file */
  rng?: { source: string };
  graphics: 'none';
  noReboot: boolean;
  /** overall limit for the install phase, minutes; undefined = the default */
  waitMinutes?: number;
  /** no new console output for this long ends the install (exit 4); undefined = the default */
  stallTimeoutSeconds?: number;
  /** no kernel output this long after the guest starts → EARLY_BOOT_HANG (default: 60 s under KVM, off under TCG) */
  earlyBootSeconds?: number;
  dryRun: boolean;
  printCmdline: boolean;
  json: boolean;
  logDir: string;
  onError: 'cleanup' | 'keep';
  qemuBinary: string;
  /** prepare-device: the stub driver the --hostdev devices are bound to */
  hostdevDriver: 'vfio-pci' | 'pci-stub';
  /** prepare-device: also bind the other endpoint members of each IOMMU group */
  groupBind: boolean;
  /** prepare-device: guards (default-route NIC, mounted disk, open vfio group) only warn */
  force: boolean;
  /** prepare-device: leave the devices detached after a successful install */
  keepDevice: boolean;
  /** journal and leases; default /var/lib/install-guest (under --host-root for a fixture tree) */
  stateDir?: string;
  /**
   * --publish-base: after a confirmed install, the disk moves into the base cache (read-only) under
   * the key of the install's inputs, for `provision --base KEY`; `cacheDir` from --base-cache
   */
  publishBase?: { cacheDir?: string };
}

export interface RawInstallArgs {
  name?: string;
  memory?: string | number;
  vcpus?: string | number;
  cpu?: string;
  machine?: string;
  iommu?: string;
  accel?: string;
  disk?: (string | number)[];
  location?: string;
  cdrom?: string;
  fallbackLocation?: string;
  import?: boolean;
  boot?: string;
  extraArgs?: string;
  initrdInject?: string[];
  osVariant?: string;
  kickstart?: string;
  kickstartDelivery?: string;
  ksSet?: string[];
  confirmUnit?: boolean;
  /** virt-install's --unattended [profile=,admin-password-file=,user-login=,user-password-file=] */
  unattended?: string | boolean;
  hostdev?: string[];
  network?: string;
  graphics?: string;
  /** virt-install's --autoconsole none|text (--noautoconsole ≡ none): accepted, the console is watched anyway */
  autoconsole?: string;
  noautoconsole?: boolean;
  /** virt-install's --console: only pty,target_type=serial (what install-guest gives) */
  console?: string;
  /** virt-install's --check: accepted, install-guest's own checks always run */
  check?: string[];
  /** virt-install's --virt-type kvm|qemu → --accel kvm|tcg */
  virtType?: string;
  tpm?: string;
  rng?: string;
  noreboot?: boolean;
  wait?: string | number;
  stallTimeout?: string | number;
  earlyBootTimeout?: string | number;
  dryRun?: boolean;
  printCmdline?: boolean;
  /** the libvirt domain XML of the installed guest (src/export/install-export.ts) */
  printXml?: boolean;
  /** a KubeVirt VirtualMachine and the permittedHostDevices it needs */
  printKubevirt?: boolean;
  json?: boolean;
  logDir?: string;
  onError?: string;
  qemuBinary?: string;
  driver?: string;
  group?: boolean;
  force?: boolean;
  keepDevice?: boolean;
  stateDir?: string;
  /** `--cloud-init SUBOPTS` ('' when bare): parsed by src/cloudinit/options.ts */
  cloudInit?: string;
  /** publish the confirmed disk as a cached base (src/base/) */
  publishBase?: boolean;
  /** the base cache --publish-base writes to (default $INSTALL_GUEST_CACHE or ~/.cache/install-guest) */
  baseCache?: string;
}

const NAME_RE = /^[^\s/][^/]*$/;
const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;
const IFNAME_RE = /^[A-Za-z0-9_.-]{1,15}$/;

function abs(cwd: string, p: string): string {
  return path.resolve(cwd, p);
}

export function safeFileName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.-]+/g, '_');
}

/** The keys virt-install's --disk takes that install-guest honours (virtinst ParserDisk; dotted names are its own). */
const DISK_KEYS = [
  'path',
  'size',
  'format',
  'driver.type',
  'bus',
  'target.bus',
  'cache',
  'driver.cache',
  'io',
  'driver.io',
  'discard',
  'driver.discard',
  'serial',
  'readonly',
  'sparse',
  'boot.order',
  'device',
  'pool',
  'vol',
  'source.pool',
  'source.volume',
];

function oneOf<T extends string>(option: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value))
    throw inputError('BAD_DISK', `${option}='${value}' is not supported`, {
      hint: `${option.replace(/^--disk /, '')}=${allowed.join('|')}`,
    });
  return value as T;
}

/** One --disk; `none` (virt-install: no disk) gives undefined. */
function parseDisk(text: string, name: string, cwd: string, index: number): DiskRequest | undefined {
  if (text === 'none') return undefined;
  const o = parseSubOptions('--disk', text, DISK_KEYS, 'path');
  const v = o.values;
  const get = (...keys: string[]): string | undefined => {
    const given = keys.filter((k) => v.has(k));
    if (given.length > 1)
      throw inputError('BAD_DISK', `--disk '${text}': ${given.join(' and ')} name the same setting`, {
        hint: `give ${given[0]} once`,
      });
    return given.length ? v.get(given[0]!) : undefined;
  };
  if (get('vol', 'source.volume') !== undefined)
    throw inputError(
      'NOT_IMPLEMENTED',
      `--disk '${text}': an existing volume (vol=) is not supported; install-guest creates the guest's disk`,
      { hint: 'a new volume in a pool: --disk pool=NAME,size=8 (with --connect); or the path of its file' },
    );
  // pool=NAME,size=N: a new volume in that libvirt pool (needs --connect: checked by validate-request)
  const pool = get('pool', 'source.pool');
  if (pool !== undefined) {
    if (!/^[A-Za-z0-9_.+-]{1,64}$/.test(pool))
      throw inputError('BAD_DISK', `--disk pool='${pool}' is not a pool name`, {
        hint: 'letters, digits, _ . + - (see virsh pool-list --all)',
      });
    if (v.has('path'))
      throw inputError('BAD_DISK', `--disk '${text}': pool= and path= both say where the disk goes`, {
        hint: 'give one: --disk pool=NAME,size=8 (a new volume) or --disk path=FILE',
      });
    if (!v.has('size'))
      throw inputError('BAD_DISK', `--disk '${text}': a new volume in pool '${pool}' needs its size`, {
        hint: `add size=, e.g. --disk pool=${pool},size=8`,
      });
  }
  const device = v.get('device') ?? 'disk';
  if (device !== 'disk')
    throw inputError('BAD_DISK', `--disk device='${device}' is not supported: --disk is a hard disk here`, {
      hint: device === 'cdrom' ? 'give the ISO with --cdrom (or --location)' : 'device=disk',
    });
  const size = v.get('size');
  const sizeGiB = size === undefined ? undefined : parseMiB('--disk size', size, 'g') / 1024;
  const p = v.get('path');
  if (p === undefined && sizeGiB === undefined) {
    throw inputError('BAD_DISK', `--disk '${text}' names neither a path nor a size`, {
      hint: '--disk size=8 creates a new disk; --disk path=/x.qcow2 uses one',
    });
  }
  if (p !== undefined && p.trim() === '')
    throw inputError('BAD_DISK', `--disk '${text}': the path is empty`, { hint: '--disk path=/x.qcow2' });
  const format = get('format', 'driver.type') ?? (p && /\.(img|raw|iso)$/i.test(p) ? 'raw' : 'qcow2');
  if (format !== 'qcow2' && format !== 'raw')
    throw inputError('BAD_DISK', `--disk format='${format}' is not supported`, {
      hint: 'format=qcow2 or format=raw',
    });
  const bus = oneOf('--disk bus', get('bus', 'target.bus') ?? 'virtio', ['virtio', 'sata', 'scsi', 'ide']);
  const cacheText = get('cache', 'driver.cache');
  const cache =
    cacheText === undefined
      ? undefined
      : oneOf('--disk cache', cacheText, ['none', 'writeback', 'writethrough', 'directsync', 'unsafe']);
  const ioText = get('io', 'driver.io');
  const io = ioText === undefined ? undefined : oneOf('--disk io', ioText, ['native', 'threads', 'io_uring']);
  if (io === 'native' && cache !== 'none' && cache !== 'directsync')
    throw inputError('BAD_DISK', `--disk '${text}': io=native needs cache=none or cache=directsync`, {
      hint: 'add cache=none (qemu refuses native AIO on the host page cache)',
    });
  const discardText = get('discard', 'driver.discard');
  const discard =
    discardText === undefined ? undefined : oneOf('--disk discard', discardText, ['unmap', 'ignore']);
  const serial = v.get('serial');
  if (serial !== undefined && !/^[A-Za-z0-9_.+-]{1,20}$/.test(serial))
    throw inputError('BAD_DISK', `--disk serial='${serial}' is not a disk serial`, {
      hint: 'up to 20 letters, digits, _ . + -',
    });
  const readonly = v.has('readonly') ? parseOnOff('--disk', 'readonly', v.get('readonly')!) : undefined;
  const sparse = v.has('sparse') ? parseOnOff('--disk', 'sparse', v.get('sparse')!) : undefined;
  const bootOrder = v.has('boot.order')
    ? parsePositiveInt('--disk boot.order', v.get('boot.order')!)
    : undefined;
  const file =
    p ?? `${safeFileName(name)}${index === 0 ? '' : `-${index}`}.${format === 'raw' ? 'img' : 'qcow2'}`;
  return {
    path: abs(cwd, file),
    ...(pool !== undefined ? { pool } : {}),
    ...(sizeGiB !== undefined ? { sizeGiB } : {}),
    format,
    bus,
    ...(cache ? { cache } : {}),
    ...(io ? { io } : {}),
    ...(discard ? { discard } : {}),
    ...(serial !== undefined ? { serial } : {}),
    ...(readonly !== undefined ? { readonly } : {}),
    ...(sparse !== undefined ? { sparse } : {}),
    ...(bootOrder !== undefined ? { bootOrder } : {}),
  };
}

const HOSTDEV_SELECTOR = [
  /^[0-9a-f]{4,}:[0-9a-f]{2}:[0-1][0-9a-f]\.[0-7]$/i, // 0000:03:00.0, 10000:00:01.0
  /^[0-9a-f]{2}:[0-1][0-9a-f]\.[0-7]$/i, // 03:00.0
  /^pci_[0-9a-f]{4,}_[0-9a-f]{2}_[0-1][0-9a-f]_[0-7]$/i, // libvirt's nodedev name
  /^[0-9a-f]{4}:[0-9a-f]{4}$/i, // vendor:device
  /^auto$/,
];

export function parseHostdev(text: string): HostdevRequest {
  const o = parseSubOptions(
    '--hostdev',
    text,
    [
      'rom.bar',
      'rom.file',
      'rombar',
      'romfile',
      'multifunction',
      'name',
      'driver.name',
      'address.type',
      'address.domain',
      'address.bus',
      'address.slot',
      'address.function',
      'address.multifunction',
      'managed',
    ],
    'name',
  );
  const selector = o.values.get('name');
  // virt-install reads 0x1234:0x5678 as a USB vendor:product (virtinst cli.py _AddressStringToHostdev)
  if (selector && /^0x[0-9a-f]{1,4}:0x[0-9a-f]{1,4}$/i.test(selector))
    throw inputError(
      'BAD_HOSTDEV',
      `--hostdev '${selector}' is a USB vendor:product in virt-install; install-guest assigns PCI functions only`,
      {
        hint: `for the PCI function with that vendor:device write --hostdev ${selector.replace(/0x/gi, '')} (see install-guest hostdev list), or its address`,
      },
    );
  if (selector === undefined)
    throw inputError('BAD_HOSTDEV', `--hostdev '${text}' names no device`, {
      hint: '--hostdev 0000:03:00.0 (or 03:00.0, pci_0000_03_00_0, 8086:10d3, enp3s0, auto)',
    });
  if (
    !HOSTDEV_SELECTOR.some((re) => re.test(selector)) &&
    !(IFNAME_RE.test(selector) && !/^[0-9a-f:.]+$/i.test(selector))
  ) {
    throw inputError(
      'BAD_HOSTDEV',
      `--hostdev '${selector}' is not a PCI address, vendor:device, interface name or 'auto'`,
      {
        hint: 'e.g. --hostdev 0000:03:00.0, 03:00.0, pci_0000_03_00_0, 8086:10d3, enp3s0 or auto; see install-guest hostdev list',
      },
    );
  }
  const v = o.values;
  const romBar = v.get('rom.bar') ?? v.get('rombar');
  const romFile = v.get('rom.file') ?? v.get('romfile');
  const mf = v.get('multifunction') ?? v.get('address.multifunction');
  const driver = v.get('driver.name');
  if (driver !== undefined && driver !== 'vfio')
    throw inputError(
      'BAD_HOSTDEV',
      `--hostdev driver.name='${driver}' is not supported: devices are assigned with vfio`,
      {
        hint: 'driver.name=vfio (or leave it out)',
      },
    );
  const guestAddress = parseGuestAddress(text, v);
  return {
    selector,
    ...(guestAddress ? { guestAddress } : {}),
    ...(romBar !== undefined ? { romBar: parseOnOff('--hostdev', 'rom.bar', romBar) } : {}),
    ...(romFile !== undefined ? { romFile } : {}),
    ...(mf !== undefined ? { multifunction: parseOnOff('--hostdev', 'multifunction', mf) } : {}),
    ...(v.has('managed') ? { managed: parseOnOff('--hostdev', 'managed', v.get('managed')!) } : {}),
  };
}

/** `address.type=pci,address.domain=0,address.bus=0,address.slot=5,address.function=0` (numbers in hex or decimal, as libvirt) */
function parseGuestAddress(text: string, v: Map<string, string>): GuestPciAddress | undefined {
  const keys = ['address.domain', 'address.bus', 'address.slot', 'address.function'];
  const type = v.get('address.type');
  if (type === undefined && !keys.some((k) => v.has(k))) return undefined;
  if (type !== undefined && type !== 'pci')
    throw inputError('BAD_HOSTDEV', `--hostdev address.type='${type}' is not supported`, {
      hint: 'address.type=pci',
    });
  const num = (key: string, max: number, dflt: number): number => {
    const raw = v.get(key);
    if (raw === undefined) return dflt;
    const n = /^0x[0-9a-f]+$/i.test(raw) ? parseInt(raw, 16) : /^\d+$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isInteger(n) || n < 0 || n > max)
      throw inputError('BAD_HOSTDEV', `--hostdev ${key}='${raw}' is not a number from 0 to ${max}`, {
        hint: `e.g. ${key}=0x${max > 7 ? '05' : '0'}`,
      });
    return n;
  };
  const a = {
    domain: num('address.domain', 0, 0),
    bus: num('address.bus', 255, 0),
    slot: num('address.slot', 31, 0),
    function: num('address.function', 7, 0),
  };
  if (!v.has('address.slot') && a.bus === 0)
    throw inputError('BAD_HOSTDEV', `--hostdev '${text}': a guest address on bus 0 needs address.slot=`, {
      hint: 'e.g. address.type=pci,address.bus=0x00,address.slot=0x05,address.function=0x0',
    });
  if (a.bus === 0 && a.slot === 0)
    throw inputError('BAD_HOSTDEV', `--hostdev '${text}': slot 0 of bus 0 is the host bridge`, {
      hint: 'pick a free slot, e.g. address.slot=0x05',
    });
  if (a.bus !== 0 && a.slot !== 0)
    throw inputError(
      'BAD_HOSTDEV',
      `--hostdev '${text}': on bus ${a.bus} (a PCIe root port) the only slot is 0`,
      { hint: 'address.bus=N,address.slot=0, or address.bus=0 with a slot on the root bus' },
    );
  return a;
}

/** `libvirt`: the guest runs through a libvirt connection (--connect), where virtual networks exist. */
export function parseNetwork(text: string, opts: { libvirt?: boolean } = {}): NetworkRequest {
  // virt-install's old spelling: bridge:br0, network:default
  const t = text.replace(/^(bridge|network):([^,=]+)/, '$1=$2');
  const o = parseSubOptions(
    '--network',
    t,
    ['bridge', 'network', 'user', 'none', 'mac', 'mac.address', 'model', 'model.type', 'type', 'source'],
    'type',
  );
  const v = o.values;
  const libvirtNetwork =
    v.has('network') || (v.get('type') ?? '') === 'network' || /^default$/.test(v.get('type') ?? '');
  if (libvirtNetwork && !opts.libvirt)
    throw inputError(
      'NEEDS_LIBVIRT',
      `--network '${text}': a libvirt virtual network exists only in libvirt; install-guest without --connect runs qemu itself`,
      {
        hint: 'install through libvirt (--connect qemu:///system) to use its networks, or use --network user (NAT, no setup) or --network bridge=NAME',
      },
    );
  const kind = libvirtNetwork ? 'network' : v.has('bridge') ? 'bridge' : (v.get('type') ?? 'user');
  if (kind === 'direct')
    throw inputError('BAD_NETWORK', `--network '${text}': macvtap (type=direct) is libvirt-only`, {
      hint: 'use --network bridge=NAME, or assign the NIC itself with --hostdev',
    });
  const mac = v.get('mac') ?? v.get('mac.address');
  if (mac !== undefined) {
    if (!MAC_RE.test(mac))
      throw inputError('BAD_NETWORK', `--network mac='${mac}' is not a MAC address`, {
        hint: 'mac=52:54:00:12:34:56',
      });
    if (parseInt(mac.slice(0, 2), 16) & 1)
      throw inputError('BAD_NETWORK', `--network mac='${mac}' is a multicast address (or broadcast)`, {
        hint: 'a NIC needs a unicast MAC: the first byte even, e.g. 52:54:00:12:34:56',
      });
    if (/^(00:){5}00$/.test(mac))
      throw inputError('BAD_NETWORK', `--network mac='${mac}' is all zeros`, {
        hint: 'e.g. mac=52:54:00:12:34:56',
      });
  }
  const modelName = v.get('model') ?? v.get('model.type') ?? 'virtio';
  const model = NIC_MODEL_DEVICES[modelName];
  if (!model)
    throw inputError('BAD_NETWORK', `--network model='${modelName}' is not a NIC model install-guest knows`, {
      hint: `model=${Object.keys(NIC_MODEL_DEVICES).join('|')}`,
    });
  if (kind === 'none') return { kind: 'none' };
  if (kind === 'user') return { kind: 'user', model, ...(mac ? { mac: mac.toLowerCase() } : {}) };
  if (kind === 'bridge') {
    const bridge = v.get('bridge') ?? v.get('source') ?? '';
    if (!IFNAME_RE.test(bridge))
      throw inputError('BAD_NETWORK', `--network bridge='${bridge}' is not an interface name`, {
        hint: '--network bridge=br0',
      });
    return { kind: 'bridge', bridge, model, ...(mac ? { mac: mac.toLowerCase() } : {}) };
  }
  if (kind === 'network') {
    // network=NAME, network:NAME (rewritten above), type=network,source=NAME; `default` alone
    const network = v.get('network') ?? v.get('source') ?? (v.get('type') === 'default' ? 'default' : '');
    if (!/^[A-Za-z0-9_.+-]{1,64}$/.test(network))
      throw inputError('BAD_NETWORK', `--network network='${network}' is not a libvirt network name`, {
        hint: '--network network=default (see virsh net-list --all)',
      });
    return { kind: 'network', network, model, ...(mac ? { mac: mac.toLowerCase() } : {}) };
  }
  throw inputError('BAD_NETWORK', `--network '${text}': unknown kind '${kind}'`, {
    hint: 'use --network user, --network bridge=NAME or --network none',
  });
}

/** --memory N[,maxmemory=M][,currentMemory=C] (MiB); install-guest also takes a unit (2G). */
const MAX_MEMORY_MIB = 16 * 1024 * 1024; // 16 TiB: qemu's and the x86-64 guest's practical ceiling

function memoryMiB(option: string, text: string): number {
  if (/^\d+(\.\d+)?$/.test(text.trim()) && !/^\d+$/.test(text.trim()))
    throw inputError('BAD_MEMORY', `${option} '${text}' is not a whole number of MiB`, {
      hint: `${option} 2048 (MiB) or with a unit: 2G`,
    });
  if (/^\d{17,}$/.test(text.trim()))
    throw inputError('BAD_MEMORY', `${option} '${text}' is beyond ${MAX_MEMORY_MIB} MiB (16 TiB)`, {
      hint: `${option} 2048 (MiB)`,
    });
  const mib = parseMiB(option, text);
  if (mib > MAX_MEMORY_MIB || !Number.isSafeInteger(mib))
    throw inputError('BAD_MEMORY', `${option} '${text}' is beyond ${MAX_MEMORY_MIB} MiB (16 TiB)`, {
      hint: `${option} 2048 (MiB)`,
    });
  if (mib < 16)
    throw inputError('BAD_MEMORY', `${option} '${text}' is less than 16 MiB`, {
      hint: `${option} 2048 (MiB)`,
    });
  return mib;
}

/**
 * virt-install's --memory: `N` alone, or with maxmemory=/currentMemory= in its back-compatible
 * meaning (virtinst ParserMemory): `N,maxmemory=M` is a guest of M MiB ballooned down to N. A
 * guest whose current and maximum memory differ needs a balloon, and install-guest gives none
 * (an assigned device pins all guest memory), so only equal values are taken. `maxMemory=`
 * (memory hotplug) is refused.
 */
function parseMemory(text: string): number {
  const o = parseSubOptions(
    '--memory',
    text,
    [
      'memory',
      'maxmemory',
      'currentMemory',
      'maxMemory',
      'maxMemory.slots',
      'hotplugmemorymax',
      'hotplugmemoryslots',
    ],
    'memory',
  );
  const v = o.values;
  for (const k of ['maxMemory', 'maxMemory.slots', 'hotplugmemorymax', 'hotplugmemoryslots'])
    if (v.has(k))
      throw inputError('NOT_IMPLEMENTED', `--memory ${k}= (memory hotplug) is not implemented`, {
        hint: 'give the whole memory: --memory 4096',
      });
  // virtinst: with currentMemory, memory/maxmemory are <memory>; else memory is <currentMemory> and maxmemory <memory>
  const cur = v.get('currentMemory') ?? (v.has('maxmemory') ? v.get('memory') : undefined);
  const max = v.has('currentMemory')
    ? (v.get('maxmemory') ?? v.get('memory'))
    : (v.get('maxmemory') ?? v.get('memory'));
  const given = max ?? cur;
  if (given === undefined)
    throw inputError('BAD_MEMORY', `--memory '${text}' gives no memory size`, { hint: '--memory 2048' });
  const memory = memoryMiB('--memory', given);
  if (cur !== undefined && max !== undefined) {
    const current = memoryMiB('--memory', cur);
    if (current > memory)
      throw inputError(
        'BAD_MEMORY',
        `--memory '${text}': the current memory ${current} MiB is above the maximum ${memory} MiB`,
        {
          hint: 'maxmemory= is the larger value',
        },
      );
    if (current !== memory)
      throw inputError(
        'NOT_IMPLEMENTED',
        `--memory '${text}': ${current} MiB now of ${memory} MiB needs a memory balloon, and install-guest gives none (an assigned device pins all guest memory)`,
        { hint: `give one size: --memory ${memory}` },
      );
  }
  return memory;
}

/** qemu's q35 takes up to 288 vCPUs (more needs an IOMMU with x2APIC interrupt remapping) */
export const MAX_VCPUS = 288;

function parseVcpus(text: string): InstallRequest['vcpus'] {
  const o = parseSubOptions(
    '--vcpus',
    text,
    ['vcpus', 'vcpu', 'vcpu.current', 'sockets', 'cores', 'threads', 'maxvcpus'],
    'vcpu',
  );
  const n = (k: string): number | undefined => {
    if (!o.values.has(k)) return undefined;
    const x = parsePositiveInt(`--vcpus ${k}`, o.values.get(k)!);
    if (x > MAX_VCPUS)
      throw inputError(
        'BAD_VCPUS',
        `--vcpus ${k === 'vcpu' ? '' : `${k}=`}${x} is more than the ${MAX_VCPUS} vCPUs a q35 guest takes`,
        {
          hint: `at most ${MAX_VCPUS}`,
        },
      );
    return x;
  };
  if (o.values.has('vcpus') && o.values.has('vcpu'))
    throw inputError('BAD_VCPUS', `--vcpus '${text}': the count is given twice`, { hint: '--vcpus 2' });
  const sockets = n('sockets');
  const cores = n('cores');
  const threads = n('threads');
  const topo = (sockets ?? 1) * (cores ?? 1) * (threads ?? 1);
  // virtinst: `N,maxvcpus=M` is N of M vCPUs online (M is <vcpu>, N its current=)
  const given = n('vcpu') ?? n('vcpus');
  const maxv = n('maxvcpus');
  const current = n('vcpu.current') ?? (maxv !== undefined ? given : undefined);
  const max = maxv ?? (n('vcpu.current') !== undefined ? given : undefined) ?? given ?? topo;
  const count = current ?? max;
  if (count > max)
    throw inputError('BAD_VCPUS', `--vcpus '${text}': ${count} vCPUs online is more than maxvcpus=${max}`, {
      hint: 'maxvcpus is the larger value',
    });
  if ((sockets ?? cores ?? threads) !== undefined && topo !== max) {
    throw inputError(
      'BAD_VCPUS',
      `--vcpus '${text}': ${max} vCPUs do not match sockets×cores×threads = ${topo}`,
      { hint: 'make the topology multiply to the (maximum) vCPU count' },
    );
  }
  if (topo > MAX_VCPUS)
    throw inputError(
      'BAD_VCPUS',
      `--vcpus '${text}': ${topo} vCPUs are more than the ${MAX_VCPUS} a q35 guest takes`,
      {
        hint: `at most ${MAX_VCPUS}`,
      },
    );
  return {
    count,
    ...(max !== count ? { max } : {}),
    ...(sockets ? { sockets } : {}),
    ...(cores ? { cores } : {}),
    ...(threads ? { threads } : {}),
  };
}

/** OVMF from Debian's `ovmf` package: the code (read-only) and the vars template copied per guest */
export const OVMF_CODE = '/usr/share/OVMF/OVMF_CODE_4M.fd';
export const OVMF_VARS = '/usr/share/OVMF/OVMF_VARS_4M.fd';

function parseBoot(text: string, cwd: string): BootRequest {
  const o = parseSubOptions(
    '--boot',
    text,
    [
      'kernel',
      'initrd',
      'kernel_args',
      'cmdline',
      'firmware',
      'loader',
      'loader.readonly',
      'loader.type',
      'loader.secure',
      'nvram.template',
      'nvram',
      'uefi',
      'hd',
      'cdrom',
      'network',
      'menu',
    ],
    undefined,
    // virt-install's bare items: uefi, and a boot device order (hd,cdrom,network)
    ['uefi', 'hd', 'cdrom', 'network', 'fd'],
  );
  const v = o.values;
  const order = o.bare.filter((b) => b !== 'uefi');
  if (order.includes('network'))
    throw inputError('BAD_BOOT', `--boot '${text}': network boot (PXE) is not supported`, {
      hint: 'install from --location instead',
    });
  if (order.includes('fd'))
    throw inputError('BAD_BOOT', `--boot '${text}': there is no floppy drive`, { hint: '--boot hd,cdrom' });
  const kernel = v.get('kernel');
  const initrd = v.get('initrd');
  const kernelArgs = v.get('kernel_args') ?? v.get('cmdline');
  if (initrd && !kernel)
    throw inputError('BAD_BOOT', `--boot '${text}' gives an initrd without a kernel`, {
      hint: '--boot kernel=PATH,initrd=PATH',
    });
  if (v.has('nvram'))
    throw inputError(
      'NOT_IMPLEMENTED',
      `--boot nvram= is not implemented: each guest gets its own copy of the vars template`,
      {
        hint: 'drop nvram= (or give nvram.template=)',
      },
    );
  if (v.has('loader.secure') && parseOnOff('--boot', 'loader.secure', v.get('loader.secure')!))
    throw inputError('NOT_IMPLEMENTED', '--boot loader.secure=yes (Secure Boot) is not implemented', {
      hint: '--boot uefi',
    });
  const fw = v.get('firmware');
  if (fw !== undefined && fw !== 'efi' && fw !== 'bios')
    throw inputError('BAD_BOOT', `--boot firmware='${fw}' is not efi or bios`, {
      hint: '--boot firmware=efi',
    });
  const loaderType = v.get('loader.type');
  if (loaderType !== undefined && loaderType !== 'pflash')
    throw inputError('BAD_BOOT', `--boot loader.type='${loaderType}' is not supported`, {
      hint: 'loader.type=pflash',
    });
  const uefiWanted =
    o.bare.includes('uefi') ||
    (v.has('uefi') && parseOnOff('--boot', 'uefi', v.get('uefi')!)) ||
    fw === 'efi' ||
    v.has('loader') ||
    v.has('nvram.template');
  if (fw === 'bios' && uefiWanted)
    throw inputError('BAD_BOOT', `--boot '${text}' asks for both bios and UEFI`, { hint: 'choose one' });
  const loader = v.get('loader');
  const varsTemplate = v.get('nvram.template');
  return {
    ...(kernel ? { kernel: abs(cwd, kernel) } : {}),
    ...(initrd ? { initrd: abs(cwd, initrd) } : {}),
    ...(kernelArgs ? { kernelArgs } : {}),
    ...(uefiWanted
      ? {
          uefi: {
            ...(loader ? { loader: abs(cwd, loader) } : {}),
            ...(varsTemplate ? { varsTemplate: abs(cwd, varsTemplate) } : {}),
          },
        }
      : {}),
  };
}

/** --tpm default|emulator[,model=tpm-crb|tpm-tis][,backend.type=emulator][,backend.version=2.0] */
function parseTpm(text: string): InstallRequest['tpm'] {
  if (text === 'none') return undefined;
  const o = parseSubOptions(
    '--tpm',
    text,
    ['type', 'model', 'backend.type', 'backend.version', 'path'],
    'type',
  );
  const v = o.values;
  const type = v.get('backend.type') ?? v.get('type') ?? 'emulator';
  if (type !== 'emulator' && type !== 'default')
    throw inputError('BAD_TPM', `--tpm '${text}': only an emulated TPM (swtpm) is supported, not ${type}`, {
      hint: "--tpm emulator (a passthrough TPM is the host's own)",
    });
  if (v.has('path'))
    throw inputError('BAD_TPM', `--tpm path= is a passthrough TPM: not supported`, {
      hint: '--tpm emulator',
    });
  const version = v.get('backend.version') ?? '2.0';
  if (version !== '2.0')
    throw inputError('BAD_TPM', `--tpm backend.version='${version}' is not supported`, {
      hint: 'backend.version=2.0',
    });
  const model = v.get('model') ?? 'tpm-crb';
  if (model !== 'tpm-crb' && model !== 'tpm-tis')
    throw inputError('BAD_TPM', `--tpm model='${model}' is not tpm-crb or tpm-tis`, {
      hint: 'model=tpm-crb',
    });
  return { model };
}

/** --rng /dev/urandom (or /dev/random, backend.type=random) */
function parseRng(text: string): InstallRequest['rng'] {
  if (text === 'none') return undefined;
  const o = parseSubOptions(
    '--rng',
    text,
    ['type', 'backend', 'backend.type', 'backend.model', 'device', 'model'],
    'device',
  );
  const v = o.values;
  let device = v.get('device') ?? v.get('backend') ?? '/dev/urandom';
  if (device === 'random') device = '/dev/urandom';
  const bt = v.get('backend.model') ?? v.get('backend.type') ?? v.get('type') ?? 'random';
  if (bt !== 'random')
    throw inputError(
      'BAD_RNG',
      `--rng '${text}': only a host random-device backend is supported, not ${bt}`,
      {
        hint: '--rng /dev/urandom',
      },
    );
  if (device !== '/dev/urandom' && device !== '/dev/random')
    throw inputError('BAD_RNG', `--rng '${text}': the source must be /dev/urandom or /dev/random`, {
      hint: '--rng /dev/urandom',
    });
  const model = v.get('model') ?? 'virtio';
  if (model !== 'virtio')
    throw inputError('BAD_RNG', `--rng model='${model}' is not supported`, { hint: 'model=virtio' });
  return { source: device };
}

/** --wait -1 (virt-install: wait without limit): the longest timer Node keeps, ~24 days; the stall timeout still applies */
export const NO_WAIT_LIMIT_MIN = 35_000;

function splitFirst(text: string): string {
  return text.split(',')[0]!;
}

/** --autoconsole / --noautoconsole / --console: accepted where they mean what install-guest does anyway */
function checkConsoleOptions(raw: RawInstallArgs): void {
  const ac = raw.autoconsole;
  if (ac !== undefined && ac !== 'none' && ac !== 'text' && ac !== 'default')
    throw inputError(
      'NOT_IMPLEMENTED',
      `--autoconsole ${ac} is not implemented: the guest runs headless; install-guest watches its serial console`,
      { hint: '--autoconsole none or text (or leave it out)' },
    );
  if (raw.console !== undefined) {
    const o = parseSubOptions('--console', raw.console, ['type', 'target_type', 'target.type'], 'type');
    const type = o.values.get('type') ?? 'pty';
    const target = o.values.get('target_type') ?? o.values.get('target.type') ?? 'serial';
    if (type !== 'pty' || target !== 'serial')
      throw inputError(
        'NOT_IMPLEMENTED',
        `--console '${raw.console}' is not implemented: the console is a serial port install-guest reads (a pty in --print-xml)`,
        { hint: '--console pty,target_type=serial (or leave it out)' },
      );
  }
}

/** --os-variant / --osinfo: NAME, or name=NAME,detect=on,require=off (detect and require: accepted, media detection always runs) */
function osVariantOf(text: string | undefined): { osVariant?: string } {
  if (text === undefined) return {};
  const o = parseSubOptions('--os-variant', text, ['name', 'short-id', 'id', 'detect', 'require'], 'name');
  const v = o.values;
  if (v.has('detect')) parseOnOff('--os-variant', 'detect', v.get('detect')!);
  if (v.has('require')) parseOnOff('--os-variant', 'require', v.get('require')!);
  if (v.has('id'))
    throw inputError('NOT_IMPLEMENTED', '--os-variant id= (a libosinfo URL) is not implemented', {
      hint: 'give the short name: --os-variant fedora40',
    });
  const name = v.get('name') ?? v.get('short-id');
  if (name === undefined || name === 'detect' || name === 'generic' || name === 'auto') return {};
  if (!/^[a-z][a-z0-9._-]*$/i.test(name))
    throw inputError('BAD_VALUE', `--os-variant '${name}' is not an OS short name`, {
      hint: 'e.g. --os-variant fedora40, debian12 (osinfo-query os)',
    });
  return { osVariant: name };
}

/** --location URL_OR_PATH[,kernel=,initrd=]: kernel= and initrd= are paths inside a local tree */
function parseLocation(text: string, cwd: string): { location: string; kernel?: string; initrd?: string } {
  if (!/,(kernel|initrd)=/.test(text)) {
    return { location: /^[a-z]+:\/\//i.test(text) ? text : abs(cwd, text) };
  }
  const o = parseSubOptions('--location', text, ['location', 'kernel', 'initrd'], 'location');
  const v = o.values;
  const location = v.get('location');
  if (!location)
    throw inputError('BAD_LOCATION', `--location '${text}' names no tree`, {
      hint: '--location DIR,kernel=…',
    });
  if (/^[a-z]+:\/\//i.test(location))
    throw inputError(
      'NOT_IMPLEMENTED',
      `--location '${text}': kernel=/initrd= inside a network tree are not implemented (the tree's .treeinfo names them)`,
      {
        hint: 'drop kernel=/initrd= (found from the tree), or download them and give --boot kernel=,initrd=',
      },
    );
  const root = abs(cwd, location);
  const inside = (key: string): string | undefined => {
    const rel = v.get(key);
    if (rel === undefined) return undefined;
    const full = path.resolve(root, rel.replace(/^\/+/, ''));
    if (full !== root && !full.startsWith(`${root}/`))
      throw inputError('BAD_LOCATION', `--location ${key}='${rel}' is outside the tree ${root}`, {
        hint: `a path inside ${root}`,
      });
    return full;
  };
  const kernel = inside('kernel');
  const initrd = inside('initrd');
  if (initrd && !kernel)
    throw inputError('BAD_LOCATION', `--location '${text}' gives initrd= without kernel=`, {
      hint: 'give both',
    });
  return { location: root, ...(kernel ? { kernel } : {}), ...(initrd ? { initrd } : {}) };
}

/**
 * --unattended [profile=jeos,admin-password-file=,user-login=,user-password-file=]: the built-in
 * template for the media (Fedora/RHEL kickstart, Debian preseed), secrets from files only. Returns
 * the template variables it sets (as --ks-set items).
 */
function parseUnattended(value: string | boolean | undefined, cwd: string): string[] | undefined {
  if (value === undefined || value === false) return undefined;
  const text = value === true ? '' : String(value);
  if (text === '') return [];
  const o = parseSubOptions(
    '--unattended',
    text,
    ['profile', 'admin-password-file', 'user-login', 'user-password-file', 'product-key', 'reg-login'],
    undefined,
  );
  const v = o.values;
  for (const k of ['product-key', 'reg-login'])
    if (v.has(k))
      throw inputError(
        'NOT_IMPLEMENTED',
        `--unattended ${k}= is not implemented (Windows / RHEL registration)`,
        {
          hint: `drop ${k}=`,
        },
      );
  const profile = v.get('profile') ?? 'jeos';
  if (profile !== 'jeos')
    throw inputError(
      'NOT_IMPLEMENTED',
      `--unattended profile=${profile} is not implemented: the built-in templates install a minimal (jeos) system`,
      { hint: 'profile=jeos, or your own kickstart with --kickstart FILE' },
    );
  const out: string[] = [];
  const admin = v.get('admin-password-file');
  if (admin !== undefined) out.push(`rootPasswordFile=${abs(cwd, admin)}`);
  const login = v.get('user-login');
  const userPw = v.get('user-password-file');
  if (userPw !== undefined && login === undefined)
    throw inputError(
      'BAD_VALUE',
      '--unattended user-password-file= needs user-login= (whose password it is)',
      {
        hint: '--unattended user-login=alice,user-password-file=alice.pw',
      },
    );
  if (login !== undefined) {
    if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(login) || login === 'root')
      throw inputError('BAD_VALUE', `--unattended user-login='${login}' is not a user name`, {
        hint: 'lower case, up to 32 characters, not root',
      });
    out.push(`user.name=${login}`);
    if (userPw !== undefined) out.push(`user.passwordFile=${abs(cwd, userPw)}`);
  }
  return out;
}

/** --fallback-location: a local directory or ISO (network media cannot stand in for a missing NIC). */
function parseFallbackLocation(value: string, cwd: string): string {
  if (isNetworkLocation(value)) throw fallbackNotLocal('--fallback-location', value);
  return abs(cwd, value);
}

/** `libvirt`: the install runs through a libvirt connection (--connect): its networks may be named. */
export function parseInstallRequest(
  raw: RawInstallArgs,
  cwd: string,
  opts: { libvirt?: boolean } = {},
): InstallRequest {
  const name = raw.name ?? 'install-guest';
  assertPlainValue('--name', name);
  assertPrintable('--name', name);
  if (!NAME_RE.test(name) || name.length > 64) {
    throw inputError('BAD_NAME', `--name '${name}' is not a usable guest name`, {
      hint: 'up to 64 characters, no slash, not starting with a space',
    });
  }
  for (const [opt, val] of [
    ['--location', raw.location],
    ['--cdrom', raw.cdrom],
    ['--fallback-location', raw.fallbackLocation],
    ['--extra-args', raw.extraArgs],
    ['--os-variant', raw.osVariant],
    ['--kickstart', raw.kickstart],
    ['--cpu', raw.cpu],
    ['--machine', raw.machine],
    ['--qemu-binary', raw.qemuBinary],
  ] as const) {
    if (val !== undefined) assertPlainValue(opt, String(val));
  }
  if (
    raw.extraArgs !== undefined &&
    [...raw.extraArgs].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f)
  )
    throw inputError('BAD_VALUE', '--extra-args contains a control character (newline, tab, escape…)', {
      hint: 'kernel arguments are one line of printable text, separated by spaces',
    });
  const memoryMiB = parseMemory(String(raw.memory ?? '1024'));
  const vcpus = parseVcpus(String(raw.vcpus ?? '1'));
  let accelText = raw.accel ?? 'auto';
  if (raw.virtType !== undefined) {
    const mapped = ({ kvm: 'kvm', qemu: 'tcg' } as Record<string, string>)[raw.virtType];
    if (!mapped)
      throw inputError('BAD_ACCEL', `--virt-type '${raw.virtType}' is not kvm or qemu`, {
        hint: '--virt-type kvm (hardware) or qemu (TCG emulation); or --accel kvm|tcg|auto',
      });
    if (accelText !== 'auto' && accelText !== mapped)
      throw inputError('BAD_ACCEL', `--virt-type ${raw.virtType} and --accel ${accelText} disagree`, {
        hint: 'give one of them',
      });
    accelText = mapped;
  }
  const accel = accelText as Accel;
  if (!['kvm', 'tcg', 'auto'].includes(accel))
    throw inputError('BAD_ACCEL', `--accel '${raw.accel}' is not kvm, tcg or auto`, {
      hint: '--accel auto picks kvm when /dev/kvm is usable',
    });
  const machine = parseMachine(raw.machine ?? 'q35');
  const cpu = raw.cpu !== undefined ? parseCpu(raw.cpu) : undefined;
  const iommu = raw.iommu !== undefined ? parseIommu(raw.iommu) : undefined;
  let boot = raw.boot ? parseBoot(raw.boot, cwd) : undefined;
  const loc = raw.location ? parseLocation(raw.location, cwd) : undefined;
  if (loc?.kernel) {
    if (boot?.kernel)
      throw inputError('BAD_BOOT', '--location kernel= and --boot kernel= both name the install kernel', {
        hint: 'give it once',
      });
    boot = { ...(boot ?? {}), kernel: loc.kernel, ...(loc.initrd ? { initrd: loc.initrd } : {}) };
  }
  const methods = [
    raw.location && '--location',
    raw.cdrom && '--cdrom',
    raw.import && '--import',
    boot?.kernel && '--boot kernel=',
  ].filter(Boolean);
  if (methods.length === 0) {
    throw inputError('NO_INSTALL_METHOD', 'no install method given', {
      hint: 'give --location URL|DIR|ISO, --cdrom ISO, --boot kernel=,initrd= or --import',
    });
  }
  if (methods.length > 1 && !(methods.length === 2 && raw.location && boot?.kernel)) {
    throw inputError('CONFLICTING_INSTALL_METHODS', `${methods.join(' and ')} cannot be combined`, {
      hint: 'choose one install method',
    });
  }
  const disks = (raw.disk ?? [])
    .map((d, i) => parseDisk(String(d), name, cwd, i))
    .filter((d): d is DiskRequest => d !== undefined);
  if (raw.disk === undefined && !raw.import) disks.push(parseDisk('size=8', name, cwd, 0)!);
  if (disks.length === 0 && !raw.import && !raw.noreboot)
    throw inputError(
      'NO_DISK',
      '--disk none leaves no disk to install to, and the confirm boot starts from the installed disk',
      { hint: 'give a disk (--disk size=8), or add --noreboot to run only the install boot' },
    );
  if (raw.import && disks.length === 0)
    throw inputError('BAD_DISK', '--import needs a --disk path=… to boot from', {
      hint: '--import --disk path=guest.qcow2',
    });
  if (raw.import && raw.noreboot)
    throw inputError(
      'IMPORT_NOREBOOT',
      '--noreboot with --import leaves nothing to run: the disk boots only to confirm',
      {
        hint: 'drop --noreboot (to boot and confirm the disk), or install with --location/--cdrom',
      },
    );
  const graphics = splitFirst(raw.graphics ?? 'none');
  if (graphics !== 'none') {
    throw inputError(
      'NOT_IMPLEMENTED',
      `--graphics '${graphics}' is not implemented: install-guest runs headless with a serial console`,
      { hint: '--graphics none (the default)' },
    );
  }
  checkConsoleOptions(raw);
  let waitMinutes: number | undefined;
  if (raw.wait !== undefined && Number(raw.wait) === -1) waitMinutes = NO_WAIT_LIMIT_MIN;
  else if (raw.wait !== undefined) {
    const w = Number(raw.wait);
    if (!Number.isFinite(w) || w <= 0 || w > NO_WAIT_LIMIT_MIN)
      throw inputError('BAD_WAIT', `--wait '${raw.wait}' is not a positive number of minutes`, {
        hint: '--wait 30, or --wait -1 for no overall limit (the stall timeout still applies)',
      });
    waitMinutes = w;
  }
  let stallTimeoutSeconds: number | undefined;
  if (raw.stallTimeout !== undefined) {
    const st = Number(raw.stallTimeout);
    if (!Number.isFinite(st) || st <= 0)
      throw inputError(
        'BAD_STALL_TIMEOUT',
        `--stall-timeout '${raw.stallTimeout}' is not a positive number of seconds`,
        { hint: '--stall-timeout 600' },
      );
    stallTimeoutSeconds = st;
  }
  const onError = raw.onError ?? 'cleanup';
  if (onError !== 'cleanup' && onError !== 'keep')
    throw inputError('BAD_VALUE', `--on-error '${onError}' is not cleanup or keep`, {
      hint: '--on-error keep leaves qemu files and devices for a post-mortem',
    });
  const hostdevDriver = raw.driver ?? 'vfio-pci';
  if (hostdevDriver !== 'vfio-pci' && hostdevDriver !== 'pci-stub')
    throw inputError('BAD_DRIVER', `--driver '${hostdevDriver}' is not vfio-pci or pci-stub`, {
      hint: '--driver vfio-pci (the default)',
    });
  if (hostdevDriver === 'pci-stub' && (raw.hostdev ?? []).length > 0)
    throw inputError(
      'PCI_STUB_CANNOT_ASSIGN',
      '--driver pci-stub cannot assign a device: modern qemu has no pci-assign, pci-stub only reserves it',
      {
        hint: 'use --driver vfio-pci, or reserve the device with install-guest hostdev detach --driver pci-stub',
      },
    );
  if (raw.stateDir !== undefined) assertPlainValue('--state-dir', raw.stateDir);
  if (iommu) checkIommu(iommu, machine, (raw.hostdev ?? []).length);
  const injectPaths = (raw.initrdInject ?? []).map((p) => {
    assertPlainValue('--initrd-inject', p);
    return abs(cwd, p);
  });
  // the kickstart idiom: the injected file --extra-args names is the answer file, used as is
  const idiom = kickstartIdiom(raw.extraArgs, injectPaths);
  if (idiom && raw.kickstart)
    throw inputError(
      'KICKSTART_TWICE',
      `--initrd-inject ${idiom.name} (named by --extra-args) and --kickstart ${raw.kickstart} both give the answer file`,
      { hint: 'keep one: the injected file, or --kickstart' },
    );
  const unattended = parseUnattended(raw.unattended, cwd);
  if (unattended && (raw.kickstart || idiom))
    throw inputError(
      'KICKSTART_TWICE',
      `--unattended renders a built-in answer file, but ${idiom ? `--initrd-inject ${idiom.name}` : `--kickstart ${raw.kickstart}`} gives one`,
      { hint: 'drop --unattended to use your file' },
    );
  const kickstart = idiom ? idiom.path : raw.kickstart;
  const tpm = raw.tpm !== undefined ? parseTpm(raw.tpm) : undefined;
  const rng = raw.rng !== undefined ? parseRng(raw.rng) : undefined;
  const publishBase = parsePublishBase(raw, disks, boot?.uefi !== undefined, cwd);
  return {
    name,
    memoryMiB,
    vcpus,
    ...(cpu ? { cpu } : {}),
    machine,
    ...(iommu ? { iommu } : {}),
    accel,
    disks,
    ...(loc ? { location: loc.location } : {}),
    ...(raw.cdrom ? { cdrom: abs(cwd, raw.cdrom) } : {}),
    ...(raw.fallbackLocation !== undefined
      ? { fallbackLocation: parseFallbackLocation(raw.fallbackLocation, cwd) }
      : {}),
    import: Boolean(raw.import),
    ...(boot ? { boot } : {}),
    ...(raw.extraArgs ? { extraArgs: raw.extraArgs } : {}),
    initrdInject: idiom ? injectPaths.filter((p) => p !== idiom.path) : injectPaths,
    ...osVariantOf(raw.osVariant),
    ...(kickstart ? { kickstart: /[/.]/.test(kickstart) ? abs(cwd, kickstart) : kickstart } : {}),
    ...(idiom ? { kickstartInjectedAs: idiom.name } : {}),
    ...kickstartDeliveryOf(raw.kickstartDelivery),
    ksSet: [
      ...(unattended ?? []),
      ...(raw.ksSet ?? []).map((item) => {
        assertPlainValue('--ks-set', item);
        return item;
      }),
    ],
    confirmUnit: raw.confirmUnit !== false,
    hostdevs: (raw.hostdev ?? []).map(parseHostdev),
    network: parseNetwork(raw.network ?? 'user', opts),
    ...(tpm ? { tpm } : {}),
    ...(rng ? { rng } : {}),
    graphics: 'none',
    noReboot: Boolean(raw.noreboot),
    ...(waitMinutes !== undefined ? { waitMinutes } : {}),
    ...(stallTimeoutSeconds !== undefined ? { stallTimeoutSeconds } : {}),
    ...(raw.earlyBootTimeout !== undefined
      ? { earlyBootSeconds: parseSeconds('--early-boot-timeout', raw.earlyBootTimeout) }
      : {}),
    dryRun: Boolean(raw.dryRun),
    printCmdline: Boolean(raw.printCmdline),
    json: Boolean(raw.json),
    logDir: abs(cwd, raw.logDir ?? `${safeFileName(name)}-logs`),
    onError,
    qemuBinary: raw.qemuBinary ?? 'qemu-system-x86_64',
    hostdevDriver,
    groupBind: Boolean(raw.group),
    force: Boolean(raw.force),
    keepDevice: Boolean(raw.keepDevice),
    ...(raw.stateDir ? { stateDir: abs(cwd, raw.stateDir) } : {}),
    ...(publishBase ? { publishBase } : {}),
  };
}

/**
 * --publish-base [--base-cache DIR]: a base is one qcow2 disk an install wrote and the confirm boot
 * booted; whatever cannot give that is refused here, before anything runs.
 */
function parsePublishBase(
  raw: RawInstallArgs,
  disks: readonly DiskRequest[],
  uefi: boolean,
  cwd: string,
): InstallRequest['publishBase'] {
  if (!raw.publishBase) {
    if (raw.baseCache !== undefined)
      throw inputError(
        'BAD_PUBLISH_BASE',
        '--base-cache names where --publish-base writes, but --publish-base was not given',
        {
          hint: 'add --publish-base, or drop --base-cache',
        },
      );
    return undefined;
  }
  const refuse = (why: string, hint: string): never => {
    throw inputError('BAD_PUBLISH_BASE', `--publish-base ${why}`, { hint });
  };
  if (raw.import)
    refuse(
      'publishes the disk an install wrote, but --import installs nothing',
      'give the image to provision directly: install-guest provision --base IMAGE',
    );
  if (raw.noreboot)
    throw inputError(
      'BASE_NOT_CONFIRMED',
      '--publish-base publishes only a disk the confirm boot booted, but --noreboot skips that boot',
      { hint: 'drop --noreboot' },
    );
  if (disks.length !== 1)
    refuse(
      `publishes one disk, but this install has ${disks.length}`,
      'install the base with a single --disk (size=N or path=FILE,size=N)',
    );
  if (disks[0]!.format !== 'qcow2')
    refuse(
      `keeps qcow2 bases, but the disk is ${disks[0]!.format}`,
      'use --disk …,format=qcow2 (the default)',
    );
  if (uefi)
    refuse(
      "with --boot uefi is not implemented: the guest's UEFI variables would have to be kept with the disk",
      'install the base with BIOS firmware (the default)',
    );
  if (raw.printXml || raw.printKubevirt)
    refuse(
      `moves the disk into the cache, so the document ${raw.printXml ? '--print-xml' : '--print-kubevirt'} prints would name a disk that is gone`,
      'publish first, then: install-guest provision --base KEY --print-xml',
    );
  if (raw.baseCache !== undefined) {
    assertPlainValue('--base-cache', raw.baseCache);
    if (raw.baseCache.trim() === '')
      refuse('got an empty --base-cache', 'name a folder, or leave --base-cache out');
    return { cacheDir: abs(cwd, raw.baseCache) };
  }
  return {};
}

/** A positive whole number of seconds, at most a day. */
function parseSeconds(option: string, value: string | number): number {
  const text = String(value).trim();
  const n = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(n >= 1 && n <= 86_400))
    throw inputError('BAD_TIMEOUT', `${option} '${text}' is not a whole number of seconds from 1 to 86400`, {
      hint: `e.g. ${option} 60`,
    });
  return n;
}

/** --kickstart-delivery: auto (or absent) lets the boot decide. */
function kickstartDeliveryOf(v: string | undefined): { kickstartDelivery?: 'initrd' | 'oemdrv' | 'http' } {
  if (v === undefined || v === 'auto') return {};
  if (v === 'initrd' || v === 'oemdrv' || v === 'http') return { kickstartDelivery: v };
  throw inputError(
    'BAD_KICKSTART_DELIVERY',
    `--kickstart-delivery '${v}' is not auto, initrd, oemdrv or http`,
    {
      hint: '--kickstart-delivery http',
    },
  );
}
