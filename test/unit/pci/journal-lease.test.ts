import { expect } from 'chai';
import { execa } from 'execa';
import { readFileSync, statSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createHost } from '../../../src/host/host.js';
import { type JournalRecord, foldRecords, parseJournalText, readJournals } from '../../../src/pci/journal.js';
import {
  acquireLeases,
  ownerStatus,
  parseProcStat,
  readProcStat,
  removeStaleLeases,
  selfIdentity,
} from '../../../src/pci/lease.js';
import { prepareDevices } from '../../../src/pci/prepare.js';
import { type ModelHost, linkProcess, modelHost, standardSpec } from '../../helpers/kernel-model.js';
import { goneOwner, quietLog, rejects, writeLease } from './helpers.js';

const NIC = '0000:03:00.0';

describe('journal', () => {
  let m: ModelHost;
  afterEach(() => m?.cleanup());

  it('writes each intent (fsynced) before the write it announces', async () => {
    m = await modelHost(standardSpec());
    const seen: string[] = [];
    const journalDir = path.join(m.stateDir, 'journal');
    const host = createHost({
      root: m.root,
      writer: async (abs, hostPath, value) => {
        const [file] = await readdir(journalDir);
        const records = parseJournalText(readFileSync(path.join(journalDir, file!), 'utf8')).records;
        const last = records.at(-1)!;
        expect(last, `the journal announces ${hostPath} before it is written`).to.deep.include({
          type: 'intent',
          path: hostPath,
          value,
        });
        seen.push(path.basename(hostPath));
        await m.model.writer(abs, hostPath, value);
      },
    });
    const s = await prepareDevices({
      host,
      stateDir: m.stateDir,
      addresses: [NIC],
      guest: 'web1',
      command: 'test',
      log: quietLog(),
    });
    const [run] = await readJournals(m.stateDir);
    expect(run).to.deep.include({ guest: 'web1', command: 'test', ended: false, intents: 3 });
    expect(run!.owner.pid).to.equal(process.pid);
    expect(run!.owner.startTime).to.match(/^\d+$/);
    expect(run!.devices[0]).to.deep.include({
      address: NIC,
      original: { driver: 'e1000e', override: null },
      state: 'detached',
    });
    await s.release();
    expect(seen).to.deep.equal([
      'driver_override',
      'unbind',
      'drivers_probe',
      'driver_override',
      'unbind',
      'drivers_probe',
      'driver_override',
    ]);
  });

  it('keeps its files private: state dir 0700, journal and leases 0600', async () => {
    m = await modelHost(standardSpec());
    const s = await prepareDevices({
      host: m.host,
      stateDir: m.stateDir,
      addresses: [NIC],
      guest: 'g',
      command: 't',
      log: quietLog(),
    });
    const mode = (p: string): number => statSync(p).mode & 0o777;
    expect(mode(m.stateDir)).to.equal(0o700);
    expect(mode(path.join(m.stateDir, 'journal'))).to.equal(0o700);
    expect(mode(s.journalFile)).to.equal(0o600);
    const lock = path.join(m.stateDir, 'leases', 'group-7.lock');
    expect(mode(lock)).to.equal(0o700);
    expect(mode(path.join(lock, (await readdir(lock))[0]!))).to.equal(0o600);
    await s.keep();
    const [run] = await readJournals(m.stateDir);
    expect(run!.devices[0]!.state).to.equal('kept');
    expect(run!.ended).to.equal(true);
  });

  it('skips a record cut short by a crash and folds device states', () => {
    const head: JournalRecord = {
      type: 'run',
      v: 1,
      id: 'r1',
      owner: { pid: 1, startTime: '5', bootId: null },
      guest: 'g',
      command: 'install',
      at: 'now',
    };
    const dev = (address: string): JournalRecord => ({
      type: 'device',
      address,
      vendorDevice: null,
      iommuGroup: '7',
      original: { driver: 'e1000e', override: null },
      target: 'vfio-pci',
      reason: 'requested',
    });
    const A = '0000:0a:00.0';
    const B = '0000:0b:00.0';
    const text = [
      head,
      dev(A),
      { type: 'state', address: A, state: 'detached' },
      dev(B),
      { type: 'state', address: B, state: 'restored' },
      { type: 'dynid', driver: 'pci-stub', id: '8086 10d3', address: A },
    ]
      .map((r) => JSON.stringify(r))
      .join('\n')
      .concat('\n{"type":"intent","addr');
    const { records, skipped } = parseJournalText(text);
    expect(skipped).to.equal(1);
    const run = foldRecords('f', records, skipped)!;
    expect(run.devices.map((d) => [d.address, d.state])).to.deep.equal([
      [A, 'detached'],
      [B, 'restored'],
    ]);
    expect(run.dynids).to.deep.equal([{ driver: 'pci-stub', id: '8086 10d3', address: A, pending: true }]);
    expect(foldRecords('f', [dev('a')])).to.equal(null);
  });
});

