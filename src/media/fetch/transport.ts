/**
 * One HTTP exchange for the fetcher: a time limit for the response headers, redirects followed by
 * hand (at most 10, a loop refused on the first repeat rather than after the limit), HTTP Basic
 * credentials sent to the origin they were given for and never across a redirect to another
 * origin, and the proxy from the environment (proxy.ts). Direct requests use Node's fetch; proxied
 * ones node:http (absolute-form requests for http:, a CONNECT tunnel for https:), since Node 20's
 * fetch has no proxy support.
 */
import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import tls from 'node:tls';
import type { InstallGuestError } from '../../errors.js';
import { inputError } from '../../errors.js';
import { proxyFor } from './proxy.js';
import type { ProxyEnv } from './proxy.js';
import { RetryableError, connectError } from './retry-policy.js';
import type { FetchTarget } from './url.js';
import { redactUrl } from './url.js';

export const MAX_REDIRECTS = 10;

export interface TransportOptions {
  /** time allowed until the final response's headers arrive, redirects included */
  timeoutMs: number;
  signal?: AbortSignal;
  /** where the proxy variables are read (default: none, direct connections) */
  env?: ProxyEnv;
  /** told before every request (statistics) */
  onRequest?: (url: string) => void;
  /** the error for an abort by the caller's signal */
  aborted: () => InstallGuestError;
}

export interface RequestInit {
  method: 'GET' | 'HEAD';
  headers: Record<string, string>;
}

export interface Exchange {
  res: Response;
  /** the URL that answered (after redirects; never with credentials) */
  url: string;
  /** whether credentials went with the final request */
  authSent: boolean;
  /** aborts the body (used by the stall watch) */
  controller: AbortController;
  cleanup: () => void;
}

const NULL_BODY = new Set([101, 204, 205, 304]);

function hostOf(u: URL): string {
  return u.hostname.replace(/^\[|\]$/g, '');
}

function basic(user: string, pass: string): string {
  return `Basic ${Buffer.from(`${decodeURIComponent(user)}:${decodeURIComponent(pass)}`, 'utf8').toString('base64')}`;
}

function toResponse(msg: http.IncomingMessage, method: string): Response {
  const headers = new Headers();
  for (let i = 0; i + 1 < msg.rawHeaders.length; i += 2)
    headers.append(msg.rawHeaders[i]!, msg.rawHeaders[i + 1]!);
  const status = msg.statusCode ?? 502;
  const body =
    method === 'HEAD' || NULL_BODY.has(status)
      ? null
      : (Readable.toWeb(msg) as unknown as ReadableStream<Uint8Array>);
  if (body === null) msg.resume();
  return new Response(body, { status, statusText: msg.statusMessage ?? '', headers });
}

function awaitResponse(req: http.ClientRequest, method: string): Promise<Response> {
  return new Promise((resolve, reject) => {
    req.once('error', reject);
    req.once('response', (msg) => resolve(toResponse(msg, method)));
    req.end();
  });
}

/** One request through an http:// proxy. */
async function viaProxy(url: URL, proxy: URL, init: RequestInit, signal: AbortSignal): Promise<Response> {
  const proxyAuth = proxy.username ? { 'Proxy-Authorization': basic(proxy.username, proxy.password) } : {};
  const proxyPort = Number(proxy.port || 80);
  if (url.protocol === 'http:') {
    const req = http.request({
      host: hostOf(proxy),
      port: proxyPort,
      method: init.method,
      path: url.href,
      headers: { ...init.headers, Host: url.host, ...proxyAuth },
      signal,
      agent: false,
    });
    return awaitResponse(req, init.method);
  }
  const port = Number(url.port || 443);
  const connect = http.request({
    host: hostOf(proxy),
    port: proxyPort,
    method: 'CONNECT',
    path: `${url.hostname}:${port}`,
    headers: { Host: `${url.hostname}:${port}`, ...proxyAuth },
    signal,
    agent: false,
  });
  const socket = await new Promise<Socket>((resolve, reject) => {
    connect.once('error', reject);
    connect.once('connect', (res: http.IncomingMessage, sock: Socket) => {
      if (res.statusCode === 200) resolve(sock);
      else {
        sock.destroy();
        reject(
          Object.assign(new Error(`the proxy refused the tunnel (HTTP ${res.statusCode})`), {
            proxyStatus: res.statusCode,
          }),
        );
      }
    });
    connect.end();
  });
  const req = https.request({
    host: hostOf(url),
    port,
    method: init.method,
    path: `${url.pathname}${url.search}`,
    headers: { ...init.headers, Host: url.host },
    signal,
    agent: false,
    createConnection: () => tls.connect({ socket, servername: isIpHost(url) ? undefined : hostOf(url) }),
  });
  return awaitResponse(req, init.method);
}

