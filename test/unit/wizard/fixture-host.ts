/**
 * Builds a host profile (fixtures/wizard/*.json) into a real directory tree with real symlinks, laid
 * out as the kernel lays out sysfs: devices with class/vendor/device files, `driver` and `iommu_group`
 * links, `net/<ifname>` entries, the groups' `devices/` links, and plain files such as /proc/net/route.
 */
import { mkdir, mkdtemp, readFile, readdir, readlink, lstat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export interface ProfileDevice {
  address: string;
  class: string;
  vendor: string;
  device: string;
  driver?: string;
  iommuGroup?: string;
  net?: { name: string; master?: string }[] | string[];
}

export interface HostProfile {
  description?: string;
  devices: ProfileDevice[];
  files?: Record<string, string>;
}

export async function loadProfile(name: string): Promise<HostProfile> {
  return JSON.parse(await readFile(path.resolve('fixtures/wizard', `${name}.json`), 'utf8')) as HostProfile;
}

export async function buildHostTree(profile: HostProfile, root?: string): Promise<string> {
  const dir = root ?? (await mkdtemp(path.join(os.tmpdir(), 'ig-wizard-host-')));
  const sys = path.join(dir, 'sys');
  for (const d of profile.devices) {
    const dev = path.join(sys, 'bus/pci/devices', d.address);
    await mkdir(dev, { recursive: true });
    await writeFile(path.join(dev, 'class'), `${d.class}\n`);
    await writeFile(path.join(dev, 'vendor'), `${d.vendor}\n`);
    await writeFile(path.join(dev, 'device'), `${d.device}\n`);
    if (d.driver) {
      await mkdir(path.join(sys, 'bus/pci/drivers', d.driver), { recursive: true });
      await symlink(`../../../../bus/pci/drivers/${d.driver}`, path.join(dev, 'driver'));
    }
    if (d.iommuGroup) {
      const group = path.join(sys, 'kernel/iommu_groups', d.iommuGroup, 'devices');
      await mkdir(group, { recursive: true });
      await symlink(`../../../../bus/pci/devices/${d.address}`, path.join(group, d.address));
      await symlink(`../../../../kernel/iommu_groups/${d.iommuGroup}`, path.join(dev, 'iommu_group'));
    }
    for (const n of d.net ?? []) {
      const iface = typeof n === 'string' ? { name: n } : n;
      const ifdir = path.join(dev, 'net', iface.name);
      await mkdir(ifdir, { recursive: true });
      if (iface.master)
        await symlink(`../../../../../../class/net/${iface.master}`, path.join(ifdir, 'master'));
    }
  }
  for (const [p, text] of Object.entries(profile.files ?? {})) {
    await mkdir(path.join(dir, path.dirname(p)), { recursive: true });
    await writeFile(path.join(dir, p), text);
  }
  return dir;
}

/** Every path under `dir` with its link target or file bytes: equal snapshots mean nothing changed. */
export async function snapshotTree(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (d: string): Promise<void> => {
    for (const e of (await readdir(d)).sort()) {
      const p = path.join(d, e);
      const s = await lstat(p);
      const rel = path.relative(dir, p);
      if (s.isSymbolicLink()) out[rel] = `-> ${await readlink(p)}`;
      else if (s.isDirectory()) {
        out[rel] = 'dir';
        await walk(p);
      } else out[rel] = (await readFile(p)).toString('base64');
    }
  };
  await walk(dir);
  return out;
}
