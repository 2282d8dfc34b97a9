/**
 * The injected initrd under a real kernel: a tiny busybox initramfs built here (system cpio), our
 * gzipped newc archive appended by injectIntoInitrd, booted with Debian's netboot kernel under
 * qemu (TCG is enough). /init prints /ks.cfg and runs the confirmation script against the
 * guest's real /sys, then powers off. We assert the kickstart arrived intact and that the
 * confirmation lines parse and name qemu's emulated e1000.
 */
import { expect } from 'chai';
import { execa } from 'execa';
import { access, chmod, copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { findDevice, parseConfirmLines } from '../../../src/kickstart/confirm.js';
import { injectIntoInitrd } from '../../../src/kickstart/cpio.js';
import { confirmScript } from '../../../src/kickstart/confirm.js';
import { renderKickstart } from '../../../src/kickstart/render.js';

const KERNEL = '/usr/lib/debian-installer/images/12/amd64/text/debian-installer/amd64/linux';
const BUSYBOX = '/bin/busybox';
const NIC_MAC = '52:54:00:12:34:56';

const INIT = `#!/bin/busybox sh
/bin/busybox mkdir -p /dev /proc /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
echo IG-E2E-KS-BEGIN
cat /ks.cfg
echo IG-E2E-KS-END
sh /usr/local/sbin/install-guest-confirm
poweroff -f
`;

describe('e2e: kickstart injected into an initrd, booted by a real kernel', function () {
  this.timeout(120_000);
  let dir: string;
  before(async () => {
    for (const f of [KERNEL, BUSYBOX]) {
      await access(f).catch(() => {
        throw new Error(
          `${f} is missing: install debian-installer-12-netboot-amd64 and busybox-static (bash .ci/setup)`,
        );
      });
    }
    dir = await mkdtemp(path.join(os.tmpdir(), 'ig-e2e-initrd-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('the kernel unpacks the appended archive: /ks.cfg is there and the confirmation lines parse', async () => {
    // 1. a minimal busybox initramfs, archived by the system's cpio (not by our writer)
    const tree = path.join(dir, 'tree');
    await mkdir(path.join(tree, 'bin'), { recursive: true });
    for (const d of ['dev', 'proc', 'sys']) await mkdir(path.join(tree, d));
    await copyFile(BUSYBOX, path.join(tree, 'bin/busybox'));
    await chmod(path.join(tree, 'bin/busybox'), 0o755);
    await writeFile(path.join(tree, 'init'), INIT, { mode: 0o755 });
    const list = ['.', 'bin', 'bin/busybox', 'dev', 'proc', 'sys', 'init'].join('\n');
    const cpio = await execa('cpio', ['-o', '-H', 'newc', '--quiet'], {
      cwd: tree,
      input: list,
      encoding: 'buffer',
    });
    const base = path.join(dir, 'base.cpio.gz');
    await writeFile(base, gzipSync(Buffer.from(cpio.stdout)));

    // 2. our archive appended to a copy
    const ks = await renderKickstart('fedora', { nic: { mac: NIC_MAC }, rootPassword: 'e2e-secret' });
    const initrd = path.join(dir, 'initrd-ks.gz');
    await injectIntoInitrd(
      base,
      [
        { name: 'ks.cfg', data: ks.text },
        { name: 'usr/local/sbin/install-guest-confirm', data: confirmScript(), mode: 0o755 },
      ],
      initrd,
    );

    // 3. boot it, bounded
    const started = Date.now();
    const q = await execa(
      'qemu-system-x86_64',
      [
        '-nographic',
        '-no-reboot',
        '-m',
        '256',
        '-smp',
        '1',
        '-nic',
        'none',
        '-device',
        `e1000,mac=${NIC_MAC}`,
        '-kernel',
        KERNEL,
        '-initrd',
        initrd,
        '-append',
        'console=ttyS0 panic=-1 quiet',
      ],
      { timeout: 60_000, reject: false, stdin: 'ignore' },
    );
    const serial = String(q.stdout).replace(/\r/g, '');
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    expect(q.timedOut, `qemu timed out after ${seconds}s; serial:\n${serial.slice(-2000)}`).to.equal(false);

    const m = /IG-E2E-KS-BEGIN\n([\s\S]*?)IG-E2E-KS-END/.exec(serial);
    expect(m, `no kickstart on the serial console:\n${serial.slice(-2000)}`).to.not.equal(null);
    expect(m![1]).to.equal(ks.text);

    const report = parseConfirmLines(serial);
    expect(report, 'confirmation lines').to.not.equal(null);
    expect(report!.complete).to.equal(true);
    const nic = findDevice(report!, { vendorDevice: '8086:100e' });
    expect(nic, JSON.stringify(report!.pci)).to.not.equal(undefined);
    expect(nic!.class).to.equal('0x020000');
    expect(nic!.driver).to.equal(null); // e1000 is a module, not in this initramfs
    expect(report!.net.find((n) => n.name === 'lo')).to.include({ pci: null });
  });
});
