/**
 * qemu argv from templates/qemu/*.args.hbs. The plan (template data) is built by a pure function
 * from the request and what earlier stages decided; rendering uses an isolated Handlebars instance
 * (noEscape, strict) and splits the output by lines, one argv element per line — never a shell.
 * Option values pass through the `opt` helper, which doubles commas; values with newlines or NULs
 * are refused before they reach a template.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { inputError } from '../errors.js';
import { templatesDir } from '../paths.js';
import { createEnvironment, type Environment } from '../template-engine.js';
import type { DiskRequest, GuestPciAddress, InstallRequest, NetworkRequest } from '../request/request.js';
import { escapeOptionValue } from './escape.js';
import { iommuDevice, isQ35, machineOption } from '../request/machine.js';

export type Phase = 'install' | 'confirm';

export type BootMedia =
  | { kind: 'kernel'; kernel: string; initrd?: string; append: string }
  | { kind: 'cdrom'; iso: string }
  | { kind: 'disk' };

export interface AssignedDevice {
  address: string;
  romBar?: boolean;
  romFile?: string;
  multifunction?: boolean;
  /** where the guest sees it (--hostdev address.*) */
  guestAddress?: GuestPciAddress;
}

export interface QemuInputs {
  request: InstallRequest;
  accel: 'kvm' | 'tcg';
  /** the cpu the accelerator choice settled on (e.g. host,arch-capabilities=off); default from the request */
  cpu?: string;
  uuid: string;
  /** the MAC of the emulated NIC (user or bridge networking) */
  mac: string;
  /** the install's private work dir: QMP sockets live here */
  workDir: string;
  boot: BootMedia;
  /** extra read-only cdroms during install (e.g. the OEMDRV kickstart volume) */
  extraCdroms: string[];
  hostdevs: AssignedDevice[];
  /** the network after any fallback decision */
  network: NetworkRequest;
  /** the cloud-init NoCloud seed of the disk's first boot (the confirm boot of an --import) */
  seed?: { iso?: string; smbiosSerial?: string };
  /** --boot uefi: OVMF's code and this guest's own copy of the vars store */
  firmware?: { code: string; vars: string };
}

interface DiskData {
  id: string;
  path: string;
  format: string;
  device: string;
  bus?: string;
  bootindex?: number;
  /** extra `,key=value` text for the file node, the format node and the device (--disk cache=, io=, …) */
  fileOpts: string;
  formatOpts: string;
  deviceOpts: string;
}

export interface QemuTemplateData {
  binary: string;
  name: string;
  uuid: string;
  /** the -machine value, properties included (kernel-irqchip=split for a vIOMMU under KVM) */
  machine: string;
  accel: string;
  /** the -cpu value as validated by the request grammar (not comma-escaped) */
  cpu: string;
  /** the guest vIOMMU's -device value */
  iommuDevice: string | false;
  memoryMiB: number;
  smp: string;
  scsi: boolean;
  disks: DiskData[];
  cdroms: { id: string; path: string; bus: string; bootindex?: number }[];
  kernel: { path: string; initrd?: string; append: string } | false;
  hostdevs: {
    id: string;
    host: string;
    rootPort?: string;
    chassis?: number;
    /** the first function on its root port: the port is created with it */
    newPort?: boolean;
    /** `0.N` on the root port when several functions share the guest slot; `0xS.F` on the root bus */
    addr?: string;
    romBar?: string;
    romFile?: string;
    multifunction?: boolean;
    /** a guest address on the root bus: `bus=pcie.0,addr=0x5.0` */
    rootBus?: string;
  }[];
  /** port: the chassis of the NIC's own PCIe root port on q35 (after the hostdevs' ports) */
  network: { user: boolean; bridge: string | false; model: string; mac: string; port?: number };
  /** --boot uefi: pflash drives */
  firmware: { code: string; vars: string } | false;
  /** --tpm: the swtpm control socket in the private work dir */
  tpm: { socket: string; model: string } | false;
  /** --rng: the host source */
  rng: { source: string } | false;
  qmpSocket: string;
  /** the serial console's unix socket: install-guest listens, qemu connects */
  serialSocket: string;
  /** `-smbios type=1,serial=VALUE` (the cloud-init seed's ds=nocloud form), or false */
  smbiosSerial: string | false;
}

