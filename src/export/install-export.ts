/**
 * `install --print-xml` / `--print-kubevirt`: the installed guest (or, with --dry-run, the guest the
 * install would make) handed off to libvirt or KubeVirt. The export uses what the install resolved:
 * the devices it selected and prepared (addresses, vendor:device, ROM options), the disks it wrote,
 * its UUID and the emulated NIC's MAC, so `virsh define` gets the same machine the tool confirmed.
 * Each document is also written to the install's log dir (domain.xml, kubevirt.yaml).
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { InstallState } from '../pipeline/state.js';
import type { ExportDevice } from './libvirt.js';
import { firmwareOf } from '../stages/build-command.js';

export interface InstallExports {
  xml?: string;
  kubevirt?: string;
}

/** Pure: the export devices of an install: the prepared devices, else the selected ones (dry run). */
export function installExportDevices(state: InstallState): ExportDevice[] {
  return (state.prepared ?? state.devices ?? []).map((d) => ({
    address: d.address,
    ...(d.vendorDevice ? { vendorDevice: d.vendorDevice } : {}),
    ...(d.romBar !== undefined ? { romBar: d.romBar } : {}),
    ...(d.romFile ? { romFile: d.romFile } : {}),
    ...(d.guestAddress ? { guestAddress: d.guestAddress } : {}),
    ...(d.managed === false ? { unmanaged: true } : {}),
  }));
}

/** Renders the exports asked for from an install's final state (pure apart from the templates it reads). */
export async function renderInstallExports(
  state: InstallState,
  want: { xml: boolean; kubevirt: boolean },
): Promise<InstallExports> {
  const request = state.request;
  if (!request) throw new Error('install export: the request was never validated');
  const devices = installExportDevices(state);
  const out: InstallExports = {};
  if (want.xml) {
    const { toLibvirtXml } = await import('./libvirt.js');
    out.xml = toLibvirtXml(
      { ...request, ...(state.accel ? { accel: state.accel } : {}) },
      devices,
      request.disks,
      {
        ...(state.uuid ? { uuid: state.uuid } : {}),
        ...(state.mac ? { mac: state.mac } : {}),
        ...(firmwareOf(state) ? { firmware: firmwareOf(state)! } : {}),
      },
    );
  }
  if (want.kubevirt) {
    const { toKubeVirt, kubeVirtYaml } = await import('./kubevirt.js');
    out.kubevirt = kubeVirtYaml([toKubeVirt(request, devices)]);
  }
  return out;
}

/** Writes the exports into the log dir (private files); returns the paths written. */
export async function saveInstallExports(logDir: string, ex: InstallExports): Promise<string[]> {
  const written: string[] = [];
  if (ex.xml !== undefined) {
    const f = path.join(logDir, 'domain.xml');
    await writeFile(f, ex.xml, { mode: 0o600 });
    written.push(f);
  }
  if (ex.kubevirt !== undefined) {
    const f = path.join(logDir, 'kubevirt.yaml');
    await writeFile(f, ex.kubevirt, { mode: 0o600 });
    written.push(f);
  }
  return written;
}
