/**
 * What is worth another try. Transient: network errors (connection refused or reset, DNS
 * temporarily failing), no response in time, a stalled body, 5xx/408/429, a body cut short — retried
 * with exponential backoff. Permanent, never retried: any other 4xx, TLS and certificate errors, an
 * unknown host name, a bad URL, a redirect loop; they are InstallGuestErrors thrown as they are.
 */
import type { InstallGuestError } from '../../errors.js';
import { hostError, inputError, timeoutError } from '../../errors.js';
import { redactUrlsIn } from './url.js';

export class RetryableError extends Error {
  constructor(
    message: string,
    readonly kind: 'network' | 'timeout' | 'status' | 'truncated',
  ) {
    super(message);
  }
}

/** 404/410: the caller decides whether a missing file is an error. */
export class NotFound extends Error {}

/** Error codes of TLS handshakes and certificate checks (OpenSSL's, as Node reports them). */
const TLS_CODES = new Set([
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'HOSTNAME_MISMATCH',
  'EPROTO',
]);

/** The error for a request that failed before any response: permanent (thrown) or transient. */
export function connectError(url: string, e: unknown): Error {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause ?? (e as { code?: string });
  const code = cause?.code ?? '';
  const detail = redactUrlsIn(
    code || (cause as { message?: string })?.message || (e as Error).message || 'error',
  );
  if (TLS_CODES.has(code) || code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) {
    return hostError('MEDIA_TLS_ERROR', `${url}: the TLS connection failed (${detail})`, {
      hint: "the server's certificate is not trusted by this host (or the port does not speak TLS); install its CA in the system store, or use http://",
    });
  }
  if (code === 'ENOTFOUND') {
    return inputError(
      'MEDIA_HOST_UNKNOWN',
      `${url}: the host name ${new URL(url).hostname} does not resolve`,
      {
        hint: 'check the host name in the URL',
      },
    );
  }
  return new RetryableError(`cannot connect (${detail})`, 'network');
}

/** The error for an HTTP status that is not a success. */
export function statusError(url: string, status: number, statusText: string, withAuth: boolean): Error {
  if (status === 404 || status === 410) return new NotFound(`${url}: HTTP ${status}`);
  if (status >= 500 || status === 408 || status === 429)
    return new RetryableError(`HTTP ${status} ${statusText}`, 'status');
  if (status === 401 || status === 407) {
    const proxy = status === 407;
    return inputError('MEDIA_HTTP_AUTH', `${url} answered HTTP ${status} ${statusText}`, {
      hint: proxy
        ? 'the proxy wants a login: put it in the proxy variable (http://user:password@proxy:port)'
        : withAuth
          ? 'the server refused the user name and password given in the URL'
          : 'the server wants a login: give it in the URL (http://user:password@host/…); it is sent to that server only and never printed',
    });
  }
  return inputError('MEDIA_HTTP_ERROR', `${url} answered HTTP ${status} ${statusText}`, {
    hint: 'check the URL and that the server lets this host read it',
  });
}

export interface RetryPolicy {
  /** retries after the first attempt */
  retries: number;
  /** first backoff delay; doubles each retry, capped at 10 s */
  backoffMs: number;
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  signal?: AbortSignal;
  /** the error to throw when the caller's signal aborts */
  aborted: () => InstallGuestError;
  /** told before each backoff */
  onRetry?: (attempt: number, message: string) => void;
}

/** Runs `attempt` until it succeeds, fails permanently, or the retries are used up. */
export async function withRetries<T>(
  url: string,
  policy: RetryPolicy,
  attempt: (n: number) => Promise<T>,
): Promise<T> {
  let last: RetryableError | null = null;
  for (let n = 1; n <= policy.retries + 1; n++) {
    if (policy.signal?.aborted) throw policy.aborted();
    try {
      return await attempt(n);
    } catch (e) {
      if (policy.signal?.aborted) throw policy.aborted();
      if (!(e instanceof RetryableError)) throw e;
      last = e;
      if (n > policy.retries) break;
      const delay = Math.min(policy.backoffMs * 2 ** (n - 1), 10_000);
      policy.onRetry?.(n, `${e.message}; retrying in ${delay} ms`);
      try {
        await policy.sleep(delay, policy.signal);
      } catch {
        throw policy.aborted();
      }
    }
  }
  const tries = policy.retries + 1;
  if (last?.kind === 'timeout') {
    throw timeoutError('MEDIA_FETCH_TIMEOUT', `${url}: ${last.message} (${tries} attempts)`, {
      hint: 'the server is too slow or unreachable; check the network or use local media',
    });
  }
  throw hostError('MEDIA_FETCH_FAILED', `${url}: ${last?.message ?? 'failed'} (${tries} attempts)`, {
    hint: 'check that the server is reachable from this host, or use local media (--location DIR or ISO)',
  });
}
