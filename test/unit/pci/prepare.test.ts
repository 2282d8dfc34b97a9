/**
 * prepareDevices against the kernel model: every fault the model can inject ends with every device on
 * its exact original binding, no dynamic id left, no lease or journal left, and an error naming the
 * step; plus group viability, guards, module loading, interruption and leases.
 */
import { expect } from 'chai';
import path from 'node:path';
import { prepareDevices, type PrepareOptions } from '../../../src/pci/prepare.js';
import { entries, expectClean, quietLog, rejects } from './helpers.js';
import {
  type ModelFault,
  type ModelHost,
  type ModelOptions,
  type ModelSpec,
  modelHost,
  standardSpec,
} from '../../helpers/kernel-model.js';

const NIC = '0000:03:00.0';
const PORT0 = '0000:04:00.0';
const PORT1 = '0000:04:00.1';

function opts(m: ModelHost, o: Partial<PrepareOptions> = {}): PrepareOptions {
  return {
    host: m.host,
    stateDir: m.stateDir,
    addresses: [NIC],
    guest: 'web1',
    command: 'test',
    log: quietLog(),
    ...o,
  };
}

/** a NIC without FLR whose only resets are the kernel's sysfs reset and PM (NoSoftRst clear) */
const resettable = (): ModelSpec =>
  standardSpec({ devices: { [NIC]: { flr: false, pm: { noSoftReset: false }, resetMethods: ['pm'] } } });

interface FaultCase {
  name: string;
  driver: 'vfio-pci' | 'pci-stub';
  spec?: () => ModelSpec;
  model: ModelOptions;
  code: string;
  step: string;
  addresses?: string[];
  group?: boolean;
}

const f = (op: ModelFault['op'], code: string, extra: Partial<ModelFault> = {}): ModelOptions => ({
  faults: [{ op, code, ...extra }],
});

const CASES: FaultCase[] = [
  {
    name: 'driver_override refused',
    driver: 'vfio-pci',
    model: f('override', 'EPERM', { times: 1 }),
    code: 'DRIVER_OVERRIDE_FAILED',
    step: 'override',
  },
  {
    name: 'unbind EBUSY',
    driver: 'vfio-pci',
    model: f('unbind', 'EBUSY', { driver: 'e1000e', times: 1 }),
    code: 'UNBIND_FAILED',
    step: 'unbind',
  },
  {
    name: 'vfio-pci probe refused (EINVAL)',
    driver: 'vfio-pci',
    model: f('probe', 'EINVAL', { driver: 'vfio-pci' }),
    code: 'BIND_VERIFY_FAILED',
    step: 'verify',
  },
  {
    name: 'vfio-pci probe refused (ENODEV)',
    driver: 'vfio-pci',
    model: f('probe', 'ENODEV', { driver: 'vfio-pci' }),
    code: 'BIND_VERIFY_FAILED',
    step: 'verify',
  },
  {
    name: 'drivers_probe refused',
    driver: 'vfio-pci',
    model: f('drivers_probe', 'ENODEV', { times: 1 }),
    code: 'PROBE_FAILED',
    step: 'probe',
  },
  {
    name: 'device vanishes mid-sequence',
    driver: 'vfio-pci',
    model: { vanish: { address: NIC, beforeWrite: 2 } },
    code: 'DEVICE_VANISHED',
    step: 'vanished',
  },
  {
    name: 'second group member refused (--group)',
    driver: 'vfio-pci',
    addresses: [PORT0],
    group: true,
    model: f('probe', 'EINVAL', { driver: 'vfio-pci', address: PORT1 }),
    code: 'BIND_VERIFY_FAILED',
    step: 'verify',
  },
  {
    name: 'new_id refused',
    driver: 'pci-stub',
    model: f('new_id', 'EINVAL'),
    code: 'NEW_ID_FAILED',
    step: 'new_id',
  },
  {
    name: 'pci-stub unbind EBUSY (id must go)',
    driver: 'pci-stub',
    model: f('unbind', 'EBUSY', { driver: 'e1000e', times: 1 }),
    code: 'UNBIND_FAILED',
    step: 'unbind',
  },
  {
    name: 'pci-stub bind refused (EINVAL)',
    driver: 'pci-stub',
    model: f('probe', 'EINVAL', { driver: 'pci-stub' }),
    code: 'BIND_FAILED',
    step: 'bind',
  },
  {
    name: 'pci-stub bind refused (ENODEV)',
    driver: 'pci-stub',
    model: f('bind', 'ENODEV', { driver: 'pci-stub' }),
    code: 'BIND_FAILED',
    step: 'bind',
  },
  {
    name: 'remove_id fails once',
    driver: 'pci-stub',
    model: f('remove_id', 'EIO', { times: 1 }),
    code: 'REMOVE_ID_FAILED',
    step: 'remove_id',
  },
  {
    name: 'reset fails (EIO)',
    driver: 'pci-stub',
    spec: resettable,
    model: f('reset', 'EIO'),
    code: 'RESET_FAILED',
    step: 'reset',
  },
  {
    name: 'reset fails (ENOTTY)',
    driver: 'pci-stub',
    spec: resettable,
    model: f('reset', 'ENOTTY'),
    code: 'RESET_FAILED',
    step: 'reset',
  },
  {
    name: 'no reset method',
    driver: 'pci-stub',
    spec: () =>
      standardSpec({ devices: { [NIC]: { flr: false }, '0000:00:1c.0': { resetSubordinate: false } } }),
    model: {},
    code: 'NO_RESET_METHOD',
    step: 'no_reset',
  },
  {
    name: 'device vanishes (pci-stub)',
    driver: 'pci-stub',
    model: { vanish: { address: NIC, beforeWrite: 3 } },
    code: 'DEVICE_VANISHED',
    step: 'vanished',
  },
];

