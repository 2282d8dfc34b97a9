/**
 * A batch of three tiny guests (the test bed's install tree, TCG) at concurrency 1 and at
 * concurrency 2: the wall time of each `install-guest batch` run and their ratio (on 2 cores,
 * two TCG guests at once should take well under the serial time).
 * Run alone: `npx tsx test/bench/batch.ts [runs]` (default 1 run of each).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ensureBed } from '../e2e/bed/index.js';
import { type Figure, figure, formatTable, machine, ratio } from './lib.js';
import { timedCli } from './provision.js';

export interface BatchBenchOptions {
  /** how many times to measure each concurrency (default 1) */
  runs?: number;
  /** guests in the batch (default 3) */
  guests?: number;
  log?: (line: string) => void;
}

export async function benchBatch(opts: BatchBenchOptions = {}): Promise<Figure[]> {
  const runs = opts.runs ?? 1;
  const n = opts.guests ?? 3;
  const log = opts.log ?? (() => undefined);
  const bed = await ensureBed();
  const times: Record<1 | 2, number[]> = { 1: [], 2: [] };
  for (let i = 0; i < runs; i++) {
    for (const concurrency of [1, 2] as const) {
      const dir = await mkdtemp(path.join(os.tmpdir(), 'ig-bench-batch-'));
      try {
        await writeFile(
          path.join(dir, 'tiny.yaml'),
          [
            'name: tiny',
            'defaults:',
            `  location: ${bed.media.treeDir}`,
            '  memory: 512',
            '  disk: size=1',
            '  accel: tcg',
            '  network: user,model=e1000e',
            `  extra-args: ${bed.fastKernelArgs.join(' ')}`,
            'guests:',
            ...Array.from({ length: n }, (_, k) => `  - name: t${k + 1}`),
            '',
          ].join('\n'),
        );
        const r = await timedCli(['batch', 'tiny.yaml', '--concurrency', String(concurrency)], dir);
        times[concurrency].push(r.ms);
        log(`run ${i + 1}: ${n} guests at concurrency ${concurrency}: ${(r.ms / 1000).toFixed(1)} s`);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }
  }
  const s = (xs: number[]): number[] => xs.map((x) => x / 1000);
  return [
    figure(`batch of ${n} tiny guests, concurrency 1`, 's', s(times[1])),
    figure(`batch of ${n} tiny guests, concurrency 2`, 's', s(times[2])),
    ratio('concurrency 2 / concurrency 1', times[2], times[1], 0.8, '≤ 0.8× (2 cores)'),
  ];
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const runs = Number(process.argv[2] ?? 1);
  console.log(`batch benchmark on ${machine()}`);
  const figures = await benchBatch({ runs, log: (l) => console.log(l) });
  console.log(formatTable(figures));
}
