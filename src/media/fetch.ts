/**
 * HTTP(S) downloads into the content-addressed cache:
 * - a file whose expected sha256 is already in the cache costs no request at all; a cached URL is
 *   revalidated (If-None-Match / If-Modified-Since) and a 304 costs 0 body bytes;
 * - an interrupted download is kept in `partial/` and resumed with Range + If-Range; a server that
 *   ignores the range (200) or changed the file restarts it from zero (fetch/attempt.ts);
 * - bounded retries with exponential backoff for transient failures only; a 4xx, a TLS error, an
 *   unknown host or a redirect loop fails at once (fetch/retry-policy.ts);
 * - a timeout for the response headers, and a stall watch on the body (a window that brings less
 *   than 1 KiB, a server sending a byte a second included); the caller's AbortSignal stops
 *   everything (the partial file is kept for next time);
 * - credentials in a URL become HTTP Basic auth for that origin only, never printed or saved: every
 *   message, progress event, cache record and result names the URL without them (fetch/url.ts);
 * - redirects followed by hand and proxies from the environment (fetch/transport.ts, fetch/proxy.ts);
 * - an HTML page served in place of a binary is an error; metadata reads have a size limit;
 * - the size and the expected checksum are verified before the file enters the cache.
 */
import lockfile from 'proper-lockfile';
import { InstallGuestError, inputError } from '../errors.js';
import { systemClock } from '../host/host.js';
import { MediaCache } from './cache.js';
import { attemptDownload } from './fetch/attempt.js';
import type { AttemptContext, ProgressFn } from './fetch/attempt.js';
import { NotFound, statusError, withRetries } from './fetch/retry-policy.js';
import type { RetryPolicy } from './fetch/retry-policy.js';
import { send } from './fetch/transport.js';
import type { TransportOptions } from './fetch/transport.js';
import type { FetchRequest, FetchResult, FetchStats, FetcherOptions } from './fetch/types.js';
import type { FetchTarget } from './fetch/url.js';
import { fetchTarget, labelOf, looksLikeHtmlPath, redactUrl } from './fetch/url.js';

export type { FetchProgress, FetchRequest, FetchResult, FetchStats, FetcherOptions } from './fetch/types.js';
export { redactUrl } from './fetch/url.js';

const defaultSleep = (ms: number, signal?: AbortSignal): Promise<void> => systemClock.sleep(ms, signal);

/** The URL split into what is shown (no credentials) and the credentials; a bad URL is refused. */
function targetOf(url: string): FetchTarget {
  let t: FetchTarget;
  try {
    t = fetchTarget(url);
  } catch (e) {
    throw inputError('MEDIA_BAD_URL', `${JSON.stringify(redactUrl(url))} is not a valid URL`, {
      hint: 'use http://host/path or https://host/path',
      cause: e,
    });
  }
  const protocol = new URL(t.url).protocol;
  if (protocol !== 'http:' && protocol !== 'https:') {
    throw inputError('MEDIA_BAD_URL', `${t.url} uses ${protocol}, not http: or https:`, {
      hint: 'serve the files over http(s), or give local media',
    });
  }
  return t;
}

export class Fetcher {
  readonly cache: MediaCache;
  readonly stats: FetchStats = { bytesDownloaded: 0, requests: 0, fromCache: 0, revalidated: 0 };
  private readonly ctx: AttemptContext;

