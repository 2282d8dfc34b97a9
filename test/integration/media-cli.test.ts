import { expect } from 'chai';
import { execa } from 'execa';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { BUILT_CLI, ensureBuilt, runCli, type CliRun } from '../helpers/cli.js';
import { startHttpServer } from '../helpers/http-server.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const TREES = path.join(ROOT, 'fixtures/media/trees');
const DEBIAN_NETBOOT = '/usr/lib/debian-installer/images/12/amd64/text';

function run(argv: string[], env: Record<string, string> = {}): Promise<CliRun> {
  return runCli(argv, { env, cwd: ROOT });
}

describe('cli: install-guest media inspect', function () {
  this.timeout(60_000);
  let tmp: string;
  let env: Record<string, string>;
  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'ig-cli-media-'));
    env = { INSTALL_GUEST_CACHE_DIR: path.join(tmp, 'cache') };
  });
  after(() => rm(tmp, { recursive: true, force: true }));

  it('names Debian 12 amd64 and the right kernel and initrd in the real netboot tree (local directory)', async () => {
    const r = await run(['media', 'inspect', DEBIAN_NETBOOT], env);
    expect(r.code).to.equal(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).to.equal('Debian 12 (bookworm) x86_64');
    expect(r.stdout).to.include(`kernel     ${DEBIAN_NETBOOT}/debian-installer/amd64/linux`);
    expect(r.stdout).to.include(`initrd     ${DEBIAN_NETBOOT}/debian-installer/amd64/initrd.gz`);
    expect(r.stdout).to.include('detector   debian-netboot');
  });

  it('names Debian 12 amd64 over loopback HTTP (--json), without downloading the kernel', async () => {
    const server = await startHttpServer(DEBIAN_NETBOOT);
    try {
      const r = await run(['media', 'inspect', server.url, '--json'], env);
      expect(r.code).to.equal(0);
      const j = JSON.parse(r.stdout) as {
        kind: string;
        kernel: string;
        initrd: string;
        detection: { family: string; version: string; arch: string; name: string };
        bytesDownloaded: number;
      };
      expect(j.kind).to.equal('tree-http');
      expect(j.detection).to.include({
        family: 'debian',
        version: '12',
        arch: 'x86_64',
        name: 'Debian 12 (bookworm)',
      });
      expect(j.kernel).to.equal(`${server.url}debian-installer/amd64/linux`);
      expect(j.initrd).to.equal(`${server.url}debian-installer/amd64/initrd.gz`);
      expect(j.bytesDownloaded).to.be.lessThan(1000);
    } finally {
      await server.close();
    }
  });

  it('--verify checks every image against [checksums]; a damaged one fails with exit 2', async () => {
    const ok = await run(['media', 'inspect', path.join(TREES, 'fedora-39'), '--verify'], env);
    expect(ok.code).to.equal(0);
    expect(ok.stdout).to.include('verify     5 of 5 images match their checksums');
    const copy = path.join(tmp, 'fedora');
    await cp(path.join(TREES, 'fedora-39'), copy, { recursive: true });
    await writeFile(path.join(copy, 'images/install.img'), 'damaged');
    const bad = await run(['media', 'inspect', copy, '--verify', '--json'], env);
    expect(bad.code).to.equal(2);
    const j = JSON.parse(bad.stdout) as { verify: { path: string; ok: boolean }[] };
    expect(j.verify.filter((v) => !v.ok).map((v) => v.path)).to.deep.equal(['images/install.img']);
  });

  it('--verify over HTTP downloads the images into the cache with their checksums', async () => {
    const server = await startHttpServer(TREES);
    try {
      const r = await run(['media', 'inspect', `${server.url}rhel-9.3-dvd/`, '--verify'], env);
      expect(r.code).to.equal(0);
      expect(r.stdout).to.include('Red Hat Enterprise Linux 9.3 x86_64').and.include('4 of 4 images match');
      expect(r.stderr).to.include('fetch install.img: done');
    } finally {
      await server.close();
    }
  });

  it('says what it looked for and where when the location is not a tree (exit 2)', async () => {
    const r = await run(['media', 'inspect', tmp], env);
    expect(r.code).to.equal(2);
    expect(r.stderr)
      .to.include(`${tmp} is not an install tree`)
      .and.include('.treeinfo')
      .and.include('[MEDIA_NOT_RECOGNISED]');
    const j = await run(['media', 'inspect', tmp, '--json'], env);
    expect(JSON.parse(j.stdout)).to.have.nested.property('error.code', 'MEDIA_NOT_RECOGNISED');
  });

  it('runs as the built CLI (tsc, then node dist/bin/install-guest.mjs)', async function () {
    this.timeout(180_000);
    await ensureBuilt();
    const r = await execa('node', [BUILT_CLI, 'media', 'inspect', DEBIAN_NETBOOT, '--json'], {
      cwd: ROOT,
      env,
      reject: false,
    });
    expect(r.exitCode, r.stderr).to.equal(0);
    expect(JSON.parse(r.stdout)).to.have.nested.property('detection.name', 'Debian 12 (bookworm)');
    const bad = await execa('node', [BUILT_CLI, 'media', 'inspect', '/nonexistent'], {
      cwd: ROOT,
      env,
      reject: false,
    });
    expect(bad.exitCode).to.equal(2);
    expect(bad.stderr).to.match(/no such file or directory \(hint: .*\) \[MEDIA_NOT_FOUND\]/);
  });
});
