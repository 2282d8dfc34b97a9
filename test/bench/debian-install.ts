/**
 * A full install with a REAL installer vs provisioning from its disk (issue: "the second
 * `provision` from a cached base costs less than 5 % of a full install's wall time"). Opt-in: it
 * needs an Internet mirror and up to an hour under TCG, so it is never part of the default suite.
 *
 *   1. `install` of Debian 12 with the real debian-installer (the netboot images of the Debian
 *      package debian-installer-12-netboot-amd64, the built-in preseed, packages from the mirror),
 *      then the confirm boot of the installed disk: the full install, both phases timed;
 *   2. `provision --base <that disk>` twice: a qcow2 overlay, booted and confirmed.
 * Figures: full install (and its install/confirm phases), both provisions, second provision /
 * full install (goal < 0.05×).
 *
 * Before the hour-long run, a preflight asks the mirror for the installer components (udebs) the
 * netboot installer downloads first; a mirror or proxy that serves only .deb packages is reported
 * then, not 3 minutes into the install.
 *
 *   npx tsx test/bench/run.ts provision --real-installer debian12 [--mirror HOST/DIR]
 *   npx tsx test/bench/debian-install.ts [--mirror HOST/DIR]
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { type Figure, figure, formatTable, machine, ratio } from './lib.js';
import { timedCli } from './provision.js';

/** The real installers this benchmark knows. */
export const REAL_INSTALLERS = ['debian12'] as const;
export type RealInstaller = (typeof REAL_INSTALLERS)[number];

export interface Mirror {
  host: string;
  directory: string;
}

export const DEFAULT_MIRROR: Mirror = { host: 'deb.debian.org', directory: '/debian' };

/** `HOST/DIR` (as in a mirror URL without its scheme) → mirror; `HOST` alone means `/debian`. */
export function parseMirror(s: string): Mirror {
  const m = /^(?:http:\/\/)?([A-Za-z0-9.-]+(?::\d+)?)(\/[^\s]*)?$/.exec(s.trim());
  if (!m) throw new Error(`--mirror takes HOST/DIR (e.g. deb.debian.org/debian), not '${s}'`);
  const dir = (m[2] ?? '/debian').replace(/\/+$/, '');
  return { host: m[1]!, directory: dir === '' ? '/' : dir };
}

interface InstallerSpec {
  osVariant: string;
  suite: string;
  arch: string;
  /** the netboot tree (`--location`) */
  location: string;
  /** Debian package that ships it */
  package: string;
  /** udebs the netboot installer downloads early (anna), checked by the preflight */
  components: readonly string[];
}

const SPECS: Record<RealInstaller, InstallerSpec> = {
  debian12: {
    osVariant: 'debian12',
    suite: 'bookworm',
    arch: 'amd64',
    location: '/usr/lib/debian-installer/images/12/amd64/text',
    package: 'debian-installer-12-netboot-amd64',
    components: ['apt-mirror-setup', 'apt-setup-udeb', 'clock-setup', 'finish-install', 'grub-installer'],
  },
};

/**
 * The pool paths of `components` in a d-i Packages index (its text), in order; throws naming the
 * components the index does not list.
 */
export function componentFiles(packagesText: string, components: readonly string[]): string[] {
  const files = new Map<string, string>();
  for (const stanza of packagesText.split(/\n\s*\n/)) {
    const pkg = /^Package: (\S+)$/m.exec(stanza)?.[1];
    const file = /^Filename: (\S+)$/m.exec(stanza)?.[1];
    if (pkg && file) files.set(pkg, file);
  }
  const missing = components.filter((c) => !files.has(c));
  if (missing.length > 0) throw new Error(`the installer index lists no ${missing.join(', ')}`);
  return components.map((c) => files.get(c)!);
}

/** Checks that the mirror serves the installer's index and its first components (HTTP HEAD). */
export async function preflightMirror(spec: InstallerSpec, mirror: Mirror): Promise<void> {
  const base = `http://${mirror.host}${mirror.directory === '/' ? '' : mirror.directory}`;
  const index = `${base}/dists/${spec.suite}/main/debian-installer/binary-${spec.arch}/Packages.gz`;
  const res = await fetch(index, { signal: AbortSignal.timeout(30_000) });
  if (!res.ok) throw new Error(`mirror preflight: ${index} answered ${res.status}`);
  const text = gunzipSync(Buffer.from(await res.arrayBuffer())).toString('utf8');
  const missing: string[] = [];
  for (const file of componentFiles(text, spec.components)) {
    const r = await fetch(`${base}/${file}`, { method: 'HEAD', signal: AbortSignal.timeout(30_000) });
    if (!r.ok) missing.push(`${file} (${r.status})`);
  }
  if (missing.length > 0)
    throw new Error(
      `mirror preflight: ${base} does not serve the installer components the netboot installer downloads: ${missing.join(', ')}; ` +
        'the install would stop at "The installer failed to download a file from the mirror". Use a full mirror (--mirror HOST/DIR)',
    );
}

