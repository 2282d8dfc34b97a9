/**
 * What the user sees while an install runs. Three renderings of the same calls:
 * - a terminal (`isTTY`): stage lines, and one status line at the bottom with a progress bar,
 *   redrawn in place with `\r` (ANSI erase-line only, colour only when `color`);
 * - anything else (a pipe, a CI log): plain lines, no ANSI at all, progress throttled;
 * - `json`: one JSON object per line, `{"event":"stage","name":…}`, and a final `{"event":"result",…}`.
 * The reporter never throws: output is best effort and must not break an install.
 */

export interface ReporterStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export type StageStatus = 'start' | 'done' | 'skip' | 'fail';

export interface ReporterOptions {
  stream: ReporterStream;
  json: boolean;
  /** defaults to stream.isTTY */
  isTTY?: boolean;
  /** ANSI colours on a terminal; default true on a TTY (never in plain or JSON output) */
  color?: boolean;
  /** wall clock for JSON timestamps; default Date.now */
  clock?: () => number;
  /** monotonic clock for durations and throttling; default performance.now */
  now?: () => number;
  /** plain output: at most one progress line this often, unless the stage text changes; default 5000 ms */
  plainProgressMs?: number;
  /** JSON output: at most one progress event this often; default 1000 ms */
  jsonProgressMs?: number;
  /** terminal: at most one redraw this often; default 80 ms */
  redrawMs?: number;
}

export interface Reporter {
  stage(name: string, status: StageStatus, detail?: string): void;
  /** `fraction` 0…1 or undefined when unknown (text only) */
  progress(fraction: number | undefined, text: string): void;
  info(line: string): void;
  warn(line: string): void;
  /** a free-form event (JSON: written as is with `event` defaulting to "event"; plain/TTY: not shown) */
  event(obj: Record<string, unknown>): void;
  /** the final result (JSON: `{"event":"result",…}`; plain/TTY: a summary line) */
  result(obj: Record<string, unknown>): void;
  /** erases the status line; call before exiting */
  close(): void;
}

const ANSI_OR_CONTROL =
  // eslint-disable-next-line no-control-regex
  /\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-_]|[\x00-\x08\x0b-\x1f\x7f]/g;

/** Removes escape sequences and control characters (text from a guest must not drive our terminal). */
export function plainText(s: string): string {
  return s.replace(/\t/g, ' ').replace(ANSI_OR_CONTROL, '').replace(/\n+/g, ' ');
}

function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}

/** `[#######------]` of `width` cells for `fraction` (0…1). */
export function progressBar(fraction: number, width: number): string {
  const f = Math.min(1, Math.max(0, fraction));
  const full = Math.round(f * width);
  return `[${'#'.repeat(full)}${'-'.repeat(width - full)}]`;
}

function percent(f: number | undefined): string {
  return f === undefined ? '' : `${Math.floor(Math.min(1, Math.max(0, f)) * 100)}%`;
}

/** A warning text without the `warning: ` that some callers already put in front (printed once). */
function unprefixed(s: string): string {
  return s.replace(/^warning: /, '');
}

