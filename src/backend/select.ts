/** Which backend runs this install's boots (kept apart from types.ts so the implementations can import the types). */
import type { InstallState } from '../pipeline/state.js';
import type { GuestBackend } from './types.js';

/** The backend for this install: libvirt when the state has a connection, else qemu run directly. */
export async function backendFor(state: Pick<InstallState, 'libvirt'>): Promise<GuestBackend> {
  if (state.libvirt) return (await import('./libvirt.js')).libvirtBackend;
  return (await import('./qemu.js')).qemuBackend;
}