export interface RealInstallBenchOptions {
  installer?: RealInstaller;
  mirror?: Mirror;
  /** the netboot tree; default the one the installer's Debian package installs */
  location?: string;
  /** how many times to measure the whole sequence (default 1: each costs up to an hour) */
  runs?: number;
  /** skip the mirror preflight (a mirror that only answers the guest) */
  noPreflight?: boolean;
  log?: (line: string) => void;
}

interface Phases {
  install?: { ms?: number };
  confirm?: { ms?: number; skipped?: string };
}

/** The guest's size: what d-i needs for a minimal system (1 GiB of memory, 4 GiB of disk). */
const GUEST = ['--memory', '1024', '--vcpus', '2', '--network', 'user,model=e1000e'];

/** One sequence's wall times, ms: the full install, its two phases, two provisions. */
export interface SequenceTimes {
  full: number;
  install: number;
  confirm: number;
  first: number;
  second: number;
}

/**
 * In a fresh temp dir: `install --name base INSTALL_ARGS GUEST_ARGS` (must end confirmed), then
 * `provision --base base.qcow2 GUEST_ARGS` twice; every CLI run timed whole, in-process.
 */
export async function installThenProvisionTwice(
  installArgs: readonly string[],
  guestArgs: readonly string[],
  log: (line: string) => void = () => undefined,
): Promise<SequenceTimes> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ig-bench-real-install-'));
  try {
    const r = await timedCli(
      ['install', '--name', 'base', ...installArgs, ...guestArgs, '--log-dir', path.join(dir, 'base-logs')],
      dir,
    );
    const result = JSON.parse(await readFile(path.join(dir, 'base-logs', 'result.json'), 'utf8')) as {
      verdict: string;
      phases: Phases;
    };
    if (result.verdict !== 'confirmed') throw new Error(`the full install ended ${result.verdict}`);
    const install = result.phases.install?.ms ?? NaN;
    const confirm = result.phases.confirm?.ms ?? NaN;
    log(
      `full install ${(r.ms / 1000).toFixed(1)} s (install phase ${(install / 1000).toFixed(1)} s, confirm phase ${(confirm / 1000).toFixed(1)} s)`,
    );
    const provisions: number[] = [];
    for (const n of [1, 2]) {
      const p = await timedCli(
        [
          'provision',
          '--base',
          path.join(dir, 'base.qcow2'),
          '--name',
          `job${n}`,
          ...guestArgs,
          '--log-dir',
          path.join(dir, `job${n}-logs`),
        ],
        dir,
      );
      provisions.push(p.ms);
      log(`provision ${n} ${(p.ms / 1000).toFixed(1)} s`);
    }
    return { full: r.ms, install, confirm, first: provisions[0]!, second: provisions[1]! };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function benchRealInstall(opts: RealInstallBenchOptions = {}): Promise<Figure[]> {
  const spec = SPECS[opts.installer ?? 'debian12'];
  const mirror = opts.mirror ?? DEFAULT_MIRROR;
  const location = opts.location ?? spec.location;
  const runs = opts.runs ?? 1;
  const log = opts.log ?? (() => undefined);
  if (!existsSync(location))
    throw new Error(`${location} is missing: apt-get install -y ${spec.package} (root)`);
  if (!opts.noPreflight) {
    await preflightMirror(spec, mirror);
    log(`mirror ${mirror.host}${mirror.directory} serves the installer components`);
  }
  const installArgs = [
    '--disk',
    'size=4',
    '--location',
    location,
    '--os-variant',
    spec.osVariant,
    '--ks-set',
    `mirror.host=${mirror.host}`,
    '--ks-set',
    `mirror.directory=${mirror.directory}`,
    '--wait',
    '120',
  ];
  const times: SequenceTimes[] = [];
  for (let i = 0; i < runs; i++) {
    times.push(await installThenProvisionTwice(installArgs, GUEST, (l) => log(`run ${i + 1}: ${l}`)));
  }
  const s = (k: keyof SequenceTimes): number[] => times.map((t) => t[k] / 1000);
  const ms = (k: keyof SequenceTimes): number[] => times.map((t) => t[k]);
  return [
    figure(`${spec.osVariant} (debian-installer, mirror ${mirror.host}): full install`, 's', s('full')),
    figure('  its install phase (installer boot to power-off)', 's', s('install')),
    figure('  its confirm phase (installed disk booted, IG-CONFIRM read)', 's', s('confirm')),
    figure('provision from the installed disk, first', 's', s('first')),
    figure('provision from the installed disk, second', 's', s('second')),
    ratio('second provision / full install', ms('second'), ms('full'), 0.05, '< 0.05× a full install'),
  ];
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const at = args.indexOf('--mirror');
  const mirror = at >= 0 ? parseMirror(args[at + 1] ?? '') : DEFAULT_MIRROR;
  console.log(`real-installer benchmark on ${machine()}`);
  const figures = await benchRealInstall({ mirror, log: (l) => console.log(l) });
  console.log(formatTable(figures));
}
