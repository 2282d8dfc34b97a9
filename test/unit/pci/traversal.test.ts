/**
 * The state directory is never a way out of the host root: a path traversal (or another value out of
 * its grammar) in EVERY field of a journal record and of a lease, read back by `recover`, leads to no
 * write outside the host root and to no change of a tree beside it. Run on the fake sysfs tree with
 * the kernel model; a run that detached the NIC with pci-stub (so its journal holds every record
 * type) is left behind as a killed run would leave it, then one field is made hostile.
 */
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { prepareDevices } from '../../../src/pci/prepare.js';
import { recover } from '../../../src/pci/recover.js';
import { type ModelHost, modelHost, standardSpec } from '../../helpers/kernel-model.js';
import { quietLog, writeLease } from './helpers.js';

const NIC = '0000:03:00.0';

/** Every file and link under dir with its content hash: equal before and after means untouched. */
async function hashTree(dir: string): Promise<string> {
  const h = createHash('sha256');
  for (const rel of ((await readdir(dir, { recursive: true }))).sort()) {
    const p = path.join(dir, rel);
    const st = await stat(p).catch(() => null);
    h.update(rel);
    if (st?.isFile()) h.update(await readFile(p));
    else h.update(await readlink(p).catch(() => 'dir'));
  }
  return h.digest('hex');
}

/** A run that detached NIC with pci-stub (dynid records too) and was killed: an owner from another boot. */
async function killedRun(m: ModelHost): Promise<string> {
  const s = await prepareDevices({
    host: m.host,
    stateDir: m.stateDir,
    addresses: [NIC],
    driver: 'pci-stub',
    reset: false,
    guest: 'web1',
    command: 'install',
    log: quietLog(),
  });
  await (s as unknown as { journal: { abandon(): Promise<void> } }).journal.abandon();
  return s.journalFile;
}

type Rec = Record<string, unknown>;

/** Sets one dotted field of the first record of `type` (adding a record of that type when absent). */
function setField(records: Rec[], type: string, field: string, value: unknown): void {
  let r = records.find((x) => x.type === type);
  if (!r) {
    const add: Record<string, Rec> = {
      'dynid-done': { type: 'dynid-done', driver: 'pci-stub', id: '8086 10d3', outcome: 'removed' },
      intent: {
        type: 'intent',
        address: NIC,
        step: 'bind',
        path: '/sys/bus/pci/drivers/pci-stub/bind',
        value: NIC,
      },
      state: { type: 'state', address: NIC, state: 'detached' },
    };
    r = { ...add[type]! };
    records.push(r);
  }
  const parts = field.split('.');
  let o = r;
  for (const p of parts.slice(0, -1)) o = o[p] as Rec;
  o[parts.at(-1)!] = value;
}

