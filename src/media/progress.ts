/**
 * Download progress for people: on a terminal one status line redrawn in place (a bar, bytes,
 * rate), elsewhere plain lines (start, retry, done/cached) without control characters. It writes to
 * the stream it is given (stderr when --json owns stdout).
 */
import type { FetchProgress } from './fetch.js';

export interface ProgressOutput {
  write(chunk: string): unknown;
}

const MiB = 1024 * 1024;

export function formatBytes(n: number): string {
  if (n >= MiB) return `${(n / MiB).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

export function createProgressPrinter(
  out: ProgressOutput,
  opts: { tty: boolean; now?: () => number; width?: number },
): (p: FetchProgress) => void {
  const now = opts.now ?? (() => Date.now());
  const started = new Map<string, number>();
  let lastDraw = 0;
  let drawn = false;
  const clear = (): void => {
    if (opts.tty && drawn) {
      out.write('\r\x1b[2K');
      drawn = false;
    }
  };
  return (p) => {
    if (p.phase === 'start') started.set(p.url, now());
    if (p.phase === 'data') {
      if (!opts.tty) return;
      const t = now();
      if (t - lastDraw < 100 && p.received !== p.total) return;
      lastDraw = t;
      const width = opts.width ?? 30;
      const frac = p.total ? Math.min(1, p.received / p.total) : 0;
      const bar = p.total
        ? `[${'#'.repeat(Math.round(frac * width)).padEnd(width, '.')}] ${Math.floor(frac * 100)}% `
        : '';
      const secs = Math.max(0.001, (t - (started.get(p.url) ?? t)) / 1000);
      out.write(
        `\r\x1b[2K${p.label} ${bar}${formatBytes(p.received)}${p.total ? ` / ${formatBytes(p.total)}` : ''} ${formatBytes(p.downloaded / secs)}/s`,
      );
      drawn = true;
      return;
    }
    clear();
    if (p.phase === 'start') {
      out.write(
        `fetch ${p.label}: ${p.received > 0 ? `resuming at ${formatBytes(p.received)}` : 'started'}${p.total ? ` (${formatBytes(p.total)})` : ''}\n`,
      );
    } else if (p.phase === 'retry') {
      out.write(`fetch ${p.label}: ${p.message ?? 'retrying'}\n`);
    } else if (p.phase === 'cached') {
      out.write(
        `fetch ${p.label}: up to date in the cache (${formatBytes(p.received)}, 0 bytes downloaded)\n`,
      );
    } else if (p.phase === 'done') {
      const secs = (now() - (started.get(p.url) ?? now())) / 1000;
      out.write(`fetch ${p.label}: done, ${formatBytes(p.downloaded)} downloaded in ${secs.toFixed(1)} s\n`);
    }
  };
}
