/**
 * The tiny installer and the system it installs, under single-level TCG (real qemu, real kernel,
 * real disk image). These are the bed's own proofs; later tests drive the tool against the same
 * media.
 */
import { expect } from 'chai';
import { promises as fs } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {
  type Bed,
  bootTiny,
  confirmKickstart,
  createDisk,
  ensureBed,
  killAllQemu,
  type QemuResult,
} from '../bed/index.js';

const ANACONDA_STEPS = [
  'Starting installer, one moment...',
  'anaconda 40.22.3 for Tiny Linux 1 (pre-release) started.',
  'Starting automated install.',
  'Setting up the installation environment',
  'Configuring storage',
  'Creating disklabel on /dev/vda',
  'Creating ext4 on /dev/vda1',
  'Running pre-installation scripts',
  'Installing the software: Installing tiny-base-1.0-1.x86_64 (1/6)',
  'Installing the software: Installing tiny-syslinux-6.04-1.x86_64 (6/6)',
  'Performing post-installation setup tasks',
  'Installing boot loader',
  'Running post-installation scripts',
  'Configuring installed system',
  'Installation complete',
];

/** The console's lines without the kernel's `[    1.234] …` ones. */
function userLines(console: string): string[] {
  return console
    .split(/\r?\n/)
    .map((l) => l.trimEnd())
    .filter((l) => l !== '' && !/^\[\s*\d+\.\d+\]/.test(l));
}

function expectInOrder(lines: readonly string[], expected: readonly string[]): void {
  let at = -1;
  for (const step of expected) {
    const i = lines.indexOf(step, at + 1);
    expect(i, `"${step}" after line ${at} in:\n${lines.join('\n')}`).to.be.greaterThan(at);
    at = i;
  }
}

function describeRun(r: QemuResult): string {
  return `exit=${String(r.exitCode)} reason=${String(r.shutdownReason)} timedOut=${r.timedOut}\n${r.stderr}\n${r.console.slice(-3000)}`;
}

const NIC_MAC = '52:54:00:be:d0:01';
const SECRET = 'tiny-Secret-9f3';

