/**
 * The download cache: content-addressed blobs (`blobs/<sha256>`), one metadata record per URL
 * (`urls/<sha256 of the URL>.json`: ETag, Last-Modified, size, digests) for revalidation, and
 * interrupted downloads (`partial/<key>` + `.json`) for resuming with Range. A file enters `blobs/`
 * only after its size and checksum were verified, by an atomic rename. Directories are 0700, files
 * 0600.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { ChecksumAlgo } from './types.js';

export interface UrlMeta {
  url: string;
  sha256: string;
  size: number;
  etag?: string;
  lastModified?: string;
  contentType?: string;
  /** digests other than sha256 computed while downloading (md5 for md5sum.txt trees, …) */
  digests?: Partial<Record<ChecksumAlgo, string>>;
  storedAt: string;
}

export interface PartMeta {
  url: string;
  etag?: string;
  lastModified?: string;
  /** the full size the server announced */
  total: number | null;
}

export function urlKey(url: string): string {
  return createHash('sha256').update(url).digest('hex');
}

async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  await fs.writeFile(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  await fs.rename(tmp, file);
}

async function readJson<T>(file: string): Promise<T | null> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as T;
  } catch {
    return null;
  }
}

export class MediaCache {
  constructor(readonly dir: string) {}

  private ready: Promise<void> | null = null;

  /** Creates the cache directories (0700). Idempotent. */
  init(): Promise<void> {
    this.ready ??= (async () => {
      for (const sub of ['', 'blobs', 'urls', 'partial', 'extracted']) {
        const d = path.join(this.dir, sub);
        await fs.mkdir(d, { recursive: true, mode: 0o700 });
        await fs.chmod(d, 0o700);
      }
    })();
    return this.ready;
  }

  blobPath(sha256: string): string {
    return path.join(this.dir, 'blobs', sha256);
  }

  async hasBlob(sha256: string, size?: number): Promise<boolean> {
    try {
      const st = await fs.stat(this.blobPath(sha256));
      return st.isFile() && (size === undefined || st.size === size);
    } catch {
      return false;
    }
  }

  /** The URL's record, only when its blob is still there with the recorded size. */
  async getMeta(url: string): Promise<UrlMeta | null> {
    const meta = await readJson<UrlMeta>(path.join(this.dir, 'urls', `${urlKey(url)}.json`));
    if (!meta || meta.url !== url) return null;
    return (await this.hasBlob(meta.sha256, meta.size)) ? meta : null;
  }

  async putMeta(meta: UrlMeta): Promise<void> {
    await writeJsonAtomic(path.join(this.dir, 'urls', `${urlKey(meta.url)}.json`), meta);
  }

  /** A blob whose digest for `algo` is `hex`, found through any URL record (for md5-listed trees). */
  async findByDigest(url: string, algo: ChecksumAlgo, hex: string): Promise<UrlMeta | null> {
    const meta = await this.getMeta(url);
    if (meta && (algo === 'sha256' ? meta.sha256 : meta.digests?.[algo]) === hex) return meta;
    return null;
  }

  /** Moves a verified file into the blob store (atomic; an existing identical blob is kept). */
  async adopt(file: string, sha256: string): Promise<string> {
    const dest = this.blobPath(sha256);
    await fs.chmod(file, 0o600);
    await fs.rename(file, dest);
    return dest;
  }

  partPaths(url: string): { data: string; meta: string } {
    const base = path.join(this.dir, 'partial', urlKey(url));
    return { data: base, meta: `${base}.json` };
  }

  async getPart(url: string): Promise<{ meta: PartMeta; size: number } | null> {
    const p = this.partPaths(url);
    const meta = await readJson<PartMeta>(p.meta);
    if (!meta || meta.url !== url) return null;
    try {
      const st = await fs.stat(p.data);
      return { meta, size: st.size };
    } catch {
      return null;
    }
  }

  async putPartMeta(meta: PartMeta): Promise<void> {
    await writeJsonAtomic(this.partPaths(meta.url).meta, meta);
  }

  async dropPart(url: string): Promise<void> {
    const p = this.partPaths(url);
    await fs.rm(p.data, { force: true });
    await fs.rm(p.meta, { force: true });
  }

  /** A private directory for files extracted from images, keyed by what they came from. */
  async extractedDir(key: string): Promise<string> {
    const d = path.join(this.dir, 'extracted', createHash('sha256').update(key).digest('hex').slice(0, 32));
    await fs.mkdir(d, { recursive: true, mode: 0o700 });
    return d;
  }
}

/**
 * The cache directory: INSTALL_GUEST_CACHE_DIR, else `$XDG_CACHE_HOME/install-guest/media`, else
 * `~/.cache/install-guest/media`.
 */
export function defaultCacheDir(env: Readonly<Record<string, string | undefined>>, home?: string): string {
  if (env.INSTALL_GUEST_CACHE_DIR) return env.INSTALL_GUEST_CACHE_DIR;
  const base = env.XDG_CACHE_HOME || path.join(home ?? env.HOME ?? '/tmp', '.cache');
  return path.join(base, 'install-guest', 'media');
}