describe('state directory: no way out of the host root', function () {
  this.timeout(60_000);
  let m: ModelHost;
  let outside: string;
  let escape: string;
  beforeEach(async () => {
    m = await modelHost(standardSpec());
    // a tree beside the host root standing for the real /sys and /etc a hostile value aims at
    outside = await mkdtemp(path.join(os.tmpdir(), 'ig-victim-'));
    for (const f of [
      'victim/driver_override',
      'victim/bind',
      'victim/unbind',
      'victimdrv/bind',
      'victimdrv/remove_id',
    ])
      await mkdir(path.dirname(path.join(outside, f)), { recursive: true }).then(() =>
        writeFile(path.join(outside, f), 'untouched\n'),
      );
    escape = `${'../'.repeat(16)}${outside.slice(1)}/victim`;
  });
  afterEach(async () => {
    await m.cleanup();
    await rm(outside, { recursive: true, force: true });
  });

  /** recover on the state as it is; asserts nothing outside the root was written or changed. */
  async function recoverAndCheck(label: string): Promise<Awaited<ReturnType<typeof recover>>> {
    const before = await hashTree(outside);
    const r = await recover({ host: m.host, stateDir: m.stateDir, log: quietLog() });
    // the model records host paths: each resolved under the root must stay in it
    for (const w of m.model.writes)
      expect(m.host.resolve(w.path).startsWith(`${m.root}/`), `${label}: write to ${w.path}`).to.equal(true);
    expect(await hashTree(outside), `${label}: the tree outside the root changed`).to.equal(before);
    return r;
  }

  const JOURNAL_FIELDS: [type: string, field: string][] = [
    ['run', 'id'],
    ['run', 'owner.pid'],
    ['run', 'owner.startTime'],
    ['run', 'owner.bootId'],
    ['run', 'guest'],
    ['run', 'command'],
    ['run', 'at'],
    ['device', 'address'],
    ['device', 'vendorDevice'],
    ['device', 'iommuGroup'],
    ['device', 'original.driver'],
    ['device', 'original.override'],
    ['device', 'target'],
    ['device', 'reason'],
    ['device', 'from'],
    ['dynid', 'driver'],
    ['dynid', 'id'],
    ['dynid', 'address'],
    ['dynid-done', 'driver'],
    ['dynid-done', 'id'],
    ['state', 'address'],
    ['state', 'to'],
    ['intent', 'address'],
    ['intent', 'path'],
  ];

  for (const [type, field] of JOURNAL_FIELDS) {
    it(`journal ${type}.${field} = a traversal: refused, no write outside the root`, async () => {
      const file = await killedRun(m);
      const records = (await readFile(file, 'utf8'))
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Rec);
      // the owner is gone: another boot
      (records[0]!.owner as Rec).bootId = 'previous-boot';
      // each field gets the traversal in the form it would be read as (free text fields: with a
      // terminal escape too, which would be echoed)
      const hostile = ['guest', 'command', 'at', 'reason', 'from'].includes(field)
        ? `${escape}\u001b[2J\u202e`
        : escape;
      setField(records, type, field, hostile);
      await writeFile(file, records.map((r) => JSON.stringify(r)).join('\n') + '\n');
      const r = await recoverAndCheck(`${type}.${field}`);
      const refused = r.rejected.flatMap((j) => j.lines.map((l) => l.reason));
      expect(refused.join('\n'), `${type}.${field}`).to.include(field.split('.').at(-1));
      expect(r.failed).to.be.greaterThan(0);
      // the journal holding the refused line stays for a person to read
      expect((await stat(file)).isFile()).to.equal(true);
      // no value written anywhere carries the hostile text
      for (const w of m.model.writes) expect(w.value).to.not.include('victim');
    });
  }

  it('a journal file that is a link to a file outside: not read, never appended to', async () => {
    const file = await killedRun(m);
    const text = await readFile(file, 'utf8');
    await writeFile(
      path.join(outside, 'victim', 'journal.jsonl'),
      text.replace(/"bootId":"[^"]*"/, '"bootId":"x"'),
    );
    await rm(file);
    await symlink(path.join(outside, 'victim', 'journal.jsonl'), file);
    const r = await recoverAndCheck('journal link');
    expect(r.rejected[0]!.lines[0]!.reason).to.match(/not a regular file/);
  });

  const LEASE_FIELDS: [field: string, value: unknown][] = [
    ['pid', `${'../'.repeat(4)}self`],
    ['pid', -1],
    ['pid', 1.5],
    ['startTime', '../1'],
    ['bootId', '../../b'],
    ['token', '../../../victim/x'],
    ['guest', `ESCAPE\u001b]0;owned\u0007`],
    ['command', '\u202eevil'],
    ['at', '\u001b[31m'],
  ];

  for (const [field, value] of LEASE_FIELDS) {
    it(`lease owner ${field} = ${JSON.stringify(value)}: refused (stale), no write outside the root`, async () => {
      const file = await killedRun(m);
      const lines = (await readFile(file, 'utf8')).split('\n');
      const head = JSON.parse(lines[0]!) as Rec;
      (head.owner as Rec).bootId = 'previous-boot';
      lines[0] = JSON.stringify(head);
      await writeFile(file, lines.join('\n'));
      // the killed run's device lease, with one hostile field
      const leases = path.join(m.stateDir, 'leases');
      await rm(leases, { recursive: true, force: true });
      const owner: Rec = {
        pid: 1,
        startTime: '1',
        bootId: 'previous-boot',
        guest: 'g',
        command: 'install',
        at: 'x',
        token: 'tok',
      };
      owner[field] = typeof value === 'string' ? value.replace('ESCAPE', escape) : value;
      await writeLease(m.stateDir, `device-${NIC}.lock`, { ...owner, token: 'tok' });
      if (field === 'token') {
        await writeFile(path.join(leases, `device-${NIC}.lock`, 'owner.tok.json'), JSON.stringify(owner));
      }
      const log = quietLog();
      const before = await hashTree(outside);
      const r = await recover({ host: m.host, stateDir: m.stateDir, log });
      for (const w of m.model.writes) expect(m.host.resolve(w.path).startsWith(`${m.root}/`)).to.equal(true);
      expect(await hashTree(outside)).to.equal(before);
      // the owner file is refused: the lease counts as stale and the device goes back
      expect(r.restored, log.lines.join('\n')).to.equal(1);
      // eslint-disable-next-line no-control-regex
      for (const l of log.lines) expect(l).to.not.match(/[\u001b\u0007\u202e]/);
    });
  }

  it('a lease directory that is a link out of the state dir: its owner file is never removed', async () => {
    const file = await killedRun(m);
    const lines = (await readFile(file, 'utf8')).split('\n');
    const head = JSON.parse(lines[0]!) as Rec;
    (head.owner as Rec).bootId = 'previous-boot';
    lines[0] = JSON.stringify(head);
    await writeFile(file, lines.join('\n'));
    const leases = path.join(m.stateDir, 'leases');
    await rm(leases, { recursive: true, force: true });
    await mkdir(leases, { recursive: true });
    await writeFile(
      path.join(outside, 'victim', 'owner.x.json'),
      JSON.stringify({
        pid: 1,
        startTime: '1',
        bootId: 'gone',
        guest: 'g',
        command: 'c',
        at: 'a',
        token: 'x',
      }),
    );
    await symlink(path.join(outside, 'victim'), path.join(leases, `device-${NIC}.lock`));
    const r = await recoverAndCheck('lease link');
    expect(r.failed).to.equal(1);
    expect(r.runs[0]!.devices[0]!.error).to.match(/is not a directory/);
  });
});
