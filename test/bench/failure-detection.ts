/**
 * Failure detection: time from a fatal console line to the tool's exit. Runs the built CLI
 * (`install-guest install … --extra-args ig.fail=traceback --json`) on the test bed's tiny
 * installer under TCG; the installer prints an anaconda traceback for a package it cannot install
 * and would then sit there. While the tool runs, this process samples the size of the tool's serial
 * log (serial-install.log, written as the console bytes arrive) every few ms; after the exit it
 * finds the fatal line the tool reported (error.data.fatalLine) in that log and takes the last
 * sample before the line was complete as the moment it arrived (conservative: the figure may be
 * up to one sampling interval longer than the truth, never shorter). The figure ends when the CLI
 * process has exited: qemu stopped, the disk the run created removed, the work dir cleaned up.
 * Goal ≤ 1 s. The tool's own measure (fatal line → qemu gone, error.data.stopLatencyMs) is shown
 * beside it.
 */
import { spawn } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ensureBed } from '../e2e/bed/index.js';
import { type BenchOptions, figure, runsFor, type Figure } from './lib.js';
import { BUILT_CLI } from '../helpers/cli.js';

const SAMPLE_MS = 5;

interface FailRun {
  /** fatal line in the serial log → CLI process exited */
  toExitMs: number;
  /** the tool's own fatal line → qemu gone */
  stopLatencyMs: number;
  /** CLI start → fatal line (TCG boot and installer time, for context) */
  bootMs: number;
}

async function failOnce(
  cli: string,
  bed: Awaited<ReturnType<typeof ensureBed>>,
  i: number,
): Promise<FailRun> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ig-bench-fail-'));
  const logDir = path.join(dir, 'logs');
  const serialLog = path.join(logDir, 'serial-install.log');
  try {
    const samples: [number, number][] = [];
    const t0 = performance.now();
    const child = spawn(
      'node',
      [
        cli,
        'install',
        '--name',
        `bench-fail-${i}`,
        '--memory',
        '512',
        '--disk',
        'size=1',
        '--boot',
        `kernel=${bed.media.treeKernel},initrd=${bed.media.treeInitrd}`,
        '--os-variant',
        'fedora',
        '--accel',
        'tcg',
        '--network',
        'user,model=e1000e',
        '--extra-args',
        'ig.fail=traceback',
        '--log-dir',
        logDir,
        '--json',
      ],
      { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.resume();
    const sampler = setInterval(() => {
      const size = statSync(serialLog, { throwIfNoEntry: false })?.size ?? 0;
      samples.push([performance.now(), size]);
    }, SAMPLE_MS);
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    const tExit = performance.now();
    clearInterval(sampler);
    const lines = stdout.trim().split('\n');
    const err = (JSON.parse(lines[lines.length - 1] ?? '{}') as { error?: Record<string, unknown> }).error;
    const data = (err?.data ?? {}) as { fatalLine?: string; stopLatencyMs?: number };
    if (code !== 1 || err?.code !== 'INSTALL_FAILED' || !data.fatalLine)
      throw new Error(`expected INSTALL_FAILED (exit 1), got exit ${code}: ${stdout.slice(-600)}`);
    const log = readFileSync(serialLog);
    const at = log.indexOf(Buffer.from(data.fatalLine));
    if (at < 0) throw new Error(`the reported fatal line is not in ${serialLog}: ${data.fatalLine}`);
    const end = at + Buffer.byteLength(data.fatalLine);
    const seen = samples.findIndex(([, size]) => size >= end);
    if (seen < 0) throw new Error('the fatal line was never seen while sampling the serial log');
    const arrived = seen > 0 ? samples[seen - 1]![0] : t0;
    return { toExitMs: tExit - arrived, stopLatencyMs: data.stopLatencyMs ?? NaN, bootMs: arrived - t0 };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function benchFailureDetection(opts: BenchOptions): Promise<Figure[]> {
  const runs = runsFor(opts, 3, 1);
  const bed = await ensureBed({ log: opts.log });
  const cli = BUILT_CLI;
  const got: FailRun[] = [];
  for (let i = 0; i < runs; i++) {
    got.push(await failOnce(cli, bed, i));
    opts.log(`failure detection: run ${i + 1}/${runs}: ${got[i]!.toExitMs.toFixed(0)} ms`);
  }
  const toExit = figure(
    'fatal console line → tool exit',
    'ms',
    got.map((r) => r.toExitMs),
    { goal: '≤ 1 s' },
  );
  return [
    { ...toExit, met: toExit.median <= 1000 },
    figure(
      'fatal console line → qemu gone (tool’s own measure)',
      'ms',
      got.map((r) => r.stopLatencyMs),
    ),
    figure(
      'tool start → fatal line (TCG boot, context)',
      's',
      got.map((r) => r.bootMs / 1000),
    ),
  ];
}
