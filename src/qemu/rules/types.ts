/**
 * Console rules are data: each names a pattern seen in a real installer's or kernel's console
 * output and what it means. The watcher (src/qemu/console/) matches them against normalised lines
 * (ANSI escapes stripped, `\r` and cursor moves as line breaks, box drawing as spaces).
 *
 * Precedence on one line: `ignore` rules first (a match skips the line for every other rule), then
 * `fatal`, `warning`, `progress`, `milestone`; within a kind, the first rule in pack order wins.
 */

export type InstallerFamily = 'anaconda' | 'debian-installer' | 'generic-linux';

export type RuleKind = 'fatal' | 'warning' | 'progress' | 'milestone' | 'ignore';

/**
 * How a fatal rule waits for the line that explains the failure before reporting it:
 * - `python-traceback`: wait for `Traceback (most recent call last):` (when the trigger is not it
 *   already), then report the exception line, the first non-indented line after the frames (for
 *   chained exceptions, the last one);
 * - `line`: report the first later line matching `pattern` (e.g. the `Killed process` line after
 *   an oom-killer dump).
 * Either way, after `maxLines` lines or `maxWaitMs` without it, the trigger line is reported.
 */
export type CollectSpec =
  | { mode: 'python-traceback'; maxLines: number; maxWaitMs: number }
  | { mode: 'line'; pattern: string; maxLines: number; maxWaitMs: number };

export interface ConsoleRule {
  /** stable kebab-case id, unique across all packs; reported in events and errors */
  id: string;
  kind: RuleKind;
  /** JavaScript RegExp source matched against one normalised line; named groups feed `message` */
  pattern: string;
  /** RegExp flags: only `i` is allowed */
  flags?: string;
  /**
   * For fatal/warning: what went wrong, for a human. For progress: the text shown (`{name}` is
   * replaced by the named group; empty keeps the previous progress text). For milestone: its name.
   * A fatal message may also name `{progress}`: the progress text shown last before the failure
   * (the step the installer was at), `none` when there was none.
   */
  message: string;
  /** progress only: named groups `done`/`total` or `percent` give the fraction */
  collect?: CollectSpec;
  /** fatal only: what the user should do next */
  hint?: string;
  /** where the text comes from (program and message), so a reviewer can check it */
  source: string;
  /** real lines the rule must match (the unit tests check every one) */
  examples: string[];
}

export interface RulePack {
  family: InstallerFamily;
  description: string;
  rules: ConsoleRule[];
}
