/**
 * The libvirt side of an install (`install --connect URI`), as virt-install does it
 * (virtinst/install/installer.py): the boot media and the guest's disks become volumes in a storage
 * pool (uploaded with vol-upload, so a remote host gets them too), the install runs as a TRANSIENT
 * domain (kernel/initrd/cmdline from the media, on_reboot=destroy), then the PERSISTENT domain (boot
 * from disk, same devices) is defined and booted for the confirmation. Devices are `<hostdev
 * managed='yes'>`: libvirt detaches, resets and gives them back; install-guest's own preparation
 * is not run.
 *
 * Everything this run creates on the host is recorded in `LibvirtState.created` as it happens, so
 * the connect-libvirt stage's cleanup removes it after a failure (the domain undefined, the volumes
 * deleted) and, after a success, only the boot volumes.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { hostError, inputError } from '../errors.js';
import type { InstallState } from '../pipeline/state.js';
import { buildQemuPlan } from '../qemu/command.js';
import { OVMF_CODE, OVMF_VARS } from '../request/request.js';
import { qemuInputs } from '../stages/build-command.js';
import {
  diskTarget,
  libvirtDomainData,
  renderLibvirtXml,
  type LibvirtDomainData,
} from '../export/libvirt.js';
import type { LibvirtConnection } from './connection.js';
import type { LibvirtState } from './state.js';
import { need } from '../pipeline/stage.js';

export type { LibvirtState } from './state.js';

/** A connection for the state's URI. */
export async function connectionFor(lv: Pick<LibvirtState, 'uri'>): Promise<LibvirtConnection> {
  const { LibvirtConnection } = await import('./connection.js');
  return new LibvirtConnection(lv.uri);
}

/** Makes sure the pool exists and runs; creates `default` (a dir pool) as virt-install does. */
export async function ensurePool(conn: LibvirtConnection, pool: string, signal?: AbortSignal): Promise<void> {
  const opt = signal ? { signal } : {};
  const info = await conn.virsh(['pool-info', pool], opt).catch(() => null);
  if (info === null) {
    if (pool !== 'default')
      throw inputError('POOL_NOT_FOUND', `storage pool '${pool}' does not exist on ${conn.uri}`, {
        hint: `see virsh -c ${conn.uri} pool-list --all`,
      });
    await conn.virsh(['pool-define-as', 'default', 'dir', '--target', '/var/lib/libvirt/images'], opt);
    await conn.virsh(['pool-build', 'default'], opt).catch(() => undefined);
    await conn.virsh(['pool-autostart', 'default'], opt).catch(() => undefined);
  }
  if (!/^State:\s+running/m.test(info ?? ''))
    await conn.virsh(['pool-start', pool], opt).catch(() => undefined);
}

async function volumeExists(conn: LibvirtConnection, pool: string, name: string): Promise<boolean> {
  return conn.virsh(['vol-info', '--pool', pool, name]).then(
    () => true,
    () => false,
  );
}

/** Uploads a local file into a new raw volume (vol-create-as + vol-upload); returns its path on the host. */
export async function uploadVolume(
  conn: LibvirtConnection,
  lv: LibvirtState,
  file: string,
  name: string,
  signal?: AbortSignal,
): Promise<string> {
  const opt = signal ? { signal } : {};
  const size = (await stat(file)).size;
  if (await volumeExists(conn, lv.pool, name)) await conn.virsh(['vol-delete', '--pool', lv.pool, name], opt);
  await conn.virsh(['vol-create-as', lv.pool, name, `${Math.max(size, 1)}b`, '--format', 'raw'], opt);
  lv.created.volumes.push({ name, pool: lv.pool, boot: true });
  await conn.virsh(['vol-upload', '--pool', lv.pool, name, file], { ...opt, timeoutMs: 600_000 });
  return (await conn.virsh(['vol-path', '--pool', lv.pool, name], opt)).trim();
}

/**
 * The pool of the boot media and of new disks without `pool=` (pure): the first disk's `pool=`,
 * else `default`, as virt-install picks it. `named` says whether the user chose it.
 */
export function mainPool(disks: readonly { pool?: string; sizeGiB?: number }[]): {
  pool: string;
  named: boolean;
} {
  const p = disks.find((d) => d.pool !== undefined)?.pool;
  return p === undefined ? { pool: 'default', named: false } : { pool: p, named: true };
}

