import { expect } from 'chai';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseCloudInit } from '../../../src/cloudinit/options.js';
import { isInstallGuestError } from '../../../src/errors.js';

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (isInstallGuestError(e)) return `${e.kind}:${e.code}: ${e.message}`;
    throw e;
  }
  throw new Error('no error');
}

describe('cloudinit/options: the --cloud-init sub-option grammar', () => {
  let home: string;
  before(async () => {
    home = await mkdtemp(path.join(os.tmpdir(), 'ig-ci-home-'));
  });
  after(async () => rm(home, { recursive: true, force: true }));

  it('bare --cloud-init: a generated root password when the user has no ssh key', () => {
    const o = parseCloudInit('', { cwd: '/w', home });
    expect(o).to.deep.equal({ rootPasswordGenerate: true, disable: false, seed: 'iso', defaulted: true });
  });

  it("bare --cloud-init: the invoking user's ssh key for root when there is one (ed25519 first)", async () => {
    await mkdir(path.join(home, '.ssh'));
    await writeFile(path.join(home, '.ssh', 'id_rsa.pub'), 'ssh-rsa AAAA r\n');
    await writeFile(path.join(home, '.ssh', 'id_ed25519.pub'), 'ssh-ed25519 AAAA e\n');
    const o = parseCloudInit('', { cwd: '/w', home });
    expect(o.rootPasswordGenerate).to.equal(false);
    expect(o.rootSshKey).to.equal(path.join(home, '.ssh', 'id_ed25519.pub'));
    await rm(path.join(home, '.ssh'), { recursive: true });
  });

  it('reads every virt-install sub-option, paths against the working directory', () => {
    const o = parseCloudInit(
      'root-password-file=pw,root-ssh-key=/k/root.pub,clouduser-ssh-key=u.pub,user-data=ud.yaml,meta-data=md,network-config=nc',
      { cwd: '/w', home },
    );
    expect(o).to.deep.equal({
      rootPasswordGenerate: false,
      rootPasswordFile: '/w/pw',
      rootSshKey: '/k/root.pub',
      clouduserSshKey: '/w/u.pub',
      userData: '/w/ud.yaml',
      metaData: '/w/md',
      networkConfig: '/w/nc',
      disable: false,
      seed: 'iso',
      defaulted: false,
    });
  });

  it('takes on/off as virt-install does (yes, true, 1 / no, false, 0) and ssh-key as root-ssh-key', () => {
    expect(parseCloudInit('root-password-generate=yes', { cwd: '/', home }).rootPasswordGenerate).to.equal(
      true,
    );
    expect(parseCloudInit('root-password-generate=0', { cwd: '/', home }).rootPasswordGenerate).to.equal(
      false,
    );
    expect(parseCloudInit('ssh-key=/a.pub', { cwd: '/', home }).rootSshKey).to.equal('/a.pub');
    expect(parseCloudInit('disable=on', { cwd: '/', home }).disable).to.equal(true);
    expect(parseCloudInit('disable=on,seed=smbios', { cwd: '/', home }).seed).to.equal('smbios');
  });

  for (const [text, want] of [
    ['disable=on,root-ssh-key=/k.pub', /disable=on stands alone, but root-ssh-key was given too/],
    ['disable=on,user-data=u,meta-data=m', /but user-data, meta-data were given too/],
    ['root-password-generate=maybe', /root-password-generate='maybe' is not on or off/],
    ['color=blue', /unknown key 'color'/],
    ['seed=floppy', /seed='floppy' is not iso or smbios/],
    ['user-data=', /user-data= names no file/],
    ['root-password-generate=on,root-password-file=/p', /both set the root password/],
    ['ssh-key=/a,root-ssh-key=/b', /same sub-option, given twice/],
  ] as const) {
    it(`refuses '${text}' (input error, exit 2)`, () => {
      const msg = codeOf(() => parseCloudInit(text, { cwd: '/', home }));
      expect(msg).to.match(/^input:/);
      expect(msg).to.match(want);
    });
  }
});
