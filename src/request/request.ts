/**
 * The install request: every `install` option parsed with virt-install's grammar into one typed,
 * validated value. Pure: no host access. Each mistake is an inputError naming the option and value.
 */
import path from 'node:path';
import { inputError, assertPrintable } from '../errors.js';
import { fallbackNotLocal, isNetworkLocation } from '../media/fallback.js';
import { assertPlainValue, parseMiB, parseOnOff, parsePositiveInt, parseSubOptions } from './suboptions.js';

export type Accel = 'kvm' | 'tcg' | 'auto';
export type DiskBus = 'virtio' | 'sata' | 'scsi' | 'ide';

export interface DiskRequest {
  /** absolute path; a new disk is created there when `sizeGiB` is given and it does not exist */
  path: string;
  sizeGiB?: number;
  format: 'qcow2' | 'raw';
  bus: DiskBus;
}

export interface HostdevRequest {
  /** as given: an address, libvirt name, vendor:device, interface name or `auto` */
  selector: string;
  romBar?: boolean;
  romFile?: string;
  multifunction?: boolean;
}

export type NetworkRequest =
  | { kind: 'user'; mac?: string; model: string }
  | { kind: 'bridge'; bridge: string; mac?: string; model: string }
  | { kind: 'none' };

export interface BootRequest {
  kernel?: string;
  initrd?: string;
  kernelArgs?: string;
}

export interface InstallRequest {
  name: string;
  memoryMiB: number;
  vcpus: { count: number; sockets?: number; cores?: number; threads?: number };
  cpu?: string;
  machine: string;
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
  /** template variables for a built-in template (`key=value`, dotted keys) */
  ksSet: string[];
  /** add the in-guest confirmation unit to the answer file (default true) */
  confirmUnit: boolean;
  hostdevs: HostdevRequest[];
  network: NetworkRequest;
  graphics: 'none';
  noReboot: boolean;
  /** overall limit for the install phase, minutes; undefined = the default */
  waitMinutes?: number;
  /** no new console output for this long ends the install (exit 4); undefined = the default */
  stallTimeoutSeconds?: number;
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
}

export interface RawInstallArgs {
  name?: string;
  memory?: string | number;
  vcpus?: string | number;
  cpu?: string;
  machine?: string;
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
  ksSet?: string[];
  confirmUnit?: boolean;
  hostdev?: string[];
  network?: string;
  graphics?: string;
  noreboot?: boolean;
  wait?: string | number;
  stallTimeout?: string | number;
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

function parseDisk(text: string, name: string, cwd: string, index: number): DiskRequest {
  const o = parseSubOptions('--disk', text, ['path', 'size', 'format', 'bus'], 'path');
  const v = o.values;
  const size = v.get('size');
  const sizeGiB = size === undefined ? undefined : parseMiB('--disk size', size, 'g') / 1024;
  const p = v.get('path');
  if (p === undefined && sizeGiB === undefined) {
    throw inputError('BAD_DISK', `--disk '${text}' names neither a path nor a size`, {
      hint: '--disk size=8 creates a new disk; --disk path=/x.qcow2 uses one',
    });
  }
  const format = v.get('format') ?? (p && /\.(img|raw)$/i.test(p) ? 'raw' : 'qcow2');
  if (format !== 'qcow2' && format !== 'raw')
    throw inputError('BAD_DISK', `--disk format='${format}' is not supported`, {
      hint: 'format=qcow2 or format=raw',
    });
  const bus = v.get('bus') ?? 'virtio';
  if (!['virtio', 'sata', 'scsi', 'ide'].includes(bus))
    throw inputError('BAD_DISK', `--disk bus='${bus}' is not supported`, {
      hint: 'bus=virtio, sata, scsi or ide',
    });
  const file =
    p ?? `${safeFileName(name)}${index === 0 ? '' : `-${index}`}.${format === 'raw' ? 'img' : 'qcow2'}`;
  return { path: abs(cwd, file), ...(sizeGiB !== undefined ? { sizeGiB } : {}), format, bus: bus as DiskBus };
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
    ['rom.bar', 'rom.file', 'rombar', 'romfile', 'multifunction'],
    'device',
  );
  const selector = o.main;
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
  const mf = v.get('multifunction');
  return {
    selector,
    ...(romBar !== undefined ? { romBar: parseOnOff('--hostdev', 'rom.bar', romBar) } : {}),
    ...(romFile !== undefined ? { romFile } : {}),
    ...(mf !== undefined ? { multifunction: parseOnOff('--hostdev', 'multifunction', mf) } : {}),
  };
}

