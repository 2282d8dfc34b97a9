/**
 * Install-tree detection: an ordered list of detectors, each a pure function over the files it asks
 * for. A detector first says which files it wants to read (small metadata, size-limited) and which
 * it only needs to know exist; `detectTree` fetches those through a TreeReader (HTTP, local
 * directory, ISO: the same detectors run on all three) and hands the answers to `detect`, which
 * returns a Detection or null. Wants may depend on what was already read (the Debian detectors
 * look for kernels only once a MANIFEST said "Debian"), so the engine asks again until a detector
 * wants nothing new. The first detector that recognises the tree wins; when none does, the error
 * says what was looked for and where (exit 2).
 */
import { inputError } from '../errors.js';
import { ALL_ARCHES, hostArch } from './arch.js';
import { debianCdDetector, debianMirrorDetector, debianNetbootDetector } from './detect-debian.js';
import { mageiaDetector, suseContentDetector } from './detect-extra.js';
import { treeinfoDetector } from './detect-treeinfo.js';
import { ubuntuCasperDetector } from './detect-ubuntu.js';
import { probeView } from './detector.js';
import type { DetectContext, Detector } from './detector.js';
import type { Detection, TreeReader } from './types.js';

export { LIMITS, probeView } from './detector.js';
export type { DetectContext, Detector, ProbeView, Wants } from './detector.js';

/** The detectors in the order they are tried. */
export const DETECTORS: readonly Detector[] = [
  treeinfoDetector,
  debianMirrorDetector,
  debianNetbootDetector,
  ubuntuCasperDetector,
  debianCdDetector,
  suseContentDetector,
  mageiaDetector,
];

/** Runs one detector purely over a complete listing (every file given exists, every other is missing). */
export function detectWith(
  detector: Detector,
  files: Record<string, string>,
  ctx: DetectContext,
): Detection | null {
  return detector.detect(probeView(new Map(Object.entries(files)), new Set(), 'all'), ctx);
}

export function defaultContext(partial: Partial<DetectContext> & { location: string }): DetectContext {
  return {
    arch: null,
    hostArch: hostArch(),
    medium: 'local',
    xen: false,
    ...partial,
  };
}

export interface DetectOptions {
  detectors?: readonly Detector[];
  /** called before each file is read or checked, for logs */
  onProbe?: (relPath: string, how: 'read' | 'exists') => void;
}

/**
 * Tries each detector in order over the reader; returns the first Detection. Without a context the
 * tree decides the arch (the host's preferred) and the location is the reader's description. Throws
 * MEDIA_NOT_RECOGNISED (exit 2) listing what was looked for when none matches.
 */
export async function detectTree(
  reader: TreeReader,
  ctx: DetectContext = defaultContext({ location: reader.describe }),
  options: DetectOptions = {},
): Promise<Detection> {
  const files = new Map<string, string | null>();
  const existing = new Set<string>();
  const checked = new Set<string>();
  const view = probeView(files, existing, checked);
  const lookedAt: string[] = [];
  const detectors = options.detectors ?? DETECTORS;

  for (const d of detectors) {
    for (let round = 0; round < 64; round++) {
      const w = d.wants(view, ctx);
      let asked = false;
      for (const { path, maxBytes } of w.read ?? []) {
        if (files.has(path)) continue;
        asked = true;
        options.onProbe?.(path, 'read');
        lookedAt.push(path);
        const buf = await reader.read(path, maxBytes);
        files.set(path, buf === null ? null : buf.toString('utf8'));
        checked.add(path);
        if (buf !== null) existing.add(path);
      }
      for (const path of w.exists ?? []) {
        if (checked.has(path)) continue;
        asked = true;
        options.onProbe?.(path, 'exists');
        lookedAt.push(path);
        checked.add(path);
        if (await reader.exists(path)) existing.add(path);
      }
      if (!asked) break;
    }
    const found = d.detect(view, ctx);
    if (found) return found;
  }

  const unique = [...new Set(lookedAt)];
  throw inputError(
    'MEDIA_NOT_RECOGNISED',
    `${reader.describe} is not an install tree install-guest recognises${ctx.arch ? ` for ${ctx.arch}` : ''}: looked for ${detectors
      .map((d) => d.lookingFor)
      .join('; ')}`,
    {
      hint:
        'give the tree root (the directory holding .treeinfo, current/images or debian-installer/), ' +
        'or boot a kernel directly with --boot kernel=PATH,initrd=PATH',
      data: { location: reader.describe, probed: unique, arches: ctx.arch ? [ctx.arch] : ALL_ARCHES },
    },
  );
}
