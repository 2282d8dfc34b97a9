/** The QMP commands install-guest runs, typed: status, the guest's PCI tree, eject, powerdown, quit. */
import { InstallGuestError } from '../../errors.js';
import type { ExecuteOptions, QmpClient } from './client.js';

export interface QemuStatus {
  /** `running`, `paused`, `shutdown`, `guest-panicked`, `prelaunch`, … */
  status: string;
  running: boolean;
}

export async function queryStatus(qmp: QmpClient): Promise<QemuStatus> {
  const r = await qmp.execute<{ status: string; running: boolean }>('query-status');
  return { status: r.status, running: r.running };
}

/** Opens a removable drive's tray and removes its medium (`-device …,id=QDEV_ID`); forced, as a guest may lock the tray. */
export async function eject(qmp: QmpClient, qdevId: string): Promise<void> {
  await qmp.execute('eject', { id: qdevId, force: true });
}

/** One PCI function on the guest's buses, as qemu sees it (host-side proof of what the guest has). */
export interface GuestPciDevice {
  /** `0000:bb:ss.f`, lowercase hex; qemu's query-pci reports domain 0 */
  address: string;
  bus: number;
  slot: number;
  function: number;
  vendorId: number;
  deviceId: number;
  /** `vvvv:dddd` lowercase hex */
  id: string;
  subsystemVendorId: number | undefined;
  subsystemId: number | undefined;
  /** 16-bit class (base class and subclass, no prog-if), e.g. 0x0200 */
  classCode: number;
  /** qemu's class description (`Ethernet controller`), when it has one */
  classDesc: string | undefined;
  /** the `-device …,id=` of the device, `''` when none was given */
  qdevId: string;
  /** the address of the bridge this function sits behind, when not on a root bus */
  parent: string | undefined;
}

interface RawPciDevice {
  bus: number;
  slot: number;
  function: number;
  class_info: { class: number; desc?: string };
  id: { vendor: number; device: number; subsystem?: number; 'subsystem-vendor'?: number };
  qdev_id: string;
  pci_bridge?: { bus: { number: number }; devices?: RawPciDevice[] };
}

const hex = (n: number, width: number): string => n.toString(16).padStart(width, '0');

export function pciAddress(bus: number, slot: number, fn: number): string {
  return `0000:${hex(bus, 2)}:${hex(slot, 2)}.${fn.toString(16)}`;
}

/** Flattens query-pci's answer (root buses, devices, devices behind bridges) into one list. */
export function flattenQueryPci(
  buses: readonly { bus: number; devices: RawPciDevice[] }[],
): GuestPciDevice[] {
  const out: GuestPciDevice[] = [];
  const walk = (devices: readonly RawPciDevice[], parent: string | undefined): void => {
    for (const d of devices) {
      const address = pciAddress(d.bus, d.slot, d.function);
      out.push({
        address,
        bus: d.bus,
        slot: d.slot,
        function: d.function,
        vendorId: d.id.vendor,
        deviceId: d.id.device,
        id: `${hex(d.id.vendor, 4)}:${hex(d.id.device, 4)}`,
        subsystemVendorId: d.id['subsystem-vendor'],
        subsystemId: d.id.subsystem,
        classCode: d.class_info.class,
        classDesc: d.class_info.desc,
        qdevId: d.qdev_id,
        parent,
      });
      if (d.pci_bridge?.devices) walk(d.pci_bridge.devices, address);
    }
  };
  for (const b of buses) walk(b.devices, undefined);
  return out;
}

export async function queryPci(qmp: QmpClient): Promise<GuestPciDevice[]> {
  const r = await qmp.execute<{ bus: number; devices: RawPciDevice[] }[]>('query-pci');
  return flattenQueryPci(r);
}

/** Presses the virtual power button (ACPI); the guest decides what to do. */
export async function systemPowerdown(qmp: QmpClient): Promise<void> {
  await qmp.execute('system_powerdown');
}

/** Asks qemu to exit. A connection closed before the reply counts as done. */
export async function quit(qmp: QmpClient, opts: ExecuteOptions = {}): Promise<void> {
  try {
    await qmp.execute('quit', undefined, opts);
  } catch (e) {
    if (e instanceof InstallGuestError && e.code === 'QMP_DISCONNECTED') return;
    throw e;
  }
}
