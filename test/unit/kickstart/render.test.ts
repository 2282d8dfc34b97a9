import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sequentialIds } from '../../../src/host/host.js';
import { lintKickstart } from '../../../src/kickstart/lint.js';
import { builtinTemplates, confirmInstallSnippet, renderKickstart } from '../../../src/kickstart/render.js';
import { sha512Crypt } from '../../../src/kickstart/sha512-crypt.js';
import { parseSetValue, setDotted, validateVars } from '../../../src/kickstart/vars.js';
import { rejection, thrown } from '../../helpers/typed-error.js';

const NIC = { mac: '52:54:00:ab:cd:ef' };

describe('kickstart/vars', () => {
  it('fills defaults and accepts the documented variables', () => {
    const v = validateVars({ nic: NIC }, 'fedora');
    expect(v.disk).to.equal('vda');
    expect(v.network).to.deep.equal({ bootproto: 'dhcp' });
    expect(v.poweroff).to.equal('poweroff');
    expect(v.confirmUnit).to.equal(true);
  });

  it('names an unknown variable, nested ones with a dotted path', () => {
    const e = thrown(() => validateVars({ hostnme: 'x', network: { bootproto: 'dhcp', vlan: 3 } }, 'fedora'));
    expect(e.code).to.equal('KICKSTART_UNKNOWN_VARIABLE');
    expect(e.exitCode).to.equal(2);
    expect(e.message).to.include('unknown variable `hostnme`');
    expect(e.message).to.include('unknown variable `network.vlan`');
    expect(e.data?.unknown).to.deep.equal(['hostnme', 'network.vlan']);
  });

  it('requires ip, netmask and gateway for static, and refuses them for dhcp', () => {
    const e = thrown(() => validateVars({ network: { bootproto: 'static', ip: '10.0.0.5' } }, 'fedora'));
    expect(e.code).to.equal('KICKSTART_VARS');
    expect(e.message).to.include('`network.netmask` is required');
    expect(e.message).to.include('`network.gateway` is required');
    const d = thrown(() => validateVars({ network: { bootproto: 'dhcp', ip: '10.0.0.5' } }, 'fedora'));
    expect(d.message).to.include('apply only to bootproto static');
  });

  it('refuses values that would inject kickstart lines, and bad addresses', () => {
    expect(thrown(() => validateVars({ hostname: 'a\nrootpw x' }, 'fedora')).message).to.include(
      '`hostname`',
    );
    expect(thrown(() => validateVars({ kernelArgs: 'x"\nfoo' }, 'fedora')).message).to.include(
      '`kernelArgs`',
    );
    expect(thrown(() => validateVars({ nic: { mac: '52:54:00:zz:00:00' } }, 'fedora')).message).to.include(
      '`nic.mac`',
    );
    expect(
      thrown(() =>
        validateVars(
          {
            network: { bootproto: 'static', ip: '10.0.0.256', netmask: '255.255.255.0', gateway: '10.0.0.1' },
          },
          'fedora',
        ),
      ).message,
    ).to.include('`network.ip`');
    expect(thrown(() => validateVars({ packages: ['vim\n%post'] }, 'fedora')).message).to.include(
      '`packages.0`',
    );
  });

  it('never echoes a password in an error', () => {
    const e = thrown(() => validateVars({ rootPassword: 42 }, 'fedora'));
    expect(e.message).to.include('`rootPassword`');
    expect(e.message).to.not.include('42');
    const u = thrown(() => validateVars({ user: { name: 'bob', password: ['s3cr3t'] } }, 'fedora'));
    expect(u.message).to.not.include('s3cr3t');
  });

  it('refuses two sources for one password, and a user without one', () => {
    expect(
      thrown(() => validateVars({ rootPassword: 'a', rootPasswordFile: '/x' }, 'fedora')).message,
    ).to.include('rootPassword and rootPasswordFile');
    expect(thrown(() => validateVars({ user: { name: 'bob' } }, 'fedora')).message).to.include('found none');
    expect(
      thrown(() => validateVars({ user: { name: 'root', password: 'x' } }, 'fedora')).message,
    ).to.include('must not be root');
  });

  it('sets dotted keys and parses --set values', () => {
    const o: Record<string, unknown> = {};
    setDotted(o, 'network.bootproto', 'static');
    setDotted(o, 'network.ip', '10.0.0.5');
    setDotted(o, 'confirmUnit', parseSetValue('false'));
    setDotted(o, 'packages', parseSetValue('["vim","curl"]'));
    expect(o).to.deep.equal({
      network: { bootproto: 'static', ip: '10.0.0.5' },
      confirmUnit: false,
      packages: ['vim', 'curl'],
    });
    expect(parseSetValue('10.0.0.5')).to.equal('10.0.0.5');
    expect(parseSetValue('1234')).to.equal('1234');
    expect(thrown(() => setDotted(o, '__proto__.x', 1)).code).to.equal('KICKSTART_SET');
    expect(thrown(() => parseSetValue('[oops')).code).to.equal('KICKSTART_SET');
  });
});