/** --tpm: swtpm's control socket for one boot, in the install's private work dir (src/qemu/swtpm.ts) */
export function tpmSocketPath(workDir: string, phase: Phase): string {
  return path.join(workDir, `swtpm-${phase}.sock`);
}

export function cpuModel(req: InstallRequest, accel: 'kvm' | 'tcg'): string {
  const cpu = req.cpu === 'host-passthrough' || req.cpu === 'host-model' ? 'host' : req.cpu;
  if (cpu !== undefined && /^host(,|$)/.test(cpu) && accel === 'tcg') {
    throw inputError('BAD_CPU', `--cpu '${req.cpu}' needs KVM, but the accelerator is tcg`, {
      hint: 'omit --cpu (tcg uses max) or name a model, e.g. --cpu qemu64',
    });
  }
  return cpu ?? (accel === 'kvm' ? 'host' : 'max');
}

export function smpOf(req: InstallRequest): string {
  const v = req.vcpus;
  const parts = [String(v.count)];
  if (v.max && v.max !== v.count) parts.push(`maxcpus=${v.max}`);
  if (v.sockets) parts.push(`sockets=${v.sockets}`);
  if (v.cores) parts.push(`cores=${v.cores}`);
  if (v.threads) parts.push(`threads=${v.threads}`);
  return parts.join(',');
}

/** libvirt's cache modes as -blockdev/-device options (what libvirt itself renders) */
const CACHE_MODES: Record<string, { direct: boolean; noFlush: boolean; writeCache: boolean }> = {
  none: { direct: true, noFlush: false, writeCache: true },
  writeback: { direct: false, noFlush: false, writeCache: true },
  writethrough: { direct: false, noFlush: false, writeCache: false },
  directsync: { direct: true, noFlush: false, writeCache: false },
  unsafe: { direct: false, noFlush: true, writeCache: true },
};

/** --disk cache=, io=, discard=, readonly=, serial= as option text for the file node, the format node and the device */
export function diskOptions(d: DiskRequest): { fileOpts: string; formatOpts: string; deviceOpts: string } {
  const file: string[] = [];
  const format: string[] = [];
  const device: string[] = [];
  const c = d.cache ? CACHE_MODES[d.cache] : undefined;
  if (c) {
    file.push(`cache.direct=${c.direct ? 'on' : 'off'}`, `cache.no-flush=${c.noFlush ? 'on' : 'off'}`);
    format.push(`cache.direct=${c.direct ? 'on' : 'off'}`, `cache.no-flush=${c.noFlush ? 'on' : 'off'}`);
    device.push(`write-cache=${c.writeCache ? 'on' : 'off'}`);
  }
  if (d.io) file.push(`aio=${d.io}`);
  if (d.discard) {
    file.push(`discard=${d.discard}`);
    format.push(`discard=${d.discard}`);
  }
  if (d.readonly) {
    file.push('read-only=on');
    format.push('read-only=on');
  }
  if (d.serial) device.push(`serial=${escapeOptionValue(d.serial)}`);
  const text = (xs: string[]): string => xs.map((x) => `,${x}`).join('');
  return { fileOpts: text(file), formatOpts: text(format), deviceOpts: text(device) };
}

