/**
 * The built CLI (dist/, as users run it): tsx accepts imports that plain node rejects, so these
 * tests run `node dist/bin/install-guest.mjs` after `npm run build` (the test command builds first).
 */
import { expect } from 'chai';
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { requireBuiltCli } from '../helpers/cli.js';

const KERNEL = path.resolve('fixtures/cases/_media/vmlinuz');
const run = (args: string[]) =>
  execa('node', [requireBuiltCli(), ...args], {
    reject: false,
    env: { INSTALL_GUEST_HOST_ROOT: path.resolve('fixtures/cases/_empty-host') },
  });

describe('built CLI', function () {
  it('answers --help and install --help with every option grammar and an example', async () => {
    const top = await run(['--help']);
    expect(top.exitCode).to.equal(0);
    expect(top.stdout).to.include('install');
    const help = await run(['install', '--help']);
    expect(help.exitCode).to.equal(0);
    for (const o of [
      '--hostdev',
      '--disk',
      '--boot',
      '--network',
      '--accel',
      '--on-error',
      '--print-cmdline',
    ])
      expect(help.stdout).to.include(o);
    expect(help.stdout).to.include('path=,size=(GiB)');
    expect(help.stdout).to.include('Examples:');
    // wrapped to the terminal width (110 columns without a terminal), also with -h
    expect(Math.max(...help.stdout.split('\n').map((l) => l.length))).to.be.within(60, 110);
    const short = await run(['install', '-h']);
    expect(short.stdout).to.equal(help.stdout);
  });

  it('is what package.json installs as the install-guest command, and runs by its shebang', async () => {
    const pkg = JSON.parse(await readFile('package.json', 'utf8')) as { bin: Record<string, string> };
    expect(path.resolve(pkg.bin['install-guest']!)).to.equal(requireBuiltCli());
    const r = await execa(requireBuiltCli(), ['--version'], { reject: false });
    expect(r.exitCode).to.equal(0);
    expect(r.stdout).to.match(/^\d+\.\d+\.\d+$/);
  });

  it('refuses a repeated single-value option in every command, not only install (exit 2, one line)', async () => {
    for (const args of [
      ['kickstart', 'render', 'fedora', '--out', 'a.ks', '--out', 'b.ks'],
      ['--host-root', '/a', '--host-root', '/b', 'hostdev', 'list'],
    ]) {
      const r = await run(args);
      const opt = args.includes('--out') ? '--out' : '--host-root';
      expect(r.exitCode).to.equal(2);
      expect(r.stderr.trim()).to.match(
        new RegExp(`^install-guest: ${opt} was given 2 times .*\\[REPEATED_OPTION\\]$`),
      );
      expect(r.stdout).to.equal('');
    }
    const { repeatedSingleValue } = await import('../../src/cli/main.js');
    const declared = { string: ['network', 'disk'], number: ['wait'], array: ['disk'] };
    expect(repeatedSingleValue({ network: ['user', 'none'] }, declared)).to.deep.equal([
      'network',
      ['user', 'none'],
    ]);
    expect(repeatedSingleValue({ wait: [1, 2] }, declared)).to.deep.equal(['wait', [1, 2]]);
    expect(repeatedSingleValue({ disk: ['size=1', 'size=2'], network: 'user' }, declared)).to.equal(
      undefined,
    );
  });

  it('wraps help only when it is asked for: after `--`, --help is not an option', async () => {
    const { wantsHelp } = await import('../../src/cli/main.js');
    expect(wantsHelp(['install', '--help'])).to.equal(true);
    expect(wantsHelp(['-h'])).to.equal(true);
    expect(wantsHelp(['install', '--name', 'x'])).to.equal(false);
    expect(wantsHelp(['install', '--', '--help'])).to.equal(false);
  });

  it('prints the vfio-pci device and the escaped name in a dry run, and changes nothing', async () => {
    const r = await run([
      'install',
      '--dry-run',
      '--print-cmdline',
      '--hostdev',
      '0000:03:00.0',
      '--name',
      'web,1',
      '--disk',
      'size=4',
      '--boot',
      `kernel=${KERNEL}`,
    ]);
    expect(r.exitCode, r.stderr).to.equal(0);
    const argv = r.stdout.split('\n');
    expect(argv).to.include('vfio-pci,host=0000:03:00.0,id=hostdev0,bus=hostdev0-port');
    expect(argv).to.include('guest=web,,1,debug-threads=on');
    expect(existsSync('web_1.qcow2'), 'a dry run creates no disk').to.equal(false);
  });

  for (const [args, value] of [
    [['--memory', '12x'], '12x'],
    [['--network', 'vde=sw0'], 'vde=sw0'],
    [['--hostdev', 'zz:zz'], 'zz:zz'],
  ] as const) {
    it(`exits 2 with one line naming '${value}'`, async () => {
      const r = await run(['install', '--dry-run', '--boot', `kernel=${KERNEL}`, ...args]);
      expect(r.exitCode).to.equal(2);
      const lines = r.stderr.split('\n').filter((l) => l.startsWith('install-guest:'));
      expect(lines).to.have.length(1);
      expect(lines[0]).to.include(value);
      expect(r.stderr).to.not.match(/\n\s+at /);
    });
  }

  it('prints an unknown option as a usage error (exit 2), and --json errors as an object', async () => {
    const r = await run(['install', '--no-such-option']);
    expect(r.exitCode).to.equal(2);
    expect(r.stderr).to.match(/unknown option --such-option: neither install-guest nor virt-install has it/);
    const v = await run(['install', '--video', 'qxl']);
    expect(v.exitCode).to.equal(2);
    expect(v.stderr).to.match(/--video is a virt-install option install-guest does not have/);
    const j = await run(['install', '--json', '--memory', 'lots', '--boot', `kernel=${KERNEL}`]);
    expect(j.exitCode).to.equal(2);
    expect(JSON.parse(j.stdout)).to.deep.include({
      error: {
        code: 'BAD_SIZE',
        message: "--memory 'lots' is not a size",
        hint: 'use a number of MiB (2048) or a unit: 512M, 2G',
        exitCode: 2,
      },
    });
  });
});
