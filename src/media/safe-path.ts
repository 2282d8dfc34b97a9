/**
 * Paths that come from a tree's metadata (`.treeinfo`, `SHA256SUMS`, MANIFEST) are untrusted: they
 * may name only files inside the tree. `safeRelPath` returns the normalised relative path or null
 * for anything that would leave it: `..` segments that climb above the root, absolute paths
 * (`/x`, `\x`, `C:x`), URL schemes (`http:`, `file:`), NUL bytes and empty names.
 */
import { inputError } from '../errors.js';

const SCHEME_RE = /^[a-z][a-z0-9+.-]*:/i;

export function safeRelPath(p: string, base = ''): string | null {
  if (typeof p !== 'string' || p.length === 0 || p.length > 4096) return null;
  if (p.includes('\0') || p.includes('\\')) return null;
  if (p.startsWith('/') || SCHEME_RE.test(p)) return null;
  const out: string[] = [];
  for (const seg of [...base.split('/'), ...p.split('/')]) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (out.length === 0) return null;
      out.pop();
      continue;
    }
    out.push(seg);
  }
  return out.length === 0 ? null : out.join('/');
}

/** Like safeRelPath, but an unsafe path is an input error naming the metadata file and the key. */
export function requireSafeRelPath(p: string, where: string, base = ''): string {
  const safe = safeRelPath(p, base);
  if (safe === null) {
    throw inputError('MEDIA_UNSAFE_PATH', `${where} names ${JSON.stringify(p)}, a path outside the tree`, {
      hint: 'metadata may only name files inside the install tree (no "..", absolute paths or URLs)',
      data: { path: p, where },
    });
  }
  return safe;
}
