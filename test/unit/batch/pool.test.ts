import { expect } from 'chai';
import { DevicePool, matchesFilter } from '../../../src/batch/pool.js';
import type { PoolDevice } from '../../../src/batch/pool.js';
import { resultFromStages } from '../../../src/batch/pipeline-install.js';
import { guestError } from '../../../src/errors.js';

const dev = (address: string, vendorDevice: string, cls: string, iommuGroup: string | null): PoolDevice => ({
  address,
  vendorDevice,
  class: cls,
  iommuGroup,
});
const nic = dev('0000:03:00.0', '8086:10d3', '0x020000', '7');
const nvme = dev('0000:05:00.0', '144d:a808', '0x010802', '9');

describe('device pool', () => {
  it('matches pool filters by class prefix, vendor:device and address, all of them at once', () => {
    const table: [Parameters<typeof matchesFilter>[1], PoolDevice, boolean][] = [
      [{ class: 'net' }, nic, true],
      [{ class: 'net' }, nvme, false],
      [{ class: 'storage' }, nvme, true],
      [{ class: '0x0108' }, nvme, true],
      [{ class: '0x010802' }, nvme, true],
      [{ class: '0x0106' }, nvme, false],
      [{ vendorDevice: '8086:10D3' }, nic, true],
      [{ vendorDevice: ['15b3:1017', '8086:10d3'] }, nic, true],
      [{ addresses: ['03:00.0'] }, nic, true],
      [{ class: 'net', vendorDevice: '15b3:1017' }, nic, false],
    ];
    for (const [f, d, want] of table) expect(matchesFilter(d, f), JSON.stringify(f)).to.equal(want);
  });

  it('says why requests can never be granted', () => {
    const pool = new DevicePool([nic, nvme], { fast: { vendorDevice: '8086:10d3' } });
    expect(pool.impossible([{ kind: 'pool', pool: 'net' }])).to.equal(null);
    expect(pool.impossible([{ kind: 'pool', pool: 'gpu' }])).to.equal("pool 'gpu' is not defined");
    expect(pool.impossible([{ kind: 'vendorDevice', vendorDevice: '10de:1eb8' }])).to.match(
      /no device .* 10de:1eb8/,
    );
    expect(
      pool.impossible([
        { kind: 'pool', pool: 'fast' },
        { kind: 'pool', pool: 'net' },
      ]),
    ).to.match(/more distinct devices/);
    expect(pool.impossible([{ kind: 'interface', name: 'enp3s0' }])).to.match(/interface enp3s0/);
  });

  it('grants all requests of a guest or none, and frees them on release', () => {
    const pool = new DevicePool([nic, nvme]);
    const a = pool.tryAcquire('a', [
      { kind: 'pool', pool: 'net' },
      { kind: 'pool', pool: 'storage' },
    ])!;
    expect(a.devices.map((d) => d.address)).to.deep.equal(['0000:03:00.0', '0000:05:00.0']);
    expect(pool.tryAcquire('b', [{ kind: 'pool', pool: 'storage' }])).to.equal(null);
    expect(() => pool.tryAcquire('a', [])).to.throw(/already holds/);
    pool.release('a');
    expect(pool.holders().size).to.equal(0);
    expect(pool.tryAcquire('b', [{ kind: 'pool', pool: 'net' }], new Set(['group:7']))).to.equal(null);
  });

  it('treats a device in no IOMMU group as a group of its own', () => {
    const pool = new DevicePool([
      dev('0000:03:00.0', '8086:10d3', '0x020000', null),
      dev('0000:03:00.1', '8086:10d3', '0x020000', null),
    ]);
    expect(pool.tryAcquire('a', [{ kind: 'pool', pool: 'net' }])).to.not.equal(null);
    expect(pool.tryAcquire('b', [{ kind: 'pool', pool: 'net' }])).to.not.equal(null);
  });
});

describe('pipeline results as phases', () => {
  it('maps stage records to install and confirm, failures with the stage error', () => {
    const ok = resultFromStages([
      { name: 'validate-request', status: 'done', ms: 5 },
      { name: 'launch-qemu', status: 'done', ms: 1995 },
      { name: 'reboot-and-confirm', status: 'done', ms: 3000 },
    ]);
    expect(ok.phases).to.deep.equal([
      { phase: 'install', status: 'passed', timeSec: 2 },
      { phase: 'confirm', status: 'passed', timeSec: 3 },
    ]);
    const err = guestError('DEVICE_NOT_SEEN_BY_GUEST', 'the guest does not see 0000:03:00.0', {
      data: { fatalLine: 'lspci: nothing' },
    });
    const bad = resultFromStages(
      [
        { name: 'launch-qemu', status: 'done', ms: 1000 },
        { name: 'reboot-and-confirm', status: 'failed', ms: 500 },
      ],
      err,
    );
    expect(bad.phases[1]).to.deep.include({ phase: 'confirm', status: 'failed', timeSec: 0.5 });
    expect(bad.phases[1]!.failure).to.deep.include({
      code: 'DEVICE_NOT_SEEN_BY_GUEST',
      fatalLine: 'lspci: nothing',
      exitCode: 1,
    });
    const early = resultFromStages([], new Error('boom'));
    expect(early.phases[0]).to.deep.include({ phase: 'install', status: 'failed' });
  });
});
