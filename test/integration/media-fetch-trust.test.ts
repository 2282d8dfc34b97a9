/**
 * The fetcher against hostile or awkward servers, all real and on loopback: credentials in URLs
 * (used as Basic auth for their origin only, never shown), redirect loops, a server that drips a
 * byte at a time, TLS certificate errors, and a forward proxy from http_proxy/https_proxy/no_proxy.
 */
import { expect } from 'chai';
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Fetcher } from '../../src/media/fetch.js';
import { resolveMedia } from '../../src/media/resolve.js';
import type { FetchProgress, FetcherOptions } from '../../src/media/fetch.js';
import { startHttpProxy } from '../helpers/http-proxy.js';
import type { TestHttpProxy } from '../helpers/http-proxy.js';
import { runCli } from '../helpers/cli.js';
import { startHttpServer } from '../helpers/http-server.js';
import type { TestHttpServer } from '../helpers/http-server.js';

async function expectError(p: Promise<unknown>, code: string, exitCode: number): Promise<Error> {
  try {
    await p;
  } catch (e) {
    expect(e, (e as Error).message).to.have.property('code', code);
    expect(e).to.have.property('exitCode', exitCode);
    return e as Error;
  }
  expect.fail(`expected ${code}`);
}

/** Every file under dir, as text (the cache must hold no password). */
async function allText(dir: string): Promise<string> {
  let out = '';
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile())
      out += await readFile(path.join(e.parentPath ?? (e as { path: string }).path, e.name), 'latin1');
  }
  return out;
}

