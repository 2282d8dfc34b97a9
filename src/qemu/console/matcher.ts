/**
 * The pure matching core: normalised lines (terminal-text.ts) against compiled rules (rules.ts),
 * bytes and a clock value in, events out. When output pauses with a line unfinished (a prompt, a
 * dialog) it is matched too, each rule at most once per line.
 */
import type { RuleKind } from '../rules/types.js';
import { GROUP_REF, PROGRESS_REF, type CompiledRule } from './rules.js';
import { TerminalText, type ConsoleLine } from './terminal-text.js';

export interface FatalEvent {
  type: 'fatal';
  rule: string;
  message: string;
  hint: string | undefined;
  /** the line that explains the failure (a traceback's exception line, the `Killed process` line, …) */
  line: string;
  /** byte offset of `line` in the serial log */
  offset: number;
  /** the line that matched the rule first */
  trigger: ConsoleLine;
}
export interface WarningEvent {
  type: 'warning';
  rule: string;
  message: string;
  line: string;
  offset: number;
}
export interface ProgressEvent {
  type: 'progress';
  rule: string;
  /** 0…1 when the line says how far along it is */
  fraction: number | undefined;
  text: string;
  line: string;
  offset: number;
}
export interface MilestoneEvent {
  type: 'milestone';
  rule: string;
  text: string;
  line: string;
  offset: number;
}
export type WatchEvent = FatalEvent | WarningEvent | ProgressEvent | MilestoneEvent;

export interface MatcherOptions {
  /** an unfinished line is matched after output has paused this long; default 200 ms */
  partialLineMs?: number;
  /** longest unfinished line kept; longer ones are cut; default 4096 */
  maxLineChars?: number;
  /** after a traceback's exception line, how long to wait for a chained exception; default 100 ms */
  chainGraceMs?: number;
}

const MAX_REPORTED_LINE = 500;
/** how many distinct recent lines count as "already seen" for activity tracking */
const RECENT_LINES = 256;
const TRACEBACK_HEADER = /^\s*Traceback \(most recent call last\):/;
const TRACEBACK_CHAIN =
  /^(?:During handling of the above exception, another exception occurred:|The above exception was the direct cause of the following exception:)/;

interface PendingFatal {
  rule: CompiledRule;
  trigger: ConsoleLine;
  groups: Record<string, string>;
  startedAt: number;
  lines: number;
  seenHeader: boolean;
  candidate: ConsoleLine | undefined;
  candidateAt: number;
}

function render(template: string, groups: Record<string, string>): string {
  return template.replace(GROUP_REF, (_, name: string) => groups[name] ?? '').trim();
}

function clip(s: string): string {
  return s.length > MAX_REPORTED_LINE ? `${s.slice(0, MAX_REPORTED_LINE)}…` : s;
}

/**
 * The pure matching core: bytes and the current time in, events out. `tick(now)` runs the timers
 * (unfinished lines, collection deadlines); `nextDeadline()` says when it next needs to run.
 */
export class ConsoleMatcher {
  private readonly term: TerminalText;
  private readonly byKind: Record<RuleKind, CompiledRule[]>;
  private readonly partialLineMs: number;
  private readonly chainGraceMs: number;
  private pending: PendingFatal | undefined;
  private lastByteAt: number;
  private partialEvaluated = '';
  private partialFired = new Set<string>();
  private partialFiredOffset = -1;
  private progressText = '';
  private readonly recent = new Set<string>();
  private events: WatchEvent[] = [];
  /** monotonic time of the last byte (or of creation) */
  lastOutputAt: number;
  /**
   * monotonic time of the last NEW text: a line that no ignore rule matches and that is not one
   * of the recently seen lines. A screen redrawn unchanged, or a clock in a status bar (GNU
   * screen in debian-installer redraws one every minute), is output but not activity: stall
   * detection uses this.
   */
  lastActivityAt: number;
  /** the last non-blank line seen (finished or not), for diagnostics */
  lastLine: ConsoleLine | undefined;
  bytes = 0;

