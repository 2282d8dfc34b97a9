/**
 * The batch's device pool read from the host itself: the same PCI inventory and verdicts as
 * `install-guest hostdev list` (src/pci/inventory.ts, src/pci/assignability.ts), through the Host
 * boundary, so `--host-root` points it at a captured snapshot or a fixture tree.
 *
 * Which functions join the pool is decided whole IOMMU group at a time (pure, `poolFromInventory`):
 * a group joins when every endpoint in it could be assigned on its own merits. A group that is "not
 * viable" only because its other endpoints are still on host drivers joins too: the pool hands the
 * whole group to one guest, whose install detaches the other members with it (`--group`). A group
 * with one endpoint that must stay on the host (default route, mounted disk, management interface,
 * already assigned, leased) stays out entirely, as do bridges and functions in no IOMMU group.
 */
import type { Host } from '../host/host.js';
import type { Assessment } from '../pci/assignability.js';
import type { Inventory, PciDevice } from '../pci/inventory.js';
import type { PoolDevice } from './pool.js';

/** A host function that did not join the pool, and why. */
export interface PoolExclusion {
  address: string;
  vendorDevice: string;
  class: string;
  /** the blocking reason codes, e.g. DEFAULT_ROUTE, or GROUP_MEMBER_BLOCKED with the member */
  why: string[];
}

export interface HostPool {
  devices: PoolDevice[];
  excluded: PoolExclusion[];
  /** false when the host shows no IOMMU groups at all (no device can be assigned) */
  iommu: boolean;
}

/** verdict reasons about the group's other members: the pool takes care of those by holding the group */
const GROUP_REASONS = new Set(['IOMMU_GROUP_NOT_VIABLE']);

const isBridge = (d: PciDevice): boolean =>
  d.headerType === 'bridge' || d.headerType === 'cardbus' || d.classKind === 'bridge';

const poolDevice = (d: PciDevice): PoolDevice => ({
  address: d.address,
  vendorDevice: `${d.vendorId}:${d.deviceId}`.toLowerCase(),
  class: `0x${d.classCode}`,
  iommuGroup: d.iommuGroup === null ? null : String(d.iommuGroup),
  ...(d.net.length ? { interfaces: d.net.map((n) => n.name) } : {}),
});

/** Pure: the pool a host's inventory and verdicts give, group by group. */
export function poolFromInventory(inv: Inventory, assessments: ReadonlyMap<string, Assessment>): HostPool {
  const ownBlocks = (d: PciDevice): string[] =>
    (assessments.get(d.address)?.reasons ?? [])
      .filter((r) => r.severity === 'block' && !GROUP_REASONS.has(r.code))
      .map((r) => r.code);
  const devices: PoolDevice[] = [];
  const excluded: PoolExclusion[] = [];
  const exclude = (d: PciDevice, why: string[]): void => {
    excluded.push({
      address: d.address,
      vendorDevice: poolDevice(d).vendorDevice,
      class: `0x${d.classCode}`,
      why,
    });
  };
  const endpoints = inv.devices.filter((d) => !isBridge(d));
  for (const d of inv.devices.filter(isBridge)) exclude(d, ['IS_BRIDGE']);
  for (const d of endpoints) {
    const own = ownBlocks(d);
    if (own.length) {
      exclude(d, own);
      continue;
    }
    // d is fine on its own; its group joins only if every other endpoint in it is fine too
    const others =
      d.iommuGroup === null
        ? []
        : endpoints.filter((m) => m !== d && m.iommuGroup === d.iommuGroup && ownBlocks(m).length > 0);
    if (others.length) {
      exclude(
        d,
        others.map((m) => `GROUP_MEMBER_BLOCKED ${m.address} (${ownBlocks(m).join(', ')})`),
      );
      continue;
    }
    devices.push(poolDevice(d));
  }
  const byAddress = (a: { address: string }, b: { address: string }): number =>
    a.address.localeCompare(b.address);
  return { devices: devices.sort(byAddress), excluded: excluded.sort(byAddress), iommu: inv.iommu.enabled };
}

/** The pool of this host: `listDevices` and `assessAll` (what `hostdev list` shows), then poolFromInventory. */
export async function readHostPool(
  host: Host,
  context: { mgmtIfaces?: readonly string[] } = {},
): Promise<HostPool> {
  const [{ listDevices }, { assessAll }] = await Promise.all([
    import('../pci/inventory.js'),
    import('../pci/assignability.js'),
  ]);
  const inv = await listDevices(host);
  return poolFromInventory(inv, assessAll(inv, context.mgmtIfaces ? { mgmtIfaces: context.mgmtIfaces } : {}));
}

/**
 * The pool of a libvirt host: its node devices (`nodedev-list --cap pci` + `nodedev-dumpxml`) and
 * the same verdicts. For a URI without a host (qemu:///system) this machine's own facts (routes,
 * mounts) are merged in; for a remote host the guards libvirt cannot check are unknown, so its NICs
 * and storage controllers stay out of the pool unless `force`.
 */
export async function readLibvirtHostPool(
  uri: string,
  host: Host,
  context: { mgmtIfaces?: readonly string[]; force?: boolean; signal?: AbortSignal } = {},
): Promise<HostPool> {
  const [{ LibvirtConnection }, { listLibvirtDevices }, { assessAll }] = await Promise.all([
    import('../libvirt/connection.js'),
    import('../libvirt/nodedev.js'),
    import('../pci/assignability.js'),
  ]);
  const conn = new LibvirtConnection(uri);
  await conn.check(context.signal);
  const inv = await listLibvirtDevices(conn, conn.local ? host : undefined, context.signal);
  return poolFromInventory(
    inv,
    assessAll(inv, {
      ...(context.mgmtIfaces ? { mgmtIfaces: context.mgmtIfaces } : {}),
      ...(context.force ? { force: true } : {}),
    }),
  );
}
