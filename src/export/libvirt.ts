/**
 * The libvirt domain XML of an installed guest, for `virsh define`: q35 (or the request's machine),
 * memory locked when a PCI device is assigned (vfio pins guest memory), the installed disks, each
 * assigned device as a managed `<hostdev>` (libvirt detaches it from its host driver at start), and
 * the serial console. Built from templates/libvirt/domain.xml.hbs by a pure function: a plan (the
 * template data) from the request, then rendering with an isolated Handlebars instance whose only
 * escaping is the `xml` helper (noEscape, strict), so every value is XML-escaped exactly once.
 */
import { isQ35, machineType } from '../request/machine.js';
import { VERSION } from '../version.js';
import { inputError } from '../errors.js';
import { hostdevPlacement } from '../qemu/command.js';
import type { DiskRequest, GuestPciAddress, InstallRequest } from '../request/request.js';
import { libvirtNicModel } from '../request/virt-install.js';
import { canonicalAddress } from '../pci/address.js';
import { createEnvironment, type Environment, type Render } from '../template-engine.js';

/** A device assigned to the guest: its host address, and the ROM options of its request. */
export interface ExportDevice {
  address: string;
  /** vendor:device, lowercase hex (needed for KubeVirt, not for libvirt) */
  vendorDevice?: string;
  romBar?: boolean;
  romFile?: string;
  /** where the guest sees it (--hostdev address.*) */
  guestAddress?: GuestPciAddress;
  /** `<hostdev managed='no'>`: bound to vfio-pci by install-guest, not by libvirt */
  unmanaged?: boolean;
}

export interface LibvirtOptions {
  uuid?: string;
  /** the emulated NIC's MAC (user or bridge networking); libvirt picks one when absent */
  mac?: string;
  /** default /usr/bin/qemu-system-x86_64, or the request's --qemu-binary when it is a path */
  emulator?: string;
  /** --boot uefi: the firmware code and this guest's vars store (src/stages/build-command.ts firmwareOf) */
  firmware?: { code: string; vars: string; template: string };
}

export interface LibvirtDomainData {
  domainType: 'kvm' | 'qemu';
  name: string;
  uuid?: string;
  toolVersion: string;
  memoryMiB: number;
  lockMemory: boolean;
  vcpus: number;
  /** vCPUs online at boot when fewer than `vcpus` (--vcpus N,maxvcpus=M) */
  currentVcpus?: number;
  machine: string;
  /** vars '': libvirt keeps the guest's vars store itself (its nvram directory, from the template) */
  firmware?: { code: string; vars: string; template: string };
  /** <boot dev='hd'/> unless a disk carries its own boot order */
  bootHd: boolean;
  cpu:
    | {
        mode: string;
        model?: string;
        topology?: { sockets: number; cores: number; threads: number };
        features?: { policy: 'require' | 'disable'; name: string }[];
      }
    | false;
  /** the guest vIOMMU (<iommu model='intel'>) and, with interrupt remapping, <ioapic driver='qemu'/> */
  /** interrupt remapping needs the split irqchip: libvirt's <ioapic driver='qemu'/> */
  ioapicQemu: boolean;
  iommu:
    { intremap: 'on' | 'off'; cachingMode: 'on' | 'off'; eim?: 'on' | 'off'; iotlb?: 'on' | 'off' } | false;
  /** omitted: the host's default emulator (a remote host's path is not known here) */
  emulator?: string;
  /** the install boot (virt-install's transient install domain): direct kernel boot or the install cdrom; on_reboot destroy */
  install?: { kernel?: string; initrd?: string; cmdline?: string; bootCdrom?: boolean };
  /** read-only cdroms (sata) */
  cdroms?: { path: string; target: string }[];
  /** the serial console into this file instead of a pty */
  serialFile?: string;
  disks: {
    type: 'file' | 'block';
    block: boolean;
    path: string;
    format: string;
    target: string;
    bus: string;
    cache?: string;
    io?: string;
    discard?: string;
    serial?: string;
    readonly?: boolean;
    bootOrder?: number;
  }[];
  scsi: boolean;
  network:
    | {
        type: 'user' | 'bridge' | 'network';
        bridge?: string;
        /** type network: the libvirt network's name */
        sourceNetwork?: string;
        mac?: string;
        model: string;
      }
    | false;
  hostdevs: {
    domain: string;
    bus: string;
    slot: string;
    function: string;
    rom?: { bar?: 'on' | 'off'; file?: string };
    /** the guest address: the user's (--hostdev address.*), or the slot shared by the functions of one device */
    guest?: { domain: string; bus: string; slot: string; function: string; multifunction: boolean };
    /** managed='no': install-guest bound the device itself */
    unmanaged?: boolean;
  }[];
  /** pcie-root-port controllers (their index) for the slots shared by several functions */
  rootPorts: number[];
  /** persistentState: keep the TPM state when a transient domain (the install boot) ends */
  tpm?: { model: string; persistentState?: boolean };
  rng?: { source: string };
}

