import { expect } from 'chai';
import { guestError, hostError } from '../../../src/errors.js';
import { fixedClock } from '../../../src/host/host.js';
import { DevicePool, groupKey } from '../../../src/batch/pool.js';
import type { Allocation, DeviceMatch, PoolDevice } from '../../../src/batch/pool.js';
import { runBatch } from '../../../src/batch/scheduler.js';
import type { BatchEvent, BatchResult, GuestResult, ResultStore } from '../../../src/batch/scheduler.js';

/** a code the test makes up: typed string, so the helper does not check it against ERROR_CODES */
const STAND_IN_CODE: string = 'INTERRUPTED';

interface G {
  name: string;
  devices: { match: DeviceMatch }[];
  logDir: string;
}

const net = (address: string, iommuGroup: string | null, vendorDevice = '8086:10d3'): PoolDevice => ({
  address,
  vendorDevice,
  class: '0x020000',
  iommuGroup,
});

const guest = (name: string, ...matches: DeviceMatch[]): G => ({
  name,
  devices: matches.map((match) => ({ match })),
  logDir: `/logs/${name}`,
});
const POOL_NET: DeviceMatch = { kind: 'pool', pool: 'net' };

interface Call {
  guest: string;
  devices: string[];
  reserved: string[];
  start: number;
  end?: number;
}

/**
 * The install test double: records every call with the injected clock's time and the devices it got,
 * and finishes only when the test says so (pass or fail), so overlap and queueing are observed, not timed.
 */
function harness(inventory: PoolDevice[], pools = {}) {
  const clock = fixedClock(0);
  const pool = new DevicePool(inventory, pools);
  const calls: Call[] = [];
  const events: BatchEvent[] = [];
  const open = new Map<string, { resolve: (r: GuestResult) => void; reject: (e: unknown) => void }>();
  // what each group's holder was at every moment something happened: checks the pool invariant
  const violations: string[] = [];
  const install = (g: G, a: Allocation): Promise<GuestResult> => {
    for (const c of calls.filter((x) => x.end === undefined)) {
      const theirs = new Set(
        c.reserved.map((addr) => groupKey(pool.inventory.find((d) => d.address === addr)!)),
      );
      for (const k of a.groups) if (theirs.has(k)) violations.push(`${g.name} and ${c.guest} both hold ${k}`);
    }
    calls.push({
      guest: g.name,
      devices: a.devices.map((d) => d.address),
      reserved: a.reserved.map((d) => d.address),
      start: clock.now(),
    });
    return new Promise((resolve, reject) => open.set(g.name, { resolve, reject }));
  };
  const settle = () => new Promise<void>((r) => setImmediate(r));
  const finish = async (name: string, outcome: 'pass' | Error = 'pass', afterSec = 0) => {
    clock.advance(afterSec * 1000);
    const o = open.get(name);
    if (!o) throw new Error(`${name} is not running`);
    open.delete(name);
    calls.find((c) => c.guest === name && c.end === undefined)!.end = clock.now();
    if (outcome === 'pass')
      o.resolve({
        phases: [
          { phase: 'install', status: 'passed', timeSec: 1 },
          { phase: 'confirm', status: 'passed', timeSec: 1 },
        ],
      });
    else o.reject(outcome);
    await settle();
  };
  const running = () => [...open.keys()];
  const run = (
    guests: G[],
    opts: {
      concurrency: number;
      failFast?: boolean;
      signal?: AbortSignal;
      store?: ResultStore<G>;
      resume?: boolean;
    },
  ): Promise<BatchResult> =>
    runBatch({ guests }, { ...opts, install, pool, clock, onEvent: (e) => void events.push(e) });
  return { clock, pool, calls, events, violations, settle, finish, running, run };
}

