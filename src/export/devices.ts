/** The assigned devices of a request as exports need them: address (libvirt) and vendor:device (KubeVirt). */
import { inputError } from '../errors.js';
import type { Host } from '../host/host.js';
import type { HostdevRequest } from '../request/request.js';
import { canonicalAddress } from '../pci/address.js';
import type { ExportDevice } from './libvirt.js';

/** vendor:device of a host PCI function read through the Host (null when it is not on this host). */
export async function hostVendorDevice(host: Host, address: string): Promise<string | null> {
  const dir = `/sys/bus/pci/devices/${address}`;
  const [v, d] = await Promise.all([host.readTrimmed(`${dir}/vendor`), host.readTrimmed(`${dir}/device`)]);
  if (!v || !d) return null;
  return `${v.replace(/^0x/i, '')}:${d.replace(/^0x/i, '')}`.toLowerCase();
}

/**
 * Each --hostdev of a request as an export device. Exports name devices by PCI address, so other
 * selectors (vendor:device, interface, auto) must have been resolved to an address first.
 */
export async function exportDevicesOf(
  host: Host,
  hostdevs: readonly HostdevRequest[],
): Promise<ExportDevice[]> {
  const out: ExportDevice[] = [];
  for (const h of hostdevs) {
    const address = canonicalAddress(h.selector);
    if (!address)
      throw inputError(
        'DEVICE_UNRESOLVED',
        `--hostdev '${h.selector}': an exported guest names its devices by PCI address, and this one is chosen only at run time`,
        { hint: 'give the PCI address (e.g. 0000:03:00.0), or for a batch an --inventory to plan against' },
      );
    const vendorDevice = await hostVendorDevice(host, address);
    out.push({
      address,
      ...(vendorDevice ? { vendorDevice } : {}),
      ...(h.romBar !== undefined ? { romBar: h.romBar } : {}),
      ...(h.romFile ? { romFile: h.romFile } : {}),
    });
  }
  return out;
}
