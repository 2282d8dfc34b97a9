/**
 * Step 2, install media: an install tree or ISO (--location), a CD-ROM ISO (--cdrom), a kernel and
 * initrd (--boot) or a disk image to import. A location or ISO is inspected as `media inspect` does
 * when the answer is entered; what is not recognised is asked again.
 */
import path from 'node:path';
import { isInstallGuestError } from '../../errors.js';
import type { RawInstallArgs } from '../../request/request.js';
import { subValue } from '../command-line.js';
import { ctxOf, isPromptCancel, isUrl, line, pathValidator } from '../prompting.js';
import type { MediaFacts, WizardDeps } from '../types.js';

export type MediaKind = 'location' | 'cdrom' | 'boot' | 'import';

export interface MediaAnswer {
  kind: MediaKind;
  /** the options this choice sets (location / cdrom / boot / import + disk) */
  options: Pick<RawInstallArgs, 'location' | 'cdrom' | 'boot' | 'import' | 'disk'>;
  /** shown in the summary */
  description: string;
  facts?: MediaFacts;
}

/**
 * What `media inspect` says about a location: its facts, or the message of the typed error it exits
 * with. A CD-ROM ISO that is not an install tree is booted as it is (as the install does), so that
 * one is not an error there.
 */
export type Inspection =
  | { kind: 'found'; facts: MediaFacts }
  | { kind: 'unrecognised-cdrom'; message: string }
  | { kind: 'error'; message: string };

export async function inspect(deps: WizardDeps, source: string, cdrom = false): Promise<Inspection> {
  try {
    return { kind: 'found', facts: await deps.inspectMedia(source) };
  } catch (e) {
    if (isPromptCancel(e) || !isInstallGuestError(e)) throw e;
    const message = e.hint ? `${e.message} (hint: ${e.hint})` : e.message;
    if (cdrom && e.code === 'MEDIA_NOT_RECOGNISED') return { kind: 'unrecognised-cdrom', message };
    return { kind: 'error', message };
  }
}

export function describeFacts(f: MediaFacts): string {
  return `${f.name} ${f.arch} (${f.family}${f.version ? ` ${f.version}` : ''})`;
}

export async function askMedia(deps: WizardDeps): Promise<MediaAnswer> {
  const p = deps.prompts;
  const init = deps.initial ?? {};
  let kind: MediaKind = init.cdrom
    ? 'cdrom'
    : init.import
      ? 'import'
      : init.boot && !init.location
        ? 'boot'
        : 'location';
  let lastSource: string | undefined = init.location ?? init.cdrom;
  for (;;) {
    kind = await p.select<MediaKind>(
      {
        message: 'Install media',
        default: kind,
        choices: [
          { value: 'location', name: 'An install tree or ISO (--location): URL, directory or ISO file' },
          { value: 'cdrom', name: 'Boot a CD-ROM ISO (--cdrom)' },
          { value: 'boot', name: 'A kernel and initrd (--boot kernel=,initrd=)' },
          { value: 'import', name: 'Import an existing disk image, no install (--import)' },
        ],
      },
      ctxOf(deps),
    );
    if (kind === 'boot') {
      const kernel = await p.input(
        { message: 'Kernel', validate: pathValidator(deps, 'a kernel file', ['file']) },
        ctxOf(deps),
      );
      const initrdValid = pathValidator(deps, 'an initrd file', ['file']);
      const initrd = await p.input(
        {
          message: 'Initrd (empty for none)',
          validate: (v) => (v === '' ? true : initrdValid(v)),
        },
        ctxOf(deps),
      );
      const k = path.resolve(deps.cwd, kernel);
      const i = initrd ? path.resolve(deps.cwd, initrd) : undefined;
      return {
        kind,
        options: { boot: `kernel=${subValue(k)}${i ? `,initrd=${subValue(i)}` : ''}` },
        description: `kernel ${k}${i ? `, initrd ${i}` : ''}`,
      };
    }
    if (kind === 'import') {
      const disk = await p.input(
        { message: 'Disk image to boot', validate: pathValidator(deps, 'a disk image', ['file', 'block']) },
        ctxOf(deps),
      );
      const d = path.resolve(deps.cwd, disk);
      return {
        kind,
        options: { import: true, disk: [`path=${subValue(d)}`] },
        description: `import ${d}`,
      };
    }
    const isLocation = kind === 'location';
    const fileCheck = pathValidator(deps, isLocation ? 'a directory or ISO file' : 'an ISO file', [
      'file',
      ...(isLocation ? (['dir'] as const) : []),
    ]);
    const sourceOf = (v: string): string => (isLocation && isUrl(v) ? v : path.resolve(deps.cwd, v));
    // `media inspect` runs when the answer is entered: what it does not recognise is asked again
    const seen = new Map<string, Inspection>();
    const answer = await p.input(
      {
        message: isLocation ? 'Location (URL, directory or ISO file)' : 'CD-ROM ISO file',
        ...(lastSource !== undefined ? { default: lastSource } : {}),
        validate: async (v) => {
          const basic =
            isLocation && isUrl(v)
              ? /^(https?|ftp):\/\/\S+$/i.test(v)
                ? true
                : 'a URL must be http://, https:// or ftp://'
              : await fileCheck(v);
          if (basic !== true) return basic;
          const found = await inspect(deps, sourceOf(v), !isLocation);
          seen.set(v, found);
          return found.kind === 'error' ? found.message : true;
        },
      },
      ctxOf(deps),
    );
    const source = sourceOf(answer);
    lastSource = answer;
    const found = seen.get(answer) ?? (await inspect(deps, source, !isLocation));
    const options = isLocation ? { location: source } : { cdrom: source };
    const what = isLocation ? `--location ${source}` : `--cdrom ${source}`;
    if (found.kind === 'found') {
      for (const l of found.facts.lines) line(deps, `  ${l}`);
      return { kind, options, description: `${what}: ${describeFacts(found.facts)}`, facts: found.facts };
    }
    if (found.kind === 'unrecognised-cdrom') {
      line(deps, `  note: ${found.message}`);
      line(deps, '  the ISO is booted as it is');
      return { kind, options, description: `${what} (not an install tree install-guest recognises)` };
    }
    // only when the prompt took an answer its validation refused (a scripted prompt does not)
    line(deps, `  ✗ ${found.message}`);
  }
}
