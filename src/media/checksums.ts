/**
 * Checksum lists as trees publish them: productmd's `algo:hex` values, and the `hex  path` lines of
 * `SHA256SUMS` / `md5sum.txt`. Parsing is pure; unsafe paths are dropped with a warning (they name
 * no file install-guest would fetch), never resolved.
 */
import { safeRelPath } from './safe-path.js';
import type { Checksum, ChecksumAlgo } from './types.js';

const HEX_LENGTH: Record<ChecksumAlgo, number> = {
  md5: 32,
  sha1: 40,
  sha224: 56,
  sha256: 64,
  sha384: 96,
  sha512: 128,
};

/** `sha256:ab12…` → {algo, hex}; null when the algorithm is unknown or the hex has the wrong length. */
export function parseChecksumValue(value: string): Checksum | null {
  const m = /^([a-z0-9]+):([0-9a-fA-F]+)$/.exec(value.trim());
  if (!m) return null;
  const algo = m[1]!.toLowerCase() as ChecksumAlgo;
  if (!(algo in HEX_LENGTH)) return null;
  const hex = m[2]!.toLowerCase();
  return hex.length === HEX_LENGTH[algo] ? { algo, hex } : null;
}

/**
 * Lines of `hex  path` (GNU coreutils format, `*` for binary mode) as written by sha256sum/md5sum.
 * `base` is the directory the list sits in, relative to the tree root.
 */
export function parseSumsFile(
  text: string,
  algo: ChecksumAlgo,
  base: string,
): { checksums: Record<string, Checksum>; warnings: string[] } {
  const checksums: Record<string, Checksum> = {};
  const warnings: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^([0-9a-fA-F]+) [ *](.+)$/.exec(line);
    if (!m || m[1]!.length !== HEX_LENGTH[algo]) continue;
    const rel = safeRelPath(m[2]!, base);
    if (rel === null) {
      warnings.push(`ignored a checksum for ${JSON.stringify(m[2])}: outside the tree`);
      continue;
    }
    checksums[rel] = { algo, hex: m[1]!.toLowerCase() };
  }
  return { checksums, warnings };
}
