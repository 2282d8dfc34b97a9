import { expect } from 'chai';
import { fetchProgressToLog } from '../../../src/media/fetch/progress.js';
import type { FetchProgress } from '../../../src/media/fetch/types.js';
import { createReporter } from '../../../src/report/reporter.js';

/** A 40 MiB download reported once per 128 KiB (320 data events), as the fetcher does with a slow link. */
function download(): FetchProgress[] {
  const total = 40 * 1024 * 1024;
  const base = { url: 'http://mirror/d-i/initrd.gz', label: 'initrd.gz', total, attempt: 1 };
  const out: FetchProgress[] = [{ ...base, phase: 'start', received: 0, downloaded: 0 }];
  for (let r = 131072; r <= total; r += 131072)
    out.push({ ...base, phase: 'data', received: r, downloaded: r });
  out.push({ ...base, phase: 'done', received: total, downloaded: total });
  return out;
}

describe('media/fetch/progress: downloads during an install', () => {
  it('in a pipe: a few plain lines (start, throttled progress, done), not one per percent', () => {
    let text = '';
    let t = 0;
    const r = createReporter({
      stream: { write: (s: string) => (text += s) },
      json: false,
      isTTY: false,
      now: () => t,
    });
    const log = {
      info: (l: string) => r.info(l),
      warn: (l: string) => r.warn(l),
      progress: (f: number | undefined, x: string) => r.progress(f, x),
    };
    const sink = fetchProgressToLog(log);
    for (const p of download()) {
      t += 50; // 16 s in all
      sink(p);
    }
    const lines = text.trimEnd().split('\n');
    expect(lines.length).to.be.within(3, 8);
    expect(lines[0]).to.equal('fetch http://mirror/d-i/initrd.gz: started (40.0 MiB)');
    expect(lines.at(-1)).to.equal('fetch initrd.gz: done, 40.0 MiB downloaded');
    expect(text).not.to.include('\x1b').and.not.to.include('\r');
  });

  it('on a terminal: one status line redrawn in place with a bar', () => {
    let text = '';
    let t = 0;
    const r = createReporter({
      stream: { write: (s: string) => (text += s), isTTY: true },
      json: false,
      color: false,
      now: () => t,
      redrawMs: 0,
    });
    const sink = fetchProgressToLog({
      info: (l) => r.info(l),
      warn: (l) => r.warn(l),
      progress: (f, x) => r.progress(f, x),
    });
    for (const p of download()) {
      t += 50;
      sink(p);
    }
    r.close();
    const newlines = text.split('\n').length - 1;
    expect(newlines).to.equal(2); // the start and done lines; the bar never scrolls
    expect(text)
      .to.include('\r\x1b[2K')
      .and.match(/\[#{24}\] 100% fetch initrd\.gz 40\.0 MiB \/ 40\.0 MiB/);
  });

  it('without a progress bar (a dry run log): lines at 25, 50 and 75 % only', () => {
    const lines: string[] = [];
    const sink = fetchProgressToLog({ info: (l) => lines.push(l), warn: (l) => lines.push(l) });
    for (const p of download()) sink(p);
    expect(lines.map((l) => /\((\d+)%\)$/.exec(l)?.[1] ?? l.split(': ').at(-1))).to.deep.equal([
      'started (40.0 MiB)',
      '25',
      '50',
      '75',
      'done, 40.0 MiB downloaded',
    ]);
  });
});
