/**
 * How fast a fatal console line stops qemu. Boots the Debian netboot kernel with no initrd and
 * `panic=0` (the guest hangs after a real "Kernel panic - not syncing: VFS: Unable to mount root fs"
 * instead of rebooting, so it is our stop that ends qemu) N times, and measures, per run:
 *   - fatal→gone: from the watcher's fatal event to the qemu process having exited;
 *   - the stop steps it took (QMP quit is expected to be enough);
 *   - boot→fatal: from launch to the fatal line (TCG boot time, for context).
 * Prints each run and the medians. Not a test: run with `npx tsx test/bench/failure-detection.ts [runs]`.
 */
import { superviseInstall } from '../../src/qemu/completion.js';
import { launchQemu } from '../../src/qemu/process.js';
import { rulesFor, watch } from '../../src/qemu/watch.js';
import { InstallGuestError } from '../../src/errors.js';
import { QEMU, kernelArgs, makeWorkDir, removeDir, workPaths } from '../integration/qemu-helpers.js';

const runs = Number(process.argv[2] ?? 5);
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

const gone: number[] = [];
const boot: number[] = [];
for (let i = 0; i < runs; i++) {
  const dir = await makeWorkDir('ig-bench-');
  const paths = workPaths(dir);
  try {
    const t0 = performance.now();
    const h = await launchQemu({
      binary: QEMU,
      argv: kernelArgs(paths, { append: 'console=ttyS0 panic=0' }),
      workDir: dir,
      ...paths,
      timeoutMs: 60_000,
      maxLifetimeMs: 180_000,
    });
    let tExit = 0;
    void h.exited.then(() => (tExit = performance.now()));
    const watcher = watch(h.serial.stream, { rules: rulesFor('generic-linux') });
    let tFatal = 0;
    watcher.on((e) => {
      if (e.type === 'fatal' && tFatal === 0) tFatal = performance.now();
    });
    try {
      await superviseInstall({ handle: h, watcher, stallTimeoutMs: 170_000, deadlineMs: 175_000 });
      console.log(`run ${i + 1}: no failure detected (unexpected)`);
    } catch (e) {
      await h.exited;
      const code = e instanceof InstallGuestError ? e.code : String(e);
      const steps = e instanceof InstallGuestError ? JSON.stringify(e.data?.stopSteps) : '';
      gone.push(tExit - tFatal);
      boot.push(tFatal - t0);
      console.log(
        `run ${i + 1}: ${code} fatal→gone ${(tExit - tFatal).toFixed(1)} ms, steps ${steps}, boot→fatal ${((tFatal - t0) / 1000).toFixed(1)} s`,
      );
    }
  } finally {
    await removeDir(dir);
  }
}
if (gone.length > 0) {
  console.log(
    `median of ${gone.length}: fatal→gone ${median(gone).toFixed(1)} ms (min ${Math.min(...gone).toFixed(1)}, max ${Math.max(...gone).toFixed(1)}); boot→fatal ${(median(boot) / 1000).toFixed(1)} s`,
  );
}
