/** The live console watcher: feeds a ConsoleMatcher from the serial stream and runs its timers. */
import {
  ConsoleMatcher,
  type FatalEvent,
  type MatcherOptions,
  type MilestoneEvent,
  type ProgressEvent,
  type WarningEvent,
  type WatchEvent,
} from './matcher.js';
import type { CompiledRule } from './rules.js';
import type { ConsoleLine } from './terminal-text.js';

export interface WatchOptions extends MatcherOptions {
  rules: readonly CompiledRule[];
  /** monotonic clock in ms; default performance.now */
  now?: () => number;
}

export type WatchListener = (e: WatchEvent) => void;

/** Feeds a ConsoleMatcher from a byte stream and runs its timers; keeps what a caller needs later. */
export class ConsoleWatcher {
  /** every fatal event, in order (the first one is the verdict) */
  readonly fatals: FatalEvent[] = [];
  readonly warnings: WarningEvent[] = [];
  readonly milestones: MilestoneEvent[] = [];
  lastProgress: ProgressEvent | undefined;
  /** resolves when the attached stream has ended (or failed) and pending rules were reported */
  readonly done: Promise<void>;

  private readonly matcher: ConsoleMatcher;
  private readonly now: () => number;
  private readonly listeners = new Set<WatchListener>();
  private timer: NodeJS.Timeout | undefined;
  private ended = false;
  private resolveDone!: () => void;

  constructor(opts: WatchOptions) {
    this.now = opts.now ?? (() => performance.now());
    this.matcher = new ConsoleMatcher(opts.rules, this.now(), opts);
    this.done = new Promise<void>((r) => (this.resolveDone = r));
  }

  /** monotonic ms of the last byte received (creation time before any) */
  get lastOutputAt(): number {
    return this.matcher.lastOutputAt;
  }

  /** monotonic ms of the last new, not ignored console text (see ConsoleMatcher.lastActivityAt) */
  get lastActivityAt(): number {
    return this.matcher.lastActivityAt;
  }

  get bytes(): number {
    return this.matcher.bytes;
  }

  /** the last non-blank console line (finished or not), for diagnostics */
  get lastLine(): ConsoleLine | undefined {
    return this.matcher.lastLine;
  }

  get isEnded(): boolean {
    return this.ended;
  }

  /** Calls `listener` for every event from now on; returns an unsubscribe function. */
  on(listener: WatchListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  feed(chunk: Uint8Array | string): void {
    if (this.ended) return;
    this.dispatch(this.matcher.push(chunk, this.now()));
    this.schedule();
  }

  /** The stream ended: reports the unfinished line and pending fatals. Idempotent. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.timer) clearTimeout(this.timer);
    this.dispatch(this.matcher.end(this.now()));
    this.resolveDone();
  }

  /** Consumes `stream` until it ends, then calls end(). Never rejects. */
  async attach(stream: AsyncIterable<Uint8Array | string>): Promise<void> {
    try {
      for await (const chunk of stream) {
        if (this.ended) break;
        this.feed(chunk);
      }
    } catch {
      // a broken stream ends the watch like EOF; qemu's exit is reported by the supervisor
    }
    this.end();
  }

  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const at = this.matcher.nextDeadline();
    if (at === null || this.ended) return;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        if (this.ended) return;
        this.dispatch(this.matcher.tick(this.now()));
        this.schedule();
      },
      Math.max(0, at - this.now()) + 1,
    );
    this.timer.unref();
  }

  private dispatch(events: readonly WatchEvent[]): void {
    for (const e of events) {
      if (e.type === 'fatal') this.fatals.push(e);
      else if (e.type === 'warning') this.warnings.push(e);
      else if (e.type === 'milestone') this.milestones.push(e);
      else this.lastProgress = e;
      for (const l of [...this.listeners]) {
        try {
          l(e);
        } catch {
          // a listener's bug must not stop the watch
        }
      }
    }
  }
}

/** Starts watching `stream` (e.g. the qemu handle's serial stream) with `rules`. */
export function watch(stream: AsyncIterable<Uint8Array | string>, opts: WatchOptions): ConsoleWatcher {
  const w = new ConsoleWatcher(opts);
  void w.attach(stream);
  return w;
}
