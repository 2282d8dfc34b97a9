/**
 * `--cloud-init` checked before anything is created (called by validate-request): the sub-options'
 * grammar, that the request imports a disk (an installer boot cannot use a NoCloud seed), that
 * seed=smbios has the user network it needs (and no --connect), and every named file read and checked by building the
 * documents once with stand-in values (no file is written).
 */
import { inputError } from '../errors.js';
import type { InstallRequest, RawInstallArgs } from '../request/request.js';
import { parseCloudInit, type CloudInitOptions } from './options.js';

export async function checkCloudInit(
  raw: RawInstallArgs,
  request: InstallRequest,
  cwd: string,
  home?: string,
  /** --connect URI: libvirt runs the guest (the seed goes on a cdrom of its domain) */
  connect?: string,
): Promise<CloudInitOptions> {
  const options = parseCloudInit(String(raw.cloudInit ?? ''), {
    cwd,
    ...(home !== undefined ? { home } : {}),
  });
  if (!request.import) {
    const media = request.location
      ? `--location ${request.location}`
      : request.cdrom
        ? `--cdrom ${request.cdrom}`
        : request.boot
          ? '--boot kernel=…'
          : 'an install';
    throw inputError(
      'CLOUD_INIT_NEEDS_IMPORT',
      `--cloud-init configures an imported cloud image, but ${media} boots an installer, which does not read a NoCloud seed`,
      {
        hint: 'use --import --disk path=IMAGE with --cloud-init, or drop --cloud-init and configure the install with --kickstart',
      },
    );
  }
  if (options.seed === 'smbios' && connect !== undefined)
    throw inputError(
      'NOT_IMPLEMENTED',
      `--cloud-init seed=smbios with --connect ${connect} is not implemented (the seed would be served to a libvirt domain's network)`,
      { hint: 'use seed=iso (the default) with --connect: the seed goes on a cdrom of the domain' },
    );
  if (options.seed === 'smbios' && request.network.kind !== 'user')
    throw inputError(
      'CLOUD_INIT_SMBIOS_NETWORK',
      `--cloud-init seed=smbios serves the seed over HTTP to the guest's user network, but the network is ${request.network.kind}`,
      { hint: 'use --network user (the default), or seed=iso' },
    );
  const { buildSeedDocuments } = await import('./userdata.js');
  await buildSeedDocuments({
    options: { ...options, rootPasswordGenerate: false },
    instanceId: 'iid-check',
    hostname: 'check',
    nicMac: '52:54:00:00:00:00',
    ...(request.confirmUnit ? { confirmScript: '#!/bin/sh\n' } : {}),
  });
  return options;
}
