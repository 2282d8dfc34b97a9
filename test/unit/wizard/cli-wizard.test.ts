/**
 * `install --interactive` through main(), in-process: scripted prompts injected the documented way
 * (CliDeps.stdin / CliDeps.wizard), the real providers reading a fixture host tree (fixtures/hosts)
 * given by --host-root.
 */
import { expect } from 'chai';
import { execa } from 'execa';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { main } from '../../../src/cli/main.js';
import { ctrlC, DEFAULT, inp, num, ScriptedPrompts, sel, yes, type ScriptStep } from './fake-prompts.js';
import { buildHostTree, loadProfile, makeTempRoot } from '../../helpers/sysfs-fixture.js';
import { snapshotTree } from './tree-snapshot.js';

const ISO = path.resolve('fixtures/cases/_media/install.iso');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  prompts: ScriptedPrompts;
}

async function run(argv: string[], script: ScriptStep[], opts: { tty?: boolean; cwd: string }): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const tty = opts.tty ?? true;
  const prompts = new ScriptedPrompts(script);
  const code = await main({
    argv,
    env: {},
    stdout: { write: (s: string) => (stdout += s), isTTY: tty },
    stderr: { write: (s: string) => (stderr += s) },
    stdin: { isTTY: tty },
    cwd: opts.cwd,
    wizard: { prompts: prompts.prompts },
  });
  return { code, stdout, stderr, prompts };
}

/** Volatile values of a dry run (random per run): the UUID and the MAC. */
const stable = (s: string): string =>
  s
    .replace(/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/g, '<uuid>')
    .replace(/mac=[0-9a-f:]{17}/g, 'mac=<mac>');

/** The words a POSIX shell makes of a displayed line (what a user gets by pasting it). */
async function shWords(line: string): Promise<string[]> {
  const r = await execa('sh', ['-c', `printf '%s\\0' ${line}`]);
  return r.stdout.split('\0').slice(0, -1);
}

const toDevice: ScriptStep[] = [
  inp(/Guest name/, 'web1'),
  inp(/Memory/, DEFAULT),
  num(/vCPUs/, DEFAULT),
  num(/Disk size/, DEFAULT),
  sel(/Install media/, 'cdrom'),
  inp(/ISO/, ISO),
  sel(/^Network/, 'hostdev'),
];
const rest: ScriptStep[] = [
  sel(/Device to assign/, '0000:05:00.0'),
  yes(/user networking/),
  sel(/^Disk/, 'new'),
  sel(/Kickstart/, 'built-in'),
  inp(/OS variant/, DEFAULT),
];

