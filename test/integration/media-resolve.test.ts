import { expect } from 'chai';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { resolveMedia } from '../../src/media/resolve.js';
import type { MediaRequest, ResolvedMedia } from '../../src/media/types.js';
import { startHttpServer } from '../helpers/http-server.js';
import type { TestHttpServer } from '../helpers/http-server.js';
import { makeIso } from '../unit/media/iso-tools.js';

const TREES = path.resolve(import.meta.dirname, '../../fixtures/media/trees');
const DEBIAN_NETBOOT = '/usr/lib/debian-installer/images/12/amd64/text';

async function expectError(p: Promise<unknown>, code: string, exitCode = 2): Promise<Error> {
  try {
    await p;
  } catch (e) {
    expect(e).to.have.property('code', code);
    expect(e).to.have.property('exitCode', exitCode);
    return e as Error;
  }
  expect.fail(`expected ${code}`);
}

describe('media/resolve: fixture trees over loopback HTTP, local directories and ISOs', function () {
  this.timeout(60_000);
  let tmp: string;
  let cacheDir: string;
  let server: TestHttpServer;
  const resolve = (req: MediaRequest): Promise<ResolvedMedia> =>
    resolveMedia(req, { cacheDir, hostArch: 'x86_64' });
  const fixture = (p: string): Promise<Buffer> => readFile(path.join(TREES, p));

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'ig-resolve-'));
    server = await startHttpServer(TREES);
  });
  after(async () => {
    await server.close();
    await rm(tmp, { recursive: true, force: true });
  });
  beforeEach(async () => {
    cacheDir = await mkdtemp(path.join(tmp, 'cache-'));
    server.resetStats();
  });

  it('Fedora 39 over HTTP: kernel and initrd verified into the cache; the second resolve downloads 0 bytes', async () => {
    const m = await resolve({ location: `${server.url}fedora-39` });
    expect(m).to.include({
      kind: 'tree-http',
      family: 'fedora',
      installer: 'anaconda',
      version: '39',
      arch: 'x86_64',
    });
    expect(m.location).to.equal(`${server.url}fedora-39/`);
    expect(m.repo).to.equal(`${server.url}fedora-39/`);
    expect(m.stage2).to.equal(`${server.url}fedora-39/images/install.img`);
    expect(await readFile(m.kernel!)).to.deep.equal(await fixture('fedora-39/images/pxeboot/vmlinuz'));
    expect(await readFile(m.initrd!)).to.deep.equal(await fixture('fedora-39/images/pxeboot/initrd.img'));
    expect(m.verified).to.deep.equal([
      { path: 'images/pxeboot/vmlinuz', algo: 'sha256', ok: true },
      { path: 'images/pxeboot/initrd.img', algo: 'sha256', ok: true },
    ]);
    expect(m.bytesDownloaded).to.be.greaterThan(1000);
    expect(m.kernelArgs({ ksUrl: 'http://10.0.2.2/ks.cfg', headless: true })).to.deep.equal([
      `inst.repo=${server.url}fedora-39/`,
      'inst.ks=http://10.0.2.2/ks.cfg',
      'inst.text',
      'console=ttyS0',
    ]);
    // kernelArgs is a method, not data: the media serialises cleanly for plans and reports
    expect(JSON.parse(JSON.stringify(m))).to.not.have.property('kernelArgs');

    server.resetStats();
    const again = await resolve({ location: `${server.url}fedora-39` });
    expect(again.bytesDownloaded).to.equal(0);
    expect(server.bytesSent).to.equal(0);
    expect(server.requests.map((r) => `${r.method} ${r.path} ${r.status}`)).to.deep.equal([
      'GET /fedora-39/.treeinfo 304',
    ]);
    expect(again.kernel).to.equal(m.kernel);
  });

  const HTTP_TREES: [string, string, Partial<ResolvedMedia>][] = [
    [
      'RHEL 9.3 DVD contents',
      'rhel-9.3-dvd',
      { family: 'rhel', version: '9.3', name: 'Red Hat Enterprise Linux 9.3' },
    ],
    [
      'CentOS Stream 9 BaseOS',
      'centos-stream-9/BaseOS/x86_64/os',
      { family: 'centos-stream', version: '9', name: 'CentOS Stream 9' },
    ],
    [
      'a Debian 12 mirror (dists/bookworm/main/installer-amd64)',
      'debian/dists/bookworm/main/installer-amd64',
      { family: 'debian', installer: 'debian-installer', version: '12', name: 'Debian 12 (bookworm)' },
    ],
    [
      'an Ubuntu 20.04 legacy-images mirror',
      'ubuntu/dists/focal-updates/main/installer-amd64',
      { family: 'ubuntu', installer: 'debian-installer', version: '20.04' },
    ],
    [
      'openSUSE Leap 15.5 (content file, HASH lines)',
      'opensuse-leap-15.5',
      { family: 'suse', installer: 'suse-linuxrc', version: '15.5', name: 'openSUSE Leap 15.5' },
    ],
  ];
  for (const [name, tree, want] of HTTP_TREES) {
    it(`${name} over HTTP`, async () => {
      const m = await resolve({ location: `${server.url}${tree}/` });
      expect(m).to.include({ kind: 'tree-http', arch: 'x86_64', netInstall: true, ...want });
      expect(m.verified.map((v) => v.ok)).to.deep.equal([true, true]);
      const d = m.detection!;
      expect(await readFile(m.kernel!)).to.deep.equal(await fixture(`${tree}/${d.kernel}`));
    });
  }

  it('a local Fedora tree: files used in place, verified; anaconda needs the tree served (repoUrl)', async () => {
    const m = await resolve({ location: path.join(TREES, 'fedora-39') });
    expect(m).to.include({
      kind: 'tree-local',
      family: 'fedora',
      netInstall: false,
      serveDir: path.join(TREES, 'fedora-39'),
    });
    expect(m.kernel).to.equal(path.join(TREES, 'fedora-39/images/pxeboot/vmlinuz'));
    expect(m.verified).to.have.length(2);
    expect(() => m.kernelArgs({ headless: true }))
      .to.throw()
      .with.property('code', 'MEDIA_TREE_NOT_REACHABLE');
    expect(
      m.kernelArgs({ headless: false, repoUrl: 'http://10.0.2.2:8000/', ksPath: '/ks.cfg' }),
    ).to.deep.equal(['inst.repo=http://10.0.2.2:8000/', 'inst.ks=file:/ks.cfg']);
  });

  it('an anaconda ISO: kernel and initrd extracted and verified, stage2 by volume label, the ISO attached', async () => {
    const iso = path.join(tmp, 'Fedora-39.iso');
    await makeIso('xorriso-rr-joliet', path.join(TREES, 'fedora-39'), iso, 'Fedora-S-dvd-x86_64-39');
    const m = await resolve({ location: iso });
    expect(m).to.include({
      kind: 'iso',
      family: 'fedora',
      volumeLabel: 'Fedora-S-dvd-x86_64-39',
      cdromPath: iso,
      stage2: 'hd:LABEL=Fedora-S-dvd-x86_64-39',
      netInstall: false,
    });
    expect(await readFile(m.kernel!)).to.deep.equal(await fixture('fedora-39/images/pxeboot/vmlinuz'));
    expect(m.kernel!.startsWith(cacheDir)).to.equal(true);
    expect((await stat(m.kernel!)).mode & 0o777).to.equal(0o600);
    expect(m.verified.every((v) => v.ok)).to.equal(true);
    expect(m.kernelArgs({ ksPath: '/ks.cfg', headless: true })).to.deep.equal([
      'inst.stage2=hd:LABEL=Fedora-S-dvd-x86_64-39',
      'inst.ks=file:/ks.cfg',
      'inst.text',
      'console=ttyS0',
    ]);
    const before = (await stat(m.kernel!)).mtimeMs;
    const again = await resolve({ location: iso });
    expect(again.kernel).to.equal(m.kernel);
    expect((await stat(again.kernel!)).mtimeMs, 'not extracted twice').to.equal(before);
  });

  it('a Debian netinst ISO (genisoimage) and an Ubuntu live-server ISO (xorriso)', async () => {
    const deb = path.join(tmp, 'debian-12.iso');
    await makeIso('genisoimage-rr', path.join(TREES, 'debian-12-netinst-cd'), deb, 'Debian 12.5.0 amd64 n');
    const d = await resolve({ location: deb });
    expect(d).to.include({
      kind: 'iso',
      family: 'debian',
      version: '12.5.0',
      repo: 'cdrom',
      volumeLabel: 'Debian 12.5.0 amd64 n',
    });
    expect(await readFile(d.initrd!)).to.deep.equal(
      await fixture('debian-12-netinst-cd/install.amd/initrd.gz'),
    );
    expect(d.verified.map((v) => v.algo)).to.deep.equal(['sha256', 'sha256']);
    expect(d.kernelArgs({ ksPath: '/preseed.cfg', headless: true })).to.deep.equal([
      'auto=true',
      'priority=critical',
      'preseed/file=/preseed.cfg',
      'console=ttyS0',
    ]);

    const ubu = path.join(tmp, 'ubuntu-22.04.iso');
    await makeIso(
      'xorriso-rr-joliet',
      path.join(TREES, 'ubuntu-22.04-live-server'),
      ubu,
      'Ubuntu-Server 22.04.3 LTS amd64',
    );
    const u = await resolve({ location: ubu });
    expect(u).to.include({
      kind: 'iso',
      family: 'ubuntu',
      installer: 'casper',
      version: '22.04.3',
      cdromPath: ubu,
    });
    expect(u.verified).to.deep.equal([
      { path: 'casper/vmlinuz', algo: 'md5', ok: true },
      { path: 'casper/initrd', algo: 'md5', ok: true },
    ]);
  });

  it('a server answering missing files with an HTML page (soft 404): the detectors see them as missing', async () => {
    const base = '/debian/dists/bookworm/main/installer-amd64/';
    for (const p of ['.treeinfo', 'treeinfo']) server.setFault(`${base}${p}`, { html: true });
    try {
      const m = await resolve({ location: `${server.url}${base.slice(1)}` });
      expect(m).to.include({ family: 'debian', version: '12' });
    } finally {
      for (const p of ['.treeinfo', 'treeinfo']) server.setFault(`${base}${p}`, null);
    }
  });

  it('--cdrom ISO: the firmware boots it, no kernel and no kernel arguments', async () => {
    const iso = path.join(tmp, 'cd.iso');
    await makeIso('xorriso-native', path.join(TREES, 'fedora-39'), iso, 'FEDORA39');
    const m = await resolve({ cdrom: iso });
    expect(m).to.include({
      kind: 'cdrom',
      kernel: null,
      initrd: null,
      cdromPath: iso,
      family: 'fedora',
      volumeLabel: 'FEDORA39',
    });
    expect(m.kernelArgs({ ksPath: '/ks.cfg', headless: true })).to.deep.equal([]);
    expect(m.warnings.join(' ')).to.match(/no kernel arguments/);
  });

  it('--boot kernel=,initrd= alone, and as an override of a tree', async () => {
    const k = path.join(TREES, 'fedora-39/images/pxeboot/vmlinuz');
    const i = path.join(TREES, 'fedora-39/images/pxeboot/initrd.img');
    const m = await resolve({ boot: { kernel: k, initrd: i } });
    expect(m).to.include({
      kind: 'kernel-initrd',
      family: 'generic',
      installer: 'unknown',
      kernel: k,
      initrd: i,
      arch: 'x86_64',
    });
    expect(m.kernelArgs({ ksPath: '/ks.cfg', headless: true })).to.deep.equal([
      'inst.ks=file:/ks.cfg',
      'console=ttyS0',
    ]);
    const over = await resolve({
      location: `${server.url}centos-stream-9/BaseOS/x86_64/os/`,
      boot: { kernel: k },
    });
    expect(over).to.include({ family: 'centos-stream', kernel: k });
    expect(await readFile(over.initrd!)).to.deep.equal(
      await fixture('centos-stream-9/BaseOS/x86_64/os/images/pxeboot/initrd.img'),
    );
    const fetched = await resolve({
      boot: { kernel: `${server.url}fedora-39/images/pxeboot/vmlinuz`, initrd: i },
    });
    expect(await readFile(fetched.kernel!)).to.deep.equal(await readFile(k));
  });

  const BAD: [string, () => MediaRequest | Promise<MediaRequest>, string][] = [
    ['--location and --cdrom together', () => ({ location: '/x', cdrom: '/y.iso' }), 'MEDIA_CONFLICT'],
    ['no media at all', () => ({}), 'MEDIA_MISSING'],
    ['--boot with a kernel only', () => ({ boot: { kernel: '/k' } }), 'MEDIA_MISSING'],
    ['a location that does not exist', () => ({ location: '/nonexistent/tree' }), 'MEDIA_NOT_FOUND'],
    [
      'a file that is not an ISO',
      () => ({ location: path.join(TREES, 'fedora-39/.treeinfo') }),
      'MEDIA_NOT_AN_ISO',
    ],
    ['an ftp:// URL', () => ({ location: 'ftp://mirror.example/tree/' }), 'MEDIA_BAD_URL'],
    ['an ISO on a web server', () => ({ location: `${server.url}x/Fedora.iso` }), 'MEDIA_REMOTE_ISO'],
    ['an unknown --arch', () => ({ location: path.join(TREES, 'fedora-39'), arch: 'vax' }), 'BAD_ARCH'],
    [
      'a tree for another arch',
      () => ({ location: path.join(TREES, 'fedora-39'), arch: 'arm64' }),
      'MEDIA_ARCH_MISMATCH',
    ],
    ['a directory that is no install tree', () => ({ location: TREES }), 'MEDIA_NOT_RECOGNISED'],
    ['an HTTP directory that is no install tree', () => ({ location: server.url }), 'MEDIA_NOT_RECOGNISED'],
  ];
  for (const [name, req, code] of BAD) {
    it(`refuses ${name}: ${code} (exit 2)`, async () => {
      await expectError(resolve(await req()), code);
    });
  }

  describe('hostile or broken trees', () => {
    let evil: string;
    let evilServer: TestHttpServer;
    before(async () => {
      evil = path.join(tmp, 'evil');
      await cp(path.join(TREES, 'fedora-39'), evil, { recursive: true });
      evilServer = await startHttpServer(evil);
    });
    after(() => evilServer.close());
    afterEach(async () => {
      evilServer.setFault('/images/pxeboot/vmlinuz', null);
      await cp(path.join(TREES, 'fedora-39'), evil, { recursive: true, force: true });
    });

    it('a .treeinfo naming a kernel outside the tree is refused', async () => {
      const ti = await readFile(path.join(evil, '.treeinfo'), 'utf8');
      await writeFile(
        path.join(evil, '.treeinfo'),
        ti.replace('kernel = images/pxeboot/vmlinuz', 'kernel = ../../../../etc/passwd'),
      );
      const e = await expectError(resolve({ location: evilServer.url }), 'MEDIA_UNSAFE_PATH');
      expect(e.message).to.include('../../../../etc/passwd');
      expect(evilServer.requests.some((r) => r.path.includes('passwd'))).to.equal(false);
    });

    it('an HTML error page served in place of the kernel is detected', async () => {
      evilServer.setFault('/images/pxeboot/vmlinuz', { html: true });
      await expectError(resolve({ location: evilServer.url }), 'MEDIA_HTML_PAGE');
    });

    it('a kernel that does not match [checksums] is an error and leaves nothing in the cache', async () => {
      await writeFile(path.join(evil, 'images/pxeboot/vmlinuz'), 'tampered');
      await expectError(resolve({ location: evilServer.url }), 'MEDIA_CHECKSUM_MISMATCH');
      const blobs = await readdir(path.join(cacheDir, 'blobs'));
      // only the metadata file (.treeinfo) is cached, no kernel
      const texts = await Promise.all(blobs.map((b) => readFile(path.join(cacheDir, 'blobs', b), 'utf8')));
      expect(texts.some((t) => t.includes('tampered'))).to.equal(false);
      expect(await readdir(path.join(cacheDir, 'partial'))).to.deep.equal([]);
      // and locally too
      await expectError(resolve({ location: evil }), 'MEDIA_CHECKSUM_MISMATCH');
    });

    it('a local tree whose kernel is a symlink leaving the tree is refused', async () => {
      const outside = path.join(tmp, 'outside');
      await mkdir(outside, { recursive: true });
      await writeFile(path.join(outside, 'vmlinuz'), 'outside');
      await rm(path.join(evil, 'images/pxeboot/vmlinuz'));
      const { symlink } = await import('node:fs/promises');
      await symlink(path.join(outside, 'vmlinuz'), path.join(evil, 'images/pxeboot/vmlinuz'));
      await expectError(resolve({ location: evil }), 'MEDIA_FILE_MISSING');
      await rm(path.join(evil, 'images/pxeboot/vmlinuz'));
    });
  });
});