  constructor(private readonly options: FetcherOptions) {
    this.cache = new MediaCache(options.cacheDir);
    const aborted = (): InstallGuestError => this.aborted();
    const transport: TransportOptions = {
      timeoutMs: options.timeoutMs ?? 30_000,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.env ? { env: options.env } : {}),
      onRequest: () => {
        this.stats.requests += 1;
      },
      aborted,
    };
    this.ctx = {
      cache: this.cache,
      stats: this.stats,
      transport,
      stall: { windowMs: options.idleTimeoutMs ?? 30_000, minBytes: options.stallBytes ?? 1024 },
      ...(options.signal ? { signal: options.signal } : {}),
      aborted,
    };
  }

  private aborted(url?: string): InstallGuestError {
    return new InstallGuestError(
      'interrupted',
      'FETCH_ABORTED',
      url ? `the download of ${url} was interrupted` : 'the download was interrupted',
      {
        hint: 'run the command again: the partial download is resumed',
        cause: this.options.signal?.reason,
      },
    );
  }

  private policy(url: string): RetryPolicy {
    return {
      retries: this.options.retries ?? 3,
      backoffMs: this.options.backoffMs ?? 500,
      sleep: this.options.sleep ?? defaultSleep,
      ...(this.options.signal ? { signal: this.options.signal } : {}),
      aborted: () => this.aborted(url),
      onRetry: (attempt, message) =>
        this.options.onProgress?.({
          url,
          label: labelOf(url),
          phase: 'retry',
          received: 0,
          total: null,
          downloaded: 0,
          attempt,
          message,
        }),
    };
  }

  /** Downloads (or finds in the cache) one file; 404 is MEDIA_NOT_FOUND. */
  async fetch(req: FetchRequest): Promise<FetchResult> {
    const r = await this.fetchOptional(req);
    if (!r) {
      throw inputError('MEDIA_NOT_FOUND', `${redactUrl(req.url)} does not exist (HTTP 404)`, {
        hint: 'the tree metadata names a file the server does not have; check the location',
      });
    }
    return r;
  }

  /** Like fetch, but a missing file (404/410) is null. */
  async fetchOptional(req: FetchRequest): Promise<FetchResult | null> {
    const target = targetOf(req.url);
    const url = target.url;
    const { expected } = req;
    const cache = this.cache;
    await cache.init();
    const label = labelOf(url);
    const progress: ProgressFn = (p) => this.options.onProgress?.({ url, label, ...p });

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
      return await withRetries(url, this.policy(url), (attempt) =>
        attemptDownload(this.ctx, target, req, revalidate, attempt, progress),
      );
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

  /**
   * Whether a file exists on the server (HEAD; a server that refuses HEAD is asked for one byte).
   * An HTML answer for a non-HTML path counts as missing (a soft 404).
   */
  async exists(rawUrl: string): Promise<boolean> {
    const target = targetOf(rawUrl);
    const url = target.url;
    const probe = async (method: 'HEAD' | 'GET'): Promise<boolean> => {
      const headers: Record<string, string> = method === 'GET' ? { Range: 'bytes=0-0' } : {};
      const { res, cleanup, authSent } = await send(target, { method, headers }, this.ctx.transport);
      try {
        await res.body?.cancel();
        if (method === 'HEAD' && (res.status === 405 || res.status === 501)) return probe('GET');
        if (res.status === 404 || res.status === 410) return false;
        if (res.status !== 200 && !(method === 'GET' && res.status === 206))
          throw statusError(url, res.status, res.statusText, authSent);
        return !(/^text\/html/i.test(res.headers.get('content-type') ?? '') && !looksLikeHtmlPath(url));
      } finally {
        cleanup();
      }
    };
    try {
      return await withRetries(url, this.policy(url), () => probe('HEAD'));
    } catch (e) {
      if (e instanceof NotFound) return false;
      throw e;
    }
  }

  /**
   * For a dry run: whether a file exists and its size when the server's HEAD answer gives one
   * (Content-Length); downloads nothing and stores nothing in the cache.
   */
  async probe(rawUrl: string): Promise<{ exists: boolean; size: number | null }> {
    const target = targetOf(rawUrl);
    const url = target.url;
    const size = await withRetries(url, this.policy(url), async () => {
      const { res, cleanup } = await send(target, { method: 'HEAD', headers: {} }, this.ctx.transport);
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
    return { exists: await this.exists(rawUrl), size: null };
  }
}