export function buildQemuPlan(inputs: QemuInputs, phase: Phase): QemuTemplateData {
  const req = inputs.request;
  const q35 = isQ35(req.machine);
  let ideNext = 0;
  // q35's AHCI has six one-unit buses (ide.0–ide.5); pc's IDE has two buses with two units each
  const ideBus = (): string => {
    const n = ideNext++;
    return q35 ? `ide.${n}` : `ide.${Math.floor(n / 2)},unit=${n % 2}`;
  };
  const installCdrom = phase === 'install' && inputs.boot.kind === 'cdrom';
  const ordered = req.disks.some((d) => d.bootOrder !== undefined);
  const disks: DiskData[] = req.disks.map((d, i) => {
    const id = `disk${i}`;
    // boot.order= numbers the disks as libvirt does; else the first disk boots (after an install cdrom)
    const bootindex = ordered
      ? d.bootOrder !== undefined
        ? d.bootOrder + (installCdrom ? 1 : 0)
        : undefined
      : i === 0
        ? installCdrom
          ? 2
          : 1
        : undefined;
    const base = {
      id,
      path: d.path,
      format: d.format,
      ...(bootindex ? { bootindex } : {}),
      ...diskOptions(d),
    };
    switch (d.bus) {
      case 'virtio':
        return { ...base, device: 'virtio-blk-pci' };
      case 'scsi':
        return { ...base, device: 'scsi-hd', bus: 'scsi0.0' };
      default:
        return { ...base, device: 'ide-hd', bus: ideBus() };
    }
  });
  const cdroms: QemuTemplateData['cdroms'] = [];
  if (phase === 'install') {
    if (inputs.boot.kind === 'cdrom')
      cdroms.push({ id: 'cdrom0', path: inputs.boot.iso, bus: ideBus(), bootindex: 1 });
    inputs.extraCdroms.forEach((p, i) => cdroms.push({ id: `cdrom${i + 1}`, path: p, bus: ideBus() }));
  }
  // the cloud-init seed rides on the disk's first boot; reboot-and-confirm ejects it (id cidata-dev)
  if (phase === 'confirm' && inputs.seed?.iso)
    cdroms.push({ id: 'cidata', path: inputs.seed.iso, bus: ideBus() });
  if (ideNext > (q35 ? 6 : 4)) {
    throw inputError(
      'TOO_MANY_IDE',
      `${ideNext} IDE/SATA disks and cdroms do not fit machine ${req.machine}`,
      { hint: 'use bus=virtio for data disks' },
    );
  }
  const kernel = phase === 'install' && inputs.boot.kind === 'kernel' ? inputs.boot : undefined;
  const net = inputs.network;
  return {
    binary: req.qemuBinary,
    name: req.name,
    uuid: inputs.uuid,
    machine: machineOption(req.machine, inputs.accel, req.iommu),
    accel: inputs.accel,
    cpu: inputs.cpu ?? cpuModel(req, inputs.accel),
    iommuDevice: req.iommu ? iommuDevice(req.iommu) : false,
    memoryMiB: req.memoryMiB,
    smp: smpOf(req),
    scsi: req.disks.some((d) => d.bus === 'scsi'),
    disks,
    cdroms,
    kernel: kernel
      ? { path: kernel.kernel, ...(kernel.initrd ? { initrd: kernel.initrd } : {}), append: kernel.append }
      : false,
    hostdevs: hostdevPlacement(inputs.hostdevs, q35).map(({ h, i, port, chassis, fn, functions }) => ({
      id: `hostdev${i}`,
      host: h.address,
      // a guest address on bus 0 puts the device on the root bus at that slot; else its own root
      // port, the functions of one device sharing it as functions 0.N of one slot
      ...(h.guestAddress && h.guestAddress.bus === 0
        ? {
            rootBus: q35 ? 'pcie.0' : 'pci.0',
            addr: `0x${h.guestAddress.slot.toString(16)}.${h.guestAddress.function}`,
          }
        : {
            ...(q35 ? { rootPort: port, chassis, newPort: fn === 0 } : {}),
            ...(q35 && functions > 1 ? { addr: `0.${fn}` } : {}),
          }),
      ...(h.romBar !== undefined ? { romBar: h.romBar ? '1' : '0' } : {}),
      ...(h.romFile ? { romFile: h.romFile } : {}),
      // only a slot with several functions is multifunction, and only its function 0 says so
      ...(functions > 1 && fn === 0 ? { multifunction: true } : {}),
    })),
    network: {
      user: net.kind === 'user',
      bridge: net.kind === 'bridge' ? net.bridge : false,
      model: net.kind === 'none' ? '' : net.model,
      mac: net.kind === 'none' ? '' : (net.mac ?? inputs.mac),
      ...(q35 && net.kind !== 'none' ? { port: inputs.hostdevs.length + 1 } : {}),
    },
    firmware: inputs.firmware ?? false,
    tpm: req.tpm ? { socket: tpmSocketPath(inputs.workDir, phase), model: req.tpm.model } : false,
    rng: req.rng ? { source: req.rng.source } : false,
    qmpSocket: path.join(inputs.workDir, `qmp-${phase}.sock`),
    serialSocket: path.join(inputs.workDir, `serial-${phase}.sock`),
    smbiosSerial: (phase === 'confirm' && inputs.seed?.smbiosSerial) || false,
  };
}

