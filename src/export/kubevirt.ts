/**
 * The installed guest as a KubeVirt VirtualMachine, plus the KubeVirt CR configuration the cluster
 * needs before such a VM can be scheduled: `permittedHostDevices.pciHostDevices` maps a PCI
 * vendor:device to a resource name that KubeVirt's device plugin advertises on every node where such
 * a device is bound to vfio-pci; the VM asks for it by that name in
 * `spec.template.spec.domain.devices.hostDevices`. Objects are built as data and serialized with
 * `yaml` (no text templating, so no escaping mistakes). Pure.
 */
import { Document, Scalar, isPair, isScalar, stringify, visit } from 'yaml';
import { inputError } from '../errors.js';
import type { DiskRequest, InstallRequest } from '../request/request.js';
import type { ExportDevice } from './libvirt.js';

export interface KubeVirtOptions {
  /** namespace of the VM (omitted when not given: kubectl's current namespace) */
  namespace?: string;
  /** vendor:device → resource name, overriding the derived `vendor.com/VVVV_DDDD` */
  resourceNames?: Record<string, string>;
  /** the PVC holding disk N is `<claimPrefix>-diskN`; default the VM name */
  claimPrefix?: string;
}

export interface PciHostDevice {
  pciVendorSelector: string;
  resourceName: string;
}

export interface KubeVirtExport {
  virtualMachine: Record<string, unknown>;
  /** the snippet of the KubeVirt CR (kubevirt/kubevirt) that permits the devices */
  kubevirtConfig: Record<string, unknown>;
  pciHostDevices: PciHostDevice[];
}

/** vendor ids of common device makers → the domain their device plugins use */
const VENDOR_DOMAINS: Record<string, string> = {
  '8086': 'intel.com',
  '10de': 'nvidia.com',
  '15b3': 'mellanox.com',
  '14e4': 'broadcom.com',
  '1002': 'amd.com',
  '1022': 'amd.com',
  '1af4': 'redhat.com',
  '1077': 'qlogic.com',
  '19a2': 'emulex.com',
  '8087': 'intel.com',
  '144d': 'samsung.com',
};

const VENDOR_DEVICE_RE = /^([0-9a-f]{4}):([0-9a-f]{4})$/i;

/** `8086:10d3` → `intel.com/8086_10D3` (unknown vendors: `pci-VVVV.install-guest.io/VVVV_DDDD`) */
export function resourceNameFor(vendorDevice: string): string {
  const m = VENDOR_DEVICE_RE.exec(vendorDevice);
  if (!m)
    throw inputError('BAD_VENDOR_DEVICE', `'${vendorDevice}' is not vendor:device`, {
      hint: 'e.g. 8086:10d3',
    });
  const vendor = m[1]!.toLowerCase();
  const domain = VENDOR_DOMAINS[vendor] ?? `pci-${vendor}.install-guest.io`;
  return `${domain}/${vendor.toUpperCase()}_${m[2]!.toUpperCase()}`;
}

/** A Kubernetes object name (DNS-1123 label): lowercase letters, digits and '-', at most 63. */
export function kubeName(name: string): string {
  const n = name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63)
    .replace(/-+$/, '');
  if (!n)
    throw inputError('BAD_NAME', `'${name}' gives no usable Kubernetes name`, {
      hint: 'use letters and digits in the guest name',
    });
  return n;
}

const NIC_MODELS: Record<string, string> = { 'virtio-net-pci': 'virtio', 'virtio-net': 'virtio' };