export function parseNetwork(text: string): NetworkRequest {
  const o = parseSubOptions('--network', text, ['bridge', 'user', 'none', 'mac', 'model', 'type'], 'type');
  const v = o.values;
  const kind = v.has('bridge') ? 'bridge' : (v.get('type') ?? 'user');
  const mac = v.get('mac');
  if (mac !== undefined && !MAC_RE.test(mac))
    throw inputError('BAD_NETWORK', `--network mac='${mac}' is not a MAC address`, {
      hint: 'mac=52:54:00:12:34:56',
    });
  const model = v.get('model') ?? 'virtio-net-pci';
  if (!/^[a-z0-9-]+$/.test(model))
    throw inputError('BAD_NETWORK', `--network model='${model}' is not a qemu NIC model`, {
      hint: 'model=virtio-net-pci or e1000e',
    });
  if (kind === 'none') return { kind: 'none' };
  if (kind === 'user') return { kind: 'user', model, ...(mac ? { mac } : {}) };
  if (kind === 'bridge') {
    const bridge = v.get('bridge') ?? '';
    if (!IFNAME_RE.test(bridge))
      throw inputError('BAD_NETWORK', `--network bridge='${bridge}' is not an interface name`, {
        hint: '--network bridge=br0',
      });
    return { kind: 'bridge', bridge, model, ...(mac ? { mac } : {}) };
  }
  throw inputError('BAD_NETWORK', `--network '${text}': unknown kind '${kind}'`, {
    hint: 'use --network user, --network bridge=NAME or --network none (libvirt networks need libvirt: see --print-xml)',
  });
}

function parseVcpus(text: string): InstallRequest['vcpus'] {
  const o = parseSubOptions('--vcpus', text, ['vcpus', 'sockets', 'cores', 'threads', 'maxvcpus'], 'vcpus');
  const n = (k: string): number | undefined =>
    o.values.has(k) ? parsePositiveInt(`--vcpus ${k}`, o.values.get(k)!) : undefined;
  const sockets = n('sockets');
  const cores = n('cores');
  const threads = n('threads');
  const topo = (sockets ?? 1) * (cores ?? 1) * (threads ?? 1);
  const count = n('vcpus') ?? topo;
  if ((sockets ?? cores ?? threads) !== undefined && topo !== count) {
    throw inputError(
      'BAD_VCPUS',
      `--vcpus '${text}': ${count} vCPUs do not match sockets×cores×threads = ${topo}`,
      { hint: 'make the topology multiply to the vCPU count' },
    );
  }
  return {
    count,
    ...(sockets ? { sockets } : {}),
    ...(cores ? { cores } : {}),
    ...(threads ? { threads } : {}),
  };
}

function parseBoot(text: string, cwd: string): BootRequest {
  const o = parseSubOptions('--boot', text, ['kernel', 'initrd', 'kernel_args', 'cmdline'], undefined);
  const v = o.values;
  const kernel = v.get('kernel');
  const initrd = v.get('initrd');
  const kernelArgs = v.get('kernel_args') ?? v.get('cmdline');
  if (initrd && !kernel)
    throw inputError('BAD_BOOT', `--boot '${text}' gives an initrd without a kernel`, {
      hint: '--boot kernel=PATH,initrd=PATH',
    });
  return {
    ...(kernel ? { kernel: abs(cwd, kernel) } : {}),
    ...(initrd ? { initrd: abs(cwd, initrd) } : {}),
    ...(kernelArgs ? { kernelArgs } : {}),
  };
}

