import { expect } from 'chai';
import { execa } from 'execa';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createReporter, plainText, progressBar } from '../../../src/report/reporter.js';
import { writeJUnit, xmlAttr, xmlText } from '../../../src/report/junit.js';

function sink(
  isTTY: boolean,
  columns = 100,
): { stream: { write(s: string): boolean; isTTY: boolean; columns: number }; text: () => string } {
  const chunks: string[] = [];
  return {
    stream: {
      write: (s: string) => {
        chunks.push(s);
        return true;
      },
      isTTY,
      columns,
    },
    text: () => chunks.join(''),
  };
}

// eslint-disable-next-line no-control-regex
const ANY_ESCAPE = /\x1b/;

describe('reporter', () => {
  it('prints plain lines without any escape code on a non-terminal, with stage durations', () => {
    const out = sink(false);
    let t = 0;
    const r = createReporter({ stream: out.stream, json: false, now: () => t });
    r.stage('resolve-media', 'start');
    t = 1500;
    r.stage('resolve-media', 'done');
    r.info('guest says \x1b[31mhello\x1b[0m');
    r.warn('slow disk');
    r.warn('warning: already prefixed');
    r.result({ verdict: 'installed', device: '0000:01:00.0', logDir: '/var/log/ig/1' });
    expect(out.text()).to.equal(
      [
        'resolve-media: start',
        'resolve-media: done (1.5 s)',
        'guest says hello',
        'warning: slow disk',
        'warning: already prefixed',
        'result: verdict=installed device=0000:01:00.0 logDir=/var/log/ig/1',
        '',
      ].join('\n'),
    );
    expect(out.text()).to.not.match(ANY_ESCAPE);
  });

  it('throttles plain progress lines but always shows a new stage text', () => {
    const out = sink(false);
    let t = 0;
    const r = createReporter({ stream: out.stream, json: false, now: () => t, plainProgressMs: 5000 });
    r.progress(0.1, 'installing a (1/10)');
    t = 1000;
    r.progress(0.2, 'installing b (2/10)');
    t = 2000;
    r.progress(undefined, 'Installing boot loader');
    t = 6000;
    r.progress(undefined, 'Installing boot loader');
    t = 7500;
    r.progress(0.9, 'installing i (9/10)');
    expect(out.text().split('\n').filter(Boolean)).to.deep.equal([
      'progress 10% installing a (1/10)',
      'progress Installing boot loader',
      'progress 90% installing i (9/10)',
    ]);
  });

  it('draws one status line with a bar on a terminal, redrawn with \\r, and keeps stage lines above it', () => {
    const out = sink(true);
    let t = 0;
    const r = createReporter({ stream: out.stream, json: false, now: () => t, color: false, redrawMs: 0 });
    r.stage('watch-install', 'start');
    t = 10;
    r.progress(0.5, 'installing tiny-base (3/6)');
    t = 20;
    r.info('a line above');
    t = 30;
    r.stage('watch-install', 'done');
    r.close();
    const text = out.text();
    expect(text).to.contain(
      '\r\x1b[2Kwatch-install [############------------]  50% installing tiny-base (3/6)',
    );
    // the info line is printed after erasing the status line, and the status line comes back after it
    expect(text).to.contain('\r\x1b[2Ka line above\n\r\x1b[2Kwatch-install [');
    // the stage is over: its line stays, the status line is gone, the cursor is on a fresh line
    expect(text.endsWith('\r\x1b[2K✔ watch-install (0.0 s)\n')).to.equal(true);
  });

  it('cuts the status line to the terminal width', () => {
    const out = sink(true, 40);
    const r = createReporter({ stream: out.stream, json: false, color: false, redrawMs: 0 });
    r.progress(0.5, 'installing a-package-with-a-very-long-name-1.0-1.x86_64 (3/6)');
    r.close();
    const segs = out.text().split('\r\x1b[2K').filter(Boolean);
    expect(segs).to.have.length(1);
    expect(segs[0]).to.have.length(39);
    expect(segs[0]?.endsWith('…')).to.equal(true);
  });

  it('writes one JSON object per line, with a final result event', () => {
    const out = sink(true);
    let t = 0;
    const r = createReporter({
      stream: out.stream,
      json: true,
      clock: () => Date.UTC(2026, 10, 24, 0, 0, 0),
      now: () => t,
      jsonProgressMs: 1000,
    });
    r.stage('launch-qemu', 'start');
    t = 250;
    r.stage('launch-qemu', 'done');
    r.progress(0.25, 'a');
    t = 500;
    r.progress(0.3, 'b (throttled)');
    t = 1250;
    r.progress(0.5, 'c');
    r.event({ event: 'milestone', text: 'installation complete' });
    r.result({ verdict: 'installed', phases: [{ name: 'install', ms: 1000 }] });
    const objs = out
      .text()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(objs.map((o) => o.event)).to.deep.equal([
      'stage',
      'stage',
      'progress',
      'progress',
      'milestone',
      'result',
    ]);
    expect(objs[1]).to.deep.equal({
      event: 'stage',
      name: 'launch-qemu',
      status: 'done',
      elapsedMs: 250,
      t: '2026-11-24T00:00:00.000Z',
    });
    expect(objs[3]).to.include({ fraction: 0.5, text: 'c' });
    expect(objs[5].phases).to.deep.equal([{ name: 'install', ms: 1000 }]);
    expect(out.text()).to.not.match(ANY_ESCAPE);
  });

  it('never lets guest text drive the terminal', () => {
    expect(plainText('a\x1b[2J\x1b]0;pwned\x07b\x07c\nd')).to.equal('abc d');
    expect(plainText('x\x1b[31my\x1b[0m\tz\r')).to.equal('xy z');
    expect(progressBar(0.5, 10)).to.equal('[#####-----]');
    expect(progressBar(2, 4)).to.equal('[####]');
  });
});

