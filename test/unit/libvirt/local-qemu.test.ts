/**
 * The fast stop of a failed install on this machine's libvirtd: the qemu found through libvirtd's
 * pid file only when its own command line names the domain, then SIGTERM and wait until it is gone.
 * A real process stands in for qemu (its argv carries `-name guest=NAME,…` as libvirt's qemu does);
 * the pid directory is the session daemon's, under a private XDG_RUNTIME_DIR.
 */
import { expect } from 'chai';
import { execa } from 'execa';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { localQemuPid, terminateLocalQemu } from '../../../src/libvirt/local-qemu.js';

describe('libvirt: stopping a local domain’s qemu directly', () => {
  let dir: string;
  let env: Record<string, string>;
  const children: { kill(): boolean }[] = [];
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ig-xdg-'));
    env = { XDG_RUNTIME_DIR: dir };
    await fs.mkdir(path.join(dir, 'libvirt', 'qemu', 'run'), { recursive: true });
  });
  afterEach(async () => {
    for (const c of children.splice(0)) c.kill();
    await fs.rm(dir, { recursive: true, force: true });
  });

  const standIn = async (guestArg: string) => {
    const child = execa('node', ['-e', 'setInterval(() => {}, 1000)', '--', '-name', guestArg], {
      reject: false,
    });
    children.push(child);
    // wait until its command line is in /proc
    for (let i = 0; i < 100; i++) {
      const c = await fs.readFile(`/proc/${child.pid}/cmdline`, 'latin1').catch(() => '');
      if (c.includes('-name')) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    // wrapped: an execa child is a promise, which an async function would wait for
    return { child };
  };
  const pidFile = (name: string, pid: number) =>
    fs.writeFile(path.join(dir, 'libvirt', 'qemu', 'run', `${name}.pid`), `${pid}\n`);

  it('finds the qemu of the domain, SIGTERMs it and returns once it is gone', async () => {
    const { child } = await standIn('guest=web1,debug-threads=on');
    await pidFile('web1', child.pid!);
    expect(await localQemuPid('web1', env)).to.equal(child.pid);
    expect(await terminateLocalQemu('web1', 2000, env)).to.equal(true);
    const r = await child;
    expect(r.signal).to.equal('SIGTERM');
  });

  it('leaves alone a process that is not that domain’s qemu, and names it cannot use', async () => {
    const { child: other } = await standIn('guest=web10,debug-threads=on');
    await pidFile('web1', other.pid!);
    expect(await localQemuPid('web1', env)).to.equal(undefined);
    expect(await terminateLocalQemu('web1', 200, env)).to.equal(false);
    expect(other.exitCode, 'still running').to.equal(null);
    expect(await localQemuPid('../../etc/x', env)).to.equal(undefined);
    expect(await localQemuPid('absent', env)).to.equal(undefined);
  });
});