describe('device preparation', () => {
  let m: ModelHost;
  afterEach(() => m?.cleanup());

  describe('each injected fault leaves every device as it was and names the step', () => {
    for (const c of CASES) {
      it(`${c.driver}: ${c.name}`, async () => {
        m = await modelHost((c.spec ?? standardSpec)(), c.model);
        const addresses = c.addresses ?? [NIC];
        const group = addresses.flatMap((a) => (m.model.groupOf(a) ? [a] : []));
        const watched = [...new Set([...addresses, ...(c.group ? [PORT0, PORT1] : [])])];
        const before = watched.filter((a) => m.model.exists(a)).map((a) => m.model.binding(a));
        const err = await rejects(
          prepareDevices(opts(m, { addresses, driver: c.driver, group: c.group ?? false })),
        );
        expect(err.code).to.equal(c.code);
        expect(err.message).to.include(`step '${c.step}'`);
        expect(err.data?.step).to.equal(c.step);
        expect(err.exitCode).to.equal(3);
        const after = watched.filter((a) => m.model.exists(a)).map((a) => m.model.binding(a));
        if (c.step === 'vanished') {
          expect(m.model.exists(NIC)).to.equal(false);
        } else {
          expect(after).to.deep.equal(before);
          expect(err.message).to.include('every device was given back its original driver');
        }
        expect(m.model.vfioNodes().filter((n) => n !== 'vfio')).to.deep.equal([]);
        expect(group.length).to.be.greaterThan(0);
        await expectClean(m);
      });
    }
  });

  it('binds to vfio-pci (override, unbind, drivers_probe), skips the reset, and gives it back exactly', async () => {
    m = await modelHost(standardSpec());
    const s = await prepareDevices(opts(m));
    expect(m.model.binding(NIC)).to.deep.equal({ driver: 'vfio-pci', override: 'vfio-pci' });
    expect(s.devices[0]).to.deep.include({
      vfioNode: '/dev/vfio/7',
      changed: true,
      original: { driver: 'e1000e', override: null },
    });
    expect(s.devices[0]!.reset?.method).to.equal('skipped');
    expect(m.model.writes.map((w) => path.basename(w.path))).to.deep.equal([
      'driver_override',
      'unbind',
      'drivers_probe',
    ]);
    expect(await entries(path.join(m.stateDir, 'leases'))).to.deep.equal([
      'device-0000:03:00.0.lock',
      'group-7.lock',
    ]);
    await s.release();
    expect(m.model.binding(NIC)).to.deep.equal({ driver: 'e1000e', override: null });
    await expectClean(m);
  });

  it('takes the legacy pci-stub path: new_id, unbind, bind, remove_id, then a reset; the id never outlives the bind', async () => {
    m = await modelHost(resettable());
    const log = quietLog();
    const s = await prepareDevices(opts(m, { driver: 'pci-stub', log }));
    expect(log.lines).to.include(
      'warning: pci-stub only reserves the device (legacy: modern qemu has no pci-assign); use vfio-pci to assign it',
    );
    expect(m.model.binding(NIC)).to.deep.equal({ driver: 'pci-stub', override: null });
    expect(m.model.allDynids()).to.deep.equal([]);
    expect(m.model.writes.map((w) => path.basename(w.path))).to.deep.equal([
      'new_id',
      'unbind',
      'bind',
      'remove_id',
      'reset',
    ]);
    expect(m.model.events).to.deep.equal(['reset 0000:03:00.0 pm']);
    await s.release();
    expect(m.model.binding(NIC)).to.deep.equal({ driver: 'e1000e', override: null });
    await expectClean(m);
  });

  it('gives back devices that pci-stub new_id grabbed as a side effect', async () => {
    m = await modelHost(standardSpec({ devices: { [PORT1]: { driver: null } } }));
    const s = await prepareDevices(
      opts(m, { driver: 'pci-stub', addresses: [PORT0], group: true, reset: false }),
    );
    // 04:00.1 was unbound (viable) so it is not bound by --group; new_id must not leave it on pci-stub
    expect(m.model.binding(PORT1)).to.deep.equal({ driver: null, override: null });
    expect(m.model.binding(PORT0).driver).to.equal('pci-stub');
    await s.release();
    expect(m.model.binding(PORT0)).to.deep.equal({ driver: 'e1000e', override: null });
    expect(m.model.binding(PORT1)).to.deep.equal({ driver: null, override: null });
    await expectClean(m);
  });

  it('refuses a group that is not viable, listing the members and their drivers, without writing anything', async () => {
    m = await modelHost(standardSpec());
    const err = await rejects(prepareDevices(opts(m, { addresses: [PORT0] })));
    expect(err.code).to.equal('IOMMU_GROUP_NOT_VIABLE');
    expect(err.message).to.include('0000:04:00.1 is on e1000e');
    expect(err.message).to.include('0000:00:1c.1 [8086:2942] on pcieport (bridge, stays)');
    expect(err.hint).to.include('--group');
    expect(m.model.writes).to.deep.equal([]);
    await expectClean(m);
  });

  it('with --group binds every endpoint member and leaves the bridge alone', async () => {
    m = await modelHost(standardSpec());
    const s = await prepareDevices(opts(m, { addresses: [PORT0], group: true }));
    expect(s.devices.map((d) => [d.address, d.requested])).to.deep.equal([
      [PORT0, true],
      [PORT1, false],
    ]);
    expect(m.model.driverOf(PORT0)).to.equal('vfio-pci');
    expect(m.model.driverOf(PORT1)).to.equal('vfio-pci');
    expect(m.model.driverOf('0000:00:1c.1')).to.equal('pcieport');
    await s.release();
    expect([m.model.binding(PORT0), m.model.binding(PORT1)]).to.deep.equal([
      { driver: 'e1000e', override: null },
      { driver: 'e1000e', override: null },
    ]);
    await expectClean(m);
  });

  it('accepts a group whose other members are unbound or already on a stub', async () => {
    m = await modelHost(standardSpec({ devices: { [PORT1]: { driver: 'pci-stub' } } }));
    const s = await prepareDevices(opts(m, { addresses: [PORT0] }));
    expect(s.devices.map((d) => d.address)).to.deep.equal([PORT0]);
    await s.release();
    expect(m.model.binding(PORT1).driver).to.equal('pci-stub');
  });

  describe('guards', () => {
    it('refuses the NIC carrying the default route (through its bridge) unless --force, saying what breaks', async () => {
      m = await modelHost(standardSpec());
      const err = await rejects(prepareDevices(opts(m, { addresses: ['0000:05:00.0'] })));
      expect(err.code).to.equal('HOST_NIC_IN_USE');
      expect(err.message).to.include("eno1 carrying the host's default route (via 192.168.1.1 through br0)");
      expect(err.message).to.include('cuts the host off the network');
      expect(m.model.writes).to.deep.equal([]);
      const log = quietLog();
      const s = await prepareDevices(opts(m, { addresses: ['0000:05:00.0'], force: true, log }));
      expect(log.lines.join('\n')).to.include('warning: --force:');
      expect(s.warnings).to.have.length(1);
      await s.release();
      await expectClean(m);
    });

    it('refuses a NIC with host addresses', async () => {
      const spec = standardSpec();
      spec.files!['/proc/net/route'] += 'enp3s0\t000A0A0A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n';
      spec.files!['/proc/net/if_inet6'] = '20010db8000000000000000000000005 03 40 00 80   enp3s0\n';
      m = await modelHost(spec);
      const err = await rejects(prepareDevices(opts(m)));
      expect(err.code).to.equal('HOST_NIC_IN_USE');
      expect(err.message).to.include('host addresses 10.10.10.0/24, 2001:db8::5/64');
    });

    it('refuses the controller of a mounted disk', async () => {
      m = await modelHost(standardSpec());
      const err = await rejects(prepareDevices(opts(m, { addresses: ['0000:00:1f.2'] })));
      expect(err.code).to.equal('MOUNTED_DISK_CONTROLLER');
      expect(err.message).to.include('/dev/sda2 mounted on /');
    });

    it('refuses a device whose /dev/vfio group another process holds open', async () => {
      const spec = standardSpec({ devices: { [NIC]: { driver: 'pci-stub' } } });
      spec.links = { '/proc/4242/fd/17': '/dev/vfio/7' };
      spec.files!['/proc/4242/comm'] = 'qemu-system-x86\n';
      spec.files!['/dev/vfio/7'] = '';
      m = await modelHost(spec);
      const err = await rejects(prepareDevices(opts(m)));
      expect(err.code).to.equal('VFIO_GROUP_OPEN');
      expect(err.message).to.include('PID 4242 (qemu-system-x86)');
    });
  });

  describe('the stub module', () => {
    const unloaded = (): ModelSpec => {
      const spec = standardSpec();
      spec.drivers = spec.drivers.map((d) => (d.name === 'vfio-pci' ? { ...d, loaded: false } : d));
      return spec;
    };

    it('loads vfio-pci with modprobe when it is missing (where allowed)', async () => {
      m = await modelHost(unloaded());
      const s = await prepareDevices(opts(m, { allowModprobe: true }));
      expect(m.model.events).to.include('modprobe vfio-pci');
      expect(m.model.driverOf(NIC)).to.equal('vfio-pci');
      await s.release();
    });

    it('never runs modprobe on a tree that is not the real root unless allowed', async () => {
      m = await modelHost(unloaded());
      const err = await rejects(prepareDevices(opts(m)));
      expect(err.code).to.equal('DRIVER_NOT_LOADED');
      expect(m.model.events).to.deep.equal([]);
      await expectClean(m);
    });

    it('reports a blacklisted module with the modprobe.d line', async () => {
      const spec = unloaded();
      spec.modprobe = {
        vfio_pci: {
          exitCode: 1,
          stderr:
            "modprobe: ERROR: Error running install command '/bin/false' for module vfio_pci: retcode 1\n",
        },
      };
      spec.files!['/etc/modprobe.d/no-vfio.conf'] = '# keep vfio away\ninstall vfio_pci /bin/false\n';
      m = await modelHost(spec);
      const err = await rejects(prepareDevices(opts(m, { allowModprobe: true })));
      expect(err.code).to.equal('MODULE_BLACKLISTED');
      expect(err.message).to.include('/etc/modprobe.d/no-vfio.conf:2: install vfio_pci /bin/false');
      expect(m.model.binding(NIC)).to.deep.equal({ driver: 'e1000e', override: null });
      await expectClean(m);
    });
  });

  it('stops at an interruption between two writes and gives the device back (INTERRUPTED, exit 130)', async () => {
    const ac = new AbortController();
    m = await modelHost(standardSpec(), {
      onWrite: (n) => {
        if (n === 2) ac.abort(Object.assign(new Error('interrupted by SIGINT'), { signal: 'SIGINT' }));
      },
    });
    const err = await rejects(prepareDevices(opts(m, { signal: ac.signal })));
    expect(err.code).to.equal('INTERRUPTED');
    expect(err.exitCode).to.equal(130);
    expect(err.message).to.include('SIGINT');
    expect(m.model.binding(NIC)).to.deep.equal({ driver: 'e1000e', override: null });
    await expectClean(m);
  });

  it('refuses a bridge, a missing device, and vfio-pci without an IOMMU group (pci-stub is fine)', async () => {
    m = await modelHost(standardSpec({ devices: { [NIC]: { group: null } } }));
    expect((await rejects(prepareDevices(opts(m, { addresses: ['0000:00:1c.0'] })))).code).to.equal(
      'DEVICE_IS_BRIDGE',
    );
    expect((await rejects(prepareDevices(opts(m, { addresses: ['0000:09:00.0'] })))).code).to.equal(
      'HOSTDEV_NOT_FOUND',
    );
    const err = await rejects(prepareDevices(opts(m)));
    expect(err.code).to.equal('NO_IOMMU_GROUP');
    expect(err.hint).to.include('intel_iommu=on');
    const s = await prepareDevices(opts(m, { driver: 'pci-stub' }));
    expect(m.model.driverOf(NIC)).to.equal('pci-stub');
    await s.release();
    await expectClean(m);
  });

  describe('leases', () => {
    it('a second run asking for a leased device gets DEVICE_BUSY naming the owner', async () => {
      m = await modelHost(standardSpec());
      const s = await prepareDevices(opts(m, { guest: 'first' }));
      const err = await rejects(prepareDevices(opts(m, { guest: 'second' })));
      expect(err.code).to.equal('DEVICE_BUSY');
      expect(err.message).to.include(`PID ${process.pid} (guest first, test`);
      expect(m.model.writes).to.have.length(3);
      await s.release();
      await expectClean(m);
    });

    it('two members of one group: the group lease decides', async () => {
      m = await modelHost(standardSpec({ devices: { [PORT1]: { driver: null } } }));
      const s = await prepareDevices(opts(m, { addresses: [PORT0], group: true }));
      const err = await rejects(prepareDevices(opts(m, { addresses: [PORT1], group: true })));
      expect(err.code).to.equal('DEVICE_BUSY');
      expect(err.message).to.match(/^IOMMU group 8 is leased by PID/);
      await s.release();
    });
  });
});
