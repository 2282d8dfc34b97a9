import { expect } from 'chai';
import { execa } from 'execa';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HostsPool } from '../../../src/batch/hosts.js';
import type { HostFacts } from '../../../src/batch/hosts.js';
import { formatManifestError } from '../../../src/batch/manifest.js';
import { planBatch } from '../../../src/batch/plan.js';
import type { DeviceMatch, PoolDevice } from '../../../src/batch/pool.js';
import { batchToJUnit, formatSummary, resultJson } from '../../../src/batch/report.js';
import { writeJUnit } from '../../../src/batch/junit.js';
import { runBatch } from '../../../src/batch/scheduler.js';
import type { GuestResult } from '../../../src/batch/scheduler.js';
import { fixedClock } from '../../../src/host/host.js';

const plan = (text: string) =>
  planBatch(text, { manifestPath: path.resolve('fixtures/batch/inline.yaml'), cwd: '/work/somewhere' });

const nic = (address: string, iommuGroup: string | null): PoolDevice => ({
  address,
  vendorDevice: '8086:10d3',
  class: '0x020000',
  iommuGroup,
});
const NET: DeviceMatch = { kind: 'pool', pool: 'net' };

/** this machine without an IOMMU, and a libvirt host with two e1000e in groups 7 and 8 */
const twoHosts = (here = 1, l1 = 1): HostFacts[] => [
  { host: { name: 'local', concurrency: here }, devices: [] },
  {
    host: { name: 'l1', uri: 'qemu+tcp://127.0.0.1:16509/system', concurrency: l1 },
    devices: [nic('0000:01:00.0', '7'), nic('0000:02:00.0', '8')],
  },
];

describe('batch hosts: the manifest', () => {
  it('reads hosts: as URIs, `local`, or { uri, name, concurrency }', () => {
    const { plan: p, errors } = plan(
      [
        'hosts:',
        '  - local',
        '  - qemu:///system',
        '  - { uri: "qemu+ssh://root:secret@l1/system", name: l1, concurrency: 2 }',
        'defaults: { boot: "kernel=/k,initrd=/i", memory: 512 }',
        'guests:',
        '  - name: a',
        '  - { name: b, network: "network=default" }',
      ].join('\n'),
    );
    expect(errors).to.deep.equal([]);
    expect(p!.hosts).to.deep.equal([
      { name: 'local', concurrency: 1 },
      { name: 'qemu:///system', uri: 'qemu:///system', concurrency: 1 },
      { name: 'l1', uri: 'qemu+ssh://root:secret@l1/system', concurrency: 2 },
    ]);
    // a libvirt network is accepted in a manifest; where it can go is decided against the hosts
    expect(p!.guests[1]!.request.network).to.deep.equal({
      kind: 'network',
      network: 'default',
      model: 'virtio-net-pci',
    });
  });

  it('names each bad host entry with its line (schema, duplicates)', () => {
    const { plan: p, errors } = plan(
      [
        'hosts:',
        '  - "ssh://nowhere"', // line 2: fine for the pattern (a scheme and ://)
        '  - not a uri',
        '  - { uri: "qemu:///system", concurrency: 0 }',
        '  - { uri: "qemu:///system", colour: red }',
        '  - "ssh://nowhere"',
        'guests: [{ name: a, boot: "kernel=/k" }]',
      ].join('\n'),
    );
    expect(p).to.equal(undefined);
    expect(errors.map(formatManifestError)).to.deep.equal([
      "hosts[1] (line 3): a host is a libvirt URI (e.g. qemu:///system, qemu+ssh://root@host/system) or `local`, found 'not a uri'",
      'hosts[2].concurrency (line 4): must be at least 1, found number 0',
      "hosts[3].colour (line 5): unknown key 'colour'",
      "hosts[4] (line 6): host 'ssh://nowhere' is also hosts[0]",
    ]);
  });
});

