/**
 * Pipeline overhead: the tiny install + confirm under TCG through `install-guest install` (the
 * command of `npm run demo`, with `--accel tcg` so it is TCG on a KVM host too) against the SAME
 * qemu commands run by a plain script (test/bench/plain-qemu.ts, which says exactly what it does:
 * same disk creation, same kickstart injection, same HTTP tree for anaconda, same two argvs, stop
 * after the confirmation block). Each run first runs the tool, then feeds the argv files and the
 * answer file from the tool's log dir to the plain script; the order alternates run by run so a
 * load change on the machine does not favour one side. Times are wall clock of the whole process
 * (node start included on both sides). Goal ≤ 1.10×.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ensureBed, type Bed } from '../e2e/bed/index.js';
import { type BenchOptions, figure, ratio, runsFor, type Figure } from './lib.js';
import { BUILT_CLI } from '../helpers/cli.js';

/** the disk the demo asks for: --disk size=1 (GiB), created by the tool as qcow2 of 1024M */
const DISK_SIZE = '1024M';

function runNode(args: string[], cwd: string): Promise<{ ms: number; code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn('node', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ ms: performance.now() - t0, code, out }));
  });
}

interface ToolRun {
  ms: number;
  logDir: string;
  installMs: number;
  confirmMs: number;
}

async function runTool(cli: string, bed: Bed, dir: string): Promise<ToolRun> {
  const logDir = path.join(dir, 'logs');
  // package.json "demo", plus --accel tcg
  const r = await runNode(
    [
      cli,
      'install',
      '--name',
      'demo-guest',
      '--memory',
      '512',
      '--disk',
      'size=1',
      '--location',
      bed.media.treeDir,
      '--hostdev',
      'auto',
      '--network',
      'user,model=e1000e',
      '--accel',
      'tcg',
      '--log-dir',
      logDir,
    ],
    dir,
  );
  if (r.code !== 0) throw new Error(`install-guest install exited ${r.code}: ${r.out.slice(-1500)}`);
  const timings = JSON.parse(await readFile(path.join(logDir, 'timings.json'), 'utf8')) as {
    installMs: number;
    confirmMs: number;
  };
  return { ms: r.ms, logDir, ...timings };
}

interface PlainRun {
  ms: number;
  installMs: number;
  confirmMs: number;
}

async function runPlain(bed: Bed, from: string, dir: string): Promise<PlainRun> {
  const ks = await readFile(path.join(from, 'ks.cfg.redacted'), 'utf8');
  // the plain script injects the redacted copy: fair only when nothing was redacted
  if (ks.includes('<redacted>'))
    throw new Error('the answer file had secrets redacted; the plain run would differ');
  const r = await runNode(
    [
      path.resolve('dist/test/bench/plain-qemu.js'),
      '--from',
      from,
      '--initrd',
      bed.media.treeInitrd,
      '--tree',
      bed.media.treeDir,
      '--disk',
      path.join(dir, 'plain.qcow2'),
      '--disk-size',
      DISK_SIZE,
      '--work',
      dir,
    ],
    dir,
  );
  if (r.code !== 0) throw new Error(`plain-qemu exited ${r.code}: ${r.out.slice(-1500)}`);
  const lines = r.out.trim().split('\n');
  const t = JSON.parse(lines[lines.length - 1]!) as { installMs: number; confirmMs: number };
  return { ms: r.ms, installMs: t.installMs, confirmMs: t.confirmMs };
}

export async function benchPipeline(opts: BenchOptions): Promise<Figure[]> {
  const runs = runsFor(opts, 3, 1);
  const bed = await ensureBed({ log: opts.log });
  const cli = BUILT_CLI;
  const tool: ToolRun[] = [];
  const plain: PlainRun[] = [];
  for (let i = 0; i < runs; i++) {
    const toolDir = await mkdtemp(path.join(os.tmpdir(), 'ig-bench-tool-'));
    const plainDir = await mkdtemp(path.join(os.tmpdir(), 'ig-bench-plain-'));
    try {
      // the plain script needs a tool run's argv files: on odd runs it replays the previous run's
      let t: ToolRun;
      let p: PlainRun;
      if (i % 2 === 1 && tool.length > 0) {
        p = await runPlain(bed, tool[tool.length - 1]!.logDir, plainDir);
        t = await runTool(cli, bed, toolDir);
      } else {
        t = await runTool(cli, bed, toolDir);
        p = await runPlain(bed, t.logDir, plainDir);
      }
      const prev = tool[tool.length - 1];
      if (prev) await rm(path.dirname(prev.logDir), { recursive: true, force: true });
      tool.push(t);
      plain.push(p);
      opts.log(
        `pipeline: run ${i + 1}/${runs}: tool ${(t.ms / 1000).toFixed(1)} s, plain ${(p.ms / 1000).toFixed(1)} s`,
      );
    } catch (e) {
      await rm(toolDir, { recursive: true, force: true });
      throw e;
    } finally {
      await rm(plainDir, { recursive: true, force: true });
    }
  }
  const last = tool[tool.length - 1];
  if (last) await rm(path.dirname(last.logDir), { recursive: true, force: true });
  const s = (xs: number[]): number[] => xs.map((x) => x / 1000);
  return [
    figure('tiny install + confirm, install-guest', 's', s(tool.map((t) => t.ms))),
    figure('tiny install + confirm, plain script', 's', s(plain.map((p) => p.ms))),
    ratio(
      'install-guest vs plain script',
      tool.map((t) => t.ms),
      plain.map((p) => p.ms),
      1.1,
      '≤ 1.10× plain',
    ),
    figure('install boot, install-guest', 's', s(tool.map((t) => t.installMs))),
    figure('install boot, plain script', 's', s(plain.map((p) => p.installMs))),
    figure('confirm boot, install-guest', 's', s(tool.map((t) => t.confirmMs))),
    figure('confirm boot, plain script', 's', s(plain.map((p) => p.confirmMs))),
  ];
}
