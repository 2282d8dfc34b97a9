/**
 * A dry run downloads nothing: over a real HTTP server on loopback, `install --dry-run --location
 * URL` reads the tree's metadata to detect the media (into a throwaway directory), HEADs the kernel
 * and initrd for their size and lists them; no GET of either, nothing in the media cache.
 */
import { expect } from 'chai';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { redactUrl } from '../../../src/media/fetch/url.js';
import { runCli } from '../../helpers/cli.js';
import { type TestHttpServer, startHttpServer } from '../../helpers/http-server.js';

const TREE = path.resolve('fixtures/media/trees/fedora-39');

describe('install --dry-run over an HTTP tree', function () {
  this.timeout(60_000);
  let server: TestHttpServer;
  let dir: string;
  beforeEach(async () => {
    server = await startHttpServer(TREE);
    dir = await mkdtemp(path.join(os.tmpdir(), 'ig-dry-media-'));
  });
  afterEach(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  const dry = (location: string, json: boolean) =>
    runCli(
      [
        'install',
        '--dry-run',
        ...(json ? ['--json'] : []),
        '--name',
        'm',
        '--location',
        location,
        '--network',
        'user',
        '--log-dir',
        path.join(dir, 'logs'),
      ],
      { cwd: dir, env: { INSTALL_GUEST_CACHE_DIR: path.join(dir, 'cache') } },
    );

  it('lists the kernel and initrd it would download, with their sizes, and fetches neither', async () => {
    const r = await dry(server.url, true);
    expect(r.code, r.stderr).to.equal(0);
    const plan = JSON.parse(r.stdout) as {
      downloads: { url: string; size: number | null }[];
      argv: { install: string[] };
    };
    const size = async (rel: string) => (await stat(path.join(TREE, rel))).size;
    expect(plan.downloads).to.deep.equal([
      { url: `${server.url}images/pxeboot/vmlinuz`, size: await size('images/pxeboot/vmlinuz') },
      { url: `${server.url}images/pxeboot/initrd.img`, size: await size('images/pxeboot/initrd.img') },
    ]);
    const gets = server.requests.filter((q) => q.method === 'GET').map((q) => q.path);
    expect(gets).not.to.include('/images/pxeboot/vmlinuz');
    expect(gets).not.to.include('/images/pxeboot/initrd.img');
    expect(gets, 'the metadata is read to detect the media').to.include('/.treeinfo');
    expect(await readdir(dir), 'no cache, no log dir').to.deep.equal([]);
    expect(plan.argv.install).to.include('<download>/vmlinuz');
  });

  it('a planned download is shown without its password', () => {
    expect(redactUrl('http://user:s3cret@mirror.example/tree/vmlinuz')).to.equal(
      'http://user:***@mirror.example/tree/vmlinuz',
    );
    expect(redactUrl('https://mirror.example/a b')).to.equal('https://mirror.example/a b');
  });

  it('names the downloads in the human plan, and refuses a missing kernel as the real run does', async () => {
    const r = await dry(server.url, false);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.include(`would download ${server.url}images/pxeboot/vmlinuz (`);
    server.setFault('/images/pxeboot/vmlinuz', { status: 404 });
    const missing = await dry(server.url, false);
    expect(missing.code).to.equal(2);
    expect(missing.stderr).to.include('[MEDIA_NOT_FOUND]');
    expect(await readdir(dir)).to.deep.equal([]);
  });
});

/** Every file under a folder with its size and mtime: "unchanged" means this listing is equal. */
async function listing(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      const p = path.join(d, e.name);
      const s = await stat(p);
      out.push(`${path.relative(root, p)} ${e.isDirectory() ? 'dir' : s.size} ${s.mtimeMs}`);
      if (e.isDirectory()) await walk(p);
    }
  };
  await walk(root);
  return out.sort();
}

describe('install --dry-run from an ISO', function () {
  this.timeout(60_000);
  const ISO = path.resolve('fixtures/cases/_media/install.iso');
  let dir: string;
  beforeEach(async () => (dir = await mkdtemp(path.join(os.tmpdir(), 'ig-dry-iso-'))));
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const dry = (json: boolean) =>
    runCli(
      [
        'install',
        '--dry-run',
        ...(json ? ['--json'] : []),
        '--name',
        'i',
        '--location',
        ISO,
        '--log-dir',
        path.join(dir, 'logs'),
      ],
      { cwd: dir, env: { INSTALL_GUEST_CACHE_DIR: path.join(dir, 'cache') } },
    );

  it('reads the ISO in place: the files it would extract are listed, the media cache is not written', async () => {
    // a cache that exists already (another install's files in it) stays exactly as it was
    await mkdir(path.join(dir, 'cache', 'other'), { recursive: true });
    await writeFile(path.join(dir, 'cache', 'other', 'f'), 'x');
    const before = await listing(dir);
    const r = await dry(true);
    expect(r.code, r.stderr).to.equal(0);
    const plan = JSON.parse(r.stdout) as {
      extracts: { iso: string; path: string; size: number }[];
      argv: { install: string[] };
    };
    expect(plan.extracts).to.deep.equal([
      { iso: ISO, path: '/images/pxeboot/vmlinuz', size: 12 },
      { iso: ISO, path: '/images/pxeboot/initrd.img', size: 12 },
    ]);
    expect(plan.argv.install).to.include('<extract>/vmlinuz');
    expect(await listing(dir), 'the cache and the folder are unchanged').to.deep.equal(before);
    const human = await dry(false);
    expect(human.code, human.stderr).to.equal(0);
    expect(human.stdout).to.include(
      `would extract /images/pxeboot/vmlinuz from ${ISO} into the media cache (12 bytes)`,
    );
    expect(await listing(dir)).to.deep.equal(before);
  });

  it('with no cache at all, none is created', async () => {
    const r = await dry(false);
    expect(r.code, r.stderr).to.equal(0);
    expect(await readdir(dir)).to.deep.equal([]);
  });
});
