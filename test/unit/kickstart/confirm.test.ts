import { expect } from 'chai';
import { execa } from 'execa';
import { mkdir, mkdtemp, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  confirmScript,
  findDevice,
  interfacesOf,
  parseConfirmLines,
} from '../../../src/kickstart/confirm.js';
import { confirmInstallSnippet } from '../../../src/kickstart/render.js';

const BUSYBOX = '/bin/busybox';

interface FakePci {
  addr: string;
  vendor: string;
  device: string;
  svendor: string;
  sdevice: string;
  class: string;
  driver?: string;
}

/** A sysfs tree laid out as the kernel does: devices under /sys/devices, links from bus and class. */
async function fakeSysfs(
  root: string,
  pcis: FakePci[],
  nets: { name: string; mac: string; state: string; parent?: string; via?: string }[],
): Promise<string> {
  const sys = path.join(root, 'sys');
  await mkdir(path.join(sys, 'bus/pci/devices'), { recursive: true });
  await mkdir(path.join(sys, 'class/net'), { recursive: true });
  for (const p of pcis) {
    const domain = p.addr.split(':')[0]!;
    const dev = path.join(sys, 'devices', `pci${domain}:00`, p.addr);
    await mkdir(dev, { recursive: true });
    for (const [f, v] of Object.entries({
      vendor: p.vendor,
      device: p.device,
      subsystem_vendor: p.svendor,
      subsystem_device: p.sdevice,
      class: p.class,
    })) {
      await writeFile(path.join(dev, f), `${v}\n`);
    }
    if (p.driver) {
      await mkdir(path.join(sys, 'bus/pci/drivers', p.driver), { recursive: true });
      await symlink(
        path.relative(dev, path.join(sys, 'bus/pci/drivers', p.driver)),
        path.join(dev, 'driver'),
      );
    }
    await symlink(
      path.relative(path.join(sys, 'bus/pci/devices'), dev),
      path.join(sys, 'bus/pci/devices', p.addr),
    );
  }
  for (const n of nets) {
    let parentDir = path.join(sys, 'devices/virtual');
    if (n.parent) {
      const domain = n.parent.split(':')[0]!;
      parentDir = path.join(sys, 'devices', `pci${domain}:00`, n.parent);
      if (n.via) {
        parentDir = path.join(parentDir, n.via);
        await mkdir(parentDir, { recursive: true });
      }
    }
    const dir = path.join(parentDir, 'net', n.name);
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'address'), `${n.mac}\n`);
    await writeFile(path.join(dir, 'operstate'), `${n.state}\n`);
    if (n.parent) await symlink(path.relative(dir, parentDir), path.join(dir, 'device'));
    await symlink(path.relative(path.join(sys, 'class/net'), dir), path.join(sys, 'class/net', n.name));
  }
  return sys;
}

