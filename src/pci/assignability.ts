/**
 * Whether a PCI function can be assigned to a guest through VFIO: a pure decision over the
 * inventory (data in, verdict out). Every reason carries a stable code, a severity, one sentence
 * and the evidence it rests on (file contents, links), so `hostdev show` can explain it and
 * `--json` consumers can act on it.
 *
 *   block → not-assignable, warn → assignable with warnings, info → no effect on the verdict.
 *
 * IOMMU group viability follows the kernel's rule: every other function in the group must be a
 * bridge, unbound, or bound to vfio-pci / pci-stub (drivers that leave DMA ownership to VFIO).
 */
import type { Inventory, PciDevice } from './inventory.js';

export type Verdict = 'assignable' | 'warnings' | 'not-assignable';
export type Severity = 'block' | 'warn' | 'info';

export interface Reason {
  code: string;
  severity: Severity;
  message: string;
  evidence: string[];
}

export interface Assessment {
  address: string;
  verdict: Verdict;
  reasons: Reason[];
}

export interface AssessContext {
  /** addresses leased to running installs (from the device-preparation journal); empty when none */
  leased?: ReadonlySet<string>;
  /** interfaces that carry management traffic and must never be assigned (`--mgmt-iface`) */
  mgmtIfaces?: readonly string[];
  /** --force: a guard the inventory cannot check (remote host) warns instead of refusing */
  force?: boolean;
}

/** Drivers that a group member may be bound to without making the group non-viable. */
export const VFIO_SAFE_DRIVERS: readonly string[] = ['vfio-pci', 'pci-stub'];

export function isVfioDriver(driver: string | null): boolean {
  return driver !== null && (driver === 'vfio-pci' || driver.startsWith('vfio'));
}

const indexes = new WeakMap<Inventory, Map<string, PciDevice>>();

/** Address → device, built once per inventory. */
export function deviceIndex(inventory: Inventory): Map<string, PciDevice> {
  let idx = indexes.get(inventory);
  if (!idx) {
    idx = new Map(inventory.devices.map((d) => [d.address, d]));
    indexes.set(inventory, idx);
  }
  return idx;
}

interface GroupInfo {
  members: PciDevice[];
  listing: string;
  described: Map<string, string>;
}
const groupInfos = new WeakMap<Inventory, Map<number, GroupInfo>>();

/** A group's members and their descriptions, built once per inventory and group. */
function groupInfo(inventory: Inventory, group: number): GroupInfo {
  let byGroup = groupInfos.get(inventory);
  if (!byGroup) {
    byGroup = new Map();
    groupInfos.set(inventory, byGroup);
  }
  let info = byGroup.get(group);
  if (!info) {
    const index = deviceIndex(inventory);
    const members = (inventory.groups[String(group)] ?? [])
      .map((a) => index.get(a))
      .filter((m): m is PciDevice => m !== undefined);
    info = {
      members,
      listing: `/sys/kernel/iommu_groups/${group}/devices: ${members.map((m) => m.address).join(' ')}`,
      described: new Map(members.map((m) => [m.address, describeMember(m)])),
    };
    byGroup.set(group, info);
  }
  return info;
}

function memberIsHarmless(m: PciDevice): boolean {
  return (
    m.headerType !== 'endpoint' || m.driver === null || isVfioDriver(m.driver) || m.driver === 'pci-stub'
  );
}

export function describeMember(m: PciDevice): string {
  const kind = m.headerType === 'endpoint' ? 'endpoint' : `${m.headerType} (bridge)`;
  return `${m.address} [${m.classCode.slice(0, 4)}] driver=${m.driver ?? 'none'} ${kind}`;
}

