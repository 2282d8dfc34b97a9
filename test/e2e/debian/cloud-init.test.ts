/**
 * A real Debian 12 guest (systemd, udev, cloud-init) configured by `--cloud-init` under single TCG:
 * `install --import` of a copy of the test bed's Debian image with an emulated e1000e, then a
 * `provision` overlay of that disk. Each boot must reach cloud-init's final message (the seed
 * volume is then ejected), and the confirmation unit, run by systemd after cloud-init, must report
 * the e1000e with the MAC the network-config matched, state=up. The overlay's fresh instance-id
 * makes cloud-init run its per-instance modules again (new ssh host keys printed on the console).
 * Then the same import through a real libvirtd (`--connect qemu:///system`): the seed is a cdrom of
 * the persistent domain, ejected with `virsh change-media` once cloud-init has finished, and its
 * volume is gone afterwards.
 * Long (two systemd boots under TCG, and the image build on a fresh machine): an opt-in step of its
 * own, `npm run test:debian` (.mocharc.debian.json, bounded by `timeout`), in neither the default
 * suite nor the nested one.
 */
import { expect } from 'chai';
import { execa } from 'execa';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type WatchedRun, alive, killLeft, runCliWatched } from '../../helpers/processes.js';
import { ensureDebianImage, type DebianImage } from '../bed/debian.js';
import { SYSTEM_URI, ensureLibvirtd, removeDomain, virsh } from '../../helpers/libvirtd.js';
import type { ConfirmedDevice } from '../../../src/pipeline/state.js';

const started: number[] = [];
const cli = (argv: string[], cwd: string): Promise<WatchedRun> =>
  runCliWatched(argv, cwd, (pid) => started.push(pid));

/** TCG, 1 GiB (systemd + cloud-init's python), an emulated e1000e on user networking */
const GUEST = ['--accel', 'tcg', '--memory', '1024', '--network', 'user,model=e1000e', '--wait', '40'];

function lastJson(stdout: string): Record<string, unknown> {
  const lines = stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!) as Record<string, unknown>;
}

interface CloudInitResult {
  instanceId: string;
  seed: string;
  files: string[];
  finishedMs: number;
  finishedLine: string;
  seedDetached: boolean;
}

function checkConfirmed(result: Record<string, unknown>, mac: string): void {
  expect(result.verdict).to.equal('confirmed');
  const devices = result.devices as ConfirmedDevice[];
  expect(devices).to.have.length(1);
  const d = devices[0]!;
  expect(d.kind).to.equal('emulated');
  expect(d.vendorDevice).to.equal('8086:10d3');
  expect(d.guestDriver).to.equal('e1000e');
  expect(d.interfaces).to.have.length(1);
  expect(d.interfaces[0]!.mac).to.equal(mac);
  expect(d.interfaces[0]!.state).to.equal('up');
}

function hostKeys(serial: string): string[] {
  const m = /-----BEGIN SSH HOST KEY FINGERPRINTS-----([\s\S]*?)-----END SSH HOST KEY FINGERPRINTS-----/.exec(
    serial,
  );
  return m
    ? m[1]!
        .split(/\r?\n/)
        .map((l) => l.trim())
        .filter((l) => /SHA256:/.test(l))
    : [];
}

