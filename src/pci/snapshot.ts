/**
 * `hostdev snapshot OUT`: copies the files the inventory and doctor read from a host (through the
 * Host boundary) into a tree that `--host-root OUT` reads back: for bug reports and new fixtures.
 * Links keep their stored (relative) targets so the copied tree has the kernel's shape; attribute
 * files keep their bytes; write-only kernel files (bind, unbind, reset, …) become empty files so a
 * kernel model can be attached to the copy. Nothing outside the listed paths is read.
 */
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { inputError, hostError } from '../errors.js';
import type { Host } from '../host/host.js';
import { readsOf } from './host-reads.js';

const DEVICE_FILES = [
  'vendor',
  'device',
  'subsystem_vendor',
  'subsystem_device',
  'class',
  'revision',
  'numa_node',
  'driver_override',
  'reset_method',
  'sriov_totalvfs',
  'sriov_numvfs',
  'sriov_offset',
  'sriov_stride',
  'sriov_drivers_autoprobe',
  'boot_vga',
  'irq',
  'enable',
  'uevent',
  'modalias',
  'local_cpulist',
  'resource',
];
const DEVICE_WRITE_ONLY = ['reset', 'remove', 'rescan'];
const DEVICE_LINKS = ['driver', 'iommu_group', 'iommu', 'physfn', 'subsystem', 'firmware_node'];
const NET_FILES = ['address', 'operstate', 'carrier', 'ifindex', 'type'];
const BLOCK_FILES = ['dev', 'partition', 'size', 'removable', 'ro'];
const PROC_FILES = [
  '/proc/cmdline',
  '/proc/cpuinfo',
  '/proc/meminfo',
  '/proc/interrupts',
  '/proc/swaps',
  '/proc/net/route',
  '/proc/net/ipv6_route',
  '/proc/net/fib_trie',
  '/proc/net/if_inet6',
  '/proc/self/mountinfo',
  '/proc/self/limits',
  '/proc/self/status',
  '/proc/sys/kernel/osrelease',
];
const MODULES = [
  'kvm',
  'kvm_intel',
  'kvm_amd',
  'vfio',
  'vfio_pci',
  'vfio_pci_core',
  'vfio_iommu_type1',
  'vfio_virqfd',
  'pci_stub',
  'iommufd',
];

export interface SnapshotResult {
  out: string;
  files: number;
  links: number;
  devices: number;
}

