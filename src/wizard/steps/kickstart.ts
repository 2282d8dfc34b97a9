/**
 * Step 5, kickstart: the built-in template for the OS (with an OS variant suggested from the media),
 * or the user's file, linted as the install lints it before going on.
 */
import path from 'node:path';
import { isInstallGuestError } from '../../errors.js';
import { findingLine } from '../../kickstart/lint-file.js';
import type { RawInstallArgs } from '../../request/request.js';
import { ctxOf, isPromptCancel, line, pathValidator } from '../prompting.js';
import type { DeviceChoice, LintFinding, MediaFacts, WizardDeps } from '../types.js';

export interface KickstartAnswer {
  options: Pick<RawInstallArgs, 'osVariant' | 'kickstart'>;
  description: string;
}

/** A --kickstart value that names a file, not a built-in template (as the install tells them apart). */
const isKickstartFile = (v: string | undefined): v is string => v !== undefined && /[/.]/.test(v);

/**
 * The built-in template, or the user's kickstart file given as --kickstart after `kickstart lint`
 * (as the install lints it: headless, and the assigned NIC's MAC when a device was chosen): its
 * findings are shown, and errors ask again.
 */
export async function askKickstart(
  deps: WizardDeps,
  facts?: MediaFacts,
  device?: DeviceChoice,
): Promise<KickstartAnswer> {
  const p = deps.prompts;
  const init = deps.initial ?? {};
  const initFile = isKickstartFile(init.kickstart) ? init.kickstart : undefined;
  const initTemplate = init.kickstart !== undefined && !initFile ? init.kickstart : undefined;
  let kind: 'built-in' | 'file' = initFile ? 'file' : 'built-in';
  let lastFile = initFile;
  for (;;) {
    kind = await p.select<'built-in' | 'file'>(
      {
        message: 'Kickstart (the installer’s answers)',
        default: kind,
        choices: [
          {
            value: 'built-in',
            name: `The built-in template for the OS${initTemplate ? ` (--kickstart ${initTemplate})` : ''}`,
          },
          { value: 'file', name: 'My kickstart file (linted before going on)' },
        ],
      },
      ctxOf(deps),
    );
    if (kind === 'built-in') {
      const suggested =
        facts && facts.family !== 'generic'
          ? `${facts.family}${facts.version ?? ''}`.toLowerCase()
          : init.osVariant;
      const osVariant = await p.input(
        {
          message: 'OS variant (e.g. fedora40, debian12; empty: decided from the media)',
          ...(suggested ? { default: suggested } : {}),
          validate: (v) =>
            v === '' || /^[a-z][a-z0-9._-]*$/i.test(v) ? true : `'${v}' is not an OS variant name`,
        },
        ctxOf(deps),
      );
      return {
        options: {
          ...(osVariant ? { osVariant } : {}),
          ...(initTemplate ? { kickstart: initTemplate } : {}),
        },
        description: `built-in template${initTemplate ? ` ${initTemplate}` : ''}${osVariant ? ` (${osVariant})` : ''}`,
      };
    }
    const answer = await p.input(
      {
        message: 'Kickstart file',
        ...(lastFile !== undefined ? { default: lastFile } : {}),
        validate: pathValidator(deps, 'a file', ['file']),
      },
      ctxOf(deps),
    );
    lastFile = answer;
    const file = path.resolve(deps.cwd, answer);
    let findings: LintFinding[];
    try {
      findings = await deps.lintKickstart(file, device?.mac ? { assignedNic: { mac: device.mac } } : {});
    } catch (e) {
      if (isPromptCancel(e) || !isInstallGuestError(e)) throw e;
      line(deps, `  ✗ ${e.message}${e.hint ? ` (hint: ${e.hint})` : ''}`);
      continue;
    }
    for (const f of findings) line(deps, `  ${findingLine(f, deps.cwd, answer)}`);
    const errors = findings.filter((f) => f.severity === 'error').length;
    const warnings = findings.length - errors;
    const tally = `${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}`;
    if (errors > 0) {
      line(deps, `  ✗ kickstart lint: ${tally}: fix ${answer} or choose again`);
      continue;
    }
    line(deps, `  kickstart lint: ${tally}`);
    return {
      options: { ...(init.osVariant ? { osVariant: init.osVariant } : {}), kickstart: file },
      description: `${file} (kickstart lint: ${tally})`,
    };
  }
}