/** libvirt's disk name for the n-th disk on a bus family: vda…, sda…, hda… (aa after z, as the kernel does) */
export function diskTarget(prefix: string, n: number): string {
  let s = '';
  let i = n;
  do {
    s = String.fromCharCode(97 + (i % 26)) + s;
    i = Math.floor(i / 26) - 1;
  } while (i >= 0);
  return prefix + s;
}

/** `0000:03:00.1` → libvirt's `<address domain='0x0000' bus='0x03' slot='0x00' function='0x1'/>` parts */
export function pciAddressParts(address: string): {
  domain: string;
  bus: string;
  slot: string;
  function: string;
} {
  const a = canonicalAddress(address);
  const m = a && /^([0-9a-f]{4,}):([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$/.exec(a);
  if (!m) throw inputError('BAD_HOSTDEV', `'${address}' is not a PCI address`, { hint: 'e.g. 0000:03:00.0' });
  return { domain: `0x${m[1]}`, bus: `0x${m[2]}`, slot: `0x${m[3]}`, function: `0x${m[4]}` };
}

const hex = (n: number, width: number): string => `0x${n.toString(16).padStart(width, '0')}`;

function cpuOf(req: InstallRequest, domainType: 'kvm' | 'qemu'): LibvirtDomainData['cpu'] {
  const v = req.vcpus;
  const topology =
    v.sockets || v.cores || v.threads
      ? { sockets: v.sockets ?? 1, cores: v.cores ?? 1, threads: v.threads ?? 1 }
      : undefined;
  // qemu's `MODEL,+feat,-feat,feat=on|off` → libvirt's model and <feature policy=…> elements
  const [model, ...props] = (req.cpu ?? '').split(',');
  const features = props.flatMap((p) => {
    const m = /^([+-])?([^=]+)(?:=(.*))?$/.exec(p);
    if (!m) return [];
    const off = m[1] === '-' || /^(off|false|no)$/i.test(m[3] ?? '');
    return [{ policy: off ? ('disable' as const) : ('require' as const), name: m[2]! }];
  });
  const base = { ...(topology ? { topology } : {}), ...(features.length ? { features } : {}) };
  const c = req.cpu === undefined ? undefined : model;
  if (c === undefined || c === 'host' || c === 'host-passthrough')
    return domainType === 'kvm'
      ? { mode: 'host-passthrough', ...base }
      : topology
        ? { mode: 'custom', ...base }
        : false;
  if (c === 'host-model') return { mode: 'host-model', ...base };
  return { mode: 'custom', model: c, ...base };
}

/** Pure: the template data of the domain. */
export function libvirtDomainData(
  request: InstallRequest,
  devices: readonly ExportDevice[],
  disks: readonly DiskRequest[],
  options: LibvirtOptions = {},
): LibvirtDomainData {
  const domainType = request.accel === 'tcg' ? 'qemu' : 'kvm';
  const q35 = isQ35(request.machine);
  const counters: Record<string, number> = {};
  const next = (prefix: string): string => {
    const n = counters[prefix] ?? 0;
    counters[prefix] = n + 1;
    return diskTarget(prefix, n);
  };
  const diskData = disks.map((d) => {
    // q35 has no IDE controller: libvirt puts "ide" disks on its AHCI (sata) bus, as qemu does
    const bus = d.bus === 'ide' && q35 ? 'sata' : d.bus;
    const prefix = bus === 'virtio' ? 'vd' : bus === 'ide' ? 'hd' : 'sd';
    const block = d.path.startsWith('/dev/');
    return {
      type: block ? ('block' as const) : ('file' as const),
      block,
      path: d.path,
      format: d.format,
      target: next(prefix),
      bus,
      ...(d.cache ? { cache: d.cache } : {}),
      ...(d.io ? { io: d.io } : {}),
      ...(d.discard ? { discard: d.discard } : {}),
      ...(d.serial ? { serial: d.serial } : {}),
      ...(d.readonly ? { readonly: true } : {}),
      ...(d.bootOrder !== undefined ? { bootOrder: d.bootOrder } : {}),
    };
  });
  const placement = hostdevPlacement(devices, q35);
  const portIndex = new Map<string, number>();
  const sharedPorts = new Map<string, number>();
  for (const p of placement) {
    if (p.functions < 2) continue;
    if (!portIndex.has(p.port)) portIndex.set(p.port, portIndex.size + 1);
    sharedPorts.set(p.h.address, portIndex.get(p.port)!);
  }
  const net = request.network;
  const emulator =
    options.emulator ??
    (request.qemuBinary.startsWith('/') ? request.qemuBinary : `/usr/bin/${request.qemuBinary}`);
  return {
    domainType,
    name: request.name,
    ...(options.uuid ? { uuid: options.uuid } : {}),
    toolVersion: VERSION,
    memoryMiB: request.memoryMiB,
    lockMemory: devices.length > 0,
    vcpus: request.vcpus.max ?? request.vcpus.count,
    ...(request.vcpus.max && request.vcpus.max !== request.vcpus.count
      ? { currentVcpus: request.vcpus.count }
      : {}),
    machine: machineType(request.machine),
    ...(options.firmware ? { firmware: options.firmware } : {}),
    bootHd: !disks.some((d) => d.bootOrder !== undefined),
    cpu: cpuOf(request, domainType),
    ioapicQemu: request.iommu?.intremap === true,
    iommu: request.iommu
      ? {
          intremap: request.iommu.intremap ? 'on' : 'off',
          cachingMode: request.iommu.cachingMode ? 'on' : 'off',
          ...(request.iommu.eim !== undefined
            ? { eim: request.iommu.eim ? ('on' as const) : ('off' as const) }
            : {}),
          ...(request.iommu.iotlb !== undefined
            ? { iotlb: request.iommu.iotlb ? ('on' as const) : ('off' as const) }
            : {}),
        }
      : false,
    emulator,
    disks: diskData,
    scsi: disks.some((d) => d.bus === 'scsi'),
    network:
      net.kind === 'none'
        ? false
        : {
            type: net.kind,
            ...(net.kind === 'bridge' ? { bridge: net.bridge } : {}),
            ...(net.kind === 'network' ? { sourceNetwork: net.network } : {}),
            ...((net.mac ?? options.mac) ? { mac: net.mac ?? options.mac } : {}),
            model: libvirtNicModel(net.model),
          },
    // as the qemu command line places them (qemu/command.ts): the functions of one device share a
    // root port (here an explicit controller) as functions 0.N of one slot; the others get libvirt's
    // own placement, one root port each
    hostdevs: placement.map(({ h, fn, functions }) => {
      const d = h as ExportDevice;
      const rom = {
        ...(d.romBar !== undefined ? { bar: d.romBar ? ('on' as const) : ('off' as const) } : {}),
        ...(d.romFile ? { file: d.romFile } : {}),
      };
      const bus = sharedPorts.get(d.address);
      const g = d.guestAddress;
      return {
        ...pciAddressParts(d.address),
        ...(d.unmanaged ? { unmanaged: true } : {}),
        ...(Object.keys(rom).length ? { rom } : {}),
        ...(g
          ? {
              guest: {
                domain: hex(g.domain, 4),
                bus: hex(g.bus, 2),
                slot: hex(g.slot, 2),
                function: hex(g.function, 1),
                multifunction: false,
              },
            }
          : bus !== undefined
            ? {
                guest: {
                  domain: '0x0000',
                  bus: `0x${bus.toString(16).padStart(2, '0')}`,
                  slot: '0x00',
                  function: `0x${fn}`,
                  multifunction: fn === 0 && functions > 1,
                },
              }
            : {}),
      };
    }),
    rootPorts: [...new Set(sharedPorts.values())],
    ...(request.tpm ? { tpm: { model: request.tpm.model } } : {}),
    ...(request.rng ? { rng: { source: request.rng.source } } : {}),
  };
}

/** XML 1.0 cannot carry these characters at all, escaped or not. */
const NOT_XML_CHAR = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

/** Escapes a value for XML text and for attributes in either quote style. */
export function xmlEscape(value: unknown): string {
  if (typeof value !== 'string' && typeof value !== 'number')
    throw new Error(`xml helper: missing or non-scalar value (${typeof value})`);
  const s = String(value);
  if (NOT_XML_CHAR.test(s))
    throw inputError('BAD_VALUE', `${JSON.stringify(s)} contains a character XML cannot carry`, {
      hint: 'remove control characters from names and paths',
    });
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;')
    .replace(/\t/g, '&#9;')
    .replace(/\n/g, '&#10;')
    .replace(/\r/g, '&#13;');
}

let template: Render | undefined;

/** The domain template's environment; `precompiled: false` compiles it from source. */
export function createDomainEnvironment(options: { precompiled?: boolean } = {}): Environment {
  return createEnvironment({
    ...options,
    helpers: { xml: (value: unknown) => xmlEscape(value) },
    files: [{ file: 'libvirt/domain.xml.hbs' }],
  });
}

export function renderLibvirtXml(data: LibvirtDomainData): string {
  template ??= createDomainEnvironment().template('libvirt/domain.xml.hbs');
  return template(data)
    .split('\n')
    .filter((l) => l.trim() !== '')
    .join('\n')
    .concat('\n');
}

/** The libvirt domain XML of the installed guest. */
export function toLibvirtXml(
  request: InstallRequest,
  devices: readonly ExportDevice[],
  disks: readonly DiskRequest[] = request.disks,
  options: LibvirtOptions = {},
): string {
  return renderLibvirtXml(libvirtDomainData(request, devices, disks, options));
}
