/**
 * CLI start-up: `install-guest --help` and `install --dry-run --print-cmdline` against
 * `virt-install --connect test:///default … --print-xml` on equivalent input. Goal ≤ 0.5× virt-install.
 */
import path from 'node:path';
import { figure, ratio, timeCommand, type Figure } from './lib.js';

export async function benchCliStart(runs = 7): Promise<Figure[]> {
  const cli = path.resolve('dist/src/bin/install-guest.js');
  const kernel = path.resolve('fixtures/cases/_media/vmlinuz');
  const initrd = path.resolve('fixtures/cases/_media/initrd.img');
  const env = { INSTALL_GUEST_HOST_ROOT: path.resolve('fixtures/cases/_empty-host') };
  const help = await timeCommand('node', [cli, '--help'], runs, env);
  const ours = await timeCommand(
    'node',
    [
      cli,
      'install',
      '--dry-run',
      '--print-cmdline',
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
    ],
    runs,
    env,
  );
  const theirs = await timeCommand(
    'virt-install',
    [
      '--connect',
      'test:///default',
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
      '--graphics',
      'none',
      '--osinfo',
      'detect=off,require=off',
      '--print-xml',
    ],
    runs,
  );
  return [
    figure('install-guest --help', 'ms', help),
    figure('install-guest install --dry-run --print-cmdline', 'ms', ours),
    figure('virt-install --print-xml (test:///default)', 'ms', theirs),
    ratio('dry run vs virt-install', ours, theirs, 0.5, '≤ 0.5× virt-install'),
  ];
}