/**
 * A remote boot's console file: an empty raw volume in the main pool (removed after the run like the
 * boot media), which qemu writes and install-guest reads through the connection.
 */
export async function consoleVolumeFor(
  conn: LibvirtConnection,
  state: InstallState,
  phase: 'install' | 'confirm',
  signal?: AbortSignal,
): Promise<{ name: string; path: string }> {
  const lv = need(state, 'libvirt');
  const opt = signal ? { signal } : {};
  const name = `${need(state, 'request').name.replace(/[^A-Za-z0-9_.-]/g, '_')}-${phase}-console.log`;
  if (await volumeExists(conn, lv.pool, name)) await conn.virsh(['vol-delete', '--pool', lv.pool, name], opt);
  await conn.virsh(['vol-create-as', lv.pool, name, '0', '--format', 'raw'], opt);
  lv.created.volumes.push({ name, pool: lv.pool, boot: true });
  return { name, path: (await conn.virsh(['vol-path', '--pool', lv.pool, name], opt)).trim() };
}

/**
 * The guest's disks on the libvirt host: a disk with a size becomes a new volume (named after the
 * file, as virt-install names it) in its `pool=` or the main pool; an existing path is used as it
 * is. Every pool is checked first (POOL_NOT_FOUND for a named one that does not exist), so a
 * missing pool stops the run before any volume is created.
 */
export async function createPoolDisks(
  conn: LibvirtConnection,
  state: InstallState,
  signal?: AbortSignal,
): Promise<void> {
  const lv = need(state, 'libvirt');
  const opt = signal ? { signal } : {};
  const disks = need(state, 'request').disks;
  const poolOf = (d: { pool?: string }): string => d.pool ?? lv.pool;
  for (const pool of new Set([lv.pool, ...disks.filter((d) => d.sizeGiB !== undefined).map(poolOf)]))
    await ensurePool(conn, pool, signal);
  for (const d of disks) {
    if (d.sizeGiB === undefined) {
      lv.diskPaths[d.path] = d.path;
      continue;
    }
    const pool = poolOf(d);
    const name = path.basename(d.path);
    if (await volumeExists(conn, pool, name))
      throw inputError('VOLUME_EXISTS', `volume '${name}' already exists in pool '${pool}' on ${conn.uri}`, {
        hint: `choose another --name or --disk path, or remove it: virsh vol-delete --pool ${pool} ${name}`,
      });
    await conn.virsh(
      ['vol-create-as', pool, name, `${Math.ceil(d.sizeGiB * 1024)}M`, '--format', d.format],
      opt,
    );
    lv.created.volumes.push({ name, pool, boot: false });
    lv.diskPaths[d.path] = (await conn.virsh(['vol-path', '--pool', pool, name], opt)).trim();
  }
}

/**
 * The domain XML of one boot (pure but for the uploaded media paths given): the request's guest
 * with its volumes, the emulated NIC's MAC and the uuid the qemu path uses; the install boot adds
 * the media and on_reboot=destroy, the confirm boot the cloud-init seed (`media.cdroms`); the
 * serial console goes to `serialFile` when given.
 */
