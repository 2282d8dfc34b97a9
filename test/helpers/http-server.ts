/**
 * A real HTTP/1.1 server on 127.0.0.1 serving a directory, for media tests and benchmarks. It
 * behaves like a mirror's web server: strong ETags and Last-Modified, conditional GET (304),
 * single byte ranges with If-Range (206/416), HEAD, symlinks followed only inside the root. Faults
 * are injected per path: an HTML error page served with 200 in place of the file, a body cut short
 * after N bytes (the connection is dropped), a stalled body, delays, error statuses, no validators,
 * no Range support. It counts the body bytes it sends and logs every request.
 */
import { createReadStream, promises as fs } from 'node:fs';
import type { Stats } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

export interface Fault {
  /** answer 200 with an HTML error page instead of the file */
  html?: boolean;
  /** the HTML page but labelled application/octet-stream (only its first bytes give it away) */
  htmlUntyped?: boolean;
  /** send the headers for the full body, then only this many body bytes, then drop the connection */
  truncateAfter?: number;
  /** send this many body bytes, then stall without ending the response */
  stallAfter?: number;
  /** wait before answering */
  delayMs?: number;
  /** answer with this status and a short text body */
  status?: number;
  /** no ETag and no Last-Modified */
  noValidators?: boolean;
  /** Last-Modified only (no ETag) */
  noEtag?: boolean;
  /** ignore Range headers (always 200 with the whole body) */
  noRange?: boolean;
  /** answer 302 with this Location (a path or an absolute URL) */
  redirect?: string;
  /** after the headers, send the body `bytes` at a time every `everyMs` (a server that drips) */
  drip?: { bytes: number; everyMs: number };
  /** apply the fault to this many requests only, then serve normally */
  times?: number;
}

export interface ServerOptions {
  /** HTTP Basic auth required for every request (401 otherwise) */
  auth?: { user: string; password: string };
}

export interface RequestLog {
  method: string;
  path: string;
  status: number;
  bodyBytes: number;
  range?: string;
  ifNoneMatch?: string;
  ifModifiedSince?: string;
  ifRange?: string;
  /** the Authorization header as received */
  authorization?: string;
}

export interface TestHttpServer {
  /** `http://127.0.0.1:PORT/` */
  url: string;
  port: number;
  /** body bytes sent since start (or the last reset) */
  readonly bytesSent: number;
  readonly requests: readonly RequestLog[];
  resetStats(): void;
  /** a fault for one URL path (`/images/pxeboot/vmlinuz`) or every path (`*`); null clears it */
  setFault(urlPath: string, fault: Fault | null): void;
  close(): Promise<void>;
}

const HTML_PAGE =
  '<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head>\n' +
  '<body><h1>Not Found</h1><p>The requested URL was not found on this server.</p></body></html>\n';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.xml': 'application/xml',
  '.txt': 'text/plain; charset=utf-8',
  '.cfg': 'text/plain; charset=utf-8',
  '.info': 'text/plain; charset=utf-8',
  '.iso': 'application/x-iso9660-image',
  '.gz': 'application/gzip',
};

function contentType(p: string): string {
  const base = path.basename(p);
  if (['.treeinfo', 'treeinfo', 'MANIFEST', 'SHA256SUMS', 'MD5SUMS', 'info'].includes(base)) {
    return 'text/plain; charset=utf-8';
  }
  return TYPES[path.extname(p).toLowerCase()] ?? 'application/octet-stream';
}

function etagOf(size: number, mtimeMs: number): string {
  return `"${size.toString(16)}-${Math.floor(mtimeMs).toString(16)}"`;
}