export function toKubeVirt(
  request: InstallRequest,
  devices: readonly ExportDevice[],
  disks: readonly DiskRequest[] = request.disks,
  options: KubeVirtOptions = {},
): KubeVirtExport {
  const name = kubeName(request.name);
  const claimPrefix = options.claimPrefix ?? name;
  const pciHostDevices: PciHostDevice[] = [];
  const hostDevices = devices.map((d, i) => {
    if (!d.vendorDevice)
      throw inputError(
        'VENDOR_DEVICE_UNKNOWN',
        `device ${d.address}: its vendor:device is not known, and KubeVirt selects devices by it`,
        { hint: 'run where the device is present, or give an inventory (--inventory FILE)' },
      );
    const vd = d.vendorDevice.toLowerCase();
    const resourceName = options.resourceNames?.[vd] ?? resourceNameFor(vd);
    const selector = vd.toUpperCase();
    if (!pciHostDevices.some((p) => p.pciVendorSelector === selector))
      pciHostDevices.push({ pciVendorSelector: selector, resourceName });
    return { name: `hostdev${i}`, deviceName: resourceName };
  });
  const v = request.vcpus;
  const net = request.network;
  const interfaces =
    net.kind === 'user'
      ? [
          {
            name: 'default',
            masquerade: {},
            model: NIC_MODELS[net.model] ?? net.model,
            ...(net.mac ? { macAddress: net.mac } : {}),
          },
        ]
      : net.kind === 'bridge'
        ? [
            {
              name: net.bridge,
              bridge: {},
              model: NIC_MODELS[net.model] ?? net.model,
              ...(net.mac ? { macAddress: net.mac } : {}),
            },
          ]
        : [];
  const networks =
    net.kind === 'user'
      ? [{ name: 'default', pod: {} }]
      : net.kind === 'bridge'
        ? // a host bridge reaches a VM through a Multus NetworkAttachmentDefinition of that name
          [{ name: net.bridge, multus: { networkName: net.bridge } }]
        : [];
  const virtualMachine = {
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachine',
    metadata: {
      name,
      ...(options.namespace ? { namespace: options.namespace } : {}),
      labels: { 'app.kubernetes.io/managed-by': 'install-guest' },
      ...(name !== request.name ? { annotations: { 'install-guest/name': request.name } } : {}),
    },
    spec: {
      runStrategy: 'Always',
      template: {
        metadata: { labels: { 'kubevirt.io/vm': name } },
        spec: {
          domain: {
            machine: { type: request.machine },
            cpu: {
              sockets: v.sockets ?? 1,
              cores: v.cores ?? (v.sockets || v.threads ? 1 : v.count),
              threads: v.threads ?? 1,
            },
            memory: { guest: `${request.memoryMiB}Mi` },
            resources: { requests: { memory: `${request.memoryMiB}Mi` } },
            devices: {
              ...(net.kind === 'none' ? { autoattachPodInterface: false } : {}),
              disks: disks.map((d, i) => ({
                name: `disk${i}`,
                disk: { bus: d.bus === 'ide' ? 'sata' : d.bus },
                ...(i === 0 ? { bootOrder: 1 } : {}),
              })),
              interfaces,
              hostDevices,
            },
          },
          networks,
          volumes: disks.map((_, i) => ({
            name: `disk${i}`,
            persistentVolumeClaim: { claimName: `${claimPrefix}-disk${i}` },
          })),
        },
      },
    },
  };
  const kubevirtConfig = {
    apiVersion: 'kubevirt.io/v1',
    kind: 'KubeVirt',
    metadata: { name: 'kubevirt', namespace: 'kubevirt' },
    spec: { configuration: { permittedHostDevices: { pciHostDevices } } },
  };
  return { virtualMachine, kubevirtConfig, pciHostDevices };
}

/**
 * Several exports as one multi-document YAML stream: the KubeVirt CR snippet (every distinct device
 * once), then one VirtualMachine per guest.
 */
export function kubeVirtYaml(exports: readonly KubeVirtExport[]): string {
  const all: PciHostDevice[] = [];
  for (const e of exports)
    for (const p of e.pciHostDevices)
      if (!all.some((x) => x.pciVendorSelector === p.pciVendorSelector)) all.push(p);
  const docs: Document[] = [];
  if (all.length > 0) {
    const cr = new Document({
      apiVersion: 'kubevirt.io/v1',
      kind: 'KubeVirt',
      metadata: { name: 'kubevirt', namespace: 'kubevirt' },
      spec: { configuration: { permittedHostDevices: { pciHostDevices: all } } },
    });
    cr.commentBefore =
      " Merge into the cluster's KubeVirt CR (kubectl edit kubevirt kubevirt -n kubevirt): lists are\n" +
      ' replaced by a merge patch, so keep the entries already there. Nodes must have the devices bound\n' +
      ' to vfio-pci (install-guest hostdev detach); KubeVirt releases that still gate host devices also\n' +
      ' need "HostDevices" in spec.configuration.developerConfiguration.featureGates.';
    // quoted as KubeVirt's documentation writes it: never read as a number by a YAML 1.1 parser
    visit(cr, {
      Pair(_, pair) {
        if (
          isPair(pair) &&
          isScalar(pair.key) &&
          pair.key.value === 'pciVendorSelector' &&
          isScalar(pair.value)
        )
          pair.value.type = Scalar.QUOTE_DOUBLE;
      },
    });
    docs.push(cr);
  }
  for (const e of exports) docs.push(new Document(e.virtualMachine));
  return docs.map((d) => stringify(d, { lineWidth: 0 })).join('---\n');
}
