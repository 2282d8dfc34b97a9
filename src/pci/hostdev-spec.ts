/**
 * The `--hostdev` grammar (strict; the first form that matches wins, and the forms cannot overlap):
 *
 *   0000:03:00.0        full PCI address; the domain has 4 or more hex digits (10000:00:01.0)
 *   03:00.0             bus:slot.function in domain 0000
 *   pci_0000_03_00_0    libvirt's node-device name
 *   8086:10d3           vendor:device; must match exactly one function
 *   enp3s0              a network interface name → the PCI function that owns it
 *   auto                pick an assignable network function (see rankAuto)
 *
 * Interface names never contain `:` or `/` (the kernel refuses them), so they cannot be mistaken for
 * the other forms; `auto` and names starting with `pci_` (libvirt's prefix) are reserved. Parsing is pure; resolving against an inventory is separate
 * and throws a typed input error (exit 2) naming the candidates.
 */
import { inputError, hostError } from '../errors.js';
import { compareAddressText, formatPciAddress, parseLibvirtName, parsePciAddress } from './address.js';
import { type Assessment, type AssessContext, assess, deviceIndex } from './assignability.js';
import type { Inventory, PciDevice } from './inventory.js';

export type HostdevSpec =
  | { kind: 'address'; text: string; address: string }
  | { kind: 'id'; text: string; vendorId: string; deviceId: string }
  | { kind: 'iface'; text: string; name: string }
  | { kind: 'auto'; text: string };

export const HOSTDEV_FORMS =
  '0000:03:00.0, 03:00.0, pci_0000_03_00_0, vendor:device (8086:10d3), an interface name (enp3s0) or auto';

const ID_RE = /^([0-9a-f]{4}):([0-9a-f]{4})$/i;
const IFNAME_RE = /^[^\s/:]{1,15}$/;

export function parseHostdevSpec(input: string): HostdevSpec {
  const text = input.trim();
  if (text === '') {
    throw inputError('HOSTDEV_SPEC_EMPTY', '--hostdev is empty; expected a device', {
      hint: `use one of: ${HOSTDEV_FORMS}`,
    });
  }
  if (text === 'auto') return { kind: 'auto', text };
  const libvirt = parseLibvirtName(text);
  if (libvirt) return { kind: 'address', text, address: formatPciAddress(libvirt) };
  const addr = parsePciAddress(text);
  if (addr) return { kind: 'address', text, address: formatPciAddress(addr) };
  const id = ID_RE.exec(text);
  if (id) return { kind: 'id', text, vendorId: id[1]!.toLowerCase(), deviceId: id[2]!.toLowerCase() };
  if (IFNAME_RE.test(text) && text !== '.' && text !== '..' && !text.startsWith('pci_')) {
    return { kind: 'iface', text, name: text };
  }
  throw inputError('HOSTDEV_SPEC_INVALID', `--hostdev '${text}' is not a device: expected ${HOSTDEV_FORMS}`, {
    hint: 'see `install-guest hostdev list` for the devices on this host',
    data: { spec: text },
  });
}

export function describeCandidate(d: PciDevice): string {
  const ifaces = d.net.map((n) => n.name).join(',');
  return `${d.address} ${d.className} [${d.vendorId}:${d.deviceId}] driver=${d.driver ?? 'none'}${ifaces ? ` ${ifaces}` : ''}`;
}

function candidateList(devices: PciDevice[], max = 12): string {
  const shown = devices.slice(0, max).map(describeCandidate);
  if (devices.length > max) shown.push(`… and ${devices.length - max} more`);
  return shown.join('; ');
}

/** The function an explicit spec names. `auto` is not resolved here (see selectHostdev). */
export function resolveHostdevSpec(spec: HostdevSpec, inventory: Inventory): PciDevice {
  const nics = inventory.devices.filter((d) => d.classKind === 'net');
  switch (spec.kind) {
    case 'address': {
      const d = inventory.devices.find((x) => x.address === spec.address);
      if (d) return d;
      throw inputError(
        'HOSTDEV_NOT_FOUND',
        `--hostdev '${spec.text}': no PCI function ${spec.address} on this host; network functions: ${candidateList(nics) || 'none'}`,
        {
          hint: 'see `install-guest hostdev list`',
          data: { spec: spec.text, candidates: nics.map((d) => d.address) },
        },
      );
    }
    case 'id': {
      const matches = inventory.devices.filter(
        (x) => x.vendorId === spec.vendorId && x.deviceId === spec.deviceId,
      );
      if (matches.length === 1) return matches[0]!;
      if (matches.length === 0) {
        throw inputError(
          'HOSTDEV_NOT_FOUND',
          `--hostdev '${spec.text}': no PCI function has vendor:device ${spec.vendorId}:${spec.deviceId}; network functions: ${candidateList(nics) || 'none'}`,
          {
            hint: 'see `install-guest hostdev list` for the ids on this host',
            data: { spec: spec.text, candidates: nics.map((d) => d.address) },
          },
        );
      }
      throw inputError(
        'HOSTDEV_AMBIGUOUS',
        `--hostdev '${spec.text}' matches ${matches.length} functions: ${candidateList(matches)}`,
        {
          hint: 'name one by its PCI address, e.g. --hostdev ' + matches[0]!.address,
          data: { spec: spec.text, candidates: matches.map((d) => d.address) },
        },
      );
    }
    case 'iface': {
      const d = inventory.devices.find((x) => x.net.some((n) => n.name === spec.name));
      if (d) return d;
      throw inputError(
        'HOSTDEV_NOT_FOUND',
        `--hostdev '${spec.text}': no PCI function owns an interface named ${spec.name}; network functions: ${candidateList(nics) || 'none'}`,
        {
          hint: 'virtual interfaces (bridges, bonds, VLANs) cannot be assigned; name the physical port',
          data: { spec: spec.text, candidates: nics.map((d) => d.address) },
        },
      );
    }
    case 'auto':
      throw new Error('resolveHostdevSpec: auto is resolved by selectHostdev');
  }
}

