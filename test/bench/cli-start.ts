/**
 * CLI start-up: `install-guest --help` and `install --dry-run --print-cmdline` against
 * `virt-install --connect test:///default … --print-xml` on equivalent input. Goal ≤ 0.5× virt-install.
 */
import path from 'node:path';
import { type BenchOptions, figure, ratio, runsFor, timeProcess, type Figure } from './lib.js';
import { BUILT_CLI } from '../helpers/cli.js';

export async function benchCliStart(opts: BenchOptions): Promise<Figure[]> {
  const runs = runsFor(opts, 11, 3);
  const cli = BUILT_CLI;
  const kernel = path.resolve('fixtures/cases/_media/vmlinuz');
  const initrd = path.resolve('fixtures/cases/_media/initrd.img');
  const env = { INSTALL_GUEST_HOST_ROOT: path.resolve('fixtures/cases/_empty-host') };
  // the same guest for both tools, in the option grammar they share
  const guest = [
    '--name',
    'bench',
    '--memory',
    '1024',
    '--disk',
    'size=4',
    '--boot',
    `kernel=${kernel},initrd=${initrd}`,
    '--network',
    'user',
  ];
  const tools: [string, string[], Record<string, string> | undefined][] = [
    ['node', [cli, '--help'], env],
    ['node', [cli, 'install', '--dry-run', '--print-cmdline', ...guest], env],
    [
      'virt-install',
      [
        '--connect',
        'test:///default',
        ...guest,
        '--graphics',
        'none',
        '--osinfo',
        'detect=off,require=off',
        '--print-xml',
      ],
      undefined,
    ],
    // the floor under any Node CLI, and under any yargs CLI, for reading the figures above
    ['node', ['-e', '0'], undefined],
    ['node', ['--input-type=module', '-e', "await import('yargs')"], undefined],
  ];
  // one warm-up each (page cache, Python's bytecode cache), then interleaved runs so that load
  // changes on the machine hit all three alike
  for (const [file, args, e] of tools) await timeProcess(file, args, e);
  const wall: number[][] = tools.map(() => []);
  const cpu: number[][] = tools.map(() => []);
  for (let i = 0; i < runs; i++) {
    for (const [k, [file, args, e]] of tools.entries()) {
      const t = await timeProcess(file, args, e);
      wall[k]!.push(t.wall);
      if (t.cpu !== null) cpu[k]!.push(t.cpu);
    }
  }
  const [help, ours, theirs] = wall as [number[], number[], number[]];
  const out = [
    figure('install-guest --help', 'ms', help),
    figure('install-guest install --dry-run --print-cmdline', 'ms', ours),
    figure('virt-install --print-xml (test:///default)', 'ms', theirs),
    figure('floor: node -e 0', 'ms', wall[3]!),
    figure('floor: node, import yargs', 'ms', wall[4]!),
    ratio('dry run vs virt-install (wall)', ours, theirs, 0.5, '≤ 0.5× virt-install'),
  ];
  if (cpu[1]!.length === runs && cpu[2]!.length === runs)
    out.push(ratio('dry run vs virt-install (CPU time)', cpu[1]!, cpu[2]!, 0.5, '≤ 0.5× virt-install'));
  return out;
}
