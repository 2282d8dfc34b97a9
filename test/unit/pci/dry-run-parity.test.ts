/**
 * "The dry run passed" means "the real run will not refuse this": for every device check the real
 * install makes, `install --dry-run` and the real `install` run on the same kernel model and stop
 * with the same error code and exit code; the dry run changes nothing in the kernel model or the
 * state dir. Where the real run goes through, the dry run's plan names exactly the devices it binds.
 */
import { expect } from 'chai';
import path from 'node:path';
import { prepareDevices } from '../../../src/pci/prepare.js';
import { runCli } from '../../helpers/cli.js';
import {
  DRIVERS,
  type ModelDeviceSpec,
  type ModelHost,
  type ModelSpec,
  modelHost,
  standardSpec,
} from '../../helpers/kernel-model.js';
import { entries, expectClean, goneOwner, quietLog, writeLease } from './helpers.js';

const MEDIA = path.resolve('fixtures/cases/_media');
const BOOT = `kernel=${MEDIA}/vmlinuz,initrd=${MEDIA}/initrd.img`;

/** A GPU (01:00.0) and its HDMI audio function (01:00.1) in one IOMMU group behind root port 00:01.0. */
export function gpuAudioSpec(audioDriver: string | null = 'snd_hda_intel'): ModelSpec {
  const base = standardSpec();
  const devices: ModelDeviceSpec[] = [
    ...base.devices,
    {
      address: '0000:00:01.0',
      vendor: '8086',
      device: '2940',
      class: '0x060400',
      driver: 'pcieport',
      group: '1',
    },
    {
      address: '0000:01:00.0',
      parent: '0000:00:01.0',
      vendor: '10de',
      device: '1eb8',
      class: '0x030200',
      driver: 'nvidia',
      group: '1',
      flr: true,
    },
    {
      address: '0000:01:00.1',
      parent: '0000:00:01.0',
      vendor: '10de',
      device: '10f8',
      class: '0x040300',
      driver: audioDriver,
      group: '1',
      flr: true,
    },
  ];
  return {
    ...base,
    devices,
    drivers: [
      ...DRIVERS,
      { name: 'nvidia', module: 'nvidia', ids: ['10de:1eb8'] },
      { name: 'snd_hda_intel', module: 'snd_hda_intel', ids: ['10de:10f8'] },
    ],
  };
}

/**
 * An Intel VMD controller (00:0e.0, 8086:9a0b) hosting domain 10000: a root port and an NVMe behind
 * it and a NIC on a second port, all in the controller's IOMMU group 3.
 */
export function vmdSpec(): ModelSpec {
  const base = standardSpec();
  return {
    ...base,
    devices: [
      ...base.devices,
      {
        address: '0000:00:0e.0',
        vendor: '8086',
        device: '9a0b',
        class: '0x010400',
        driver: 'vmd',
        group: '3',
      },
      {
        address: '10000:00:02.0',
        vendor: '8086',
        device: '2942',
        class: '0x060400',
        driver: 'pcieport',
        group: '3',
      },
      {
        address: '10000:02:00.0',
        parent: '10000:00:02.0',
        vendor: '8086',
        device: '1533',
        class: '0x020000',
        driver: 'igb',
        group: '3',
        net: [{ name: 'enp2s0' }],
      },
    ],
    drivers: [...DRIVERS, { name: 'vmd', module: 'vmd', ids: ['8086:9a0b'] }],
  };
}

interface Outcome {
  code: number;
  error?: string;
  message?: string;
}

