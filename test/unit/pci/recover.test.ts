import { expect } from 'chai';
import { execa } from 'execa';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ParsedRun } from '../../../src/pci/journal.js';
import { readJournals } from '../../../src/pci/journal.js';
import { prepareDevices } from '../../../src/pci/prepare.js';
import { reattachDevice } from '../../../src/pci/standalone.js';
import { formatRecoverReport, planRecovery, recover } from '../../../src/pci/recover.js';
import { type ModelHost, linkProcess, modelHost, standardSpec } from '../../helpers/kernel-model.js';
import { runCli } from '../../helpers/cli.js';
import { entries, expectClean, goneOwner, quietLog, rewriteLeaseOwners, writeLease } from './helpers.js';

const NIC = '0000:03:00.0';

let deadPid = 0;

/** Rewrites a journal's owner to a process that has exited, as if the run had been killed. */
async function orphan(
  m: ModelHost,
  file: string,
  owner: Partial<{ pid: number; startTime: string; bootId: string }> = {},
): Promise<number> {
  const pid = owner.pid ?? deadPid;
  linkProcess(m.root, pid);
  const lines = (await readFile(file, 'utf8')).split('\n');
  const head = JSON.parse(lines[0]!) as { owner: Record<string, unknown> };
  head.owner = { ...head.owner, pid, ...owner };
  lines[0] = JSON.stringify(head);
  await writeFile(file, lines.join('\n'));
  // and the leases it held
  await rewriteLeaseOwners(m.stateDir, { pid, ...owner });
  return pid;
}

/**
 * Writes the journal a run that died left (`<stateDir>/journal/<id>.jsonl`): its run record, the NIC
 * it detached to `target` from e1000e, then `more` records.
 */
async function writeJournal(
  stateDir: string,
  id: string,
  o: {
    owner: { pid: number; startTime: string; bootId: string | null };
    target: 'vfio-pci' | 'pci-stub';
    more: Record<string, unknown>[];
  },
): Promise<void> {
  const records = [
    { type: 'run', v: 1, id, owner: o.owner, guest: 'g', command: 'install', at: 'x' },
    {
      type: 'device',
      address: NIC,
      vendorDevice: '8086:10d3',
      iommuGroup: '7',
      original: { driver: 'e1000e', override: null },
      target: o.target,
      reason: 'requested',
    },
    ...o.more,
  ];
  await mkdir(path.join(stateDir, 'journal'), { recursive: true });
  await writeFile(
    path.join(stateDir, 'journal', `${id}.jsonl`),
    records.map((r) => JSON.stringify(r)).join('\n') + '\n',
  );
}

/** A run that detached NIC and then "died": the session is dropped without release. */
async function abandonedRun(m: ModelHost, driver: 'vfio-pci' | 'pci-stub' = 'vfio-pci'): Promise<string> {
  const s = await prepareDevices({
    host: m.host,
    stateDir: m.stateDir,
    addresses: [NIC],
    driver,
    reset: false,
    guest: 'web1',
    command: 'install',
    log: quietLog(),
  });
  // what a SIGKILL leaves: the journal without its end, the lease files in place
  await (s as unknown as { journal: { abandon(): Promise<void> } }).journal.abandon();
  return s.journalFile;
}

