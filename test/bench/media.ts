/**
 * Media: resolve the same install tree over loopback HTTP twice with one cache (resolveMedia, as
 * `install --location http://…` does), and count the body bytes the server sent and the time of
 * each. Goal: 0 bytes the second time (only conditional requests answered 304). Each run starts
 * from an empty cache. The tree is the real Debian 12 netboot tree (package
 * debian-installer-12-netboot-amd64) when installed, else the test bed's tiny install tree.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { resolveMedia } from '../../src/media/resolve.js';
import { startHttpServer } from '../helpers/http-server.js';
import { type BenchOptions, figure, runsFor, type Figure } from './lib.js';

const DEBIAN_NETBOOT = '/usr/lib/debian-installer/images/12/amd64/text';

async function pickTree(): Promise<string> {
  if (existsSync(DEBIAN_NETBOOT)) return DEBIAN_NETBOOT;
  const { ensureBed } = await import('../e2e/bed/index.js');
  return (await ensureBed()).media.treeDir;
}

export async function benchMedia(opts: BenchOptions): Promise<Figure[]> {
  const runs = runsFor(opts, 5, 1);
  const tree = await pickTree();
  const server = await startHttpServer(tree);
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'ig-bench-media-'));
  const ms: [number[], number[]] = [[], []];
  const bytes: [number[], number[]] = [[], []];
  try {
    for (let i = 0; i < runs; i++) {
      const cacheDir = path.join(tmp, `cache${i}`);
      for (const k of [0, 1] as const) {
        server.resetStats();
        const t0 = performance.now();
        await resolveMedia({ location: server.url }, { cacheDir });
        ms[k].push(performance.now() - t0);
        bytes[k].push(server.bytesSent);
      }
    }
  } finally {
    await server.close();
    await rm(tmp, { recursive: true, force: true });
  }
  const tag = tree === DEBIAN_NETBOOT ? 'Debian 12 netboot' : 'tiny tree';
  const second = figure(`second fetch, ${tag}: bytes sent`, 'bytes', bytes[1], { goal: '0 bytes' });
  return [
    figure(`first fetch, ${tag}: time`, 'ms', ms[0]),
    figure(`first fetch, ${tag}: bytes sent`, 'bytes', bytes[0]),
    figure(`second fetch, ${tag}: time`, 'ms', ms[1]),
    { ...second, met: second.max === 0 },
  ];
}
