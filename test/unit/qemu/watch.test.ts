import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { RULE_PACKS, INSTALLER_FAMILIES } from '../../../src/qemu/rules/index.js';
import type { InstallerFamily, RulePack } from '../../../src/qemu/rules/types.js';
import { ConsoleMatcher, matchLog, type WatchEvent } from '../../../src/qemu/console/matcher.js';
import { compileRules, rulesFor } from '../../../src/qemu/console/rules.js';
import { TerminalText } from '../../../src/qemu/console/terminal-text.js';
import { watch } from '../../../src/qemu/console/watcher.js';
import { InstallGuestError } from '../../../src/errors.js';

const LOGS = path.resolve('fixtures/serial-logs');

interface Case {
  file: string;
  family: InstallerFamily;
  fatals: string[];
  line?: string;
  milestones?: string[];
  warnings?: string[];
  lastFraction?: number;
  /** the first fatal's message */
  message?: string;
  /** progress texts the log must report (among others) */
  progressTexts?: string[];
}
const cases = (JSON.parse(readFileSync(path.join(LOGS, 'cases.json'), 'utf8')) as { cases: Case[] }).cases;

/** A small deterministic PRNG so chunk boundaries differ between cases but not between runs. */
function splitter(seed: number): (n: number) => number {
  let s = seed;
  return (n) => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return 1 + (s % n);
  };
}

function matchInChunks(bytes: Buffer, family: InstallerFamily, seed: number, maxChunk: number): WatchEvent[] {
  const m = new ConsoleMatcher(rulesFor(family), 0);
  const rnd = splitter(seed);
  const events: WatchEvent[] = [];
  for (let i = 0; i < bytes.length;) {
    const n = rnd(maxChunk);
    events.push(...m.push(bytes.subarray(i, i + n), 0));
    i += n;
  }
  events.push(...m.end(0));
  return events;
}

const lines = (s: string): string[] => new TerminalText().push(Buffer.from(s)).map((l) => l.text);

