/**
 * A TreeReader over an http(s) tree: metadata reads go through the Fetcher (cached and revalidated,
 * so a second look at the same tree costs 304s), existence checks are HEAD requests. An HTML page
 * served for a metadata file (a server's "soft 404") counts as a missing file. Relative
 * paths are checked and percent-encoded segment by segment, so no path can leave the tree's URL.
 */
import { promises as fs } from 'node:fs';
import { inputError, isInstallGuestError } from '../errors.js';
import type { Fetcher } from './fetch.js';
import { redactUrl } from './fetch/url.js';
import { safeRelPath } from './safe-path.js';
import type { TreeReader } from './types.js';

/** The base URL with exactly one trailing slash (query and fragment refused). */
export function treeBaseUrl(location: string): string {
  let u: URL;
  try {
    u = new URL(location);
  } catch (e) {
    throw inputError(
      'MEDIA_BAD_URL',
      `--location ${JSON.stringify(redactUrl(location))} is not a valid URL`,
      {
        hint: 'use http://host/path/ or https://host/path/',
        cause: e,
      },
    );
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw inputError(
      'MEDIA_BAD_URL',
      `--location ${redactUrl(location)} uses ${u.protocol}, not http: or https:`,
      {
        hint: 'serve the tree over http(s), or give a local directory or ISO',
      },
    );
  }
  if (u.search || u.hash) {
    throw inputError('MEDIA_BAD_URL', `--location ${redactUrl(location)} has a query or fragment`, {
      hint: 'give the URL of the tree root only',
    });
  }
  if (!u.pathname.endsWith('/')) u.pathname += '/';
  return u.toString();
}

/** The URL of a file inside the tree, or null when the path would leave it. */
export function urlInTree(base: string, relPath: string): string | null {
  const rel = safeRelPath(relPath);
  if (rel === null) return null;
  const url = new URL(rel.split('/').map(encodeURIComponent).join('/'), base).toString();
  return url.startsWith(base) ? url : null;
}

export class HttpTreeReader implements TreeReader {
  readonly base: string;
  readonly describe: string;

  constructor(
    location: string,
    private readonly fetcher: Fetcher,
  ) {
    this.base = treeBaseUrl(location);
    this.describe = redactUrl(this.base);
  }

  url(relPath: string): string | null {
    return urlInTree(this.base, relPath);
  }

  async read(relPath: string, maxBytes: number): Promise<Buffer | null> {
    const url = this.url(relPath);
    if (url === null) return null;
    try {
      const r = await this.fetcher.fetchOptional({ url, maxBytes, expect: 'binary' });
      return r ? fs.readFile(r.path) : null;
    } catch (e) {
      // a server that answers missing files with an HTML page ("soft 404"): the file is not there
      if (isInstallGuestError(e) && e.code === 'MEDIA_HTML_PAGE') return null;
      throw e;
    }
  }

  async exists(relPath: string): Promise<boolean> {
    const url = this.url(relPath);
    return url === null ? false : this.fetcher.exists(url);
  }
}
