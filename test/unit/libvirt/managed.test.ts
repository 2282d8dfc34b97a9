/**
 * `--hostdev ADDR,managed=no` with --connect: install-guest's own preparation (journal, lease,
 * vfio-pci) runs for that device and the domain XML says managed='no'; without it (managed=yes,
 * the default) libvirt binds the device and install-guest leaves it alone: the device is prepared
 * once, by one of them. The host is the kernel model (sysfs at the OS boundary).
 */
import { expect } from 'chai';
import { parseHostdev, parseNetwork } from '../../../src/request/request.js';
import { domainXml } from '../../../src/libvirt/install.js';
import { runStages } from '../../../src/pipeline/runner.js';
import type { Stage } from '../../../src/pipeline/stage.js';
import type { InstallState } from '../../../src/pipeline/state.js';
import { readJournals } from '../../../src/pci/journal.js';
import { prepareDevice } from '../../../src/stages/prepare-device.js';
import { validateRequest } from '../../../src/stages/validate-request.js';
import { type ModelHost, modelHost, standardSpec } from '../../helpers/kernel-model.js';
import { expectClean, quietLog } from '../pci/helpers.js';

const NIC = '0000:03:00.0';

describe('--hostdev managed=no|yes through libvirt', () => {
  let m: ModelHost;
  afterEach(() => m?.cleanup());

  it('parses managed= as virt-install reads on/off values; default: not said', () => {
    expect(parseHostdev('0000:03:00.0,managed=no')).to.deep.equal({
      selector: '0000:03:00.0',
      managed: false,
    });
    expect(parseHostdev('03:00.0,managed=yes').managed).to.equal(true);
    expect(parseHostdev('03:00.0,managed=off').managed).to.equal(false);
    expect(parseHostdev('03:00.0')).to.not.have.property('managed');
    expect(() => parseHostdev('03:00.0,managed=maybe')).to.throw(/managed/);
  });

  /** the stages up to prepare-device, on a libvirt connection, then a look at the state */
  const run = async (hostdev: string) => {
    let seen: InstallState | undefined;
    let during: { binding: unknown; journaled: string[] } | undefined;
    const connected: Stage<InstallState> = {
      name: 'connect-libvirt',
      changesHost: false,
      // what connect-libvirt and select-device record for a local libvirtd (no virsh needed here)
      run: ({ state }) =>
        Promise.resolve({
          libvirt: {
            uri: 'qemu:///system',
            local: true,
            domainType: 'qemu' as const,
            pool: 'default',
            transient: false,
            created: { volumes: [], defined: false },
            diskPaths: {},
          },
          devices: state.request!.hostdevs.map(({ selector, ...o }) => ({
            address: selector,
            ...o,
            vendorDevice: '8086:10d3',
          })),
          uuid: '6f1a4c1e-7d1b-4b36-9d55-0d4f8a3c2b10',
          mac: '52:54:00:12:34:56',
        }),
    };
    const peek: Stage<InstallState> = {
      name: 'peek',
      changesHost: false,
      run: async ({ state }) => {
        seen = structuredClone({ ...state, deviceSession: undefined });
        const journals = await readJournals(m.stateDir);
        during = {
          binding: m.model.binding(NIC),
          journaled: journals.flatMap((j) => j.devices.map((d) => d.address)),
        };
        return {};
      },
    };
    await runStages([validateRequest, connected, prepareDevice, peek], {
      host: m.host,
      log: quietLog(),
      signal: new AbortController().signal,
      initial: {
        raw: { name: 'web1', hostdev: [hostdev], boot: 'kernel=/boot/vmlinuz', stateDir: m.stateDir },
        cwd: m.root,
      },
    });
    return { seen: seen!, during: during! };
  };

  it('managed=no: install-guest binds it (journaled), the XML says managed=no, and it is given back', async () => {
    m = await modelHost(standardSpec());
    const { seen, during } = await run(`${NIC},managed=no`);
    // during the install: on vfio-pci, journaled (and leased) by install-guest
    expect(during).to.deep.equal({ binding: { driver: 'vfio-pci', override: 'vfio-pci' }, journaled: [NIC] });
    expect(seen.prepared).to.deep.equal([
      { address: NIC, managed: false, vendorDevice: '8086:10d3', driver: 'vfio-pci' },
    ]);
    const xml = domainXml(seen, 'confirm', { cdroms: [] }, undefined);
    expect(xml).to.match(/<hostdev mode='subsystem' type='pci' managed='no'>[\s\S]*?bus='0x03'/);
    // after the run it is back on its driver
    expect(m.model.binding(NIC)).to.deep.equal({ driver: 'e1000e', override: null });
    await expectClean(m);
  });

  it('managed=yes (default): install-guest does not touch it; libvirt gets managed=yes', async () => {
    m = await modelHost(standardSpec());
    const { seen, during } = await run(NIC);
    expect(during).to.deep.equal({ binding: { driver: 'e1000e', override: null }, journaled: [] });
    expect(seen.prepared).to.deep.equal([{ address: NIC, vendorDevice: '8086:10d3' }]);
    expect(m.model.binding(NIC)).to.deep.equal({ driver: 'e1000e', override: null });
    expect(domainXml(seen, 'confirm', { cdroms: [] }, undefined)).to.include(
      "<hostdev mode='subsystem' type='pci' managed='yes'>",
    );
  });

  it('--network network=NAME: a libvirt network with --connect, refused with a hint without', () => {
    expect(parseNetwork('network=igtest,model=e1000e', { libvirt: true })).to.deep.equal({
      kind: 'network',
      network: 'igtest',
      model: 'e1000e',
    });
    expect(parseNetwork('network:default', { libvirt: true })).to.include({ network: 'default' });
    expect(() => parseNetwork('network=default'))
      .to.throw(/a libvirt virtual network exists only in libvirt/)
      .with.property('hint')
      .that.matches(/--connect qemu:\/\/\/system/);
    expect(() => parseNetwork('network=a b', { libvirt: true })).to.throw(/not a libvirt network name/);
  });
});
