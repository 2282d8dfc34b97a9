/**
 * The proposed Host extension `host.sync` (see src/pci/host-reads.ts), implemented over the host's
 * own root so that tests and the benchmark can exercise the synchronous read path before it lands
 * in src/host/host.ts. Reads follow the Host semantics: paths are host paths under `host.resolve`.
 */
import { closeSync, lstatSync, openSync, readSync, readdirSync, readlinkSync } from 'node:fs';
import type { Host } from '../../src/host/host.js';
import type { HostWithSyncReads, SyncReads } from '../../src/pci/host-reads.js';

export function syncReads(host: Host): SyncReads {
  // host paths are absolute and normalised here, so the root is a plain prefix
  const at = host.root === '/' ? (p: string): string => p : (p: string): string => host.root + p;
  return {
    readBytes(p, maxBytes) {
      let fd: number;
      try {
        fd = openSync(at(p), 'r');
      } catch {
        return null;
      }
      try {
        // a kernel attribute answers in one read; procfs tables come a page at a time until EOF
        const buf = Buffer.allocUnsafe(maxBytes);
        let off = 0;
        while (off < maxBytes) {
          const n = readSync(fd, buf, off, maxBytes - off, off);
          off += n;
          if (n === 0 || maxBytes <= 4096) break;
        }
        return buf.subarray(0, off);
      } catch {
        return null;
      } finally {
        closeSync(fd);
      }
    },
    readLink(p) {
      try {
        return readlinkSync(at(p));
      } catch {
        return null;
      }
    },
    exists(p) {
      return lstatSync(at(p), { throwIfNoEntry: false }) !== undefined;
    },
    list(p) {
      try {
        return readdirSync(at(p)).sort();
      } catch {
        return [];
      }
    },
  };
}

/** The same host with `sync` reads attached (writes, exec, clock and ids unchanged). */
export function withSyncReads(host: Host): HostWithSyncReads {
  return { ...host, sync: syncReads(host) };
}