describe('install --dry-run agrees with the real install on the kernel model', function () {
  this.timeout(60_000);
  let m: ModelHost;
  afterEach(() => m?.cleanup());

  const install = async (extra: string[], dry: boolean): Promise<Outcome> => {
    const r = await runCli(
      [
        'install',
        '--json',
        '--name',
        'parity',
        '--boot',
        BOOT,
        ...(extra.includes('--log-dir') ? [] : ['--log-dir', path.join(m.root, 'logs')]),
        ...(dry ? ['--dry-run'] : []),
        ...extra,
      ],
      { host: m.host, cwd: m.root },
    );
    expect(r.stderr, 'no stack trace').not.to.match(/\n\s+at /);
    const lines = r.stdout.trim().split('\n');
    const last = JSON.parse(lines[lines.length - 1]!) as { error?: { code: string; message: string } };
    return {
      code: r.code,
      ...(last.error ? { error: last.error.code, message: last.error.message } : {}),
    };
  };

  /** Runs the dry run first (it must change nothing), then the real run; both must refuse alike. */
  const agree = async (extra: string[], code: string, exit: number): Promise<Outcome> => {
    const writesBefore = m.model.writes.length;
    const dry = await install(extra, true);
    expect(m.model.writes.length, 'the dry run wrote to sysfs').to.equal(writesBefore);
    expect(await entries(path.join(m.stateDir, 'journal')), 'the dry run opened a journal').to.deep.equal([]);
    expect(await entries(path.join(m.root, 'logs')), 'the dry run created the log dir').to.deep.equal([]);
    const real = await install(extra, false);
    expect(real, 'the real run').to.deep.include({ code: exit, error: code });
    expect(dry, 'the dry run').to.deep.include({ code: exit, error: code });
    await expectClean(m);
    return dry;
  };

  const cases: [string, () => ModelSpec, string[], string, number][] = [
    [
      'the SATA controller of the mounted root disk',
      standardSpec,
      ['--hostdev', '0000:00:1f.2'],
      'MOUNTED_DISK_CONTROLLER',
      3,
    ],
    ['the NIC carrying the default route', standardSpec, ['--hostdev', '0000:05:00.0'], 'HOST_NIC_IN_USE', 3],
    [
      'a NIC whose group holds a second port on its host driver',
      standardSpec,
      ['--hostdev', '0000:04:00.0'],
      'IOMMU_GROUP_NOT_VIABLE',
      3,
    ],
    [
      'a GPU whose audio function shares its group',
      () => gpuAudioSpec(),
      ['--hostdev', '0000:01:00.0'],
      'IOMMU_GROUP_NOT_VIABLE',
      3,
    ],
    ['a PCI bridge', standardSpec, ['--hostdev', '0000:00:1c.0'], 'DEVICE_IS_BRIDGE', 3],
    [
      'a device without an IOMMU group',
      () => standardSpec({ devices: { '0000:03:00.0': { group: null } } }),
      ['--hostdev', '0000:03:00.0'],
      'NO_IOMMU_GROUP',
      3,
    ],
    [
      'a device whose group another process holds open',
      () => {
        const spec = standardSpec({
          devices: { '0000:03:00.0': { driver: 'vfio-pci', override: 'vfio-pci' } },
        });
        return {
          ...spec,
          files: { ...spec.files, '/proc/4242/comm': 'qemu-system-x86\n' },
          links: { '/proc/4242/fd/5': '/dev/vfio/7' },
        };
      },
      ['--hostdev', '0000:03:00.0'],
      'VFIO_GROUP_OPEN',
      3,
    ],
    [
      'a VMD controller asked for directly',
      vmdSpec,
      ['--hostdev', '0000:00:0e.0'],
      'DEVICE_HOSTS_DEVICES',
      3,
    ],
    [
      'a NIC behind a VMD controller, with --group',
      vmdSpec,
      ['--hostdev', '10000:02:00.0', '--group'],
      'IOMMU_GROUP_NOT_VIABLE',
      3,
    ],
  ];
  // inputs the real run reads and outputs it writes, checked by the same functions in a dry run
  const notExecutable = path.resolve('fixtures/cases/_media/extra.conf');
  cases.push(
    [
      'a missing --initrd-inject file',
      standardSpec,
      ['--initrd-inject', 'missing.ks'],
      'BAD_INITRD_INJECT',
      2,
    ],
    [
      'a --qemu-binary that does not exist',
      standardSpec,
      ['--qemu-binary', '/nonexistent/qemu'],
      'QEMU_NOT_FOUND',
      3,
    ],
    [
      'a --qemu-binary that is not executable',
      standardSpec,
      ['--qemu-binary', notExecutable],
      'QEMU_NOT_FOUND',
      3,
    ],
    ['a --qemu-binary that is a directory', standardSpec, ['--qemu-binary', '/usr/bin'], 'QEMU_NOT_FOUND', 3],
    [
      'a --log-dir below a regular file',
      standardSpec,
      ['--log-dir', `${notExecutable}/logs`],
      'BAD_LOG_DIR',
      2,
    ],
    [
      'a NIC with --qemu-binary missing: the emulator is checked before any device is detached',
      standardSpec,
      ['--hostdev', '0000:03:00.0', '--qemu-binary', 'no-such-qemu-binary'],
      'QEMU_NOT_FOUND',
      3,
    ],
  );
  for (const [name, spec, extra, code, exit] of cases) {
    it(`${name}: ${code}, exit ${exit}, in both`, async () => {
      m = await modelHost(spec());
      const before = JSON.stringify(m.model.allDynids());
      await agree(extra, code, exit);
      expect(JSON.stringify(m.model.allDynids())).to.equal(before);
      if (code === 'QEMU_NOT_FOUND') expect(m.model.writes, 'nothing detached').to.deep.equal([]);
    });
  }

  it('a device a live run holds: DEVICE_BUSY naming the owner, in both, and the dry run changes nothing', async () => {
    m = await modelHost(standardSpec());
    // a live run (this process) holds 0000:03:00.0 and its group
    const held = await prepareDevices({
      host: m.host,
      stateDir: m.stateDir,
      addresses: ['0000:03:00.0'],
      guest: 'first',
      command: 'install',
      log: quietLog(),
    });
    const leases = await entries(path.join(m.stateDir, 'leases'));
    const journals = await entries(path.join(m.stateDir, 'journal'));
    const writes = m.model.writes.length;
    const dry = await install(['--hostdev', '0000:03:00.0'], true);
    expect(m.model.writes.length, 'the dry run wrote to sysfs').to.equal(writes);
    const real = await install(['--hostdev', '0000:03:00.0'], false);
    expect(real).to.deep.include({ code: 3, error: 'DEVICE_BUSY' });
    expect(dry).to.deep.include({ code: 3, error: 'DEVICE_BUSY' });
    expect(dry.message).to.equal(real.message);
    expect(dry.message).to.match(new RegExp(`is leased by PID ${process.pid} \\(guest first, install`));
    expect(await entries(path.join(m.stateDir, 'leases'))).to.deep.equal(leases);
    expect(await entries(path.join(m.stateDir, 'journal'))).to.deep.equal(journals);
    expect(m.model.driverOf('0000:03:00.0'), "still the first run's").to.equal('vfio-pci');
    await held.release();
    await expectClean(m);
    // given back: both go through now (the dry run with a plan, the lease free)
    expect(await install(['--hostdev', '0000:03:00.0'], true)).to.deep.equal({ code: 0 });
  });

  it('a stale lease (its owner gone): the dry run says the real run would take it over, and leaves it', async () => {
    m = await modelHost(standardSpec());
    await writeLease(m.stateDir, 'device-0000:03:00.0.lock', goneOwner(999_999_999, { guest: 'old' }));
    const before = await entries(path.join(m.stateDir, 'leases'));
    const r = await runCli(
      ['install', '--dry-run', '--json', '--name', 's', '--boot', BOOT, '--hostdev', '0000:03:00.0'],
      { host: m.host, cwd: m.root },
    );
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stderr).to.match(
      /would take over the stale lease on device 0000:03:00.0 \(PID 999999999 \(guest old/,
    );
    expect(await entries(path.join(m.stateDir, 'leases'))).to.deep.equal(before);
    expect(m.model.writes).to.deep.equal([]);
  });

  it('the VMD controller is never a group endpoint: the refusal names it and nothing was detached', async () => {
    m = await modelHost(vmdSpec());
    const dry = await agree(['--hostdev', '10000:02:00.0', '--group'], 'IOMMU_GROUP_NOT_VIABLE', 3);
    expect(dry.message).to.include('0000:00:0e.0 is on vmd and hosts other devices');
    expect(m.model.binding('0000:00:0e.0')).to.deep.equal({ driver: 'vmd', override: null });
  });

  it('with --force the guards warn in both, and the plan names the device the real preparation binds', async () => {
    m = await modelHost(standardSpec());
    const r = await runCli(
      [
        'install',
        '--dry-run',
        '--json',
        '--name',
        'f',
        '--boot',
        BOOT,
        '--hostdev',
        '0000:05:00.0',
        '--force',
      ],
      { host: m.host, cwd: m.root },
    );
    expect(r.code, r.stderr).to.equal(0);
    const plan = JSON.parse(r.stdout) as { detach: { address: string }[]; warnings: string[] };
    expect(plan.warnings.join('\n')).to.include(
      "--force: 0000:05:00.0 is the NIC eno1 carrying the host's default route",
    );
    const s = await prepareDevices({
      host: m.host,
      stateDir: m.stateDir,
      addresses: ['0000:05:00.0'],
      force: true,
      guest: 'f',
      command: 'install',
      log: quietLog(),
    });
    expect(plan.detach.map((d) => d.address)).to.deep.equal(s.devices.map((d) => d.address));
    // the plan's warnings are the preparation's, plus what earlier stages said (the accelerator)
    expect(plan.warnings.filter((w) => !w.includes('tcg software emulation'))).to.deep.equal(s.warnings);
    await s.release();
    await expectClean(m);
  });

  it('--group: the plan lists every member it would detach, as the real preparation binds them, and assigns them', async () => {
    m = await modelHost(gpuAudioSpec());
    const r = await runCli(
      [
        'install',
        '--dry-run',
        '--json',
        '--name',
        'g',
        '--boot',
        BOOT,
        '--hostdev',
        '0000:01:00.0',
        '--group',
      ],
      { host: m.host, cwd: m.root },
    );
    expect(r.code, r.stderr).to.equal(0);
    const plan = JSON.parse(r.stdout) as {
      detach: { address: string; from: string; to: string; why: string }[];
      devices: { address: string }[];
      argv: { install: string[] };
    };
    expect(plan.detach).to.deep.equal([
      {
        address: '0000:01:00.0',
        vendorDevice: '10de:1eb8',
        from: 'nvidia',
        to: 'vfio-pci',
        why: 'requested',
        change: true,
      },
      {
        address: '0000:01:00.1',
        vendorDevice: '10de:10f8',
        from: 'snd_hda_intel',
        to: 'vfio-pci',
        why: 'member of IOMMU group 1 (--group)',
        change: true,
      },
    ]);
    expect(plan.devices.map((d) => d.address)).to.deep.equal(['0000:01:00.0', '0000:01:00.1']);
    const vfio = plan.argv.install.filter((a) => a.startsWith('vfio-pci,'));
    expect(vfio).to.have.length(2);
    const s = await prepareDevices({
      host: m.host,
      stateDir: m.stateDir,
      addresses: ['0000:01:00.0'],
      group: true,
      guest: 'g',
      command: 'install',
      log: quietLog(),
    });
    expect(s.devices.map((d) => d.address)).to.deep.equal(plan.detach.map((d) => d.address));
    await s.release();
    await expectClean(m);
    const human = await runCli(
      ['install', '--dry-run', '--name', 'g', '--boot', BOOT, '--hostdev', '0000:01:00.0', '--group'],
      { host: m.host, cwd: m.root },
    );
    expect(human.stdout).to.include(
      'would detach 0000:01:00.1 [10de:10f8] from snd_hda_intel to vfio-pci (member of IOMMU group 1 (--group))',
    );
  });
});
