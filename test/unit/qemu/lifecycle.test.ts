import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  classifyLifecycle,
  eventsFromTranscript,
  initialLifecycle,
  reduceLifecycle,
  type LifecycleInput,
  type Verdict,
} from '../../../src/qemu/lifecycle.js';
import { flattenQueryPci, pciAddress } from '../../../src/qemu/qmp/commands.js';

const QMP = path.resolve('fixtures/qmp');
const transcript = (name: string): LifecycleInput[] =>
  eventsFromTranscript(readFileSync(path.join(QMP, name), 'utf8'));

interface Row {
  transcript: string;
  exit: { code: number | null; signal: string | null };
  noReboot?: boolean;
  verdict: Verdict;
  resets: number;
}

const table: Row[] = [
  {
    transcript: 'guest-poweroff.jsonl',
    exit: { code: 0, signal: null },
    verdict: { state: 'finished', how: 'poweroff', reason: 'guest-shutdown' },
    resets: 0,
  },
  {
    transcript: 'guest-reboot-no-reboot.jsonl',
    exit: { code: 0, signal: null },
    verdict: { state: 'finished', how: 'reboot-request', reason: 'guest-reset' },
    resets: 0,
  },
  {
    transcript: 'guest-resets-then-quit.jsonl',
    exit: { code: 0, signal: null },
    noReboot: false,
    verdict: { state: 'stopped', by: 'qmp-quit', reason: 'host-qmp-quit' },
    resets: 1,
  },
  {
    transcript: 'host-qmp-quit.jsonl',
    exit: { code: 0, signal: null },
    verdict: { state: 'stopped', by: 'qmp-quit', reason: 'host-qmp-quit' },
    resets: 0,
  },
  {
    transcript: 'host-signal.jsonl',
    exit: { code: 0, signal: null },
    verdict: { state: 'stopped', by: 'signal', reason: 'host-signal' },
    resets: 0,
  },
  {
    transcript: 'sigkill.jsonl',
    exit: { code: null, signal: 'SIGKILL' },
    verdict: { state: 'crashed', code: null, signal: 'SIGKILL' },
    resets: 0,
  },
  {
    transcript: 'guest-panicked.jsonl',
    exit: { code: 0, signal: null },
    verdict: { state: 'panicked', detail: 'GUEST_PANICKED action=poweroff' },
    resets: 0,
  },
  {
    transcript: 'block-io-error-nospace.jsonl',
    exit: { code: null, signal: 'SIGKILL' },
    verdict: {
      state: 'io-error',
      detail: 'write on disk0 failed (no space left on the host): No space left on device',
      nospace: true,
    },
    resets: 0,
  },
];

describe('install completion (lifecycle from QMP events and the process exit)', () => {
  for (const row of table) {
    it(`${row.transcript} → ${row.verdict.state}${'how' in row.verdict ? ` (${row.verdict.how})` : ''}`, () => {
      const inputs: LifecycleInput[] = [...transcript(row.transcript), { kind: 'exit', ...row.exit }];
      const lc = classifyLifecycle(inputs, { noReboot: row.noReboot ?? true });
      expect(lc.verdict).to.deep.equal(row.verdict);
      expect(lc.resets).to.equal(row.resets);
      expect(lc.exit).to.deep.equal(row.exit);
    });
  }

  it('counts the real burst of four RESET events of one guest reboot once, and two reboots apart twice', () => {
    const burst = transcript('guest-resets-then-quit.jsonl').filter(
      (i) => i.kind === 'event' && i.event.event === 'RESET',
    );
    expect(burst).to.have.length(4);
    expect(classifyLifecycle(burst, { noReboot: false }).resets).to.equal(1);
    const later = burst.map((i): LifecycleInput => {
      if (i.kind !== 'event' || !i.event.timestamp) return i;
      return {
        kind: 'event',
        event: { ...i.event, timestamp: { ...i.event.timestamp, seconds: i.event.timestamp.seconds + 30 } },
      };
    });
    const lc = classifyLifecycle([...burst, ...later], { noReboot: false });
    expect(lc.resets).to.equal(2);
    expect(lc.notes).to.deep.equal(['the guest reset (guest-reset)', 'the guest reset (guest-reset)']);
  });

  it('calls a process exit with no SHUTDOWN before it a crash, with its code', () => {
    const lc = reduceLifecycle(initialLifecycle, { kind: 'exit', code: 1, signal: null });
    expect(lc.verdict).to.deep.equal({ state: 'crashed', code: 1, signal: null });
    expect(lc.notes).to.deep.equal(['qemu exited with code 1 without a SHUTDOWN event']);
  });

  it('keeps the first terminal verdict: a quit after the guest powered off does not change it', () => {
    const lc = classifyLifecycle([
      { kind: 'event', event: { event: 'SHUTDOWN', data: { guest: true, reason: 'guest-shutdown' } } },
      { kind: 'event', event: { event: 'SHUTDOWN', data: { guest: false, reason: 'host-qmp-quit' } } },
      { kind: 'exit', code: 0, signal: null },
    ]);
    expect(lc.verdict).to.deep.equal({ state: 'finished', how: 'poweroff', reason: 'guest-shutdown' });
  });

  it('notes a block error the guest sees (werror=report) without ending the run', () => {
    const lc = reduceLifecycle(initialLifecycle, {
      kind: 'event',
      event: {
        event: 'BLOCK_IO_ERROR',
        data: { device: 'virtio0', operation: 'write', action: 'report', reason: 'Input/output error' },
      },
    });
    expect(lc.verdict.state).to.equal('running');
    expect(lc.notes[0]).to.match(/disk I\/O error \(report\)/);
  });

  it('ignores events that do not end a run (POWERDOWN, NIC_RX_FILTER_CHANGED)', () => {
    const lc = classifyLifecycle([
      { kind: 'event', event: { event: 'POWERDOWN', data: {} } },
      {
        kind: 'event',
        event: {
          event: 'NIC_RX_FILTER_CHANGED',
          data: { name: 'nic0', path: '/machine/peripheral/nic0/virtio-backend' },
        },
      },
    ]);
    expect(lc).to.deep.equal(initialLifecycle);
  });
});

describe('query-pci flattening', () => {
  it('lists devices on the root bus and behind bridges, with ids, class and qdev id (real qemu 7.2 answer)', () => {
    const raw = JSON.parse(readFileSync(path.join(QMP, 'query-pci-bridges.json'), 'utf8'));
    const devs = flattenQueryPci(raw);
    expect(devs.map((d) => `${d.address} ${d.id} ${d.qdevId || '-'} ${d.parent ?? ''}`.trim())).to.deep.equal(
      [
        '0000:00:00.0 8086:29c0 -',
        '0000:00:03.0 1b36:000c rp1',
        '0000:01:00.0 8086:10d3 nic0 0000:00:03.0',
        '0000:00:04.0 1b36:000e br1',
        '0000:02:02.0 8086:100e nic1 0000:00:04.0',
        '0000:00:1f.0 8086:2918 -',
        '0000:00:1f.2 8086:2922 -',
        '0000:00:1f.3 8086:2930 -',
      ],
    );
    const nic = devs.find((d) => d.qdevId === 'nic0');
    expect(nic).to.include({
      classCode: 0x0200,
      classDesc: 'Ethernet controller',
      vendorId: 0x8086,
      deviceId: 0x10d3,
    });
  });

  it('formats addresses as domain:bus:slot.function in lowercase hex', () => {
    expect(pciAddress(0x1a, 0x1f, 7)).to.equal('0000:1a:1f.7');
  });
});
