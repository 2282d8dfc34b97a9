/**
 * HTTP(S) downloads into the content-addressed cache with Node's built-in fetch:
 * - a file whose expected sha256 is already in the cache costs no request at all; a cached URL is
 *   revalidated (If-None-Match / If-Modified-Since) and a 304 costs 0 body bytes;
 * - an interrupted download is kept in `partial/` and resumed with Range + If-Range; a server that
 *   ignores the range (200) or changed the file restarts it from zero;
 * - bounded retries with exponential backoff for network errors, 5xx/408/429 and bodies cut short;
 *   a timeout for the response headers and one for a stalled body; the caller's AbortSignal stops
 *   everything (the partial file is kept for next time);
 * - an HTML page served in place of a binary (Content-Type text/html, or `<html` / `<!DOCTYPE html`
 *   at the start) is an error; metadata reads have a size limit;
 * - the size and the expected checksum are verified before the file enters the cache: a mismatch
 *   is an error and leaves nothing behind.
 */
import { createHash } from 'node:crypto';
import type { Hash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import lockfile from 'proper-lockfile';
import { InstallGuestError, hostError, inputError, timeoutError } from '../errors.js';
import { MediaCache } from './cache.js';
import type { UrlMeta } from './cache.js';
import type { Checksum } from './types.js';
import { systemClock } from '../host/host.js';

export interface FetchProgress {
  url: string;
  /** a short name for the file (its last path component) */
  label: string;
  phase: 'start' | 'data' | 'done' | 'cached' | 'retry';
  /** bytes of the file present so far (a resumed part included) */
  received: number;
  total: number | null;
  /** body bytes received over the network in this call */
  downloaded: number;
  attempt: number;
  message?: string;
}

export interface FetcherOptions {
  cacheDir: string;
  signal?: AbortSignal;
  onProgress?: (p: FetchProgress) => void;
  /** retries after the first attempt (default 3) */
  retries?: number;
  /** first backoff delay; doubles each retry, capped at 10 s (default 500 ms) */
  backoffMs?: number;
  /** time allowed until the response headers arrive (default 30 s) */
  timeoutMs?: number;
  /** time allowed between two body chunks (default 30 s) */
  idleTimeoutMs?: number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export interface FetchRequest {
  url: string;
  /** verified before the file enters the cache */
  expected?: Checksum;
  /** a limit for metadata (the download stops and fails beyond it) */
  maxBytes?: number;
  /** `binary` files must not be HTML pages */
  expect?: 'binary' | 'text';
}

export interface FetchResult {
  url: string;
  /** the cached file (read-only use) */
  path: string;
  sha256: string;
  size: number;
  /** body bytes this call received */
  bytesDownloaded: number;
  /** how it was satisfied */
  from: 'cache' | 'revalidated' | 'network' | 'resumed';
}

export interface FetchStats {
  bytesDownloaded: number;
  requests: number;
  fromCache: number;
  revalidated: number;
}

class RetryableError extends Error {
  constructor(
    message: string,
    readonly kind: 'network' | 'timeout' | 'status' | 'truncated',
  ) {
    super(message);
  }
}

class NotFound extends Error {}

const HTML_START = /^\s*(<!doctype\s+html|<html[\s>])/i;

function labelOf(url: string): string {
  try {
    const segs = new URL(url).pathname.split('/').filter(Boolean);
    return segs[segs.length - 1] ?? url;
  } catch {
    return url;
  }
}

function looksLikeHtmlPath(url: string): boolean {
  return /\.html?$/i.test(new URL(url).pathname);
}

const defaultSleep = (ms: number, signal?: AbortSignal): Promise<void> => systemClock.sleep(ms, signal);

async function hashFile(file: string, hashes: Hash[]): Promise<void> {
  for await (const chunk of createReadStream(file)) for (const h of hashes) h.update(chunk as Buffer);
}

export class Fetcher {
  readonly cache: MediaCache;
  readonly stats: FetchStats = { bytesDownloaded: 0, requests: 0, fromCache: 0, revalidated: 0 };
  private readonly retries: number;
  private readonly backoffMs: number;
  private readonly timeoutMs: number;
  private readonly idleTimeoutMs: number;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;

  constructor(private readonly options: FetcherOptions) {
    this.cache = new MediaCache(options.cacheDir);
    this.retries = options.retries ?? 3;
    this.backoffMs = options.backoffMs ?? 500;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 30_000;
    this.sleep = options.sleep ?? defaultSleep;
  }

  private aborted(url: string): InstallGuestError {
    return new InstallGuestError('interrupted', 'FETCH_ABORTED', `the download of ${url} was interrupted`, {
      hint: 'run the command again: the partial download is resumed',
      cause: this.options.signal?.reason,
    });
  }

  /** Runs one attempt-function with the retry policy. */
  private async withRetries<T>(url: string, attempt: (n: number) => Promise<T>): Promise<T> {
    let last: RetryableError | null = null;
    for (let n = 1; n <= this.retries + 1; n++) {
      if (this.options.signal?.aborted) throw this.aborted(url);
      try {
        return await attempt(n);
      } catch (e) {
        if (this.options.signal?.aborted) throw this.aborted(url);
        if (!(e instanceof RetryableError)) throw e;
        last = e;
        if (n > this.retries) break;
        const delay = Math.min(this.backoffMs * 2 ** (n - 1), 10_000);
        this.options.onProgress?.({
          url,
          label: labelOf(url),
          phase: 'retry',
          received: 0,
          total: null,
          downloaded: 0,
          attempt: n,
          message: `${e.message}; retrying in ${delay} ms`,
        });
        try {
          await this.sleep(delay, this.options.signal);
        } catch {
          throw this.aborted(url);
        }
      }
    }
    const tries = this.retries + 1;
    if (last?.kind === 'timeout') {
      throw timeoutError('MEDIA_FETCH_TIMEOUT', `${url}: ${last.message} (${tries} attempts)`, {
        hint: 'the server is too slow or unreachable; check the network or use local media',
      });
    }
    throw hostError('MEDIA_FETCH_FAILED', `${url}: ${last?.message ?? 'failed'} (${tries} attempts)`, {
      hint: 'check that the server is reachable from this host, or use local media (--location DIR or ISO)',
    });
  }

  /** One request with a header timeout linked to the caller's signal. */
  private async request(
    url: string,
    init: { method: 'GET' | 'HEAD'; headers: Record<string, string> },
  ): Promise<{ res: Response; controller: AbortController; cleanup: () => void }> {
    const controller = new AbortController();
    const onAbort = (): void => controller.abort(this.options.signal?.reason);
    this.options.signal?.addEventListener('abort', onAbort, { once: true });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new Error('timeout'));
    }, this.timeoutMs);
    const cleanup = (): void => {
      clearTimeout(timer);
      this.options.signal?.removeEventListener('abort', onAbort);
    };
    this.stats.requests += 1;
    try {
      const res = await fetch(url, {
        method: init.method,
        headers: { 'Accept-Encoding': 'identity', 'User-Agent': 'install-guest', ...init.headers },
        redirect: 'follow',
        signal: controller.signal,
      });
      clearTimeout(timer);
      return { res, controller, cleanup };
    } catch (e) {
      cleanup();
      if (this.options.signal?.aborted) throw this.aborted(url);
      if (timedOut) throw new RetryableError(`no response within ${this.timeoutMs} ms`, 'timeout');
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      throw new RetryableError(
        `cannot connect (${cause?.code ?? cause?.message ?? (e as Error).message})`,
        'network',
      );
    }
  }

  private statusError(url: string, res: Response): Error {
    const s = res.status;
    if (s === 404 || s === 410) return new NotFound(`${url}: HTTP ${s}`);
    if (s >= 500 || s === 408 || s === 429)
      return new RetryableError(`HTTP ${s} ${res.statusText}`, 'status');
    return inputError('MEDIA_HTTP_ERROR', `${url} answered HTTP ${s} ${res.statusText}`, {
      hint: 'check the URL and that the server lets this host read it',
    });
  }

  /** Downloads (or finds in the cache) one file; 404 is MEDIA_NOT_FOUND. */
  async fetch(req: FetchRequest): Promise<FetchResult> {
    const r = await this.fetchOptional(req);
    if (!r) {
      throw inputError('MEDIA_NOT_FOUND', `${req.url} does not exist (HTTP 404)`, {
        hint: 'the tree metadata names a file the server does not have; check the location',
      });
    }
    return r;
  }

  /** Like fetch, but a missing file (404/410) is null. */
  async fetchOptional(req: FetchRequest): Promise<FetchResult | null> {
    const { url, expected } = req;
    const cache = this.cache;
    await cache.init();
    const label = labelOf(url);
    const progress = (p: Omit<FetchProgress, 'url' | 'label'>): void =>
      this.options.onProgress?.({ url, label, ...p });

    const fromCache = async (): Promise<FetchResult | null> => {
      if (!expected) return null;
      const hit = await cache.findByDigest(url, expected.algo, expected.hex);
      if (!hit) return null;
      this.stats.fromCache += 1;
      progress({ phase: 'cached', received: hit.size, total: hit.size, downloaded: 0, attempt: 0 });
      return {
        url,
        path: cache.blobPath(hit.sha256),
        sha256: hit.sha256,
        size: hit.size,
        bytesDownloaded: 0,
        from: 'cache',
      };
    };

    // 1. the expected content is already cached under this URL: no request at all
    const early = await fromCache();
    if (early) return early;

    // 2. one download per URL at a time, across processes (parallel installs share the cache);
    //    whoever waited looks at the cache again once it holds the lock
    const release = await this.lockUrl(url);
    try {
      const late = await fromCache();
      if (late) return late;
      const cached = await cache.getMeta(url);
      // a cached copy that contradicts the expected checksum is not revalidated: it is replaced
      const revalidate = cached && !expected ? cached : null;
      return await this.withRetries(url, (attempt) => this.attempt(req, revalidate, attempt, progress));
    } catch (e) {
      if (e instanceof NotFound) return null;
      throw e;
    } finally {
      await release();
    }
  }

  /** Takes the URL's lock (`partial/KEY.lock`), waiting while another download of it runs. */
  private async lockUrl(url: string): Promise<() => Promise<void>> {
    const target = this.cache.partPaths(url).data;
    for (;;) {
      try {
        return await lockfile.lock(target, {
          realpath: false,
          stale: 30_000,
          // a lock lost to a stale takeover only means two downloads raced; the rename into the
          // content-addressed store is atomic, so it is not worth crashing the process over
          onCompromised: () => undefined,
        });
      } catch (e) {
        if ((e as { code?: string }).code !== 'ELOCKED') throw e;
      }
      try {
        await defaultSleep(200, this.options.signal);
      } catch {
        throw this.aborted(url);
      }
    }
  }

  private async attempt(
    req: FetchRequest,
    revalidate: UrlMeta | null,
    attempt: number,
    progress: (p: Omit<FetchProgress, 'url' | 'label'>) => void,
  ): Promise<FetchResult> {
    const { url, expected, maxBytes } = req;
    const cache = this.cache;
    const headers: Record<string, string> = {};
    if (revalidate?.etag) headers['If-None-Match'] = revalidate.etag;
    else if (revalidate?.lastModified) headers['If-Modified-Since'] = revalidate.lastModified;

    const part = revalidate ? null : await cache.getPart(url);
    const partValidator = part?.meta.etag ?? part?.meta.lastModified;
    let resumeFrom = 0;
    if (part && partValidator && part.size > 0) {
      resumeFrom = part.size;
      headers.Range = `bytes=${resumeFrom}-`;
      headers['If-Range'] = partValidator;
    } else if (part) {
      await cache.dropPart(url);
    }

    const { res, controller, cleanup } = await this.request(url, { method: 'GET', headers });
    try {
      if (res.status === 304 && revalidate) {
        await res.body?.cancel();
        this.stats.revalidated += 1;
        progress({
          phase: 'cached',
          received: revalidate.size,
          total: revalidate.size,
          downloaded: 0,
          attempt,
        });
        return {
          url,
          path: cache.blobPath(revalidate.sha256),
          sha256: revalidate.sha256,
          size: revalidate.size,
          bytesDownloaded: 0,
          from: 'revalidated',
        };
      }
      if (res.status === 416 && resumeFrom > 0) {
        await res.body?.cancel();
        await cache.dropPart(url);
        throw new RetryableError('the server refused to resume (416); starting over', 'status');
      }
      if (res.status !== 200 && res.status !== 206) {
        await res.body?.cancel();
        throw this.statusError(url, res);
      }

      const contentType = res.headers.get('content-type') ?? '';
      if (req.expect === 'binary' && /^text\/html/i.test(contentType) && !looksLikeHtmlPath(url)) {
        await res.body?.cancel();
        throw this.htmlError(url, `Content-Type ${contentType}`);
      }

      let append = false;
      let total: number | null = null;
      const length = res.headers.get('content-length');
      if (res.status === 206) {
        const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.headers.get('content-range') ?? '');
        if (!m || Number(m[1]) !== resumeFrom) {
          await res.body?.cancel();
          await cache.dropPart(url);
          throw new RetryableError(
            'the server sent a range that does not continue the partial file',
            'status',
          );
        }
        append = true;
        total = m[3] === '*' ? null : Number(m[3]);
      } else {
        resumeFrom = 0;
        total = length !== null ? Number(length) : null;
      }
      if (maxBytes !== undefined && total !== null && total > maxBytes) {
        await res.body?.cancel();
        throw inputError(
          'MEDIA_METADATA_TOO_LARGE',
          `${url} is ${total} bytes, more than the ${maxBytes} allowed for tree metadata`,
          {
            hint: 'the location does not look like an install tree, or its metadata is damaged',
          },
        );
      }
      const etag = res.headers.get('etag') ?? undefined;
      const lastModified = res.headers.get('last-modified') ?? undefined;
      const strongEtag = etag && !etag.startsWith('W/') ? etag : undefined;
      const paths = cache.partPaths(url);
      if (!append) await cache.dropPart(url);
      await cache.putPartMeta({
        url,
        ...(strongEtag ? { etag: strongEtag } : {}),
        ...(lastModified ? { lastModified } : {}),
        total,
      });

      // hash while downloading (a resumed part is hashed first), so the file is read only once
      const sha = createHash('sha256');
      const other = expected && expected.algo !== 'sha256' ? createHash(expected.algo) : null;
      const hashes = other ? [sha, other] : [sha];
      if (append) await hashFile(paths.data, hashes);
      const out = await fs.open(paths.data, append ? 'a' : 'w', 0o600);
      let received = resumeFrom;
      let downloaded = 0;
      let idle: NodeJS.Timeout | null = null;
      let stalled = false;
      const arm = (): void => {
        if (idle) clearTimeout(idle);
        idle = setTimeout(() => {
          stalled = true;
          controller.abort(new Error('stalled'));
        }, this.idleTimeoutMs);
      };
      progress({ phase: 'start', received, total, downloaded: 0, attempt });
      let sniffed = append;
      try {
        arm();
        if (res.body) {
          for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
            arm();
            const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
            if (!sniffed) {
              sniffed = true;
              if (
                req.expect === 'binary' &&
                !looksLikeHtmlPath(url) &&
                HTML_START.test(buf.subarray(0, 512).toString('latin1'))
              ) {
                throw this.htmlError(url, 'the body starts with an HTML document');
              }
            }
            received += buf.length;
            downloaded += buf.length;
            this.stats.bytesDownloaded += buf.length;
            if (maxBytes !== undefined && received > maxBytes) {
              throw inputError(
                'MEDIA_METADATA_TOO_LARGE',
                `${url} is more than the ${maxBytes} bytes allowed for tree metadata`,
                {
                  hint: 'the location does not look like an install tree, or its metadata is damaged',
                },
              );
            }
            for (const h of hashes) h.update(buf);
            await out.write(buf);
            progress({ phase: 'data', received, total, downloaded, attempt });
          }
        }
      } catch (e) {
        await out.close();
        if (e instanceof InstallGuestError) {
          await cache.dropPart(url);
          throw e;
        }
        if (this.options.signal?.aborted) throw this.aborted(url);
        if (stalled)
          throw new RetryableError(`no data for ${this.idleTimeoutMs} ms after ${received} bytes`, 'timeout');
        throw new RetryableError(
          `the connection broke after ${received} of ${total ?? '?'} bytes`,
          'truncated',
        );
      } finally {
        if (idle) clearTimeout(idle);
      }
      await out.close();
      if (total !== null && received !== total) {
        throw new RetryableError(`the body ended after ${received} of ${total} bytes`, 'truncated');
      }

      // verify, then move into the cache
      const sha256 = sha.digest('hex');
      const digests = other && expected ? { [expected.algo]: other.digest('hex') } : {};
      if (expected) {
        const got = expected.algo === 'sha256' ? sha256 : digests[expected.algo]!;
        if (got !== expected.hex) {
          await cache.dropPart(url);
          throw inputError(
            'MEDIA_CHECKSUM_MISMATCH',
            `${url} has ${expected.algo} ${got}, the tree's checksum list says ${expected.hex}`,
            {
              hint: 'the mirror is inconsistent or the file was tampered with; nothing was cached. Try another mirror',
              data: { url, algo: expected.algo, expected: expected.hex, got },
            },
          );
        }
      }
      const blob = await cache.adopt(paths.data, sha256);
      await fs.rm(paths.meta, { force: true });
      await cache.putMeta({
        url,
        sha256,
        size: received,
        ...(strongEtag ? { etag: strongEtag } : {}),
        ...(lastModified ? { lastModified } : {}),
        ...(contentType ? { contentType } : {}),
        ...(Object.keys(digests).length ? { digests } : {}),
        storedAt: new Date().toISOString(),
      });
      progress({ phase: 'done', received, total: received, downloaded, attempt });
      return {
        url,
        path: blob,
        sha256,
        size: received,
        bytesDownloaded: downloaded,
        from: resumeFrom > 0 ? 'resumed' : 'network',
      };
    } finally {
      cleanup();
    }
  }

  private htmlError(url: string, why: string): InstallGuestError {
    return inputError('MEDIA_HTML_PAGE', `${url} returned an HTML page instead of the file (${why})`, {
      hint: 'the server answers missing files with an error page, or needs a login; check the URL in a browser',
    });
  }

  /**
   * Whether a file exists on the server (HEAD; a server that refuses HEAD is asked for one byte).
   * An HTML answer for a non-HTML path counts as missing (a soft 404).
   */
  async exists(url: string): Promise<boolean> {
    try {
      return await this.withRetries(url, async () => {
        const { res, cleanup } = await this.request(url, { method: 'HEAD', headers: {} });
        try {
          await res.body?.cancel();
          if (res.status === 405 || res.status === 501) return this.existsByRange(url);
          if (res.status === 404 || res.status === 410) return false;
          if (res.status !== 200) throw this.statusError(url, res);
          return !(/^text\/html/i.test(res.headers.get('content-type') ?? '') && !looksLikeHtmlPath(url));
        } finally {
          cleanup();
        }
      });
    } catch (e) {
      if (e instanceof NotFound) return false;
      throw e;
    }
  }

  /**
   * For a dry run: whether a file exists and its size when the server's HEAD answer gives one
   * (Content-Length); downloads nothing and stores nothing in the cache.
   */
  async probe(url: string): Promise<{ exists: boolean; size: number | null }> {
    const size = await this.withRetries(url, async () => {
      const { res, cleanup } = await this.request(url, { method: 'HEAD', headers: {} });
      try {
        await res.body?.cancel();
        if (res.status !== 200) return null;
        const n = Number(res.headers.get('content-length'));
        return Number.isSafeInteger(n) && n >= 0 ? n : null;
      } finally {
        cleanup();
      }
    }).catch(() => null);
    if (size !== null) return { exists: true, size };
    return { exists: await this.exists(url), size: null };
  }

  private async existsByRange(url: string): Promise<boolean> {
    const { res, cleanup } = await this.request(url, { method: 'GET', headers: { Range: 'bytes=0-0' } });
    try {
      await res.body?.cancel();
      if (res.status === 404 || res.status === 410) return false;
      if (res.status !== 200 && res.status !== 206) throw this.statusError(url, res);
      return !(/^text\/html/i.test(res.headers.get('content-type') ?? '') && !looksLikeHtmlPath(url));
    } finally {
      cleanup();
    }
  }
}
