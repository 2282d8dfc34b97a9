/**
 * The refusals of `batch` and `provision` with --connect and hosts:, through the CLI in-process:
 * one line naming the input and a hint, exit 2, nothing created.
 */
import { expect } from 'chai';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../../helpers/cli.js';

describe('batch and provision: --connect, hosts: and libvirt networks (refusals)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ig-hosts-cli-'));
  });
  afterEach(() => fs.rm(dir, { recursive: true, force: true }));

  const manifest = (lines: string[]) => fs.writeFile(path.join(dir, 'm.yaml'), `${lines.join('\n')}\n`);
  const guests = ['defaults: { boot: "kernel=/k,initrd=/i", memory: 512 }', 'guests:', '  - name: a'];

  it('hosts: with --connect, or with --inventory, is HOSTS_CONFLICT (exit 2)', async () => {
    await manifest(['hosts: [local]', ...guests]);
    const a = await runCli(['batch', 'm.yaml', '--dry-run', '--connect', 'qemu:///system'], { cwd: dir });
    expect(a.code).to.equal(2);
    expect(a.stderr).to.match(
      /--connect and the manifest's hosts: both say where the guests go.*\[HOSTS_CONFLICT\]/,
    );
    await fs.writeFile(path.join(dir, 'inv.json'), '[]');
    const b = await runCli(['batch', 'm.yaml', '--dry-run', '--inventory', 'inv.json'], { cwd: dir });
    expect(b.code).to.equal(2);
    expect(b.stderr).to.match(/--inventory describes one host.*\[HOSTS_CONFLICT\]/);
    expect((await fs.readdir(dir)).sort()).to.deep.equal(['inv.json', 'm.yaml']);
  });

  it('a guest on a libvirt network in a batch that runs qemu itself is NEEDS_LIBVIRT, naming the guest', async () => {
    await manifest([...guests, '  - { name: b, network: "network=default" }']);
    const r = await runCli(['batch', 'm.yaml'], { cwd: dir });
    expect(r.code).to.equal(2);
    expect(r.stderr).to.match(
      /guest b: --network network=default: a libvirt virtual network exists only in libvirt/,
    );
    expect(r.stderr).to.include('--connect URI');
    expect(await fs.readdir(dir)).to.deep.equal(['m.yaml']);
  });

  it('a bad --connect URI and a remote URI for provision are refused before anything is made', async () => {
    await manifest(guests);
    const a = await runCli(['batch', 'm.yaml', '--connect', 'not-a-uri'], { cwd: dir });
    expect(a.code).to.equal(2);
    expect(a.stderr).to.match(/\[BAD_CONNECT_URI\]/);
    await fs.writeFile(path.join(dir, 'base.qcow2'), 'QFI\xfb');
    const p = await runCli(
      ['provision', '--base', 'base.qcow2', '--name', 'p1', '--connect', 'qemu+ssh://root:pw@h7/system'],
      { cwd: dir },
    );
    expect(p.code).to.equal(2);
    expect(p.stderr).to.match(
      /provision --connect qemu\+ssh:\/\/root:\*\*\*@h7\/system: the overlay is made on this machine/,
    );
    expect(p.stderr).to.not.include(':pw@');
    expect((await fs.readdir(dir)).sort()).to.deep.equal(['base.qcow2', 'm.yaml']);
  });
});
