/**
 * The interactive install: a terminal version of virt-manager's New VM wizard. Each step asks through
 * the injected prompts and returns the install options it decided; `runWizard` puts them together,
 * prints a summary with the exact equivalent command line and asks before anything runs. Nothing
 * here writes to the host: the devices are only listed, the media only inspected, the kickstart only
 * linted. Ctrl-C at any prompt becomes WIZARD_CANCELLED (exit 130) with the host untouched.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { InstallGuestError, isInstallGuestError } from '../errors.js';
import { parseInstallRequest, parseNetwork, safeFileName, type RawInstallArgs } from '../request/request.js';
import { parseMiB } from '../request/suboptions.js';
import { findingLine } from '../kickstart/lint-file.js';
import { shellQuote, subValue, toCommandLine } from './command-line.js';
import type {
  DeviceChoice,
  LintFinding,
  MediaFacts,
  PromptChoice,
  PromptSeparator,
  WizardDeps,
} from './types.js';

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

/** @inquirer rejects with ExitPromptError on Ctrl-C and AbortPromptError when the signal aborts. */
export function isPromptCancel(e: unknown): boolean {
  const name = (e as { name?: unknown } | null)?.name;
  return e instanceof Error && (name === 'ExitPromptError' || name === 'AbortPromptError');
}

const line = (deps: WizardDeps, text = ''): void => void deps.stdout.write(`${text}\n`);
const ctxOf = (deps: WizardDeps): { signal?: AbortSignal } => (deps.signal ? { signal: deps.signal } : {});
const separator = (text = ''): PromptSeparator => ({ type: 'separator', separator: text });

/** An inputError's message as a prompt's validation text; true when the check passes. */
function check(fn: () => unknown): true | string {
  try {
    fn();
    return true;
  } catch (e) {
    if (isInstallGuestError(e)) return e.message;
    throw e;
  }
}

type PathKind = 'file' | 'dir' | 'block' | 'other';
async function pathKind(p: string): Promise<PathKind | null> {
  const s = await stat(p).catch(() => null);
  if (!s) return null;
  return s.isFile() ? 'file' : s.isDirectory() ? 'dir' : s.isBlockDevice() ? 'block' : 'other';
}

/** Validation for a path the user types: it must exist and be one of `kinds`. */
function pathValidator(deps: WizardDeps, what: string, kinds: PathKind[]) {
  return async (v: string): Promise<true | string> => {
    if (!v.trim()) return `give the path of ${what}`;
    if (/[\n\r\0]/.test(v)) return 'a path must be one line of text';
    const k = await pathKind(path.resolve(deps.cwd, v));
    if (k === null) return `no such file or directory: ${v}`;
    return kinds.includes(k) ? true : `${v} is not ${what}`;
  };
}

const isUrl = (s: string): boolean => /^[a-z][a-z0-9+.-]*:\/\//i.test(s);

// ---------------------------------------------------------------- step 1: name and resources

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

// ---------------------------------------------------------------- step 2: install media

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

// ---------------------------------------------------------------- step 3: network

export interface NetworkAnswer {
  network: string;
  hostdev?: string[];
  device?: DeviceChoice;
  description: string;
}

/** Why a device is greyed (its blocking reasons) or what to mind (its warnings), in one line. */
export function reasonText(d: DeviceChoice): string {
  const wanted = d.verdict === 'not-assignable' ? 'block' : 'warn';
  return d.reasons
    .filter((r) => r.severity === wanted)
    .map((r) => r.message)
    .join('; ');
}

/**
 * One entry of the device list: greyed with its `hostdev list` reason when not assignable, the
 * warnings shown when assignable with warnings.
 */
export function deviceChoice(d: DeviceChoice): PromptChoice<string> {
  const why = reasonText(d) || 'see install-guest hostdev show ' + d.address;
  if (d.verdict === 'not-assignable')
    return { value: d.address, name: d.label, disabled: `(not assignable: ${why})` };
  if (d.verdict === 'warnings')
    return {
      value: d.address,
      name: `${d.label}  (warning: ${why})`,
      short: d.address,
      description: `${d.className}; assignable with warnings: ${why}`,
    };
  return { value: d.address, name: d.label, short: d.address, description: `${d.className}; assignable` };
}

