/**
 * One download attempt of one URL into the cache: a conditional or ranged GET, the body streamed
 * into `partial/` while it is hashed and watched for stalls, then verified and moved into the
 * content-addressed store. Throws RetryableError for what the retry policy may try again.
 */
import { createHash } from 'node:crypto';
import type { Hash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import { InstallGuestError, inputError } from '../../errors.js';
import type { MediaCache, UrlMeta } from '../cache.js';
import type { Checksum } from '../types.js';
import { RetryableError, statusError } from './retry-policy.js';
import { send } from './transport.js';
import type { TransportOptions } from './transport.js';
import type { FetchProgress, FetchRequest, FetchResult, FetchStats } from './types.js';
import type { FetchTarget } from './url.js';
import { looksLikeHtmlPath } from './url.js';

const HTML_START = /^\s*(<!doctype\s+html|<html[\s>])/i;

export type ProgressFn = (p: Omit<FetchProgress, 'url' | 'label'>) => void;

export interface AttemptContext {
  cache: MediaCache;
  stats: FetchStats;
  transport: TransportOptions;
  /** the stall window and the bytes a body must bring in it */
  stall: { windowMs: number; minBytes: number };
  signal?: AbortSignal;
  aborted: () => InstallGuestError;
}

export function htmlError(url: string, why: string): InstallGuestError {
  return inputError('MEDIA_HTML_PAGE', `${url} returned an HTML page instead of the file (${why})`, {
    hint: 'the server answers missing files with an error page, or needs a login; check the URL in a browser',
  });
}

function tooLarge(url: string, maxBytes: number, total?: number): InstallGuestError {
  return inputError(
    'MEDIA_METADATA_TOO_LARGE',
    total !== undefined
      ? `${url} is ${total} bytes, more than the ${maxBytes} allowed for tree metadata`
      : `${url} is more than the ${maxBytes} bytes allowed for tree metadata`,
    { hint: 'the location does not look like an install tree, or its metadata is damaged' },
  );
}

async function hashFile(file: string, hashes: Hash[]): Promise<void> {
  for await (const chunk of createReadStream(file)) for (const h of hashes) h.update(chunk as Buffer);
}

/** Request headers for a revalidation (If-None-Match/If-Modified-Since) or a resume (Range/If-Range). */
async function conditionalHeaders(
  cache: MediaCache,
  url: string,
  revalidate: UrlMeta | null,
): Promise<{ headers: Record<string, string>; resumeFrom: number }> {
  const headers: Record<string, string> = {};
  if (revalidate?.etag) headers['If-None-Match'] = revalidate.etag;
  else if (revalidate?.lastModified) headers['If-Modified-Since'] = revalidate.lastModified;
  const part = revalidate ? null : await cache.getPart(url);
  const validator = part?.meta.etag ?? part?.meta.lastModified;
  if (part && validator && part.size > 0) {
    headers.Range = `bytes=${part.size}-`;
    headers['If-Range'] = validator;
    return { headers, resumeFrom: part.size };
  }
  if (part) await cache.dropPart(url);
  return { headers, resumeFrom: 0 };
}

/** What the response's status and headers say about the body to come: appended to the part or not, its total. */
async function bodyPlan(
  res: Response,
  url: string,
  cache: MediaCache,
  resumeFrom: number,
): Promise<{ append: boolean; total: number | null; resumeFrom: number }> {
  if (res.status === 206) {
    const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.headers.get('content-range') ?? '');
    if (!m || Number(m[1]) !== resumeFrom) {
      await res.body?.cancel();
      await cache.dropPart(url);
      throw new RetryableError('the server sent a range that does not continue the partial file', 'status');
    }
    return { append: true, total: m[3] === '*' ? null : Number(m[3]), resumeFrom };
  }
  const length = res.headers.get('content-length');
  return { append: false, total: length !== null ? Number(length) : null, resumeFrom: 0 };
}

/**
 * Watches a body for stalls: each window must bring at least `minBytes` (a server that sends
 * nothing, or one byte a second, is stalled). `fed` counts bytes; `stalled` says whether it fired.
 */
export function stallWatch(
  stall: { windowMs: number; minBytes: number },
  onStall: () => void,
): { fed(n: number): void; stop(): void; readonly stalled: boolean; readonly lastWindow: number } {
  let bytes = 0;
  let lastWindow = 0;
  let stalled = false;
  const timer = setInterval(() => {
    lastWindow = bytes;
    if (bytes < stall.minBytes) {
      stalled = true;
      clearInterval(timer);
      onStall();
    }
    bytes = 0;
  }, stall.windowMs);
  return {
    fed: (n) => {
      bytes += n;
    },
    stop: () => clearInterval(timer),
    get stalled() {
      return stalled;
    },
    get lastWindow() {
      return lastWindow;
    },
  };
}

