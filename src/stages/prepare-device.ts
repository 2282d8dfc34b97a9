import type { Stage } from '../pipeline/stage.js';
import type { InstallState, SelectedDevice } from '../pipeline/state.js';
import type { PreparedSession } from '../pci/prepare.js';

/**
 * The prepared devices of each running install, keyed by the run's raw arguments (one object per
 * run, carried unchanged through the state), so cleanup finds what run bound.
 */
const sessions = new WeakMap<object, PreparedSession>();

/**
 * Detaches the selected devices from their host drivers and binds them to vfio-pci (journaled,
 * leased, rolled back on any failure or interruption); cleanup gives them back to their original
 * drivers, unless --keep-device and the install succeeded. A dry run plans the binding only.
 */
export const prepareDevice: Stage<InstallState> = {
  name: 'prepare-device',
  changesHost: true,
  plan: ({ state }) => ({ prepared: state.devices ?? [] }),
  async run({ state, host, log, signal }) {
    const devices = state.devices ?? [];
    if (devices.length === 0) return { prepared: [] };
    if (state.libvirt) {
      // <hostdev managed='yes'>: libvirt detaches, resets and gives the device back itself
      log.info(`libvirt manages ${devices.map((d) => d.address).join(', ')} (detach, reset, give back)`);
      return { prepared: devices };
    }
    const req = state.request!;
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
    sessions.set(state.raw, session);
    const prepared: SelectedDevice[] = devices.map((d) => ({ ...d, driver: req.hostdevDriver }));
    return {
      prepared,
      ...(session.warnings.length > 0 ? { warnings: [...(state.warnings ?? []), ...session.warnings] } : {}),
    };
  },
  async cleanup({ state, log }, outcome) {
    const session = sessions.get(state.raw);
    if (!session) return;
    sessions.delete(state.raw);
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
