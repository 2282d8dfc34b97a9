/**
 * Step 6, summary: the answers put together into the install options (what the wizard did not ask
 * is carried over from the command line), and the lines shown before the final confirm, ending with
 * the exact equivalent command line.
 */
import type { RawInstallArgs } from '../../request/request.js';
import { parseMiB } from '../../request/suboptions.js';
import type { DiskAnswer } from './disk.js';
import type { KickstartAnswer } from './kickstart.js';
import type { MediaAnswer } from './media.js';
import type { NetworkAnswer } from './network.js';
import type { ResourcesAnswer } from './resources.js';

/** Options the wizard decides; the rest of `initial` (accel, dry-run, log-dir, …) is carried over. */
const ASKED: readonly (keyof RawInstallArgs)[] = [
  'name',
  'memory',
  'vcpus',
  'disk',
  'location',
  'cdrom',
  'boot',
  'import',
  'network',
  'hostdev',
  'osVariant',
  'kickstart',
];

/** The install options the answers decide, over the command line's other options. */
export function answeredOptions(
  initial: RawInstallArgs | undefined,
  answers: {
    resources: ResourcesAnswer;
    media: MediaAnswer;
    network: NetworkAnswer;
    disk: DiskAnswer;
    kickstart: KickstartAnswer | null;
  },
): RawInstallArgs {
  const { resources: res, media, network: net, disk, kickstart: ks } = answers;
  const carried = Object.fromEntries(
    Object.entries(initial ?? {}).filter(([k]) => !ASKED.includes(k as keyof RawInstallArgs)),
  ) as RawInstallArgs;
  const { disk: _d, ...mediaOptions } = media.options;
  return {
    ...carried,
    name: res.name,
    memory: res.memory,
    vcpus: res.vcpus,
    ...mediaOptions,
    disk: disk.disk,
    network: net.network,
    ...(net.hostdev ? { hostdev: net.hostdev } : {}),
    // importing asks no kickstart question: the command line's --os-variant stays
    ...(ks?.options ?? (initial?.osVariant ? { osVariant: initial.osVariant } : {})),
  };
}

export function summaryLines(
  raw: RawInstallArgs,
  parts: { media: string; network: string; disk: string; kickstart: string | null },
  commandLine: string,
): string[] {
  const mib = parseMiB('--memory', String(raw.memory));
  return [
    `  name       ${raw.name}`,
    `  memory     ${mib} MiB${raw.hostdev?.length ? ' (all of it is pinned while a device is assigned)' : ''}`,
    `  vCPUs      ${raw.vcpus}`,
    `  media      ${parts.media}`,
    `  network    ${parts.network}`,
    `  disk       ${parts.disk}`,
    ...(parts.kickstart ? [`  kickstart  ${parts.kickstart}`] : []),
    ...(raw.dryRun ? ['  dry run    yes: nothing on the host changes'] : []),
    '',
    'Equivalent command:',
    `  ${commandLine}`,
  ];
}
