import { expect } from 'chai';
import type { FetchProgress } from '../../../src/media/fetch.js';
import { createProgressPrinter, formatBytes } from '../../../src/media/progress.js';

const ev = (p: Partial<FetchProgress>): FetchProgress => ({
  url: 'http://m/x/linux',
  label: 'linux',
  phase: 'data',
  received: 0,
  total: 4 * 1024 * 1024,
  downloaded: 0,
  attempt: 1,
  ...p,
});

function run(tty: boolean): string {
  let out = '';
  let t = 0;
  const print = createProgressPrinter({ write: (s: string) => (out += s) }, { tty, now: () => t, width: 10 });
  print(ev({ phase: 'start' }));
  for (let i = 1; i <= 4; i++) {
    t += 500;
    print(ev({ received: i * 1024 * 1024, downloaded: i * 1024 * 1024 }));
  }
  print(ev({ phase: 'retry', message: 'HTTP 503; retrying in 500 ms' }));
  print(ev({ phase: 'done', received: 4 * 1024 * 1024, downloaded: 4 * 1024 * 1024 }));
  print(ev({ url: 'http://m/x/initrd.gz', label: 'initrd.gz', phase: 'cached', received: 40 * 1024 * 1024 }));
  return out;
}

describe('media/progress', () => {
  it('prints plain lines without control characters when not on a terminal', () => {
    const out = run(false);
    expect(out.includes('\r') || out.includes('\u001b')).to.equal(false);
    expect(out.split('\n').filter(Boolean)).to.deep.equal([
      'fetch linux: started (4.0 MiB)',
      'fetch linux: HTTP 503; retrying in 500 ms',
      'fetch linux: done, 4.0 MiB downloaded in 2.0 s',
      'fetch initrd.gz: up to date in the cache (40.0 MiB, 0 bytes downloaded)',
    ]);
  });

  it('draws a bar redrawn in place on a terminal', () => {
    const out = run(true);
    expect(out).to.include('\r\x1b[2Klinux [##########] 100% 4.0 MiB / 4.0 MiB');
    expect(out).to.include('[###.......] 25%');
    expect(out).to.include('fetch linux: done');
  });

  it('formats sizes', () => {
    expect([formatBytes(10), formatBytes(2048), formatBytes(3 * 1024 * 1024)]).to.deep.equal([
      '10 B',
      '2.0 KiB',
      '3.0 MiB',
    ]);
  });
});