describe('batch scheduler', () => {
  it('runs 3 guests at concurrency 2: two overlap, the third starts when a slot frees, each with its own device', async () => {
    const h = harness([net('0000:03:00.0', '7'), net('0000:04:00.0', '8'), net('0000:05:00.0', '9')]);
    const done = h.run([guest('a', POOL_NET), guest('b', POOL_NET), guest('c', POOL_NET)], {
      concurrency: 2,
    });
    await h.settle();
    expect(h.running()).to.deep.equal(['a', 'b']);
    await h.finish('a', 'pass', 10);
    expect(h.running()).to.deep.equal(['b', 'c']);
    await h.finish('b', 'pass', 10);
    await h.finish('c', 'pass', 10);
    const r = await done;

    expect(h.calls.map((c) => [c.guest, c.start, c.end])).to.deep.equal([
      ['a', 0, 10_000],
      ['b', 0, 20_000],
      ['c', 10_000, 30_000],
    ]);
    // at no instant more than 2 ran; a and b overlapped, c overlapped b but not a
    const at = (t: number) => h.calls.filter((c) => c.start <= t && t < c.end!).length;
    expect(Math.max(...[0, 5_000, 10_000, 15_000, 20_000, 25_000].map(at))).to.equal(2);
    const [a, b, c] = h.calls.map((x) => x.devices[0]);
    expect(a, 'a and b hold different devices').to.not.equal(b);
    expect(c, 'c never holds what b, still running, holds').to.not.equal(b);
    expect(r.exitCode).to.equal(0);
    expect(r.counts).to.deep.equal({ passed: 3, failed: 0, skipped: 0, cancelled: 0 });
    expect(r.guests.map((g) => g.logDir)).to.deep.equal(['/logs/a', '/logs/b', '/logs/c']);
    expect(r.guests[2]!.waitedSec).to.equal(10);
    expect(h.violations).to.deep.equal([]);
  });

  it('queues guests when the pool holds fewer devices than asked for, first come first served', async () => {
    const h = harness([net('0000:03:00.0', '7'), net('0000:04:00.0', '8')]);
    const guests = ['a', 'b', 'c', 'd'].map((n) => guest(n, POOL_NET));
    const done = h.run(guests, { concurrency: 4 });
    await h.settle();
    expect(h.running()).to.deep.equal(['a', 'b']);
    expect(h.events.filter((e) => e.type === 'waiting').map((e) => e.guest)).to.deep.equal(['c', 'd']);
    await h.finish('b', 'pass', 5);
    expect(h.running(), 'c, first in the queue, gets b’s device').to.deep.equal(['a', 'c']);
    expect(h.calls[2]!.devices).to.deep.equal(h.calls[1]!.devices);
    await h.finish('a', 'pass', 5);
    expect(h.running()).to.deep.equal(['c', 'd']);
    await h.finish('c');
    await h.finish('d');
    const r = await done;
    expect(r.exitCode).to.equal(0);
    expect(h.calls.map((c) => c.guest)).to.deep.equal(['a', 'b', 'c', 'd']);
  });

  it('with failFast, the guests the pool cannot serve now fail at once, and no further guest starts', async () => {
    const h = harness([net('0000:03:00.0', '7'), net('0000:04:00.0', '8')]);
    const guests = [guest('a', POOL_NET), guest('b', POOL_NET), guest('c', POOL_NET), guest('d')];
    const done = h.run(guests, { concurrency: 4, failFast: true });
    await h.settle();
    expect(h.running()).to.deep.equal(['a', 'b']);
    await h.finish('a');
    await h.finish('b');
    const r = await done;
    const byName = Object.fromEntries(r.guests.map((g) => [g.name, g]));
    expect(byName.c!.status).to.equal('failed');
    expect(byName.c!.error!.code).to.equal('POOL_EXHAUSTED');
    expect(byName.d!.status).to.equal('cancelled');
    expect(byName.d!.reason).to.match(/fail-fast: c failed/);
    expect(r.exitCode, 'the host could not serve c: exit 3').to.equal(3);
    expect(h.calls.map((c) => c.guest)).to.deep.equal(['a', 'b']);
  });

  it('never gives two functions of one IOMMU group to two guests at once', async () => {
    // 03:00.0 and 03:00.1 share group 7; 04:00.0 is alone in group 8
    const h = harness([net('0000:03:00.0', '7'), net('0000:03:00.1', '7'), net('0000:04:00.0', '8')]);
    const guests = [
      guest('a', POOL_NET),
      guest('b', POOL_NET),
      guest('c', POOL_NET),
      guest('d', { kind: 'address', address: '0000:03:00.1' }),
    ];
    const done = h.run(guests, { concurrency: 4 });
    await h.settle();
    expect(h.running(), 'three NIC functions, but only two groups').to.deep.equal(['a', 'b']);
    expect(h.calls[0]!.devices, 'the single-function group is preferred').to.deep.equal(['0000:04:00.0']);
    expect(h.calls[1]!.reserved, 'b holds its whole group').to.deep.equal(['0000:03:00.0', '0000:03:00.1']);
    await h.finish('a');
    expect(h.running()).to.deep.equal(['b', 'c']);
    await h.finish('b');
    expect(h.running(), 'd waits for group 7, now free').to.deep.equal(['c', 'd']);
    await h.finish('c');
    await h.finish('d');
    expect((await done).exitCode).to.equal(0);
    expect(h.violations).to.deep.equal([]);
  });

  it('does not let a later guest starve an earlier one that needs more devices', async () => {
    const h = harness([net('0000:03:00.0', '1'), net('0000:04:00.0', '2')]);
    const guests = [
      guest('a', { kind: 'address', address: '0000:03:00.0' }),
      guest('big', POOL_NET, POOL_NET),
      guest('c', POOL_NET),
    ];
    const done = h.run(guests, { concurrency: 3 });
    await h.settle();
    expect(h.running(), 'c must not take 04:00.0, which big is waiting for').to.deep.equal(['a']);
    await h.finish('a');
    expect(h.running()).to.deep.equal(['big']);
    expect(h.calls[1]!.devices).to.have.members(['0000:03:00.0', '0000:04:00.0']);
    await h.finish('big');
    expect(h.running()).to.deep.equal(['c']);
    await h.finish('c');
    expect((await done).exitCode).to.equal(0);
  });

  it('gives the device back when a guest fails, and reports the first failure’s exit code', async () => {
    const h = harness([net('0000:03:00.0', '7')]);
    const done = h.run([guest('a', POOL_NET), guest('b', POOL_NET)], { concurrency: 2 });
    await h.settle();
    expect(h.running()).to.deep.equal(['a']);
    await h.finish(
      'a',
      guestError('INSTALL_FAILED', 'the installer stopped', {
        data: { fatalLine: 'Traceback (most recent call last):', logPath: '/logs/a/serial.log' },
      }),
      3,
    );
    expect(h.running(), 'b gets the device a gave back').to.deep.equal(['b']);
    await h.finish('b');
    const r = await done;
    expect(r.exitCode).to.equal(1);
    const a = r.guests[0]!;
    expect(a.status).to.equal('failed');
    expect(a.phases[0]).to.deep.include({ phase: 'install', status: 'failed', timeSec: 3 });
    expect(a.phases[0]!.failure).to.deep.include({
      code: 'INSTALL_FAILED',
      fatalLine: 'Traceback (most recent call last):',
      logPath: '/logs/a/serial.log',
    });
    expect(a.phases[1]).to.deep.include({ phase: 'confirm', status: 'skipped', reason: 'install failed' });
    expect(r.guests[1]!.status).to.equal('passed');
    expect(h.pool.holders().size).to.equal(0);
  });

  it('fails at once a guest whose request no device can ever satisfy, and runs the others', async () => {
    const h = harness([net('0000:03:00.0', '7')]);
    const done = h.run([guest('a', { kind: 'address', address: '0000:09:00.0' }), guest('b', POOL_NET)], {
      concurrency: 1,
    });
    await h.settle();
    expect(h.running()).to.deep.equal(['b']);
    await h.finish('b');
    const r = await done;
    expect(r.guests[0]!.error!.code).to.equal('NO_MATCHING_DEVICE');
    expect(r.guests[0]!.error!.message).to.include('0000:09:00.0');
    expect(r.exitCode).to.equal(3);
  });

  it('on interruption starts nothing more, lets running guests end, and exits 130', async () => {
    const h = harness([]);
    const ac = new AbortController();
    const done = h.run([guest('a'), guest('b'), guest('c')], { concurrency: 1, signal: ac.signal });
    await h.settle();
    ac.abort();
    await h.settle();
    expect(h.running()).to.deep.equal(['a']);
    await h.finish('a', hostError(STAND_IN_CODE, 'interrupted by SIGINT'));
    const r = await done;
    expect(r.exitCode).to.equal(130);
    expect(r.guests.map((g) => g.status)).to.deep.equal(['failed', 'cancelled', 'cancelled']);
  });

  it('with resume skips guests the store says passed, and records the ones that pass', async () => {
    const h = harness([]);
    const recorded: string[] = [];
    const store: ResultStore<G> = {
      passedBefore: (g) => Promise.resolve(g.name === 'a'),
      record: (g) => Promise.resolve(void recorded.push(g.name)),
    };
    const done = h.run([guest('a'), guest('b')], { concurrency: 2, store, resume: true });
    await h.settle();
    expect(h.running()).to.deep.equal(['b']);
    await h.finish('b');
    const r = await done;
    expect(r.guests.map((g) => g.status)).to.deep.equal(['skipped', 'passed']);
    expect(recorded).to.deep.equal(['b']);
    expect(r.exitCode).to.equal(0);
  });

  it('refuses a concurrency below 1 and duplicate names', async () => {
    const h = harness([]);
    let e1: unknown;
    await h.run([guest('a')], { concurrency: 0 }).catch((e: unknown) => (e1 = e));
    expect(String(e1)).to.match(/concurrency/);
    let e2: unknown;
    await h.run([guest('a'), guest('a')], { concurrency: 1 }).catch((e: unknown) => (e2 = e));
    expect(String(e2)).to.match(/unique/);
  });
});
