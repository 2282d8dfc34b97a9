/**
 * The detector contract: a detector names the files it wants (metadata to read under a size limit,
 * files whose existence matters) and decides purely from the answers. Kept apart from detect.ts so
 * detectors and the engine do not import each other.
 */
import type { Arch, Detection } from './types.js';

export interface DetectContext {
  /** the requested arch; null lets the tree decide (host arch preferred where a tree has several) */
  arch: Arch | null;
  hostArch: Arch;
  /** the location as given: Debian mirror trees carry the arch and codename in their URL */
  location: string;
  /** what holds the tree: decides e.g. whether a CD installer's kernel can find its CD */
  medium: 'http' | 'local' | 'iso';
  /** use Xen PV images where the tree has them */
  xen: boolean;
}

/** The answers a detector sees: file contents it asked to read, existence of the files it asked about. */
export interface ProbeView {
  /** the file's text (UTF-8), or null when missing */
  text(relPath: string): string | null;
  /** true when the file exists (asked for by read or exists) */
  has(relPath: string): boolean;
  /** true when the file was already read or checked (present or not) */
  known(relPath: string): boolean;
}

export interface Wants {
  /** metadata files to read, with their size limit */
  read?: { path: string; maxBytes: number }[];
  /** files whose existence decides something */
  exists?: string[];
}

export interface Detector {
  name: string;
  /** one line for the "not recognised" message: what this detector looks for */
  lookingFor: string;
  /** the files wanted given what is known so far; called again until it wants nothing new */
  wants(view: ProbeView, ctx: DetectContext): Wants;
  /** pure: the detection, or null when this is not the detector's kind of tree */
  detect(view: ProbeView, ctx: DetectContext): Detection | null;
}

/** Limits for metadata reads: nothing unbounded comes from a tree. */
export const LIMITS = {
  treeinfo: 1024 * 1024,
  manifest: 1024 * 1024,
  sums: 4 * 1024 * 1024,
  small: 64 * 1024,
} as const;

/**
 * A ProbeView over plain data: file contents, paths known to exist, paths already checked (`all`
 * for a complete listing, where every file not given is known to be missing).
 */
export function probeView(
  files: ReadonlyMap<string, string | null>,
  existing: ReadonlySet<string> = new Set(),
  checked: ReadonlySet<string> | 'all' = new Set(),
): ProbeView {
  return {
    text: (p) => files.get(p) ?? null,
    has: (p) => existing.has(p) || (files.get(p) ?? null) !== null,
    known: (p) => checked === 'all' || files.has(p) || checked.has(p),
  };
}