function resetReasons(d: PciDevice): Reason[] {
  const r = d.reset;
  if (r.methods !== null) {
    const ev = [`reset_method: "${r.methods.join(' ')}"`];
    if (r.methods.length === 0) {
      return [
        {
          code: 'NO_RESET',
          severity: 'warn',
          message: `${d.address} has no reset method: its state leaks between the host and the guest and between guests`,
          evidence: ev,
        },
      ];
    }
    if (r.methods.length === 1 && r.methods[0] === 'bus') {
      return [
        {
          code: 'BUS_RESET_ONLY',
          severity: 'info',
          message: `${d.address} can only be reset by a secondary bus reset of its parent bridge`,
          evidence: ev,
        },
      ];
    }
    return [];
  }
  if (!r.capabilitiesRead) {
    return [
      {
        code: 'RESET_UNKNOWN',
        severity: 'info',
        message: `cannot tell how ${d.address} resets: the kernel has no reset_method file and config space beyond the header is unreadable (run as root)`,
        evidence: [`config: ${d.config.size} bytes readable`],
      },
    ];
  }
  const ev = [
    `PCIe DevCap FLR: ${r.pcieFlr === null ? 'no PCIe capability' : r.pcieFlr ? 'yes' : 'no'}`,
    `AF FLR: ${r.afFlr === null ? 'no AF capability' : r.afFlr ? 'yes' : 'no'}`,
    `PM No_Soft_Reset: ${r.pmNoSoftReset === null ? 'no PM capability' : r.pmNoSoftReset ? '1' : '0'}`,
    `alone on its bus below a bridge: ${r.busResetPossible ? 'yes' : 'no'}`,
  ];
  if (r.pcieFlr || r.afFlr || r.pmNoSoftReset === false) return [];
  if (r.busResetPossible) {
    return [
      {
        code: 'BUS_RESET_ONLY',
        severity: 'info',
        message: `${d.address} has no function-level reset; only a secondary bus reset of its parent bridge`,
        evidence: ev,
      },
    ];
  }
  return [
    {
      code: 'NO_RESET',
      severity: 'warn',
      message: `${d.address} has no reset method (no FLR, PM reset or bus reset): its state leaks between the host and the guest`,
      evidence: ev,
    },
  ];
}

