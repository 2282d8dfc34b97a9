/**
 * Download progress inside an install, through the stage log: a line when a file starts, is retried,
 * is done or comes from the cache; the bytes in between as `progress` (the reporter draws one bar
 * redrawn in place on a terminal, and throttles it to a line every few seconds in a pipe or a log).
 * A log without `progress` gets a line at 25, 50 and 75 % only.
 */
import { formatBytes } from '../progress.js';
import type { FetchProgress } from './types.js';

/** Where download progress goes: a stage's log has this shape (the media layer does not import the pipeline). */
export interface ProgressLog {
  info(line: string): void;
  warn(line: string): void;
  progress?(fraction: number | undefined, text: string): void;
  event?(obj: Record<string, unknown>): void;
}

export function fetchProgressToLog(log: ProgressLog): (p: FetchProgress) => void {
  const quarter = new Map<string, number>();
  return (p) => {
    const size = p.total ? ` (${formatBytes(p.total)})` : '';
    switch (p.phase) {
      case 'start':
        quarter.set(p.url, 0);
        log.info(
          `fetch ${p.url}: ${p.received > 0 ? `resuming at ${formatBytes(p.received)}` : 'started'}${size}`,
        );
        return;
      case 'data': {
        const fraction = p.total ? Math.min(1, p.received / p.total) : undefined;
        const text = `fetch ${p.label} ${formatBytes(p.received)}${p.total ? ` / ${formatBytes(p.total)}` : ''}`;
        if (log.progress) {
          log.progress(fraction, text);
          return;
        }
        if (fraction === undefined) return;
        const q = Math.floor(fraction * 4);
        if (q > (quarter.get(p.url) ?? 0) && q < 4) {
          quarter.set(p.url, q);
          log.info(`${text} (${q * 25}%)`);
        }
        return;
      }
      case 'retry':
        log.warn(`fetch ${p.url}: ${p.message ?? 'retrying'}`);
        return;
      case 'cached':
        log.info(`fetch ${p.label}: up to date in the cache (${formatBytes(p.received)})`);
        return;
      case 'done':
        log.info(`fetch ${p.label}: done, ${formatBytes(p.downloaded)} downloaded`);
        return;
    }
  };
}