describe('install --interactive (CLI, in-process)', () => {
  let root: string;
  let cwd: string;
  before(async () => {
    root = makeTempRoot('wizard-cli');
    await buildHostTree(loadProfile('two-nics'), root);
  });
  beforeEach(async () => {
    cwd = await mkdtemp(path.join(os.tmpdir(), 'ig-wizard-cwd-'));
  });
  afterEach(() => rm(cwd, { recursive: true, force: true }));
  after(() => rm(root, { recursive: true, force: true }));

  it('runs exactly the command line it printed (dry run carried over)', async () => {
    const before = await snapshotTree(root);
    const w = await run(
      ['install', '--interactive', '--dry-run', '--print-cmdline', '--host-root', root],
      [...toDevice, ...rest, yes(/Run it now \(dry run\)/)],
      { cwd },
    );
    expect(w.code, w.stderr).to.equal(0);
    expect(w.prompts.remaining).to.equal(0);
    const m = /\nEquivalent command:\n {2}(install-guest .*)\n/.exec(w.stdout);
    expect(m, w.stdout).to.not.equal(null);
    const words = await shWords(m![1]!);
    expect(words.slice(0, 2)).to.deep.equal(['install-guest', 'install']);
    expect(words).to.include.members([
      '--dry-run',
      '--print-cmdline',
      '--host-root',
      root,
      '--hostdev',
      '0000:05:00.0',
    ]);
    // the wizard's run is what follows the summary; the same argv run directly must print the same
    const wizardRun = w.stdout.slice(w.stdout.indexOf(m![0]) + m![0].length);
    expect(wizardRun).to.include('vfio-pci,host=0000:05:00.0,id=hostdev0,bus=hostdev0-port');
    expect(wizardRun).to.not.include('0000:00:1f.6');
    const direct = await run(words.slice(1), [], { cwd, tty: false });
    expect(direct.code, direct.stderr).to.equal(0);
    expect(stable(wizardRun).trim()).to.equal(stable(direct.stdout).trim());
    expect(w.stderr).to.equal(direct.stderr);
    expect(await snapshotTree(root), 'the host tree is unchanged').to.deep.equal(before);
    expect(await readdir(cwd), 'a dry run creates no disk').to.deep.equal([]);
  });

  it('Ctrl-C exits 130 with one line and no stack trace, host untouched', async () => {
    const before = await snapshotTree(root);
    const w = await run(
      ['install', '--interactive', '--host-root', root],
      [...toDevice, sel(/Device to assign/, ctrlC())],
      { cwd },
    );
    expect(w.code).to.equal(130);
    expect(w.stderr).to.equal(
      'install-guest: interactive install cancelled at the network step; nothing on the host was changed (hint: run install-guest install --interactive again, or pass the options directly) [WIZARD_CANCELLED]\n',
    );
    expect(await snapshotTree(root)).to.deep.equal(before);
    expect(await readdir(cwd)).to.deep.equal([]);
  });

  it('declining at the summary runs nothing (exit 0)', async () => {
    const w = await run(
      ['install', '--interactive', '--host-root', root],
      [...toDevice, ...rest, yes(/Run it now/, false)],
      {
        cwd,
      },
    );
    expect(w.code).to.equal(0);
    expect(w.stdout).to.include('Not run: nothing on the host was changed.');
    expect(w.stdout).to.not.include('qemu-system');
    expect(w.stderr).to.equal('');
  });

  it('without a terminal, --interactive exits 2 with a hint to pass the options', async () => {
    const w = await run(['install', '--interactive'], [], { cwd, tty: false });
    expect(w.code).to.equal(2);
    expect(w.stderr).to.match(
      /^install-guest: --interactive needs a terminal, but stdin or stdout is not a TTY \(hint: pass the options instead, e\.g\. install-guest install --name web1 .*\) \[NOT_A_TERMINAL\]\n$/,
    );
    expect(w.prompts.calls).to.deep.equal([]);
  });

  it('refuses --interactive with --json (exit 2)', async () => {
    const w = await run(['install', '--interactive', '--json'], [], { cwd });
    expect(w.code).to.equal(2);
    expect(JSON.parse(w.stdout)).to.have.nested.property('error.code', 'USAGE');
  });

  it('a bare install-guest on a terminal offers the wizard', async () => {
    const w = await run([], [yes(/Start the interactive install/), inp(/Guest name/, ctrlC())], { cwd });
    expect(w.code).to.equal(130);
    expect(w.stderr).to.include('[WIZARD_CANCELLED]');
    const no = await run([], [yes(/Start the interactive install/, false)], { cwd });
    expect(no.code).to.equal(2);
    expect(no.stderr).to.include('[NO_INSTALL_METHOD]');
    const quit = await run([], [yes(/Start the interactive install/, ctrlC())], { cwd });
    expect(quit.code).to.equal(130);
    expect(quit.stderr).to.match(
      /^install-guest: interactive install cancelled; nothing on the host was changed/,
    );
  });

  it('a bare install-guest without a terminal asks nothing and says what is missing', async () => {
    const w = await run([], [], { cwd, tty: false });
    expect(w.code).to.equal(2);
    expect(w.stderr).to.include('[NO_INSTALL_METHOD]');
    expect(w.prompts.calls).to.deep.equal([]);
  });

  it('uses options given with --interactive as defaults and carries the others', async () => {
    const w = await run(
      [
        'install',
        '--interactive',
        '--name',
        'db',
        '--accel',
        'tcg',
        '--on-error',
        'keep',
        '--dry-run',
        '--host-root',
        root,
      ],
      [
        inp(/Guest name/, DEFAULT),
        inp(/Memory/, DEFAULT),
        num(/vCPUs/, DEFAULT),
        num(/Disk size/, DEFAULT),
        sel(/Install media/, 'cdrom'),
        inp(/ISO/, ISO),
        sel(/^Network/, 'user'),
        sel(/^Disk/, 'new'),
        sel(/Kickstart/, 'built-in'),
        inp(/OS variant/, DEFAULT),
        yes(/Run it now/),
      ],
      { cwd },
    );
    expect(w.code, w.stderr).to.equal(0);
    expect(w.stdout).to.include(
      `  install-guest install --name db --memory 2048 --vcpus 2 --accel tcg --disk size=8 --cdrom ${ISO} --network user --dry-run --on-error keep --host-root ${root}\n`,
    );
    expect(w.stdout).to.include('dry run: nothing on the host was changed');
  });
});