describe('batch hosts: placement (HostsPool)', () => {
  it('sends a guest that needs a NIC to the host that has one, and the others where none is wasted', () => {
    const pool = new HostsPool(twoHosts(1, 2));
    const a = pool.tryAcquire('plain', []);
    expect(a!.host).to.deep.equal({ name: 'local' });
    const b = pool.tryAcquire('needs-nic', [NET]);
    expect(b!.host).to.deep.equal({ name: 'l1', uri: 'qemu+tcp://127.0.0.1:16509/system' });
    expect(b!.devices.map((d) => d.address)).to.deep.equal(['0000:01:00.0']);
    // local is full (1): a second plain guest takes l1's free slot rather than wait
    const c = pool.tryAcquire('plain2', []);
    expect(c!.host!.name).to.equal('l1');
    // l1 is full (2) now: a NIC guest waits although a NIC is free there
    expect(pool.tryAcquire('needs-nic2', [NET])).to.equal(null);
    pool.release('plain2');
    expect(pool.tryAcquire('needs-nic2', [NET])!.devices[0]!.address).to.equal('0000:02:00.0');
  });

  it('keeps group keys per host and gives back the slot and the group on release', () => {
    const pool = new HostsPool([
      {
        host: { name: 'x', uri: 'qemu+tcp://x/system', concurrency: 2 },
        devices: [nic('0000:01:00.0', '7')],
      },
      {
        host: { name: 'y', uri: 'qemu+tcp://y/system', concurrency: 2 },
        devices: [nic('0000:01:00.0', '7')],
      },
    ]);
    expect([...pool.candidateGroups([NET])]).to.deep.equal(['x|group:7', 'y|group:7']);
    expect(pool.tryAcquire('g1', [NET])!.host!.name).to.equal('x');
    // group 7 of x is held; group 7 of y is another group
    expect(pool.tryAcquire('g2', [NET])!.host!.name).to.equal('y');
    expect(pool.tryAcquire('g3', [NET])).to.equal(null);
    // a group an earlier waiter could use is left to it, on that host only
    pool.release('g1');
    expect(pool.tryAcquire('g3', [NET], new Set(['x|group:7']))).to.equal(null);
    expect(pool.tryAcquire('g3', [NET], new Set(['y|group:7']))!.host!.name).to.equal('x');
  });

  it('says per host why nobody can take a guest: no device, host down, not a libvirt host', () => {
    const facts: HostFacts[] = [
      ...twoHosts(),
      {
        host: { name: 'gone', uri: 'qemu+tcp://10.0.0.9/system', concurrency: 1 },
        down: 'cannot reach libvirt',
        devices: [],
      },
    ];
    const needs = new Map([['netguest', { libvirt: '--network network=default' }]]);
    const pool = new HostsPool(facts, {}, needs);
    expect(pool.impossible([{ kind: 'vendorDevice', vendorDevice: '10de:1db6' }])).to.equal(
      'local: no device in the inventory matches a 10de:1db6 device; l1: no device in the inventory matches a 10de:1db6 device; gone: cannot reach libvirt',
    );
    expect(pool.impossible([NET])).to.equal(null);
    // a guest on a libvirt network never goes to `local`
    expect(pool.tryAcquire('netguest', [])!.host!.name).to.equal('l1');
    expect(new HostsPool([twoHosts()[0]!], {}, needs).impossible([], 'netguest')).to.equal(
      'local: not a libvirt host (--network network=default)',
    );
    expect(pool.capacity).to.equal(2);
  });
});

describe('batch hosts: the scheduler, the reports', () => {
  it('runs each host at its own limit, names the host of each guest in the table, JSON and JUnit', async () => {
    const pool = new HostsPool(twoHosts(1, 1));
    const guests = [
      { name: 'nic1', devices: [{ match: NET }], logDir: '/l/nic1' },
      { name: 'plain1', devices: [], logDir: '/l/plain1' },
      { name: 'nic2', devices: [{ match: NET }], logDir: '/l/nic2' },
      {
        name: 'gpu',
        devices: [{ match: { kind: 'vendorDevice', vendorDevice: '10de:1db6' } as DeviceMatch }],
        logDir: '/l/gpu',
      },
    ];
    const running = new Map<string, number>();
    let most = 0;
    const order: string[] = [];
    const result = await runBatch(
      { guests },
      {
        concurrency: pool.capacity,
        pool,
        clock: fixedClock(0),
        install: async (g, a): Promise<GuestResult> => {
          const h = a.host!.name;
          running.set(h, (running.get(h) ?? 0) + 1);
          most = Math.max(most, running.get(h)!);
          order.push(`${g.name}@${h}`);
          await new Promise((r) => setTimeout(r, 5));
          running.set(h, running.get(h)! - 1);
          return {
            phases: [
              { phase: 'install', status: 'passed', timeSec: 1 },
              { phase: 'confirm', status: 'passed', timeSec: 1 },
            ],
          };
        },
      },
    );
    expect(most, 'one guest per host at a time').to.equal(1);
    expect(order).to.deep.equal(['nic1@l1', 'plain1@local', 'nic2@l1']);
    expect(result.guests.map((g) => `${g.name} ${g.status} ${g.host ?? '-'}`)).to.deep.equal([
      'nic1 passed l1',
      'plain1 passed local',
      'nic2 passed l1',
      'gpu failed -',
    ]);
    const gpu = result.guests[3]!;
    expect(gpu.error!.code).to.equal('NO_HOST_FOR_GUEST');
    expect(gpu.error!.message).to.match(/^guest gpu: no host can take it: local: .*; l1: no device/);
    expect(result.exitCode).to.equal(3);

    const table = formatSummary(result);
    expect(table[0]).to.match(/^GUEST\s+HOST\s+RESULT/);
    expect(table[1]).to.match(/^nic1\s+l1\s+passed/);
    const json = resultJson('b', result) as { guests: { name: string; host?: string }[] };
    expect(json.guests.map((g) => g.host ?? null)).to.deep.equal(['l1', 'local', 'l1', null]);
    const junit = writeJUnit(batchToJUnit('b', result));
    expect(junit).to.match(
      /<testsuite name="b@l1" tests="4" failures="0" errors="0" skipped="0" time="[\d.]+" timestamp="[^"]+" hostname="l1">/,
    );
    expect(junit).to.match(/<testsuite name="b@local" tests="2"[^>]* hostname="local">/);
    expect(junit).to.match(/<testsuite name="b \(no host\)" tests="2" failures="1"/);
    // both schemas the report is checked against accept hostname on <testsuite>
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ig-junit-'));
    try {
      await fs.writeFile(path.join(dir, 'r.xml'), junit);
      for (const xsd of ['fixtures/batch/junit.xsd', 'fixtures/junit-10.xsd']) {
        const v = await execa(
          'xmllint',
          ['--noout', '--schema', path.resolve(xsd), path.join(dir, 'r.xml')],
          {
            reject: false,
          },
        );
        expect(v.exitCode, `${xsd}: ${v.stderr}`).to.equal(0);
      }
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
