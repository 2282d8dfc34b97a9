/**
 * `install-guest batch` through main() (in-process) and the built CLI: the dry-run plan of every
 * fixture manifest against golden files, every manifest error at once, and real runs: through the
 * real install pipeline (which stops at the not-yet-implemented launch stage) and with an injected
 * install, checking log dirs, results, JUnit, --resume and --print-xml.
 */
import { expect } from 'chai';
import { execa } from 'execa';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runBatchCommand } from '../../src/batch/command.js';
import type { BatchGuest } from '../../src/batch/plan.js';
import type { Allocation } from '../../src/batch/pool.js';
import type { GuestResult } from '../../src/batch/scheduler.js';
import type { Args, CommandContext } from '../../src/command-context.js';
import { createHost, fixedClock, sequentialIds } from '../../src/host/host.js';
import { BUILT_CLI, runCli } from '../helpers/cli.js';
import { golden } from '../helpers/golden.js';

const FIXTURES = path.resolve('fixtures');
const BATCH = path.join(FIXTURES, 'batch');
const INVENTORY = path.join(BATCH, 'inventory.json');
const XSD = path.join(BATCH, 'junit.xsd');
const manifests = readdirSync(BATCH).filter((f) => /\.(ya?ml|json)$/.test(f) && f !== 'inventory.json');

function contextFor(cwd: string, out: { stdout: string; stderr: string }, json = false): CommandContext {
  const deps = {
    argv: [],
    env: {},
    stdout: { write: (s: string) => (out.stdout += s) },
    stderr: { write: (s: string) => (out.stderr += s) },
    cwd,
  };
  return {
    deps,
    host: createHost({
      root: path.join(FIXTURES, 'cases', '_empty-host'),
      clock: fixedClock(),
      ids: sequentialIds(),
    }),
    json,
    print: (l) => void (out.stdout += `${l}\n`),
    printJson: (v) => void (out.stdout += `${JSON.stringify(v)}\n`),
    warn: (l) => void (out.stderr += `${l}\n`),
  };
}

