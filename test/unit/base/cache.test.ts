/**
 * The base cache behind `install --publish-base` and `provision --base KEY`: the key grammar (never a
 * path), a key the cache holds refused before anything is installed, only a confirmed disk published,
 * no link in the cache followed (reads, publication and removal stay inside `<cache>/bases`), and
 * `base list|rm` from the CLI.
 */
import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  assertBaseAbsent,
  basePaths,
  listBases,
  publishBase,
  readBaseMeta,
  removeBase,
} from '../../../src/base/cache.js';
import { answerFileRecipe, installBaseKey } from '../../../src/base/key.js';
import type { InstallState } from '../../../src/pipeline/state.js';
import { parseInstallRequest } from '../../../src/request/request.js';
import { diskToPublish, publishBaseStage } from '../../../src/stages/publish-base.js';
import { createHost, fixedClock } from '../../../src/host/host.js';
import { runCli } from '../../helpers/cli.js';

const KEY = 'a'.repeat(64);
const MEDIA = path.resolve('fixtures/cases/_media');
const BOOT = `kernel=${MEDIA}/vmlinuz,initrd=${MEDIA}/initrd.img`;

type Caught = { code?: string; message: string; exitCode?: number };
const caught = async (p: Promise<unknown> | (() => unknown)): Promise<Caught> => {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    return e as Caught;
  }
  throw new Error('expected an error');
};

/** Every path under a folder with its size (links as links): "unchanged" means this list is equal. */
async function tree(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      out.push(
        `${path.relative(root, p)} ${e.isSymbolicLink() ? 'link' : e.isDirectory() ? 'dir' : (await stat(p)).size}`,
      );
      if (e.isDirectory()) await walk(p);
    }
  };
  await walk(root);
  return out.sort();
}

