/**
 * The Debian 12 image as L2 inside L1 (a real kernel with an emulated Intel IOMMU and two e1000e):
 * install-guest, run in L1, binds an e1000e to vfio-pci, imports a qcow2 overlay of the test bed's
 * Debian image with `--hostdev auto --cloud-init`, and L2's cloud-init configures the assigned NIC
 * by the MAC it had on L1; the confirmation unit (run by systemd in L2) must report 8086:10d3 with
 * that MAC and state=up.
 *
 * TCG inside TCG: a systemd boot with cloud-init's python is slow there (L2's initramfs was silent
 * for more than the default 600 s stall timeout, so the run gives 1800 s). The run is bounded (L1
 * gets 40 minutes) and, pass or fail, prints when L2's console reached each milestone (kernel,
 * initramfs, systemd, each cloud-init stage, the confirmation block), read from the serial log as
 * it grows.
 * Opt-in: `npm run test:debian:nested` (.mocharc.debian-nested.json); in no other suite.
 */
import { expect } from 'chai';
import { execa } from 'execa';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { type Bed, ensureBed, killAllQemu, l1NicMac, runInL1 } from '../bed/index.js';
import { ensureDebianImage } from '../bed/debian.js';
import { BUILT_CLI, requireBuiltCli } from '../../helpers/cli.js';
import type { ConfirmedDevice } from '../../../src/pipeline/state.js';

const L1_TIMEOUT_MS = 40 * 60_000;

/** What L2's console shows, in order, and the text that marks it. */
const MILESTONES: [string, RegExp][] = [
  ['kernel', /Linux version /],
  ['initramfs', /Run \/init as init process/],
  ['initramfs udev', /Starting systemd-udevd/],
  ['systemd', /systemd\[1\]: |Welcome to /],
  ['cloud-init init-local', /Cloud-init v\. \S+ running 'init-local'/],
  ['cloud-init init', /Cloud-init v\. \S+ running 'init'/],
  ['cloud-init modules:config', /Cloud-init v\. \S+ running 'modules:config'/],
  ['cloud-init modules:final', /Cloud-init v\. \S+ running 'modules:final'/],
  ['cloud-init finished', /Cloud-init v\. \S+ finished at/],
  ['IG-CONFIRM block', /IG-CONFIRM end/],
];

