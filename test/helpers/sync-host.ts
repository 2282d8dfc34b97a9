/**
 * The proposed Host extension `host.sync` (see src/pci/host-reads.ts), implemented over the host's
 * own root so that tests and the benchmark can exercise the synchronous read path before it lands
 * in src/host/host.ts. Reads follow the Host semantics: paths are host paths under `host.resolve`.
 */
import { closeSync, openSync, readSync, readdirSync, readlinkSync } from 'node:fs';
import type { Host } from '../../src/host/host.js';
import type { HostWithSyncReads, SyncReads } from '../../src/pci/host-reads.js';

export function syncReads(host: Host): SyncReads {
  return {
    readBytes(p, maxBytes) {
      let fd: number;
      try {
        fd = openSync(host.resolve(p), 'r');
      } catch {
        return null;
      }
      try {
        const buf = Buffer.allocUnsafe(maxBytes);
        let off = 0;
        while (off < maxBytes) {
          const n = readSync(fd, buf, off, maxBytes - off, off);
          if (n === 0) break;
          off += n;
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
        return readlinkSync(host.resolve(p));
      } catch {
        return null;
      }
    },
    list(p) {
      try {
        return readdirSync(host.resolve(p)).sort();
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
