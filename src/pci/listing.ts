/**
 * The host's PCI functions with every function's assignability verdict: what `hostdev list` shows and
 * the interactive install's device step offers.
 */
import type { Host } from '../host/host.js';
import type { AssessContext, Assessment } from './assignability.js';
import type { Inventory } from './inventory.js';

/**
 * The inventory and every function's verdict, as `hostdev list` shows them. The interactive install's
 * device list calls this too, so both show the same devices with the same reasons.
 */
export async function readListing(
  host: Host,
  context: AssessContext = {},
  /** an inventory read elsewhere (a libvirt connection's nodedevs); default: the host's sysfs */
  given?: Inventory,
): Promise<{ inventory: Inventory; assessments: Map<string, Assessment> }> {
  const [{ listDevices }, { assessAll }] = await Promise.all([
    import('./inventory.js'),
    import('./assignability.js'),
  ]);
  const inventory = given ?? (await listDevices(host));
  return { inventory, assessments: assessAll(inventory, context) };
}