// ---------------------------------------------------------------------------------------------
// auto

export interface RankedCandidate {
  address: string;
  verdict: Assessment['verdict'];
  /** the sort key, most significant first (lower is better) */
  key: number[];
  why: string[];
}

export type AutoSelection =
  | { kind: 'device'; device: PciDevice; assessment: Assessment; ranking: RankedCandidate[] }
  | {
      kind: 'none';
      message: string;
      /** every network function considered, with why it was refused */
      refused: { address: string; description: string; assessment: Assessment }[];
    };

/**
 * Ranks the network functions that are not refused, best first, deterministically:
 * VFs before PFs; already on vfio-pci; link down or unaddressed; alone in its IOMMU group (bridges
 * aside); no warnings; then by address (numerically). Functions that are not assignable (the default-route NIC
 * among them) are never candidates.
 */
export function rankAuto(
  inventory: Inventory,
  assessments: ReadonlyMap<string, Assessment>,
): { ranked: RankedCandidate[]; refused: PciDevice[] } {
  const nics = inventory.devices.filter((d) => d.classKind === 'net');
  const ranked: RankedCandidate[] = [];
  const refused: PciDevice[] = [];
  const index = deviceIndex(inventory);
  for (const d of nics) {
    const a = assessments.get(d.address);
    if (!a || a.verdict === 'not-assignable') {
      refused.push(d);
      continue;
    }
    const members = inventory.groups[String(d.iommuGroup)] ?? [];
    const endpoints = members.filter((m) => m === d.address || index.get(m)?.headerType === 'endpoint');
    const isVf = d.physfn !== null;
    const onVfio = d.driver === 'vfio-pci';
    const quiet = d.net.length === 0 || d.net.every((n) => n.operstate !== 'up' || n.addresses.length === 0);
    const alone = endpoints.length <= 1;
    const clean = a.verdict === 'assignable';
    ranked.push({
      address: d.address,
      verdict: a.verdict,
      key: [isVf ? 0 : 1, onVfio ? 0 : 1, quiet ? 0 : 1, alone ? 0 : 1, clean ? 0 : 1],
      why: [
        isVf ? 'VF' : 'PF/function',
        onVfio ? 'on vfio-pci' : `driver ${d.driver ?? 'none'}`,
        quiet ? 'link down or unaddressed' : 'link up with addresses',
        alone ? 'alone in its group' : 'shares its group',
        clean ? 'no warnings' : 'warnings',
      ],
    });
  }
  ranked.sort((x, y) => {
    for (let i = 0; i < x.key.length; i++) if (x.key[i] !== y.key[i]) return x.key[i]! - y.key[i]!;
    return compareAddressText(x.address, y.address);
  });
  return { ranked, refused };
}

/** `auto`: the best assignable network function, or `none` with every refusal explained. */
export function selectAuto(inventory: Inventory, context: AssessContext = {}): AutoSelection {
  const nics = inventory.devices.filter((d) => d.classKind === 'net');
  const assessments = new Map(nics.map((d) => [d.address, assess(d, inventory, context)]));
  const { ranked, refused } = rankAuto(inventory, assessments);
  const best = ranked[0];
  if (best) {
    const device = nics.find((d) => d.address === best.address)!;
    return { kind: 'device', device, assessment: assessments.get(best.address)!, ranking: ranked };
  }
  return {
    kind: 'none',
    message: nics.length
      ? `none of the ${nics.length} network function(s) can be assigned`
      : 'the host has no network functions',
    refused: refused.map((d) => ({
      address: d.address,
      description: describeCandidate(d),
      assessment: assessments.get(d.address)!,
    })),
  };
}

export type HostdevSelection =
  | {
      kind: 'device';
      device: PciDevice;
      assessment: Assessment;
      spec: HostdevSpec;
      ranking?: RankedCandidate[];
    }
  | (Extract<AutoSelection, { kind: 'none' }> & { spec: HostdevSpec });

/**
 * Resolves any spec: an explicit one to its function (exit 2 when unknown or ambiguous) with its
 * assessment; `auto` to the best candidate or a `none` result the install can fall back on.
 */
export function selectHostdev(
  spec: HostdevSpec,
  inventory: Inventory,
  context: AssessContext = {},
): HostdevSelection {
  if (spec.kind === 'auto') {
    const s = selectAuto(inventory, context);
    return s.kind === 'device'
      ? { kind: 'device', device: s.device, assessment: s.assessment, spec, ranking: s.ranking }
      : { ...s, spec };
  }
  const device = resolveHostdevSpec(spec, inventory);
  return { kind: 'device', device, assessment: assess(device, inventory, context), spec };
}

/** Throws a host error (exit 3) naming every blocking reason when the assessment refuses the device. */
export function requireAssignable(device: PciDevice, assessment: Assessment): void {
  if (assessment.verdict !== 'not-assignable') return;
  const blocking = assessment.reasons.filter((r) => r.severity === 'block');
  const first = blocking[0]!;
  throw hostError(
    blocking.length === 1 ? first.code : 'DEVICE_NOT_ASSIGNABLE',
    `${device.address} cannot be assigned: ${blocking.map((r) => r.message).join('; ')}`,
    {
      hint: `see \`install-guest hostdev show ${device.address}\` for the evidence`,
      data: { address: device.address, reasons: blocking.map((r) => r.code) },
    },
  );
}
