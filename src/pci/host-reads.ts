/**
 * The reads the inventory makes, over the Host boundary. Scanning thousands of sysfs attributes
 * through Node's thread pool costs ~30–60 µs per operation (open, read and close are three round
 * trips), several times what the system calls themselves cost, so the Host offers synchronous
 * reads of kernel pseudo-files (`host.sync`, see SyncReads in src/host/host.ts). When `host.sync`
 * exists the inventory uses it; otherwise it uses the ordinary asynchronous Host methods. Both
 * give the same results (a test checks it).
 */
import path from 'node:path';
import type { Host } from '../host/host.js';

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
  const sync = host.sync;
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
