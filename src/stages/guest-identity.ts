/**
 * What the guest is told about itself, the same in an answer file and in cloud-init's user-data:
 * the MAC its NIC is configured by, and its host name.
 */
import { need } from '../pipeline/stage.js';
import type { InstallState } from '../pipeline/state.js';

/**
 * The MAC install-guest configures: the assigned NIC's own (read on the host before the detach),
 * else the emulated NIC's; none without a network.
 */
export function guestNicMac(
  state: Pick<InstallState, 'devices' | 'prepared' | 'network' | 'request' | 'mac'>,
): string | undefined {
  const assigned = (state.prepared ?? state.devices ?? []).find((d) => d.mac);
  if (assigned?.mac) return assigned.mac;
  const net = state.network ?? need(state, 'request').network;
  return net.kind === 'none' ? undefined : (net.mac ?? state.mac);
}

/** A host name (RFC 1123 label) from a guest name: lower case, [a-z0-9-], at most 63 characters. */
export function guestHostname(name: string): string {
  const h = name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63);
  return h || 'guest';
}
