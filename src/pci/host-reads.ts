/**
 * The reads the inventory makes, over the Host boundary. Scanning thousands of sysfs attributes
 * through Node's thread pool costs ~30–60 µs per operation (open, read and close are three round
 * trips), several times what the system calls themselves cost, so a host may offer synchronous
 * reads of kernel pseudo-files (sysfs and procfs never wait on disk I/O). When `host.sync` exists
 * the inventory uses it; otherwise it uses the ordinary asynchronous Host methods. Both give the
 * same results (a test checks it).
 *
 * Proposed Host extension (src/host/host.ts), what `test/helpers/sync-host.ts` implements:
 *   sync?: { readBytes(hostPath, maxBytes): Buffer | null; readLink(hostPath): string | null;
 *            list(hostPath): string[]; exists(hostPath): boolean }
 */
import path from 'node:path';
import type { Host } from '../host/host.js';

export interface SyncReads {
  /**
   * up to maxBytes from the start of the file, or null when it cannot be read. Requests of at most
   * one page (sysfs attributes, config space) take a single read; larger ones read until end of file.
   */
  readBytes(hostPath: string, maxBytes: number): Buffer | null;
  /** the link target as stored, or null when not a link */
  readLink(hostPath: string): string | null;
  /** directory entries, sorted; [] when it does not exist */
  list(hostPath: string): string[];
  /** whether the path exists (as a file, directory or link), without following a final link */
  exists(hostPath: string): boolean;
}

export type HostWithSyncReads = Host & { sync?: SyncReads };

export interface Reads {
  bytes(hostPath: string, maxBytes: number): Promise<Buffer | null>;
  /** trimmed text of a small file, or null */
  small(hostPath: string, maxBytes?: number): Promise<string | null>;
  link(hostPath: string): Promise<string | null>;
  /** last component of a link target, or null */
  linkName(hostPath: string): Promise<string | null>;
  list(hostPath: string): Promise<string[]>;
  /**
   * Which of `probe` ∪ `likely` exist in `dir`. Synchronous hosts lstat each `probe` name and
   * report every `likely` name as present without looking (reading a missing one just gives null);
   * the asynchronous path lists the directory once, one thread-pool round trip for all names.
   */
  present(dir: string, probe: readonly string[], likely?: readonly string[]): Promise<Set<string>>;
  /** whole text file (for /proc tables), trimmed, or null */
  text(hostPath: string): Promise<string | null>;
}

const BIG = 4 * 1024 * 1024;

export function readsOf(host: Host): Reads {
  const sync = (host as HostWithSyncReads).sync;
  const asText = (b: Buffer | null): string | null => (b === null ? null : b.toString('utf8'));
  if (sync) {
    return {
      bytes: (p, n) => Promise.resolve(sync.readBytes(p, n)),
      small: (p, n = 1024) => Promise.resolve(asText(sync.readBytes(p, n))?.trim() ?? null),
      link: (p) => Promise.resolve(sync.readLink(p)),
      linkName: (p) => {
        const t = sync.readLink(p);
        return Promise.resolve(t === null ? null : path.posix.basename(t));
      },
      list: (p) => Promise.resolve(sync.list(p)),
      present: (dir, probe, likely = []) =>
        Promise.resolve(new Set([...likely, ...probe.filter((n) => sync.exists(`${dir}/${n}`))])),
      text: (p) => Promise.resolve(asText(sync.readBytes(p, BIG))?.trim() ?? null),
    };
  }
  return {
    bytes: (p, n) => host.readBytes(p, n),
    small: async (p, n = 1024) => asText(await host.readBytes(p, n))?.trim() ?? null,
    link: (p) => host.readLink(p),
    linkName: (p) => host.linkName(p),
    list: (p) => host.list(p),
    present: async (dir, probe, likely = []) => {
      const entries = new Set(await host.list(dir));
      return new Set([...probe, ...likely].filter((n) => entries.has(n)));
    },
    text: (p) => host.readTrimmed(p),
  };
}