  constructor(rules: readonly CompiledRule[], now: number, opts: MatcherOptions = {}) {
    this.term = new TerminalText(opts.maxLineChars ?? 4096);
    this.partialLineMs = opts.partialLineMs ?? 200;
    this.chainGraceMs = opts.chainGraceMs ?? 100;
    this.byKind = { fatal: [], warning: [], progress: [], milestone: [], ignore: [] };
    for (const r of rules) this.byKind[r.kind].push(r);
    this.lastOutputAt = now;
    this.lastActivityAt = now;
    this.lastByteAt = now;
  }

  push(chunk: Uint8Array | string, now: number): WatchEvent[] {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    this.events = [];
    if (bytes.length > 0) {
      this.bytes += bytes.length;
      this.lastOutputAt = now;
      this.lastByteAt = now;
      for (const l of this.term.push(bytes)) this.onLine(l, false, now);
    }
    this.timers(now);
    return this.events;
  }

  tick(now: number): WatchEvent[] {
    this.events = [];
    this.timers(now);
    return this.events;
  }

  /** the stream ended: the unfinished line is a line, pending fatals are reported now */
  end(now: number): WatchEvent[] {
    this.events = [];
    for (const l of this.term.flush()) this.onLine(l, false, now);
    if (this.pending) this.resolvePending(this.pending.candidate ?? this.pending.trigger);
    return this.events;
  }

  /** when `tick` should run next (monotonic ms), or null when nothing waits */
  nextDeadline(): number | null {
    const times: number[] = [];
    const p = this.term.partial();
    if (p && p.text !== this.partialEvaluated) times.push(this.lastByteAt + this.partialLineMs);
    if (this.pending) {
      times.push(this.pending.startedAt + (this.pending.rule.collect?.maxWaitMs ?? 0));
      if (this.pending.candidate) times.push(this.pending.candidateAt + this.chainGraceMs);
    }
    return times.length > 0 ? Math.min(...times) : null;
  }

  private timers(now: number): void {
    const p = this.pending;
    if (p) {
      if (p.candidate && now - p.candidateAt >= this.chainGraceMs) this.resolvePending(p.candidate);
      else if (now - p.startedAt >= (p.rule.collect?.maxWaitMs ?? 0))
        this.resolvePending(p.candidate ?? p.trigger);
    }
    if (now - this.lastByteAt >= this.partialLineMs) {
      const partial = this.term.partial();
      if (partial && partial.text !== this.partialEvaluated) {
        this.partialEvaluated = partial.text;
        this.onLine(partial, true, now);
      }
    }
  }

  private firstMatch(
    kind: RuleKind,
    text: string,
    skip: Set<string> | undefined,
  ): [CompiledRule, RegExpExecArray] | undefined {
    for (const r of this.byKind[kind]) {
      if (skip?.has(r.id)) continue;
      const m = r.re.exec(text);
      if (m) return [r, m];
    }
    return undefined;
  }