describe('test bed: tiny installer and installed system (single TCG)', function () {
  this.timeout(120_000);
  let bed: Bed;
  let tmp: string;
  let installedDisk: string | null = null;

  before(async function () {
    this.timeout(15 * 60_000);
    bed = await ensureBed();
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'ig-bed-single-'));
  });

  after(async () => {
    killAllQemu();
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  });

  it('installs onto a qcow2 disk from a kickstart appended to the initrd as a newc cpio', async () => {
    const disk = path.join(tmp, 'installed.qcow2');
    await createDisk(disk, 128);
    const ks = await confirmKickstart({ rootpw: SECRET, hostname: 'tiny-bed' });
    const r = await bootTiny(bed, { media: 'direct', disk, kickstart: ks, timeoutMs: 100_000 });
    expect(r.shutdownReason, describeRun(r)).to.equal('guest-shutdown');
    expect(r.exitCode).to.equal(0);
    const lines = userLines(r.console);
    expectInOrder(lines, ANACONDA_STEPS);
    expect(lines).to.include('ignoring kickstart command: text');
    expect(lines).to.include('ignoring kickstart command: lang');
    expect(lines.filter((l) => /^Installing the software: Installing \S+ \(\d\/6\)$/.test(l))).to.have.length(
      6,
    );
    expect(r.console).not.to.contain(SECRET);
    installedDisk = disk;
  });

  it('boots the installed disk (SeaBIOS → extlinux → kernel), runs rc.local, prints IG-CONFIRM lines and powers off', async () => {
    expect(installedDisk, 'needs the disk the install test wrote').to.not.equal(null);
    const r = await bootTiny(bed, {
      media: 'disk',
      disk: installedDisk!,
      nics: [{ model: 'e1000e', mac: NIC_MAC }],
      timeoutMs: 100_000,
    });
    expect(r.shutdownReason, describeRun(r)).to.equal('guest-shutdown');
    expect(r.console).to.contain('SYSLINUX');
    const lines = userLines(r.console).filter((l) => l.startsWith('IG-CONFIRM '));
    expect(lines[0]).to.match(/^IG-CONFIRM begin boot=\S+$/);
    const end = /^IG-CONFIRM end pci=(\d+) net=(\d+)$/.exec(lines.at(-1) ?? '');
    expect(end, lines.join('\n')).to.not.equal(null);
    const pci = lines.filter((l) => l.startsWith('IG-CONFIRM pci '));
    const net = lines.filter((l) => l.startsWith('IG-CONFIRM net '));
    expect(pci).to.have.length(Number(end![1]));
    expect(net).to.have.length(Number(end![2]));
    const nic = pci.find((l) => l.includes(' id=8086:10d3 '));
    expect(nic, pci.join('\n')).to.match(
      /^IG-CONFIRM pci addr=(\S+) id=8086:10d3 subsys=\S+ class=0x020000 driver=e1000e$/,
    );
    const nicAddr = /addr=(\S+)/.exec(nic!)![1]!;
    expect(pci.some((l) => / id=1af4:10(01|42) .* driver=virtio-pci$/.test(l))).to.equal(true);
    expect(net).to.deep.equal([`IG-CONFIRM net name=eth0 mac=${NIC_MAC} state=up pci=${nicAddr}`]);
  });

  it('installs from the bootable ISO (SeaBIOS → isolinux) with the kickstart found on an OEMDRV volume', async () => {
    const disk = path.join(tmp, 'iso.qcow2');
    await createDisk(disk, 128);
    const r = await bootTiny(bed, {
      media: 'iso',
      disk,
      kickstart: await confirmKickstart(),
      timeoutMs: 110_000,
    });
    expect(r.shutdownReason, describeRun(r)).to.equal('guest-shutdown');
    expect(r.console).to.contain('ISOLINUX');
    expectInOrder(userLines(r.console), ANACONDA_STEPS);
  });

  it('installs from the netboot tree with the kickstart fetched over HTTP (inst.ks=http://…)', async () => {
    const ks = await confirmKickstart({ action: 'reboot' });
    let served = 0;
    const server = http.createServer((req, res) => {
      if (req.url === '/ks/tiny.cfg') {
        served += 1;
        res.writeHead(200, { 'content-type': 'text/plain' }).end(ks);
      } else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      const disk = path.join(tmp, 'netboot.qcow2');
      await createDisk(disk, 128);
      const r = await bootTiny(bed, {
        media: 'netboot',
        disk,
        ksUrl: `http://10.0.2.2:${port}/ks/tiny.cfg`,
        timeoutMs: 110_000,
      });
      // `reboot` under -no-reboot ends qemu with a guest reset
      expect(r.shutdownReason, describeRun(r)).to.equal('guest-reset');
      expect(served).to.equal(1);
      expectInOrder(userLines(r.console), ANACONDA_STEPS);
    } finally {
      server.close();
    }
  });

  describe('failing like a real installer on request (ig.fail=)', () => {
    const install = async (failMode: 'traceback' | 'panic' | 'diskfull' | 'hang', more: object = {}) => {
      const disk = path.join(tmp, `fail-${failMode}.qcow2`);
      await createDisk(disk, failMode === 'diskfull' ? 48 : 128);
      return bootTiny(bed, {
        media: 'direct',
        disk,
        kickstart: await confirmKickstart(),
        failMode,
        timeoutMs: 100_000,
        ...more,
      });
    };

    it('traceback: prints an anaconda Python traceback, then waits like anaconda at its error dialog', async () => {
      const r = await install('traceback', { stallMs: 5000 });
      expect(r.stalled, describeRun(r)).to.equal(true);
      const lines = userLines(r.console);
      const tb = lines.indexOf('Traceback (most recent call last):');
      expect(tb).to.be.greaterThan(
        lines.indexOf('Installing the software: Installing tiny-base-1.0-1.x86_64 (1/6)'),
      );
      expect(lines.at(-1)).to.equal(
        'pyanaconda.modules.common.errors.installation.PayloadInstallationError: Failed to install package tiny-base',
      );
      expect(lines).not.to.include('Installation complete');
    });

    it('panic: a real kernel panic (panic=-1 ends qemu with a guest reset)', async () => {
      const r = await install('panic', { append: ['panic=-1'] });
      expect(r.shutdownReason, describeRun(r)).to.equal('guest-reset');
      expect(r.console).to.match(/Kernel panic - not syncing: sysrq triggered crash/);
      expect(userLines(r.console)).not.to.include('Installation complete');
    });

    it('diskfull: really fills the target file system and reports Errno 28', async () => {
      const r = await install('diskfull', { stopWhen: /Installation failed: [^\r\n]*\r?\n/ });
      expect(r.matched, describeRun(r)).to.equal(true);
      const lines = userLines(r.console);
      expect(
        lines.some((l) => /^dd: error writing '\/mnt\/sysimage\/\S+': No space left on device$/.test(l)),
      ).to.equal(true);
      expect(lines).to.include('Installation failed: [Errno 28] No space left on device');
    });

    it('hang: stops printing in the middle of the payload and never finishes', async () => {
      const r = await install('hang', { stallMs: 6000 });
      expect(r.stalled, describeRun(r)).to.equal(true);
      const lines = userLines(r.console);
      expect(lines.at(-1)).to.equal('Installing the software: Installing tiny-busybox-1.35.0-1.x86_64 (2/6)');
    });
  });
});
