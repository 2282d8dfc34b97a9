/** Plain inventory data for the pure decision tests (no file system involved). */
import type { Inventory, NetInterface, PciDevice } from '../../../src/pci/inventory.js';

export function dev(address: string, over: Partial<PciDevice> = {}): PciDevice {
  return {
    address,
    vendorId: '8086',
    deviceId: '1533',
    subsystemVendorId: '8086',
    subsystemDeviceId: '0001',
    classCode: '020000',
    className: 'Ethernet controller',
    classKind: 'net',
    revision: '03',
    headerType: 'endpoint',
    multifunction: false,
    driver: 'igb',
    driverOverride: null,
    driverOverrideSupported: true,
    iommuGroup: 1,
    numaNode: -1,
    parent: null,
    sysfsPath: `/sys/devices/pci0000:00/${address}`,
    sriov: null,
    physfn: null,
    net: [],
    block: [],
    reset: {
      methods: ['flr', 'bus'],
      pcieFlr: true,
      afFlr: null,
      pmNoSoftReset: true,
      busResetPossible: true,
      capabilitiesRead: true,
    },
    config: { state: 'ok', size: 4096 },
    bootVga: null,
    ...over,
  };
}

export function iface(name: string, over: Partial<NetInterface> = {}): NetInterface {
  return {
    name,
    mac: '52:54:00:00:00:01',
    operstate: 'down',
    addresses: [],
    defaultRoutes: [],
    uppers: [],
    ...over,
  };
}

export function bridge(address: string, over: Partial<PciDevice> = {}): PciDevice {
  return dev(address, {
    classCode: '060400',
    className: 'PCI bridge',
    classKind: 'bridge',
    headerType: 'bridge',
    driver: 'pcieport',
    ...over,
  });
}

/** An inventory whose groups follow the devices' iommuGroup fields. */
export function inventory(devices: PciDevice[], over: Partial<Inventory> = {}): Inventory {
  const groups: Record<string, string[]> = {};
  for (const d of devices) if (d.iommuGroup !== null) (groups[String(d.iommuGroup)] ??= []).push(d.address);
  return {
    devices,
    groups,
    iommu: {
      enabled: devices.some((d) => d.iommuGroup !== null),
      units: ['dmar0'],
      groupCount: Object.keys(groups).length,
    },
    defaultRoutes: {},
    vfioUsers: {},
    ...over,
  };
}
