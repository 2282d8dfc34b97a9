/** Small helpers the detectors share: probing candidates in order, Debian/Ubuntu release names. */
import { inputError } from '../errors.js';
import { ALL_ARCHES, normalizeArch } from './arch.js';
import { parseSumsFile } from './checksums.js';
import type { DetectContext, ProbeView, Wants } from './detector.js';
import { LIMITS } from './detector.js';
import type { Arch, Checksum } from './types.js';

export type Probe<T> = { state: 'want'; wants: Wants } | { state: 'found'; value: T } | { state: 'none' };

/**
 * Walks candidates in order and stops at the first whose files all exist; asks for one candidate's
 * files at a time so an HTTP tree costs one request when the first guess is right.
 */
export function firstExisting<T>(
  view: ProbeView,
  candidates: readonly { files: string[]; value: T }[],
): Probe<T> {
  for (const c of candidates) {
    const unknown = c.files.filter((f) => !view.known(f));
    if (unknown.length) {
      // ask for the first unknown file only: when it is missing, the rest need not be checked
      if (c.files.slice(0, c.files.indexOf(unknown[0]!)).every((f) => view.has(f))) {
        return { state: 'want', wants: { exists: [unknown[0]!] } };
      }
      continue;
    }
    if (c.files.every((f) => view.has(f))) return { state: 'found', value: c.value };
  }
  return { state: 'none' };
}

/** Arches to try: the requested one only, else the host's first, then the rest. */
export function archCandidates(ctx: DetectContext, fromTree: Arch | null = null): Arch[] {
  if (ctx.arch) return [ctx.arch];
  if (fromTree) return [fromTree];
  return [ctx.hostArch, ...ALL_ARCHES.filter((a) => a !== ctx.hostArch)];
}

export function checkArch(ctx: DetectContext, treeArch: Arch | null, where: string): void {
  if (ctx.arch && treeArch && ctx.arch !== treeArch) {
    throw inputError('MEDIA_ARCH_MISMATCH', `${where} is for ${treeArch}, --arch asked for ${ctx.arch}`, {
      hint: 'point --location at the tree for that architecture, or drop --arch',
    });
  }
}

/** The first architecture word in a text (`… Official amd64 NETINST …` → x86_64). */
export function archInText(text: string): Arch | null {
  for (const word of text.split(/[^A-Za-z0-9_]+/)) {
    if (/^(amd64|x86_64|i386|i686|arm64|aarch64|armhf|ppc64el|ppc64le|s390x|riscv64)$/.test(word)) {
      return normalizeArch(word);
    }
  }
  return null;
}

export const DEBIAN_CODENAMES: Record<string, string> = {
  wheezy: '7',
  jessie: '8',
  stretch: '9',
  buster: '10',
  bullseye: '11',
  bookworm: '12',
  trixie: '13',
  forky: '14',
  duke: '15',
};

export const UBUNTU_CODENAMES: Record<string, string> = {
  xenial: '16.04',
  bionic: '18.04',
  focal: '20.04',
  jammy: '22.04',
  mantic: '23.10',
  noble: '24.04',
  oracular: '24.10',
  plucky: '25.04',
  questing: '25.10',
};

/** A codename that appears as a path segment of the location (`…/dists/bookworm/…`). */
export function codenameInLocation(
  location: string,
  table: Record<string, string>,
): { codename: string; version: string } | null {
  const segs = location.toLowerCase().split(/[/\\]+/);
  for (const seg of segs) {
    // `focal-updates`, `bookworm-backports` name the release too
    const name = seg.split('-')[0]!;
    const v = table[name];
    if (v) return { codename: name, version: v };
  }
  return null;
}

export function codenameOf(version: string | null, table: Record<string, string>): string | null {
  if (!version) return null;
  const major =
    table === DEBIAN_CODENAMES ? version.split('.')[0]! : version.split('.').slice(0, 2).join('.');
  return Object.keys(table).find((k) => table[k] === major) ?? null;
}

/** `Debian version:  12 (bookworm)` (d-i's version.info) → 12 and bookworm. */
export function parseVersionInfo(text: string): {
  version: string | null;
  codename: string | null;
  ubuntu: boolean;
} {
  const m = /version:\s*([0-9][0-9.]*)(?:\s*\(([a-z]+)\))?/i.exec(text);
  return { version: m?.[1] ?? null, codename: m?.[2]?.toLowerCase() ?? null, ubuntu: /ubuntu/i.test(text) };
}

/** `.disk/info`: `Debian GNU/Linux 12.5.0 "Bookworm" - Official amd64 NETINST …` or `Ubuntu-Server 22.04.3 LTS "Jammy Jellyfish" …`. */
export function parseDiskInfo(text: string): {
  distro: 'debian' | 'ubuntu' | null;
  version: string | null;
  codename: string | null;
  arch: Arch | null;
  netinst: boolean;
} {
  const distro = /ubuntu/i.test(text) ? 'ubuntu' : /debian/i.test(text) ? 'debian' : null;
  const version = /\b(\d+(?:\.\d+){0,2})\b/.exec(text.replace(/\d{8}(-[\d:]+)?/g, ''))?.[1] ?? null;
  const codename = /"([A-Za-z]+)/.exec(text)?.[1]?.toLowerCase() ?? null;
  return { distro, version, codename, arch: archInText(text), netinst: /netinst|businesscard/i.test(text) };
}

/** Checksum lists a CD carries at its root, newest first. */
export const CD_SUMS = [
  { path: 'sha256sum.txt', algo: 'sha256' },
  { path: 'SHA256SUMS', algo: 'sha256' },
  { path: 'md5sum.txt', algo: 'md5' },
] as const;

/** Wants for the first CD checksum list not yet known (stops at the first present). */
export function cdSumsWants(view: ProbeView): Wants {
  for (const s of CD_SUMS) {
    if (view.has(s.path)) return {};
    if (!view.known(s.path)) return { read: [{ path: s.path, maxBytes: LIMITS.sums }] };
  }
  return {};
}

export function cdSums(view: ProbeView): {
  checksums: Record<string, Checksum>;
  source?: string;
  warnings: string[];
} {
  for (const s of CD_SUMS) {
    const text = view.text(s.path);
    if (text === null) continue;
    const r = parseSumsFile(text, s.algo, '');
    return { checksums: r.checksums, source: s.path, warnings: r.warnings };
  }
  return { checksums: {}, warnings: [] };
}

/** Merges wants (for detectors that ask for several things in one round). */
export function mergeWants(...all: Wants[]): Wants {
  return {
    read: all.flatMap((w) => w.read ?? []),
    exists: all.flatMap((w) => w.exists ?? []),
  };
}

export function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