describe('kickstart/confirm: parseConfirmLines', () => {
  const LOG = [
    '[    2.000000] random kernel line',
    'IG-CONFIRM begin boot=aaaa',
    'IG-CONFIRM pci addr=0000:00:01.0 id=1234:0001 subsys=1234:0001 class=0x020000 driver=none',
    'IG-CONFIRM end pci=1 net=0',
    'Welcome to Tiny Linux',
    '\rIG-CONFIRM begin boot=bbbb\r',
    'IG-CONFIRM pci addr=0000:00:03.0 id=8086:10D3 subsys=8086:0000 class=0x020000 driver=e1000e',
    'IG-CONFIRM pci addr=0000:00:03.0 id=8086:10D3 subsys=8086:0000 class=0x020000 driver=e1000e',
    'IG-CONFIRM pci addr=0000:00:04.0 id=1af4:1001 subsys=1af4:0002 class=0x010000 driver=none',
    'login: IG-CONFIRM net name=eth0 mac=52:54:00:12:34:56 state=up pci=0000:00:03.0',
    'IG-CONFIRM net name=lo mac=00:00:00:00:00:00 state=unknown pci=none',
    'IG-CONFIRM end pci=2 net=2',
  ].join('\n');

  it('returns the last complete block, tolerating noise, prefixes, CRs and repeated lines', () => {
    const r = parseConfirmLines(LOG)!;
    expect(r.boot).to.equal('bbbb');
    expect(r.blocks).to.equal(2);
    expect(r.complete).to.equal(true);
    expect(r.pci).to.deep.equal([
      {
        addr: '0000:00:03.0',
        vendorDevice: '8086:10d3',
        subsystem: '8086:0000',
        class: '0x020000',
        driver: 'e1000e',
      },
      {
        addr: '0000:00:04.0',
        vendorDevice: '1af4:1001',
        subsystem: '1af4:0002',
        class: '0x010000',
        driver: null,
      },
    ]);
    expect(r.net).to.deep.equal([
      { name: 'eth0', mac: '52:54:00:12:34:56', state: 'up', pci: '0000:00:03.0' },
      { name: 'lo', mac: '00:00:00:00:00:00', state: 'unknown', pci: null },
    ]);
    expect(interfacesOf(r, '0000:00:03.0').map((n) => n.name)).to.deep.equal(['eth0']);
  });

  it('returns null without an end line, and flags lost lines', () => {
    expect(parseConfirmLines('IG-CONFIRM begin boot=1\nIG-CONFIRM pci addr=0000:00:01.0 id=1:2')).to.equal(
      null,
    );
    expect(parseConfirmLines('nothing here')).to.equal(null);
    const lossy = parseConfirmLines('IG-CONFIRM begin boot=1\nIG-CONFIRM end pci=3 net=0\n')!;
    expect(lossy.complete).to.equal(false);
    expect(lossy.announced).to.deep.equal({ pci: 3, net: 0 });
  });

  it('reads TPM lines; a lost one makes the block incomplete; an older unit announces none', () => {
    const withTpm = parseConfirmLines(
      'IG-CONFIRM begin boot=1\nIG-CONFIRM tpm name=tpm0 version=2\nIG-CONFIRM end pci=0 net=0 tpm=1\n',
    )!;
    expect(withTpm.tpm).to.deep.equal([{ name: 'tpm0', version: '2' }]);
    expect(withTpm.complete).to.equal(true);
    const lost = parseConfirmLines('IG-CONFIRM begin boot=1\nIG-CONFIRM end pci=0 net=0 tpm=1\n')!;
    expect(lost.complete).to.equal(false);
    const older = parseConfirmLines('IG-CONFIRM begin boot=1\nIG-CONFIRM end pci=0 net=0\n')!;
    expect(older.tpm).to.deep.equal([]);
    expect(older.announced).to.deep.equal({ pci: 0, net: 0 });
    expect(older.complete).to.equal(true);
  });

  it('keeps a complete block over a later one whose lines were split by console noise', () => {
    const complete = [
      'IG-CONFIRM begin boot=a',
      'IG-CONFIRM pci addr=0000:00:02.0 id=8086:10d3 subsys=8086:0000 class=0x020000 driver=e1000e',
      'IG-CONFIRM end pci=1 net=0',
    ];
    const split = [
      'IG-CONFIRM begin boot=a',
      'IG-CONFIRM pci addr=0000:00:02.0 id=8086:10d3 [   12.5] e1000e: eth0 NIC Link is Up',
      'subsys=8086:0000 class=0x020000 driver=e1000e',
      'IG-CONFIRM end pci=2 net=0',
    ];
    const r = parseConfirmLines([...complete, ...split].join('\n'))!;
    expect(r.complete).to.equal(true);
    expect(r.blocks).to.equal(2);
    expect(r.pci.map((p) => p.driver)).to.deep.equal(['e1000e']);
    // alone, the damaged block is returned and flagged
    const damaged = parseConfirmLines(split.join('\n'))!;
    expect(damaged.complete).to.equal(false);
  });

  it('finds a device by vendor:device and subsystem, case- and 0x-insensitive', () => {
    const r = parseConfirmLines(LOG)!;
    expect(findDevice(r, { vendorDevice: '8086:10d3' })?.addr).to.equal('0000:00:03.0');
    expect(findDevice(r, { vendorDevice: '0x8086:0x10D3', subsystem: '8086:0000' })?.driver).to.equal(
      'e1000e',
    );
    expect(findDevice(r, { vendorDevice: '8086:10d3', subsystem: '8086:1111' })).to.equal(undefined);
    expect(findDevice(r, { vendorDevice: '10ec:8168' })).to.equal(undefined);
  });
});

