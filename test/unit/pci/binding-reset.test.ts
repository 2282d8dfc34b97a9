import { expect } from 'chai';
import {
  type BindingState,
  StepFailure,
  bindToVfio,
  isBridgeClass,
  parseOverride,
  readDeviceFacts,
  releaseToKernel,
  restoreBinding,
} from '../../../src/pci/binding.js';
import { findBlacklist } from '../../../src/pci/modules.js';
import {
  type ResetFacts,
  applyReset,
  parseCapabilities,
  planReset,
  readResetFacts,
} from '../../../src/pci/reset.js';
import { type ModelHost, configSpace, modelHost, standardSpec } from '../../helpers/kernel-model.js';

const NIC = '0000:03:00.0';

describe('binding recipes', () => {
  let m: ModelHost;
  afterEach(() => m?.cleanup());

  it('reads the kernel forms: (null) override, class codes of bridges', () => {
    expect(parseOverride('(null)')).to.equal(null);
    expect(parseOverride('vfio-pci\n')).to.equal('vfio-pci');
    expect(parseOverride(null)).to.equal(null);
    expect(isBridgeClass('0x060400')).to.equal(true);
    expect(isBridgeClass('0x060000')).to.equal(false);
    expect(isBridgeClass('0x020000')).to.equal(false);
  });

  const originals: [string, BindingState][] = [
    ['on its driver, no override', { driver: 'e1000e', override: null }],
    ['unbound', { driver: null, override: null }],
    ['on its driver with an override naming it', { driver: 'e1000e', override: 'e1000e' }],
    ['on its driver with an override naming another driver', { driver: 'e1000e', override: 'pci-stub' }],
    ['on pci-stub', { driver: 'pci-stub', override: null }],
    ['unbound with an override', { driver: null, override: 'igb' }],
  ];
  for (const [name, original] of originals) {
    it(`restores the exact original binding: ${name}`, async () => {
      m = await modelHost(
        standardSpec({ devices: { [NIC]: { driver: original.driver, override: original.override } } }),
      );
      const facts = (await readDeviceFacts(m.host, NIC))!;
      expect({ driver: facts.driver, override: facts.override }).to.deep.equal(original);
      if (original.override === null || original.override === 'vfio-pci') {
        await bindToVfio({ host: m.host }, facts);
      } else {
        // an override naming another driver: move it by hand (the recipes would set it to vfio-pci)
        await m.host.write(`/sys/bus/pci/devices/${NIC}/driver_override`, 'vfio-pci');
        if (original.driver) await m.host.write(`/sys/bus/pci/drivers/${original.driver}/unbind`, NIC);
        await m.host.write('/sys/bus/pci/drivers_probe', NIC);
      }
      expect(m.model.driverOf(NIC)).to.equal('vfio-pci');
      expect(await restoreBinding({ host: m.host }, NIC, original)).to.equal('restored');
      expect(m.model.binding(NIC)).to.deep.equal(original);
      const writes = m.model.writes.length;
      expect(await restoreBinding({ host: m.host }, NIC, original)).to.equal('unchanged');
      expect(m.model.writes.length, 'idempotent: nothing written the second time').to.equal(writes);
    });
  }

  it('restores a device whose original driver would lose to a stub with a stale id, by binding it explicitly', async () => {
    m = await modelHost(standardSpec());
    await bindToVfio({ host: m.host }, (await readDeviceFacts(m.host, NIC))!);
    await m.host.write('/sys/bus/pci/drivers/pci-stub/new_id', '8086 10d3');
    expect(await restoreBinding({ host: m.host }, NIC, { driver: 'e1000e', override: null })).to.equal(
      'restored',
    );
    expect(m.model.binding(NIC)).to.deep.equal({ driver: 'e1000e', override: null });
  });

  it('says a device is gone instead of failing when it vanished', async () => {
    m = await modelHost(standardSpec(), { vanish: { address: NIC, beforeWrite: 1 } });
    await m.host.write('/sys/bus/pci/rescan', '1').catch(() => undefined);
    expect(await restoreBinding({ host: m.host }, NIC, { driver: 'e1000e', override: null })).to.equal(
      'gone',
    );
  });

  it('fails restore with a verify StepFailure when the original driver is not loaded', async () => {
    m = await modelHost(standardSpec({ devices: { [NIC]: { driver: null } } }));
    try {
      await restoreBinding({ host: m.host }, NIC, { driver: 'tg3', override: null });
      expect.fail('should fail');
    } catch (e) {
      expect(e).to.be.instanceOf(StepFailure);
      expect((e as StepFailure).step).to.equal('bind');
      expect((e as StepFailure).message).to.include('driver tg3 is not loaded');
    }
  });

  it('without a record, lets the kernel pick the driver after the stub lets go', async () => {
    m = await modelHost(standardSpec({ devices: { [NIC]: { driver: 'vfio-pci', override: 'vfio-pci' } } }));
    expect(await releaseToKernel({ host: m.host }, NIC)).to.deep.equal({ driver: 'e1000e', override: null });
  });

  it('finds blacklist and install lines in modprobe.d, not unrelated ones', async () => {
    const spec = standardSpec();
    spec.files!['/etc/modprobe.d/a.conf'] =
      'blacklist vfio-pci\noptions vfio_pci ids=1:2\ninstall vfio_pci /sbin/modprobe --ignore-install vfio_pci\n';
    spec.files!['/lib/modprobe.d/b.conf'] = 'install pci_stub /bin/true\n';
    m = await modelHost(spec);
    expect(await findBlacklist(m.host, 'vfio_pci')).to.deep.equal([
      '/etc/modprobe.d/a.conf:1: blacklist vfio-pci',
    ]);
    expect(await findBlacklist(m.host, 'pci_stub')).to.deep.equal([
      '/lib/modprobe.d/b.conf:1: install pci_stub /bin/true',
    ]);
  });
});

