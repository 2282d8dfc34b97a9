import { expect } from 'chai';
import { requireBuiltCli } from '../../helpers/cli.js';
import { execa } from 'execa';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { main } from '../../../src/cli/main.js';
import { createHost } from '../../../src/host/host.js';

async function run(argv: string[], cwd: string): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main({
    argv,
    env: {},
    cwd,
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
    host: createHost({ root: cwd }),
  });
  return { code, out, err };
}

const GOOD_KS = `text
lang en_US.UTF-8
keyboard us
timezone UTC
network --device=52:54:00:12:34:56 --bootproto=dhcp
autopart
rootpw --lock
poweroff
`;

describe('cli: install-guest kickstart', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ig-ks-cli-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('render with no arguments prints the default template with defaults', async () => {
    const r = await run(['kickstart', 'render'], dir);
    expect(r.code).to.equal(0);
    expect(r.out).to.match(/^text$/m);
    expect(r.out).to.match(/^network --device=link --bootproto=dhcp /m);
    expect(r.out).to.match(/^rootpw --lock$/m);
    expect(r.out).to.include('install-guest-confirm');
  });

  it('render takes dotted --set keys and a --vars file for secrets, and writes --out privately', async () => {
    await writeFile(path.join(dir, 'secrets.json'), JSON.stringify({ rootPassword: 'vars-file-secret' }));
    const r = await run(
      [
        'kickstart',
        'render',
        'fedora',
        '--vars',
        'secrets.json',
        '--set',
        'nic.mac=52:54:00:12:34:56',
        '--set',
        'network.bootproto=static',
        '--set',
        'network.ip=192.0.2.10',
        '--set',
        'network.netmask=255.255.255.0',
        '--set',
        'network.gateway=192.0.2.1',
        '--set',
        'confirmUnit=false',
        '--out',
        'ks.cfg',
      ],
      dir,
    );
    expect(r.code, r.err).to.equal(0);
    expect(r.out).to.equal('');
    const text = await readFile(path.join(dir, 'ks.cfg'), 'utf8');
    expect(text).to.match(/^network --device=52:54:00:12:34:56 --bootproto=static --ip=192\.0\.2\.10 /m);
    expect(text).to.match(/^rootpw --iscrypted \$6\$/m);
    expect(text).to.not.include('vars-file-secret');
    expect(text).to.not.include('%post');
    expect((await stat(path.join(dir, 'ks.cfg'))).mode & 0o777).to.equal(0o600);
  });

  it('render --out to a path it cannot write: one line, exit 2, nothing written', async () => {
    const r = await run(['kickstart', 'render', 'fedora', '--out', '/dev/null/ks.cfg'], dir);
    expect(r.code).to.equal(2);
    expect(r.err.trim()).to.equal(
      "install-guest: --out '/dev/null/ks.cfg' cannot be written: /dev/null is not a directory (hint: give --out a file in a directory you can write to) [BAD_OUTPUT_PATH]",
    );
    expect(r.out).to.equal('');
  });

  it('render --json --redacted gives the redacted text; a plain password on argv is refused', async () => {
    await writeFile(path.join(dir, 'pw'), 'from-file\n');
    const r = await run(
      ['kickstart', 'render', 'debian', '--set', 'rootPasswordFile=pw', '--redacted', '--json'],
      dir,
    );
    expect(r.code, r.err).to.equal(0);
    const json = JSON.parse(r.out) as { template: string; family: string; fileName: string; text: string };
    expect(json).to.include({ template: 'debian', family: 'preseed', fileName: 'preseed.cfg' });
    expect(json.text).to.match(/^d-i passwd\/root-password-crypted password <redacted>$/m);
    const refused = await run(['kickstart', 'render', '--set', 'user.password=oops'], dir);
    expect(refused.code).to.equal(2);
    expect(refused.err).to.include('KICKSTART_SECRET_ON_ARGV');
    expect(refused.err).to.not.include('oops');
  });

  it('render names an unknown variable and exits 2', async () => {
    const r = await run(['kickstart', 'render', '--set', 'hostnmae=x', '--json'], dir);
    expect(r.code).to.equal(2);
    const json = JSON.parse(r.out) as { error: { code: string; message: string } };
    expect(json.error.code).to.equal('KICKSTART_UNKNOWN_VARIABLE');
    expect(json.error.message).to.include('`hostnmae`');
  });

  it('lint exits 0 on a clean kickstart and 2 with findings (file:line) on errors', async () => {
    await writeFile(path.join(dir, 'good.ks'), GOOD_KS);
    const ok = await run(['kickstart', 'lint', 'good.ks', '--headless', '--nic', '52:54:00:12:34:56'], dir);
    expect(ok.code, ok.out).to.equal(0);
    expect(ok.out).to.include('0 errors');
    await writeFile(path.join(dir, 'part.ks'), 'graphical\n');
    await writeFile(path.join(dir, 'bad.ks'), GOOD_KS.replace('autopart\n', 'autopart\n%include part.ks\n'));
    const bad = await run(['kickstart', 'lint', 'bad.ks', '--headless', '--nic', '52:54:00:99:99:99'], dir);
    expect(bad.code).to.equal(2);
    expect(bad.out).to.include('part.ks:1: error GRAPHICAL_HEADLESS');
    expect(bad.out).to.include('bad.ks:5: error NETWORK_DEVICE_MISMATCH');
    const json = await run(['kickstart', 'lint', 'bad.ks', '--json', '--nic', 'enp1s0'], dir);
    const parsed = JSON.parse(json.out) as {
      errors: number;
      findings: { line: number; code: string; file: string }[];
    };
    expect(parsed.errors).to.be.greaterThan(0);
    expect(parsed.findings.find((f) => f.code === 'NETWORK_DEVICE_MISMATCH')).to.include({
      line: 5,
      file: path.join(dir, 'bad.ks'),
    });
  });

  it('works as the built CLI (tsc output run by node)', async function () {
    this.timeout(30_000);
    const bin = requireBuiltCli();
    await writeFile(path.join(dir, 'good.ks'), GOOD_KS);
    const render = await execa(
      'node',
      [bin, 'kickstart', 'render', 'debian', '--set', 'nic.mac=52:54:00:12:34:56'],
      { cwd: dir },
    );
    expect(render.stdout).to.match(/^d-i netcfg\/choose_interface select 52:54:00:12:34:56$/m);
    const lint = await execa('node', [bin, 'kickstart', 'lint', 'good.ks', '--headless'], {
      cwd: dir,
      reject: false,
    });
    expect(lint.exitCode).to.equal(0);
    await writeFile(path.join(dir, 'bad.ks'), 'bogus\n');
    const bad = await execa('node', [bin, 'kickstart', 'lint', 'bad.ks'], { cwd: dir, reject: false });
    expect(bad.exitCode).to.equal(2);
    expect(bad.stdout).to.include('bad.ks:1: error UNKNOWN_COMMAND');
  });
});
