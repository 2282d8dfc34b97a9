import { inputError } from '../errors.js';
import type { Stage } from '../pipeline/stage.js';
import type { DetachPlan, InstallState, SelectedDevice } from '../pipeline/state.js';
import type { PreparedDevice } from '../pci/session.js';
import { need } from '../pipeline/stage.js';

/**
 * The devices the install assigns: the selected ones on the stub driver, then (--group) the other
 * endpoint members of their IOMMU groups that preparation detaches: what is detached is assigned.
 */
function preparedOf(
  selected: readonly SelectedDevice[],
  devices: readonly PreparedDevice[],
): SelectedDevice[] {
  const byAddress = new Map(selected.map((d) => [d.address, d]));
  return devices.map((p) => {
    const d = byAddress.get(p.address);
    if (d) return { ...d, driver: p.driver };
    return {
      address: p.address,
      ...(p.vendorDevice ? { vendorDevice: p.vendorDevice } : {}),
      driver: p.driver,
      iommuGroup: p.iommuGroup,
      note: `member of IOMMU group ${p.iommuGroup} (--group)`,
    };
  });
}

/** Every device the preparation detaches (or finds on the stub already): from which driver, and why. */
function detachOf(devices: readonly PreparedDevice[]): DetachPlan[] {
  return devices.map((p) => ({
    address: p.address,
    ...(p.vendorDevice ? { vendorDevice: p.vendorDevice } : {}),
    from: p.original.driver,
    to: p.driver,
    why: p.requested ? 'requested' : `member of IOMMU group ${p.iommuGroup} (--group)`,
    change: p.changed,
  }));
}

/**
 * Detaches the selected devices from their host drivers and binds them to vfio-pci (journaled,
 * leased, rolled back on any failure or interruption); cleanup gives them back to their original
 * drivers, unless --keep-device and the install succeeded. A dry run plans the binding only.
 */
export const prepareDevice: Stage<InstallState> = {
  name: 'prepare-device',
  changesHost: true,
  needs: ['request'],
  /**
   * A dry run runs the preparation's read-only checks (pci/prepare.ts steps 1, 2, 4, 5: the device,
   * the leases of live runs, group viability, the host guards) through the same function the real run calls, so it stops
   * with the same error; it lists every device it would detach, group members included. A device
   * absent from this host (select-device warned) is left out of the checks.
   */
  async plan({ state, host, log }) {
    const all = state.devices ?? [];
    if (all.length === 0) return { prepared: [], detach: [] };
    // with --connect, libvirt prepares the managed ones itself (run() says why)
    const byLibvirt = state.libvirt ? all.filter((d) => d.managed !== false) : [];
    const devices = all.filter((d) => !byLibvirt.includes(d));
    if (devices.length === 0) return { prepared: byLibvirt, detach: [] };
    const req = need(state, 'request');
    const present = devices.filter((d) => d.vendorDevice !== undefined);
    const { defaultStateDir, planPreparation } = await import('../pci/prepare.js');
    const plan = await planPreparation(
      {
        host,
        // the leases the real run would take: a device a live run holds is DEVICE_BUSY here too
        stateDir: req.stateDir ?? defaultStateDir(host),
        addresses: present.map((d) => d.address),
        driver: req.hostdevDriver,
        group: req.groupBind,
        force: req.force,
      },
      log,
    );
    const absent = devices.filter((d) => d.vendorDevice === undefined).map((d) => ({ ...d }));
    return {
      prepared: [
        ...byLibvirt,
        ...[...preparedOf(present, plan.devices), ...absent].map((d) =>
          state.libvirt ? { ...d, managed: false } : d,
        ),
      ],
      detach: detachOf(plan.devices),
      ...(plan.warnings.length > 0 ? { warnings: [...(state.warnings ?? []), ...plan.warnings] } : {}),
    };
  },
  async run({ state, host, log, signal, record }) {
    const all = state.devices ?? [];
    if (all.length === 0) return { prepared: [] };
    // with --connect, <hostdev managed='yes'> (the default): libvirt detaches, resets and gives the
    // device back itself, so install-guest does not prepare it too; managed=no: install-guest does
    const byLibvirt = state.libvirt ? all.filter((d) => d.managed !== false) : [];
    const devices = all.filter((d) => !byLibvirt.includes(d));
    if (byLibvirt.length > 0)
      log.info(`libvirt manages ${byLibvirt.map((d) => d.address).join(', ')} (detach, reset, give back)`);
    if (devices.length === 0) return { prepared: byLibvirt };
    if (state.libvirt && !state.libvirt.local)
      throw inputError(
        'NOT_IMPLEMENTED',
        `--hostdev ${devices.map((d) => d.address).join(', ')},managed=no: install-guest binds a device itself only on this machine, not on ${state.libvirt.uri}`,
        {
          hint: 'leave managed=no out: libvirt on that host detaches and gives back the device (managed=yes)',
        },
      );
    const req = need(state, 'request');
    const { defaultStateDir, prepareDevices } = await import('../pci/prepare.js');
    const session = await prepareDevices({
      host,
      stateDir: req.stateDir ?? defaultStateDir(host),
      addresses: devices.map((d) => d.address),
      driver: req.hostdevDriver,
      group: req.groupBind,
      force: req.force,
      guest: req.name,
      command: 'install',
      signal,
      log,
    });
    record({ deviceSession: session });
    // under libvirt, everything install-guest bound (group members too) is <hostdev managed='no'>
    const mine = preparedOf(devices, session.devices).map((d) =>
      state.libvirt ? { ...d, managed: false } : d,
    );
    return {
      prepared: [...byLibvirt, ...mine],
      detach: detachOf(session.devices),
      ...(session.warnings.length > 0 ? { warnings: [...(state.warnings ?? []), ...session.warnings] } : {}),
    };
  },
  async cleanup({ state, log }, outcome) {
    const session = state.deviceSession;
    if (!session) return;
    if (state.request?.keepDevice && outcome === 'success') {
      await session.keep();
      const kept = session.devices.filter((d) => d.changed).map((d) => d.address);
      if (kept.length > 0) {
        log.info(
          `kept on ${session.devices[0]!.driver} (--keep-device): ${kept.join(', ')}; give back with install-guest hostdev reattach`,
        );
      }
      return;
    }
    await session.release();
  },
};