describe('media/fetch: credentials, redirects, slow servers, TLS errors and proxies (loopback)', function () {
  this.timeout(30_000);
  const password = 's3cr3t/:@pw';
  const kernel = Buffer.concat([Buffer.from('MZ'), randomBytes(100_000)]);
  let root: string;
  let cacheDir: string;
  let server: TestHttpServer;
  const sleeps: number[] = [];
  const events: FetchProgress[] = [];
  const fetcher = (over: Partial<FetcherOptions> = {}): Fetcher =>
    new Fetcher({
      cacheDir,
      backoffMs: 10,
      sleep: (ms) => {
        sleeps.push(ms);
        return Promise.resolve();
      },
      onProgress: (p) => events.push(p),
      ...over,
    });
  const withCreds = (s: TestHttpServer, p: string, pw = password): string =>
    `http://ann:${encodeURIComponent(pw)}@127.0.0.1:${s.port}/${p}`;

  beforeEach(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'ig-trust-srv-'));
    cacheDir = path.join(await mkdtemp(path.join(os.tmpdir(), 'ig-trust-cache-')), 'cache');
    await writeFile(path.join(root, 'vmlinuz'), kernel);
    sleeps.length = 0;
    events.length = 0;
  });
  afterEach(async () => {
    await server?.close();
    await rm(root, { recursive: true, force: true });
    await rm(path.dirname(cacheDir), { recursive: true, force: true });
  });

  describe('credentials in the URL', () => {
    beforeEach(async () => {
      server = await startHttpServer(root, { auth: { user: 'ann', password } });
    });

    it('are sent as HTTP Basic auth and appear nowhere: result, progress, errors, cache files', async () => {
      const r = await fetcher().fetch({ url: withCreds(server, 'vmlinuz'), expect: 'binary' });
      expect(await readFile(r.path)).to.deep.equal(kernel);
      expect(r.url).to.equal(`${server.url}vmlinuz`);
      expect(server.requests[0]!.authorization).to.equal(
        `Basic ${Buffer.from(`ann:${password}`).toString('base64')}`,
      );
      expect(events.map((e) => e.phase)).to.include('done');
      const shown = JSON.stringify(events);
      expect(shown).not.to.include('s3cr3t').and.not.to.include(encodeURIComponent(password));
      const saved = await allText(cacheDir);
      expect(saved).to.include(`127.0.0.1:${server.port}/vmlinuz`);
      expect(saved).not.to.include('s3cr3t').and.not.to.include(encodeURIComponent(password));
      expect(saved).not.to.include(Buffer.from(`ann:${password}`).toString('base64'));
      // a HEAD existence check with the same credentials
      expect(await fetcher().exists(withCreds(server, 'vmlinuz'))).to.equal(true);
    });

    it('refused credentials: MEDIA_HTTP_AUTH (exit 2) after one request, the password not in the message', async () => {
      server.resetStats();
      const e = await expectError(
        fetcher().fetch({ url: withCreds(server, 'vmlinuz', 'wrong-pw') }),
        'MEDIA_HTTP_AUTH',
        2,
      );
      expect(server.requests).to.have.length(1);
      expect(sleeps).to.deep.equal([]);
      expect(e.message).to.include('401').and.not.to.include('wrong-pw');
      expect(JSON.stringify(e)).not.to.include('wrong-pw');
      const none = await expectError(fetcher().fetch({ url: `${server.url}vmlinuz` }), 'MEDIA_HTTP_AUTH', 2);
      expect((none as { hint?: string }).hint).to.include('http://user:password@host/');
    });

    it('are not forwarded when a redirect leads to another origin', async () => {
      const other = await startHttpServer(root);
      try {
        server.setFault('/vmlinuz', { redirect: `${other.url}vmlinuz` });
        const r = await fetcher().fetch({ url: withCreds(server, 'vmlinuz') });
        expect(r.size).to.equal(kernel.length);
        expect(server.requests[0]!.authorization).to.be.a('string');
        expect(other.requests).to.have.length(1);
        expect(other.requests[0]!.authorization).to.equal(undefined);
      } finally {
        await other.close();
      }
    });

    it('a connection failure names the URL without its password', async () => {
      const e = await expectError(
        fetcher({ retries: 1 }).fetch({
          url: `http://ann:${password.replace(/[/:@]/g, '')}@127.0.0.1:1/vmlinuz`,
        }),
        'MEDIA_FETCH_FAILED',
        3,
      );
      expect(e.message).to.include('http://127.0.0.1:1/vmlinuz').and.not.to.include('s3cr3t');
      expect(JSON.stringify(events)).not.to.include('s3cr3t');
    });
  });

  describe('redirects and slow servers', () => {
    beforeEach(async () => {
      server = await startHttpServer(root);
    });

    it('a redirect loop is refused at its first repeat (MEDIA_REDIRECT_LOOP, exit 2), not retried', async () => {
      server.setFault('/a', { redirect: '/b' });
      server.setFault('/b', { redirect: '/a' });
      const e = await expectError(fetcher().fetch({ url: `${server.url}a` }), 'MEDIA_REDIRECT_LOOP', 2);
      expect(e.message).to.include('/a');
      expect(server.requests.map((q) => q.path)).to.deep.equal(['/a', '/b']);
      expect(sleeps).to.deep.equal([]);
      server.resetStats();
      await expectError(fetcher().exists(`${server.url}a`), 'MEDIA_REDIRECT_LOOP', 2);
      expect(server.requests).to.have.length(2);
    });

    it('a redirect chain longer than 10 is refused (MEDIA_TOO_MANY_REDIRECTS), 10 requests', async () => {
      for (let i = 0; i < 12; i++) server.setFault(`/r${i}`, { redirect: `/r${i + 1}` });
      await expectError(fetcher().fetch({ url: `${server.url}r0` }), 'MEDIA_TOO_MANY_REDIRECTS', 2);
      expect(server.requests).to.have.length(10);
    });

    it('a server that drips a few bytes at a time is a stall (MEDIA_FETCH_TIMEOUT, exit 4), not a hang', async () => {
      server.setFault('/vmlinuz', { drip: { bytes: 1, everyMs: 20 } });
      const started = Date.now();
      const e = await expectError(
        fetcher({ idleTimeoutMs: 300, retries: 1 }).fetch({ url: `${server.url}vmlinuz` }),
        'MEDIA_FETCH_TIMEOUT',
        4,
      );
      expect(Date.now() - started).to.be.lessThan(5000);
      expect(e.message)
        .to.match(/only \d+ bytes in 300 ms, less than 1024/)
        .and.include('2 attempts');
    });
  });

  describe('a tree behind a login', () => {
    it('resolves with the credentials, and neither the result nor the guest kernel arguments carry them', async () => {
      const trees = path.resolve(import.meta.dirname, '../../fixtures/media/trees');
      server = await startHttpServer(trees, { auth: { user: 'ann', password } });
      const media = await resolveMedia(
        { location: withCreds(server, 'fedora-39/') },
        { cacheDir, onProgress: (p) => events.push(p) },
      );
      expect(media.location).to.equal(`${server.url}fedora-39/`);
      const args = media.kernelArgs({ headless: true }).join(' ');
      expect(args).to.include(`inst.repo=${server.url}fedora-39/`);
      const everything = JSON.stringify({ media, args, events });
      expect(everything).not.to.include('s3cr3t').and.not.to.include('ann:');
      expect(media.warnings.join('\n')).to.include('without the credentials');
      expect(server.requests.every((q) => q.authorization !== undefined)).to.equal(true);
    });
  });

  describe('--wait bounds media resolution in an install', () => {
    beforeEach(async () => {
      server = await startHttpServer(root);
    });

    it('a tree served a byte at a time ends with MEDIA_WAIT_EXCEEDED (exit 4), one line, the password not shown', async () => {
      await mkdir(path.join(root, 'tree'));
      await writeFile(
        path.join(root, 'tree', '.treeinfo'),
        `[general]\nname = Fedora\n${'#'.repeat(4000)}\n`,
      );
      server.setFault('*', { drip: { bytes: 1, everyMs: 50 } });
      const started = Date.now();
      const r = await runCli(
        [
          'install',
          '--dry-run',
          '--name',
          'slow',
          '--location',
          `http://ann:${encodeURIComponent(password)}@127.0.0.1:${server.port}/tree/`,
          '--wait',
          '0.02',
        ],
        { cwd: root, env: { INSTALL_GUEST_CACHE_DIR: cacheDir } },
      );
      expect(r.code, r.stderr).to.equal(4);
      expect(Date.now() - started).to.be.lessThan(10_000);
      expect(r.stderr).to.include('[MEDIA_WAIT_EXCEEDED]').and.include('--wait 0.02 min');
      expect(
        r.stderr
          .trimEnd()
          .split('\n')
          .filter((l) => l.startsWith('install-guest:')),
      ).to.have.length(1);
      expect(r.stderr + r.stdout)
        .not.to.include('s3cr3t')
        .and.not.to.include(encodeURIComponent(password));
    });
  });

  describe('TLS errors and proxies', () => {
    let proxy: TestHttpProxy;
    beforeEach(async () => {
      server = await startHttpServer(root);
      proxy = await startHttpProxy();
    });
    afterEach(async () => {
      await proxy.close();
    });

    it('http_proxy carries http requests; no_proxy (CIDR, host:port) is honoured', async () => {
      const env = { http_proxy: proxy.url };
      const r = await fetcher({ env }).fetch({ url: `${server.url}vmlinuz` });
      expect(r.size).to.equal(kernel.length);
      expect(proxy.requests).to.deep.equal([{ method: 'GET', target: `${server.url}vmlinuz` }]);
      expect(server.requests).to.have.length(1);

      await fetcher({ env: { HTTP_PROXY: proxy.url, no_proxy: 'example.org, 127.0.0.0/8' } }).exists(
        `${server.url}vmlinuz`,
      );
      expect(proxy.requests).to.have.length(1);
      await fetcher({ env: { http_proxy: proxy.url, no_proxy: `127.0.0.1:${server.port}` } }).exists(
        `${server.url}vmlinuz`,
      );
      expect(proxy.requests).to.have.length(1);
      await fetcher({ env: { http_proxy: proxy.url, no_proxy: '127.0.0.1:1' } }).exists(
        `${server.url}vmlinuz`,
      );
      expect(proxy.requests).to.have.length(2);
      expect(proxy.requests[1]).to.include({ method: 'HEAD' });
    });

    it('a proxy that wants a login: MEDIA_HTTP_AUTH (exit 2), its password not shown', async () => {
      const locked = await startHttpProxy({ auth: { user: 'p', password: 'proxypw' } });
      try {
        const e = await expectError(
          fetcher({ env: { http_proxy: locked.url.replace('//', '//p:bad@') } }).fetch({
            url: `${server.url}vmlinuz`,
          }),
          'MEDIA_HTTP_AUTH',
          2,
        );
        expect(e.message).to.include('407').and.not.to.include('bad@');
        const ok = await fetcher({ env: { http_proxy: locked.url.replace('//', '//p:proxypw@') } }).fetch({
          url: `${server.url}vmlinuz`,
        });
        expect(ok.size).to.equal(kernel.length);
      } finally {
        await locked.close();
      }
    });

    it('a certificate this host does not trust: MEDIA_TLS_ERROR (exit 3), not retried, direct and through a CONNECT tunnel', async () => {
      const dir = await mkdtemp(path.join(os.tmpdir(), 'ig-tls-'));
      await execa('openssl', [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-keyout',
        path.join(dir, 'key.pem'),
        '-out',
        path.join(dir, 'cert.pem'),
      ]);
      let handshakes = 0;
      const tlsServer = https.createServer(
        { key: await readFile(path.join(dir, 'key.pem')), cert: await readFile(path.join(dir, 'cert.pem')) },
        (_req, res) => res.end('x'),
      );
      tlsServer.on('connection', () => (handshakes += 1));
      await new Promise<void>((resolve) => tlsServer.listen(0, '127.0.0.1', resolve));
      const url = `https://127.0.0.1:${(tlsServer.address() as AddressInfo).port}/vmlinuz`;
      try {
        const e = await expectError(fetcher().fetch({ url }), 'MEDIA_TLS_ERROR', 3);
        expect(e.message).to.include('SELF_SIGNED');
        expect(handshakes).to.equal(1);
        await expectError(fetcher({ env: { https_proxy: proxy.url } }).fetch({ url }), 'MEDIA_TLS_ERROR', 3);
        expect(proxy.requests).to.deep.equal([
          { method: 'CONNECT', target: url.slice(8, url.indexOf('/v')) },
        ]);
        expect(sleeps).to.deep.equal([]);
      } finally {
        tlsServer.closeAllConnections();
        tlsServer.close();
        await rm(dir, { recursive: true, force: true });
      }
    });
  });
});
