/**
 * A real forward HTTP proxy on 127.0.0.1 for media tests: absolute-form requests (`GET http://…`)
 * are forwarded with node:http, CONNECT opens a TCP tunnel. It logs what it was asked for and can
 * require a login (Proxy-Authorization, 407 otherwise).
 */
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';

export interface ProxyLogEntry {
  method: string;
  /** the absolute URL, or HOST:PORT for CONNECT */
  target: string;
  /** the Authorization header the proxy saw (it must not see credentials meant for another origin) */
  authorization?: string;
}

export interface TestHttpProxy {
  /** `http://127.0.0.1:PORT` */
  url: string;
  readonly requests: readonly ProxyLogEntry[];
  close(): Promise<void>;
}

export async function startHttpProxy(
  options: { auth?: { user: string; password: string } } = {},
): Promise<TestHttpProxy> {
  const log: ProxyLogEntry[] = [];
  const sockets = new Set<net.Socket>();
  const want = options.auth
    ? `Basic ${Buffer.from(`${options.auth.user}:${options.auth.password}`).toString('base64')}`
    : undefined;
  const server = http.createServer((req, res) => {
    const entry: ProxyLogEntry = { method: req.method ?? 'GET', target: req.url ?? '' };
    if (req.headers.authorization) entry.authorization = req.headers.authorization;
    log.push(entry);
    if (want && req.headers['proxy-authorization'] !== want) {
      res.writeHead(407, { 'Proxy-Authenticate': 'Basic realm="proxy"', 'Content-Length': 0 });
      res.end();
      return;
    }
    let target: URL;
    try {
      target = new URL(req.url ?? '');
    } catch {
      res.writeHead(400, { 'Content-Length': 0 });
      res.end();
      return;
    }
    const headers = { ...req.headers };
    delete headers['proxy-authorization'];
    const up = http.request(
      {
        host: target.hostname,
        port: target.port || 80,
        method: req.method,
        path: `${target.pathname}${target.search}`,
        headers,
      },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    res.on('close', () => up.destroy());
    req.pipe(up);
  });
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    log.push({ method: 'CONNECT', target: req.url ?? '' });
    sockets.add(client);
    if (want && req.headers['proxy-authorization'] !== want) {
      client.end('HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const [host, port] = (req.url ?? '').split(':');
    const upstream = net.connect(Number(port), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on('error', () => client.destroy());
    upstream.on('close', () => client.destroy());
    client.on('error', () => upstream.destroy());
    client.on('close', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get requests() {
      return log;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
