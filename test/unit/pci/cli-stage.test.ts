/** The CLI commands (in-process through main) and the install pipeline's prepare-device stage. */
import { expect } from 'chai';
import { hostError } from '../../../src/errors.js';
import { PipelineError, runStages } from '../../../src/pipeline/runner.js';
import type { Stage } from '../../../src/pipeline/stage.js';
import type { InstallState } from '../../../src/pipeline/state.js';
import { readJournals } from '../../../src/pci/journal.js';
import { prepareDevice } from '../../../src/stages/prepare-device.js';
import { selectDevice } from '../../../src/stages/select-device.js';
import { validateRequest } from '../../../src/stages/validate-request.js';
import { runCli } from '../../helpers/cli.js';
import { type ModelHost, modelHost, standardSpec } from '../../helpers/kernel-model.js';
import { expectClean, quietLog } from './helpers.js';

const NIC = '0000:03:00.0';

describe('hostdev detach|reattach|reset and recover commands', () => {
  let m: ModelHost;
  afterEach(() => m?.cleanup());
  const cli = (argv: string[], o: { signal?: AbortSignal; env?: Record<string, string> } = {}) =>
    runCli(argv, { host: m.host, cwd: m.root, ...o });

  it('detach keeps the device on vfio-pci; recover leaves it; reattach gives it back', async () => {
    m = await modelHost(standardSpec());
    const d = await cli([
      'hostdev',
      'detach',
      '03:00.0',
      '--state-dir',
      'var/lib/install-guest',
      '--json',
      '--guest',
      'lab',
    ]);
    expect(d.code, d.stderr).to.equal(0);
    const out = JSON.parse(d.stdout) as {
      devices: { address: string; driver: string; vfioNode: string }[];
      stateDir: string;
    };
    expect(out.stateDir).to.equal(m.stateDir);
    expect(out.devices[0]).to.deep.include({ address: NIC, driver: 'vfio-pci', vfioNode: '/dev/vfio/7' });
    expect(m.model.binding(NIC)).to.deep.equal({ driver: 'vfio-pci', override: 'vfio-pci' });
    const rec = await cli(['recover'], { env: { INSTALL_GUEST_STATE_DIR: m.stateDir } });
    expect(rec.code).to.equal(0);
    expect(rec.stdout).to.include(`${NIC} [8086:10d3]: kept detached on purpose`);
    expect(m.model.driverOf(NIC)).to.equal('vfio-pci');
    const r = await cli(['hostdev', 'reattach', NIC]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.equal(`${NIC}: vfio-pci (driver_override vfio-pci) → e1000e\n`);
    expect(m.model.binding(NIC)).to.deep.equal({ driver: 'e1000e', override: null });
    await expectClean(m);
    const again = await cli(['hostdev', 'reattach', NIC]);
    expect(again.stdout).to.equal(`${NIC}: already on e1000e; nothing to do\n`);
  });

  it('detach --driver pci-stub, then reset refuses a device on a host driver and resets one on the stub', async () => {
    m = await modelHost(
      standardSpec({
        devices: { '0000:04:00.0': { flr: false, pm: { noSoftReset: false }, resetMethods: ['pm'] } },
      }),
    );
    const busy = await cli(['hostdev', 'reset', '0000:04:00.0']);
    expect(busy.code).to.equal(3);
    expect(busy.stderr).to.include('is bound to the host driver e1000e');
    expect(busy.stderr).to.include('[DEVICE_IN_USE]');
    const d = await cli([
      'hostdev',
      'detach',
      '0000:04:00.0',
      '--driver',
      'pci-stub',
      '--group',
      '--no-reset',
    ]);
    expect(d.code, d.stderr).to.equal(0);
    expect(d.stderr).to.include('pci-stub only reserves the device');
    expect(m.model.events).to.deep.equal([]);
    const r = await cli(['hostdev', 'reset', '0000:04:00.0']);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.equal('0000:04:00.0: reset: sysfs reset (reset_method: pm)\n');
    expect(m.model.events).to.deep.equal(['reset 0000:04:00.0 pm']);
    const flr = await cli(['hostdev', 'reset', NIC, '--force', '--json']);
    expect(JSON.parse(flr.stdout)).to.deep.include({ method: 'skipped' });
  });

  it('rejects a device that is not an address (exit 2) and reports a refusal as one line (exit 3)', async () => {
    m = await modelHost(standardSpec());
    const bad = await cli(['hostdev', 'detach', 'eth0']);
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.include("'eth0' is not a PCI address");
    const refused = await cli(['hostdev', 'detach', '0000:04:00.0', '--json']);
    expect(refused.code).to.equal(3);
    expect(JSON.parse(refused.stdout).error.code).to.equal('IOMMU_GROUP_NOT_VIABLE');
  });

  it('a detach interrupted by a signal gives the device back and exits 130', async () => {
    const ac = new AbortController();
    m = await modelHost(standardSpec(), {
      onWrite: (n) => n === 2 && ac.abort(Object.assign(new Error('SIGTERM'), { signal: 'SIGTERM' })),
    });
    const r = await cli(['hostdev', 'detach', NIC], { signal: ac.signal });
    expect(r.code).to.equal(130);
    expect(r.stderr).to.include('interrupted by SIGTERM');
    expect(m.model.binding(NIC)).to.deep.equal({ driver: 'e1000e', override: null });
    await expectClean(m);
  });

  it('recover --json on an empty state directory: nothing to do, exit 0', async () => {
    m = await modelHost(standardSpec());
    const r = await cli(['recover', '--json', '--dry-run']);
    expect(r.code).to.equal(0);
    expect(JSON.parse(r.stdout)).to.deep.include({ dryRun: true, runs: [], restored: 0, failed: 0 });
  });
});

describe('prepare-device stage', () => {
  let m: ModelHost;
  afterEach(() => m?.cleanup());

  const failing: Stage<InstallState> = {
    name: 'launch-qemu',
    changesHost: true,
    run: () => Promise.reject(hostError('QEMU_STOPPED', 'qemu broke')),
  };
  const pipeline = (extra: Stage<InstallState>[] = []) => [
    validateRequest,
    selectDevice,
    prepareDevice,
    ...extra,
  ];
  const run = (
    stages: Stage<InstallState>[],
    raw: Record<string, unknown>,
    signal = new AbortController().signal,
  ) =>
    runStages(stages, {
      host: m.host,
      log: quietLog(),
      signal,
      initial: {
        raw: { name: 'web1', hostdev: [NIC], boot: 'kernel=/boot/vmlinuz', stateDir: m.stateDir, ...raw },
        cwd: m.root,
      },
    });

  it('binds the device for the install and gives it back when a later stage fails', async () => {
    m = await modelHost(standardSpec());
    let seen: unknown;
    const peek: Stage<InstallState> = {
      name: 'peek',
      changesHost: false,
      run: ({ state }) => {
        seen = { prepared: state.prepared, binding: m.model.binding(NIC) };
        return Promise.resolve();
      },
    };
    try {
      await run(pipeline([peek, failing]), {});
      expect.fail('the pipeline should fail');
    } catch (e) {
      expect(e).to.be.instanceOf(PipelineError);
      expect((e as PipelineError).records.find((r) => r.name === 'prepare-device')?.cleanup).to.equal('done');
    }
    expect(seen).to.deep.include({ binding: { driver: 'vfio-pci', override: 'vfio-pci' } });
    expect((seen as { prepared: { address: string; driver: string }[] }).prepared[0]).to.deep.include({
      address: NIC,
      driver: 'vfio-pci',
    });
    expect(m.model.binding(NIC)).to.deep.equal({ driver: 'e1000e', override: null });
    await expectClean(m);
  });

  it('gives the device back after an interruption (exit 130), and keeps it with --keep-device after success', async () => {
    m = await modelHost(standardSpec());
    const ac = new AbortController();
    const interrupt: Stage<InstallState> = {
      name: 'watch-install',
      changesHost: false,
      run: () => {
        ac.abort(Object.assign(new Error('SIGINT'), { signal: 'SIGINT' }));
        return Promise.reject(new Error('aborted'));
      },
    };
    const err = await run(pipeline([interrupt]), {}, ac.signal).then(
      () => null,
      (e: PipelineError) => e,
    );
    expect((err?.error as { exitCode: number }).exitCode).to.equal(130);
    expect(m.model.binding(NIC)).to.deep.equal({ driver: 'e1000e', override: null });
    await run(pipeline(), { keepDevice: true });
    expect(m.model.binding(NIC)).to.deep.equal({ driver: 'vfio-pci', override: 'vfio-pci' });
    const [journal] = await readJournals(m.stateDir);
    expect(journal!.devices[0]!.state).to.equal('kept');
    expect(journal!.guest).to.equal('web1');
    await run(pipeline(), {});
    expect(
      m.model.binding(NIC),
      'already on vfio-pci: this run changes nothing and gives nothing back',
    ).to.deep.equal({
      driver: 'vfio-pci',
      override: 'vfio-pci',
    });
  });
});