describe('media/resolve: the real Debian 12 netboot tree (package debian-installer-12-netboot-amd64)', function () {
  this.timeout(120_000);
  let tmp: string;

  before(async function () {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'ig-netboot-'));
    await stat(path.join(DEBIAN_NETBOOT, 'debian-installer/amd64/linux'));
  });
  after(() => rm(tmp, { recursive: true, force: true }));

  it('as a local directory: Debian 12 amd64, kernel debian-installer/amd64/linux and initrd.gz', async () => {
    const m = await resolveMedia(
      { location: DEBIAN_NETBOOT },
      { cacheDir: path.join(tmp, 'c0'), hostArch: 'x86_64' },
    );
    expect(m).to.include({
      kind: 'tree-local',
      family: 'debian',
      installer: 'debian-installer',
      version: '12',
      name: 'Debian 12 (bookworm)',
      arch: 'x86_64',
      kernel: path.join(DEBIAN_NETBOOT, 'debian-installer/amd64/linux'),
      initrd: path.join(DEBIAN_NETBOOT, 'debian-installer/amd64/initrd.gz'),
      netInstall: true,
    });
    expect(m.detection!.detector).to.equal('debian-netboot');
    // a real bzImage
    const head = (await readFile(m.kernel!)).subarray(0x202, 0x206).toString('latin1');
    expect(head).to.equal('HdrS');
  });

  it('over loopback HTTP: the first resolve downloads the kernel and initrd, the second 0 bytes', async () => {
    const server = await startHttpServer(DEBIAN_NETBOOT);
    try {
      const cacheDir = path.join(tmp, 'c1');
      const first = await resolveMedia({ location: server.url }, { cacheDir, hostArch: 'x86_64' });
      const size =
        (await stat(path.join(DEBIAN_NETBOOT, 'debian-installer/amd64/linux'))).size +
        (await stat(path.join(DEBIAN_NETBOOT, 'debian-installer/amd64/initrd.gz'))).size;
      expect(first).to.include({ kind: 'tree-http', family: 'debian', version: '12', arch: 'x86_64' });
      expect(first.detection!.kernel).to.equal('debian-installer/amd64/linux');
      expect(first.bytesDownloaded).to.be.at.least(size);
      expect(await readFile(first.kernel!)).to.deep.equal(
        await readFile(path.join(DEBIAN_NETBOOT, 'debian-installer/amd64/linux')),
      );
      server.resetStats();
      const second = await resolveMedia({ location: server.url }, { cacheDir, hostArch: 'x86_64' });
      expect(second.bytesDownloaded).to.equal(0);
      expect(server.bytesSent).to.equal(0);
      expect(server.requests.every((r) => r.status === 304)).to.equal(true);
      expect(second.initrd).to.equal(first.initrd);
    } finally {
      await server.close();
    }
  });
});
