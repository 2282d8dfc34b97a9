/**
 * Benchmark: resolve the real Debian 12 netboot tree (package debian-installer-12-netboot-amd64)
 * over loopback HTTP twice with one cache, and print the body bytes the server sent, the requests
 * and the wall time of each run. The second run should send 0 body bytes (only 304s). For scale it
 * then times a bare `fetch` of the same kernel and initrd (no cache, no hashing, nothing written).
 *
 *   npx tsx test/bench/media.ts [TREE]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { resolveMedia } from '../../src/media/resolve.js';
import { startHttpServer } from '../helpers/http-server.js';

const tree = process.argv[2] ?? '/usr/lib/debian-installer/images/12/amd64/text';
const tmp = await mkdtemp(path.join(os.tmpdir(), 'ig-bench-media-'));
const server = await startHttpServer(tree);
const MiB = 1024 * 1024;
try {
  process.stdout.write(`tree ${tree} served at ${server.url}\n`);
  for (const run of ['first', 'second']) {
    server.resetStats();
    const t0 = performance.now();
    const m = await resolveMedia({ location: server.url }, { cacheDir: path.join(tmp, 'cache') });
    const ms = performance.now() - t0;
    const statuses = server.requests.map((r) => r.status).join(',');
    process.stdout.write(
      `${run.padEnd(6)}  ${m.name} ${m.arch}: server sent ${server.bytesSent} body bytes (${(server.bytesSent / MiB).toFixed(1)} MiB), ` +
        `${server.requests.length} requests [${statuses}], resolver downloaded ${m.bytesDownloaded} bytes, ${ms.toFixed(0)} ms` +
        (ms > 0 && server.bytesSent > 0
          ? `, ${(server.bytesSent / MiB / (ms / 1000)).toFixed(0)} MiB/s`
          : '') +
        '\n',
    );
  }
  const b0 = performance.now();
  let bare = 0;
  for (const f of ['debian-installer/amd64/linux', 'debian-installer/amd64/initrd.gz']) {
    const res = await fetch(`${server.url}${f}`);
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) bare += chunk.byteLength;
  }
  process.stdout.write(
    `bare    fetch of kernel+initrd: ${bare} bytes, ${(performance.now() - b0).toFixed(0)} ms\n`,
  );
} finally {
  await server.close();
  await rm(tmp, { recursive: true, force: true });
}
