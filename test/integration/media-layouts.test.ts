/**
 * The done-when of install-tree detection: for every layout in test/unit/media/layouts.ts, the CLI's
 * `media inspect --json` names the family, version, arch, kernel and initrd of the tree as a local
 * directory, served by a real HTTP server on 127.0.0.1, and as an ISO built with xorriso (Rock Ridge
 * and Joliet names, as distributions build theirs).
 */
import { expect } from 'chai';
import { execa } from 'execa';
import { mkdir, mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { BUILT_CLI, ensureBuilt, runCli, type CliRun } from '../helpers/cli.js';
import { startHttpServer } from '../helpers/http-server.js';
import type { TestHttpServer } from '../helpers/http-server.js';
import { makeIso as makeIsoWith } from '../unit/media/iso-tools.js';
import { LAYOUTS, wantOn } from '../unit/media/layouts.js';
import type { Layout, Medium } from '../unit/media/layouts.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

interface InspectJson {
  kind: string;
  kernel: string;
  initrd: string;
  detection: {
    detector: string;
    family: string;
    version: string | null;
    arch: string;
    kernel: string;
    initrd: string;
  };
}

function run(argv: string[], env: Record<string, string>): Promise<CliRun> {
  return runCli(argv, { env, cwd: ROOT });
}

async function writeTree(dir: string, files: Record<string, string>): Promise<void> {
  for (const [rel, content] of Object.entries(files)) {
    const p = path.join(dir, ...rel.split('/'));
    await mkdir(path.dirname(p), { recursive: true });
    await writeFile(p, content);
  }
}

async function makeIso(src: string, out: string, label: string): Promise<void> {
  await mkdir(path.dirname(out), { recursive: true });
  await makeIsoWith('xorriso-rr-joliet', src, out, label);
}

describe('media inspect --json: every recognised layout as a directory, over loopback HTTP and as an ISO', function () {
  this.timeout(60_000);
  let tmp: string;
  let trees: string;
  let env: Record<string, string>;
  let server: TestHttpServer;

  const location = (layout: Layout, medium: Medium): string =>
    medium === 'local'
      ? path.join(trees, layout.dir)
      : medium === 'http'
        ? `${server.url}${layout.dir}/`
        : path.join(tmp, 'iso', `${layout.dir}.iso`);

  before(async () => {
    tmp = await realpath(await mkdtemp(path.join(os.tmpdir(), 'ig-media-layouts-')));
    trees = path.join(tmp, 'trees');
    env = { INSTALL_GUEST_CACHE_DIR: path.join(tmp, 'cache') };
    for (const layout of LAYOUTS) await writeTree(path.join(trees, layout.dir), layout.files);
    await mkdir(path.join(tmp, 'unrelated', 'docs'), { recursive: true });
    await writeFile(path.join(tmp, 'unrelated', 'README.md'), '# notes\n');
    await writeFile(path.join(tmp, 'unrelated', 'docs', 'index.html'), '<html></html>\n');
    await mkdir(path.join(tmp, 'empty'));
    // two xorriso at a time: the machine has two cores
    const jobs: [string, string, string][] = [
      ...LAYOUTS.map((l, i): [string, string, string] => [
        path.join(trees, l.dir),
        location(l, 'iso'),
        `IG_LAYOUT_${i}`,
      ]),
      [path.join(tmp, 'unrelated'), path.join(tmp, 'iso', 'unrelated.iso'), 'NOTES'],
    ];
    for (let i = 0; i < jobs.length; i += 2) {
      await Promise.all(jobs.slice(i, i + 2).map(([src, out, label]) => makeIso(src, out, label)));
    }
    server = await startHttpServer(tmp);
    // the server's root is tmp: trees live under trees/
    const base = server.url;
    Object.defineProperty(server, 'url', { value: `${base}trees/` });
  });

  after(async () => {
    await server?.close();
    await rm(tmp, { recursive: true, force: true });
  });

  for (const layout of LAYOUTS) {
    it(`${layout.id}${layout.args ? ` (${layout.args.join(' ')})` : ''}`, async () => {
      for (const medium of ['local', 'http', 'iso'] as const) {
        const where = location(layout, medium);
        const r = await run(['media', 'inspect', where, '--json', ...(layout.args ?? [])], env);
        expect(r.code, `${medium}: ${r.stderr}${r.stdout}`).to.equal(0);
        const j = JSON.parse(r.stdout) as InspectJson;
        const want = wantOn(layout, medium);
        expect(j.kind, medium).to.equal({ local: 'tree-local', http: 'tree-http', iso: 'iso' }[medium]);
        expect(
          {
            detector: j.detection.detector,
            family: j.detection.family,
            version: j.detection.version,
            arch: j.detection.arch,
            kernel: j.detection.kernel,
            initrd: j.detection.initrd,
          },
          medium,
        ).to.deep.equal(want);
        const full = (rel: string): string =>
          medium === 'local'
            ? path.join(where, ...rel.split('/'))
            : medium === 'http'
              ? `${where}${rel}`
              : `${where}:/${rel}`;
        expect([j.kernel, j.initrd], medium).to.deep.equal([full(want.kernel), full(want.initrd)]);
      }
    });
  }

  it('an empty or unrelated directory, URL or ISO is "not an install tree" (exit 2): one line naming every marker looked for', async () => {
    const places = [
      path.join(tmp, 'empty'),
      path.join(tmp, 'unrelated'),
      `${server.url.replace(/trees\/$/, '')}unrelated/`,
      path.join(tmp, 'iso', 'unrelated.iso'),
    ];
    for (const where of places) {
      const r = await run(['media', 'inspect', where], env);
      expect(r.code, where).to.equal(2);
      const lines = r.stderr.trimEnd().split('\n');
      expect(lines, r.stderr).to.have.length(1);
      expect(lines[0]).to.include(`${where} is not an install tree`).and.include('[MEDIA_NOT_RECOGNISED]');
      expect(lines[0]).to.match(/\(hint: .*--boot kernel=PATH,initrd=PATH/);
      for (const marker of [
        '.treeinfo',
        'current/images/MANIFEST',
        'legacy-images',
        'daily/',
        'version.info',
        'casper/vmlinuz',
        '.disk/info',
        'content',
        'boot/ARCH/loader/linux',
        'VERSION',
        'isolinux/ARCH/vmlinuz',
      ]) {
        expect(lines[0], marker).to.include(marker);
      }
      const j = await run(['media', 'inspect', where, '--json'], env);
      expect(j.code).to.equal(2);
      expect(JSON.parse(j.stdout)).to.have.nested.property('error.code', 'MEDIA_NOT_RECOGNISED');
    }
  });

  it('runs as the built CLI: a SLES 11 s390x ISO and an Ubuntu CD tree over HTTP', async function () {
    this.timeout(240_000);
    await ensureBuilt();
    const cli = (args: string[]) =>
      execa('node', [BUILT_CLI, 'media', 'inspect', ...args, '--json'], {
        cwd: ROOT,
        env,
        reject: false,
      });
    const sles = LAYOUTS.find((l) => l.id === 'sles-11-sp4-s390x')!;
    const a = await cli([location(sles, 'iso')]);
    expect(a.exitCode, a.stderr).to.equal(0);
    expect((JSON.parse(a.stdout) as InspectJson).detection).to.include({
      family: 'suse',
      version: '11.4',
      arch: 's390x',
      kernel: 'boot/s390x/vmrdr.ikr',
    });
    const ubuntu = LAYOUTS.find((l) => l.id === 'ubuntu-18.04-server-cd')!;
    const b = await cli([location(ubuntu, 'http')]);
    expect(b.exitCode, b.stderr).to.equal(0);
    expect((JSON.parse(b.stdout) as InspectJson).kernel).to.equal(
      `${location(ubuntu, 'http')}install/netboot/ubuntu-installer/amd64/linux`,
    );
  });
});
