/**
 * `install-guest batch` over two hosts with a real libvirtd: `local` (this machine, qemu run
 * directly) and `qemu:///system` (the same machine through libvirt). Neither has an IOMMU here, so
 * placement is decided by what else a guest needs: the guest on a libvirt network (a transient
 * bridge-mode network the test defines) can only go to the libvirt host, the plain one goes to
 * `local`, and a guest asking for a device no host has fails alone with NO_HOST_FOR_GUEST. The
 * libvirt guest stays defined there afterwards; the JUnit report has one suite per host.
 */
import { expect } from 'chai';
import { execa } from 'execa';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { requireBuiltCli } from '../../helpers/cli.js';
import {
  createBridgeNetwork,
  domainExists,
  ensureLibvirtd,
  removeDomain,
  virsh,
} from '../../helpers/libvirtd.js';
import { killLeft, qemuPids, runCliWatched } from '../../helpers/processes.js';
import { type Bed, ensureBed } from '../bed/index.js';

const JUNIT_XSD = path.resolve('fixtures/junit-10.xsd');

interface GuestJson {
  name: string;
  status: string;
  exitCode: number;
  host?: string;
  error?: { code: string; message: string };
  phases: { phase: string; status: string }[];
}

describe('install-guest batch over hosts: local and qemu:///system (real libvirtd, TCG)', function () {
  this.timeout(600_000);
  let bed: Bed;
  let tmp: string;
  let removeNetwork: (() => Promise<void>) | undefined;
  const pids: number[] = [];

  before(async function () {
    this.timeout(15 * 60_000);
    requireBuiltCli();
    await ensureLibvirtd();
    bed = await ensureBed();
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'ig-hosts-'));
    await removeDomain('hb-lvnet');
    await virsh('vol-delete', '--pool', 'default', 'hb-lvnet.qcow2').catch(() => undefined);
    removeNetwork = await createBridgeNetwork('igtest', 'igbr0');
  });
  after(async () => {
    killLeft(pids);
    await removeDomain('hb-lvnet');
    await virsh('vol-delete', '--pool', 'default', 'hb-lvnet.qcow2').catch(() => undefined);
    await removeNetwork?.();
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  });

  it('places each guest on a host that can take it, names the hosts, and fails the one nobody can take', async () => {
    await fs.writeFile(
      path.join(tmp, 'hosts.yaml'),
      [
        'name: hosts',
        'hosts:',
        '  - local',
        '  - { uri: "qemu:///system", name: lvd }',
        'defaults:',
        `  boot: kernel=${bed.media.treeKernel},initrd=${bed.media.treeInitrd}`,
        '  os-variant: fedora',
        '  memory: 512',
        '  disk: size=1',
        '  accel: tcg',
        '  network: user,model=e1000e',
        'guests:',
        '  - name: hb-here',
        '  - name: hb-lvnet',
        '    network: network=igtest,model=e1000e',
        '  - name: hb-nodev',
        '    hostdev: "8086:ffff"',
        '',
      ].join('\n'),
    );
    const junit = path.join(tmp, 'junit.xml');
    const logRoot = path.join(tmp, 'logs');
    const { code, stdout, stderr, ms } = await runCliWatched(
      ['batch', 'hosts.yaml', '--junit', junit, '--log-dir', logRoot, '--json'],
      tmp,
    );
    pids.push(
      ...qemuPids(
        await fs.readFile(path.join(logRoot, 'hb-here', 'install-guest.log'), 'utf8').catch(() => ''),
      ),
    );
    const result = JSON.parse(stdout) as { exitCode: number; guests: GuestJson[] };
    // the first failure's class: a guest no host can take is a host problem (3)
    expect(code, stderr.slice(-4000)).to.equal(3);
    expect(result.guests.map((g) => `${g.name} ${g.status} ${g.host ?? '-'}`)).to.deep.equal([
      'hb-here passed local',
      'hb-lvnet passed lvd',
      'hb-nodev failed -',
    ]);
    for (const g of result.guests.slice(0, 2))
      expect(
        g.phases.map((p) => `${p.phase} ${p.status}`),
        g.name,
      ).to.deep.equal(['install passed', 'confirm passed']);
    const nodev = result.guests[2]!;
    expect(nodev.error!.code).to.equal('NO_HOST_FOR_GUEST');
    expect(nodev.error!.message).to.equal(
      'guest hb-nodev: no host can take it: local: no device in the inventory matches a 8086:ffff device; lvd: no device in the inventory matches a 8086:ffff device',
    );
    // both hosts' pools were read and shown; the two guests ran side by side (one slot per host)
    expect(stderr).to.match(/^host local \(this machine, qemu run directly\): concurrency 1, /m);
    expect(stderr).to.match(/^host lvd \(libvirt qemu:\/\/\/system\): concurrency 1, /m);
    expect(stderr).to.match(/hb-here: started on local/);
    expect(stderr).to.match(/hb-lvnet: started on lvd/);
    expect(stderr).to.match(/^GUEST\s+HOST\s+RESULT/m);

    // the libvirt guest stays defined on its host, on the libvirt network; the local one is a file
    expect(await domainExists('hb-lvnet')).to.equal(true);
    const xml = await virsh('dumpxml', 'hb-lvnet');
    expect(xml).to.match(/<interface type='network'>[\s\S]*<source network='igtest'/);
    expect(xml).to.include("<model type='e1000e'/>");
    expect(await domainExists('hb-here')).to.equal(false);
    expect((await fs.stat(path.join(tmp, 'hb-here.qcow2'))).size).to.be.above(0);

    // JUnit: a suite per host, named by hostname; valid against the Jenkins schema
    const v = await execa('xmllint', ['--noout', '--schema', JUNIT_XSD, junit], { reject: false });
    expect(v.exitCode, v.stderr).to.equal(0);
    const xpath = async (x: string): Promise<string> =>
      (await execa('xmllint', ['--xpath', x, junit])).stdout;
    expect(await xpath('string(//testsuite[testcase/@classname="hb-here"]/@hostname)')).to.equal('local');
    expect(await xpath('string(//testsuite[testcase/@classname="hb-lvnet"]/@hostname)')).to.equal('lvd');
    expect(await xpath('count(//testsuite[testcase/@classname="hb-nodev"]/@hostname)')).to.equal('0');
    console.log(`      (batch over local + qemu:///system: ${(ms / 1000).toFixed(1)} s wall)`);
  });
});
