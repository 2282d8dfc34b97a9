/**
 * src/qemu/swtpm.ts against the real swtpm (Debian's swtpm, installed by .ci/setup): the argv libvirt
 * would run, a private state directory and control socket, a stop that leaves nothing behind, and
 * swtpm's own words when it cannot start.
 */
import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { lstat, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { InstallGuestError } from '../../../src/errors.js';
import { startSwtpm, swtpmArgs, tpmStateDir } from '../../../src/qemu/swtpm.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('qemu/swtpm: one swtpm per boot', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ig-swtpm-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('argv: a TPM 2.0 on a private unix control socket, state in its working directory, ended with qemu', () => {
    expect(swtpmArgs('/w/swtpm-install.sock')).to.deep.equal([
      'socket',
      '--tpm2',
      '--tpmstate',
      'dir=.,mode=0600',
      '--ctrl',
      'type=unixio,path=/w/swtpm-install.sock,mode=0600',
      '--log',
      'fd=3,level=1',
      '--terminate',
    ]);
    expect(tpmStateDir('/logs', 'web1')).to.equal('/logs/web1_TPM');
  });

  it('starts swtpm with a 0600 socket in a 0700 state directory, and stop() leaves no process or socket', async () => {
    const files = {
      stateDir: path.join(dir, 'g_TPM'),
      socket: path.join(dir, 'swtpm-install.sock'),
      logFile: path.join(dir, 'swtpm-install.log'),
    };
    const h = await startSwtpm(files);
    try {
      expect(alive(h.pid)).to.equal(true);
      const sock = await lstat(files.socket);
      expect(sock.isSocket()).to.equal(true);
      expect(sock.mode & 0o777).to.equal(0o600);
      expect((await stat(files.stateDir)).mode & 0o777).to.equal(0o700);
    } finally {
      await h.stop();
    }
    expect(alive(h.pid)).to.equal(false);
    expect(existsSync(files.socket)).to.equal(false);
    expect((await stat(files.logFile)).mode & 0o777).to.equal(0o600);
    // stopping again is harmless
    await h.stop();
  });

  it("reports swtpm's own reason when it cannot start (SWTPM_FAILED)", async () => {
    const files = {
      stateDir: path.join(dir, 'g_TPM'),
      socket: path.join(dir, 'no-such-dir', 'swtpm-install.sock'),
      logFile: path.join(dir, 'swtpm-install.log'),
    };
    const err = await startSwtpm(files).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(InstallGuestError);
    expect((err as InstallGuestError).code).to.equal('SWTPM_FAILED');
    expect((err as InstallGuestError).message).to.match(/Could not open UnixIO socket/);
    expect((err as InstallGuestError).message).to.include(files.logFile);
  });

  it('refuses a socket path swtpm cannot take (a comma) before starting anything', async () => {
    const files = {
      stateDir: path.join(dir, 'g_TPM'),
      socket: path.join(dir, 'a,b.sock'),
      logFile: path.join(dir, 'swtpm-install.log'),
    };
    const err = await startSwtpm(files).then(
      () => null,
      (e: unknown) => e,
    );
    expect((err as InstallGuestError).code).to.equal('SWTPM_FAILED');
    expect((err as InstallGuestError).message).to.include('a,b.sock');
    expect(await readdir(dir)).to.deep.equal([]);
  });
});