describe('kickstart/render', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ig-ks-render-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('ships a fedora kickstart and a debian preseed template', () => {
    const names = builtinTemplates().map((t) => `${t.name}:${t.family}`);
    expect(names).to.include.members(['fedora:kickstart', 'debian:preseed']);
  });

  it('hashes a plain root password; the text holds only the hash and the redacted copy neither', async () => {
    const r = await renderKickstart(
      'fedora',
      { nic: NIC, rootPassword: 'correct horse' },
      { ids: sequentialIds(7) },
    );
    const hash = /^rootpw --iscrypted (\S+)$/m.exec(r.text)?.[1];
    expect(hash).to.match(/^\$6\$/);
    expect(sha512Crypt('correct horse', hash!)).to.equal(hash);
    expect(r.text).to.not.include('correct horse');
    expect(r.redacted).to.not.include(hash!);
    expect(r.redacted).to.not.include('correct horse');
    expect(r.redacted).to.match(/^rootpw --iscrypted <redacted>$/m);
    expect(r.fileName).to.equal('ks.cfg');
  });

  it('reads a password file: a plain line is hashed, a crypt hash is used as is', async () => {
    await writeFile(path.join(dir, 'plain'), 'from-file\nignored second line\n');
    const given = sha512Crypt('x', '$6$abcdefgh');
    await writeFile(path.join(dir, 'hash'), `${given}\n`);
    const a = await renderKickstart('fedora', { rootPasswordFile: 'plain' }, { cwd: dir });
    const h = /^rootpw --iscrypted (\S+)$/m.exec(a.text)![1]!;
    expect(sha512Crypt('from-file', h)).to.equal(h);
    const b = await renderKickstart(
      'fedora',
      { user: { name: 'ops', passwordFile: path.join(dir, 'hash') } },
      { cwd: '/' },
    );
    expect(b.text).to.include(`--iscrypted --password=${given}`);
    expect(b.text).to.match(/^rootpw --lock$/m);
    const missing = await rejection(renderKickstart('fedora', { rootPasswordFile: 'nope' }, { cwd: dir }));
    expect(missing.code).to.equal('KICKSTART_PASSWORD_FILE');
    await writeFile(path.join(dir, 'empty'), '');
    expect(
      (await rejection(renderKickstart('fedora', { rootPasswordFile: 'empty' }, { cwd: dir }))).message,
    ).to.include('empty');
  });

  it('validates before rendering: a variable only read by {{#if}} cannot slip through', async () => {
    const t = path.join(dir, 'mine.ks.hbs');
    await writeFile(t, 'text\n{{#if extra}}never{{/if}}\n');
    const e = await rejection(renderKickstart(t, { extra: true }));
    expect(e.code).to.equal('KICKSTART_UNKNOWN_VARIABLE');
    expect(e.message).to.include('`extra`');
  });

  it('renders strictly: a template using an undefined variable is an input error naming it', async () => {
    const t = path.join(dir, 'mine.ks.hbs');
    await writeFile(t, 'text\nnetwork --device={{nic.mac}} --hostname={{hostnam}}\n');
    const e = await rejection(renderKickstart(t, { nic: NIC }));
    expect(e.code).to.equal('KICKSTART_TEMPLATE_VARIABLE');
    expect(e.message).to.include('`hostnam`');
    await writeFile(t, 'text {{#if}}\n');
    expect((await rejection(renderKickstart(t, {}))).code).to.equal('KICKSTART_TEMPLATE');
  });

  it('does not HTML-escape values', async () => {
    const t = path.join(dir, 'mine.ks.hbs');
    await writeFile(t, '{{kernelArgs}}\n');
    const r = await renderKickstart(t, { kernelArgs: 'a=<b>&c' });
    expect(r.text).to.equal('a=<b>&c\n');
  });

  it('refuses an unknown template name and lists the built-in ones', async () => {
    const e = await rejection(renderKickstart('suse', {}));
    expect(e.code).to.equal('KICKSTART_TEMPLATE_UNKNOWN');
    expect(e.hint).to.include('fedora');
    expect((await rejection(renderKickstart(path.join(dir, 'none.hbs'), {}))).code).to.equal(
      'KICKSTART_TEMPLATE_UNREADABLE',
    );
  });

  it('renders the fedora template lint-clean for a headless install on the assigned NIC, dhcp and static', async () => {
    for (const network of [
      { bootproto: 'dhcp' },
      {
        bootproto: 'static',
        ip: '192.0.2.10',
        netmask: '255.255.255.0',
        gateway: '192.0.2.1',
        nameserver: '192.0.2.53',
      },
    ]) {
      const r = await renderKickstart('fedora', { nic: NIC, network, rootPassword: 'x' });
      const errors = lintKickstart(r.text, { headless: true, assignedNic: NIC }).filter(
        (f) => f.severity === 'error',
      );
      expect(errors, JSON.stringify(errors)).to.deep.equal([]);
      expect(r.text).to.match(
        new RegExp(`^network --device=${NIC.mac} --bootproto=${network.bootproto}`, 'm'),
      );
    }
  });

  it('leaves the confirmation unit out when confirmUnit is false', async () => {
    const on = await renderKickstart('fedora', {});
    const off = await renderKickstart('fedora', { confirmUnit: false });
    expect(on.text).to.include(confirmInstallSnippet());
    expect(off.text).to.not.include('install-guest-confirm');
    const pre = await renderKickstart('debian', { confirmUnit: false });
    expect(pre.text).to.not.include('late_command');
    expect(pre.fileName).to.equal('preseed.cfg');
  });

  it('embeds the same installer snippet in the preseed late_command, base64 on one line', async () => {
    const r = await renderKickstart('debian', { nic: NIC });
    const m =
      /^d-i preseed\/late_command string in-target sh -c 'echo ([A-Za-z0-9+/=]+) \| base64 -d \| sh'$/m.exec(
        r.text,
      );
    expect(m, 'late_command line').to.not.equal(null);
    expect(Buffer.from(m![1]!, 'base64').toString('utf8')).to.equal(confirmInstallSnippet());
    expect(r.text).to.match(/^d-i netcfg\/choose_interface select 52:54:00:ab:cd:ef$/m);
  });
});
