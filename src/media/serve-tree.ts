/**
 * Serves a local install tree read-only over HTTP for the guest's installer (anaconda needs its
 * repository by URL). Bound to loopback on an ephemeral port; qemu's user networking shows the host's
 * loopback to the guest as 10.0.2.2. Paths never leave the tree; only GET and HEAD are answered.
 */
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

export interface ServedTree {
  /** the URL as the guest sees it under qemu user networking */
  guestUrl: string;
  /** the URL on this host */
  hostUrl: string;
  close(): Promise<void>;
}

export async function serveTree(dir: string): Promise<ServedTree> {
  const root = await realpath(dir);
  const server = http.createServer((req, res) => {
    void (async () => {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405).end();
        return;
      }
      const rel = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
      const file = path.resolve(root, `.${rel}`);
      const real = await realpath(file).catch(() => null);
      const st =
        real && (real === root || real.startsWith(`${root}${path.sep}`))
          ? await stat(real).catch(() => null)
          : null;
      if (!real || !st?.isFile()) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-length': st.size, 'content-type': 'application/octet-stream' });
      if (req.method === 'HEAD') res.end();
      else createReadStream(real).pipe(res);
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    guestUrl: `http://10.0.2.2:${port}/`,
    hostUrl: `http://127.0.0.1:${port}/`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
