import { expect } from 'chai';
import type { Finding, LintOptions } from '../../../src/kickstart/lint.js';
import { lintKickstart } from '../../../src/kickstart/lint.js';
import { optionValue, parseKickstart, shellSplit } from '../../../src/kickstart/parse.js';

/** A complete unattended kickstart; each test breaks one thing in it. */
const GOOD = [
  'text', // 1
  'lang en_US.UTF-8', // 2
  'keyboard --vckeymap=us', // 3
  'timezone UTC --utc', // 4
  'network --device=52:54:00:12:34:56 --bootproto=dhcp', // 5
  'ignoredisk --only-use=vda', // 6
  'clearpart --all --initlabel', // 7
  'autopart --type=plain', // 8
  'bootloader --location=mbr', // 9
  'rootpw --iscrypted $6$abc$def', // 10
  'poweroff', // 11
  '', // 12
  '%packages', // 13
  '@core', // 14
  '%end', // 15
  '', // 16
  '%post', // 17
  'echo hello', // 18
  '%end', // 19
];

const NIC = { mac: '52:54:00:12:34:56' };

function lint(lines: string[], options: LintOptions = { headless: true, assignedNic: NIC }): Finding[] {
  return lintKickstart(lines.join('\n'), options);
}

function codes(findings: Finding[]): string[] {
  return findings.map((f) => `${f.line}:${f.severity}:${f.code}`);
}

function replaceLine(n: number, text: string | null): string[] {
  const copy = [...GOOD];
  if (text === null) copy.splice(n - 1, 1, '# removed');
  else copy[n - 1] = text;
  return copy;
}