describe('base cache', function () {
  this.timeout(30_000);
  let dir: string;
  let cache: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ig-base-'));
    cache = path.join(dir, 'cache');
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const disk = async (name = 'd.qcow2', text = 'disk'): Promise<string> => {
    const p = path.join(dir, name);
    await writeFile(p, text);
    return p;
  };

  describe('the key grammar', () => {
    for (const [what, bad] of [
      ['a parent path', '../etc'],
      ['a parent path 64 long', `../${'a'.repeat(61)}`],
      ['upper-case hex', 'A'.repeat(64)],
      ['63 digits', 'a'.repeat(63)],
      ['65 digits', 'a'.repeat(65)],
      ['a trailing slash', `${'a'.repeat(63)}/`],
      ['a newline inside', `${'a'.repeat(32)}\n${'a'.repeat(31)}`],
      ['nothing', ''],
    ] as const) {
      it(`refuses ${what}`, async () => {
        const e = await caught(() => basePaths(cache, bad));
        expect(e.code).to.equal('BAD_BASE_KEY');
        expect(e.message).not.to.include('\n');
        expect(
          (await caught(publishBase(cache, bad, await disk(), { createdAt: 't', toolVersion: 'v' }))).code,
        ).to.equal('BAD_BASE_KEY');
        expect((await caught(removeBase(cache, bad))).code).to.equal('BAD_BASE_KEY');
        expect(existsSync(cache), 'nothing created').to.equal(false);
      });
    }
  });

  it('a key the cache holds: BASE_EXISTS naming what it holds; absent: nothing', async () => {
    await assertBaseAbsent(cache, KEY);
    await publishBase(cache, KEY, await disk(), {
      createdAt: '2026-01-01T00:00:00Z',
      toolVersion: 'v',
      name: 'b1',
    });
    const e = await caught(assertBaseAbsent(cache, KEY));
    expect(e).to.include({ code: 'BASE_EXISTS', exitCode: 2 });
    expect(e.message).to.include('installed 2026-01-01T00:00:00Z as b1');
    // a folder another run is filling (no meta yet) counts as taken too
    const other = 'b'.repeat(64);
    await mkdir(path.join(cache, 'bases', other));
    expect((await caught(assertBaseAbsent(cache, other))).message).to.include(
      'a folder without a complete base',
    );
  });

  it('publishes only a confirmed install: no confirm boot, or --noreboot, is BASE_NOT_CONFIRMED', async () => {
    const request = parseInstallRequest({ name: 'g', boot: BOOT, disk: ['size=1'] }, dir);
    const state = (confirm: InstallState['confirm']): InstallState => ({
      raw: {},
      cwd: dir,
      request,
      ...(confirm ? { confirm } : {}),
    });
    expect((await caught(() => diskToPublish(state(undefined)))).code).to.equal('BASE_NOT_CONFIRMED');
    const skipped = await caught(() => diskToPublish(state({ skipped: true, reason: '--noreboot' })));
    expect(skipped.code).to.equal('BASE_NOT_CONFIRMED');
    expect(skipped.message).to.include('(--noreboot)');
    expect(diskToPublish(state({ skipped: false } as InstallState['confirm']))).to.equal(
      path.join(dir, 'g.qcow2'),
    );
    // the CLI refuses the combinations before anything runs
    for (const [extra, code] of [
      [['--noreboot'], 'BASE_NOT_CONFIRMED'],
      [['--print-xml'], 'BAD_PUBLISH_BASE'],
      [['--disk', 'size=1', '--disk', 'size=2'], 'BAD_PUBLISH_BASE'],
      [['--disk', 'size=1,format=raw'], 'BAD_PUBLISH_BASE'],
      [['--boot', 'uefi'], 'BAD_PUBLISH_BASE'],
    ] as const) {
      const r = await runCli(['install', '--publish-base', '--name', 'g', '--location', MEDIA, ...extra], {
        cwd: dir,
      });
      expect(r.code, `${extra.join(' ')}: ${r.stderr}`).to.equal(2);
      expect(r.stderr).to.include(`[${code}]`);
      expect(r.stderr.trim().split('\n')).to.have.length(1);
    }
    const imp = await runCli(['install', '--publish-base', '--import', '--disk', 'path=x.qcow2'], {
      cwd: dir,
    });
    expect(imp.stderr).to.include('[BAD_PUBLISH_BASE]');
    const alone = await runCli(['install', '--base-cache', 'c', '--boot', BOOT], { cwd: dir });
    expect(alone.stderr).to.include('[BAD_PUBLISH_BASE]');
    expect(await readdir(dir)).to.deep.equal([]);
  });

  it('a confirmed disk whose publication fails is kept where it was (taken off the disks a failed run removes)', async () => {
    const request = parseInstallRequest({ name: 'g', boot: BOOT, disk: ['size=1'], publishBase: true }, dir);
    const mine = path.join(dir, 'g.qcow2');
    await writeFile(mine, 'installed');
    // another run published the key meanwhile
    await publishBase(cache, KEY, await disk('other.qcow2'), { createdAt: 't', toolVersion: 'v' });
    let state = {
      raw: {},
      cwd: dir,
      request,
      createdDisks: [mine],
      confirm: { skipped: false },
      base: { key: KEY, cacheDir: cache },
    } as unknown as InstallState;
    const warnings: string[] = [];
    const e = await caught(
      publishBaseStage.run({
        state,
        record: (f) => void (state = { ...state, ...f }),
        host: createHost({ root: dir, clock: fixedClock() }),
        log: { info: () => undefined, warn: (l) => void warnings.push(l) },
        signal: new AbortController().signal,
        dryRun: false,
      }),
    );
    expect(e.code).to.equal('BASE_EXISTS');
    expect(state.createdDisks).to.deep.equal([]);
    expect(await readFile(mine, 'utf8')).to.equal('installed');
    expect(warnings.join('\n')).to.include(`the confirmed disk is kept at ${mine}`);
  });

  describe('containment: nothing in the cache leads outside it', () => {
    let outside: string;
    beforeEach(async () => {
      outside = path.join(dir, 'outside');
      await mkdir(outside);
      await writeFile(path.join(outside, 'victim'), 'keep me');
      await writeFile(
        path.join(outside, 'meta.json'),
        JSON.stringify({ key: KEY, createdAt: 't', toolVersion: 'v' }),
      );
      await writeFile(path.join(outside, 'disk.qcow2'), 'x');
    });

    it("a base folder that is a link: refused when read, published to, listed or removed; the link's target is untouched", async () => {
      await mkdir(path.join(cache, 'bases'), { recursive: true });
      await symlink(outside, path.join(cache, 'bases', KEY));
      const d = await disk('mine.qcow2');
      const before = await tree(dir);
      expect((await caught(readBaseMeta(cache, KEY))).code).to.equal('BASE_CACHE_INVALID');
      const pub = await caught(publishBase(cache, KEY, d, { createdAt: 't', toolVersion: 'v' }));
      expect(pub).to.include({ code: 'BASE_CACHE_INVALID', exitCode: 3 });
      expect(await readFile(d, 'utf8'), 'the disk stays where it was').to.equal('disk');
      expect((await caught(removeBase(cache, KEY))).code).to.equal('BASE_CACHE_INVALID');
      const r = await runCli(['provision', '--base', KEY, '--cache', cache], { cwd: dir });
      expect(r.code).to.equal(3);
      expect(r.stderr).to.include('[BASE_CACHE_INVALID]');
      expect(await tree(dir)).to.deep.equal(before);
    });

    it('a bases folder that is a link: refused', async () => {
      await mkdir(cache);
      await symlink(outside, path.join(cache, 'bases'));
      expect((await caught(listBases(cache))).code).to.equal('BASE_CACHE_INVALID');
      expect((await caught(readBaseMeta(cache, KEY))).code).to.equal('BASE_CACHE_INVALID');
      const r = await runCli(['base', 'rm', KEY, '--cache', cache], { cwd: dir });
      expect(r.code).to.equal(3);
      expect(await readFile(path.join(outside, 'victim'), 'utf8')).to.equal('keep me');
    });

    it('list shows only key-named folders; a planted name is neither listed nor removable', async () => {
      await publishBase(cache, KEY, await disk(), { createdAt: 't1', toolVersion: 'v', name: 'b1' });
      await mkdir(path.join(cache, 'bases', '.tmp-x'));
      await writeFile(path.join(cache, 'bases', 'notes.txt'), 'x');
      expect((await listBases(cache)).map((b) => b.key)).to.deep.equal([KEY]);
      const r = await runCli(['base', 'rm', '../outside', '--cache', cache], { cwd: dir });
      expect(r.code).to.equal(2);
      expect(r.stderr).to.include('[BAD_BASE_KEY]');
      expect(existsSync(path.join(outside, 'victim'))).to.equal(true);
    });
  });

  it('base list and base rm from the CLI', async () => {
    const empty = await runCli(['base', 'list', '--cache', cache], { cwd: dir });
    expect(empty.code).to.equal(0);
    expect(empty.stdout).to.include('no bases in');
    await publishBase(cache, KEY, await disk(), {
      createdAt: '2026-01-01T00:00:00Z',
      toolVersion: 'v',
      name: 'b1',
    });
    const list = await runCli(['base', 'list', '--cache', cache, '--json'], { cwd: dir });
    const j = JSON.parse(list.stdout) as { bases: { key: string; meta: { name: string } }[] };
    expect(j.bases.map((b) => [b.key, b.meta.name])).to.deep.equal([[KEY, 'b1']]);
    const human = await runCli(['base', 'list'], { cwd: dir, env: { INSTALL_GUEST_CACHE: cache } });
    expect(human.stdout).to.match(new RegExp(`^${KEY}  2026-01-01T00:00:00Z  b1`));
    const rmd = await runCli(['base', 'rm', KEY, '--cache', cache], { cwd: dir });
    expect(rmd.code, rmd.stderr).to.equal(0);
    expect(await readdir(path.join(cache, 'bases'))).to.deep.equal([]);
    const again = await runCli(['base', 'rm', KEY, '--cache', cache], { cwd: dir });
    expect(again.code).to.equal(2);
    expect(again.stderr).to.include('[BASE_NOT_FOUND]');
  });

  describe('the key of an install', () => {
    const req = (extra: Record<string, unknown> = {}) =>
      parseInstallRequest({ name: 'g', boot: BOOT, disk: ['size=1'], ...extra }, dir);
    const media = {
      kind: 'kernel-initrd',
      source: `${MEDIA}/vmlinuz`,
      boot: { kind: 'kernel' as const, kernel: `${MEDIA}/vmlinuz`, initrd: `${MEDIA}/initrd.img` },
    };

    it('is the same for the same inputs and changes with each of them', async () => {
      const k1 = (await installBaseKey(req(), media))!.key;
      expect((await installBaseKey(req(), media))!.key).to.equal(k1);
      const others = [
        await installBaseKey(req({ memory: '2048' }), media),
        await installBaseKey(req({ name: 'other' }), media),
        await installBaseKey(req({ ksSet: ['rootPassword=x'] }), media),
        await installBaseKey(req(), { ...media, boot: { ...media.boot, initrd: `${MEDIA}/vmlinuz` } }),
      ].map((k) => k!.key);
      expect(new Set([k1, ...others]).size).to.equal(5);
    });

    it('is not known in a dry run whose media are not on this host', async () => {
      expect(
        await installBaseKey(req(), { ...media, boot: { kind: 'kernel', kernel: '<download>/vmlinuz' } }),
      ).to.equal(null);
    });

    it('a kickstart file counts by its content, not its path', async () => {
      const a = path.join(dir, 'a.ks');
      await writeFile(a, 'text\n');
      const r1 = await answerFileRecipe(req({ kickstart: a }));
      await writeFile(a, 'other\n');
      expect(await answerFileRecipe(req({ kickstart: a }))).not.to.equal(r1);
      expect(r1).not.to.include(dir);
    });
  });

  it('install --dry-run --publish-base prints the key; once that key is cached, dry and real runs refuse it before anything is made', async () => {
    const env = { INSTALL_GUEST_CACHE: cache };
    const argv = [
      'install',
      '--publish-base',
      '--name',
      'g',
      '--boot',
      BOOT,
      '--disk',
      'size=1',
      '--accel',
      'tcg',
    ];
    const plan = await runCli([...argv, '--dry-run', '--json'], { cwd: dir, env });
    expect(plan.code, plan.stderr).to.equal(0);
    const key = (JSON.parse(plan.stdout) as { base: { key: string } }).base.key;
    expect(key).to.match(/^[0-9a-f]{64}$/);
    const human = await runCli([...argv, '--dry-run'], { cwd: dir, env });
    expect(human.stdout).to.include(`would publish the confirmed disk as base ${key} in ${cache}`);
    expect(existsSync(cache)).to.equal(false);
    await publishBase(cache, key, await disk('earlier.qcow2'), {
      createdAt: 't',
      toolVersion: 'v',
      name: 'g',
    });
    const before = await tree(dir);
    for (const dry of [true, false]) {
      const r = await runCli([...argv, ...(dry ? ['--dry-run'] : [])], { cwd: dir, env });
      expect(r.code, r.stderr).to.equal(2);
      expect(r.stderr).to.include(`base ${key} is already in the cache`);
      expect(r.stderr).to.include('[BASE_EXISTS]');
      expect(r.stderr).not.to.match(/\n\s+at /);
    }
    // no disk, the cache as it was: the real run stopped before it made anything (its log dir aside)
    expect((await tree(dir)).filter((l) => !l.startsWith('g-logs'))).to.deep.equal(before);
    expect(existsSync(path.join(dir, 'g.qcow2'))).to.equal(false);
  });
});
