/**
 * CI provisioning from a cached base vs a full install, on the test bed's tiny installer under TCG:
 *   1. a full `install` of the tiny guest from the bed's install tree (install boot + confirm boot);
 *   2. its disk published into a base cache under the key of its inputs (media checksum, kickstart,
 *      templates, tool version, request), as a CI job that installed a base would;
 *   3. `provision --base KEY` twice: a qcow2 overlay backed by the base, booted and confirmed.
 * Figures: the three wall times, the overlay creation alone, and second provision / full install
 * (goal < 5 %). The tiny installer's install boot is about as short as a boot of the installed disk,
 * so on the bed the ratio is bounded by the provision's own boot; a real installer (minutes of
 * package installs) is where the goal applies.
 * Run alone: `npx tsx test/bench/provision.ts [runs]` (default 1 run: each install takes a while).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  basePaths,
  baseKey,
  baseRequestSubset,
  createOverlay,
  publishBase,
  templatesHash,
} from '../../src/batch/provision.js';
import { createHost } from '../../src/host/host.js';
import { VERSION, main } from '../../src/cli/main.js';
import { templatesDir } from '../../src/paths.js';
import { parseInstallRequest } from '../../src/request/request.js';
import { ensureBed } from '../e2e/bed/index.js';
import { type Figure, figure, formatTable, machine, ratio } from './lib.js';

/** A CLI run in-process (main() with its output captured), timed. */
export interface TimedRun {
  code: number;
  ms: number;
  stdout: string;
  stderr: string;
}

/** Runs `install-guest ARGV` in `cwd`; throws with the tail of its output when it does not exit 0. */
export async function timedCli(argv: string[], cwd: string): Promise<TimedRun> {
  let stdout = '';
  let stderr = '';
  const t0 = performance.now();
  const code = await main({
    argv,
    env: Object.fromEntries(
      Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined),
    ),
    stdout: { write: (s: string) => void (stdout += s) },
    stderr: { write: (s: string) => void (stderr += s) },
    cwd,
  });
  const ms = performance.now() - t0;
  if (code !== 0)
    throw new Error(`install-guest ${argv.join(' ')} exited ${code}:\n${(stderr + stdout).slice(-2000)}`);
  return { code, ms, stdout, stderr };
}

/** The options every tiny guest gets: TCG, 512 MiB, a 1 GiB disk, user networking. */
export const TINY_OPTIONS = ['--memory', '512', '--accel', 'tcg', '--network', 'user,model=e1000e'];

export interface ProvisionBenchOptions {
  /** how many times to measure the whole sequence (default 1) */
  runs?: number;
  /** progress lines (default: none) */
  log?: (line: string) => void;
}

async function sha256Files(files: readonly string[]): Promise<string> {
  const h = createHash('sha256');
  for (const f of files) for await (const chunk of createReadStream(f)) h.update(chunk as Buffer);
  return h.digest('hex');
}

export async function benchProvision(opts: ProvisionBenchOptions = {}): Promise<Figure[]> {
  const runs = opts.runs ?? 1;
  const log = opts.log ?? (() => undefined);
  const bed = await ensureBed();
  const install: number[] = [];
  const first: number[] = [];
  const second: number[] = [];
  const overlay: number[] = [];
  for (let i = 0; i < runs; i++) {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ig-bench-provision-'));
    try {
      const cache = path.join(dir, 'cache');
      const extraArgs = bed.fastKernelArgs.join(' ');
      const raw = {
        name: 'base',
        extraArgs,
        memory: '512',
        disk: ['size=1'],
        accel: 'tcg',
        location: bed.media.treeDir,
        network: 'user,model=e1000e',
      };
      const full = await timedCli(
        [
          'install',
          '--name',
          'base',
          '--disk',
          'size=1',
          '--location',
          bed.media.treeDir,
          '--extra-args',
          extraArgs,
          ...TINY_OPTIONS,
          '--log-dir',
          path.join(dir, 'base-logs'),
        ],
        dir,
      );
      install.push(full.ms);
      log(`run ${i + 1}: full install ${(full.ms / 1000).toFixed(1)} s`);
      const request = parseInstallRequest(raw, dir);
      const key = baseKey({
        mediaChecksum: await sha256Files([bed.media.treeKernel, bed.media.treeInitrd]),
        kickstartText: await readFile(path.join(dir, 'base-logs', 'ks.cfg.redacted'), 'utf8'),
        templatesHash: await templatesHash(templatesDir()),
        toolVersion: VERSION,
        request: baseRequestSubset(request),
      });
      await publishBase(cache, key, path.join(dir, 'base.qcow2'), {
        createdAt: new Date().toISOString(),
        toolVersion: VERSION,
        name: 'base',
        request: baseRequestSubset(request),
      });
      // the overlay alone (what provisioning adds before the boot): qemu-img create over the base
      for (let k = 0; k < 5; k++) {
        const t0 = performance.now();
        await createOverlay(
          createHost({ root: '/' }),
          basePaths(cache, key).disk,
          path.join(dir, `o${k}.qcow2`),
        );
        overlay.push(performance.now() - t0);
      }
      for (const [n, into] of [
        [1, first],
        [2, second],
      ] as const) {
        const p = await timedCli(
          [
            'provision',
            '--base',
            key,
            '--cache',
            cache,
            '--name',
            `job${n}`,
            ...TINY_OPTIONS,
            '--log-dir',
            path.join(dir, `job${n}-logs`),
          ],
          dir,
        );
        into.push(p.ms);
        log(`run ${i + 1}: provision ${n} ${(p.ms / 1000).toFixed(1)} s`);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  const s = (xs: number[]): number[] => xs.map((x) => x / 1000);
  return [
    figure('tiny full install (TCG)', 's', s(install)),
    figure('provision from cached base, first', 's', s(first)),
    figure('provision from cached base, second', 's', s(second)),
    figure('overlay creation (qemu-img create -b base)', 'ms', overlay),
    ratio('second provision / full install', second, install, 0.05, '< 0.05× a full install'),
  ];
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const runs = Number(process.argv[2] ?? 1);
  console.log(`provision benchmark on ${machine()}`);
  const figures = await benchProvision({ runs, log: (l) => console.log(l) });
  console.log(formatTable(figures));
}
