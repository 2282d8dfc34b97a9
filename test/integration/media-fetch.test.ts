import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Fetcher } from '../../src/media/fetch.js';
import type { FetchProgress, FetcherOptions } from '../../src/media/fetch.js';
import { startHttpServer } from '../helpers/http-server.js';
import type { TestHttpServer } from '../helpers/http-server.js';

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

async function expectError(p: Promise<unknown>, code: string, exitCode?: number): Promise<Error> {
  try {
    await p;
  } catch (e) {
    expect(e).to.have.property('code', code);
    if (exitCode !== undefined) expect(e).to.have.property('exitCode', exitCode);
    return e as Error;
  }
  expect.fail(`expected ${code}`);
}

describe('media/fetch against a real HTTP server on 127.0.0.1', function () {
  this.timeout(30_000);
  let root: string;
  let cacheDir: string;
  let server: TestHttpServer;
  const kernel = Buffer.concat([Buffer.from('MZ'), randomBytes(300_000)]);
  const big = randomBytes(2 * 1024 * 1024);
  const sleeps: number[] = [];
  const fetcher = (over: Partial<FetcherOptions> = {}): Fetcher =>
    new Fetcher({
      cacheDir,
      backoffMs: 10,
      sleep: (ms) => {
        sleeps.push(ms);
        return Promise.resolve();
      },
      ...over,
    });
  const url = (p: string): string => `${server.url}${p}`;
  const cacheFiles = async (sub: string): Promise<string[]> => {
    try {
      return (await readdir(path.join(cacheDir, sub))).sort();
    } catch {
      return [];
    }
  };

  beforeEach(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'ig-srv-'));
    cacheDir = path.join(await mkdtemp(path.join(os.tmpdir(), 'ig-cache-')), 'cache');
    await writeFile(path.join(root, 'vmlinuz'), kernel);
    await writeFile(path.join(root, 'big.bin'), big);
    await writeFile(path.join(root, 'MANIFEST'), 'netboot/debian-installer/amd64/linux -- kernel\n');
    server = await startHttpServer(root);
    sleeps.length = 0;
  });
  afterEach(async () => {
    await server.close();
    await rm(root, { recursive: true, force: true });
    await rm(path.dirname(cacheDir), { recursive: true, force: true });
  });

  it('downloads into a content-addressed cache (files 0600, directories 0700)', async () => {
    const r = await fetcher().fetch({ url: url('vmlinuz'), expect: 'binary' });
    expect(r).to.include({
      from: 'network',
      size: kernel.length,
      sha256: sha256(kernel),
      bytesDownloaded: kernel.length,
    });
    expect(r.path).to.equal(path.join(cacheDir, 'blobs', sha256(kernel)));
    expect(await readFile(r.path)).to.deep.equal(kernel);
    expect((await stat(r.path)).mode & 0o777).to.equal(0o600);
    for (const d of ['', 'blobs', 'urls', 'partial'])
      expect((await stat(path.join(cacheDir, d))).mode & 0o777).to.equal(0o700);
    const metaFile = (await cacheFiles('urls'))[0]!;
    expect((await stat(path.join(cacheDir, 'urls', metaFile))).mode & 0o777).to.equal(0o600);
    expect(await cacheFiles('partial')).to.deep.equal([]);
  });

  it('revalidates with If-None-Match: the second fetch is a 304 with 0 body bytes', async () => {
    await fetcher().fetch({ url: url('vmlinuz') });
    server.resetStats();
    const r = await fetcher().fetch({ url: url('vmlinuz') });
    expect(r).to.include({ from: 'revalidated', bytesDownloaded: 0, sha256: sha256(kernel) });
    expect(server.bytesSent).to.equal(0);
    expect(server.requests).to.have.length(1);
    expect(server.requests[0]).to.include({ status: 304 });
    expect(server.requests[0]!.ifNoneMatch).to.match(/^"/);
  });

  it('revalidates with If-Modified-Since when the server gives no ETag', async () => {
    server.setFault('/vmlinuz', { noEtag: true });
    await fetcher().fetch({ url: url('vmlinuz') });
    server.resetStats();
    const r = await fetcher().fetch({ url: url('vmlinuz') });
    expect(r.from).to.equal('revalidated');
    expect(server.requests[0]).to.include({ status: 304 });
    expect(server.requests[0]!.ifModifiedSince).to.be.a('string');
    expect(server.bytesSent).to.equal(0);
  });

  it('makes no request at all when the expected checksum is already cached (sha256 or md5)', async () => {
    const md5 = createHash('md5').update(big).digest('hex');
    await fetcher().fetch({ url: url('vmlinuz'), expected: { algo: 'sha256', hex: sha256(kernel) } });
    await fetcher().fetch({ url: url('big.bin'), expected: { algo: 'md5', hex: md5 } });
    server.resetStats();
    const a = await fetcher().fetch({
      url: url('vmlinuz'),
      expected: { algo: 'sha256', hex: sha256(kernel) },
    });
    const b = await fetcher().fetch({ url: url('big.bin'), expected: { algo: 'md5', hex: md5 } });
    expect([a.from, b.from]).to.deep.equal(['cache', 'cache']);
    expect(server.requests).to.have.length(0);
  });

  it('downloads again when the file changed upstream, and again in full without validators', async () => {
    await fetcher().fetch({ url: url('vmlinuz') });
    const changed = randomBytes(1000);
    await writeFile(path.join(root, 'vmlinuz'), changed);
    await utimes(path.join(root, 'vmlinuz'), new Date(), new Date(Date.now() + 5000));
    const r = await fetcher().fetch({ url: url('vmlinuz') });
    expect(r).to.include({ from: 'network', sha256: sha256(changed) });
    server.setFault('/big.bin', { noValidators: true });
    await fetcher().fetch({ url: url('big.bin') });
    server.resetStats();
    const again = await fetcher().fetch({ url: url('big.bin') });
    expect(again.from).to.equal('network');
    expect(server.bytesSent).to.equal(big.length);
  });

  it('resumes a body cut short with Range + If-Range (206) and retries with backoff', async () => {
    server.setFault('/big.bin', { truncateAfter: 700_000, times: 2 });
    const events: FetchProgress[] = [];
    const r = await fetcher({ onProgress: (p) => events.push(p) }).fetch({
      url: url('big.bin'),
      expected: { algo: 'sha256', hex: sha256(big) },
    });
    expect(r).to.include({ from: 'resumed', sha256: sha256(big), size: big.length });
    const gets = server.requests.filter((q) => q.method === 'GET');
    expect(gets.map((q) => q.status)).to.deep.equal([200, 206, 206]);
    // each attempt continues where the previous one stopped (what reached the client before the
    // connection broke; fetch may drop the last chunks it had buffered), never from zero
    const starts = gets.slice(1).map((q) => Number(/^bytes=(\d+)-$/.exec(q.range ?? '')?.[1]));
    expect(starts[0]).to.be.within(1, 700_000);
    expect(starts[1]).to.be.within(starts[0]! + 1, starts[0]! + 700_000);
    expect(gets[1]!.ifRange).to.match(/^"/);
    expect(server.bytesSent).to.be.lessThan(big.length + 2 * 700_000);
    expect(sleeps).to.deep.equal([10, 20]);
    expect(events.filter((e) => e.phase === 'retry')).to.have.length(2);
    expect(await cacheFiles('partial')).to.deep.equal([]);
  });

  it('resumes in a later run a download that was interrupted, and restarts when the server ignores Range', async () => {
    server.setFault('/big.bin', { stallAfter: 500_000 });
    const controller = new AbortController();
    const first = fetcher({
      signal: controller.signal,
      onProgress: (p) => {
        if (p.phase === 'data' && p.received >= 500_000) controller.abort(new Error('stop'));
      },
    }).fetch({ url: url('big.bin') });
    const e = await expectError(first, 'FETCH_ABORTED', 130);
    expect(e.message).to.include('big.bin');
    expect(await cacheFiles('partial')).to.have.length(2);
    server.setFault('/big.bin', null);
    server.resetStats();
    const r = await fetcher().fetch({ url: url('big.bin') });
    expect(r.from).to.equal('resumed');
    expect(await readFile(r.path)).to.deep.equal(big);
    expect(server.requests[0]!.range).to.equal('bytes=500000-');
    expect(server.bytesSent).to.equal(big.length - 500_000);

    // a server without Range support: the partial file is dropped and the download starts over
    await rm(cacheDir, { recursive: true, force: true });
    server.setFault('/big.bin', { truncateAfter: 100_000, times: 1 });
    await expectError(fetcher({ retries: 0 }).fetch({ url: url('big.bin') }), 'MEDIA_FETCH_FAILED', 3);
    expect(await cacheFiles('partial')).to.have.length(2);
    server.setFault('/big.bin', { noRange: true });
    server.resetStats();
    const again = await fetcher().fetch({ url: url('big.bin') });
    expect(again.from).to.equal('network');
    expect(server.requests[0]).to.include({ range: 'bytes=100000-', status: 200 });
    expect(await readFile(again.path)).to.deep.equal(big);
  });

  it('downloads a URL once when two fetches of it run at the same time (a lock per URL)', async () => {
    server.setFault('/big.bin', { delayMs: 300 });
    const [a, b] = await Promise.all([
      fetcher().fetch({ url: url('big.bin') }),
      fetcher().fetch({ url: url('big.bin') }),
    ]);
    expect(a.sha256).to.equal(sha256(big));
    expect(b.sha256).to.equal(sha256(big));
    expect([a.from, b.from].sort()).to.deep.equal(['network', 'revalidated']);
    expect(server.bytesSent).to.equal(big.length);
    expect(await cacheFiles('partial')).to.deep.equal([]);
  });

  it('retries 503 with backoff and gives up after the bounded attempts (exit 3)', async () => {
    server.setFault('/vmlinuz', { status: 503, times: 2 });
    const r = await fetcher().fetch({ url: url('vmlinuz') });
    expect(r.from).to.equal('network');
    expect(sleeps).to.deep.equal([10, 20]);
    server.setFault('/big.bin', { status: 500 });
    sleeps.length = 0;
    server.resetStats();
    const e = await expectError(
      fetcher({ retries: 2 }).fetch({ url: url('big.bin') }),
      'MEDIA_FETCH_FAILED',
      3,
    );
    expect(e.message).to.include('HTTP 500').and.include('3 attempts');
    expect(server.requests).to.have.length(3);
    expect(sleeps).to.deep.equal([10, 20]);
  });

  it('a missing file is null for fetchOptional and MEDIA_NOT_FOUND (exit 2) for fetch; 403 is not retried', async () => {
    expect(await fetcher().fetchOptional({ url: url('nope') })).to.equal(null);
    await expectError(fetcher().fetch({ url: url('nope') }), 'MEDIA_NOT_FOUND', 2);
    server.setFault('/vmlinuz', { status: 403 });
    server.resetStats();
    await expectError(fetcher().fetch({ url: url('vmlinuz') }), 'MEDIA_HTTP_ERROR', 2);
    expect(server.requests).to.have.length(1);
  });

  for (const [what, fault] of [
    ['labelled text/html', { html: true }],
    ['labelled octet-stream but starting with <!DOCTYPE html>', { htmlUntyped: true }],
  ] as const) {
    it(`detects an HTML page served in place of a kernel (${what}) and caches nothing`, async () => {
      server.setFault('/vmlinuz', fault);
      const e = await expectError(
        fetcher().fetch({ url: url('vmlinuz'), expect: 'binary' }),
        'MEDIA_HTML_PAGE',
        2,
      );
      expect(e.message).to.include('vmlinuz');
      expect(await cacheFiles('blobs')).to.deep.equal([]);
      expect(await cacheFiles('urls')).to.deep.equal([]);
      expect(await cacheFiles('partial')).to.deep.equal([]);
    });
  }

  it('a wrong checksum is an error and leaves nothing in the cache', async () => {
    const e = await expectError(
      fetcher().fetch({ url: url('vmlinuz'), expected: { algo: 'sha256', hex: 'ab'.repeat(32) } }),
      'MEDIA_CHECKSUM_MISMATCH',
      2,
    );
    expect(e.message).to.include(sha256(kernel)).and.include('ab'.repeat(32));
    expect(await cacheFiles('blobs')).to.deep.equal([]);
    expect(await cacheFiles('urls')).to.deep.equal([]);
    expect(await cacheFiles('partial')).to.deep.equal([]);
  });

  it('limits metadata size, by Content-Length and while streaming', async () => {
    await expectError(
      fetcher().fetch({ url: url('big.bin'), maxBytes: 1024 * 1024, expect: 'text' }),
      'MEDIA_METADATA_TOO_LARGE',
      2,
    );
    expect((await fetcher().fetch({ url: url('MANIFEST'), maxBytes: 1024 })).size).to.be.lessThan(1024);
    expect(await cacheFiles('partial')).to.deep.equal([]);
  });

  it('times out waiting for headers and on a stalled body (exit 4)', async () => {
    server.setFault('/vmlinuz', { delayMs: 1500 });
    const e = await expectError(
      fetcher({ timeoutMs: 150, retries: 1 }).fetch({ url: url('vmlinuz') }),
      'MEDIA_FETCH_TIMEOUT',
      4,
    );
    expect(e.message).to.include('no response within 150 ms').and.include('2 attempts');
    server.setFault('/big.bin', { stallAfter: 200_000 });
    const s = await expectError(
      fetcher({ idleTimeoutMs: 150, retries: 0 }).fetch({ url: url('big.bin') }),
      'MEDIA_FETCH_TIMEOUT',
      4,
    );
    expect(s.message).to.match(/no data for 150 ms after \d+ bytes/);
  });

  it('checks existence with HEAD: 200 yes, 404 no, an HTML soft 404 no', async () => {
    const f = fetcher();
    expect(await f.exists(url('vmlinuz'))).to.equal(true);
    expect(await f.exists(url('missing'))).to.equal(false);
    server.setFault('/linux', { html: true });
    expect(await f.exists(url('linux'))).to.equal(false);
    expect(server.requests.every((q) => q.method === 'HEAD')).to.equal(true);
    expect(server.bytesSent).to.equal(0);
  });
});
