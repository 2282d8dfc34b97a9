/**
 * The same tiny install through the same libvirtd (qemu:///system, TCG) by virt-install 4.1 and by
 * `install-guest install --connect`, each as a process, each with the same kickstart injected the
 * virt-install way (`--location` the tiny tree, `--initrd-inject ks.cfg`, `--extra-args
 * "inst.ks=file:/ks.cfg console=ttyS0"`):
 *
 *   wall        from the start to the exit of each tool: virt-install `--noautoconsole --wait`
 *               returns when the install domain has stopped (it then starts the installed guest
 *               and does not wait for it); install-guest also boots the installed guest and
 *               confirms the NIC in it. Goal ≤ 1.0× virt-install.
 *   traceback   `ig.fail=traceback` (the installer's Python traceback, then it waits forever, as
 *               anaconda does): the time from the fatal line reaching the console file to each
 *               tool's exit. virt-install has no failure detection: it exits at its --wait limit.
 *
 * The console of each guest goes to a file (virt-install: `--serial file,path=`; install-guest:
 * its log dir), read every 10 ms for the fatal line. Everything a run leaves in libvirt (domains,
 * volumes) is removed after it. Run alone: `npx tsx test/bench/libvirt.ts [runs]`.
 */
import { execa } from 'execa';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ensureBed } from '../e2e/bed/index.js';
import { BUILT_CLI } from '../helpers/cli.js';
import { SYSTEM_URI, ensureLibvirtd, removeDomain } from '../helpers/libvirtd.js';
import { type Figure, figure, formatTable, machine, ratio } from './lib.js';

/** virt-install gives up on a hung install after this many minutes (its --wait) */
const VIRT_INSTALL_WAIT_MIN = 2;

const KICKSTART = `text
lang en_US.UTF-8
keyboard us
timezone UTC
rootpw --lock
ignoredisk --only-use=vda
clearpart --all --initlabel
autopart
bootloader --location=mbr
network --bootproto=dhcp
poweroff
%packages
@core
%end
`;

export interface LibvirtBenchOptions {
  runs?: number;
  log?: (line: string) => void;
}

interface Run {
  wallMs: number;
  code: number;
  /** ms from the fatal line in the console file to the exit (traceback runs) */
  afterLineMs?: number;
}

const FATAL = 'PayloadInstallationError';

/** Runs a tool, watching `consoleFile` for the fatal line; the exit code and timings. */
async function timed(file: string, args: string[], cwd: string, consoleFile: string): Promise<Run> {
  let seenAt: number | undefined;
  const watch = setInterval(() => {
    if (seenAt !== undefined) return;
    fs.readFile(consoleFile, 'latin1')
      .then((t) => {
        if (seenAt === undefined && t.includes(FATAL)) seenAt = performance.now();
      })
      .catch(() => undefined);
  }, 10);
  const t0 = performance.now();
  const r = await execa(file, args, { cwd, reject: false, stdin: 'ignore', all: true });
  const end = performance.now();
  clearInterval(watch);
  if (r.exitCode !== 0 && seenAt === undefined)
    throw new Error(`${path.basename(file)} exited ${r.exitCode}:\n${String(r.all).slice(-2000)}`);
  return {
    wallMs: end - t0,
    code: r.exitCode ?? -1,
    ...(seenAt !== undefined ? { afterLineMs: end - seenAt } : {}),
  };
}

async function removeVolumes(prefix: string): Promise<void> {
  const r = await execa('virsh', ['-q', '-c', SYSTEM_URI, 'vol-list', 'default'], { reject: false });
  for (const v of String(r.stdout)
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((v) => v.startsWith(prefix)))
    await execa('virsh', ['-q', '-c', SYSTEM_URI, 'vol-delete', '--pool', 'default', v], { reject: false });
}

