/**
 * Inventory: `install-guest hostdev list --json` (the built CLI) against
 * `lspci -nnk -A linux-sysfs -O sysfs.path=ROOT/sys/bus/pci` on generated host trees of 256, 1,024
 * and 4,096 PCI functions (test/helpers/sysfs-fixture generateProfile). Both read the same tree;
 * lspci reads less per function (no IOMMU groups, netdevs, disks, reset methods), which is what
 * the goal allows for: ≤ 2× lspci. Runs are interleaved (lspci, ours, lspci, ours …) and each
 * ratio is the median of the per-run ratios; wall time and CPU time (user + system, from
 * /usr/bin/time, which other load on the machine disturbs less) are both reported.
 */
import { rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { buildHostTreeSync, generateProfile, makeTempRoot } from '../helpers/sysfs-fixture.js';
import { type BenchOptions, figure, ratio, runsFor, timeProcess, type Figure } from './lib.js';
import { BUILT_CLI } from '../helpers/cli.js';

export async function benchInventory(opts: BenchOptions): Promise<Figure[]> {
  const runs = runsFor(opts, 7, 2);
  const sizes = opts.quick ? [256] : [256, 1024, 4096];
  const cli = BUILT_CLI;
  const out: Figure[] = [];
  for (const n of sizes) {
    const root = makeTempRoot(`bench${n}`);
    try {
      buildHostTreeSync(generateProfile(n), root);
      const env = { INSTALL_GUEST_HOST_ROOT: root };
      const lspci = ['lspci', ['-nnk', '-A', 'linux-sysfs', '-O', `sysfs.path=${root}/sys/bus/pci`]] as const;
      const ours = ['node', [cli, 'hostdev', 'list', '--json']] as const;
      // the inventory must be complete, or the comparison means nothing
      const check = spawnSync(ours[0], ours[1], { env: { ...process.env, ...env }, maxBuffer: 1 << 30 });
      const listed = (JSON.parse(String(check.stdout)) as { devices: unknown[] }).devices.length;
      if (listed !== n) throw new Error(`hostdev list saw ${listed} functions, expected ${n}`);
      await timeProcess(lspci[0], lspci[1]); // warm the page and dentry caches
      const wall: [number[], number[]] = [[], []];
      const cpu: [number[], number[]] = [[], []];
      for (let i = 0; i < runs; i++) {
        for (const [k, [file, args]] of [lspci, ours].entries()) {
          const t = await timeProcess(file, args, env);
          wall[k]!.push(t.wall);
          if (t.cpu !== null) cpu[k]!.push(t.cpu);
        }
      }
      const label = n.toLocaleString('en-US');
      out.push(
        figure(`lspci -nnk, ${label} functions`, 'ms', wall[0]),
        figure(`hostdev list --json, ${label} functions`, 'ms', wall[1]),
        ratio(`hostdev list vs lspci, ${label} (wall)`, wall[1], wall[0], 2, '≤ 2× lspci'),
      );
      if (cpu[0].length === runs && cpu[1].length === runs)
        out.push(ratio(`hostdev list vs lspci, ${label} (CPU time)`, cpu[1], cpu[0], 2, '≤ 2× lspci'));
      opts.log(`inventory: ${label} functions done`);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }
  return out;
}
