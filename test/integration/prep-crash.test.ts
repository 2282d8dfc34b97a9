/**
 * Crash, race and signal tests with real child processes. Each child runs the CLI against a kernel
 * model tree (test/helpers/kernel-model-child.ts):
 * - crash: the child SIGKILLs itself right after the N-th sysfs write, for every N of the sequence
 *   (detach to vfio-pci, to pci-stub with a reset, a whole group, and a reattach); then `recover`
 *   runs in this process and every device must be back on its original driver and override, with no
 *   dynamic id, lease or journal left;
 * - race: two children ask for the same device, or for two members of one group, at the same moment;
 *   exactly one wins, the other gets DEVICE_BUSY naming the winner;
 * - signal: SIGINT during a detach gives the device back before exit 130.
 * Children run the compiled files from dist/ when they are newer than the sources (fast), else tsx.
 */
import { expect } from 'chai';
import { type ResultPromise, execa } from 'execa';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createHost } from '../../src/host/host.js';
import { prepareDevices } from '../../src/pci/prepare.js';
import { recover } from '../../src/pci/recover.js';
import {
  KernelModel,
  type ModelSpec,
  buildTree,
  linkProcess,
  readWriteLog,
  standardSpec,
} from '../helpers/kernel-model.js';
import { BUILT_CLI, runCli } from '../helpers/cli.js';
import { expectClean, quietLog } from '../unit/pci/helpers.js';

const NIC = '0000:03:00.0';
const PORT0 = '0000:04:00.0';
const PORT1 = '0000:04:00.1';

function newestSource(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) t = Math.max(t, newestSource(p));
    else if (e.name.endsWith('.ts')) t = Math.max(t, statSync(p).mtimeMs);
  }
  return t;
}

/** node on the compiled child when dist is up to date, else node with the tsx loader on the source. */
function childCommand(): string[] {
  const built = path.resolve('dist/test/helpers/kernel-model-child.js');
  if (existsSync(built)) {
    const stale = Math.max(newestSource(path.resolve('src')), newestSource(path.resolve('test/helpers')));
    if (statSync(built).mtimeMs >= stale) return [built];
  }
  return ['--import', 'tsx', path.resolve('test/helpers/kernel-model-child.ts')];
}

interface Tree {
  root: string;
  stateDir: string;
  /** a model and host in this process, on the same tree */
  model: KernelModel;
  host: ReturnType<typeof createHost>;
}

const trees: string[] = [];

async function tree(spec: ModelSpec): Promise<Tree> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'ig-prep-crash-'));
  trees.push(root);
  buildTree(root, spec);
  linkProcess(root, process.pid);
  const model = new KernelModel(root);
  return {
    root,
    stateDir: path.join(root, 'var/lib/install-guest'),
    model,
    host: createHost({ root, writer: model.writer, exec: model.exec }),
  };
}

const CMD = childCommand();

function child(t: Tree, argv: string[], env: Record<string, string> = {}): ResultPromise {
  return execa('node', [...CMD, t.root, ...argv], {
    reject: false,
    timeout: 60_000,
    env: { INSTALL_GUEST_STATE_DIR: t.stateDir, ...env },
  });
}

const resettable = (): ModelSpec =>
  standardSpec({ devices: { [NIC]: { flr: false, pm: { noSoftReset: false }, resetMethods: ['pm'] } } });

interface Scenario {
  name: string;
  spec: () => ModelSpec;
  argv: string[];
  /** devices that must end as they began */
  watch: string[];
  /** runs first (in a child that ends normally), e.g. a detach that a reattach then undoes */
  setup?: string[];
}

const SCENARIOS: Scenario[] = [
  { name: 'detach to vfio-pci', spec: standardSpec, argv: ['hostdev', 'detach', NIC], watch: [NIC] },
  {
    name: 'detach to pci-stub, with a reset',
    spec: resettable,
    argv: ['hostdev', 'detach', NIC, '--driver', 'pci-stub'],
    watch: [NIC],
  },
  {
    name: 'detach a whole group (--group)',
    spec: standardSpec,
    argv: ['hostdev', 'detach', PORT0, '--group'],
    watch: [PORT0, PORT1],
  },
  {
    name: 'reattach',
    spec: standardSpec,
    setup: ['hostdev', 'detach', NIC],
    argv: ['hostdev', 'reattach', NIC],
    watch: [NIC],
  },
];