describe('reset policy', () => {
  let m: ModelHost;
  afterEach(() => m?.cleanup());

  const base = { vendor: '8086', device: '10d3', class: '0x020000', address: NIC };

  it('reads FLR, AF FLR and NoSoftRst from config space; a 64-byte (unprivileged) read shows no capability', () => {
    expect(parseCapabilities(configSpace({ ...base, flr: true }))).to.deep.equal({
      flr: true,
      pm: { noSoftReset: true },
      pcie: true,
      truncated: false,
    });
    expect(
      parseCapabilities(configSpace({ ...base, afFlr: true, pm: { noSoftReset: false } })),
    ).to.deep.include({
      flr: true,
      pm: { noSoftReset: false },
    });
    expect(parseCapabilities(configSpace({ ...base, pm: false }))).to.deep.include({ flr: false, pm: null });
    expect(parseCapabilities(configSpace({ ...base, flr: true }).subarray(0, 64))).to.deep.include({
      flr: false,
      pm: null,
      truncated: true,
    });
    expect(parseCapabilities(Buffer.alloc(10))).to.equal(null);
  });

  const facts = (o: Partial<ResetFacts>): ResetFacts => ({
    address: NIC,
    driver: 'pci-stub',
    bus: 3,
    caps: { flr: false, pm: { noSoftReset: false }, pcie: true, truncated: false },
    resetFile: true,
    resetMethods: ['pm', 'bus'],
    parentBridge: '0000:00:1c.0',
    bridgeResetSubordinate: true,
    siblingsInUse: [],
    ...o,
  });

  const table: [string, Partial<ResetFacts>, string][] = [
    ['on vfio-pci: nothing extra', { driver: 'vfio-pci' }, 'skip'],
    ['FLR: nothing extra', { caps: { flr: true, pm: null, pcie: true, truncated: false } }, 'skip'],
    ['FLR listed by the kernel: nothing extra', { resetMethods: ['flr', 'bus'] }, 'skip'],
    ['sysfs, then PM, then bus', {}, 'sysfs,pm,bus:reset_subordinate'],
    [
      'NoSoftRst set: no PM',
      { caps: { flr: false, pm: { noSoftReset: true }, pcie: true, truncated: false } },
      'sysfs,bus:reset_subordinate',
    ],
    ['bus 0: never a bus reset', { bus: 0, parentBridge: null }, 'sysfs,pm'],
    [
      'a sibling in use: no bus reset',
      { siblingsInUse: [{ address: '0000:03:00.1', why: 'bound to e1000e' }] },
      'sysfs,pm',
    ],
    [
      'bus reset through reset_method when the bridge has no reset_subordinate',
      { bridgeResetSubordinate: false },
      'sysfs,pm,bus:reset_method',
    ],
    [
      'old kernel (no reset_method): only the sysfs reset',
      { resetMethods: null, bridgeResetSubordinate: false },
      'sysfs',
    ],
    [
      'nothing at all',
      { resetFile: false, resetMethods: [], caps: null, bus: 0, parentBridge: null },
      'none',
    ],
  ];
  for (const [name, o, expected] of table) {
    it(`plans: ${name}`, () => {
      const p = planReset(facts(o));
      const got =
        p.kind === 'reset'
          ? p.attempts.map((a) => (a.method === 'bus' ? `bus:${a.via}` : a.method)).join(',')
          : p.kind;
      expect(got).to.equal(expected);
      if (p.kind === 'none') expect(p.notUsable.join(' ')).to.include('never on bus 0');
      if (name.includes('sibling'))
        expect((p as { notUsable: string[] }).notUsable.join(' ')).to.include(
          '0000:03:00.1 (bound to e1000e)',
        );
    });
  }

  it('falls through to PM when the sysfs reset fails, and puts reset_method back', async () => {
    m = await modelHost(
      standardSpec({
        devices: {
          [NIC]: { driver: 'pci-stub', flr: false, pm: { noSoftReset: false }, resetMethods: ['pm', 'bus'] },
        },
      }),
      { faults: [{ op: 'reset', code: 'EIO', times: 1 }] },
    );
    const rf = await readResetFacts(m.host, NIC);
    expect(rf).to.deep.include({
      bus: 3,
      parentBridge: '0000:00:1c.0',
      bridgeResetSubordinate: true,
      resetMethods: ['pm', 'bus'],
    });
    const out = await applyReset({ host: m.host }, rf, planReset(rf));
    expect(out.method).to.equal('pm');
    expect(out.failed).to.have.length(1);
    expect(m.model.events).to.deep.equal(['reset 0000:03:00.0 pm']);
    expect(await m.host.readTrimmed(`/sys/bus/pci/devices/${NIC}/reset_method`)).to.equal('pm bus');
  });

  it('does a secondary bus reset on the parent bridge when the bus is idle, not when a sibling is in use', async () => {
    const spec = standardSpec({ devices: { [NIC]: { driver: 'pci-stub', flr: false } } });
    m = await modelHost(spec);
    const rf = await readResetFacts(m.host, NIC);
    const out = await applyReset({ host: m.host }, rf, planReset(rf));
    expect(out).to.deep.include({ method: 'bus' });
    expect(m.model.events).to.deep.equal(['bus-reset 0000:00:1c.0']);
    await m.cleanup();
    spec.devices.push({
      address: '0000:03:00.1',
      parent: '0000:00:1c.0',
      vendor: '8086',
      device: '10d3',
      class: '0x020000',
      driver: 'e1000e',
      group: '7',
    });
    m = await modelHost(spec);
    const busy = await readResetFacts(m.host, NIC);
    expect(busy.siblingsInUse).to.deep.equal([{ address: '0000:03:00.1', why: 'bound to e1000e' }]);
    expect(planReset(busy).kind).to.equal('none');
  });
});