describe('cloud-init on a real Debian 12 guest (single TCG)', function () {
  this.timeout(50 * 60_000);
  let image: DebianImage;
  let tmp: string;
  let key: string;
  let disk: string;
  let firstInstance: string;
  let firstKeys: string[];

  before(async function () {
    this.timeout(120 * 60_000);
    image = await ensureDebianImage();
    process.stderr.write(
      `      Debian image: ${image.disk}, ${(image.fileBytes / 2 ** 20).toFixed(0)} MiB qcow2 (${image.sizeMiB} MiB virtual), built in ${image.buildSeconds} s\n`,
    );
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'ig-debian-'));
    key = path.join(tmp, 'id_ed25519');
    await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'e2e', '-f', key]);
    disk = path.join(tmp, 'debian.qcow2');
    await fs.copyFile(image.disk, disk);
  });
  after(async () => {
    killLeft(started);
    await removeDomain('deb3');
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  });

  it('install --import --cloud-init root-ssh-key=: cloud-init finishes, the seed is detached, the unit reports the e1000e up by its MAC', async () => {
    const logDir = path.join(tmp, 'deb1-logs');
    const t0 = performance.now();
    const r = await cli(
      [
        'install',
        '--import',
        '--disk',
        `path=${disk}`,
        '--name',
        'deb1',
        ...GUEST,
        '--cloud-init',
        `root-ssh-key=${key}.pub`,
        '--log-dir',
        logDir,
        '--json',
      ],
      tmp,
    );
    const s = (performance.now() - t0) / 1000;
    expect(r.code, r.stderr + r.stdout.slice(-3000)).to.equal(0);
    for (const pid of r.pids) expect(alive(pid), `qemu ${pid} still running`).to.equal(false);
    const result = lastJson(r.stdout);
    const ci = result.cloudInit as CloudInitResult;
    expect(ci.seed).to.equal('iso');
    expect(ci.files).to.deep.equal(['user-data', 'meta-data', 'network-config']);
    expect(ci.finishedLine).to.match(/^Cloud-init v\. \S+ finished at .*DataSourceNoCloud/);
    expect(ci.seedDetached).to.equal(true);
    const argv = await fs.readFile(path.join(logDir, 'confirm.args'), 'utf8');
    const mac = /e1000e,[^\n]*mac=([0-9a-f:]{17})/.exec(argv)![1]!;
    checkConfirmed(result, mac);
    // the key went in, the log dir holds only the redacted user-data
    const ud = await fs.readFile(path.join(logDir, 'user-data.redacted'), 'utf8');
    expect(ud).to.include((await fs.readFile(`${key}.pub`, 'utf8')).trim());
    const serial = await fs.readFile(path.join(logDir, 'serial-confirm.log'), 'latin1');
    firstKeys = hostKeys(serial);
    expect(firstKeys.length, 'ssh host key fingerprints printed by cloud-init').to.be.greaterThan(0);
    firstInstance = ci.instanceId;
    process.stderr.write(
      `      install --import --cloud-init: ${s.toFixed(1)} s wall, cloud-init finished at ${(ci.finishedMs / 1000).toFixed(1)} s into the boot\n`,
    );
  });

  it('provision --cloud-init on that disk: a fresh instance-id, cloud-init runs again (new host keys), confirmed again', async () => {
    const overlay = path.join(tmp, 'deb2.qcow2');
    const logDir = path.join(tmp, 'deb2-logs');
    const t0 = performance.now();
    const r = await cli(
      [
        'provision',
        '--base',
        disk,
        '--name',
        'deb2',
        '--out',
        overlay,
        ...GUEST,
        '--cloud-init',
        `root-ssh-key=${key}.pub`,
        '--log-dir',
        logDir,
        '--json',
      ],
      tmp,
    );
    const s = (performance.now() - t0) / 1000;
    expect(r.code, r.stderr + r.stdout.slice(-3000)).to.equal(0);
    const result = lastJson(r.stdout);
    const ci = result.cloudInit as CloudInitResult;
    expect(ci.instanceId).to.match(/^iid-/);
    expect(ci.instanceId).to.not.equal(firstInstance);
    expect(ci.seedDetached).to.equal(true);
    const argv = await fs.readFile(path.join(logDir, 'confirm.args'), 'utf8');
    const mac = /e1000e,[^\n]*mac=([0-9a-f:]{17})/.exec(argv)![1]!;
    checkConfirmed(result, mac);
    const keys = hostKeys(await fs.readFile(path.join(logDir, 'serial-confirm.log'), 'latin1'));
    expect(keys.length, 'a new instance regenerates and prints the host keys').to.be.greaterThan(0);
    expect(keys).to.not.deep.equal(firstKeys);
    process.stderr.write(
      `      provision --cloud-init (overlay of the booted disk): ${s.toFixed(1)} s wall, cloud-init finished at ${(ci.finishedMs / 1000).toFixed(1)} s\n`,
    );
  });

  it('install --connect qemu:///system --import --cloud-init: the seed on a cdrom of the domain, ejected by change-media, confirmed', async () => {
    await ensureLibvirtd();
    await removeDomain('deb3');
    const disk3 = path.join(tmp, 'deb3.qcow2');
    await fs.copyFile(image.disk, disk3);
    const logDir = path.join(tmp, 'deb3-logs');
    const t0 = performance.now();
    const r = await cli(
      [
        'install',
        '--connect',
        SYSTEM_URI,
        '--import',
        '--disk',
        `path=${disk3}`,
        '--name',
        'deb3',
        ...GUEST,
        '--cloud-init',
        `root-ssh-key=${key}.pub`,
        '--log-dir',
        logDir,
        '--json',
      ],
      tmp,
    );
    const s = (performance.now() - t0) / 1000;
    expect(r.code, r.stderr + r.stdout.slice(-3000)).to.equal(0);
    const result = lastJson(r.stdout);
    const ci = result.cloudInit as CloudInitResult;
    expect(ci.finishedLine).to.match(/DataSourceNoCloud/);
    expect(ci.seedDetached).to.equal(true);
    const confirmXml = await fs.readFile(path.join(logDir, 'confirm.xml'), 'utf8');
    expect(confirmXml).to.match(/<disk type='file' device='cdrom'>[\s\S]*?deb3-cidata\.iso/);
    const mac = /<mac address='([0-9a-f:]{17})'/.exec(confirmXml)![1]!;
    checkConfirmed(result, mac);
    // the domain stays defined without the seed, and the seed's volume is gone
    expect(await virsh('dumpxml', 'deb3')).to.not.include('cidata');
    expect(await virsh('vol-list', 'default')).to.not.include('deb3-cidata');
    process.stderr.write(
      `      install --connect --import --cloud-init: ${s.toFixed(1)} s wall, cloud-init finished at ${(ci.finishedMs / 1000).toFixed(1)} s\n`,
    );
  });
});