describe('device preparation across processes', function () {
  this.timeout(240_000);
  after(async () => {
    for (const t of trees) await rm(t, { recursive: true, force: true });
  });

  /** A copy of a tree (links stay relative, so they still point inside the copy). */
  async function copyTree(t: Tree): Promise<Tree> {
    const root = await mkdtemp(path.join(os.tmpdir(), 'ig-prep-crash-'));
    trees.push(root);
    await cp(t.root, root, { recursive: true, verbatimSymlinks: true });
    linkProcess(root, process.pid);
    const model = new KernelModel(root);
    return {
      root,
      stateDir: path.join(root, 'var/lib/install-guest'),
      model,
      host: createHost({ root, writer: model.writer, exec: model.exec }),
    };
  }

  for (const s of SCENARIOS) {
    it(`crash: SIGKILL after each write of "${s.name}", then recover gives every device back`, async () => {
      const base = await tree(s.spec());
      const before = s.watch.map((a) => base.model.binding(a));
      if (s.setup) expect((await child(base, s.setup)).exitCode).to.equal(0);
      const setupWrites = readWriteLog(base.root).length;
      // how many writes the sequence makes: one uninterrupted run (in this process, same code)
      const probe = await copyTree(base);
      const full = await runCli(s.argv, {
        host: probe.host,
        env: { INSTALL_GUEST_STATE_DIR: probe.stateDir },
      });
      expect(full.code, full.stderr).to.equal(0);
      const total = probe.model.writes.length;
      expect(total).to.be.at.least(3);
      // one child per write, a few at a time
      const ns = Array.from({ length: total }, (_, i) => i + 1);
      for (let i = 0; i < ns.length; i += 3) {
        await Promise.all(
          ns.slice(i, i + 3).map(async (n) => {
            const t = await copyTree(base);
            const r = await child(t, s.argv, { KERNEL_MODEL_KILL_AFTER: String(n) });
            expect(r.signal, `killed after write ${n}: ${String(r.stderr)}`).to.equal('SIGKILL');
            expect(readWriteLog(t.root).length - setupWrites).to.equal(n);
            const log = quietLog();
            const report = await recover({ host: t.host, stateDir: t.stateDir, log });
            expect(report.failed, log.lines.join('\n')).to.equal(0);
            expect(
              s.watch.map((a) => t.model.binding(a)),
              `after write ${n} of ${total} and recover`,
            ).to.deep.equal(before);
            expect(t.model.vfioNodes().filter((x) => x !== 'vfio')).to.deep.equal([]);
            await expectClean(t);
            // and recover is idempotent
            const writes = t.model.writes.length;
            await recover({ host: t.host, stateDir: t.stateDir, log: quietLog() });
            expect(t.model.writes.length).to.equal(writes);
          }),
        );
      }
    });
  }

  async function race(argvA: string[], argvB: string[]): Promise<void> {
    const t = await tree(standardSpec());
    const go = path.join(t.root, 'go');
    const env = { KERNEL_MODEL_GO: go, KERNEL_MODEL_DELAY_MS: '300' };
    const a = child(t, [...argvA, '--json', '--guest', 'alpha'], env);
    const b = child(t, [...argvB, '--json', '--guest', 'beta'], env);
    await new Promise((r) => setTimeout(r, 300));
    await writeFile(go, '');
    const [ra, rb] = await Promise.all([a, b]);
    const results = [
      { r: ra, pid: a.pid, guest: 'alpha' },
      { r: rb, pid: b.pid, guest: 'beta' },
    ];
    const winners = results.filter((x) => x.r.exitCode === 0);
    const losers = results.filter((x) => x.r.exitCode !== 0);
    expect(winners, `${String(ra.stdout)}\n${String(rb.stdout)}`).to.have.length(1);
    expect(losers).to.have.length(1);
    const loser = JSON.parse(String(losers[0]!.r.stdout)) as { error: { code: string; message: string } };
    expect(loser.error.code).to.equal('DEVICE_BUSY');
    expect(loser.error.message).to.include(
      `PID ${winners[0]!.pid} (guest ${winners[0]!.guest}, hostdev detach`,
    );
    expect(losers[0]!.r.exitCode).to.equal(3);
    // the loser wrote nothing
    expect(new Set(readWriteLog(t.root).map((w) => w.pid))).to.deep.equal(new Set([winners[0]!.pid]));
  }

  it('race: two processes ask for the same device; exactly one wins, the other is told who holds it', async () => {
    await race(['hostdev', 'detach', NIC], ['hostdev', 'detach', NIC]);
  });

  it('race: two processes ask for two members of one IOMMU group; exactly one wins', async () => {
    await race(['hostdev', 'detach', PORT0, '--group'], ['hostdev', 'detach', PORT1, '--group']);
  });

  it('signal: SIGINT during a detach gives the device back before exiting 130', async () => {
    const t = await tree(standardSpec());
    const c = child(t, ['hostdev', 'detach', NIC], { KERNEL_MODEL_DELAY_MS: '400' });
    const until = Date.now() + 30_000;
    while (readWriteLog(t.root).length < 1 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    c.kill('SIGINT');
    const r = await c;
    expect(r.exitCode, String(r.stderr)).to.equal(130);
    expect(String(r.stderr)).to.include('interrupted by SIGINT');
    expect(t.model.binding(NIC)).to.deep.equal({ driver: 'e1000e', override: null });
    await expectClean(t);
  });

  it('a run in this process sees a live lease of a child and a stale one after the child is killed', async () => {
    const t = await tree(standardSpec());
    const c = child(t, ['hostdev', 'detach', NIC], { KERNEL_MODEL_DELAY_MS: '1000' });
    const until = Date.now() + 30_000;
    while (readWriteLog(t.root).length < 1 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    const opts = { host: t.host, stateDir: t.stateDir, addresses: [NIC], guest: 'here', command: 'test' };
    const busy = await prepareDevices({ ...opts, log: quietLog() }).catch(
      (e: Error & { code?: string }) => e,
    );
    expect((busy as { code?: string }).code).to.equal('DEVICE_BUSY');
    c.kill('SIGKILL');
    await c;
    const log = quietLog();
    const s = await prepareDevices({ ...opts, log });
    expect(log.lines.join('\n')).to.include('took over the stale lease');
    expect(s.devices[0]!.original).to.deep.equal({ driver: 'e1000e', override: null });
    await s.release();
    expect(t.model.binding(NIC)).to.deep.equal({ driver: 'e1000e', override: null });
  });
});

describe('built CLI: recover', function () {
  this.timeout(60_000);
  const CLI = BUILT_CLI;
  let root = '';
  after(() => rm(root, { recursive: true, force: true }));

  it('plans the give-back of a killed run with --dry-run and changes nothing', async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first (npm test does)`);
    root = await mkdtemp(path.join(os.tmpdir(), 'ig-prep-built-'));
    buildTree(root, standardSpec());
    const stateDir = path.join(root, 'var/lib/install-guest');
    const killed = await execa('node', [...CMD, root, 'hostdev', 'detach', NIC, '--guest', 'web1'], {
      reject: false,
      env: { KERNEL_MODEL_KILL_AFTER: '2' },
    });
    expect(killed.signal).to.equal('SIGKILL');
    const r = await execa('node', [CLI, 'recover', '--dry-run', '--host-root', root], { reject: false });
    expect(r.exitCode, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/^would recover: hostdev detach for guest web1, PID \d+ gone/);
    expect(r.stdout).to.include(`${NIC} [8086:10d3]: no driver (driver_override vfio-pci) → e1000e`);
    const j = await execa('node', [
      CLI,
      'recover',
      '--dry-run',
      '--json',
      '--state-dir',
      stateDir,
      '--host-root',
      root,
    ]);
    const report = JSON.parse(j.stdout) as { runs: { devices: { action: string }[] }[] };
    expect(report.runs[0]!.devices[0]!.action).to.equal('restore');
    expect(readWriteLog(root)).to.have.length(2);
  });
});
