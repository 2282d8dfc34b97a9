/**
 * The one place that lists the install stages, in order (as Packer's builder does). Decisions live
 * in their domain modules; stages apply them through the Host. A new list per run: a stage keeps
 * what a run did in the run's state (stage.ts), never in itself, so runs side by side share nothing.
 */
import type { Stage } from './stage.js';
import type { InstallState } from './state.js';
import { validateRequest } from '../stages/validate-request.js';
import { prepareWorkdir } from '../stages/prepare-workdir.js';
import { connectLibvirt } from '../stages/connect-libvirt.js';
import { probeAccel } from '../stages/probe-accel.js';
import { resolveMedia } from '../stages/resolve-media.js';
import { selectDevice } from '../stages/select-device.js';
import { prepareDevice } from '../stages/prepare-device.js';
import { prepareDisk } from '../stages/prepare-disk.js';
import { renderKickstartStage } from '../stages/render-kickstart.js';
import { renderCloudInit } from '../stages/render-cloud-init.js';
import { buildCommand } from '../stages/build-command.js';
import { launchQemu } from '../stages/launch-qemu.js';
import { rebootAndConfirm } from '../stages/reboot-and-confirm.js';
import { report } from '../stages/report.js';
import { checkBase } from '../stages/check-base.js';
import { publishBaseStage } from '../stages/publish-base.js';

export interface PipelineOptions {
  /** --publish-base: check the base's key before installing, publish the confirmed disk after */
  publishBase?: boolean;
}

/** The stages of one install; those of an option are in the list only when it is given. */
export const createInstallPipeline = (o: PipelineOptions = {}): Stage<InstallState>[] => [
  validateRequest,
  // --connect: the libvirt host that runs the guest (its cleanup runs last)
  connectLibvirt,
  prepareWorkdir,
  probeAccel,
  // device selection first: when no NIC is assignable, the media decision falls back to local media
  selectDevice,
  resolveMedia,
  // the base's key needs the media; it is refused when cached before any device is taken
  ...(o.publishBase ? [checkBase] : []),
  prepareDevice,
  renderKickstartStage,
  renderCloudInit,
  prepareDisk,
  buildCommand,
  launchQemu,
  rebootAndConfirm,
  ...(o.publishBase ? [publishBaseStage] : []),
  report,
];
