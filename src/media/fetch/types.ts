/** The fetcher's public shapes (src/media/fetch.ts). URLs in all of them are redacted: never credentials. */
import type { Checksum } from '../types.js';
import type { ProxyEnv } from './proxy.js';

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
  /**
   * the stall window (default 30 s): a body that brings fewer than `stallBytes` in this time is
   * stalled (a server that sends nothing, or a byte now and then)
   */
  idleTimeoutMs?: number;
  /** bytes a body must bring per stall window (default 1 KiB) */
  stallBytes?: number;
  /** where http_proxy / https_proxy / no_proxy are read (default: none, direct connections) */
  env?: ProxyEnv;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export interface FetchRequest {
  /** may carry credentials (`http://user:pw@host/…`): used for that origin, never shown */
  url: string;
  /** verified before the file enters the cache */
  expected?: Checksum;
  /** a limit for metadata (the download stops and fails beyond it) */
  maxBytes?: number;
  /** `binary` files must not be HTML pages */
  expect?: 'binary' | 'text';
}

export interface FetchResult {
  /** the URL without credentials */
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