export function createReporter(opts: ReporterOptions): Reporter {
  const out = opts.stream;
  const clock = opts.clock ?? (() => Date.now());
  const now = opts.now ?? (() => performance.now());
  const write = (s: string): void => {
    try {
      out.write(s);
    } catch {
      // output is best effort
    }
  };
  const stageStarted = new Map<string, number>();
  const elapsed = (name: string, status: StageStatus): number | undefined => {
    if (status === 'start') {
      stageStarted.set(name, now());
      return undefined;
    }
    const t = stageStarted.get(name);
    return t === undefined ? undefined : Math.round(now() - t);
  };

  if (opts.json) {
    const interval = opts.jsonProgressMs ?? 1000;
    let lastProgressAt = -Infinity;
    const emit = (obj: Record<string, unknown>): void =>
      write(`${JSON.stringify({ ...obj, t: new Date(clock()).toISOString() })}\n`);
    return {
      stage: (name, status, detail) => {
        const ms = elapsed(name, status);
        emit({
          event: 'stage',
          name,
          status,
          ...(ms !== undefined ? { elapsedMs: ms } : {}),
          ...(detail ? { detail: plainText(detail) } : {}),
        });
      },
      progress: (fraction, text) => {
        const t = now();
        if (t - lastProgressAt < interval && fraction !== 1) return;
        lastProgressAt = t;
        emit({
          event: 'progress',
          ...(fraction !== undefined ? { fraction: Math.round(fraction * 1000) / 1000 } : {}),
          text: plainText(text),
        });
      },
      info: (line) => emit({ event: 'info', message: plainText(line) }),
      warn: (line) => emit({ event: 'warn', message: plainText(line) }),
      event: (obj) => emit({ event: 'event', ...obj }),
      result: (obj) => emit({ event: 'result', ...obj }),
      close: () => undefined,
    };
  }

  const isTTY = opts.isTTY ?? out.isTTY === true;
  if (!isTTY) {
    const interval = opts.plainProgressMs ?? 5000;
    let lastAt = -Infinity;
    let lastText = '';
    const line = (s: string): void => write(`${plainText(s)}\n`);
    return {
      stage: (name, status, detail) => {
        const ms = elapsed(name, status);
        line(
          `${name}: ${status}${ms !== undefined ? ` (${seconds(ms)})` : ''}${detail ? ` - ${detail}` : ''}`,
        );
      },
      progress: (fraction, text) => {
        const t = now();
        const changedStage = fraction === undefined && text !== lastText;
        if (!changedStage && t - lastAt < interval) return;
        lastAt = t;
        lastText = text;
        line(`progress ${percent(fraction)}${fraction !== undefined ? ' ' : ''}${text}`.trimEnd());
      },
      info: (s) => line(s),
      warn: (s) => line(`warning: ${unprefixed(s)}`),
      event: () => undefined,
      result: (obj) => line(`result: ${summary(obj)}`),
      close: () => undefined,
    };
  }

  // A terminal: lines scroll above one status line that is redrawn in place.
  const color = opts.color ?? true;
  const paint = (code: string, s: string): string => (color ? `\x1b[${code}m${s}\x1b[0m` : s);
  const redrawMs = opts.redrawMs ?? 80;
  let status = '';
  let shown = false;
  let lastDraw = -Infinity;
  let pending: NodeJS.Timeout | undefined;
  let currentStage = '';
  const width = (): number => Math.max(20, (out.columns ?? 80) - 1);
  const clear = (): void => {
    if (shown) write('\r\x1b[2K');
    shown = false;
  };
  const draw = (): void => {
    if (pending) clearTimeout(pending);
    pending = undefined;
    lastDraw = now();
    const text = status.length > width() ? `${status.slice(0, width() - 1)}…` : status;
    write(`\r\x1b[2K${text}`);
    shown = text !== '';
  };
  const redraw = (): void => {
    const wait = redrawMs - (now() - lastDraw);
    if (wait <= 0) draw();
    else if (!pending) {
      pending = setTimeout(draw, wait);
      pending.unref();
    }
  };
  const above = (s: string): void => {
    clear();
    write(`${s}\n`);
    if (status) draw();
  };
  const mark: Record<StageStatus, string> = {
    start: paint('36', '›'),
    done: paint('32', '✔'),
    skip: paint('2', '-'),
    fail: paint('31', '✖'),
  };
  return {
    stage: (name, st, detail) => {
      const ms = elapsed(name, st);
      if (st === 'start') {
        currentStage = name;
        status = `${name} …`;
        redraw();
        return;
      }
      if (name === currentStage) status = '';
      above(
        `${mark[st]} ${name}${ms !== undefined ? paint('2', ` (${seconds(ms)})`) : ''}${detail ? ` ${plainText(detail)}` : ''}`,
      );
      if (!status) clear();
    },
    progress: (fraction, text) => {
      const bar =
        fraction === undefined ? '' : `${progressBar(fraction, 24)} ${percent(fraction).padStart(4)} `;
      status = `${currentStage ? `${currentStage} ` : ''}${bar}${plainText(text)}`;
      redraw();
    },
    info: (s) => above(plainText(s)),
    warn: (s) => above(`${paint('33', 'warning:')} ${plainText(unprefixed(s))}`),
    event: () => undefined,
    result: (obj) => {
      status = '';
      above(`${obj.ok === false ? mark.fail : mark.done} ${summary(obj)}`);
      clear();
    },
    close: () => {
      if (pending) clearTimeout(pending);
      pending = undefined;
      status = '';
      clear();
    },
  };
}

/** One line for a result object: its verdict and the facts people look for first. */
function summary(obj: Record<string, unknown>): string {
  const parts: string[] = [];
  for (const k of ['verdict', 'device', 'media', 'logDir']) {
    const v = obj[k];
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')
      parts.push(`${k}=${plainText(String(v))}`);
  }
  if (parts.length === 0) parts.push(plainText(JSON.stringify(obj)).slice(0, 200));
  return parts.join(' ');
}
