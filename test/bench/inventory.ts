/**
 * Benchmark (not a test): `install-guest hostdev list --json` (the built CLI) against
 * `lspci -nnk -A linux-sysfs -O sysfs.path=ROOT/sys/bus/pci` on generated host trees of 256, 1,024
 * and 4,096 PCI functions. Prints the median, min and max of several interleaved runs and the
 * ratio of medians (target ≤ 2× lspci), for wall-clock time and for CPU time (user + system, from
 * /usr/bin/time), which other load on the machine disturbs less.
 *
 *   npx tsx test/bench/inventory.ts [--runs 7] [--sizes 256,1024,4096]
 *
 * Two CLI variants run: `cli` is the command as shipped (asynchronous Host reads); `cli+sync` is the
 * same command with the proposed synchronous Host reads attached (test/bench/inventory-sync-cli.ts).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildHostTreeSync, generateProfile, makeTempRoot } from '../helpers/sysfs-fixture.js';

const repo = path.resolve(import.meta.dirname, '../..');
const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : dflt;
};
const runs = Number(opt('runs', '7'));
const sizes = opt('sizes', '256,1024,4096').split(',').map(Number);

const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : null;
const scratch = mkdtempSync(path.join(os.tmpdir(), 'ig-bench-'));

/** wall-clock ms and, when /usr/bin/time exists, the process's user+system CPU ms */
function timeOnce(
  cmd: string,
  argv: string[],
  env: Record<string, string>,
): { wall: number; cpu: number | null } {
  const out = path.join(scratch, 'time');
  const [file, args] = TIME ? [TIME, ['-f', '%U %S', '-o', out, cmd, ...argv]] : [cmd, argv];
  const t = performance.now();
  const r = spawnSync(file, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  const wall = performance.now() - t;
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} exited ${r.status}: ${String(r.stderr)}`);
  const cpu = TIME
    ? readFileSync(out, 'utf8')
        .trim()
        .split(/\s+/)
        .reduce((a, x) => a + Number(x) * 1000, 0)
    : null;
  return { wall, cpu };
}

const stats = (xs: number[]): { median: number; min: number; max: number } => {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)]!, min: s[0]!, max: s[s.length - 1]! };
};
const fmt = (ms: number): string => `${ms.toFixed(0)} ms`;

const tsc = spawnSync('npx', ['tsc', '-p', '.'], { cwd: repo, stdio: 'inherit' });
if (tsc.status !== 0) throw new Error('tsc failed');
const cli = path.join(repo, 'dist/src/bin/install-guest.js');
const syncCli = path.join(repo, 'dist/test/bench/inventory-sync-cli.js');

console.log(
  `node ${process.version}; ${runs} interleaved runs per tool and size; times are wall clock per process`,
);
for (const n of sizes) {
  const root = makeTempRoot(`bench${n}`);
  try {
    buildHostTreeSync(generateProfile(n), root);
    const env = { INSTALL_GUEST_HOST_ROOT: root };
    const tools: [string, string, string[]][] = [
      ['lspci', 'lspci', ['-nnk', '-A', 'linux-sysfs', '-O', `sysfs.path=${root}/sys/bus/pci`]],
      ['cli', 'node', [cli, 'hostdev', 'list', '--json']],
      ['cli+sync', 'node', [syncCli, 'hostdev', 'list', '--json']],
    ];
    const check = spawnSync('node', [cli, 'hostdev', 'list', '--json'], {
      env: { ...process.env, ...env },
      maxBuffer: 1 << 30,
    });
    const listed = (JSON.parse(String(check.stdout)) as { devices: unknown[] }).devices.length;
    if (listed !== n) throw new Error(`hostdev list saw ${listed} functions, expected ${n}`);
    for (const [, cmd, argv] of tools) timeOnce(cmd, argv, env); // warm the caches
    const walls = new Map<string, number[]>(tools.map(([name]) => [name, []]));
    const cpus = new Map<string, number[]>(tools.map(([name]) => [name, []]));
    for (let i = 0; i < runs; i++) {
      for (const [name, cmd, argv] of tools) {
        const t = timeOnce(cmd, argv, env);
        walls.get(name)!.push(t.wall);
        if (t.cpu !== null) cpus.get(name)!.push(t.cpu);
      }
    }
    const base = stats(walls.get('lspci')!).median;
    const baseCpu = cpus.get('lspci')!.length ? stats(cpus.get('lspci')!).median : null;
    console.log(`\n${n} functions`);
    for (const [name] of tools) {
      const s = stats(walls.get(name)!);
      const c = cpus.get(name)!.length ? stats(cpus.get(name)!) : null;
      console.log(
        `  ${name.padEnd(9)} wall median ${fmt(s.median).padStart(8)}  min ${fmt(s.min).padStart(8)}  max ${fmt(s.max).padStart(8)}  ratio ${(s.median / base).toFixed(2)}×` +
          (c && baseCpu
            ? `   cpu median ${fmt(c.median).padStart(8)}  ratio ${(c.median / baseCpu).toFixed(2)}×`
            : ''),
      );
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
rmSync(scratch, { recursive: true, force: true });
console.log(
  `\nload average at the end: ${os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')} on ${os.cpus().length} CPUs`,
);