describe('JUnit writer', () => {
  const suites = [
    {
      name: 'batch <nightly> & co',
      timestamp: '2026-11-24T00:00:00Z',
      properties: { media: 'fedora-39', 'device "pool"': '0000:01:00.0' },
      cases: [
        {
          name: 'fedora-39 e1000e',
          timeMs: 312000,
          status: 'passed' as const,
          systemOut: 'serial: \x1b[1mok\x1b[0m',
        },
        {
          name: 'debian-12 igb',
          classname: 'install',
          timeMs: 1500,
          status: 'failed' as const,
          type: 'INSTALL_FAILED',
          message: 'install failed: "Kernel panic - not syncing: VFS" (serial log /tmp/a&b/serial.log)',
          details: 'line 1 <with> markup\n\x07bell \x00nul \ufffe and "quotes"',
        },
        { name: 'ubuntu', status: 'skipped' as const, message: 'no device free' },
        { name: 'alma', status: 'error' as const, type: 'QEMU_EXITED_EARLY', message: "qemu said: 'no'" },
      ],
    },
  ];

  it('escapes markup and drops characters XML forbids', () => {
    expect(xmlText('a<b>&c')).to.equal('a&lt;b&gt;&amp;c');
    expect(xmlAttr('say "hi" \'x\'\n')).to.equal('say &quot;hi&quot; &apos;x&apos;&#10;');
    expect(xmlText('\x1b[31mred\x1b[0m\x07\ud800!')).to.equal('red!');
  });

  it('writes counts, times, failures, skips and errors', () => {
    const xml = writeJUnit(suites);
    expect(xml).to.contain(
      '<testsuites name="install-guest" tests="4" failures="1" errors="1" skipped="1" time="313.500">',
    );
    expect(xml).to.contain(
      '<testsuite name="batch &lt;nightly&gt; &amp; co" tests="4" failures="1" errors="1" skipped="1" time="313.500" timestamp="2026-11-24T00:00:00Z">',
    );
    expect(xml).to.contain(
      '<testcase name="fedora-39 e1000e" classname="batch &lt;nightly&gt; &amp; co" time="312.000">',
    );
    expect(xml).to.contain('<system-out>serial: ok</system-out>');
    expect(xml).to.contain(
      '<failure message="install failed: &quot;Kernel panic - not syncing: VFS&quot; (serial log /tmp/a&amp;b/serial.log)" type="INSTALL_FAILED">line 1 &lt;with&gt; markup\nbell nul  and "quotes"</failure>',
    );
    expect(xml).to.contain('<skipped message="no device free"/>');
    expect(xml).to.contain('<error message="qemu said: &apos;no&apos;" type="QEMU_EXITED_EARLY"/>');
  });

  it('produces XML that a real parser accepts (python3 expat, a .ci/setup package)', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ig-junit-'));
    try {
      const file = path.join(dir, 'report.xml');
      await fs.writeFile(file, writeJUnit(suites));
      const script = [
        'import sys, xml.etree.ElementTree as E',
        'root = E.parse(sys.argv[1]).getroot()',
        'print(root.tag, len(root.findall(".//testcase")), root.find(".//failure").get("message"))',
      ].join('\n');
      const r = await execa('python3', ['-c', script, file], { reject: false });
      expect(r.stderr).to.equal('');
      expect(r.stdout.trim()).to.equal(
        'testsuites 4 install failed: "Kernel panic - not syncing: VFS" (serial log /tmp/a&b/serial.log)',
      );
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('writes an empty report for no suites', () => {
    expect(writeJUnit([])).to.equal(
      '<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="install-guest" tests="0" failures="0" errors="0" skipped="0" time="0.000">\n</testsuites>\n',
    );
  });
});
