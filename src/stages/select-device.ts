import { inputError } from '../errors.js';
import type { Host } from '../host/host.js';
import { canonicalAddress } from '../pci/address.js';
import type { Inventory } from '../pci/inventory.js';
import type { Stage } from '../pipeline/stage.js';
import type { InstallState, SelectedDevice } from '../pipeline/state.js';
import type { HostdevRequest, InstallRequest } from '../request/request.js';
import { mediaRequestOf } from './resolve-media.js';
import { need } from '../pipeline/stage.js';

async function describe(
  host: Host,
  address: string,
): Promise<Omit<SelectedDevice, keyof HostdevRequest | 'address'> | null> {
  const dir = `/sys/bus/pci/devices/${address}`;
  if (!(await host.exists(dir))) return null;
  const hex = async (f: string): Promise<string> =>
    ((await host.readTrimmed(`${dir}/${f}`)) ?? '').replace(/^0x/, '');
  const [vendor, device, sv, sd] = await Promise.all([
    hex('vendor'),
    hex('device'),
    hex('subsystem_vendor'),
    hex('subsystem_device'),
  ]);
  const ifaces = await host.list(`${dir}/net`);
  const mac = ifaces.length ? await host.readTrimmed(`${dir}/net/${ifaces[0]}/address`) : null;
  return {
    vendorDevice: `${vendor}:${device}`,
    ...(mac ? { mac } : {}),
    ...(sv && sd ? { subsystem: `${sv}:${sd}` } : {}),
    driver: await host.linkName(`${dir}/driver`),
    iommuGroup: await host.linkName(`${dir}/iommu_group`),
  };
}

/**
 * The media after a fallback (media/fallback.ts decides): network media are replaced by
 * --fallback-location when given; local media stay. A guest with a bridge still reaches the network.
 */
async function fallbackMediaFor(
  req: InstallRequest,
  why: string,
): Promise<{ location?: string; note: string }> {
  const { chooseFallback } = await import('../media/fallback.js');
  const decision = chooseFallback({
    request: mediaRequestOf(req),
    nic: { status: 'none-assignable', why },
    ...(req.fallbackLocation ? { fallbackLocation: req.fallbackLocation } : {}),
    userNetworking: req.network.kind !== 'none',
  });
  if (decision.fellBack && decision.media.location)
    return {
      location: decision.media.location,
      note: `the local media ${decision.media.location} (--fallback-location) instead`,
    };
  return { note: 'its own media' };
}

type Picked =
  | { kind: 'device'; address: string }
  | { kind: 'none'; message: string; refused: { address: string; why: string }[] };

/** With --connect: the libvirt host's inventory (its nodedevs), read once per run. */
async function libvirtInventory(state: InstallState, host: Host): Promise<Inventory | undefined> {
  if (!state.libvirt) return undefined;
  const [{ connectionFor }, { listLibvirtDevices }] = await Promise.all([
    import('../libvirt/install.js'),
    import('../libvirt/nodedev.js'),
  ]);
  return listLibvirtDevices(await connectionFor(state.libvirt), host);
}

/** A device of the libvirt host's inventory, described as describe() does from sysfs. */
function describeFrom(
  inv: Inventory,
  address: string,
): Omit<SelectedDevice, keyof HostdevRequest | 'address'> | null {
  const d = inv.devices.find((x) => x.address === address);
  if (!d) return null;
  const mac = d.net[0]?.mac;
  return {
    vendorDevice: `${d.vendorId}:${d.deviceId}`,
    ...(mac ? { mac } : {}),
    ...(d.subsystemVendorId && d.subsystemDeviceId
      ? { subsystem: `${d.subsystemVendorId}:${d.subsystemDeviceId}` }
      : {}),
    driver: d.driver,
    iommuGroup: d.iommuGroup === null ? null : String(d.iommuGroup),
  };
}

async function pickFromInventory(
  host: Host,
  selector: string,
  given: Inventory | undefined,
  force: boolean,
): Promise<Picked> {
  const [{ listDevices }, { parseHostdevSpec, selectHostdev, requireAssignable }] = await Promise.all([
    import('../pci/inventory.js'),
    import('../pci/hostdev-spec.js'),
  ]);
  const inventory = given ?? (await listDevices(host));
  const sel = selectHostdev(parseHostdevSpec(selector), inventory, { force });
  if (sel.kind === 'none') {
    return {
      kind: 'none',
      message: sel.message,
      refused: sel.refused.map((r) => ({
        address: r.address,
        why: r.assessment.reasons
          .filter((x) => x.severity === 'block')
          .map((x) => x.code)
          .join(', '),
      })),
    };
  }
  requireAssignable(sel.device, sel.assessment);
  return { kind: 'device', address: sel.device.address };
}

/**
 * Resolves each --hostdev to a host PCI function: explicit addresses directly; `auto`, vendor:device
 * and interface names through the inventory and its verdicts. When `auto` finds no assignable NIC
 * the install falls back (user networking, local media) and the plan and report say why. In a dry
 * run an explicit device missing from this host is planned with a warning.
 */
export const selectDevice: Stage<InstallState> = {
  name: 'select-device',
  changesHost: false,
  needs: ['request'],
  async run({ state, host, dryRun, log }) {
    const req = need(state, 'request');
    const devices: SelectedDevice[] = [];
    const warnings = [...(state.warnings ?? [])];
    let fallbackReason: string | undefined;
    let fallbackMedia: { location: string } | undefined;
    const remoteInv = req.hostdevs.length ? await libvirtInventory(state, host) : undefined;
    for (const h of req.hostdevs) {
      let address = canonicalAddress(h.selector);
      if (!address) {
        // auto, vendor:device, interface name: resolved against the inventory (the same code as hostdev list)
        const picked = await pickFromInventory(host, h.selector, remoteInv, req.force);
        if (picked.kind === 'none') {
          const refused = picked.refused.map((r) => `${r.address}: ${r.why}`).join('; ');
          const why = `--hostdev ${h.selector}: ${picked.message}${refused ? ` (${refused})` : ''}`;
          const media = await fallbackMediaFor(req, why);
          if (media.location) fallbackMedia = { location: media.location };
          const note = `${why}; installing with ${req.network.kind === 'none' ? 'no' : req.network.kind} networking and ${media.note}`;
          warnings.push(note);
          log.warn(`warning: ${note}`);
          fallbackReason = note;
          continue;
        }
        address = picked.address;
      }
      if (devices.some((d) => d.address === address)) {
        throw inputError('DUPLICATE_HOSTDEV', `--hostdev ${address} is given twice`, {
          hint: 'assign each device once',
        });
      }
      const { selector: _s, ...opts } = h;
      const found = remoteInv ? describeFrom(remoteInv, address) : await describe(host, address);
      if (!found) {
        if (!dryRun) {
          throw inputError(
            'HOSTDEV_NOT_FOUND',
            `--hostdev '${h.selector}': no PCI device ${address} on ${state.libvirt ? state.libvirt.uri : 'this host'}`,
            { hint: 'see install-guest hostdev list' },
          );
        }
        const note = `device ${address} is not present on this host: a real run would stop with HOSTDEV_NOT_FOUND`;
        warnings.push(note);
        log.warn(`warning: ${note}`);
        devices.push({ address, ...opts, note });
        continue;
      }
      devices.push({ address, ...opts, ...found });
    }
    return {
      devices,
      network: req.network,
      warnings,
      ...(fallbackReason ? { fallbackReason } : {}),
      ...(fallbackMedia ? { fallbackMedia } : {}),
    };
  },
};
