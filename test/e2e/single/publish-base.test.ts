/**
 * Base publishing from the CLI, end to end under single TCG with the tiny installer: `install
 * --publish-base` installs, confirms, and moves the disk into the base cache read-only under the key
 * its dry run printed; `provision --base KEY` boots a copy-on-write overlay of it and confirms it;
 * the base's bytes are unchanged by the provision; a second install of the same inputs is refused
 * before anything starts. Two tiny boots pairs in all (about 30 s under TCG).
 */
import { expect } from 'chai';
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type WatchedRun, alive, killLeft, runCliWatched } from '../../helpers/processes.js';
import { runCli } from '../../helpers/cli.js';
import { type Bed, ensureBed } from '../bed/index.js';

const started: number[] = [];
const cli = (argv: string[], cwd: string): Promise<WatchedRun> =>
  runCliWatched(argv, cwd, (pid) => void started.push(pid));

const GUEST = ['--accel', 'tcg', '--memory', '512', '--network', 'user,model=e1000e'];

function lastJson(stdout: string): Record<string, unknown> {
  const lines = stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!) as Record<string, unknown>;
}

async function sha256(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(file)) h.update(c as Buffer);
  return h.digest('hex');
}

describe('install --publish-base, then provision --base KEY (tiny installer, single TCG)', function () {
  this.timeout(240_000);
  let bed: Bed;
  let tmp: string;
  let cache: string;

  before(async function () {
    this.timeout(15 * 60_000);
    bed = await ensureBed();
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'ig-publish-'));
    cache = path.join(tmp, 'cache');
  });
  after(async () => {
    killLeft(started);
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  });

  const installArgv = (name: string): string[] => [
    'install',
    '--publish-base',
    '--base-cache',
    cache,
    '--boot',
    `kernel=${bed.media.treeKernel},initrd=${bed.media.treeInitrd}`,
    '--os-variant',
    'fedora',
    '--name',
    name,
    '--disk',
    'size=1',
    ...GUEST,
    '--log-dir',
    path.join(tmp, `${name}-logs`),
  ];

  it('publishes the confirmed disk under the key its dry run printed, and provisions an overlay of it', async () => {
    const plan = await runCli([...installArgv('base1'), '--dry-run', '--json'], { cwd: tmp });
    expect(plan.code, plan.stderr).to.equal(0);
    const key = (JSON.parse(plan.stdout) as { base: { key: string } }).base.key;
    expect(key).to.match(/^[0-9a-f]{64}$/);

    const r = await cli([...installArgv('base1'), '--json'], tmp);
    expect(r.code, r.stderr + r.stdout.slice(-3000)).to.equal(0);
    for (const pid of r.pids) expect(alive(pid), `qemu ${pid} still running`).to.equal(false);
    const result = lastJson(r.stdout);
    expect(result.verdict).to.equal('confirmed');
    const baseDisk = path.join(cache, 'bases', key, 'disk.qcow2');
    expect(result.base).to.deep.equal({ key, disk: baseDisk });
    // the disk moved into the cache, read-only, with its meta
    await fs.access(path.join(tmp, 'base1.qcow2')).then(
      () => expect.fail('the install disk is still in the working folder'),
      () => undefined,
    );
    expect((await fs.stat(baseDisk)).mode & 0o777).to.equal(0o444);
    const meta = JSON.parse(await fs.readFile(path.join(cache, 'bases', key, 'meta.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(meta).to.deep.include({ key, name: 'base1' });
    const list = await runCli(['base', 'list', '--cache', cache], { cwd: tmp });
    expect(list.stdout).to.match(new RegExp(`^${key}  \\S+  base1  \\d+ MiB`));
    const before = await sha256(baseDisk);

    // one provision from it: an overlay backed by the base, booted and confirmed
    const p = await cli(
      ['provision', '--base', key, '--cache', cache, '--name', 'ci-1', ...GUEST, '--json'],
      tmp,
    );
    expect(p.code, p.stderr + p.stdout.slice(-3000)).to.equal(0);
    expect(p.pids, 'one boot: the confirm boot of the overlay').to.have.length(1);
    expect(lastJson(p.stdout).verdict).to.equal('confirmed');
    const info = JSON.parse(
      (await execa('qemu-img', ['info', '--output=json', '-U', path.join(tmp, 'ci-1.qcow2')])).stdout,
    ) as Record<string, unknown>;
    expect(info['backing-filename']).to.equal(baseDisk);
    expect(await sha256(baseDisk), 'the base is unchanged by the provision').to.equal(before);

    // the same inputs again: refused before anything is installed
    const again = await cli(installArgv('base1'), tmp);
    expect(again.code).to.equal(2);
    expect(again.stderr).to.include('[BASE_EXISTS]');
    expect(again.pids, 'no qemu started').to.deep.equal([]);
  });
});
