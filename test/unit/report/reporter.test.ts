import { expect } from 'chai';
import { createReporter, plainText, progressBar } from '../../../src/report/reporter.js';

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