/** --fallback-location: a local directory or ISO (network media cannot stand in for a missing NIC). */
function parseFallbackLocation(value: string, cwd: string): string {
  if (isNetworkLocation(value)) throw fallbackNotLocal('--fallback-location', value);
  return abs(cwd, value);
}

export function parseInstallRequest(raw: RawInstallArgs, cwd: string): InstallRequest {
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
  const memoryMiB = parseMiB('--memory', String(raw.memory ?? '1024'));
  const vcpus = parseVcpus(String(raw.vcpus ?? '1'));
  const accel = (raw.accel ?? 'auto') as Accel;
  if (!['kvm', 'tcg', 'auto'].includes(accel))
    throw inputError('BAD_ACCEL', `--accel '${raw.accel}' is not kvm, tcg or auto`, {
      hint: '--accel auto picks kvm when /dev/kvm is usable',
    });
  const machine = raw.machine ?? 'q35';
  if (!/^[a-z0-9][a-z0-9.,=-]*$/i.test(machine))
    throw inputError('BAD_MACHINE', `--machine '${machine}' is not a machine type`, {
      hint: '--machine q35 or pc',
    });
  const boot = raw.boot ? parseBoot(raw.boot, cwd) : undefined;
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
  const disks = (raw.disk ?? []).map((d, i) => parseDisk(String(d), name, cwd, i));
  if (disks.length === 0 && !raw.import) disks.push(parseDisk('size=8', name, cwd, 0));
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
  const graphics = raw.graphics ?? 'none';
  if (graphics !== 'none') {
    throw inputError(
      'NOT_IMPLEMENTED',
      `--graphics '${graphics}' is not implemented: install-guest runs headless with a serial console`,
      { hint: '--graphics none (the default)' },
    );
  }
  let waitMinutes: number | undefined;
  if (raw.wait !== undefined) {
    const w = Number(raw.wait);
    if (!Number.isFinite(w) || w <= 0)
      throw inputError('BAD_WAIT', `--wait '${raw.wait}' is not a positive number of minutes`, {
        hint: '--wait 30',
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
  return {
    name,
    memoryMiB,
    vcpus,
    ...(raw.cpu ? { cpu: raw.cpu } : {}),
    machine,
    accel,
    disks,
    ...(raw.location
      ? { location: /^[a-z]+:\/\//i.test(raw.location) ? raw.location : abs(cwd, raw.location) }
      : {}),
    ...(raw.cdrom ? { cdrom: abs(cwd, raw.cdrom) } : {}),
    ...(raw.fallbackLocation !== undefined
      ? { fallbackLocation: parseFallbackLocation(raw.fallbackLocation, cwd) }
      : {}),
    import: Boolean(raw.import),
    ...(boot ? { boot } : {}),
    ...(raw.extraArgs ? { extraArgs: raw.extraArgs } : {}),
    initrdInject: (raw.initrdInject ?? []).map((p) => {
      assertPlainValue('--initrd-inject', p);
      return abs(cwd, p);
    }),
    ...(raw.osVariant ? { osVariant: raw.osVariant } : {}),
    ...(raw.kickstart
      ? { kickstart: /[/.]/.test(raw.kickstart) ? abs(cwd, raw.kickstart) : raw.kickstart }
      : {}),
    ksSet: (raw.ksSet ?? []).map((item) => {
      assertPlainValue('--ks-set', item);
      return item;
    }),
    confirmUnit: raw.confirmUnit !== false,
    hostdevs: (raw.hostdev ?? []).map(parseHostdev),
    network: parseNetwork(raw.network ?? 'user'),
    graphics: 'none',
    noReboot: Boolean(raw.noreboot),
    ...(waitMinutes !== undefined ? { waitMinutes } : {}),
    ...(stallTimeoutSeconds !== undefined ? { stallTimeoutSeconds } : {}),
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
  };
}