describe('cloud-init on the Debian image as L2 inside L1, the e1000e through vfio-pci (nested TCG)', function () {
  this.timeout(L1_TIMEOUT_MS + 20 * 60_000);
  let bed: Bed;
  let out: string;
  let passed = false;

  before(async function () {
    this.timeout(120 * 60_000);
    requireBuiltCli();
    bed = await ensureBed();
    const image = await ensureDebianImage();
    out = await fs.mkdtemp(path.join(bed.dir, 'runs', 'debian-l2-'));
    // L2's disk: an overlay in the writable share over the cached image (read through L1's host-root share)
    await execa('qemu-img', [
      'create',
      '-q',
      '-f',
      'qcow2',
      '-F',
      'qcow2',
      '-b',
      image.disk,
      path.join(out, 'l2.qcow2'),
    ]);
    await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'l2', '-f', path.join(out, 'key')]);
  });

  after(async () => {
    killAllQemu();
    // a failed run keeps L2's logs and the install's output for a post-mortem
    if (passed) await fs.rm(out, { recursive: true, force: true });
  });

  it('install --import --hostdev auto --cloud-init: L2 confirms 8086:10d3 configured by its L1 MAC, state=up', async function () {
    const serialLog = path.join(out, 'logs', 'serial-confirm.log');
    const script = [
      'set -u',
      `IG="node ${BUILT_CLI}"`,
      'drv() { l=$(readlink "/sys/bus/pci/devices/$1/driver" 2>/dev/null) && echo "${l##*/}" || echo none; }',
      'for d in /sys/bus/pci/devices/*; do',
      '  [ "$(cat "$d/vendor"):$(cat "$d/device")" = 0x8086:0x10d3 ] && echo "NIC ${d##*/} mac=$(cat "$d"/net/*/address)"',
      'done',
      `$IG install --import --name deb-l2 --memory 1024 --disk "path=$OUT/l2.qcow2" --hostdev auto --network none --accel tcg --wait 38 --stall-timeout 1800 --cloud-init "root-ssh-key=$OUT/key.pub" --state-dir /run/install-guest-state --log-dir "$OUT/logs" --json > "$OUT/install.json" 2> "$OUT/install.err"`,
      'echo "INSTALL exit=$?"',
      'for d in /sys/bus/pci/devices/*; do',
      '  [ "$(cat "$d/vendor"):$(cat "$d/device")" = 0x8086:0x10d3 ] && echo "AFTER ${d##*/} driver=$(drv "${d##*/}")"',
      'done',
    ].join('\n');
    // milestones: when each first shows in L2's console (the serial log grows in the share)
    const t0 = performance.now();
    const seen = new Map<string, number>();
    const poll = setInterval(() => {
      fs.readFile(serialLog, 'latin1')
        .then((text) => {
          for (const [name, re] of MILESTONES)
            if (!seen.has(name) && re.test(text)) seen.set(name, (performance.now() - t0) / 1000);
        })
        .catch(() => undefined);
    }, 5000);
    const report = (): string =>
      MILESTONES.map(
        ([name]) => `${name} ${seen.has(name) ? `${seen.get(name)!.toFixed(0)} s` : 'not reached'}`,
      ).join(', ');
    let r;
    try {
      r = await runInL1(bed, ['sh', '-c', script], {
        timeoutMs: L1_TIMEOUT_MS,
        memoryMiB: 2048,
        outDir: out,
        env: { OUT: out },
      });
    } catch (e) {
      clearInterval(poll);
      process.stderr.write(`      L2 milestones after L1 start: ${report()}\n      kept ${out}\n`);
      throw e;
    }
    clearInterval(poll);
    const s = (performance.now() - t0) / 1000;
    process.stderr.write(
      `      L1+L2 run: ${s.toFixed(0)} s wall; L2 milestones after L1 start: ${report()}\n`,
    );
    const err = await fs.readFile(path.join(out, 'install.err'), 'utf8').catch(() => '');
    expect(r.exitCode, r.stdout + r.stderr).to.equal(0);
    expect(r.stdout, `${r.stdout}\ninstall stderr:\n${err}`).to.match(/^INSTALL exit=0$/m);
    const macs = new Map([...r.stdout.matchAll(/^NIC (\S+) mac=(\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
    expect([...macs.values()].sort()).to.deep.equal([l1NicMac(0), l1NicMac(1)].sort());
    const result = JSON.parse(
      (await fs.readFile(path.join(out, 'install.json'), 'utf8')).trim().split('\n').pop()!,
    ) as Record<string, unknown>;
    expect(result.verdict).to.equal('confirmed');
    const ci = result.cloudInit as { finishedLine: string; seedDetached: boolean };
    expect(ci.finishedLine).to.match(/DataSourceNoCloud/);
    expect(ci.seedDetached).to.equal(true);
    const nic = (result.devices as ConfirmedDevice[]).find((d) => d.kind === 'assigned')!;
    expect(nic).to.include({ vendorDevice: '8086:10d3', guestDriver: 'e1000e' });
    // configured by the MAC the NIC had on L1, read there before the detach
    expect(nic.interfaces).to.deep.equal([
      { name: nic.interfaces[0]!.name, mac: macs.get(nic.source), state: 'up' },
    ]);
    // and given back to e1000e in L1 afterwards
    expect(r.stdout).to.match(new RegExp(`^AFTER ${nic.source.replace(/\./g, '\\.')} driver=e1000e$`, 'm'));
    passed = true;
  });
});