describe('kickstart/confirm: the script under busybox sh', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ig-confirm-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('reports PCI devices, drivers and interfaces from a sysfs tree, parsed back by parseConfirmLines', async () => {
    const sys = await fakeSysfs(
      dir,
      [
        {
          addr: '0000:00:03.0',
          vendor: '0x8086',
          device: '0x10D3',
          svendor: '0x8086',
          sdevice: '0x0000',
          class: '0x020000',
          driver: 'e1000e',
        },
        {
          addr: '0000:00:04.0',
          vendor: '0x1af4',
          device: '0x1000',
          svendor: '0x1af4',
          sdevice: '0x0001',
          class: '0x020000',
          driver: 'virtio-pci',
        },
        {
          addr: '0000:00:05.0',
          vendor: '0x1af4',
          device: '0x1001',
          svendor: '0x1af4',
          sdevice: '0x0002',
          class: '0x010000',
        },
        {
          addr: '10000:01:00.0',
          vendor: '0x15b3',
          device: '0x1017',
          svendor: '0x15b3',
          sdevice: '0x0006',
          class: '0x020000',
          driver: 'mlx5_core',
        },
      ],
      [
        { name: 'enp0s3', mac: '52:54:00:12:34:56', state: 'up', parent: '0000:00:03.0' },
        { name: 'eth1', mac: '52:54:00:00:00:02', state: 'down', parent: '0000:00:04.0', via: 'virtio1' },
        { name: 'ens9', mac: '0c:42:a1:00:00:01', state: 'up', parent: '10000:01:00.0' },
        { name: 'lo', mac: '00:00:00:00:00:00', state: 'unknown' },
      ],
    );
    // a TPM 2.0 as the kernel lists it (/sys/class/tpm/tpm0 → the ACPI device's tpm/tpm0)
    const tpm = path.join(sys, 'devices/LNXSYSTM:00/LNXSYBUS:00/MSFT0101:00/tpm/tpm0');
    await mkdir(tpm, { recursive: true });
    await writeFile(path.join(tpm, 'tpm_version_major'), '2\n');
    await mkdir(path.join(sys, 'class/tpm'), { recursive: true });
    await symlink(path.relative(path.join(sys, 'class/tpm'), tpm), path.join(sys, 'class/tpm/tpm0'));
    const script = path.join(dir, 'confirm.sh');
    await writeFile(script, confirmScript());
    const r = await execa(BUSYBOX, ['sh', script], {
      env: { IG_SYSFS_ROOT: sys, PATH: '/usr/bin:/bin' },
      extendEnv: false,
    });
    expect(r.stderr).to.equal('');
    const lines = r.stdout.split('\n');
    expect(lines[0]).to.match(/^IG-CONFIRM begin boot=\S+$/);
    expect(lines.slice(1)).to.deep.equal([
      'IG-CONFIRM pci addr=0000:00:03.0 id=8086:10d3 subsys=8086:0000 class=0x020000 driver=e1000e',
      'IG-CONFIRM pci addr=0000:00:04.0 id=1af4:1000 subsys=1af4:0001 class=0x020000 driver=virtio-pci',
      'IG-CONFIRM pci addr=0000:00:05.0 id=1af4:1001 subsys=1af4:0002 class=0x010000 driver=none',
      'IG-CONFIRM pci addr=10000:01:00.0 id=15b3:1017 subsys=15b3:0006 class=0x020000 driver=mlx5_core',
      'IG-CONFIRM net name=enp0s3 mac=52:54:00:12:34:56 state=up pci=0000:00:03.0',
      'IG-CONFIRM net name=ens9 mac=0c:42:a1:00:00:01 state=up pci=10000:01:00.0',
      'IG-CONFIRM net name=eth1 mac=52:54:00:00:00:02 state=down pci=0000:00:04.0',
      'IG-CONFIRM net name=lo mac=00:00:00:00:00:00 state=unknown pci=none',
      'IG-CONFIRM tpm name=tpm0 version=2',
      'IG-CONFIRM end pci=4 net=4 tpm=1',
    ]);
    const report = parseConfirmLines(r.stdout)!;
    expect(report.complete).to.equal(true);
    expect(findDevice(report, { vendorDevice: '8086:10d3', subsystem: '8086:0000' })?.driver).to.equal(
      'e1000e',
    );
    expect(interfacesOf(report, '0000:00:04.0')[0]?.name).to.equal('eth1');
    expect(report.tpm).to.deep.equal([{ name: 'tpm0', version: '2' }]);
  });

  it('prints an empty but complete report when there is no PCI bus', async () => {
    await mkdir(path.join(dir, 'sys'));
    const script = path.join(dir, 'confirm.sh');
    await writeFile(script, confirmScript());
    const r = await execa(BUSYBOX, ['sh', script], { env: { IG_SYSFS_ROOT: path.join(dir, 'sys') } });
    const report = parseConfirmLines(r.stdout)!;
    expect(report.pci).to.deep.equal([]);
    expect(report.net).to.deep.equal([]);
    expect(report.tpm).to.deep.equal([]);
    expect(report.announced).to.deep.equal({ pci: 0, net: 0, tpm: 0 });
    expect(report.complete).to.equal(true);
  });
});

