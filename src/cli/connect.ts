/**
 * `--connect URI` (virt-install's option; LIBVIRT_DEFAULT_URI when absent): the commands that read
 * or use a host's devices do it through that libvirt connection instead of this host's sysfs.
 */
import type { Argv } from 'yargs';
import type { Host } from '../host/host.js';
import type { LibvirtConnection } from '../libvirt/connection.js';
import type { Inventory, ListOptions } from '../pci/inventory.js';
import type { Args, CommandContext } from './command.js';

export function connectOption(y: Argv, group?: string): Argv {
  return y.option('connect', {
    ...(group ? { group } : {}),
    type: 'string',
    describe:
      'libvirt URI of the host to work on (default $LIBVIRT_DEFAULT_URI; none: this host, qemu run directly)   e.g. --connect qemu:///system, --connect qemu+ssh://root@host/system',
  });
}

/** The connection the command's --connect / LIBVIRT_DEFAULT_URI names, checked to answer; undefined: none. */
export async function connectionOf(args: Args, ctx: CommandContext): Promise<LibvirtConnection | undefined> {
  const { resolveConnectUri, LibvirtConnection } = await import('../libvirt/connection.js');
  const uri = resolveConnectUri(args.connect, ctx.deps.env);
  if (uri === undefined) return undefined;
  const conn = new LibvirtConnection(uri);
  await conn.check(ctx.deps.signal);
  return conn;
}

/** The PCI inventory of the connection (libvirt nodedevs) or, without one, of this host (sysfs). */
export async function inventoryOf(
  conn: LibvirtConnection | undefined,
  host: Host,
  options: ListOptions = {},
): Promise<Inventory> {
  if (conn) {
    const { listLibvirtDevices } = await import('../libvirt/nodedev.js');
    return listLibvirtDevices(conn, host);
  }
  const { listDevices } = await import('../pci/inventory.js');
  return listDevices(host, options);
}
