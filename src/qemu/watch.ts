/**
 * The console watcher: turns the serial byte stream into lines and matches them, live, against
 * rule packs (src/qemu/rules). Installer screens are drawn with cursor addressing and hardly any
 * newlines, so the stream is normalised first: ANSI/VT100 escape sequences are removed, `\r`, `\n`
 * and cursor moves to another row end a line, DEC line-drawing and Unicode box characters become
 * spaces, backspace deletes. The state machine runs on bytes and keeps its state between chunks, so
 * an escape sequence, a UTF-8 character or a line split across chunks is handled like one in a chunk.
 * The unfinished line is the bounded tail (at most `maxLineChars`); when output pauses with a line
 * unfinished (a prompt, a dialog) it is matched too, each rule at most once per line.
 *
 * `ConsoleMatcher` is the pure core (bytes and a clock value in, events out); `ConsoleWatcher`
 * feeds it from a stream and runs its timers.
 */
import { inputError } from '../errors.js';
import { RULE_PACKS } from './rules/index.js';
import type { CollectSpec, InstallerFamily, RuleKind, RulePack } from './rules/types.js';

// ---------------------------------------------------------------------------------------------
// Rules

export interface CompiledRule {
  id: string;
  kind: RuleKind;
  pack: InstallerFamily;
  re: RegExp;
  message: string;
  hint: string | undefined;
  collect: (CollectSpec & { re?: RegExp }) | undefined;
}

const GROUP_REF = /\{(\w+)\}/g;
/** in a fatal rule's message (unless the pattern has a group of that name): the progress text shown last */
const PROGRESS_REF = 'progress';