describe('kickstart/lint', () => {
  it('finds nothing in a complete unattended kickstart', () => {
    expect(lint(GOOD)).to.deep.equal([]);
  });

  it('reports an unknown command at its line', () => {
    expect(codes(lint(replaceLine(6, 'ignoredsk --only-use=vda')))).to.deep.equal([
      '6:error:UNKNOWN_COMMAND',
    ]);
  });

  it('reports removed commands as errors and deprecated ones as warnings', () => {
    expect(codes(lint(replaceLine(7, 'install')))).to.deep.equal(['7:error:REMOVED_COMMAND']);
    expect(codes(lint(replaceLine(7, 'authconfig --enableshadow')))).to.deep.equal([
      '7:error:REMOVED_COMMAND',
    ]);
    expect(codes(lint(replaceLine(7, 'nvdimm use --namespace=x')))).to.deep.equal([
      '7:warning:DEPRECATED_COMMAND',
    ]);
  });

  it('reports a section left open at the line that opened it', () => {
    const noEnd = [...GOOD.slice(0, 14), '', '%post', 'echo hi', '%end'];
    expect(codes(lint(noEnd))).to.deep.equal(['13:error:SECTION_NOT_CLOSED']);
    const atEof = GOOD.slice(0, 18);
    expect(codes(lint(atEof))).to.deep.equal(['17:error:SECTION_NOT_CLOSED']);
  });

  it('reports %end without a section and unknown sections', () => {
    expect(codes(lint([...GOOD, '%end']))).to.deep.equal(['20:error:END_WITHOUT_SECTION']);
    expect(codes(lint([...GOOD, '%postt', 'x', '%end']))).to.deep.equal(['20:error:UNKNOWN_SECTION']);
  });

  it('does not read script or package lines as commands', () => {
    const ks = [...GOOD.slice(0, 18), 'foo --bar', '%include /not/a/command', '%end'];
    expect(lint(ks)).to.deep.equal([]);
    const parsed = parseKickstart(GOOD.join('\n'));
    expect(parsed.sections.map((s) => `${s.name}:${s.line}-${s.endLine}`)).to.deep.equal([
      'packages:13-15',
      'post:17-19',
    ]);
  });

  it('requires text or cmdline when headless (warning otherwise) and refuses graphical headless', () => {
    expect(codes(lint(replaceLine(1, null)))).to.deep.equal(['1:error:NO_TEXT_MODE']);
    expect(codes(lint(replaceLine(1, null), { headless: false }))).to.deep.equal(['1:warning:NO_TEXT_MODE']);
    expect(codes(lint(replaceLine(1, 'graphical')))).to.deep.equal([
      '1:error:GRAPHICAL_HEADLESS',
      '1:error:NO_TEXT_MODE',
    ]);
    expect(lint(replaceLine(1, 'graphical'), { headless: false })).to.deep.equal([]);
    expect(lint(replaceLine(1, 'cmdline'))).to.deep.equal([]);
    expect(codes(lint(['graphical', ...GOOD]))).to.deep.equal([
      '1:error:GRAPHICAL_HEADLESS',
      '2:error:DISPLAY_MODE_CONFLICT',
    ]);
  });

  it('requires lang, keyboard, timezone, an account, storage and an end action (line 1 for a missing command)', () => {
    expect(codes(lint(replaceLine(2, null)))).to.deep.equal(['1:error:MISSING_LANG']);
    expect(codes(lint(replaceLine(3, null)))).to.deep.equal(['1:error:MISSING_KEYBOARD']);
    expect(codes(lint(replaceLine(4, null)))).to.deep.equal(['1:error:MISSING_TIMEZONE']);
    expect(codes(lint(replaceLine(10, null)))).to.deep.equal(['1:error:MISSING_AUTH']);
    expect(lint(replaceLine(10, 'user --name=ops --iscrypted --password=$6$a$b'))).to.deep.equal([]);
    expect(codes(lint(replaceLine(8, null)))).to.deep.equal(['1:error:MISSING_STORAGE']);
    expect(lint(replaceLine(8, 'part / --fstype=ext4 --grow'))).to.deep.equal([]);
    expect(codes(lint(replaceLine(11, null)))).to.deep.equal(['1:error:MISSING_END_ACTION']);
    for (const action of ['shutdown', 'reboot', 'halt'])
      expect(lint(replaceLine(11, action))).to.deep.equal([]);
    expect(codes(lint(replaceLine(9, null)))).to.deep.equal(['1:warning:MISSING_BOOTLOADER']);
  });

  it('warns about duplicates and plain-text passwords', () => {
    expect(codes(lint([...GOOD.slice(0, 11), 'lang de_DE.UTF-8', ...GOOD.slice(11)]))).to.deep.equal([
      '12:warning:DUPLICATE_COMMAND',
    ]);
    expect(codes(lint(replaceLine(10, 'rootpw hunter2')))).to.deep.equal(['10:warning:PLAINTEXT_PASSWORD']);
    expect(lint(replaceLine(10, 'rootpw --lock'))).to.deep.equal([]);
    expect(codes(lint(replaceLine(10, 'user --name=ops --password=hunter2')))).to.deep.equal([
      '10:warning:PLAINTEXT_PASSWORD',
    ]);
  });

  it('checks that a network command targets the assigned NIC, by MAC or by name', () => {
    expect(codes(lint(replaceLine(5, 'network --device=52:54:00:99:99:99 --bootproto=dhcp')))).to.deep.equal([
      '5:error:NETWORK_DEVICE_MISMATCH',
    ]);
    expect(lint(replaceLine(5, 'network --device 52-54-00-12-34-56 --bootproto=dhcp'))).to.deep.equal([]);
    expect(
      lint(
        replaceLine(
          5,
          'network --device=52:54:00:12:34:56'.toUpperCase().replace('NETWORK --DEVICE', 'network --device'),
        ),
      ),
    ).to.deep.equal([]);
    expect(codes(lint(replaceLine(5, 'network --bootproto=dhcp')))).to.deep.equal([
      '5:warning:NETWORK_DEVICE_UNPINNED',
    ]);
    expect(codes(lint(replaceLine(5, 'network --device=link')))).to.deep.equal([
      '5:warning:NETWORK_DEVICE_UNPINNED',
    ]);
    expect(codes(lint(replaceLine(5, null)))).to.deep.equal(['1:error:NETWORK_MISSING']);
    const byName = { headless: true, assignedNic: { name: 'enp1s0' } };
    expect(lint(replaceLine(5, 'network --device=enp1s0 --bootproto=dhcp'), byName)).to.deep.equal([]);
    expect(codes(lint(GOOD, byName))).to.deep.equal(['5:error:NETWORK_DEVICE_MISMATCH']);
    // a second NIC besides the assigned one is fine
    expect(
      lint([...GOOD.slice(0, 5), 'network --device=eth9 --bootproto=dhcp', ...GOOD.slice(5)]),
    ).to.deep.equal([]);
    // without an assigned NIC there is nothing to check
    expect(lint(replaceLine(5, null), { headless: true })).to.deep.equal([]);
  });

  it('refuses remote includes and flags install-time ones as unchecked', () => {
    expect(codes(lint([...GOOD, '%include http://example.org/part.ks']))).to.deep.equal([
      '20:error:INCLUDE_REMOTE',
    ]);
    expect(codes(lint([...GOOD, '%include /tmp/part-include']))).to.deep.equal([
      '20:warning:INCLUDE_UNRESOLVED',
    ]);
  });

  it('gives every finding a line number within the file', () => {
    const bad = [
      'graphical',
      'foo',
      '%packages',
      'vim',
      '%post',
      'x',
      '%end',
      '%end',
      'network --device=eth1',
    ];
    const findings = lint(bad);
    expect(findings.length).to.be.greaterThan(8);
    for (const f of findings) {
      expect(f.line, f.code).to.be.within(1, bad.length);
      expect(f.message).to.be.a('string').and.not.equal('');
    }
  });

  it('splits words like a shell and reads options in both forms', () => {
    expect(shellSplit(`bootloader --append="console=ttyS0 quiet" 'a b' c\\ d`)).to.deep.equal([
      'bootloader',
      '--append=console=ttyS0 quiet',
      'a b',
      'c d',
    ]);
    expect(optionValue(['--device', 'eth0'], 'device')).to.equal('eth0');
    expect(optionValue(['--device=eth0'], 'device')).to.equal('eth0');
    expect(optionValue(['--activate', '--device'], 'device')).to.equal('');
    expect(optionValue(['--activate'], 'device')).to.equal(undefined);
  });
});