export async function captureSnapshot(host: Host, out: string): Promise<SnapshotResult> {
  const wantsTar = /\.(tar\.gz|tgz)$/.test(out);
  if (!wantsTar) {
    const existing = await readdir(out).catch(() => null);
    if (existing && existing.length) {
      throw inputError('SNAPSHOT_OUT_NOT_EMPTY', `snapshot directory ${out} exists and is not empty`, {
        hint: 'name a new directory, or a file ending in .tar.gz',
      });
    }
  }
  const dir = wantsTar ? await mkdtemp(path.join(os.tmpdir(), 'ig-snapshot-')) : path.resolve(out);
  if (!wantsTar) {
    // a place a directory can be made in (Node's recursive mkdir never returns under /proc)
    const { checkStateDir } = await import('../host/check-dirs.js');
    await checkStateDir(dir, {
      source: 'snapshot directory',
      entries: [],
      code: 'SNAPSHOT_OUT_UNWRITABLE',
      hint: 'name a directory you can write to, or a file ending in .tar.gz',
    });
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw inputError(
        'SNAPSHOT_OUT_UNWRITABLE',
        `snapshot directory ${out} cannot be created: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
        { hint: 'name a directory you can write to, or a file ending in .tar.gz' },
      );
    }
  }
  try {
    const result = await captureInto(host, dir);
    if (wantsTar) {
      const r = await host.exec('tar', ['-C', dir, '-czf', path.resolve(out), '.'], { timeoutMs: 120_000 });
      if (r.exitCode !== 0) {
        throw hostError(
          'SNAPSHOT_TAR_FAILED',
          `tar could not write ${out}: ${r.stderr.trim() || `exit ${r.exitCode}`}`,
          {
            hint: 'check that tar is installed and the directory is writable',
          },
        );
      }
    }
    return { ...result, out: path.resolve(out) };
  } finally {
    if (wantsTar) await rm(dir, { recursive: true, force: true });
  }
}

async function captureInto(host: Host, dir: string): Promise<Omit<SnapshotResult, 'out'>> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const r = readsOf(host);
  let files = 0;
  let links = 0;
  const doneDirs = new Set<string>();
  const local = (p: string): string => path.join(dir, p);
  const put = async (p: string, content: Buffer | string, mode = 0o644): Promise<void> => {
    await mkdir(path.dirname(local(p)), { recursive: true });
    await writeFile(local(p), content, { mode });
    files++;
  };
  const copyFile = async (p: string, max = 1 << 20): Promise<boolean> => {
    const b = await r.bytes(p, max);
    if (b === null) return false;
    await put(p, b);
    return true;
  };
  const copyLink = async (p: string): Promise<string | null> => {
    const target = await r.link(p);
    if (target === null) return null;
    await mkdir(path.dirname(local(p)), { recursive: true });
    await symlink(target, local(p)).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
    });
    links++;
    return path.posix.resolve(path.posix.dirname(p), target);
  };
  const copyLinksIn = async (d: string, filter: (name: string) => boolean = () => true): Promise<void> => {
    for (const e of (await r.list(d)).filter(filter)) await copyLink(`${d}/${e}`);
  };

  // PCI functions
  const addresses = await r.list('/sys/bus/pci/devices');
  for (const a of addresses) {
    const target = await copyLink(`/sys/bus/pci/devices/${a}`);
    if (!target || doneDirs.has(target)) continue;
    doneDirs.add(target);
    const entries = new Set(await r.list(target));
    await copyFile(`${target}/config`, 4096);
    for (const f of DEVICE_FILES) if (entries.has(f)) await copyFile(`${target}/${f}`);
    for (const f of DEVICE_WRITE_ONLY) if (entries.has(f)) await put(`${target}/${f}`, '', 0o200);
    for (const l of DEVICE_LINKS) if (entries.has(l)) await copyLink(`${target}/${l}`);
    for (const e of entries) if (/^virtfn\d+$/.test(e)) await copyLink(`${target}/${e}`);
  }
  // drivers
  for (const drv of await r.list('/sys/bus/pci/drivers')) {
    const base = `/sys/bus/pci/drivers/${drv}`;
    for (const f of ['bind', 'unbind', 'new_id', 'remove_id']) await put(`${base}/${f}`, '', 0o200);
    await copyLinksIn(base, (e) => e === 'module' || /^[0-9a-f]{4,8}:/.test(e));
  }
  for (const f of ['drivers_probe', 'rescan']) await put(`/sys/bus/pci/${f}`, '', 0o200);
  // IOMMU groups and units
  await mkdir(local('/sys/kernel/iommu_groups'), { recursive: true });
  for (const g of await r.list('/sys/kernel/iommu_groups')) {
    const base = `/sys/kernel/iommu_groups/${g}`;
    await copyLinksIn(`${base}/devices`);
    await copyFile(`${base}/type`);
  }
  await mkdir(local('/sys/class/iommu'), { recursive: true });
  for (const u of await r.list('/sys/class/iommu')) {
    const target = await copyLink(`/sys/class/iommu/${u}`);
    if (!target) continue;
    for (const f of ['cap', 'ecap', 'version', 'address']) await copyFile(`${target}/intel-iommu/${f}`);
    for (const f of ['cap', 'features']) await copyFile(`${target}/amd-iommu/${f}`);
    await copyLinksIn(`${target}/devices`);
  }
  // network interfaces
  await mkdir(local('/sys/class/net'), { recursive: true });
  for (const n of await r.list('/sys/class/net')) {
    const target = await copyLink(`/sys/class/net/${n}`);
    if (!target) continue;
    for (const f of NET_FILES) await copyFile(`${target}/${f}`);
    await copyLinksIn(target, (e) => e.startsWith('lower_') || e.startsWith('upper_'));
  }
  // block devices
  await mkdir(local('/sys/class/block'), { recursive: true });
  for (const b of await r.list('/sys/class/block')) {
    const target = await copyLink(`/sys/class/block/${b}`);
    if (!target) continue;
    for (const f of BLOCK_FILES) await copyFile(`${target}/${f}`);
    await copyLinksIn(`${target}/slaves`);
    await copyLinksIn(`${target}/holders`);
  }
  await mkdir(local('/sys/block'), { recursive: true });
  await copyLinksIn('/sys/block');
  // modules: every name, details for the ones doctor asks about
  for (const m of await r.list('/sys/module')) {
    await mkdir(local(`/sys/module/${m}`), { recursive: true });
    if (!MODULES.includes(m)) continue;
    for (const f of ['refcnt', 'initstate']) await copyFile(`/sys/module/${m}/${f}`);
    await copyFile(`/sys/module/${m}/parameters/allow_unsafe_interrupts`);
    await copyLinksIn(`/sys/module/${m}/drivers`);
  }
  // firmware tables: DMAR/IVRS bytes when readable (root), the others by name
  for (const t of await r.list('/sys/firmware/acpi/tables')) {
    const p = `/sys/firmware/acpi/tables/${t}`;
    if (t === 'DMAR' || t === 'IVRS') {
      if (!(await copyFile(p))) await put(p, '', 0o400);
    } else if (t !== 'data' && t !== 'dynamic') await put(p, '', 0o400);
  }
  // /proc
  for (const p of PROC_FILES) {
    const t = await r.text(p);
    if (t !== null) await put(p, `${t.replace(/\n$/, '')}\n`);
  }
  for (const pid of (await r.list('/proc')).filter((e) => /^\d+$/.test(e))) {
    for (const fd of await r.list(`/proc/${pid}/fd`)) {
      const t = await r.link(`/proc/${pid}/fd/${fd}`);
      if (!t || !/^\/dev\/vfio\/\d+$/.test(t)) continue;
      await copyLink(`/proc/${pid}/fd/${fd}`);
      await copyFile(`/proc/${pid}/comm`);
    }
  }
  // /dev: presence only
  if (await host.exists('/dev/kvm')) await put('/dev/kvm', '', 0o660);
  for (const v of await r.list('/dev/vfio')) await put(`/dev/vfio/${v}`, '', 0o600);
  // module availability (only the lines doctor looks for)
  const release = await r.small('/proc/sys/kernel/osrelease');
  if (release) {
    for (const f of ['modules.dep', 'modules.builtin']) {
      const t = await r.text(`/lib/modules/${release}/${f}`);
      if (t === null) continue;
      const keep = t
        .split('\n')
        .filter((l) => /\/(vfio|kvm|pci-stub)[^/]*$|\/vfio\//.test(l.split(':')[0] ?? ''));
      await put(`/lib/modules/${release}/${f}`, keep.join('\n') + '\n');
    }
  }
  await mkdir(local('/run'), { recursive: true });
  return { files, links, devices: addresses.length };
}
