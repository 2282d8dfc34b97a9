/**
 * The interactive install: a terminal version of virt-manager's New VM wizard. Each step (steps/)
 * asks through the injected prompts and returns the install options it decided; `runWizard` puts
 * them together, prints a summary with the exact equivalent command line and asks before anything
 * runs. Nothing here writes to the host: the devices are only listed, the media only inspected, the
 * kickstart only linted. Ctrl-C at any prompt becomes WIZARD_CANCELLED (exit 130) with the host
 * untouched.
 */
import { InstallGuestError } from '../errors.js';
import type { RawInstallArgs } from '../request/request.js';
import { shellQuote, toCommandLine } from './command-line.js';
import { ctxOf, isPromptCancel, line } from './prompting.js';
import { askDisk, type DiskAnswer } from './steps/disk.js';
import { askKickstart, type KickstartAnswer } from './steps/kickstart.js';
import { askMedia } from './steps/media.js';
import { askNetwork } from './steps/network.js';
import { askResources } from './steps/resources.js';
import { answeredOptions, summaryLines } from './steps/summary.js';
import type { WizardDeps } from './types.js';

export const STEPS = ['resources', 'media', 'network', 'disk', 'kickstart', 'summary'] as const;
export type StepName = (typeof STEPS)[number];

const TITLES: Record<StepName, string> = {
  resources: 'Name and resources',
  media: 'Install media',
  network: 'Network',
  disk: 'Disk',
  kickstart: 'Kickstart',
  summary: 'Summary',
};

/** The install was cancelled at a prompt (Ctrl-C): exit 130, nothing changed. */
export function wizardCancelled(step?: StepName): InstallGuestError {
  return new InstallGuestError(
    'interrupted',
    'WIZARD_CANCELLED',
    `interactive install cancelled${step ? ` at the ${TITLES[step].toLowerCase()} step` : ''}; nothing on the host was changed`,
    { hint: 'run install-guest install --interactive again, or pass the options directly' },
  );
}

function heading(deps: WizardDeps, step: StepName): void {
  const n = STEPS.indexOf(step) + 1;
  line(deps);
  line(deps, `── ${n}/${STEPS.length} ${TITLES[step]} ──`);
}

/**
 * Asks for everything an install needs and returns the install options, or null when the user
 * declines at the final confirm. Ctrl-C at a prompt throws WIZARD_CANCELLED (exit 130).
 */
export async function runWizard(deps: WizardDeps): Promise<RawInstallArgs | null> {
  let step: StepName = 'resources';
  const at = (s: StepName): void => {
    step = s;
    heading(deps, s);
  };
  try {
    at('resources');
    const res = await askResources(deps);
    at('media');
    const media = await askMedia(deps);
    at('network');
    const net = await askNetwork(deps);
    let disk: DiskAnswer;
    if (media.kind === 'import')
      disk = { disk: (media.options.disk ?? []).map(String), description: media.description };
    else {
      at('disk');
      disk = await askDisk(deps, res.name, res.diskSizeGiB);
    }
    let ks: KickstartAnswer | null = null;
    if (media.kind !== 'import') {
      at('kickstart');
      ks = await askKickstart(deps, media.facts, net.device);
    }
    const raw = answeredOptions(deps.initial, {
      resources: res,
      media,
      network: net,
      disk,
      kickstart: ks,
    });
    at('summary');
    const commandLine = shellQuote(['install-guest', ...toCommandLine(raw, deps.globals)]);
    for (const l of summaryLines(
      raw,
      {
        media: media.description,
        network: net.description,
        disk: disk.description,
        kickstart: ks?.description ?? null,
      },
      commandLine,
    ))
      line(deps, l);
    line(deps);
    const go = await deps.prompts.confirm(
      { message: raw.dryRun ? 'Run it now (dry run)?' : 'Run it now?', default: true },
      ctxOf(deps),
    );
    return go ? raw : null;
  } catch (e) {
    if (isPromptCancel(e)) throw wizardCancelled(step);
    throw e;
  }
}
