/**
 * `media inspect --verify`: every image the tree's checksum list names is hashed and compared. For
 * productmd trees that is all of `[checksums]`; for the long lists of Debian/Ubuntu trees
 * (SHA256SUMS, md5sum.txt name every package) it is the files in the directories of the kernel and
 * the initrd, which is what an install boots. Over HTTP each file is downloaded into the cache
 * with its expected checksum (a mismatch caches nothing); local trees and ISOs are hashed in place.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { isInstallGuestError } from '../errors.js';
import type { Fetcher } from './fetch.js';
import type { HttpTreeReader } from './http-tree.js';
import type { IsoImage } from './iso9660.js';
import type { LocalTreeReader } from './readers.js';
import type { Checksum, ChecksumAlgo, Detection } from './types.js';

export interface VerifyResult {
  path: string;
  algo: ChecksumAlgo;
  expected: string;
  ok: boolean;
  got?: string;
  error?: string;
}

export type ImageSource =
  | { kind: 'http'; reader: HttpTreeReader; fetcher: Fetcher }
  | { kind: 'local'; reader: LocalTreeReader }
  | { kind: 'iso'; image: IsoImage };

const dirOf = (p: string): string => (p.includes('/') ? p.slice(0, p.lastIndexOf('/') + 1) : '');

/** The checksum entries `--verify` checks (see the module comment). */
export function filesToVerify(d: Detection): [string, Checksum][] {
  const all = Object.entries(d.checksums);
  if (d.detector === 'treeinfo') return all;
  const dirs = new Set([dirOf(d.kernel), dirOf(d.initrd)]);
  return all.filter(([p]) => dirs.has(dirOf(p)));
}

async function hashStream(chunks: AsyncIterable<Buffer>, algo: string): Promise<string> {
  const h = createHash(algo);
  for await (const c of chunks) h.update(c);
  return h.digest('hex');
}

export async function verifyImages(d: Detection, src: ImageSource): Promise<VerifyResult[]> {
  const results: VerifyResult[] = [];
  for (const [rel, sum] of filesToVerify(d)) {
    const base = { path: rel, algo: sum.algo, expected: sum.hex };
    try {
      let got: string | null;
      if (src.kind === 'http') {
        const url = src.reader.url(rel);
        if (!url) throw new Error('outside the tree');
        await src.fetcher.fetch({ url, expected: sum, expect: 'binary' });
        got = sum.hex;
      } else if (src.kind === 'local') {
        const real = await src.reader.resolve(rel);
        got = real ? await hashStream(createReadStream(real) as AsyncIterable<Buffer>, sum.algo) : null;
      } else {
        const e = await src.image.stat(rel);
        got = e && !e.isDir ? await hashStream(src.image.chunks(e), sum.algo) : null;
      }
      if (got === null) results.push({ ...base, ok: false, error: 'missing' });
      else results.push({ ...base, ok: got === sum.hex, ...(got === sum.hex ? {} : { got }) });
    } catch (e) {
      if (isInstallGuestError(e) && e.code === 'MEDIA_CHECKSUM_MISMATCH') {
        results.push({ ...base, ok: false, got: typeof e.data?.got === 'string' ? e.data.got : '' });
      } else if (isInstallGuestError(e) && (e.code === 'MEDIA_NOT_FOUND' || e.code === 'MEDIA_HTML_PAGE')) {
        results.push({
          ...base,
          ok: false,
          error: e.code === 'MEDIA_NOT_FOUND' ? 'missing' : 'an HTML page instead of the file',
        });
      } else {
        throw e;
      }
    }
  }
  return results;
}
