/**
 * The batch's device pool read from the host (the inventory and verdicts `hostdev list` uses):
 * which functions join it on every fixture host profile, whole IOMMU groups at a time; the dry-run
 * plan against a host tree given with --host-root; and on the kernel model, a batch asking for more
 * devices than the pool holds: guests queue and get the device a finished guest gave back (bound to
 * vfio-pci for real by the device-preparation code), or fail at once with --fail-fast.
 */
import { expect } from 'chai';
import { mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runBatchCommand } from '../../../src/batch/command.js';
import { poolFromInventory, readHostPool } from '../../../src/batch/host-pool.js';
import { installArgsFor } from '../../../src/batch/pipeline-install.js';
import type { BatchGuest } from '../../../src/batch/plan.js';
import { planBatch } from '../../../src/batch/plan.js';
import type { Allocation } from '../../../src/batch/pool.js';
import type { GuestResult, InstallContext } from '../../../src/batch/scheduler.js';
import type { Args, CommandContext } from '../../../src/command-context.js';
import { createHost } from '../../../src/host/host.js';
import type { Host } from '../../../src/host/host.js';
import { assessAll } from '../../../src/pci/assignability.js';
import { listDevices } from '../../../src/pci/inventory.js';
import { prepareDevices } from '../../../src/pci/prepare.js';
import { runCli } from '../../helpers/cli.js';
import { type ModelHost, modelHost, standardSpec } from '../../helpers/kernel-model.js';
import { buildHostTree, loadProfile } from '../../helpers/sysfs-fixture.js';

const MEDIA = path.resolve('fixtures/cases/_media');

/** profile → the functions in its pool, and some that must stay out with the reason */
const PROFILES: [string, string[], [string, string][]][] = [
  ['no-iommu', [], [['0000:02:00.0', 'NO_IOMMU']]],
  [
    'one-nic-default-route',
    [],
    [
      ['0000:03:00.0', 'DEFAULT_ROUTE'],
      ['0000:04:00.0', 'MOUNTED_DISK'],
    ],
  ],
  ['two-nics', ['0000:05:00.0'], [['0000:00:1f.6', 'DEFAULT_ROUTE']]],
  ['busy-unprivileged', ['0000:03:00.0'], [['0000:02:00.0', 'ALREADY_ASSIGNED']]],
  ['config-all-ones', ['0000:02:00.1'], [['0000:02:00.0', 'CONFIG_ALL_ONES']]],
  ['legacy-kernel', [], [['0000:02:00.0', 'DRIVER_OVERRIDE_UNSUPPORTED']]],
  // a NIC and a SATA controller share group 1: both join, and one guest gets the whole group
  ['nic-group-with-endpoint', ['0000:03:00.0', '0000:04:00.0'], []],
  ['sata-root-lvm', ['0000:04:00.0'], [['0000:00:17.0', 'MOUNTED_DISK']]],
  [
    'sriov-pf-vfs',
    ['0000:3b:02.0', '0000:3b:02.1', '0000:3b:02.2', '0000:3b:02.3'],
    [['0000:3b:00.0', 'DEFAULT_ROUTE']],
  ],
  ['vmd-five-digit-domain', ['0000:00:0e.0', '10000:01:00.0', '10000:02:00.0'], []],
];

/**
 * The kernel model links a bridge port's `master` but not the bridge's `lower_<port>` link the kernel
 * also creates (which the inventory follows to find the port carrying a default route): add it.
 */
async function addLowerLinks(root: string): Promise<void> {
  const classNet = path.join(root, 'sys/class/net');
  for (const name of await readdir(classNet)) {
    const dev = path.resolve(classNet, await readlink(path.join(classNet, name)));
    let master: string;
    try {
      master = await readlink(path.join(dev, 'master'));
    } catch {
      continue;
    }
    const bridge = path.resolve(dev, master);
    await symlink(path.relative(bridge, dev), path.join(bridge, `lower_${name}`));
  }
}

async function netModel(spec: ReturnType<typeof standardSpec>): Promise<ModelHost> {
  const m = await modelHost(spec);
  await addLowerLinks(m.root);
  return m;
}

