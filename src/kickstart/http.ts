/**
 * Serves one answer file over HTTP for `inst.ks=http://…` / `url=http://…`: an ephemeral port, an
 * unguessable path (128 random bits), 404 for everything else, bound to one address only (never a
 * wildcard), stopped by close() in the pipeline's cleanup.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isIP } from 'node:net';
import { inputError } from '../errors.js';
import type { IdSource } from '../host/host.js';
import { randomIds } from '../host/host.js';

export interface ServeOptions {
  /** the one local address to listen on, e.g. 127.0.0.1 (qemu user networking) or a bridge address */
  bindAddress: string;
  /** the host name the guest uses in the URL, when it differs (e.g. 10.0.2.2 for qemu user networking) */
  urlHost?: string;
  /** the file name at the end of the path (default ks.cfg) */
  fileName?: string;
  /** token source (default: crypto random) */
  ids?: IdSource;
  /** called once per successful fetch, with the client's address (a progress event: "kickstart fetched") */
  onFetch?: (remoteAddress: string) => void;
}

export interface ServedKickstart {
  url: string;
  /** how many times the answer file was fetched */
  readonly fetches: number;
  close(): Promise<void>;
}

export async function serveKickstart(text: string, options: ServeOptions): Promise<ServedKickstart> {
  const { bindAddress } = options;
  if (!isIP(bindAddress)) {
    throw inputError(
      'KICKSTART_HTTP_BIND',
      `kickstart HTTP bind address ${JSON.stringify(bindAddress)} is not an IP address`,
      {
        hint: 'give the host address the guest can reach, e.g. 127.0.0.1 with qemu user networking',
      },
    );
  }
  if (bindAddress === '0.0.0.0' || bindAddress === '::') {
    throw inputError(
      'KICKSTART_HTTP_BIND',
      `kickstart HTTP would listen on every interface (${bindAddress})`,
      {
        hint: 'bind to the one address the guest can reach; the answer file holds password hashes',
      },
    );
  }
  const ids = options.ids ?? randomIds;
  const reqPath = `/ks/${ids.token(16)}/${options.fileName ?? 'ks.cfg'}`;
  const body = Buffer.from(text, 'utf8');
  let fetches = 0;
  const server = createServer((req, res) => {
    const url = (req.url ?? '').split('?')[0];
    if (url !== reqPath || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain', connection: 'close' });
      res.end('not found\n');
      return;
    }
    res.writeHead(200, {
      'content-type': 'text/plain; charset=utf-8',
      'content-length': String(body.length),
      'cache-control': 'no-store',
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    res.end(body);
    fetches += 1;
    options.onFetch?.(req.socket.remoteAddress ?? 'unknown');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: bindAddress, port: 0, exclusive: true }, () => {
      server.off('error', reject);
      resolve();
    });
  }).catch((e: unknown) => {
    throw inputError(
      'KICKSTART_HTTP_BIND',
      `cannot serve the kickstart on ${bindAddress}: ${e instanceof Error ? e.message : String(e)}`,
      {
        hint: 'the address must belong to this host',
        cause: e,
      },
    );
  });
  const { port } = server.address() as AddressInfo;
  const host = options.urlHost ?? bindAddress;
  const hostPart = isIP(host) === 6 ? `[${host}]` : host;
  let closed: Promise<void> | undefined;
  return {
    url: `http://${hostPart}:${port}${reqPath}`,
    get fetches() {
      return fetches;
    },
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
