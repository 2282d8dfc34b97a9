/**
 * Provisioning a real OS from a cached base vs building and importing that base from scratch, on
 * the test bed's Debian 12 cloud image under TCG (systemd, udev, cloud-init):
 *   - from scratch: the image build (mmdebstrap … qcow2; the time recorded when the cached image
 *     was built, or measured now with DEBIAN_BENCH_REBUILD=1 into a scratch cache) plus
 *     `install --import --cloud-init` of a copy of it (first boot, cloud-init, confirm);
 *   - second provision: `provision --base DISK --cloud-init` of that imported disk (a qcow2 overlay,
 *     a fresh instance-id, first boot, cloud-init, confirm).
 * Run alone: `npx tsx test/bench/debian-cloud.ts [runs]`; in `npm run bench -- debian-cloud`.
 */
import { execa } from 'execa';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ensureDebianImage } from '../e2e/bed/debian.js';
import { type Figure, figure, formatTable, machine, ratio } from './lib.js';
import { timedCli } from './provision.js';

const GUEST = ['--accel', 'tcg', '--memory', '1024', '--network', 'user,model=e1000e', '--wait', '40'];

export async function benchDebianCloud(
  opts: { runs?: number; log?: (l: string) => void } = {},
): Promise<Figure[]> {
  const runs = opts.runs ?? 1;
  const log = opts.log ?? (() => undefined);
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'ig-bench-debian-'));
  try {
    let buildS: number;
    if (process.env.DEBIAN_BENCH_REBUILD === '1') {
      const t0 = performance.now();
      await ensureDebianImage({ dir: path.join(tmp, 'bed'), log });
      buildS = (performance.now() - t0) / 1000;
    } else buildS = (await ensureDebianImage({ log })).buildSeconds;
    const image = await ensureDebianImage({ log });
    const key = path.join(tmp, 'key');
    await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
    const scratch: number[] = [];
    const importS: number[] = [];
    const provS: number[] = [];
    for (let i = 0; i < runs; i++) {
      const disk = path.join(tmp, `base${i}.qcow2`);
      await copyFile(image.disk, disk);
      const imp = await timedCli(
        [
          'install',
          '--import',
          '--disk',
          `path=${disk}`,
          '--name',
          `b${i}`,
          ...GUEST,
          '--cloud-init',
          `root-ssh-key=${key}.pub`,
          '--log-dir',
          path.join(tmp, `b${i}-logs`),
          '--json',
        ],
        tmp,
      );
      importS.push(imp.ms / 1000);
      scratch.push(buildS + imp.ms / 1000);
      log(`run ${i + 1}: build ${buildS.toFixed(0)} s + import ${(imp.ms / 1000).toFixed(1)} s`);
      const prov = await timedCli(
        [
          'provision',
          '--base',
          disk,
          '--name',
          `p${i}`,
          '--out',
          path.join(tmp, `p${i}.qcow2`),
          ...GUEST,
          '--cloud-init',
          `root-ssh-key=${key}.pub`,
          '--log-dir',
          path.join(tmp, `p${i}-logs`),
          '--json',
        ],
        tmp,
      );
      provS.push(prov.ms / 1000);
      log(`run ${i + 1}: second provision ${(prov.ms / 1000).toFixed(1)} s`);
    }
    return [
      figure('Debian image build (mmdebstrap → qcow2)', 's', [buildS]),
      figure('install --import --cloud-init (first boot)', 's', importS),
      figure('build + import from scratch', 's', scratch),
      figure('second provision --cloud-init (overlay)', 's', provS),
      ratio('second provision / build + import', provS, scratch, 0.05, '< 5 %'),
    ];
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const runs = Number(process.argv[2] ?? '1');
  const figures = await benchDebianCloud({ runs, log: (l) => process.stderr.write(`${l}\n`) });
  process.stdout.write(`${machine()}\n${formatTable(figures)}\n`);
}