function contextFor(host: Host, cwd: string, out: { stdout: string; stderr: string }): CommandContext {
  return {
    deps: {
      argv: [],
      env: {},
      stdout: { write: (s: string) => (out.stdout += s) },
      stderr: { write: (s: string) => (out.stderr += s) },
      cwd,
    },
    host,
    json: false,
    print: (l) => void (out.stdout += `${l}\n`),
    printJson: (v) => void (out.stdout += `${JSON.stringify(v)}\n`),
    warn: (l) => void (out.stderr += `${l}\n`),
  };
}

describe('batch device pool from the host', function () {
  this.timeout(30_000);
  const roots: string[] = [];
  const tmp = async (label: string): Promise<string> => {
    const d = await mkdtemp(path.join(os.tmpdir(), `ig-hostpool-${label}-`));
    roots.push(d);
    return d;
  };
  after(() => Promise.all(roots.map((r) => rm(r, { recursive: true, force: true }))));

  for (const [name, pool, out] of PROFILES) {
    it(`takes the assignable functions of ${name}, whole groups at a time`, async () => {
      const root = await tmp(name);
      await buildHostTree(loadProfile(name), root);
      const p = await readHostPool(createHost({ root }));
      expect(p.devices.map((d) => d.address)).to.deep.equal(pool);
      for (const [address, why] of out)
        expect(p.excluded.find((e) => e.address === address)?.why, address).to.include(why);
      // bridges never join; every pooled function names its group
      for (const d of p.devices) expect(d.iommuGroup, d.address).to.be.a('string');
      expect(p.iommu).to.equal(name !== 'no-iommu');
    });
  }

  it('keeps a whole group out when one of its endpoints must stay on the host', async () => {
    const spec = standardSpec({
      devices: { '0000:04:00.1': { net: [{ name: 'enp4s0f1', master: 'br0' }] } },
    });
    const m = await netModel(spec);
    try {
      const inv = await listDevices(m.host);
      const p = poolFromInventory(inv, assessAll(inv));
      const nics = (pool: typeof p): string[] =>
        pool.devices.filter((d) => d.class.startsWith('0x02')).map((d) => d.address);
      expect(nics(p)).to.deep.equal(['0000:03:00.0']);
      expect(p.excluded.find((e) => e.address === '0000:05:00.0')!.why).to.deep.equal(['DEFAULT_ROUTE']);
      expect(p.excluded.find((e) => e.address === '0000:04:00.1')!.why).to.deep.equal(['DEFAULT_ROUTE']);
      expect(p.excluded.find((e) => e.address === '0000:04:00.0')!.why).to.deep.equal([
        'GROUP_MEMBER_BLOCKED 0000:04:00.1 (DEFAULT_ROUTE)',
      ]);
      // the management interface keeps its function out too
      const mgmt = poolFromInventory(inv, assessAll(inv, { mgmtIfaces: ['enp3s0'] }));
      expect(nics(mgmt)).to.deep.equal([]);
    } finally {
      await m.cleanup();
    }
  });

  it('--dry-run plans against the host given by --host-root; auto falls back where no NIC can be assigned', async () => {
    const cwd = await tmp('cwd');
    const manifest = path.join(cwd, 'm.yaml');
    await writeFile(
      manifest,
      [
        'defaults:',
        `  boot: kernel=${path.join(MEDIA, 'vmlinuz')}`,
        '  disk: size=1',
        '  network: user',
        'guests:',
        '  - name: a',
        '    hostdev: auto',
        '  - name: b',
        '    hostdev: auto',
        '  - name: c',
        '    hostdev: 0000:05:00.0',
        '',
      ].join('\n'),
    );
    const twoNics = await tmp('two-nics');
    await buildHostTree(loadProfile('two-nics'), twoNics);
    const r = await runCli(['--host-root', twoNics, 'batch', manifest, '--dry-run', '--concurrency', '3'], {
      cwd,
    });
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.include("order (simulated against this host's 1 assignable PCI functions");
    expect(r.stdout).to.match(/1\. a\s+starts at once\s+0000:05:00\.0/);
    expect(r.stdout).to.match(/2\. b\s+starts after a ends\s+0000:05:00\.0/);
    expect(r.stdout).to.match(/3\. c\s+starts after b ends\s+0000:05:00\.0/);

    const noIommu = await tmp('no-iommu');
    await buildHostTree(loadProfile('no-iommu'), noIommu);
    const n = await runCli(['--host-root', noIommu, 'batch', manifest, '--dry-run', '--json'], { cwd });
    expect(n.code, n.stderr).to.equal(0);
    const plan = JSON.parse(n.stdout) as {
      poolSource: string;
      guests: { name: string; devices: unknown[]; note?: string; predicted: { order: number | null } }[];
    };
    expect(plan.poolSource).to.match(/no IOMMU/);
    const [a, b, c] = plan.guests;
    expect(a!.devices, 'auto dropped').to.deep.equal([]);
    expect(a!.note).to.match(/no assignable network function in the pool; installing without it \(user/);
    expect(b!.predicted.order).to.be.a('number');
    expect(c!.predicted.order, 'an explicit device the host cannot give does not start').to.equal(null);
  });

  it('holding a group with other endpoints detaches them too (--group)', () => {
    const { plan } = planBatch(
      `guests:\n  - name: a\n    boot: kernel=${path.join(MEDIA, 'vmlinuz')}\n    disk: size=1\n    hostdev: auto\n`,
      { manifestPath: '/m/m.yaml', cwd: '/m' },
    );
    const g = plan!.guests[0]!;
    const port0 = { address: '0000:04:00.0', vendorDevice: '8086:105e', class: '0x020000', iommuGroup: '8' };
    const port1 = { ...port0, address: '0000:04:00.1' };
    const alone: Allocation = { owner: 'a', devices: [port0], groups: ['group:8'], reserved: [port0] };
    const shared: Allocation = { ...alone, reserved: [port0, port1] };
    expect(installArgsFor(g, alone)).to.not.have.property('group');
    expect(installArgsFor(g, alone).hostdev).to.deep.equal(['0000:04:00.0']);
    expect(installArgsFor(g, shared)).to.include({ group: true });
  });

  describe('on the kernel model: more guests than devices', () => {
    let m: ModelHost;
    let cwd: string;
    beforeEach(async () => {
      m = await netModel(standardSpec());
      cwd = await tmp('queue');
      await writeFile(
        path.join(cwd, 'q.yaml'),
        [
          'defaults:',
          `  boot: kernel=${path.join(MEDIA, 'vmlinuz')}`,
          '  disk: size=1',
          '  hostdev: auto',
          'guests:',
          '  - name: a',
          '  - name: b',
          '  - name: c',
          '',
        ].join('\n'),
      );
    });
    afterEach(() => m.cleanup());

    const driverOf = async (address: string): Promise<string | null> => {
      try {
        return path.basename(await readlink(path.join(m.root, 'sys/bus/pci/devices', address, 'driver')));
      } catch {
        return null;
      }
    };

    /**
     * An install that binds its devices to vfio-pci for real (the device-preparation code, on the
     * model), checks nobody else holds its groups, waits for `until`, then gives them back.
     */
    function bindingInstall(
      out: { stdout: string },
      until: Record<string, RegExp>,
      seen: { name: string; devices: string[]; drivers: (string | null)[] }[],
    ) {
      const holding = new Map<string, string>();
      return async (g: BatchGuest, a: Allocation, c: InstallContext): Promise<GuestResult> => {
        for (const grp of a.groups) {
          expect(holding.get(grp), `${g.name} and ${holding.get(grp)} both hold ${grp}`).to.equal(undefined);
          holding.set(grp, g.name);
        }
        const raw = installArgsFor(g, a);
        const session = await prepareDevices({
          host: m.host,
          stateDir: m.stateDir,
          addresses: a.devices.map((d) => d.address),
          group: Boolean(raw.group),
          guest: g.name,
          command: 'batch test',
          signal: c.signal,
          log: { info: () => undefined, warn: () => undefined },
        });
        try {
          seen.push({
            name: g.name,
            devices: a.devices.map((d) => d.address),
            drivers: await Promise.all(a.reserved.map((d) => driverOf(d.address))),
          });
          const want = until[g.name];
          if (want) {
            const t0 = Date.now();
            while (!want.test(out.stdout)) {
              if (Date.now() - t0 > 10_000) throw new Error(`${g.name}: never saw ${String(want)}`);
              await new Promise((r) => setTimeout(r, 10));
            }
          }
        } finally {
          for (const grp of a.groups) holding.delete(grp);
          await session.release();
        }
        return {
          phases: [
            { phase: 'install', status: 'passed', timeSec: 1 },
            { phase: 'confirm', status: 'passed', timeSec: 1 },
          ],
        };
      };
    }

    const args = (extra: Record<string, unknown> = {}): Args => ({
      _: [],
      $0: 'x',
      manifest: 'q.yaml',
      concurrency: '3',
      ...extra,
    });

    it('queues the third guest until a finished guest gives its device back', async () => {
      const out = { stdout: '', stderr: '' };
      const seen: { name: string; devices: string[]; drivers: (string | null)[] }[] = [];
      // a ends once c is waiting; b holds its group until c has started
      const install = bindingInstall(out, { a: /c: waiting for/, b: /c: started/ }, seen);
      const code = await runBatchCommand(args(), contextFor(m.host, cwd, out), { install });
      expect(code, out.stdout + out.stderr).to.equal(0);
      expect(out.stdout).to.match(/a: started with 0000:03:00\.0/);
      // b holds group 8 whole: both ports, the second detached with it
      expect(out.stdout).to.match(/b: started with 0000:04:00\.0/);
      expect(out.stdout).to.match(/c: waiting for a device from pool 'net'/);
      expect(out.stdout.indexOf('c: waiting')).to.be.below(out.stdout.indexOf('a: passed'));
      expect(out.stdout.indexOf('a: passed')).to.be.below(out.stdout.indexOf('c: started'));
      expect(out.stdout).to.match(/c: started with 0000:03:00\.0/);
      expect(out.stdout).to.include('3 guests: 3 passed, 0 failed');
      expect(seen.find((s) => s.name === 'b')!.drivers).to.deep.equal(['vfio-pci', 'vfio-pci']);
      expect(seen.find((s) => s.name === 'c')!.devices).to.deep.equal(['0000:03:00.0']);
      // every device is back on its driver
      expect(await driverOf('0000:03:00.0')).to.equal('e1000e');
      expect(await driverOf('0000:04:00.0')).to.equal('e1000e');
      expect(await driverOf('0000:04:00.1')).to.equal('e1000e');
      const results = JSON.parse(await readFile(path.join(cwd, 'q-logs', 'results.json'), 'utf8')) as {
        guests: { name: string; waitedSec: number; reserved: string[] }[];
      };
      expect(results.guests.find((g) => g.name === 'b')!.reserved).to.deep.equal([
        '0000:04:00.0',
        '0000:04:00.1',
      ]);
    });

    it('--fail-fast fails the guest that would wait (exit 3) instead of queueing it', async () => {
      const out = { stdout: '', stderr: '' };
      const seen: { name: string; devices: string[]; drivers: (string | null)[] }[] = [];
      const install = bindingInstall(out, { a: /c: failed/, b: /c: failed/ }, seen);
      const code = await runBatchCommand(args({ failFast: true }), contextFor(m.host, cwd, out), { install });
      expect(code, out.stdout + out.stderr).to.equal(3);
      expect(out.stdout).to.not.match(/c: waiting/);
      expect(out.stdout).to.match(
        /c: no free device for a device from pool 'net' \(--fail-fast: not waiting\) \[POOL_EXHAUSTED\]/,
      );
      expect(seen.map((s) => s.name).sort()).to.deep.equal(['a', 'b']);
      expect(out.stdout).to.include('3 guests: 2 passed, 1 failed');
      expect(await driverOf('0000:03:00.0')).to.equal('e1000e');
    });
  });
});
