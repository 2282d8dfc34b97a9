import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import type { CloudInitOptions } from '../../../src/cloudinit/options.js';
import {
  buildSeedDocuments,
  CONFIRM_SERVICE,
  mergeUserData,
  parseCloudConfig,
  schemaErrors,
} from '../../../src/cloudinit/userdata.js';
import { CONFIRM_SCRIPT_PATH } from '../../../src/kickstart/confirm.js';
import { rejectionLine } from '../../helpers/typed-error.js';

const BASE: CloudInitOptions = { rootPasswordGenerate: false, disable: false, seed: 'iso', defaulted: false };
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOlt6Kc0s2vC8m9 user@host';

describe('cloudinit/userdata: the seed documents, the merge and the validation', () => {
  let dir: string;
  const file = async (name: string, text: string): Promise<string> => {
    const p = path.join(dir, name);
    await writeFile(p, text);
    return p;
  };
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ig-ci-ud-'));
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  it('writes the confirmation unit, the root key, a fresh instance-id and the NIC by its MAC', async () => {
    const key = await file('root.pub', `${KEY}\n`);
    const d = await buildSeedDocuments({
      options: { ...BASE, rootSshKey: key },
      instanceId: 'iid-1234',
      hostname: 'web1',
      nicMac: '52:54:00:AB:CD:EF',
      confirmScript: '#!/bin/sh\necho IG-CONFIRM\n',
    });
    expect(d.userData.split('\n')[0]).to.equal('#cloud-config');
    const ud = parse(d.userData) as Record<string, unknown>;
    expect(ud.users).to.deep.equal([{ name: 'root', ssh_authorized_keys: [KEY] }]);
    expect(ud.disable_root).to.equal(false);
    const wf = ud.write_files as { path: string; content: string; permissions: string }[];
    expect(wf.map((f) => f.path)).to.deep.equal([
      CONFIRM_SCRIPT_PATH,
      `/etc/systemd/system/${CONFIRM_SERVICE}`,
    ]);
    expect(wf[0]!.content).to.equal('#!/bin/sh\necho IG-CONFIRM\n');
    expect(wf[0]!.permissions).to.equal('0755');
    expect(wf[1]!.content).to.match(/After=network-online.target cloud-final.service/);
    expect(ud.runcmd).to.deep.include(['systemctl', 'enable', CONFIRM_SERVICE]);
    expect(parse(d.metaData)).to.deep.equal({ 'instance-id': 'iid-1234', 'local-hostname': 'web1' });
    expect(parse(d.networkConfig!)).to.deep.equal({
      version: 2,
      ethernets: { 'ig-nic0': { match: { macaddress: '52:54:00:ab:cd:ef' }, dhcp4: true } },
    });
    expect(d.warnings).to.deep.equal([]);
    expect(d.generatedPassword).to.equal(undefined);
  });

  it('generates a root password that expires, and keeps it out of the redacted copy', async () => {
    const d = await buildSeedDocuments({
      options: { ...BASE, rootPasswordGenerate: true },
      instanceId: 'i',
      hostname: 'h',
    });
    expect(d.generatedPassword).to.match(/^[A-Za-z0-9]{20}$/);
    const ud = parse(d.userData) as {
      chpasswd: { expire: boolean; users: { name: string; password: string }[] };
    };
    expect(ud.chpasswd.expire).to.equal(true);
    expect(ud.chpasswd.users[0]).to.include({ name: 'root', password: d.generatedPassword });
    expect(d.userDataRedacted).to.not.include(d.generatedPassword!);
    expect(d.userDataRedacted).to.include('[REDACTED]');
    const again = await buildSeedDocuments({
      options: { ...BASE, rootPasswordGenerate: true },
      instanceId: 'i',
      hostname: 'h',
    });
    expect(again.generatedPassword).to.not.equal(d.generatedPassword);
  });

  it('a password file: its first line, not expired; disable=on adds the cloud-init.disabled flag', async () => {
    const pw = await file('pw', '\ns3cret pass\nsecond\n');
    const d = await buildSeedDocuments({
      options: { ...BASE, rootPasswordFile: pw },
      instanceId: 'i',
      hostname: 'h',
    });
    const ud = parse(d.userData) as { chpasswd: { expire: boolean; users: { password: string }[] } };
    expect(ud.chpasswd.expire).to.equal(false);
    expect(ud.chpasswd.users[0]!.password).to.equal('s3cret pass');
    expect(d.userDataRedacted).to.not.include('s3cret');
    const off = await buildSeedDocuments({
      options: { ...BASE, disable: true },
      instanceId: 'i',
      hostname: 'h',
    });
    expect((parse(off.userData) as { runcmd: unknown[] }).runcmd).to.deep.equal([
      ['touch', '/etc/cloud/cloud-init.disabled'],
    ]);
  });

  it("merges the user's cloud-config: lists joined (ours first), other keys theirs, each named in a warning", () => {
    const ours = { runcmd: [['a']], users: [{ name: 'root' }], disable_root: false };
    const { doc, warnings } = mergeUserData(
      ours,
      { runcmd: ['b'], users: ['default'], packages: ['vim'] },
      'u.yaml',
    );
    expect(doc).to.deep.equal({
      runcmd: [['a'], 'b'],
      users: ['default'],
      disable_root: false,
      packages: ['vim'],
    });
    expect(warnings).to.deep.equal(["--cloud-init user-data=u.yaml: its 'users' replaces install-guest's"]);
  });

  it('user-data from a file is merged and the warnings come back', async () => {
    const key = await file('k.pub', KEY);
    const ud = await file(
      'ud.yaml',
      '#cloud-config\nusers:\n  - default\nruncmd:\n  - echo hi\nfinal_message: done\n',
    );
    const meta = await file('md', 'instance-id: fixed\nextra: 1\n');
    const net = await file('nc', 'version: 2\nethernets: {}\n');
    const d = await buildSeedDocuments({
      options: { ...BASE, rootSshKey: key, userData: ud, metaData: meta, networkConfig: net },
      instanceId: 'iid-x',
      hostname: 'h',
      nicMac: '52:54:00:00:00:01',
      confirmScript: 'x',
    });
    const doc = parse(d.userData) as Record<string, unknown>;
    expect(doc.users).to.deep.equal(['default']);
    expect(doc.final_message).to.equal('done');
    expect((doc.runcmd as unknown[]).at(-1)).to.equal('echo hi');
    expect(parse(d.metaData)).to.deep.equal({ 'instance-id': 'fixed', 'local-hostname': 'h', extra: 1 });
    expect(d.networkConfig).to.equal('version: 2\nethernets: {}\n');
    expect(d.warnings).to.have.length(3);
    expect(d.warnings.join('\n'))
      .to.match(/'users' replaces/)
      .and.match(/instance-id replaces/)
      .and.match(/52:54:00:00:00:01/);
  });

  for (const [title, text, want] of [
    ['a script', '#!/bin/sh\necho\n', /is a script: its first line is not #cloud-config/],
    ['no header', 'users: []\n', /is not cloud-config/],
    ['bad YAML (with its line)', '#cloud-config\nusers:\n  - a\n - b\n', /ud.yaml:\d+: not valid YAML/],
    ['a list document', '#cloud-config\n- a\n', /not a mapping/],
  ] as const) {
    it(`refuses user-data that is ${title} (exit 2)`, async () => {
      const p = await file('ud.yaml', text);
      const msg = await rejectionLine(
        buildSeedDocuments({ options: { ...BASE, userData: p }, instanceId: 'i', hostname: 'h' }),
      );
      expect(msg).to.match(/^input:BAD_USER_DATA: /);
      expect(msg).to.match(want);
    });
  }

  it('names a schema error by its path', async () => {
    expect(schemaErrors({ write_files: [{ path: 3 }] })).to.deep.equal([
      '/write_files/0/path: must be string',
    ]);
    expect(schemaErrors({ write_files: [{ content: 'x' }] })).to.deep.equal([
      "/write_files/0: must have required property 'path'",
    ]);
    expect(schemaErrors({ chpasswd: { expire: 'yes' } })).to.deep.equal([
      '/chpasswd/expire: must be boolean',
    ]);
    expect(schemaErrors({ anything_else: { a: 1 }, runcmd: ['x', ['y', 'z']] })).to.deep.equal([]);
    const p = await file('ud.yaml', '#cloud-config\nwrite_files:\n  - path: /etc/x\n    permissions: rw\n');
    const msg = await rejectionLine(
      buildSeedDocuments({ options: { ...BASE, userData: p }, instanceId: 'i', hostname: 'h' }),
    );
    expect(msg).to.match(
      /the merged cloud-config is not valid: \/write_files\/0\/permissions: must match pattern/,
    );
  });

  it('refuses a missing key file, a private key and a file that is no key (exit 2)', async () => {
    const missing = await rejectionLine(
      buildSeedDocuments({
        options: { ...BASE, rootSshKey: path.join(dir, 'nope.pub') },
        instanceId: 'i',
        hostname: 'h',
      }),
    );
    expect(missing).to.equal(
      `input:BAD_CLOUD_INIT: --cloud-init root-ssh-key=${path.join(dir, 'nope.pub')}: no such file`,
    );
    const priv = await file('id', '-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n');
    expect(
      await rejectionLine(
        buildSeedDocuments({ options: { ...BASE, rootSshKey: priv }, instanceId: 'i', hostname: 'h' }),
      ),
    ).to.match(/is a private key$/);
    const junk = await file('junk', 'hello world\n');
    expect(
      await rejectionLine(
        buildSeedDocuments({ options: { ...BASE, clouduserSshKey: junk }, instanceId: 'i', hostname: 'h' }),
      ),
    ).to.match(/clouduser-ssh-key=.* is not an ssh public key$/);
  });

  it('parseCloudConfig: an empty cloud-config is an empty mapping', () => {
    expect(parseCloudConfig('#cloud-config\n', 'x')).to.deep.equal({});
  });
});
