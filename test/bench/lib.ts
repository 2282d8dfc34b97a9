/**
 * Benchmark helpers: every figure is the median of several runs with min and max, and every
 * comparison is a ratio measured in the same run on the same machine.
 */
import { execa } from 'execa';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** What every suite is given. */
export interface BenchOptions {
  /** runs per figure when given (`--runs N`); otherwise each suite's own default */
  runs?: number;
  /** smoke mode (`--quick`): fewest runs and smallest inputs, to check the suites still work */
  quick: boolean;
  /** progress lines (stderr) */
  log: (line: string) => void;
}

/** `runs` when given, else the quick or the full default. */
export function runsFor(opts: BenchOptions, full: number, quick = 1): number {
  return opts.runs ?? (opts.quick ? quick : full);
}

export interface Figure {
  /** the suite that measured it (set by run.ts) */
  suite?: string;
  name: string;
  unit: 's' | 'ms' | 'bytes' | 'x';
  median: number;
  min: number;
  max: number;
  runs: number;
  /** the goal, as text (e.g. "≤ 0.5× virt-install") */
  goal?: string;
  /** whether the goal was met, when the figure is a ratio with a goal */
  met?: boolean;
  note?: string;
}

export function stats(samples: number[]): { median: number; min: number; max: number } {
  const s = [...samples].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  const median = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { median, min: s[0]!, max: s[s.length - 1]! };
}

/** Wall time of a command, in ms, over `runs` runs after one warm-up run. */
export async function timeCommand(
  file: string,
  args: string[],
  runs: number,
  env?: Record<string, string>,
): Promise<number[]> {
  const once = async (): Promise<number> => {
    const t0 = performance.now();
    const r = await execa(file, args, { reject: false, env, stdout: 'ignore', stderr: 'pipe' });
    const ms = performance.now() - t0;
    if (r.exitCode !== 0)
      throw new Error(`${file} ${args.join(' ')} exited ${r.exitCode}: ${String(r.stderr).slice(0, 400)}`);
    return ms;
  };
  await once();
  const out: number[] = [];
  for (let i = 0; i < runs; i++) out.push(await once());
  return out;
}

/** `/usr/bin/time` measures a child's CPU time (user + system) when installed (Debian package time). */
const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : null;

export interface ProcessTime {
  /** wall clock, ms */
  wall: number;
  /** user + system CPU time of the process and its children, ms; null without /usr/bin/time */
  cpu: number | null;
}

/**
 * Runs a program once (stdout discarded) and measures its wall-clock time and, through
 * /usr/bin/time, its CPU time, which other load on the machine disturbs less than wall time.
 * Throws when it exits non-zero.
 */
export async function timeProcess(
  file: string,
  args: readonly string[],
  env?: Record<string, string>,
): Promise<ProcessTime> {
  const dir = TIME ? mkdtempSync(path.join(os.tmpdir(), 'ig-bench-time-')) : null;
  const out = dir ? path.join(dir, 'time') : '';
  const [cmd, argv] = TIME ? [TIME, ['-f', '%U %S', '-o', out, file, ...args]] : [file, [...args]];
  try {
    let stderr = '';
    const t0 = performance.now();
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(cmd, argv, {
        env: { ...process.env, ...env },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('close', (c) => resolve(c));
    });
    const wall = performance.now() - t0;
    if (code !== 0) throw new Error(`${file} ${args.join(' ')} exited ${code}: ${stderr.slice(0, 400)}`);
    const cpu = TIME
      ? readFileSync(out, 'utf8')
          .trim()
          .split(/\s+/)
          .reduce((a, x) => a + Number(x) * 1000, 0)
      : null;
    return { wall, cpu };
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

export function figure(
  name: string,
  unit: Figure['unit'],
  samples: number[],
  extra: Partial<Figure> = {},
): Figure {
  return { name, unit, runs: samples.length, ...stats(samples), ...extra };
}

/** A ratio figure from paired samples (a[i] / b[i]), with its goal. */
export function ratio(name: string, a: number[], b: number[], goalMax: number, goal: string): Figure {
  const r = a.map((x, i) => x / b[i]!);
  const f = figure(name, 'x', r, { goal });
  return { ...f, met: f.median <= goalMax };
}

export function machine(): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  return `${os.cpus().length} × ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}`;
}

/** The 1, 5 and 15 minute load averages, to judge how noisy a run was. */
export function loadAverage(): string {
  return os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
}

export function formatTable(figures: Figure[]): string {
  const fmt = (f: Figure, v: number): string =>
    f.unit === 'x'
      ? `${v.toFixed(v < 0.1 ? 3 : 2)}×`
      : f.unit === 'bytes'
        ? `${Math.round(v)} B`
        : f.unit === 's'
          ? `${v.toFixed(2)} s`
          : `${v.toFixed(0)} ms`;
  const rows = figures.map((f) => [
    f.name,
    fmt(f, f.median),
    `${fmt(f, f.min)} – ${fmt(f, f.max)}`,
    String(f.runs),
    f.goal ? `${f.goal}${f.met === undefined ? '' : f.met ? ' ✓' : ' ✗'}` : '',
  ]);
  const head = ['figure', 'median', 'min – max', 'runs', 'goal'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]): string => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}