describe('kickstart/confirm: the installer snippet under busybox sh', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'ig-confirm-root-'));
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  async function install(): Promise<void> {
    const snippet = path.join(root, 'install.sh');
    await writeFile(snippet, confirmInstallSnippet());
    const r = await execa(BUSYBOX, ['sh', snippet, root]);
    expect(r.exitCode).to.equal(0);
  }

  it('without systemd: installs the script and creates an executable /etc/rc.local that runs it', async () => {
    await install();
    const installed = path.join(root, 'usr/local/sbin/install-guest-confirm');
    expect(await readFile(installed, 'utf8')).to.equal(confirmScript());
    expect((await stat(installed)).mode & 0o777).to.equal(0o755);
    const rc = await readFile(path.join(root, 'etc/rc.local'), 'utf8');
    expect(rc).to.equal('#!/bin/sh\n/usr/local/sbin/install-guest-confirm --console || true\n');
    expect((await stat(path.join(root, 'etc/rc.local'))).mode & 0o777).to.equal(0o755);
    await install(); // idempotent
    expect(await readFile(path.join(root, 'etc/rc.local'), 'utf8')).to.equal(rc);
  });

  it('puts the line before an existing rc.local body so a final `exit 0` cannot skip it', async () => {
    await mkdir(path.join(root, 'etc'));
    await writeFile(path.join(root, 'etc/rc.local'), '#!/bin/sh -e\necho mine\nexit 0\n');
    await install();
    expect(await readFile(path.join(root, 'etc/rc.local'), 'utf8')).to.equal(
      '#!/bin/sh -e\n/usr/local/sbin/install-guest-confirm --console || true\necho mine\nexit 0\n',
    );
  });

  it('with systemd: writes and enables a oneshot unit instead', async () => {
    await mkdir(path.join(root, 'usr/bin'), { recursive: true });
    await writeFile(path.join(root, 'usr/bin/systemctl'), '#!/bin/sh\n', { mode: 0o755 });
    await install();
    const unit = await readFile(path.join(root, 'etc/systemd/system/install-guest-confirm.service'), 'utf8');
    expect(unit).to.include('ExecStart=/usr/local/sbin/install-guest-confirm --console');
    expect(unit).to.include('WantedBy=multi-user.target');
    expect(
      await readlink(
        path.join(root, 'etc/systemd/system/multi-user.target.wants/install-guest-confirm.service'),
      ),
    ).to.equal('../install-guest-confirm.service');
    let rcExists = true;
    await stat(path.join(root, 'etc/rc.local')).catch(() => (rcExists = false));
    expect(rcExists).to.equal(false);
  });
});