export interface HostdevSlot {
  h: AssignedDevice;
  /** its index in the request (the qdev id hostdevN) */
  i: number;
  /** q35: the root port it sits on, shared by the functions of one host slot */
  port: string;
  chassis: number;
  /** its function on the guest slot: 0 for a lone function */
  fn: number;
  /** how many functions share the guest slot */
  functions: number;
}

/**
 * Pure: the guest slot of each assigned function. On q35 the functions of one host device (same
 * domain:bus:slot, e.g. a GPU at .0 and its HDMI audio at .1) stay together on one root port as
 * functions 0, 1, … of one guest slot, in host function order (function 0 carries
 * multifunction=on); each other device gets its own root port, as libvirt places hostdevs. The
 * machine without PCIe root ports (pc) keeps one slot per function.
 */
export function hostdevPlacement(hostdevs: readonly AssignedDevice[], q35: boolean): HostdevSlot[] {
  const slotOf = (a: string): string => a.replace(/\.[0-7]$/, '');
  const fnOf = (a: string): number => Number(/\.([0-7])$/.exec(a)?.[1] ?? 0);
  const groups = new Map<string, { h: AssignedDevice; i: number }[]>();
  hostdevs.forEach((h, i) => {
    const key = q35 ? slotOf(h.address) : `${i}`;
    groups.set(key, [...(groups.get(key) ?? []), { h, i }]);
  });
  const out: HostdevSlot[] = [];
  [...groups.values()].forEach((members, g) => {
    const sorted = [...members].sort((a, b) => fnOf(a.h.address) - fnOf(b.h.address));
    const port = `hostdev${sorted[0]!.i}-port`;
    sorted.forEach((m, fn) => out.push({ ...m, port, chassis: g + 1, fn, functions: sorted.length }));
  });
  return out;
}

let environment: Environment | undefined;

/**
 * The qemu templates: one per phase, and every partial under templates/qemu/partials.
 * `precompiled: false` compiles them from source even when the build's specs are current.
 */
export function createQemuEnvironment(options: { precompiled?: boolean } = {}): Environment {
  const partials = readdirSync(path.join(templatesDir(), 'qemu', 'partials'))
    .filter((file) => file.endsWith('.args.hbs'))
    .sort()
    .map((file) => ({ file: `qemu/partials/${file}`, partial: file.slice(0, -'.args.hbs'.length) }));
  return createEnvironment({
    ...options,
    helpers: {
      opt: (value: unknown) => {
        if (typeof value !== 'string' && typeof value !== 'number')
          throw new Error(`opt helper: missing or non-scalar value (${typeof value})`);
        return escapeOptionValue(value);
      },
    },
    files: [...partials, { file: 'qemu/install.args.hbs' }, { file: 'qemu/confirm.args.hbs' }],
  });
}

/** Every string in the template data must be one line: a newline would split an argument in two. */
function assertOneLine(where: string, value: unknown): void {
  if (typeof value === 'string') {
    if (/[\n\r\0]/.test(value))
      throw inputError('BAD_VALUE', `qemu value ${where} contains a newline or NUL`, {
        hint: 'option values must be one line',
      });
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) assertOneLine(where ? `${where}.${k}` : k, v);
  }
}

/** Renders one qemu argv: the first element is the binary. */
export function renderArgs(phase: Phase, data: QemuTemplateData): string[] {
  assertOneLine('', data);
  return (environment ??= createQemuEnvironment())
    .template(`qemu/${phase}.args.hbs`)(data)
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
}

/** One argument per line, the format of the log dir's *.args files and of --print-cmdline. */
export function formatArgs(argv: readonly string[]): string {
  return `${argv.join('\n')}\n`;
}