describe('process identity and leases', () => {
  let m: ModelHost;
  afterEach(() => m?.cleanup());

  it('parses /proc/<pid>/stat even when the command name holds spaces and parentheses', () => {
    const fields = Array.from({ length: 50 }, (_, i) => String(i + 3));
    const text = `4242 (qemu (x) 1) S ${fields.slice(1).join(' ')}`;
    expect(parseProcStat(text)).to.deep.equal({ pid: 4242, comm: 'qemu (x) 1', state: 'S', startTime: '22' });
    expect(parseProcStat('garbage')).to.equal(null);
  });

  it('tells a live owner from a dead one, a zombie, a reused PID and another boot', () => {
    const rec = { pid: 10, startTime: '500', bootId: 'b1' };
    const stat = (state: string, startTime: string) => ({ pid: 10, comm: 'x', state, startTime });
    expect(ownerStatus(rec, { stat: stat('S', '500'), bootId: 'b1' })).to.equal('alive');
    expect(ownerStatus(rec, { stat: null, bootId: 'b1' })).to.equal('gone');
    expect(ownerStatus(rec, { stat: stat('Z', '500'), bootId: 'b1' })).to.equal('gone');
    expect(ownerStatus(rec, { stat: stat('S', '501'), bootId: 'b1' }), 'PID reused').to.equal('gone');
    expect(ownerStatus(rec, { stat: stat('S', '500'), bootId: 'b2' }), 'another boot').to.equal('gone');
  });

  it('reads this process through the host root (field 22 of the real /proc/<pid>/stat)', async () => {
    m = await modelHost(standardSpec());
    const me = await selfIdentity(m.host);
    const real = parseProcStat(await readFile(`/proc/${process.pid}/stat`, 'utf8'))!;
    expect(me).to.deep.include({ pid: process.pid, startTime: real.startTime });
  });

  it('a live process is alive under --host-root even though the tree has no /proc/<pid>; a fake one is not', async () => {
    m = await modelHost(standardSpec());
    const child = execa('sleep', ['30']);
    try {
      const pid = child.pid!;
      const stat = parseProcStat(await readFile(`/proc/${pid}/stat`, 'utf8'))!;
      // nothing under the root stands for the child (no linkProcess): only the real /proc knows it
      await writeLease(m.stateDir, `device-${NIC}.lock`, {
        pid,
        startTime: stat.startTime,
        bootId: (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim(),
        guest: 'running',
        command: 'install',
        at: 'now',
        token: 'live',
      });
      const owner = { ...(await selfIdentity(m.host)), guest: 'second', command: 'test' };
      const busy = await rejects(
        acquireLeases({
          host: m.host,
          stateDir: m.stateDir,
          keys: [{ kind: 'device', id: NIC }],
          owner,
          log: quietLog(),
        }),
      );
      expect(busy.code).to.equal('DEVICE_BUSY');
      expect(busy.message).to.include(`PID ${pid}`);
      // a /proc/<pid>/stat planted in the tree does not make a gone owner alive
      const gone = 999_999;
      await mkdir(path.join(m.root, 'proc', String(gone)), { recursive: true });
      await writeFile(
        path.join(m.root, 'proc', String(gone), 'stat'),
        `${gone} (x) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 7 0 0`,
      );
      await writeLease(m.stateDir, 'group-9.lock', { ...goneOwner(gone), startTime: '7', token: 'planted' });
      const log = quietLog();
      const set = await acquireLeases({
        host: m.host,
        stateDir: m.stateDir,
        keys: [{ kind: 'group', id: '9' }],
        owner,
        log,
      });
      expect(log.lines[0]).to.match(/took over the stale lease on IOMMU group 9/);
      await set.release();
    } finally {
      child.kill();
      await child.catch(() => undefined);
    }
  });

  it('takes over a lease whose owner is gone, with a warning, and leaves a live one alone', async () => {
    m = await modelHost(standardSpec());
    const child = await execa('node', ['-e', 'console.log(process.pid)']);
    const deadPid = Number(child.stdout);
    linkProcess(m.root, deadPid); // dangling: the process has exited
    const leases = path.join(m.stateDir, 'leases');
    await writeLease(m.stateDir, 'device-0000:03:00.0.lock', goneOwner(deadPid));
    const log = quietLog();
    const owner = { ...(await selfIdentity(m.host)), guest: 'new', command: 'test' };
    const set = await acquireLeases({
      host: m.host,
      stateDir: m.stateDir,
      keys: [{ kind: 'device', id: NIC }],
      owner,
      log,
    });
    expect(log.lines[0]).to.match(/took over the stale lease on device 0000:03:00.0: PID \d+ \(guest old/);
    expect(set.takenOver).to.have.length(1);
    const again = await rejects(
      acquireLeases({
        host: m.host,
        stateDir: m.stateDir,
        keys: [{ kind: 'device', id: NIC }],
        owner: { ...owner, guest: 'third' },
        log,
      }),
    );
    expect(again.code).to.equal('DEVICE_BUSY');
    expect(again.message).to.include('guest new');
    await set.release();
    expect(await readdir(leases)).to.deep.equal([]);
  });

  it('several runs taking over one stale lease at once: exactly one gets it', async () => {
    m = await modelHost(standardSpec());
    const leases = path.join(m.stateDir, 'leases');
    const stale = goneOwner(999_999_999, { command: 'x', token: 'old' });
    await writeLease(m.stateDir, 'group-7.lock', stale);
    const me = await selfIdentity(m.host);
    const results = await Promise.allSettled(
      ['a', 'b', 'c', 'd', 'e'].map((guest) =>
        acquireLeases({
          host: m.host,
          stateDir: m.stateDir,
          keys: [{ kind: 'group', id: '7' }],
          owner: { ...me, guest, command: 't' },
          log: quietLog(),
        }),
      ),
    );
    const won = results.filter((r) => r.status === 'fulfilled');
    expect(won).to.have.length(1);
    for (const r of results)
      if (r.status === 'rejected') expect((r.reason as { code: string }).code).to.equal('DEVICE_BUSY');
    expect((await readdir(leases)).sort()).to.deep.equal(['group-7.lock']);
    await (won[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof acquireLeases>>>).value.release();
  });

  it('recover-time cleanup removes leases of gone owners only', async () => {
    m = await modelHost(standardSpec());
    const me = { ...(await selfIdentity(m.host)), guest: 'live', command: 't' };
    const live = await acquireLeases({
      host: m.host,
      stateDir: m.stateDir,
      keys: [{ kind: 'device', id: 'x' }],
      owner: me,
      log: quietLog(),
    });
    await writeLease(
      m.stateDir,
      'device-y.lock',
      goneOwner(999_999_999, { guest: 'dead', command: 'x', token: 't' }),
    );
    const removed = await removeStaleLeases(m.host, m.stateDir);
    expect(removed.map((o) => o.guest)).to.deep.equal(['dead']);
    expect(await readdir(path.join(m.stateDir, 'leases'))).to.deep.equal(['device-x.lock']);
    await live.release();
  });

  it('takes all leases or none', async () => {
    m = await modelHost(standardSpec());
    const owner = { ...(await selfIdentity(m.host)), guest: 'a', command: 'test' };
    const first = await acquireLeases({
      host: m.host,
      stateDir: m.stateDir,
      keys: [{ kind: 'device', id: 'z' }],
      owner,
      log: quietLog(),
    });
    await rejects(
      acquireLeases({
        host: m.host,
        stateDir: m.stateDir,
        keys: [
          { kind: 'group', id: '1' },
          { kind: 'device', id: 'a' },
          { kind: 'device', id: 'z' },
        ],
        owner,
        log: quietLog(),
      }),
    );
    expect(await readdir(path.join(m.stateDir, 'leases'))).to.deep.equal(['device-z.lock']);
    await first.release();
    expect(await readProcStat(m.host, 999_999_999)).to.equal(null);
  });
});