/** Validates and compiles rule packs, in order. Throws inputError BAD_CONSOLE_RULE naming the rule. */
export function compileRules(packs: readonly RulePack[]): CompiledRule[] {
  const seen = new Set<string>();
  const out: CompiledRule[] = [];
  for (const pack of packs) {
    for (const r of pack.rules) {
      const bad = (why: string): never => {
        throw inputError('BAD_CONSOLE_RULE', `console rule ${pack.family}/${r.id} is invalid: ${why}`, {
          hint: 'fix the rule in src/qemu/rules/',
          data: { pack: pack.family, rule: r.id },
        });
      };
      if (!/^[a-z0-9]+(?:-[a-z0-9]+)*$/.test(r.id)) bad('the id must be kebab-case');
      if (seen.has(r.id)) bad('the id is used twice');
      seen.add(r.id);
      const flags = r.flags ?? '';
      if (!/^i?$/.test(flags)) bad(`flags must be '' or 'i', found '${flags}'`);
      let re: RegExp;
      try {
        re = new RegExp(r.pattern, flags);
      } catch (e) {
        return bad(`the pattern does not compile: ${(e as Error).message}`);
      }
      const groups = new Set([...r.pattern.matchAll(/\(\?<(\w+)>/g)].map((m) => m[1]));
      for (const m of r.message.matchAll(GROUP_REF)) {
        if (m[1] === PROGRESS_REF && r.kind === 'fatal' && !groups.has(PROGRESS_REF)) continue;
        if (!groups.has(m[1])) bad(`the message uses {${m[1]}} but the pattern has no such named group`);
      }
      if (r.collect && r.kind !== 'fatal') bad('only fatal rules may collect');
      let collect: CompiledRule['collect'];
      if (r.collect) {
        if (r.collect.mode === 'line') {
          try {
            collect = { ...r.collect, re: new RegExp(r.collect.pattern, flags) };
          } catch (e) {
            return bad(`the collect pattern does not compile: ${(e as Error).message}`);
          }
        } else {
          collect = { ...r.collect };
        }
      }
      if (r.examples.length === 0 && r.kind !== 'ignore') bad('a rule needs at least one real example line');
      out.push({ id: r.id, kind: r.kind, pack: pack.family, re, message: r.message, hint: r.hint, collect });
    }
  }
  return out;
}

const compiledCache = new Map<InstallerFamily, CompiledRule[]>();

/** The rules for one installer family: its own pack, then generic-linux (kernel, dracut, systemd). */
export function rulesFor(family: InstallerFamily): CompiledRule[] {
  let rules = compiledCache.get(family);
  if (!rules) {
    const packs =
      family === 'generic-linux'
        ? [RULE_PACKS['generic-linux']]
        : [RULE_PACKS[family], RULE_PACKS['generic-linux']];
    rules = compileRules(packs);
    compiledCache.set(family, rules);
  }
  return rules;
}

// ---------------------------------------------------------------------------------------------
// Terminal text: bytes → lines

export interface ConsoleLine {
  /** the normalised text, trailing spaces removed */
  text: string;
  /** byte offset in the stream (= in the serial log) of the line's first visible character */
  offset: number;
}

type TermState = 'text' | 'esc' | 'csi' | 'osc' | 'str' | 'charset' | 'escInter';

/** CSI final bytes that move the cursor to another row or clear the screen: a line ends there. */
const CSI_BREAK = new Set(['H', 'f', 'd', 'A', 'B', 'E', 'F', 'J']);
/** CSI final bytes that move the cursor along the row: a word ends there. */
const CSI_SPACE = new Set(['C', 'G', '`']);

export class TerminalText {
  private state: TermState = 'text';
  private seqLen = 0;
  private strEsc = false;
  private charsetSlot = 0;
  private readonly graphics: [boolean, boolean] = [false, false];
  private shifted = false;
  private utf8Need = 0;
  private utf8Cp = 0;
  private utf8Start = 0;
  private line = '';
  private lineOffset = -1;
  private offset = 0;
  private out: ConsoleLine[] = [];

  constructor(private readonly maxLineChars = 4096) {}

  /** bytes seen so far */
  get position(): number {
    return this.offset;
  }

  push(chunk: Uint8Array): ConsoleLine[] {
    this.out = [];
    for (let i = 0; i < chunk.length; i++) {
      this.byte(chunk[i] as number);
      this.offset++;
    }
    return this.out;
  }

  /** the unfinished line, when it has any text */
  partial(): ConsoleLine | null {
    const text = this.line.trimEnd();
    return text.trim() === '' ? null : { text, offset: this.lineOffset };
  }

  /** ends the unfinished line (end of stream) */
  flush(): ConsoleLine[] {
    this.out = [];
    if (this.utf8Need > 0) this.put(0xfffd, this.utf8Start);
    this.utf8Need = 0;
    this.lineBreak();
    return this.out;
  }

  private lineBreak(): void {
    const text = this.line.trimEnd();
    if (text.trim() !== '') this.out.push({ text, offset: this.lineOffset });
    this.line = '';
    this.lineOffset = -1;
  }

  private put(cp: number, at: number): void {
    let ch: string;
    const g = this.graphics[this.shifted ? 1 : 0];
    if (g && cp >= 0x5f && cp <= 0x7e) ch = ' ';
    else if (cp >= 0x2500 && cp <= 0x259f) ch = ' ';
    else ch = String.fromCodePoint(cp);
    // the line's offset is its first visible character (leading spaces and boxes are layout)
    if (this.lineOffset < 0 && ch !== ' ') this.lineOffset = at;
    this.line += ch;
    if (this.line.length >= this.maxLineChars) this.lineBreak();
  }

  private byte(b: number): void {
    switch (this.state) {
      case 'text':
        return this.textByte(b);
      case 'esc':
        return this.escByte(b);
      case 'csi':
        if (b >= 0x40 && b <= 0x7e) {
          this.state = 'text';
          const f = String.fromCharCode(b);
          if (CSI_BREAK.has(f)) this.lineBreak();
          else if (CSI_SPACE.has(f)) this.put(0x20, this.offset);
        } else if (++this.seqLen > 64 || b < 0x20) {
          this.state = 'text';
        }
        return;
      case 'osc':
      case 'str':
        if (b === 0x07) {
          this.state = 'text';
        } else if (this.strEsc) {
          this.strEsc = false;
          this.state = 'text';
          if (b !== 0x5c) this.byte(b);
        } else if (b === 0x1b) {
          this.strEsc = true;
        } else if (++this.seqLen > 4096) {
          this.state = 'text';
        }
        return;
      case 'charset':
        this.graphics[this.charsetSlot] = b === 0x30; // '0' = DEC special graphics (line drawing)
        this.state = 'text';
        return;
      case 'escInter':
        this.state = 'text';
        return;
    }
  }

  private escByte(b: number): void {
    this.state = 'text';
    this.seqLen = 0;
    switch (b) {
      case 0x5b: // [
        this.state = 'csi';
        return;
      case 0x5d: // ]
        this.state = 'osc';
        this.strEsc = false;
        return;
      case 0x50: // P  DCS
      case 0x58: // X  SOS
      case 0x5e: // ^  PM
      case 0x5f: // _  APC
        this.state = 'str';
        this.strEsc = false;
        return;
      case 0x28: // ( designates G0
      case 0x29: // ) designates G1
        this.charsetSlot = b === 0x29 ? 1 : 0;
        this.state = 'charset';
        return;
      case 0x2a: // * and + designate G2/G3, which installers do not use: skip the designator
      case 0x2b:
      case 0x23: // #
      case 0x25: // %
      case 0x20:
        this.state = 'escInter';
        return;
      case 0x63: // c  full reset
      case 0x44: // D  index
      case 0x45: // E  next line
      case 0x4d: // M  reverse index
        this.lineBreak();
        return;
      case 0x1b:
        this.state = 'esc';
        return;
      default:
        return; // 7, 8, =, > and the like: no text
    }
  }

  private textByte(b: number): void {
    if (this.utf8Need > 0) {
      if ((b & 0xc0) === 0x80) {
        this.utf8Cp = (this.utf8Cp << 6) | (b & 0x3f);
        if (--this.utf8Need === 0) this.put(this.utf8Cp, this.utf8Start);
        return;
      }
      this.utf8Need = 0;
      this.put(0xfffd, this.utf8Start);
    }
    if (b >= 0x80) {
      this.utf8Start = this.offset;
      if (b >= 0xc2 && b <= 0xdf) {
        this.utf8Need = 1;
        this.utf8Cp = b & 0x1f;
      } else if (b >= 0xe0 && b <= 0xef) {
        this.utf8Need = 2;
        this.utf8Cp = b & 0x0f;
      } else if (b >= 0xf0 && b <= 0xf4) {
        this.utf8Need = 3;
        this.utf8Cp = b & 0x07;
      } else {
        this.put(0xfffd, this.offset);
      }
      return;
    }
    switch (b) {
      case 0x1b:
        this.state = 'esc';
        return;
      case 0x0a:
      case 0x0b:
      case 0x0c:
      case 0x0d:
        this.lineBreak();
        return;
      case 0x08:
        this.line = this.line.slice(0, -1);
        if (this.line.trim() === '') this.lineOffset = -1;
        return;
      case 0x09:
        this.put(0x20, this.offset);
        return;
      case 0x0e:
        this.shifted = true;
        return;
      case 0x0f:
        this.shifted = false;
        return;
      default:
        if (b >= 0x20 && b !== 0x7f) this.put(b, this.offset);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Matching

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

// ---------------------------------------------------------------------------------------------
// The live watcher

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

/** Matches a whole recorded log at once (tests, `install-guest` post-mortems): all events in order. */
export function matchLog(
  bytes: Uint8Array | string,
  rules: readonly CompiledRule[],
  opts: MatcherOptions = {},
): WatchEvent[] {
  const m = new ConsoleMatcher(rules, 0, opts);
  return [...m.push(bytes, 0), ...m.end(0)];
}
