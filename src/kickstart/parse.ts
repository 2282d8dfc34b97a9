/**
 * The kickstart parser: commands outside sections, sections up to their `%end`, each with its
 * 1-based line, split like a POSIX shell splits (nothing expanded), and the structural problems met
 * on the way as findings (the linter and the user-kickstart merge both read this). Pure.
 */
import { SECTIONS } from './ks-commands.js';

export type Severity = 'error' | 'warning';

export interface Finding {
  line: number;
  severity: Severity;
  code: string;
  message: string;
  /** set when the line came from an included file (see include.ts) */
  file?: string;
}

export interface KsCommand {
  line: number;
  name: string;
  args: string[];
  raw: string;
}

export interface KsSection {
  line: number;
  name: string;
  args: string[];
  endLine: number | null;
}

export interface ParsedKickstart {
  commands: KsCommand[];
  sections: KsSection[];
  /** structural problems met while parsing (sections) */
  findings: Finding[];
}

/** Splits a command line like a POSIX shell would (quotes, backslashes), without expanding anything. */
export function shellSplit(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let has = false;
  let i = 0;
  while (i < line.length) {
    const c = line[i]!;
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      const stop = end < 0 ? line.length : end;
      cur += line.slice(i + 1, stop);
      has = true;
      i = stop + 1;
    } else if (c === '"') {
      i += 1;
      while (i < line.length && line[i] !== '"') {
        if (line[i] === '\\' && i + 1 < line.length) i += 1;
        cur += line[i];
        i += 1;
      }
      has = true;
      i += 1;
    } else if (c === '\\' && i + 1 < line.length) {
      cur += line[i + 1];
      has = true;
      i += 2;
    } else if (/\s/.test(c)) {
      if (has) out.push(cur);
      cur = '';
      has = false;
      i += 1;
    } else {
      cur += c;
      has = true;
      i += 1;
    }
  }
  if (has) out.push(cur);
  return out;
}

/** `--name=value` or `--name value` (value not starting with --); undefined when absent; '' for a bare flag. */
export function optionValue(args: readonly string[], name: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a.startsWith(`--${name}=`)) return a.slice(name.length + 3);
    if (a === `--${name}`) {
      const next = args[i + 1];
      return next !== undefined && !next.startsWith('--') ? next : '';
    }
  }
  return undefined;
}

/** Splits a kickstart into commands (outside sections) and sections, with structural findings. */
export function parseKickstart(text: string): ParsedKickstart {
  const commands: KsCommand[] = [];
  const sections: KsSection[] = [];
  const findings: Finding[] = [];
  let open: KsSection | null = null;
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, idx) => {
    const line = idx + 1;
    const trimmed = raw.trim();
    if (trimmed.startsWith('%')) {
      const words = shellSplit(trimmed);
      const head = (words[0] ?? '%').slice(1);
      if (head === 'end') {
        if (open) {
          open.endLine = line;
          open = null;
        } else {
          findings.push({
            line,
            severity: 'error',
            code: 'END_WITHOUT_SECTION',
            message: '%end without an open section',
          });
        }
        return;
      }
      if (head === 'include' || head === 'ksappend') {
        if (open) return; // inside a section it is the section's text
        commands.push({ line, name: `%${head}`, args: words.slice(1), raw });
        return;
      }
      if (open) {
        // %-lines other than %end inside a script are script text, except a new section header
        if (!SECTIONS.includes(head)) return;
        findings.push({
          line: open.line,
          severity: 'error',
          code: 'SECTION_NOT_CLOSED',
          message: `%${open.name} (line ${open.line}) is not closed with %end before %${head} at line ${line}`,
        });
        open = null;
      }
      if (!SECTIONS.includes(head)) {
        findings.push({
          line,
          severity: 'error',
          code: 'UNKNOWN_SECTION',
          message: `unknown section %${head}; known: ${SECTIONS.map((s) => `%${s}`).join(', ')}`,
        });
        // its body up to %end is skipped like a known section's, so one typo makes one finding
      }
      open = { line, name: head, args: words.slice(1), endLine: null };
      sections.push(open);
      return;
    }
    if (open) return;
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const words = shellSplit(trimmed);
    if (words.length === 0) return;
    commands.push({ line, name: words[0]!, args: words.slice(1), raw });
  });
  if (open) {
    const o: KsSection = open;
    findings.push({
      line: o.line,
      severity: 'error',
      code: 'SECTION_NOT_CLOSED',
      message: `%${o.name} (line ${o.line}) is not closed with %end before the end of the file`,
    });
  }
  return { commands, sections, findings };
}