export async function benchLibvirt(opts: LibvirtBenchOptions = {}): Promise<Figure[]> {
  const runs = opts.runs ?? 1;
  const log = opts.log ?? (() => undefined);
  await ensureLibvirtd();
  const bed = await ensureBed();
  const vi = await execa('virt-install', ['--version'], { reject: false });
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ig-bench-libvirt-'));
  await fs.writeFile(path.join(dir, 'ks.cfg'), KICKSTART);
  const common = (extra: string): string[] => [
    '--location',
    bed.media.treeDir,
    '--initrd-inject',
    path.join(dir, 'ks.cfg'),
    '--extra-args',
    `inst.ks=file:/ks.cfg console=ttyS0${extra}`,
    '--memory',
    '512',
    '--network',
    'user,model=e1000e',
  ];
  const virtInstall = (name: string, extra: string, serial: string): string[] => [
    '--connect',
    SYSTEM_URI,
    '--name',
    name,
    ...common(extra),
    '--disk',
    'size=1,bus=virtio',
    '--virt-type',
    'qemu',
    '--osinfo',
    'detect=on,require=off',
    '--graphics',
    'none',
    '--serial',
    `file,path=${serial}`,
    '--noautoconsole',
    '--wait',
    String(VIRT_INSTALL_WAIT_MIN),
  ];
  const installGuest = (name: string, extra: string): string[] => [
    BUILT_CLI,
    'install',
    '--connect',
    SYSTEM_URI,
    '--name',
    name,
    ...common(extra),
    '--disk',
    'size=1',
    '--accel',
    'tcg',
    '--os-variant',
    'fedora',
    '--log-dir',
    path.join(dir, `${name}-logs`),
  ];
  const names = ['igb-vi', 'igb-ig', 'igb-vi-fail', 'igb-ig-fail'];
  const clean = async (): Promise<void> => {
    for (const n of names) {
      await removeDomain(n);
      await removeVolumes(n);
    }
  };
  const wall = { vi: [] as number[], ig: [] as number[] };
  const after = { vi: [] as number[], ig: [] as number[] };
  try {
    await clean();
    for (let i = 0; i < runs; i++) {
      const a = await timed(
        'virt-install',
        virtInstall('igb-vi', '', path.join(dir, 'vi.log')),
        dir,
        '/dev/null',
      );
      wall.vi.push(a.wallMs);
      log(`run ${i + 1}: virt-install ${(a.wallMs / 1000).toFixed(1)} s`);
      await clean();
      const b = await timed('node', installGuest('igb-ig', ''), dir, '/dev/null');
      wall.ig.push(b.wallMs);
      log(`run ${i + 1}: install-guest install --connect ${(b.wallMs / 1000).toFixed(1)} s`);
      await clean();
      const viLog = path.join(dir, 'vi-fail.log');
      const c = await timed(
        'virt-install',
        virtInstall('igb-vi-fail', ' ig.fail=traceback', viLog),
        dir,
        viLog,
      );
      if (c.afterLineMs === undefined)
        throw new Error('virt-install traceback run: the fatal line never showed');
      after.vi.push(c.afterLineMs);
      log(
        `run ${i + 1}: traceback: virt-install exits ${(c.afterLineMs / 1000).toFixed(1)} s after the line (exit ${c.code})`,
      );
      await clean();
      const d = await timed(
        'node',
        installGuest('igb-ig-fail', ' ig.fail=traceback'),
        dir,
        path.join(dir, 'igb-ig-fail-logs', 'serial-install.log'),
      );
      if (d.afterLineMs === undefined || d.code !== 1)
        throw new Error(
          `install-guest traceback run: exit ${d.code}, fatal line seen: ${d.afterLineMs !== undefined}`,
        );
      after.ig.push(d.afterLineMs);
      log(
        `run ${i + 1}: traceback: install-guest exits ${(d.afterLineMs / 1000).toFixed(2)} s after the line`,
      );
      await clean();
    }
  } finally {
    await clean();
    await fs.rm(dir, { recursive: true, force: true });
  }
  const s = (xs: number[]): number[] => xs.map((x) => x / 1000);
  const version = String(vi.stdout).trim() || '?';
  return [
    figure(`virt-install ${version}: tiny install (--wait, no confirm boot)`, 's', s(wall.vi)),
    figure('install-guest install --connect: tiny install + confirm boot', 's', s(wall.ig)),
    ratio('install-guest / virt-install (wall)', wall.ig, wall.vi, 1.0, '≤ 1.0× virt-install'),
    figure('traceback: fatal line → virt-install exit', 's', s(after.vi), {
      note: `no failure detection: exits at its --wait ${VIRT_INSTALL_WAIT_MIN} min limit, the guest left running`,
    }),
    ((f: Figure): Figure => ({ ...f, met: f.median <= 1000 }))(
      figure('traceback: fatal line → install-guest exit', 'ms', after.ig, { goal: '≤ 1000 ms' }),
    ),
  ];
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const runs = Number(process.argv[2] ?? 1);
  console.log(`libvirt benchmark on ${machine()}`);
  const figures = await benchLibvirt({ runs, log: (l) => console.log(l) });
  console.log(formatTable(figures));
}
