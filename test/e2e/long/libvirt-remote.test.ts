/**
 * The remote path of `install --connect` on one machine: this machine's libvirtd reached as
 * `qemu+tcp://127.0.0.1:PORT/system` (test/helpers/libvirtd.ts remoteView), which install-guest
 * treats as a remote host: the media are uploaded into a pool, the console is a volume of that pool
 * read through the connection (not a file of this machine), the host's facts are unknown. A failing tiny install
 * (the installer's traceback) exits 1 soon after the fatal line with nothing defined and no volume
 * left in the pool named by `--disk pool=`; a pool that does not exist is refused before anything
 * is created. (The whole install with a device on a remote host with an IOMMU is
 * test/e2e/nested/libvirt-remote-l1.test.ts.)
 */
import { expect } from 'chai';
import { execa } from 'execa';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BUILT_CLI, requireBuiltCli } from '../../helpers/cli.js';
import {
  domainExists,
  ensureLibvirtd,
  remoteView,
  removeDomain,
  virsh,
  volumeNames,
} from '../../helpers/libvirtd.js';
import { type Bed, ensureBed } from '../bed/index.js';

const POOL = 'ig-remote-test';

describe('install --connect qemu+tcp://127.0.0.1:PORT (this libvirtd seen as a remote host)', function () {
  this.timeout(300_000);
  let bed: Bed;
  let tmp: string;
  let remote: Awaited<ReturnType<typeof remoteView>>;
  const names = ['lvr-fail', 'lvr-nopool'];

  before(async function () {
    this.timeout(15 * 60_000);
    requireBuiltCli();
    await ensureLibvirtd();
    bed = await ensureBed();
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'ig-lvremote-'));
    for (const n of names) await removeDomain(n);
    // a pool of the test's own, in its temp dir
    await virsh('pool-destroy', POOL).catch(() => undefined);
    await virsh('pool-undefine', POOL).catch(() => undefined);
    await fs.mkdir(path.join(tmp, 'pool'));
    await virsh('pool-define-as', POOL, 'dir', '--target', path.join(tmp, 'pool'));
    await virsh('pool-start', POOL);
    remote = await remoteView();
  });
  after(async () => {
    await remote?.close();
    for (const n of names) await removeDomain(n);
    await virsh('pool-destroy', POOL).catch(() => undefined);
    await virsh('pool-undefine', POOL).catch(() => undefined);
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  });

  const args = (name: string, extra: string[]): string[] => [
    BUILT_CLI,
    'install',
    '--connect',
    remote.uri,
    '--boot',
    `kernel=${bed.media.treeKernel},initrd=${bed.media.treeInitrd}`,
    '--os-variant',
    'fedora',
    '--name',
    name,
    '--accel',
    'tcg',
    '--memory',
    '512',
    '--network',
    'user,model=e1000e',
    '--log-dir',
    path.join(tmp, `${name}-logs`),
    '--json',
    ...extra,
  ];
  const lastJson = (stdout: string): Record<string, unknown> =>
    JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, unknown>;

  it('a pool that does not exist: exit 2 POOL_NOT_FOUND, nothing defined, no volume created', async () => {
    const r = await execa('node', args('lvr-nopool', ['--disk', 'pool=ig-no-such-pool,size=1']), {
      cwd: tmp,
      reject: false,
    });
    expect(r.exitCode, r.stderr + r.stdout.slice(-2000)).to.equal(2);
    const err = lastJson(r.stdout).error as { code: string; message: string };
    expect(err.code).to.equal('POOL_NOT_FOUND');
    expect(err.message).to.include("'ig-no-such-pool'");
    expect(await domainExists('lvr-nopool')).to.equal(false);
    expect((await volumeNames('default')).filter((v) => v.startsWith('lvr-nopool'))).to.deep.equal([]);
  });

  it('a local tree cannot be served to a remote host: exit 2 MEDIA_TREE_NOT_REACHABLE (a dry run says so too)', async () => {
    const r = await execa(
      'node',
      [BUILT_CLI, 'install', '--connect', remote.uri, '--location', bed.media.treeDir, '--name', 'lvr-tree'],
      { cwd: tmp, reject: false },
    );
    expect(r.exitCode, r.stderr).to.equal(2);
    expect(r.stderr).to.match(/MEDIA_TREE_NOT_REACHABLE|remote libvirt host cannot reach the local tree/);
    const d = await execa(
      'node',
      [BUILT_CLI, 'install', '--connect', remote.uri, '--location', bed.media.treeDir, '--dry-run', '--json'],
      { cwd: tmp, reject: false },
    );
    expect(d.exitCode, d.stderr).to.equal(2);
    expect((lastJson(d.stdout).error as { code: string }).code).to.equal('MEDIA_TREE_NOT_REACHABLE');
    expect(await domainExists('lvr-tree')).to.equal(false);
  });

  it('ig.fail=traceback: the console read through the connection carries the fatal line; exit 1 soon after it; nothing defined, no volume left', async () => {
    const serialLog = path.join(tmp, 'lvr-fail-logs', 'serial-install.log');
    const child = execa(
      'node',
      args('lvr-fail', ['--disk', `pool=${POOL},size=1`, '--extra-args', 'ig.fail=traceback']),
      { cwd: tmp, reject: false },
    );
    // the volumes exist while the install runs (disk in POOL, media in the main pool: POOL too)
    let seenVolumes: string[] = [];
    let seenAt: number | undefined;
    const watch = setInterval(() => {
      if (seenAt !== undefined) return;
      fs.readFile(serialLog, 'latin1')
        .then((t) => {
          if (seenAt === undefined && t.includes('PayloadInstallationError')) seenAt = performance.now();
        })
        .catch(() => undefined);
    }, 10);
    const volWatch = setInterval(() => {
      void volumeNames(POOL).then(
        (v) => {
          if (v.length > seenVolumes.length) seenVolumes = v;
        },
        () => undefined,
      );
    }, 2000);
    const r = await child;
    const exitedAt = performance.now();
    clearInterval(watch);
    clearInterval(volWatch);
    expect(r.exitCode, r.stderr + r.stdout.slice(-2000)).to.equal(1);
    const err = (lastJson(r.stdout).error ?? {}) as {
      code: string;
      data: { fatalLine: string; stopLatencyMs: number };
    };
    expect(err.code).to.equal('INSTALL_FAILED');
    expect(err.data.fatalLine).to.match(/PayloadInstallationError: Failed to install package tiny-base/);
    expect(seenVolumes).to.include.members([
      'lvr-fail.qcow2',
      'lvr-fail-install-kernel',
      'lvr-fail-install-console.log',
    ]);
    // the copy in the log dir starts with the kernel's first line: nothing lost
    const log = await fs.readFile(serialLog, 'latin1');
    expect(log.slice(0, 200)).to.match(/Linux version/);
    // the domain's console was a file in the host's pool, not one of this machine's log dir
    const xml = await fs.readFile(path.join(tmp, 'lvr-fail-logs', 'install.xml'), 'utf8');
    expect(xml).to.include(`<source path='${path.join(tmp, 'pool', 'lvr-fail-install-console.log')}'`);
    expect(xml).to.not.include(serialLog);
    expect(seenAt, 'the fatal line was never seen in the console log').to.not.equal(undefined);
    const afterLine = Math.round(exitedAt - seenAt!);
    console.log(
      `      traceback over the connection: exit ${afterLine} ms after the line (stop latency ${err.data.stopLatencyMs} ms)`,
    );
    // as the local libvirt test bounds it: `virsh destroy` alone takes 0.2–2 s on a loaded 2-core machine
    expect(err.data.stopLatencyMs).to.be.lessThan(4000);
    expect(afterLine).to.be.lessThan(6000);
    expect(await domainExists('lvr-fail')).to.equal(false);
    expect(await volumeNames(POOL)).to.deep.equal([]);
  });
});
