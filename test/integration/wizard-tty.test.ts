/**
 * The interactive install driven through a real pseudo-terminal: the BUILT cli runs inside a private
 * tmux server; keys go in with `send-keys`, the screen comes back with `capture-pane`. The host is the
 * fixtures/hosts `two-nics` tree (one NIC carrying the default route, one free) given with
 * --host-root; what the wizard must show is taken from `hostdev list --json` and `media inspect` run
 * on the same tree and media, not written here.
 */
import { expect } from 'chai';
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ListedDevice, ListJson } from '../../src/pci/render.js';
import { buildHostTree, loadProfile } from '../helpers/sysfs-fixture.js';
import { snapshotTree } from '../unit/wizard/tree-snapshot.js';
import { BUILT_CLI } from '../helpers/cli.js';

const CLI = BUILT_CLI;
const ISO = path.resolve('fixtures/cases/_media/install.iso');
const STEP_TIMEOUT_MS = 15_000;

/** One private tmux server (its socket in the test's temp dir) running one command in a 250×80 pane. */
class Terminal {
  constructor(
    private readonly socket: string,
    private readonly conf: string,
  ) {}

  private tmux(...args: string[]) {
    return execa('tmux', ['-S', this.socket, '-f', this.conf, ...args], {
      env: { ...process.env, TMUX: '' },
      timeout: 10_000,
    });
  }

  /** Runs argv (no shell parses it: `sh` only reports the exit code); the pane stays after exit. */
  async start(cwd: string, argv: string[], env: Record<string, string> = {}): Promise<void> {
    const envArgs = Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
    await this.tmux(
      'new-session',
      '-d',
      '-s',
      'w',
      '-x',
      '250',
      '-y',
      '80',
      '-c',
      cwd,
      ...envArgs,
      '--',
      'sh',
      '-c',
      'trap : INT; "$@"; echo "[exit $?]"',
      'sh',
      ...argv,
    );
  }

  /** The whole pane history, wrapped lines joined. */
  async screen(): Promise<string> {
    return (await this.tmux('capture-pane', '-p', '-J', '-S', '-', '-t', 'w')).stdout;
  }