function isIpHost(u: URL): boolean {
  return /^[\d.]+$/.test(u.hostname) || u.hostname.startsWith('[');
}

/** Sends one request (following redirects) and returns once the final response's headers are in. */
export async function send(
  target: FetchTarget,
  init: RequestInit,
  opts: TransportOptions,
): Promise<Exchange> {
  const controller = new AbortController();
  const onAbort = (): void => controller.abort(opts.signal?.reason);
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new Error('timeout'));
  }, opts.timeoutMs);
  const cleanup = (): void => {
    clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onAbort);
  };
  const seen = new Set<string>();
  let url = target.url;
  try {
    for (let hop = 0; ; hop++) {
      seen.add(url);
      const u = new URL(url);
      const authSent = target.auth !== undefined && u.origin === target.auth.origin;
      const headers = {
        'Accept-Encoding': 'identity',
        'User-Agent': 'install-guest',
        ...init.headers,
        ...(authSent ? { Authorization: target.auth!.header } : {}),
      };
      const proxy = proxyFor(u, opts.env ?? {});
      opts.onRequest?.(url);
      let res: Response;
      try {
        res = proxy
          ? await viaProxy(u, proxy, { method: init.method, headers }, controller.signal)
          : await fetch(url, { method: init.method, headers, redirect: 'manual', signal: controller.signal });
      } catch (e) {
        if (opts.signal?.aborted) throw opts.aborted();
        if (timedOut) throw new RetryableError(`no response within ${opts.timeoutMs} ms`, 'timeout');
        const proxyStatus = (e as { proxyStatus?: number }).proxyStatus;
        if (proxyStatus === 407) {
          throw inputError(
            'MEDIA_HTTP_AUTH',
            `the proxy ${redactUrl(proxy!.href)} wants a login (HTTP 407)`,
            {
              hint: 'put it in the proxy variable (http://user:password@proxy:port)',
            },
          );
        }
        if (proxyStatus !== undefined) throw new RetryableError((e as Error).message, 'status');
        throw connectError(url, e);
      }
      const location = res.headers.get('location');
      if (![301, 302, 303, 307, 308].includes(res.status) || location === null) {
        clearTimeout(timer);
        return { res, url, authSent, controller, cleanup };
      }
      await res.body?.cancel().catch(() => undefined);
      let next: URL;
      try {
        next = new URL(location, url);
      } catch {
        throw inputError('MEDIA_BAD_REDIRECT', `${url} redirects to an invalid URL`, {
          hint: 'the server is misconfigured; use another mirror',
        });
      }
      if (next.protocol !== 'http:' && next.protocol !== 'https:') {
        throw inputError('MEDIA_BAD_REDIRECT', `${url} redirects to a ${next.protocol} URL`, {
          hint: 'only http and https redirects are followed',
        });
      }
      // credentials in a Location header are the server's, not the user's: never used
      next.username = '';
      next.password = '';
      next.hash = '';
      if (seen.has(next.href)) {
        throw inputError('MEDIA_REDIRECT_LOOP', `${url} redirects back to ${next.href} (a redirect loop)`, {
          hint: 'the server is misconfigured; use another mirror or the final URL',
        });
      }
      if (hop + 1 >= MAX_REDIRECTS) {
        throw inputError(
          'MEDIA_TOO_MANY_REDIRECTS',
          `${target.url} redirects more than ${MAX_REDIRECTS} times`,
          {
            hint: 'the server is misconfigured; use another mirror or the final URL',
          },
        );
      }
      url = next.href;
    }
  } catch (e) {
    cleanup();
    throw e;
  }
}