describe('recover', () => {
  let m: ModelHost;
  before(async () => {
    // a process that has exited: its PID stands for a killed owner
    deadPid = Number((await execa('node', ['-e', 'console.log(process.pid)'])).stdout);
  });
  afterEach(() => m?.cleanup());

  it('gives back the devices of a run whose owner is gone, closes its journal, and is idempotent', async () => {
    m = await modelHost(standardSpec());
    const file = await abandonedRun(m);
    const pid = await orphan(m, file);
    expect(m.model.driverOf(NIC)).to.equal('vfio-pci');
    const dry = await recover({ host: m.host, stateDir: m.stateDir, dryRun: true, log: quietLog() });
    const writes = m.model.writes.length;
    expect(formatRecoverReport(dry).join('\n')).to.include(
      `would recover: install for guest web1, PID ${pid} gone`,
    );
    expect(formatRecoverReport(dry).join('\n')).to.include(
      '0000:03:00.0 [8086:10d3]: vfio-pci (driver_override vfio-pci) → e1000e',
    );
    expect(m.model.writes.length, 'a dry run writes nothing').to.equal(writes);
    const log = quietLog();
    const r = await recover({ host: m.host, stateDir: m.stateDir, log });
    expect(r).to.deep.include({ restored: 1, failed: 0 });
    expect(r.runs[0]!.closed).to.equal(true);
    expect(m.model.binding(NIC)).to.deep.equal({ driver: 'e1000e', override: null });
    expect(log.lines.join('\n')).to.include('took over the stale lease');
    expect(r.staleLeases, "the gone run's device and group leases, taken over").to.equal(2);
    await expectClean(m);
    const again = await recover({ host: m.host, stateDir: m.stateDir, log: quietLog() });
    expect(formatRecoverReport(again)).to.deep.equal([`nothing to recover (state directory ${m.stateDir})`]);
    expect(m.model.writes.length - writes).to.equal(4);
  });

  it('counts in --json every stale lease it dealt with: taken over to give a device back, or removed', async () => {
    m = await modelHost(standardSpec());
    const file = await abandonedRun(m);
    await orphan(m, file);
    // a gone run that leased a device before it journaled anything
    await writeLease(m.stateDir, 'device-0000:04:00.0.lock', goneOwner(deadPid));
    const r = await runCli(['recover', '--json', '--state-dir', m.stateDir], { host: m.host, cwd: m.root });
    expect(r.code, r.stderr).to.equal(0);
    const tookOver = r.stderr.split('\n').filter((l) => l.includes('took over the stale lease'));
    expect(tookOver).to.have.length(2);
    const report = JSON.parse(r.stdout) as { restored: number; staleLeases: number };
    expect(report).to.deep.include({ restored: 1, staleLeases: 3 });
    await expectClean(m);
  });

  it('removes a dynamic id a dead pci-stub run left, before reprobing (else the stub would take the device back)', async () => {
    m = await modelHost(standardSpec());
    // what a run killed between new_id and remove_id leaves
    const { model, host } = m;
    await host.write('/sys/bus/pci/drivers/pci-stub/new_id', '8086 10d3');
    await host.write('/sys/bus/pci/drivers/e1000e/unbind', NIC);
    await host.write('/sys/bus/pci/drivers/pci-stub/bind', NIC);
    await writeJournal(m.stateDir, '20260101T000000-000Z-1-dead', {
      owner: { pid: 1, startTime: '0', bootId: null },
      target: 'pci-stub',
      more: [
        { type: 'dynid', driver: 'pci-stub', id: '8086 10d3', address: NIC },
        {
          type: 'intent',
          address: NIC,
          step: 'new_id',
          path: '/sys/bus/pci/drivers/pci-stub/new_id',
          value: '8086 10d3',
        },
      ],
    });
    expect(model.allDynids()).to.deep.equal(['pci-stub 8086:10d3']);
    const r = await recover({ host, stateDir: m.stateDir, log: quietLog() });
    expect(r.runs[0]!.dynids[0]!.result).to.equal('removed');
    expect(model.binding(NIC)).to.deep.equal({ driver: 'e1000e', override: null });
    await expectClean(m);
  });

  it('leaves a live owner alone, and a device kept on purpose until reattach', async () => {
    m = await modelHost(standardSpec());
    const live = await prepareDevices({
      host: m.host,
      stateDir: m.stateDir,
      addresses: [NIC],
      guest: 'live',
      command: 'install',
      log: quietLog(),
    });
    const r = await recover({ host: m.host, stateDir: m.stateDir, log: quietLog() });
    expect(r.runs[0]!.devices[0]!.action).to.equal('owner-alive');
    expect(m.model.driverOf(NIC)).to.equal('vfio-pci');
    await live.keep();
    const kept = await recover({ host: m.host, stateDir: m.stateDir, log: quietLog() });
    expect(kept.runs[0]!.devices[0]!.action).to.equal('kept');
    expect(formatRecoverReport(kept).join('\n')).to.include('kept detached on purpose');
    expect(m.model.driverOf(NIC)).to.equal('vfio-pci');
    const back = await reattachDevice({
      host: m.host,
      stateDir: m.stateDir,
      address: NIC,
      guest: 'g',
      command: 'hostdev reattach',
      log: quietLog(),
    });
    expect(back).to.deep.include({ source: 'journal', after: { driver: 'e1000e', override: null } });
    await expectClean(m);
  });

  it('treats a PID reused by another process, or another boot, as gone', async () => {
    m = await modelHost(standardSpec());
    const file = await abandonedRun(m);
    await orphan(m, file, { pid: process.pid, startTime: '1' });
    const r = await recover({ host: m.host, stateDir: m.stateDir, log: quietLog() });
    expect(r.restored).to.equal(1);
    await m.cleanup();
    m = await modelHost({
      ...standardSpec(),
      files: { ...standardSpec().files, '/proc/sys/kernel/random/boot_id': 'now\n' },
    });
    const f2 = await abandonedRun(m);
    await orphan(m, f2, { pid: process.pid, bootId: 'before' });
    expect((await recover({ host: m.host, stateDir: m.stateDir, log: quietLog() })).restored).to.equal(1);
  });

  it('at boot: devices are already back on their drivers, ids gone: nothing is written, journals close', async () => {
    // after a reboot the kernel has forgotten the binding and the ids; the journal remains
    m = await modelHost(standardSpec());
    await writeJournal(m.stateDir, 'old', {
      owner: { pid: 1, startTime: '1', bootId: 'previous' },
      target: 'vfio-pci',
      more: [{ type: 'dynid', driver: 'pci-stub', id: '8086 10d3', address: NIC }],
    });
    const r = await recover({ host: m.host, stateDir: m.stateDir, log: quietLog() });
    expect(r.runs[0]!.devices[0]!.result).to.equal('unchanged');
    expect(r.runs[0]!.dynids[0]!.result).to.equal('absent');
    expect(m.model.writes.map((w) => `${path.basename(w.path)} ${w.error ?? 'ok'}`)).to.deep.equal([
      'remove_id ENODEV',
    ]);
    expect(await entries(path.join(m.stateDir, 'journal'))).to.deep.equal([]);
  });

  it('plans newest run first, so the oldest original wins when two gone runs touched one device', () => {
    const run = (id: string, original: string): ParsedRun => ({
      file: id,
      id,
      owner: { pid: 1, startTime: null, bootId: null },
      guest: 'g',
      command: 'install',
      at: id,
      devices: [
        {
          address: NIC,
          vendorDevice: null,
          iommuGroup: null,
          original: { driver: original, override: null },
          target: 'vfio-pci',
          reason: 'r',
          state: 'pending',
        },
      ],
      dynids: [],
      intents: 1,
      ended: false,
      skippedLines: 0,
    });
    const plan = planRecovery([run('a', 'e1000e'), run('b', 'vfio-pci')], new Map(), new Map());
    expect(plan.map((p) => [p.runId, p.devices[0]!.original.driver])).to.deep.equal([
      ['b', 'vfio-pci'],
      ['a', 'e1000e'],
    ]);
    expect(
      planRecovery([run('a', 'e1000e')], new Map([['a', 'alive']]), new Map())[0]!.devices[0]!.action,
    ).to.equal('owner-alive');
  });

  it('a new run on a device a gone run left detached gives it back first, then detaches it with the true original', async () => {
    m = await modelHost(standardSpec());
    const file = await abandonedRun(m);
    await orphan(m, file);
    const log = quietLog();
    const s = await prepareDevices({
      host: m.host,
      stateDir: m.stateDir,
      addresses: [NIC],
      guest: 'next',
      command: 'install',
      log,
    });
    expect(log.lines.join('\n')).to.include('took over the stale lease');
    expect(s.devices[0]!.original).to.deep.equal({ driver: 'e1000e', override: null });
    await s.release();
    expect(m.model.binding(NIC)).to.deep.equal({ driver: 'e1000e', override: null });
    expect(await readJournals(m.stateDir)).to.deep.equal([]);
  });
});