const BACK = '\u0000back';

export async function askNetwork(deps: WizardDeps): Promise<NetworkAnswer> {
  const p = deps.prompts;
  const init = deps.initial ?? {};
  let devices: DeviceChoice[] = [];
  let listError: string | undefined;
  try {
    devices = await deps.listDevices();
  } catch (e) {
    if (isPromptCancel(e)) throw e;
    listError = e instanceof Error ? e.message : String(e);
  }
  let kind: 'user' | 'bridge' | 'hostdev' = init.hostdev?.length
    ? 'hostdev'
    : init.network?.startsWith('bridge=')
      ? 'bridge'
      : 'user';
  for (;;) {
    const hostdevDisabled = listError
      ? `(cannot list the host's devices: ${listError})`
      : devices.length === 0
        ? '(this host shows no PCI network device)'
        : false;
    kind = await p.select<'user' | 'bridge' | 'hostdev'>(
      {
        message: 'Network',
        default: hostdevDisabled && kind === 'hostdev' ? 'user' : kind,
        choices: [
          { value: 'user', name: 'User networking (NAT inside qemu; no host setup)' },
          { value: 'bridge', name: 'A host bridge (--network bridge=NAME)' },
          {
            value: 'hostdev',
            name: 'Assign a physical device (a host NIC, through the IOMMU)',
            disabled: hostdevDisabled,
          },
        ],
      },
      ctxOf(deps),
    );
    if (kind === 'user') return { network: 'user', description: 'user networking' };
    if (kind === 'bridge') {
      const initBridge = init.network?.startsWith('bridge=')
        ? init.network.slice(7).split(',')[0]
        : undefined;
      const bridge = await p.input(
        {
          message: 'Bridge name',
          default: initBridge ?? 'br0',
          validate: (v) =>
            v.includes(',') || v.includes('=')
              ? `'${v}' is not an interface name`
              : check(() => parseNetwork(`bridge=${v}`)),
        },
        ctxOf(deps),
      );
      return { network: `bridge=${bridge}`, description: `bridge ${bridge}` };
    }
    const usable = devices.filter((d) => d.verdict !== 'not-assignable');
    if (usable.length === 0)
      line(deps, '  no network device on this host can be assigned; the reasons are shown greyed');
    const address = await p.select<string>(
      {
        message: 'Device to assign',
        pageSize: 12,
        loop: false,
        ...(init.hostdev?.[0] && usable.some((d) => d.address === init.hostdev![0])
          ? { default: init.hostdev[0] }
          : {}),
        choices: [
          ...devices.map(deviceChoice),
          separator(),
          { value: BACK, name: '← Back to the network choices' },
        ],
      },
      ctxOf(deps),
    );
    if (address === BACK) continue;
    const device = devices.find((d) => d.address === address)!;
    if (device.verdict === 'warnings') line(deps, `  warning: ${reasonText(device)}`);
    const alsoUser = await p.confirm(
      {
        message: 'Also give the guest user networking (the installer can download through it)?',
        default: true,
      },
      ctxOf(deps),
    );
    return {
      network: alsoUser ? 'user' : 'none',
      hostdev: [device.address],
      device,
      description: `assign ${device.label}${alsoUser ? '; user networking as well' : '; no other network'}`,
    };
  }
}

// ---------------------------------------------------------------- step 4: disk

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

// ---------------------------------------------------------------- step 5: kickstart

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

// ---------------------------------------------------------------- summary and the whole wizard

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
    const carried = Object.fromEntries(
      Object.entries(deps.initial ?? {}).filter(([k]) => !ASKED.includes(k as keyof RawInstallArgs)),
    ) as RawInstallArgs;
    const { disk: _d, ...mediaOptions } = media.options;
    const raw: RawInstallArgs = {
      ...carried,
      name: res.name,
      memory: res.memory,
      vcpus: res.vcpus,
      ...mediaOptions,
      disk: disk.disk,
      network: net.network,
      ...(net.hostdev ? { hostdev: net.hostdev } : {}),
      // importing asks no kickstart question: the command line's --os-variant stays
      ...(ks?.options ?? (deps.initial?.osVariant ? { osVariant: deps.initial.osVariant } : {})),
    };
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
