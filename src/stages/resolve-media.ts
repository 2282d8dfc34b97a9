import { stat } from 'node:fs/promises';
import { inputError } from '../errors.js';
import type { Stage } from '../pipeline/stage.js';
import type { InstallState, MediaState } from '../pipeline/state.js';

async function assertFile(option: string, p: string): Promise<void> {
  const s = await stat(p).catch(() => null);
  if (!s?.isFile())
    throw inputError('MEDIA_NOT_FOUND', `${option} '${p}' is not a readable file`, {
      hint: 'check the path',
    });
}

/** Kernel arguments for a headless install: the serial console first, then what the user adds. */
export function headlessArgs(...extra: (string | undefined)[]): string {
  return ['console=ttyS0', ...extra.filter((x): x is string => Boolean(x))].join(' ');
}

/**
 * Turns --location / --cdrom / --boot / --import into boot media. Reads only; fetched files go to the
 * cache, not the host's state.
 */
export const resolveMedia: Stage<InstallState> = {
  name: 'resolve-media',
  changesHost: false,
  async run({ state }) {
    const req = state.request!;
    let media: MediaState;
    if (req.boot?.kernel && !req.location) {
      await assertFile('--boot kernel', req.boot.kernel);
      if (req.boot.initrd) await assertFile('--boot initrd', req.boot.initrd);
      media = {
        source: req.boot.kernel,
        kind: 'kernel-initrd',
        ...(req.osVariant ? { family: req.osVariant } : {}),
        boot: {
          kind: 'kernel',
          kernel: req.boot.kernel,
          ...(req.boot.initrd ? { initrd: req.boot.initrd } : {}),
          append: headlessArgs(req.boot.kernelArgs, req.extraArgs),
        },
      };
    } else if (req.cdrom) {
      await assertFile('--cdrom', req.cdrom);
      media = { source: req.cdrom, kind: 'cdrom', boot: { kind: 'cdrom', iso: req.cdrom } };
    } else if (req.import) {
      media = { source: req.disks[0]!.path, kind: 'disk', boot: { kind: 'disk' } };
    } else {
      throw inputError(
        'NOT_IMPLEMENTED',
        `--location '${req.location}': install trees and ISOs are not implemented yet`,
        {
          hint: 'use --boot kernel=PATH,initrd=PATH or --cdrom ISO',
        },
      );
    }
    return { media };
  },
};
