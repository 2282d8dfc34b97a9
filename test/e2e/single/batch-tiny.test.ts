/**
 * `install-guest batch` for real on the test bed: three tiny guests from the bed's install tree at
 * concurrency 2 (real qemu under TCG, real installs, real confirm boots from the installed disks).
 * The device pool is the host's own (the bed host has no IOMMU, so `hostdev: auto` falls back to
 * user networking and says so); the JUnit report is checked against the Jenkins junit-10 schema.
 */
import { expect } from 'chai';
import { execa } from 'execa';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readHostPool } from '../../../src/batch/host-pool.js';
import { createHost } from '../../../src/host/host.js';
import { alive, killLeft, qemuPids, runCliWatched } from '../../helpers/processes.js';
import { type Bed, ensureBed } from '../bed/index.js';

const JUNIT_XSD = path.resolve('fixtures/junit-10.xsd');
const GUESTS = ['t1', 't2', 't3'];

interface GuestJson {
  name: string;
  status: string;
  exitCode: number;
  devices: unknown[];
  logDir: string;
  startedAt: string;
  waitedSec: number;
  timeSec: number;
  phases: { phase: string; status: string; timeSec: number }[];
  note?: string;
}

describe('install-guest batch: three tiny guests at concurrency 2 (single TCG)', function () {
  this.timeout(300_000);
  let bed: Bed;
  let tmp: string;
  const pids: number[] = [];

  before(async function () {
    this.timeout(15 * 60_000);
    bed = await ensureBed();
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'ig-batch-e2e-'));
  });
  after(async () => {
    // every qemu the batch started has ended; a failed assertion must not leave one behind
    killLeft(pids);
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  });

  it('installs and confirms every guest, two at a time: logs, summary, --json results, valid JUnit (exit 0)', async () => {
    await fs.writeFile(
      path.join(tmp, 'tiny.yaml'),
      [
        'name: tiny',
        'defaults:',
        `  location: ${bed.media.treeDir}`,
        '  os-variant: fedora',
        '  memory: 512',
        '  disk: size=1',
        '  accel: tcg',
        '  network: user,model=e1000e',
        // the bed's TCG boot arguments (no_timer_check: a starved TCG vCPU can fail the IO-APIC timer check)
        `  extra-args: ${bed.fastKernelArgs.join(' ')}`,
        '  hostdev: auto',
        'guests:',
        ...GUESTS.map((g) => `  - name: ${g}`),
        '',
      ].join('\n'),
    );
    // the pool is this host's: on a host that could give a NIC, an empty inventory keeps the guests
    // on user networking (this spec installs under TCG, where a real device cannot be assigned)
    const hostPool = await readHostPool(createHost({ root: '/' }));
    const hostHasNics = hostPool.devices.some((d) => d.class.startsWith('0x02'));
    if (hostHasNics) await fs.writeFile(path.join(tmp, 'empty.json'), '[]\n');
    const junit = path.join(tmp, 'out', 'junit.xml');
    const logRoot = path.join(tmp, 'logs');
    const { code, stdout, stderr, ms } = await runCliWatched(
      [
        'batch',
        'tiny.yaml',
        '--concurrency',
        '2',
        '--junit',
        junit,
        '--log-dir',
        logRoot,
        '--json',
        ...(hostHasNics ? ['--inventory', 'empty.json'] : []),
      ],
      tmp,
    );
    const wallSec = ms / 1000;
    for (const g of GUESTS) {
      const log = await fs.readFile(path.join(logRoot, g, 'install-guest.log'), 'utf8').catch(() => '');
      pids.push(...qemuPids(log));
    }
    expect(code, stderr.slice(-4000)).to.equal(0);

    // --json: the results on stdout, the progress and summary on stderr
    const result = JSON.parse(stdout) as {
      batch: string;
      exitCode: number;
      counts: Record<string, number>;
      guests: GuestJson[];
    };
    expect(result.batch).to.equal('tiny');
    expect(result.exitCode).to.equal(0);
    expect(result.counts).to.deep.equal({ passed: 3, failed: 0, skipped: 0, cancelled: 0 });
    expect(result.guests.map((g) => g.name)).to.deep.equal(GUESTS);
    for (const g of result.guests) {
      expect(g.status, g.name).to.equal('passed');
      expect(g.exitCode).to.equal(0);
      expect(g.phases.map((p) => `${p.phase} ${p.status}`)).to.deep.equal([
        'install passed',
        'confirm passed',
      ]);
      for (const p of g.phases) expect(p.timeSec, `${g.name} ${p.phase}`).to.be.above(1);
      expect(g.devices, 'no device assigned: auto fell back').to.deep.equal([]);
      expect(g.note).to.match(
        /no assignable network function in the pool; installing without it \(user networking\)/,
      );
      expect(g.logDir).to.equal(path.join(logRoot, g.name));
    }
    // two at a time: the third starts only when one of the first two has ended
    const span = result.guests.map((g) => {
      const start = Date.parse(g.startedAt);
      return { name: g.name, start, end: start + g.timeSec * 1000 };
    });
    const [a, b, c] = span;
    expect(Math.abs(a!.start - b!.start), 't1 and t2 start together').to.be.below(5000);
    expect(c!.start, 't3 waits for a slot').to.be.at.least(Math.min(a!.end, b!.end) - 1000);
    expect(c!.start).to.be.below(Math.max(a!.end, b!.end));
    expect(result.guests[2]!.waitedSec).to.be.above(result.guests[0]!.timeSec / 2);

    expect(stderr).to.match(/^GUEST\s+RESULT\s+INSTALL\s+CONFIRM/m);
    for (const g of GUESTS) {
      expect(stderr).to.match(new RegExp(`^${g}\\s+passed\\s+passed\\s+passed\\s+-\\s`, 'm'));
      expect(stderr).to.match(new RegExp(`${g}: warning: hostdev auto: no assignable network function`));
    }
    expect(stderr).to.match(/3 guests: 3 passed, 0 failed, 0 skipped, 0 cancelled in [\d.]+s \(exit 0\)/);
    expect(stderr).to.include(`JUnit report: ${junit}`);

    // every guest has its own log dir with the install's logs: both boots, watched to the end
    expect((await fs.readdir(logRoot)).sort()).to.deep.equal([...GUESTS, 'results.json', 'state'].sort());
    for (const g of GUESTS) {
      const dir = path.join(logRoot, g);
      const files = await fs.readdir(dir);
      for (const f of [
        'install-guest.log',
        'serial-install.log',
        'serial-confirm.log',
        'install.args',
        'result.json',
      ])
        expect(files, `${g}/${f}`).to.include(f);
      expect(await fs.readFile(path.join(dir, 'serial-install.log'), 'utf8')).to.include(
        'Installation complete',
      );
      expect(await fs.readFile(path.join(dir, 'serial-confirm.log'), 'utf8')).to.include('IG-CONFIRM end');
      // each guest installed onto its own disk
      expect((await fs.stat(path.join(tmp, `${g}.qcow2`))).size).to.be.above(0);
    }
    const saved = JSON.parse(await fs.readFile(path.join(logRoot, 'results.json'), 'utf8')) as typeof result;
    expect(saved.counts).to.deep.equal(result.counts);

    // JUnit: one case per guest and phase, valid against the Jenkins junit-10 schema
    const v = await execa('xmllint', ['--noout', '--schema', JUNIT_XSD, junit], { reject: false });
    expect(v.exitCode, v.stderr).to.equal(0);
    const xpath = async (x: string): Promise<string> =>
      (await execa('xmllint', ['--xpath', x, junit])).stdout;
    expect(await xpath('count(//testcase)')).to.equal('6');
    expect(await xpath('count(//testcase[failure or error or skipped])')).to.equal('0');
    expect(await xpath('string(/testsuites/@tests)')).to.equal('6');
    expect(await xpath('string(//testcase[@classname="t3"][@name="confirm"]/@name)')).to.equal('confirm');

    for (const pid of pids) expect(alive(pid), `qemu ${pid} still running`).to.equal(false);
    expect(pids.length, 'two boots per guest').to.equal(6);
    console.log(`      (batch of 3 tiny guests at concurrency 2: ${wallSec.toFixed(1)} s wall)`);
  });
});