describe('console watcher', () => {
  describe('terminal text', () => {
    it('treats \\r, \\n and \\r\\n as line ends and drops blank lines', () => {
      expect(lines('one\r\ntwo\rthree\n\n\r\nfour\n')).to.deep.equal(['one', 'two', 'three', 'four']);
    });

    it('strips colour and mode escapes inside a line', () => {
      expect(lines('\x1b[1m\x1b[37m\x1b[41mInstallation\x1b[0m step \x1b[?25lfailed\n')).to.deep.equal([
        'Installation step failed',
      ]);
    });

    it('ends a line at a cursor move to another row, and spaces a move along the row', () => {
      expect(lines('Retrieving libc6\x1b[11;38H 12%\x1b[9;12HUnpacking\x1b[3Cbase-files\n')).to.deep.equal([
        'Retrieving libc6',
        ' 12%',
        'Unpacking base-files',
      ]);
    });

    it('turns DEC line drawing and Unicode box characters into spaces (offsets point at the text)', () => {
      const t = new TerminalText();
      expect(
        t.push(
          Buffer.from('\x1b(0lqqqu\x1b(B [!!] Configure \x1b(0tqqk\x1b(B\n│ Installation step failed │\n'),
        ),
      ).to.deep.equal([
        { text: '      [!!] Configure', offset: 12 },
        { text: '  Installation step failed', offset: 42 },
      ]);
    });

    it('applies backspace and skips OSC titles and other control bytes', () => {
      expect(lines('abx\bc\x1b]0;title\x07\x07de\x1b]2;t\x1b\\f\n')).to.deep.equal(['abcdef']);
    });

    it('keeps escape sequences and UTF-8 characters split across chunks whole', () => {
      const t = new TerminalText();
      const bytes = Buffer.from('é\x1b[31mred\x1b[0m ✓\n', 'utf8');
      const out = [];
      for (const b of bytes) out.push(...t.push(Buffer.from([b])));
      expect(out.map((l) => l.text)).to.deep.equal(['éred ✓']);
    });

    it('reports the byte offset of the first character of each line in the raw stream', () => {
      const t = new TerminalText();
      const out = t.push(Buffer.from('\x1b[2Jab\r\n\x1b[5;1Hcd\n'));
      expect(out).to.deep.equal([
        { text: 'ab', offset: 4 },
        { text: 'cd', offset: 14 },
      ]);
    });

    it('cuts an endless line at maxLineChars', () => {
      const t = new TerminalText(10);
      expect(t.push(Buffer.from('x'.repeat(25))).map((l) => l.text.length)).to.deep.equal([10, 10]);
      expect(t.partial()?.text).to.equal('xxxxx');
    });
  });

  describe('rule packs', () => {
    it('compile: unique kebab-case ids, valid patterns, message groups that exist', () => {
      const all = compileRules(INSTALLER_FAMILIES.map((f) => RULE_PACKS[f]));
      expect(all.length).to.be.greaterThan(40);
      for (const f of INSTALLER_FAMILIES) expect(rulesFor(f).length).to.be.greaterThan(0);
    });

    for (const family of INSTALLER_FAMILIES) {
      for (const rule of RULE_PACKS[family].rules) {
        it(`${family}/${rule.id} (${rule.kind}) matches each of its real example lines`, () => {
          const rules = rulesFor(family);
          for (const ex of rule.examples) {
            const events = matchLog(`${ex}\n`, rules);
            if (rule.kind === 'ignore') {
              expect(events, ex).to.deep.equal([]);
              continue;
            }
            const hit = events.find((e) => e.rule === rule.id);
            expect(hit, `${rule.id} should match: ${ex}`).to.not.equal(undefined);
            expect(hit?.type).to.equal(rule.kind);
          }
        });
      }
    }

    it('rejects a rule whose message names a group the pattern lacks', () => {
      const bad: RulePack = {
        family: 'generic-linux',
        description: 'test',
        rules: [
          {
            id: 'bad-rule',
            kind: 'fatal',
            pattern: 'boom',
            message: 'it broke: {why}',
            source: 'test',
            examples: ['boom'],
          },
        ],
      };
      expect(() => compileRules([bad]))
        .to.throw(InstallGuestError)
        .with.property('code', 'BAD_CONSOLE_RULE');
    });

    it('fills {progress} in a fatal message with the step shown last, and allows it in fatal rules only', () => {
      const pack = (kind: 'fatal' | 'warning'): RulePack => ({
        family: 'generic-linux',
        description: 'test',
        rules: [
          {
            id: 'step',
            kind: 'progress',
            pattern: '^Step (?<item>\\w+)$',
            message: 'step {item}',
            source: 't',
            examples: ['Step a'],
          },
          {
            id: 'boom',
            kind,
            pattern: 'boom',
            message: 'it broke at {progress}',
            source: 't',
            examples: ['boom'],
          },
        ],
      });
      const rules = compileRules([pack('fatal')]);
      const fatal = (log: string): string | undefined =>
        matchLog(log, rules).find((e) => e.type === 'fatal')?.message;
      expect(fatal('Step one\nStep two\nboom\n')).to.equal('it broke at step two');
      expect(fatal('boom\n')).to.equal('it broke at none');
      expect(() => compileRules([pack('warning')]))
        .to.throw(InstallGuestError)
        .with.property('code', 'BAD_CONSOLE_RULE');
    });

    it('rejects duplicate ids and flags other than i', () => {
      const rule = {
        id: 'dup',
        kind: 'fatal' as const,
        pattern: 'x',
        message: 'x',
        source: 't',
        examples: ['x'],
      };
      expect(() =>
        compileRules([{ family: 'generic-linux', description: '', rules: [rule, rule] }]),
      ).to.throw(/used twice/);
      expect(() =>
        compileRules([{ family: 'generic-linux', description: '', rules: [{ ...rule, flags: 'g' }] }]),
      ).to.throw(/flags/);
    });

    it('lets an ignore rule win over a fatal rule on the same line', () => {
      const line = '[    6.122535] ---[ end Kernel panic - not syncing: sysrq triggered crash ]---\n';
      expect(matchLog(line, rulesFor('generic-linux'))).to.deep.equal([]);
      const withoutIgnores = rulesFor('generic-linux').filter((r) => r.kind !== 'ignore');
      expect(matchLog(line, withoutIgnores).map((e) => e.rule)).to.deep.equal(['kernel-panic']);
    });

    it('does not take a soft lockup under emulation for a kernel bug', () => {
      const events = matchLog(
        '[  123.456789] watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [swapper/0:1]\n',
        rulesFor('generic-linux'),
      );
      expect(events).to.deep.equal([]);
      expect(
        matchLog(
          '[   33.1] BUG: kernel NULL pointer dereference, address: 0000000000000008\n',
          rulesFor('generic-linux'),
        ).map((e) => e.type),
      ).to.deep.equal(['warning']);
    });
  });

  describe('recorded logs', () => {
    cases.forEach((c, i) => {
      const bytes = readFileSync(path.join(LOGS, c.file));
      it(`${c.file}: ${c.fatals.length === 0 ? 'no fatal line' : `${c.fatals[0]} with the line that explains it`}`, () => {
        const events = matchLog(bytes, rulesFor(c.family));
        const fatals = events.filter((e) => e.type === 'fatal');
        expect(fatals.map((e) => e.rule)).to.deep.equal(c.fatals);
        if (c.line !== undefined) {
          expect(fatals[0]?.line).to.equal(c.line);
          // the offset points at the reported line in the log file
          const at = fatals[0]?.offset ?? -1;
          expect(bytes.subarray(at, at + 40).toString('utf8')).to.contain(c.line.trim().slice(0, 20));
        }
        if (c.message !== undefined) expect(fatals[0]?.message).to.equal(c.message);
        if (c.milestones)
          expect(events.filter((e) => e.type === 'milestone').map((e) => e.rule)).to.deep.equal(c.milestones);
        if (c.progressTexts)
          expect(events.flatMap((e) => (e.type === 'progress' ? [e.text] : []))).to.include.members(
            c.progressTexts,
          );
        if (c.warnings)
          expect(events.filter((e) => e.type === 'warning').map((e) => e.rule)).to.deep.equal(c.warnings);
        if (c.lastFraction !== undefined) {
          const fractions = events.flatMap((e) =>
            e.type === 'progress' && e.fraction !== undefined ? [e.fraction] : [],
          );
          expect(fractions.at(-1)).to.equal(c.lastFraction);
        }
      });

      it(`${c.file}: the same events whatever the chunk boundaries`, () => {
        const whole = matchLog(bytes, rulesFor(c.family));
        expect(matchInChunks(bytes, c.family, 17 + i, 7)).to.deep.equal(whole);
        expect(matchInChunks(bytes, c.family, 99 + i, 600)).to.deep.equal(whole);
      });
    });

    it('reports progress fractions and stage texts from the test installer', () => {
      const bytes = readFileSync(path.join(LOGS, 'anaconda/test-installer-ok.log'));
      const progress = matchLog(bytes, rulesFor('anaconda')).filter((e) => e.type === 'progress');
      expect(progress.map((e) => e.text)).to.include.members([
        'Setting up the installation environment',
        'Creating ext4 on /dev/vda1',
        'installing tiny-base-1.0-1.x86_64 (1/6)',
        'Configuring installed system',
      ]);
      const fractions = progress.flatMap((e) =>
        e.type === 'progress' && e.fraction !== undefined ? [e.fraction] : [],
      );
      expect(fractions).to.deep.equal([1 / 6, 2 / 6, 3 / 6, 4 / 6, 5 / 6, 1]);
    });

    it('keeps the stage title as the text of a bare percentage (debian-installer)', () => {
      const bytes = readFileSync(path.join(LOGS, 'debian-installer/finish-install-ok.log'));
      const p = matchLog(bytes, rulesFor('debian-installer')).filter(
        (e) => e.type === 'progress' && e.rule === 'di-percent',
      );
      expect(p.map((e) => (e.type === 'progress' ? [e.fraction, e.text] : []))).to.deep.include([
        0.5,
        'Installing GRUB',
      ]);
    });
  });

  describe('timing', () => {
    const rules = rulesFor('anaconda');

    it('matches an unfinished line (a prompt, a dialog) once output pauses, and only once', () => {
      const m = new ConsoleMatcher(rules, 0, { partialLineMs: 200 });
      expect(m.push("Can't have a question in command line mode!", 0)).to.deep.equal([]);
      expect(m.nextDeadline()).to.equal(200);
      expect(m.tick(150)).to.deep.equal([]);
      const fired = m.tick(200);
      expect(fired.map((e) => e.rule)).to.deep.equal(['anaconda-question-in-cmdline']);
      expect(m.tick(1000)).to.deep.equal([]);
      // the line finishing later does not fire the same rule again
      expect(m.push(' (rootpw)\n', 1100)).to.deep.equal([]);
    });

    it('waits for the exception line of a traceback, and for a chained one', () => {
      const m = new ConsoleMatcher(rules, 0, { chainGraceMs: 100 });
      expect(
        m.push('Traceback (most recent call last):\n  File "x.py", line 1, in <module>\n', 0),
      ).to.deep.equal([]);
      expect(m.push('KeyError: 1\n', 10)).to.deep.equal([]);
      expect(m.nextDeadline()).to.equal(110);
      expect(
        m.push('\nDuring handling of the above exception, another exception occurred:\n\n', 50),
      ).to.deep.equal([]);
      expect(
        m.push('Traceback (most recent call last):\n  File "y.py", line 2, in f\nValueError: final\n', 60),
      ).to.deep.equal([]);
      const e = m.tick(160);
      expect(e).to.have.length(1);
      expect(e[0]).to.include({ type: 'fatal', rule: 'python-traceback', line: 'ValueError: final' });
    });

    it('reports the traceback header when the exception line never comes (bounded wait)', () => {
      const m = new ConsoleMatcher(rules, 0);
      m.push('Traceback (most recent call last):\n  File "x.py", line 1, in <module>\n', 0);
      expect(m.tick(1999)).to.deep.equal([]);
      const e = m.tick(2000);
      expect(e[0]).to.include({ rule: 'python-traceback', line: 'Traceback (most recent call last):' });
    });

    it('does not take a redrawn status-bar clock or an unchanged screen for activity (real debian-installer bytes)', () => {
      const log = readFileSync(path.join(LOGS, 'debian-installer/no-network-dialog.log'));
      // the last part of the capture: GNU screen redrawing its status line, clock 23:46 then 23:47
      const clock = log.indexOf('23:46');
      const redraw = log.lastIndexOf('\x1b[H', clock);
      const m = new ConsoleMatcher(rulesFor('debian-installer'), 0);
      m.push(log.subarray(0, redraw), 1000);
      expect(m.lastActivityAt).to.equal(1000);
      m.push(log.subarray(redraw), 61_000);
      expect(m.lastOutputAt).to.equal(61_000);
      expect(m.lastActivityAt).to.equal(1000);
      // the same dialog drawn again is not new either; a new line is
      m.push(log.subarray(0, redraw), 121_000);
      expect(m.lastActivityAt).to.equal(1000);
      m.push('Detecting link on enp0s1; please wait...\r\n', 122_000);
      expect(m.lastActivityAt).to.equal(122_000);
    });

    it('tracks the time of the last byte for stall detection', () => {
      const m = new ConsoleMatcher(rules, 5);
      expect(m.lastOutputAt).to.equal(5);
      m.push('\x1b[H', 70);
      expect(m.lastOutputAt).to.equal(70);
      expect(m.bytes).to.equal(3);
    });
  });

  describe('live watch', () => {
    it('consumes a stream, emits events as they come and ends with it', async () => {
      const stream = new PassThrough();
      const w = watch(stream, { rules: rulesFor('generic-linux') });
      const seen: string[] = [];
      w.on((e) => seen.push(`${e.type}:${e.rule}`));
      stream.write('SeaBIOS (version 1.16.2-debian-1.16.2-1)\r\n');
      stream.write('No bootable');
      stream.end(' device.');
      await w.done;
      expect(seen).to.deep.equal(['milestone:firmware-started', 'fatal:no-bootable-device']);
      expect(w.fatals[0]?.line).to.equal('No bootable device.');
      expect(w.bytes).to.equal(61);
      expect(w.isEnded).to.equal(true);
    });
  });
});