  /** Polls the screen until `re` matches (bounded); returns the screen. */
  async waitFor(re: RegExp, timeoutMs = STEP_TIMEOUT_MS): Promise<string> {
    const until = Date.now() + timeoutMs;
    let s = '';
    while (Date.now() < until) {
      s = await this.screen();
      if (re.test(s)) return s;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${String(re)}; the screen:\n${s}`);
  }

  async keys(...keys: string[]): Promise<void> {
    await this.tmux('send-keys', '-t', 'w', ...keys);
  }

  async type(text: string): Promise<void> {
    await this.tmux('send-keys', '-t', 'w', '-l', text);
  }

  /** Answers the prompt whose question matches `question` once it is on screen (and no later one). */
  async answer(question: RegExp, ...keys: string[]): Promise<void> {
    await this.waitFor(new RegExp(`\\? ${question.source}[^\\n]*\\n?[^✔]*$`));
    for (const k of keys) await (k.startsWith('=') ? this.type(k.slice(1)) : this.keys(k));
  }

  async kill(): Promise<void> {
    await this.tmux('kill-server').catch(() => undefined);
  }
}

/** The words a POSIX shell makes of a displayed line (what a user gets by pasting it). */
async function shWords(line: string): Promise<string[]> {
  const r = await execa('sh', ['-c', `printf '%s\\0' ${line}`]);
  return r.stdout.split('\0').slice(0, -1);
}

const stable = (s: string): string =>
  s
    .replace(/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/g, '<uuid>')
    .replace(/mac=[0-9a-f:]{17}/g, 'mac=<mac>');

describe('interactive install in a real terminal (tmux, built CLI)', function () {
  this.timeout(90_000);
  let tmp: string;
  let root: string;
  let cwd: string;
  let conf: string;
  let term: Terminal | undefined;
  let routed: ListedDevice;
  let free: ListedDevice;

  before(async function () {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first (npx tsc -p .)`);
    if (!existsSync(path.resolve('dist/src/cli/wizard.js')))
      throw new Error('dist/ predates the wizard: build first (npx tsc -p .)');
    await execa('tmux', ['-V']); // fails the suite clearly when tmux is missing
    tmp = await mkdtemp(path.join(os.tmpdir(), 'ig-wizard-tty-'));
    conf = path.join(tmp, 'tmux.conf');
    await writeFile(conf, 'set -g remain-on-exit on\nset -g history-limit 5000\n');
    root = path.join(tmp, 'host');
    await buildHostTree(loadProfile('two-nics'), root);
    // what `hostdev list` says about this host: the NIC with the default route, and the free one
    const listed = await execa('node', [
      CLI,
      '--host-root',
      root,
      'hostdev',
      'list',
      '--class',
      'net',
      '--json',
    ]);
    const devices = (JSON.parse(listed.stdout) as ListJson).devices;
    routed = devices.find((d) => d.net.some((n) => n.defaultRoutes.length > 0))!;
    free = devices.find((d) => d.verdict === 'assignable')!;
    expect(routed.verdict).to.equal('not-assignable');
    expect(free.address).to.not.equal(routed.address);
  });
  beforeEach(async () => {
    cwd = await mkdtemp(path.join(tmp, 'cwd-'));
    term = new Terminal(path.join(cwd, '..', `${path.basename(cwd)}.tmux`), conf);
  });
  afterEach(async () => {
    await term?.kill();
    term = undefined;
  });
  after(() => rm(tmp, { recursive: true, force: true }));

  it('greys the default-route NIC with hostdev list’s reason, assigns the free NIC, runs the printed line', async () => {
    const before = await snapshotTree(root);
    const inspected = await execa('node', [CLI, 'media', 'inspect', ISO], { cwd });
    const t = term!;
    await t.start(cwd, [
      'node',
      CLI,
      'install',
      '--interactive',
      '--dry-run',
      '--print-cmdline',
      '--host-root',
      root,
    ]);
    await t.answer(/Guest name/, '=web1', 'Enter');
    await t.answer(/Memory/, 'Enter');
    await t.answer(/vCPUs/, 'Enter');
    await t.answer(/Disk size/, 'Enter');
    await t.answer(/Install media/, 'Enter');
    await t.answer(/Location/, `=${ISO}`, 'Enter');

    // the media step shows what `media inspect` prints for the same ISO
    const media = await t.waitFor(/\? Network/);
    for (const l of inspected.stdout.split('\n')) expect(media).to.include(`  ${l}\n`);

    await t.answer(/Network/, 'Down', 'Down');
    await t.waitFor(/❯ Assign a physical device/);
    await t.keys('Enter');

    const list = (await t.waitFor(/\? Device to assign/)).split('\n');
    const routedLine = list.find((l) => l.includes(routed.address));
    const blocking = routed.reasons.filter((r) => r.severity === 'block').map((r) => r.message);
    expect(blocking, 'hostdev list gives a reason').to.have.length.greaterThan(0);
    expect(routedLine, list.join('\n')).to.match(/^- /); // a disabled choice: greyed, not selectable
    expect(routedLine).to.include(`(not assignable: ${blocking.join('; ')})`);
    const freeLine = list.find((l) => l.includes(free.address));
    expect(freeLine, list.join('\n')).to.match(/^❯ /); // the cursor starts on the first selectable one
    expect(freeLine).to.not.include('not assignable');
    await t.keys('Enter');
    await t.answer(/Also give the guest user networking/, 'Enter');
    await t.answer(/Disk/, 'Enter');
    await t.answer(/Kickstart/, 'Enter');
    await t.answer(/OS variant/, 'Enter');

    const summary = await t.waitFor(/\? Run it now \(dry run\)\?/);
    const printed = /Equivalent command:\n {2}(install-guest install .*)\n/.exec(summary)?.[1];
    expect(printed, summary).to.be.a('string');
    expect(printed).to.include(` --hostdev ${free.address} `);
    expect(printed).to.include(' --dry-run --print-cmdline ');
    await t.keys('Enter');

    const done = await t.waitFor(/\[exit \d+\]/);
    expect(done, done).to.include('[exit 0]');
    const ran = done.slice(done.indexOf('✔ Run it now (dry run)? Yes'), done.indexOf('[exit 0]'));
    // the dry run resolved --hostdev to the free NIC, and only to it
    expect(ran).to.include(`vfio-pci,host=${free.address},id=hostdev0,bus=hostdev0-port`);
    expect(ran).to.not.include(`host=${routed.address}`);

    // the printed line, as a shell splits it, run directly: the same qemu command lines
    const words = await shWords(printed!);
    expect(words[0]).to.equal('install-guest');
    const direct = await execa('node', [CLI, ...words.slice(1)], { cwd, reject: false });
    expect(direct.exitCode, direct.stderr).to.equal(0);
    const argvOf = (s: string): string => stable(s.slice(s.indexOf('# install boot'))).trim();
    expect(argvOf(ran)).to.equal(argvOf(direct.stdout));
    expect(argvOf(direct.stdout)).to.include('# confirm boot');

    expect(await snapshotTree(root), 'the host tree is unchanged').to.deep.equal(before);
    expect(await readdir(cwd), 'a dry run creates no disk').to.deep.equal([]);
  });

  it('Ctrl-C on the device list exits 130 without a stack trace and leaves the host untouched', async () => {
    const before = await snapshotTree(root);
    const t = term!;
    await t.start(cwd, ['node', CLI, 'install', '--interactive', '--host-root', root]);
    await t.answer(/Guest name/, '=web2', 'Enter');
    await t.answer(/Memory/, 'Enter');
    await t.answer(/vCPUs/, 'Enter');
    await t.answer(/Disk size/, 'Enter');
    await t.answer(/Install media/, 'Enter');
    await t.answer(/Location/, `=${ISO}`, 'Enter');
    await t.answer(/Network/, 'Down', 'Down');
    await t.waitFor(/❯ Assign a physical device/);
    await t.keys('Enter');
    await t.answer(/Device to assign/, 'C-c');
    const s = await t.waitFor(/\[exit \d+\]/);
    expect(s).to.include('[exit 130]');
    expect(s).to.include(
      'install-guest: interactive install cancelled at the network step; nothing on the host was changed',
    );
    expect(s).to.not.match(/\n\s+at /);
    expect(await snapshotTree(root)).to.deep.equal(before);
    expect(await readdir(cwd)).to.deep.equal([]);
  });

  it('a bare install-guest on a terminal offers the wizard', async () => {
    const t = term!;
    await t.start(cwd, ['node', CLI], { INSTALL_GUEST_HOST_ROOT: root });
    await t.answer(/No options given\. Start the interactive install\?/, 'Enter');
    await t.answer(/Guest name/, 'C-c');
    const s = await t.waitFor(/\[exit \d+\]/);
    expect(s).to.include('[exit 130]');
    expect(s).to.include('[WIZARD_CANCELLED]');
  });

  it('without a terminal, --interactive exits 2 with a hint to pass the options', async () => {
    const r = await execa('node', [CLI, 'install', '--interactive', '--host-root', root], {
      cwd,
      reject: false,
      stdin: 'pipe',
    });
    expect(r.exitCode).to.equal(2);
    expect(r.stderr).to.match(
      /--interactive needs a terminal.*hint: pass the options instead.*\[NOT_A_TERMINAL\]/,
    );
    expect(r.stderr).to.not.match(/\n\s+at /);
    expect(r.stdout).to.equal('');
  });
});
