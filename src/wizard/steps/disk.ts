/**
 * Step 4, disk: a new qcow2 image named after the guest (used as it is when it exists), a new image
 * at a path of the user's choice, or an existing image.
 */
import path from 'node:path';
import { safeFileName } from '../../request/request.js';
import { subValue } from '../command-line.js';
import { ctxOf, pathKind, pathValidator } from '../prompting.js';
import type { WizardDeps } from '../types.js';

export interface DiskAnswer {
  disk: string[];
  description: string;
}

export async function askDisk(deps: WizardDeps, name: string, sizeGiB: number): Promise<DiskAnswer> {
  const p = deps.prompts;
  const defaultPath = path.resolve(deps.cwd, `${safeFileName(name)}.qcow2`);
  const defaultExists = (await pathKind(defaultPath)) !== null;
  const choice = await p.select<'new' | 'new-path' | 'existing'>(
    {
      message: 'Disk',
      choices: [
        {
          value: 'new',
          name: defaultExists
            ? `${defaultPath} (exists: used as it is, not recreated)`
            : `A new ${sizeGiB} GiB qcow2 image: ${defaultPath}`,
        },
        { value: 'new-path', name: `A new ${sizeGiB} GiB image at a path of my choice` },
        { value: 'existing', name: 'An existing disk image' },
      ],
    },
    ctxOf(deps),
  );
  if (choice === 'new')
    return {
      disk: [`size=${sizeGiB}`],
      description: defaultExists ? `${defaultPath} (existing)` : `new ${sizeGiB} GiB qcow2 at ${defaultPath}`,
    };
  if (choice === 'new-path') {
    const answer = await p.input(
      {
        message: 'Path of the new image (.qcow2, or .img/.raw for raw)',
        validate: async (v) => {
          if (!v.trim()) return 'give a path';
          const abs = path.resolve(deps.cwd, v);
          if ((await pathKind(abs)) !== null) return `${v} exists: choose "An existing disk image" to use it`;
          return (await pathKind(path.dirname(abs))) === 'dir'
            ? true
            : `no such directory: ${path.dirname(abs)}`;
        },
      },
      ctxOf(deps),
    );
    const abs = path.resolve(deps.cwd, answer);
    return {
      disk: [`path=${subValue(abs)},size=${sizeGiB}`],
      description: `new ${sizeGiB} GiB image at ${abs}`,
    };
  }
  const answer = await p.input(
    { message: 'Existing disk image', validate: pathValidator(deps, 'a disk image', ['file', 'block']) },
    ctxOf(deps),
  );
  const abs = path.resolve(deps.cwd, answer);
  return { disk: [`path=${subValue(abs)}`], description: `existing ${abs}` };
}
