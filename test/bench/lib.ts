/**
 * Benchmark helpers: every figure is the median of several runs with min and max, and every
 * comparison is a ratio measured in the same run on the same machine.
 */
import { execa } from 'execa';
import os from 'node:os';

export interface Figure {
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

export function formatTable(figures: Figure[]): string {
  const fmt = (f: Figure, v: number): string =>
    f.unit === 'x'
      ? `${v.toFixed(2)}×`
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
