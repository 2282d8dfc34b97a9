/** Text and JSON views of the inventory and its verdicts (pure: data in, strings/objects out). */
import type { Assessment, Reason } from './assignability.js';
import type { ClassKind, Inventory, PciDevice } from './inventory.js';

export type ClassFilter = 'net' | 'storage' | 'display' | 'all';

export function filterByClass(devices: PciDevice[], filter: ClassFilter): PciDevice[] {
  if (filter === 'all') return devices;
  const kinds: Record<Exclude<ClassFilter, 'all'>, ClassKind[]> = {
    net: ['net'],
    storage: ['storage'],
    display: ['display'],
  };
  return devices.filter((d) => kinds[filter].includes(d.classKind));
}

export interface ListedDevice extends PciDevice {
  verdict: Assessment['verdict'];
  reasons: Reason[];
}

export interface ListJson {
  iommu: Inventory['iommu'];
  source?: Inventory['source'];
  unknownGuards?: Inventory['unknownGuards'];
  defaultRoutes: Inventory['defaultRoutes'];
  devices: ListedDevice[];
}

export function listJson(
  inventory: Inventory,
  assessments: ReadonlyMap<string, Assessment>,
  filter: ClassFilter,
): ListJson {
  return {
    iommu: inventory.iommu,
    ...(inventory.source ? { source: inventory.source } : {}),
    ...(inventory.unknownGuards ? { unknownGuards: inventory.unknownGuards } : {}),
    defaultRoutes: inventory.defaultRoutes,
    devices: filterByClass(inventory.devices, filter).map((d) => {
      const a = assessments.get(d.address);
      return { ...d, verdict: a?.verdict ?? 'not-assignable', reasons: a?.reasons ?? [] };
    }),
  };
}

function usage(d: PciDevice): string {
  const parts: string[] = [];
  for (const n of d.net) {
    const flags = [n.operstate ?? '?', ...n.addresses, n.defaultRoutes.length ? 'default-route' : ''].filter(
      Boolean,
    );
    parts.push(`${n.name} ${flags.join(' ')}`);
  }
  for (const b of d.block) {
    parts.push(b.mounts.length ? `${b.name} (${b.mounts.map((m) => m.mountPoint).join(',')})` : b.name);
  }
  return parts.join('; ');
}

function verdictCell(a: Assessment | undefined): string {
  if (!a) return '?';
  const codes = a.reasons.filter((r) => r.severity !== 'info').map((r) => r.code);
  return codes.length ? `${a.verdict} (${codes.join(',')})` : a.verdict;
}

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd(),
  );
}

/** The lspci-like table `hostdev list` prints. */
export function listTable(
  inventory: Inventory,
  assessments: ReadonlyMap<string, Assessment>,
  filter: ClassFilter,
): string[] {
  const devices = filterByClass(inventory.devices, filter);
  const rows = [['ADDRESS', 'CLASS', 'ID', 'DRIVER', 'GROUP', 'IN USE', 'VERDICT']];
  for (const d of devices) {
    rows.push([
      d.address,
      `${d.className} [${d.classCode.slice(0, 4)}]`,
      `${d.vendorId}:${d.deviceId}`,
      d.driver ?? '-',
      d.iommuGroup === null ? '-' : String(d.iommuGroup),
      usage(d) || '-',
      verdictCell(assessments.get(d.address)),
    ]);
  }
  const lines = table(rows);
  const counts = { assignable: 0, warnings: 0, 'not-assignable': 0 };
  for (const d of devices) {
    const v = assessments.get(d.address)?.verdict;
    if (v) counts[v]++;
  }
  lines.push(
    '',
    `${devices.length} function(s): ${counts.assignable} assignable, ${counts.warnings} assignable with warnings, ${counts['not-assignable']} not assignable${inventory.iommu.enabled ? '' : ' (no IOMMU)'}`,
  );
  if (inventory.source) lines.push(`from libvirt at ${inventory.source.uri}`);
  if (inventory.unknownGuards)
    lines.push(`unknown: ${inventory.unknownGuards.facts.join(', ')} (${inventory.unknownGuards.why})`);
  return lines;
}

const MARK: Record<Reason['severity'], string> = { block: '[block]', warn: '[warn] ', info: '[info] ' };

/** Everything `hostdev show` explains about one function. */
export function showText(d: PciDevice, a: Assessment, inventory: Inventory): string[] {
  const out: string[] = [];
  out.push(
    `${d.address}  ${d.className} [${d.classCode}]: ${d.vendorId}:${d.deviceId} (subsystem ${d.subsystemVendorId ?? '-'}:${d.subsystemDeviceId ?? '-'}) rev ${d.revision ?? '?'}`,
  );
  out.push(
    `  header: ${d.headerType}${d.multifunction ? ', multi-function' : ''}; config space: ${d.config.state} (${d.config.size} bytes read)`,
  );
  out.push(
    `  driver: ${d.driver ?? 'none'}; driver_override: ${d.driverOverrideSupported ? (d.driverOverride ?? '(none)') : 'unsupported'}; NUMA node: ${d.numaNode ?? '-'}`,
  );
  out.push(`  sysfs: ${d.sysfsPath}${d.parent ? ` (behind ${d.parent})` : ' (root bus)'}`);
  if (d.iommuGroup === null) out.push('  IOMMU group: none');
  else {
    const members = inventory.groups[String(d.iommuGroup)] ?? [];
    out.push(`  IOMMU group ${d.iommuGroup}: ${members.join(' ')}`);
  }
  const r = d.reset;
  const yn = (v: boolean | null): string => (v === null ? '-' : v ? 'yes' : 'no');
  out.push(
    `  reset: reset_method ${r.methods === null ? '(no file)' : `"${r.methods.join(' ')}"`}; PCIe FLR ${yn(r.pcieFlr)}; AF FLR ${yn(r.afFlr)}; PM No_Soft_Reset ${yn(r.pmNoSoftReset)}; bus reset ${r.busResetPossible ? 'possible' : 'no'}`,
  );
  if (d.sriov)
    out.push(
      `  SR-IOV PF: ${d.sriov.numVfs}/${d.sriov.totalVfs} VFs enabled${d.sriov.vfs.length ? `: ${d.sriov.vfs.join(' ')}` : ''}`,
    );
  if (d.physfn) out.push(`  SR-IOV VF of ${d.physfn}`);
  for (const n of d.net) {
    out.push(
      `  interface ${n.name}: mac ${n.mac ?? '?'}, ${n.operstate ?? '?'}, addresses ${n.addresses.join(' ') || 'none'}${n.defaultRoutes.length ? `, default route ${n.defaultRoutes.join(', ')}` : ''}${n.uppers.length ? `, port of ${n.uppers.join(', ')}` : ''}`,
    );
  }
  for (const b of d.block) {
    out.push(
      `  disk ${b.name}: partitions ${b.partitions.join(' ') || 'none'}; ${b.mounts.length ? `in use: ${b.mounts.map((m) => `${m.device} on ${m.mountPoint}`).join(', ')}` : 'not mounted'}`,
    );
  }
  out.push(`verdict: ${a.verdict}`);
  if (a.reasons.length === 0) out.push('  nothing stands in the way');
  for (const reason of a.reasons) {
    out.push(`  ${MARK[reason.severity]} ${reason.code}: ${reason.message}`);
    for (const e of reason.evidence) out.push(`      ${e}`);
  }
  return out;
}