  private onLine(line: ConsoleLine, partial: boolean, now: number): void {
    const text = line.text;
    this.lastLine = line;
    if (this.byKind.ignore.some((r) => r.re.test(text))) return;
    this.noteActivity(text.trim(), now);

    // Rules that already fired on this line while it was unfinished do not fire again.
    let skip: Set<string> | undefined;
    if (line.offset === this.partialFiredOffset) skip = this.partialFired;
    else if (partial) {
      this.partialFired = new Set();
      this.partialFiredOffset = line.offset;
      skip = this.partialFired;
    }
    if (!partial) this.partialEvaluated = '';

    if (this.pending && !partial) {
      if (this.feedPending(line, now)) return;
    }
    if (this.pending) return;

    const fatal = this.firstMatch('fatal', text, skip);
    if (fatal) {
      const [rule, m] = fatal;
      if (partial) this.partialFired.add(rule.id);
      const groups = { ...(m.groups ?? {}) };
      if (rule.collect) {
        this.pending = {
          rule,
          trigger: line,
          groups,
          startedAt: now,
          lines: 0,
          seenHeader: rule.collect.mode === 'python-traceback' && TRACEBACK_HEADER.test(text),
          candidate: undefined,
          candidateAt: 0,
        };
        return;
      }
      this.emitFatal(rule, groups, line, line);
    }
    const warning = this.firstMatch('warning', text, skip);
    if (warning) {
      const [rule, m] = warning;
      if (partial) this.partialFired.add(rule.id);
      this.events.push({
        type: 'warning',
        rule: rule.id,
        message: render(rule.message, m.groups ?? {}),
        line: clip(text),
        offset: line.offset,
      });
    }
    const progress = this.firstMatch('progress', text, skip);
    if (progress) {
      const [rule, m] = progress;
      if (partial) this.partialFired.add(rule.id);
      const g = m.groups ?? {};
      let fraction: number | undefined;
      if (g.done !== undefined && g.total !== undefined && Number(g.total) > 0)
        fraction = Number(g.done) / Number(g.total);
      else if (g.percent !== undefined) fraction = Number(g.percent) / 100;
      if (fraction !== undefined) fraction = Math.min(1, Math.max(0, fraction));
      const rendered = render(rule.message, g);
      if (rendered !== '') this.progressText = rendered;
      this.events.push({
        type: 'progress',
        rule: rule.id,
        fraction,
        text: this.progressText,
        line: clip(text),
        offset: line.offset,
      });
    }
    const milestone = this.firstMatch('milestone', text, skip);
    if (milestone) {
      const [rule, m] = milestone;
      if (partial) this.partialFired.add(rule.id);
      this.events.push({
        type: 'milestone',
        rule: rule.id,
        text: render(rule.message, m.groups ?? {}),
        line: clip(text),
        offset: line.offset,
      });
    }
  }

  private noteActivity(key: string, now: number): void {
    if (this.recent.has(key)) {
      this.recent.delete(key); // refresh: it stays recent
    } else {
      this.lastActivityAt = now;
      if (this.recent.size >= RECENT_LINES) {
        const oldest = this.recent.values().next();
        if (!oldest.done) this.recent.delete(oldest.value);
      }
    }
    this.recent.add(key);
  }

  /** true when the line belongs to the pending fatal (and must not be matched on its own) */
  private feedPending(line: ConsoleLine, now: number): boolean {
    const p = this.pending;
    const c = p?.rule.collect;
    if (!p || !c) return false;
    p.lines++;
    if (c.mode === 'line') {
      if (c.re?.test(line.text)) {
        this.resolvePending(line);
        return true;
      }
      if (p.lines >= c.maxLines) {
        this.resolvePending(p.trigger);
        return false;
      }
      return true;
    }
    // python-traceback
    if (p.candidate) {
      if (TRACEBACK_CHAIN.test(line.text)) {
        p.candidate = undefined;
        p.seenHeader = false;
        return true;
      }
      this.resolvePending(p.candidate);
      return false;
    }
    if (p.lines >= c.maxLines) {
      this.resolvePending(p.trigger);
      return false;
    }
    if (!p.seenHeader) {
      if (TRACEBACK_HEADER.test(line.text)) p.seenHeader = true;
      return true;
    }
    if (/^\s/.test(line.text)) return true; // a frame: `  File "…", line N, in f` and its source line
    p.candidate = line;
    p.candidateAt = now;
    return true;
  }

  private resolvePending(reported: ConsoleLine): void {
    const p = this.pending;
    if (!p) return;
    this.pending = undefined;
    this.emitFatal(p.rule, p.groups, reported, p.trigger);
  }

  private emitFatal(
    rule: CompiledRule,
    groups: Record<string, string>,
    reported: ConsoleLine,
    trigger: ConsoleLine,
  ): void {
    this.events.push({
      type: 'fatal',
      rule: rule.id,
      message: render(rule.message, { [PROGRESS_REF]: this.progressText || 'none', ...groups }),
      hint: rule.hint,
      line: clip(reported.text.trim()),
      offset: reported.offset,
      trigger: { text: clip(trigger.text.trim()), offset: trigger.offset },
    });
  }
}

/** Matches a whole recorded log at once (tests, `install-guest` post-mortems): all events in order. */
export function matchLog(
  bytes: Uint8Array | string,
  rules: readonly CompiledRule[],
  opts: MatcherOptions = {},
): WatchEvent[] {
  const m = new ConsoleMatcher(rules, 0, opts);
  return [...m.push(bytes, 0), ...m.end(0)];
}