function parseRange(h: string, size: number): { start: number; end: number } | 'invalid' | null {
  const m = /^bytes=(\d*)-(\d*)$/.exec(h.trim());
  if (!m) return null; // multiple or malformed ranges: serve the whole body
  const [, a, b] = m;
  if (a === '' && b === '') return null;
  if (a === '') {
    const n = Number(b);
    if (n === 0) return 'invalid';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(a);
  const end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  if (start >= size || end < start) return 'invalid';
  return { start, end };
}

export async function startHttpServer(rootDir: string, options: ServerOptions = {}): Promise<TestHttpServer> {
  const root = await fs.realpath(rootDir);
  const faults = new Map<string, Fault>();
  const used = new Map<string, number>();
  const log: RequestLog[] = [];
  let bytesSent = 0;

  const faultFor = (p: string): Fault | null => {
    const key = faults.has(p) ? p : faults.has('*') ? '*' : null;
    if (key === null) return null;
    const f = faults.get(key)!;
    const n = used.get(key) ?? 0;
    if (f.times !== undefined && n >= f.times) return null;
    used.set(key, n + 1);
    return f;
  };

  const server = http.createServer((req, res) => {
    void (async () => {
      const urlPath = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
      const entry: RequestLog = { method: req.method ?? 'GET', path: urlPath, status: 0, bodyBytes: 0 };
      if (req.headers.range) entry.range = req.headers.range;
      if (req.headers['if-none-match']) entry.ifNoneMatch = req.headers['if-none-match'];
      if (req.headers['if-modified-since']) entry.ifModifiedSince = req.headers['if-modified-since'];
      const ifRangeHeader = req.headers['if-range'] as string | undefined;
      if (ifRangeHeader) entry.ifRange = ifRangeHeader;
      if (req.headers.authorization) entry.authorization = req.headers.authorization;
      log.push(entry);
      const count = (n: number): void => {
        entry.bodyBytes += n;
        bytesSent += n;
      };
      const finish = (status: number, headers: Record<string, string | number>, body = ''): void => {
        entry.status = status;
        const buf = Buffer.from(body);
        res.writeHead(status, { 'Content-Length': buf.length, ...headers });
        if (req.method === 'HEAD') {
          res.end();
          return;
        }
        count(buf.length);
        res.end(buf);
      };

      if (req.method !== 'GET' && req.method !== 'HEAD') {
        finish(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' }, 'method not allowed\n');
        return;
      }
      if (options.auth) {
        const want = `Basic ${Buffer.from(`${options.auth.user}:${options.auth.password}`).toString('base64')}`;
        if (req.headers.authorization !== want) {
          finish(401, { 'Content-Type': 'text/plain', 'WWW-Authenticate': 'Basic realm="media"' }, 'login\n');
          return;
        }
      }
      const fault = faultFor(urlPath);
      if (fault?.delayMs) await new Promise((r) => setTimeout(r, fault.delayMs));
      if (fault?.status) {
        finish(fault.status, { 'Content-Type': 'text/plain' }, `error ${fault.status}\n`);
        return;
      }
      if (fault?.redirect) {
        finish(302, { Location: fault.redirect, 'Content-Type': 'text/plain' }, 'moved\n');
        return;
      }
      if (fault?.html || fault?.htmlUntyped) {
        finish(
          200,
          { 'Content-Type': fault.html ? 'text/html; charset=utf-8' : 'application/octet-stream' },
          HTML_PAGE,
        );
        return;
      }

      let file: string;
      let st: Stats;
      try {
        file = await fs.realpath(path.join(root, urlPath));
        if (file !== root && !file.startsWith(root + path.sep)) throw new Error('outside');
        st = await fs.stat(file);
        if (!st.isFile()) throw new Error('not a file');
      } catch {
        finish(404, { 'Content-Type': 'text/plain' }, 'not found\n');
        return;
      }

      const size = st.size;
      const etag = etagOf(size, st.mtimeMs);
      const lastModified = new Date(Math.floor(st.mtimeMs / 1000) * 1000).toUTCString();
      const validators: Record<string, string> = fault?.noValidators
        ? {}
        : fault?.noEtag
          ? { 'Last-Modified': lastModified }
          : { ETag: etag, 'Last-Modified': lastModified };
      const common = {
        'Content-Type': contentType(file),
        'Accept-Ranges': fault?.noRange ? 'none' : 'bytes',
        ...validators,
      };

      if (!fault?.noValidators) {
        const inm = fault?.noEtag ? undefined : req.headers['if-none-match'];
        const ims = req.headers['if-modified-since'];
        const notModified =
          inm !== undefined
            ? inm.split(',').some((t) => t.trim() === '*' || t.trim().replace(/^W\//, '') === etag)
            : ims !== undefined && Math.floor(st.mtimeMs / 1000) * 1000 <= Date.parse(ims);
        if (notModified) {
          entry.status = 304;
          res.writeHead(304, validators);
          res.end();
          return;
        }
      }

      let start = 0;
      let end = size - 1;
      let status = 200;
      const rangeHeader = req.headers.range;
      if (rangeHeader && !fault?.noRange) {
        const ifRange = ifRangeHeader;
        const rangeAllowed =
          ifRange === undefined || ifRange === etag || (!ifRange.startsWith('"') && ifRange === lastModified);
        const r = rangeAllowed ? parseRange(rangeHeader, size) : null;
        if (r === 'invalid') {
          finish(
            416,
            { 'Content-Range': `bytes */${size}`, 'Content-Type': 'text/plain' },
            'range not satisfiable\n',
          );
          return;
        }
        if (r) {
          start = r.start;
          end = r.end;
          status = 206;
        }
      }
      const length = size === 0 ? 0 : end - start + 1;
      entry.status = status;
      res.writeHead(status, {
        ...common,
        'Content-Length': length,
        ...(status === 206 ? { 'Content-Range': `bytes ${start}-${end}/${size}` } : {}),
      });
      if (req.method === 'HEAD' || length === 0) {
        res.end();
        return;
      }
      if (fault?.drip) {
        const data = await fs.readFile(file);
        const { bytes, everyMs } = fault.drip;
        let at = start;
        const tick = setInterval(() => {
          if (res.destroyed || at > end) {
            clearInterval(tick);
            if (!res.destroyed) res.end();
            return;
          }
          const chunk = data.subarray(at, Math.min(end + 1, at + bytes));
          at += chunk.length;
          count(chunk.length);
          res.write(chunk);
        }, everyMs);
        res.on('close', () => clearInterval(tick));
        return;
      }
      const limit = fault?.truncateAfter ?? fault?.stallAfter;
      const stream = createReadStream(file, {
        start,
        end: limit !== undefined ? Math.min(end, start + limit - 1) : end,
      });
      stream.on('data', (chunk) => count(chunk.length));
      stream.on('error', () => res.destroy());
      if (fault?.truncateAfter !== undefined) {
        // end the connection once every byte written so far has reached the socket, so the client
        // receives exactly `truncateAfter` bytes of a body announced longer
        stream.on('end', () => res.write(Buffer.alloc(0), () => res.socket?.end()));
        stream.pipe(res, { end: false });
      } else if (fault?.stallAfter !== undefined) {
        stream.pipe(res, { end: false });
      } else {
        stream.pipe(res);
      }
    })().catch(() => res.destroy());
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/`,
    port,
    get bytesSent() {
      return bytesSent;
    },
    get requests() {
      return log;
    },
    resetStats() {
      bytesSent = 0;
      log.length = 0;
    },
    setFault(urlPath, fault) {
      if (fault === null) faults.delete(urlPath);
      else faults.set(urlPath, fault);
      used.delete(urlPath);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