/** Streams the body into the part file (hashing and sniffing it); returns the byte counts. */
async function receiveBody(
  ctx: AttemptContext,
  req: FetchRequest & { url: string },
  res: Response,
  controller: AbortController,
  io: { file: string; append: boolean; received: number; total: number | null; hashes: Hash[] },
  progress: ProgressFn,
  attempt: number,
): Promise<{ received: number; downloaded: number }> {
  const { url, maxBytes } = req;
  const out = await fs.open(io.file, io.append ? 'a' : 'w', 0o600);
  let received = io.received;
  let downloaded = 0;
  const watch = stallWatch(ctx.stall, () => controller.abort(new Error('stalled')));
  progress({ phase: 'start', received, total: io.total, downloaded: 0, attempt });
  let sniffed = io.append;
  try {
    if (res.body) {
      for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
        const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
        watch.fed(buf.length);
        if (!sniffed) {
          sniffed = true;
          const start = buf.subarray(0, 512).toString('latin1');
          if (req.expect === 'binary' && !looksLikeHtmlPath(url) && HTML_START.test(start))
            throw htmlError(url, 'the body starts with an HTML document');
        }
        received += buf.length;
        downloaded += buf.length;
        ctx.stats.bytesDownloaded += buf.length;
        if (maxBytes !== undefined && received > maxBytes) throw tooLarge(url, maxBytes);
        for (const h of io.hashes) h.update(buf);
        await out.write(buf);
        progress({ phase: 'data', received, total: io.total, downloaded, attempt });
      }
    }
  } catch (e) {
    await out.close();
    if (e instanceof InstallGuestError) {
      await ctx.cache.dropPart(url);
      throw e;
    }
    if (ctx.signal?.aborted) throw ctx.aborted();
    if (watch.stalled) {
      const ms = ctx.stall.windowMs;
      const what =
        watch.lastWindow === 0
          ? `no data for ${ms} ms`
          : `only ${watch.lastWindow} bytes in ${ms} ms, less than ${ctx.stall.minBytes}`;
      throw new RetryableError(`${what} after ${received} bytes (the download stalled)`, 'timeout');
    }
    throw new RetryableError(
      `the connection broke after ${received} of ${io.total ?? '?'} bytes`,
      'truncated',
    );
  } finally {
    watch.stop();
  }
  await out.close();
  return { received, downloaded };
}

function checksumMismatch(url: string, expected: Checksum, got: string): InstallGuestError {
  return inputError(
    'MEDIA_CHECKSUM_MISMATCH',
    `${url} has ${expected.algo} ${got}, the tree's checksum list says ${expected.hex}`,
    {
      hint: 'the mirror is inconsistent or the file was tampered with; nothing was cached. Try another mirror',
      data: { url, algo: expected.algo, expected: expected.hex, got },
    },
  );
}

/** One attempt: `target.url` is the redacted URL (the cache key); credentials ride in `target.auth`. */
export async function attemptDownload(
  ctx: AttemptContext,
  target: FetchTarget,
  req: FetchRequest,
  revalidate: UrlMeta | null,
  attempt: number,
  progress: ProgressFn,
): Promise<FetchResult> {
  const url = target.url;
  const { expected, maxBytes } = req;
  const cache = ctx.cache;
  const cond = await conditionalHeaders(cache, url, revalidate);
  const { res, controller, cleanup, authSent } = await send(
    target,
    { method: 'GET', headers: cond.headers },
    ctx.transport,
  );
  try {
    if (res.status === 304 && revalidate) {
      await res.body?.cancel();
      ctx.stats.revalidated += 1;
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
    if (res.status === 416 && cond.resumeFrom > 0) {
      await res.body?.cancel();
      await cache.dropPart(url);
      throw new RetryableError('the server refused to resume (416); starting over', 'status');
    }
    if (res.status !== 200 && res.status !== 206) {
      await res.body?.cancel();
      throw statusError(url, res.status, res.statusText, authSent);
    }
    const contentType = res.headers.get('content-type') ?? '';
    if (req.expect === 'binary' && /^text\/html/i.test(contentType) && !looksLikeHtmlPath(url)) {
      await res.body?.cancel();
      throw htmlError(url, `Content-Type ${contentType}`);
    }
    const plan = await bodyPlan(res, url, cache, cond.resumeFrom);
    if (maxBytes !== undefined && plan.total !== null && plan.total > maxBytes) {
      await res.body?.cancel();
      throw tooLarge(url, maxBytes, plan.total);
    }
    const etag = res.headers.get('etag') ?? undefined;
    const lastModified = res.headers.get('last-modified') ?? undefined;
    const strongEtag = etag && !etag.startsWith('W/') ? etag : undefined;
    const paths = cache.partPaths(url);
    if (!plan.append) await cache.dropPart(url);
    await cache.putPartMeta({
      url,
      ...(strongEtag ? { etag: strongEtag } : {}),
      ...(lastModified ? { lastModified } : {}),
      total: plan.total,
    });

    // hash while downloading (a resumed part is hashed first), so the file is read only once
    const sha = createHash('sha256');
    const other = expected && expected.algo !== 'sha256' ? createHash(expected.algo) : null;
    const hashes = other ? [sha, other] : [sha];
    if (plan.append) await hashFile(paths.data, hashes);
    const { received, downloaded } = await receiveBody(
      ctx,
      { ...req, url },
      res,
      controller,
      { file: paths.data, append: plan.append, received: plan.resumeFrom, total: plan.total, hashes },
      progress,
      attempt,
    );
    if (plan.total !== null && received !== plan.total)
      throw new RetryableError(`the body ended after ${received} of ${plan.total} bytes`, 'truncated');

    // verify, then move into the cache
    const sha256 = sha.digest('hex');
    const digests = other && expected ? { [expected.algo]: other.digest('hex') } : {};
    if (expected) {
      const got = expected.algo === 'sha256' ? sha256 : digests[expected.algo]!;
      if (got !== expected.hex) {
        await cache.dropPart(url);
        throw checksumMismatch(url, expected, got);
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
      from: plan.resumeFrom > 0 ? 'resumed' : 'network',
    };
  } finally {
    cleanup();
  }
}
