/** The e2e tests' process helpers: a wrong `alive` or `killLeft` would hide a qemu left running. */
import { expect } from 'chai';
import { execa } from 'execa';
import { alive, killLeft, qemuPids } from '../helpers/processes.js';

describe('test helpers: processes', () => {
  it('alive: true for a running process, false once it has exited', async () => {
    expect(alive(process.pid)).to.equal(true);
    const { stdout } = await execa('node', ['-e', 'console.log(process.pid)']);
    expect(alive(Number(stdout))).to.equal(false);
  });

  it('killLeft: kills what still runs, passes over what has exited', async () => {
    const child = execa('node', ['-e', 'setInterval(() => {}, 1000)'], { reject: false });
    const pid = child.pid!;
    expect(alive(pid)).to.equal(true);
    killLeft([pid, 999_999_999]);
    const r = await child;
    expect(r.signal).to.equal('SIGKILL');
  });

  it('qemuPids: the pids of the boot lines, in order, nothing else', () => {
    const log = [
      'install boot: qemu pid 4242, serial log /l/serial-install.log',
      'qemu exited (pid 7)',
      'confirm boot: qemu pid 4343, serial log /l/serial-confirm.log',
    ].join('\n');
    expect(qemuPids(log)).to.deep.equal([4242, 4343]);
  });
});
