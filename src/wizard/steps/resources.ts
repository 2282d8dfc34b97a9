/**
 * Step 1, name and resources: the guest's name (checked by the install's own grammar), memory, vCPUs
 * (a topology from the command line is kept as given) and the size of a new disk.
 */
import { parseInstallRequest } from '../../request/request.js';
import { parseMiB } from '../../request/suboptions.js';
import { check, ctxOf, line } from '../prompting.js';
import type { WizardDeps } from '../types.js';

export interface ResourcesAnswer {
  name: string;
  memory: string;
  vcpus: string;
  diskSizeGiB: number;
}

export async function askResources(deps: WizardDeps): Promise<ResourcesAnswer> {
  const p = deps.prompts;
  const init = deps.initial ?? {};
  const name = await p.input(
    {
      message: 'Guest name',
      default: init.name ?? 'guest1',
      validate: (v) =>
        check(() => parseInstallRequest({ name: v, import: true, disk: ['path=/dev/null'] }, deps.cwd)),
    },
    ctxOf(deps),
  );
  const memory = await p.input(
    {
      message: 'Memory (MiB, or with a unit: 2G)',
      default: String(init.memory ?? '2048'),
      validate: (v) => check(() => parseMiB('--memory', v)),
    },
    ctxOf(deps),
  );
  let vcpus: string;
  const initVcpus = init.vcpus === undefined ? undefined : String(init.vcpus);
  if (initVcpus !== undefined && !/^\d+$/.test(initVcpus)) {
    vcpus = initVcpus; // a topology from the command line is kept as given
    line(deps, `  vCPUs: ${initVcpus} (from the command line)`);
  } else {
    vcpus = String(
      await p.number(
        { message: 'vCPUs', default: Number(initVcpus ?? 2), min: 1, max: 1024, step: 1, required: true },
        ctxOf(deps),
      ),
    );
  }
  const diskSizeGiB = await p.number(
    { message: 'Disk size (GiB, for a new disk)', default: 8, min: 1, max: 65536, step: 1, required: true },
    ctxOf(deps),
  );
  return { name, memory, vcpus, diskSizeGiB };
}