describe('batch command', function () {
  let cwd: string;
  const host = () =>
    createHost({
      root: path.join(FIXTURES, 'cases', '_empty-host'),
      clock: fixedClock(),
      ids: sequentialIds(),
    });
  beforeEach(async () => {
    cwd = await mkdtemp(path.join(os.tmpdir(), 'ig-batch-'));
  });
  afterEach(() => rm(cwd, { recursive: true, force: true }));

  it('has fixture manifests, YAML and JSON', () => {
    expect(manifests).to.include.members(['fleet.yaml', 'single.json']);
  });

  for (const file of manifests) {
    it(`--dry-run prints the plan of ${file} (golden), and changes nothing`, async () => {
      const r = await runCli(
        ['batch', path.join(BATCH, file), '--dry-run', '--concurrency', '2', '--inventory', INVENTORY],
        { host: host(), cwd },
      );
      expect(r.code, r.stderr).to.equal(0);
      const text = r.stdout.replaceAll(FIXTURES, '<fixtures>').replaceAll(cwd, '<cwd>');
      golden(path.join(BATCH, 'expected', `${file}.plan.txt`), text);
      expect(readdirSync(cwd), 'a dry run creates nothing').to.deep.equal([]);
      const j = await runCli(
        ['batch', path.join(BATCH, file), '--dry-run', '--json', '--inventory', INVENTORY],
        {
          host: host(),
          cwd,
        },
      );
      expect(j.code).to.equal(0);
      const plan = JSON.parse(j.stdout) as {
        dryRun: boolean;
        guests: { name: string; predicted: unknown }[];
      };
      expect(plan.dryRun).to.equal(true);
      for (const g of plan.guests) expect(g.predicted, g.name).to.be.an('object');
    });
  }

  it('reports every error of a bad manifest with file, path and line, then exits 2', async () => {
    const file = path.join(BATCH, 'invalid', 'ten-errors.yaml');
    const r = await runCli(['batch', file, '--dry-run'], { host: host(), cwd });
    expect(r.code).to.equal(2);
    const listed = r.stderr.split('\n').filter((l) => l.startsWith(`${file}: `));
    expect(listed).to.have.length(10);
    for (const l of listed) expect(l).to.match(/ \(line \d+\): /);
    expect(listed).to.include(
      `${file}: guests[2].hostdev (line 15): --hostdev 'zz:zz' is not a PCI address, vendor:device, interface name or 'auto'`,
    );
    expect(r.stderr).to.match(/has 10 errors \(listed above\).*\[BAD_MANIFEST\]/);
    expect(r.stderr).to.not.match(/\n\s+at /);
    const j = await runCli(['batch', file, '--json'], { host: host(), cwd });
    expect(j.code).to.equal(2);
    const e = JSON.parse(j.stdout) as {
      error: { code: string; data: { errors: { path: string; line: number }[] } };
    };
    expect(e.error.code).to.equal('BAD_MANIFEST');
    expect(e.error.data.errors.map((x) => x.line)).to.have.length(10);
  });

  it('names a manifest it cannot read and a bad --concurrency', async () => {
    const r = await runCli(['batch', 'nope.yaml'], { host: host(), cwd });
    expect(r.code).to.equal(2);
    expect(r.stderr).to.include(`cannot read manifest ${path.join(cwd, 'nope.yaml')} (ENOENT)`);
    expect(r.stderr).to.include('[MANIFEST_NOT_FOUND]');
    const c = await runCli(['batch', path.join(BATCH, 'fleet.yaml'), '--dry-run', '--concurrency', '0'], {
      host: host(),
      cwd,
    });
    expect(c.code).to.equal(2);
    expect(c.stderr).to.include("--concurrency '0' is not a positive whole number");
  });

  it("without an inventory, plans against the host's own devices (none here): auto falls back, named devices cannot start", async () => {
    const r = await runCli(['batch', path.join(BATCH, 'fleet.yaml'), '--dry-run'], { host: host(), cwd });
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.include('order (simulated against this host (no IOMMU: no device can be assigned)');
    expect(r.stdout).to.match(
      /note: hostdev auto: no assignable network function in the pool; installing without it/,
    );
    expect(r.stdout).to.match(
      /-\. web2\s+does not start: guest web2: no device in the inventory matches 0000:03:00\.0/,
    );
    expect(r.stdout).to.match(/1\. web1\s+starts at once\n\s+2\. tools\s+starts after web1 ends/);
  });

  it('runs guests through the real install pipeline: per-guest logs, results, JUnit, exit code of the failure', async () => {
    const manifest = path.join(cwd, 'm.yaml');
    await writeFile(
      manifest,
      [
        'defaults:',
        `  boot: kernel=${path.join(FIXTURES, 'cases', '_media', 'vmlinuz')}`,
        '  disk: size=1',
        '  accel: tcg',
        'guests:',
        '  - name: g1',
        '  - name: g2',
        '',
      ].join('\n'),
    );
    const junit = path.join(cwd, 'out', 'junit.xml');
    const r = await runCli(['batch', manifest, '--concurrency', '2', '--junit', junit], {
      host: host(),
      cwd,
    });
    // the fixture kernel is not a real one: each guest's qemu refuses it at launch (a guest error, exit 1)
    expect(r.code, r.stderr + r.stdout).to.equal(1);
    expect(r.stdout).to.match(/g1: started/);
    expect(r.stdout).to.match(/^GUEST\s+RESULT/m);
    expect(r.stdout).to.match(/g1: qemu exited with code 1 before answering QMP: .*\[QEMU_EXITED_EARLY\]/);
    expect(r.stdout).to.include('2 guests: 0 passed, 2 failed');
    const logRoot = path.join(cwd, 'm-logs');
    expect(readdirSync(logRoot).sort()).to.deep.equal(['g1', 'g2', 'results.json']);
    expect(readFileSync(path.join(logRoot, 'g1', 'install-guest.log'), 'utf8')).to.include(
      'qemu exited with code 1',
    );
    expect(
      existsSync(path.join(path.dirname(manifest), 'g1.qcow2')),
      'the failed run removed its disk',
    ).to.equal(false);
    const results = JSON.parse(readFileSync(path.join(logRoot, 'results.json'), 'utf8')) as {
      guests: { status: string; phases: { phase: string; status: string }[] }[];
    };
    expect(results.guests.map((g) => g.status)).to.deep.equal(['failed', 'failed']);
    const v = await execa('xmllint', ['--noout', '--schema', XSD, junit], { reject: false });
    expect(v.exitCode, v.stderr).to.equal(0);
    const xml = await readFile(junit, 'utf8');
    expect(xml.match(/<testcase /g)).to.have.length(4);
    expect(xml).to.include(`log: ${path.join(logRoot, 'g1')}`);
  });

  it('gives each guest the media cache and the environment: an ISO guest is extracted into INSTALL_GUEST_CACHE_DIR', async () => {
    const manifest = path.join(cwd, 'm.yaml');
    const cache = path.join(cwd, 'cache');
    await writeFile(
      manifest,
      [
        'guests:',
        '  - name: iso1',
        `    location: ${path.join(FIXTURES, 'cases', '_media', 'install.iso')}`,
        '    disk: size=1',
        '    accel: tcg',
        '',
      ].join('\n'),
    );
    const r = await runCli(['batch', manifest], {
      host: host(),
      cwd,
      env: { INSTALL_GUEST_CACHE_DIR: cache },
    });
    const out = r.stdout + r.stderr;
    expect(out).to.not.match(/internal error|TypeError/);
    expect(existsSync(cache), 'the ISO was read through the cache named by the environment').to.equal(true);
    expect(readdirSync(cache).length).to.be.greaterThan(0);
  });

  it('refuses a --junit path it cannot write before any guest starts (exit 2, no log dir)', async () => {
    const manifest = path.join(cwd, 'j.yaml');
    await writeFile(
      manifest,
      [
        'guests:',
        `  - name: j1`,
        `    boot: kernel=${path.join(FIXTURES, 'cases', '_media', 'vmlinuz')}`,
        '',
      ].join('\n'),
    );
    for (const [junit, why] of [
      ['/dev/null/report.xml', '/dev/null is not a directory'],
      [cwd, 'it is a directory'],
    ] as const) {
      const r = await runCli(['batch', manifest, '--junit', junit], { host: host(), cwd });
      expect(r.code, r.stderr + r.stdout).to.equal(2);
      expect(r.stderr.trim()).to.equal(
        `install-guest: --junit '${junit}' cannot be written: ${why} (hint: give --junit a file in a directory you can write to) [BAD_OUTPUT_PATH]`,
      );
      expect(r.stdout).to.not.include('j1: started');
      expect(existsSync(path.join(cwd, 'j-logs'))).to.equal(false);
    }
  });

  it('with an injected install: passes, records, skips on --resume, re-runs a changed guest, prints valid XML', async function () {
    this.timeout(30_000);
    const manifest = path.join(cwd, 'fleet.yaml');
    const write = (memory: string) =>
      writeFile(
        manifest,
        [
          'defaults:',
          '  import: true',
          'guests:',
          '  - name: a',
          '    disk: path=a.qcow2',
          '    hostdev: auto',
          '  - name: b',
          '    disk: path=b.qcow2',
          `    memory: ${memory}`,
          '    hostdev: 0000:05:00.0',
          '',
        ].join('\n'),
      );
    await write('1024');
    const calls: { name: string; devices: string[] }[] = [];
    const install = (g: BatchGuest, a: Allocation): Promise<GuestResult> => {
      calls.push({ name: g.name, devices: a.devices.map((d) => d.address) });
      return Promise.resolve({
        phases: [
          { phase: 'install', status: 'passed', timeSec: 1 },
          { phase: 'confirm', status: 'passed', timeSec: 1 },
        ],
      });
    };
    const args = (extra: Record<string, unknown> = {}): Args => ({
      _: ['batch'],
      manifest,
      inventory: INVENTORY,
      concurrency: '2',
      ...extra,
    });
    const out1 = { stdout: '', stderr: '' };
    expect(await runBatchCommand(args(), contextFor(cwd, out1), { install })).to.equal(0);
    expect(calls.map((c) => c.name).sort()).to.deep.equal(['a', 'b']);
    expect(calls.find((c) => c.name === 'b')!.devices).to.deep.equal(['0000:05:00.0']);

    const out2 = { stdout: '', stderr: '' };
    expect(await runBatchCommand(args({ resume: true }), contextFor(cwd, out2), { install })).to.equal(0);
    expect(calls, 'nothing re-ran').to.have.length(2);
    expect(out2.stdout).to.match(/a: skipped, passed in an earlier run/);

    await write('2048');
    const out3 = { stdout: '', stderr: '' };
    expect(
      await runBatchCommand(args({ resume: true, printXml: true }), contextFor(cwd, out3), { install }),
    ).to.equal(0);
    expect(
      calls.slice(2).map((c) => c.name),
      'only the changed guest ran again',
    ).to.deep.equal(['b']);
    // --print-xml: the XML goes to stdout, the progress to stderr
    expect(out3.stderr).to.match(/^GUEST/m);
    const xml = out3.stdout;
    expect(xml).to.include('<!-- install-guest batch fleet: guest b -->');
    const domainFile = path.join(cwd, 'fleet-logs', 'b', 'domain.xml');
    const v = await execa('virt-xml-validate', [domainFile, 'domain'], { reject: false });
    expect(v.exitCode, v.stderr + v.stdout).to.equal(0);
    const domain = await readFile(domainFile, 'utf8');
    expect(domain).to.include("<address domain='0x0000' bus='0x05' slot='0x00' function='0x0'/>");
    expect(domain).to.include("<memory unit='MiB'>2048</memory>");
  });
});

describe('built CLI: batch and provision', () => {
  const CLI = BUILT_CLI;
  it('runs batch --dry-run and answers provision --help', async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first (npm test does)`);
    const r = await execa(
      'node',
      [CLI, 'batch', path.join(BATCH, 'fleet.yaml'), '--dry-run', '--inventory', INVENTORY],
      {
        reject: false,
        env: { INSTALL_GUEST_HOST_ROOT: path.join(FIXTURES, 'cases', '_empty-host') },
      },
    );
    expect(r.exitCode, r.stderr).to.equal(0);
    expect(r.stdout).to.include('order (simulated against the inventory');
    const h = await execa('node', [CLI, 'provision', '--help'], { reject: false });
    expect(h.exitCode).to.equal(0);
    for (const o of ['--base', '--hostdev', '--print-xml', '--print-kubevirt', '--dry-run'])
      expect(h.stdout).to.include(o);
  });
});