export function domainXml(
  state: InstallState,
  phase: 'install' | 'confirm',
  media: { kernel?: string; initrd?: string; cdroms: string[] },
  serialFile: string | undefined,
): string {
  const lv = need(state, 'libvirt');
  const req = need(state, 'request');
  const devices = (state.prepared ?? state.devices ?? []).map((d) => ({
    address: d.address,
    ...(d.romBar !== undefined ? { romBar: d.romBar } : {}),
    ...(d.romFile ? { romFile: d.romFile } : {}),
    ...(d.managed === false ? { unmanaged: true } : {}),
  }));
  const disks = req.disks.map((d) => ({ ...d, path: lv.diskPaths[d.path] ?? d.path }));
  const data: LibvirtDomainData = libvirtDomainData(
    { ...req, accel: lv.domainType === 'kvm' ? 'kvm' : 'tcg' },
    devices,
    disks,
    { uuid: need(state, 'uuid'), mac: need(state, 'mac') },
  );
  if (!lv.local) delete data.emulator;
  // --boot uefi: OVMF (or loader=) on the libvirt host, the vars store libvirt's own copy of the
  // template (its nvram directory, kept from boot to boot, removed by `undefine --nvram`)
  const uefi = req.boot?.uefi;
  if (uefi)
    data.firmware = { code: uefi.loader ?? OVMF_CODE, template: uefi.varsTemplate ?? OVMF_VARS, vars: '' };
  // --tpm: libvirt runs swtpm; the install boot is a transient domain, whose TPM state libvirt would
  // drop when it ends: kept for the confirm boot (the persistent domain, same uuid)
  if (data.tpm && phase === 'install') data.tpm = { ...data.tpm, persistentState: true };
  if (serialFile) data.serialFile = serialFile;
  if (phase === 'install') {
    const plan = buildQemuPlan(qemuInputs(state), 'install');
    data.install = plan.kernel
      ? {
          ...(media.kernel ? { kernel: media.kernel } : {}),
          ...(media.initrd ? { initrd: media.initrd } : {}),
          cmdline: plan.kernel.append,
        }
      : { bootCdrom: media.cdroms.length > 0 };
  }
  // the install media on the install boot; the cloud-init seed on the confirm boot (ejected later)
  if (media.cdroms.length > 0)
    data.cdroms = media.cdroms.map((p, i) => ({ path: p, target: cdromTarget(i) }));
  return renderLibvirtXml(data);
}

/** The target of a boot's i-th cdrom (after any sata disks; `virsh change-media` names it so). */
export function cdromTarget(i: number): string {
  return diskTarget('sd', 20 + i);
}

/** The install boot's media files on this machine: kernel, initrd and cdroms (pure). */
export function installMedia(state: InstallState): { kernel?: string; initrd?: string; cdroms: string[] } {
  const plan = buildQemuPlan(qemuInputs(state), 'install');
  return {
    ...(plan.kernel ? { kernel: plan.kernel.path } : {}),
    ...(plan.kernel && plan.kernel.initrd ? { initrd: plan.kernel.initrd } : {}),
    cdroms: plan.cdroms.map((c) => c.path),
  };
}

/** Uploads the cloud-init seed volume to the pool for the confirm boot (removed with the boot media). */
export async function uploadSeed(
  conn: LibvirtConnection,
  state: InstallState,
  signal?: AbortSignal,
): Promise<string[]> {
  const iso = state.cloudInit?.seedIso;
  if (!iso) return [];
  const name = need(state, 'request').name.replace(/[^A-Za-z0-9_.-]/g, '_');
  return [await uploadVolume(conn, need(state, 'libvirt'), iso, `${name}-cidata.iso`, signal)];
}

/** Uploads the install media to the pool (as virt-install does for remote hosts); returns their host paths. */
export async function uploadInstallMedia(
  conn: LibvirtConnection,
  state: InstallState,
  signal?: AbortSignal,
): Promise<{ kernel?: string; initrd?: string; cdroms: string[] }> {
  const lv = need(state, 'libvirt');
  const name = need(state, 'request').name.replace(/[^A-Za-z0-9_.-]/g, '_');
  const m = installMedia(state);
  const out: { kernel?: string; initrd?: string; cdroms: string[] } = { cdroms: [] };
  if (m.kernel) out.kernel = await uploadVolume(conn, lv, m.kernel, `${name}-install-kernel`, signal);
  if (m.initrd) out.initrd = await uploadVolume(conn, lv, m.initrd, `${name}-install-initrd`, signal);
  for (const [i, c] of m.cdroms.entries())
    out.cdroms.push(await uploadVolume(conn, lv, c, `${name}-install-cdrom${i}.iso`, signal));
  return out;
}

/** Domain type for the request's --accel from the x86_64 types libvirt offers (pure). */
export function chooseDomainType(accel: string, offered: readonly string[], uri: string): 'kvm' | 'qemu' {
  if (accel === 'kvm') {
    if (offered.includes('kvm')) return 'kvm';
    throw hostError(
      'KVM_UNAVAILABLE',
      `--accel kvm: libvirt at ${uri} offers no kvm domains (only ${offered.join(', ') || 'none'})`,
      {
        hint: 'use --accel tcg (or auto) for an emulated guest, or enable KVM on that host',
      },
    );
  }
  if (accel === 'tcg') return 'qemu';
  return offered.includes('kvm') ? 'kvm' : 'qemu';
}