/** The verdict for one function. */
export function assess(device: PciDevice, inventory: Inventory, context: AssessContext = {}): Assessment {
  const reasons: Reason[] = [];
  const add = (code: string, severity: Severity, message: string, evidence: string[]): void => {
    reasons.push({ code, severity, message, evidence });
  };
  const d = device;
  const leased = context.leased ?? new Set<string>();
  const mgmt = context.mgmtIfaces ?? [];

  if (d.config.state === 'all-ones') {
    add(
      'CONFIG_ALL_ONES',
      'block',
      `${d.address} reads all 0xff from its configuration header: the device is gone or powered off (D3cold)`,
      [`config: first 64 bytes are 0xff`],
    );
  } else if (d.config.state === 'unreadable') {
    add('CONFIG_UNREADABLE', 'block', `${d.address} has no readable configuration space`, [
      `config: ${d.config.size} bytes`,
    ]);
  }

  const isBridge = d.headerType === 'bridge' || d.headerType === 'cardbus' || d.classKind === 'bridge';
  if (isBridge) {
    add(
      'IS_BRIDGE',
      'block',
      `${d.address} is a ${d.className.toLowerCase()}: bridges route other devices' traffic and cannot be assigned`,
      [`class ${d.classCode.slice(0, 4)} (${d.className}), header type ${d.headerType}`],
    );
  }

  if (d.iommuGroup === null) {
    add(
      'NO_IOMMU',
      'block',
      inventory.iommu.enabled
        ? `${d.address} belongs to no IOMMU group, so VFIO cannot isolate it`
        : `the host has no active IOMMU (no IOMMU groups), so no device can be assigned`,
      [
        `${d.sysfsPath}/iommu_group: missing`,
        `/sys/kernel/iommu_groups: ${inventory.iommu.groupCount} groups`,
        `/sys/class/iommu: ${inventory.iommu.units.length ? inventory.iommu.units.join(' ') : 'empty'}`,
      ],
    );
  } else if (!isBridge) {
    const g = groupInfo(inventory, d.iommuGroup);
    const members = g.members.filter((m) => m !== d);
    const blocking = members.filter((m) => !memberIsHarmless(m));
    const otherEndpoints = members.filter((m) => m.headerType === 'endpoint' && memberIsHarmless(m));
    const bridges = members.filter((m) => m.headerType !== 'endpoint');
    const evidence = [g.listing, ...members.map((m) => g.described.get(m.address)!)];
    if (blocking.length) {
      add(
        'IOMMU_GROUP_NOT_VIABLE',
        'block',
        `IOMMU group ${d.iommuGroup} is not viable: ${blocking
          .map((m) => `${m.address} (${m.driver})`)
          .join(
            ', ',
          )} ${blocking.length === 1 ? 'shares' : 'share'} it and ${blocking.length === 1 ? 'is' : 'are'} bound to a host driver; assign the whole group or move the card to a slot with its own group`,
        evidence,
      );
    } else if (otherEndpoints.length) {
      add(
        'IOMMU_GROUP_SHARED',
        'warn',
        `IOMMU group ${d.iommuGroup} also holds ${otherEndpoints.map((m) => m.address).join(', ')}, which must stay unbound or on vfio-pci while ${d.address} is assigned`,
        evidence,
      );
    } else if (bridges.length) {
      add(
        'IOMMU_GROUP_INCLUDES_BRIDGE',
        'info',
        `IOMMU group ${d.iommuGroup} also holds ${bridges.map((m) => m.address).join(', ')} (bridge${bridges.length > 1 ? 's' : ''}), which VFIO allows`,
        evidence,
      );
    }
  }

  for (const n of d.net) {
    if (n.defaultRoutes.length) {
      add(
        'DEFAULT_ROUTE',
        'block',
        `${n.name} on ${d.address} carries the host's default route; assigning it would cut the host off the network`,
        n.defaultRoutes.map((r) => `${n.name}: ${r}`),
      );
    }
    const named = mgmt.filter((m) => m === n.name || n.uppers.includes(m));
    if (named.length) {
      add(
        'MANAGEMENT_INTERFACE',
        'block',
        `${n.name} on ${d.address} is a management interface (--mgmt-iface ${named.join(', ')})`,
        [`${n.name}: addresses ${n.addresses.join(' ') || 'none'}`],
      );
    } else if (!n.defaultRoutes.length && (n.addresses.length || n.uppers.length)) {
      add(
        'INTERFACE_IN_USE',
        'warn',
        `${n.name} on ${d.address} is in use by the host (${[
          n.addresses.length ? `addresses ${n.addresses.join(' ')}` : '',
          n.uppers.length ? `port of ${n.uppers.join(', ')}` : '',
        ]
          .filter(Boolean)
          .join('; ')}); the host loses it while assigned`,
        [`${n.name}: operstate ${n.operstate ?? '?'}, mac ${n.mac ?? '?'}`],
      );
    }
  }

  const unknown = inventory.unknownGuards;
  if (unknown && !isBridge && (d.classKind === 'net' || d.classKind === 'storage' || d.net.length > 0)) {
    const what =
      d.classKind === 'storage'
        ? `whether ${d.address} controls a disk the host has mounted (its root disk)`
        : `whether ${d.address}${d.net.length ? ` (${d.net.map((n) => n.name).join(', ')})` : ''} carries the host's default route or management addresses`;
    add(
      'GUARD_UNKNOWN',
      context.force ? 'warn' : 'block',
      `unknown: ${what}; ${unknown.why}${context.force ? ' (--force given)' : '; --force assigns it anyway'}`,
      [`not known: ${unknown.facts.join(', ')}`],
    );
  }

  const mounted = d.block.flatMap((b) => b.mounts.map((m) => ({ disk: b.name, ...m })));
  if (mounted.length) {
    add(
      'MOUNTED_DISK',
      'block',
      `${d.address} controls ${[...new Set(mounted.map((m) => m.disk))].join(', ')}, mounted on the host (${mounted
        .map((m) => m.mountPoint)
        .join(', ')})`,
      mounted.map((m) =>
        m.fsType === 'swap'
          ? `/proc/swaps: /dev/${m.device} [disk ${m.disk}]`
          : `/proc/self/mountinfo: ${m.via ?? m.device} on ${m.mountPoint} (${m.fsType})${m.via ? ` [over ${m.device}, disk ${m.disk}]` : ` [disk ${m.disk}]`}`,
      ),
    );
  } else if (d.block.length) {
    add(
      'HAS_DISKS',
      'info',
      `${d.address} controls ${d.block.map((b) => b.name).join(', ')} (not mounted); the host loses access while assigned`,
      d.block.map((b) => `${b.name}: partitions ${b.partitions.join(' ') || 'none'}`),
    );
  }

  if (d.classKind === 'display') {
    add(
      'DISPLAY_ROM',
      'warn',
      d.bootVga
        ? `${d.address} is the host's boot display: the console goes dark, and the guest usually needs its option ROM (romfile=)`
        : `${d.address} is a display device: the guest usually needs its option ROM (romfile=) and it may not reset cleanly`,
      [
        `class ${d.classCode.slice(0, 4)} (${d.className})`,
        ...(d.bootVga === null ? [] : [`boot_vga: ${d.bootVga ? 1 : 0}`]),
      ],
    );
  }

  if (leased.has(d.address)) {
    add('LEASED', 'block', `${d.address} is leased to another install-guest run`, [`lease: ${d.address}`]);
  }
  const users = d.iommuGroup === null ? [] : (inventory.vfioUsers[String(d.iommuGroup)] ?? []);
  if (users.length) {
    add(
      'ALREADY_ASSIGNED',
      'block',
      `${d.address} is already assigned: ${users.map((u) => `${u.comm} (pid ${u.pid})`).join(', ')} holds /dev/vfio/${d.iommuGroup}`,
      users.map((u) => `/proc/${u.pid}/fd → /dev/vfio/${d.iommuGroup} (${u.comm})`),
    );
  } else if (isVfioDriver(d.driver)) {
    add('ON_VFIO', 'info', `${d.address} is already bound to ${d.driver} and not in use`, [
      `driver → ${d.driver}`,
    ]);
  }

  if (!d.driverOverrideSupported) {
    add(
      'DRIVER_OVERRIDE_UNSUPPORTED',
      'block',
      `the kernel has no driver_override for ${d.address} (Linux < 3.16), which install-guest binds through`,
      [`${d.sysfsPath}/driver_override: missing`],
    );
  } else if (d.driverOverride !== null && d.driverOverride !== 'vfio-pci') {
    add(
      'DRIVER_OVERRIDE_SET',
      'warn',
      `${d.address} has driver_override "${d.driverOverride}" set by someone else`,
      [`driver_override: ${d.driverOverride}`],
    );
  }

  if (d.sriov && d.sriov.numVfs > 0) {
    add(
      'SRIOV_PF_HAS_VFS',
      'warn',
      `${d.address} is an SR-IOV physical function with ${d.sriov.numVfs} VF(s) enabled; unbinding its driver removes them (assign a VF instead)`,
      [`sriov_numvfs: ${d.sriov.numVfs}`, `VFs: ${d.sriov.vfs.join(' ')}`],
    );
  }

  if (!isBridge && (d.config.state === 'ok' || d.config.state === 'header-only'))
    reasons.push(...resetReasons(d));

  const verdict: Verdict = reasons.some((r) => r.severity === 'block')
    ? 'not-assignable'
    : reasons.some((r) => r.severity === 'warn')
      ? 'warnings'
      : 'assignable';
  return { address: d.address, verdict, reasons };
}

export function assessAll(inventory: Inventory, context: AssessContext = {}): Map<string, Assessment> {
  return new Map(inventory.devices.map((d) => [d.address, assess(d, inventory, context)]));
}
