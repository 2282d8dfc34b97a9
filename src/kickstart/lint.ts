/**
 * A kickstart linter for unattended, headless installs. Pure: text in, findings out, each with a
 * 1-based line number (a missing command is reported at line 1, the file as a whole).
 *
 * Rules (codes are stable):
 * - UNKNOWN_COMMAND, REMOVED_COMMAND (error), DEPRECATED_COMMAND (warning): against ks-commands.ts
 * - UNKNOWN_SECTION, SECTION_NOT_CLOSED, END_WITHOUT_SECTION (error): %packages, %pre, %pre-install,
 *   %post, %onerror, %traceback, %addon, %anaconda … %end
 * - NO_TEXT_MODE (error when headless, else warning), GRAPHICAL_HEADLESS (error), DISPLAY_MODE_CONFLICT
 * - MISSING_LANG, MISSING_KEYBOARD, MISSING_TIMEZONE, MISSING_AUTH (no rootpw/user), MISSING_STORAGE,
 *   MISSING_END_ACTION (no shutdown/poweroff/reboot/halt): errors; MISSING_BOOTLOADER: warning
 * - DUPLICATE_COMMAND (warning), PLAINTEXT_PASSWORD (warning)
 * - with an assigned NIC: NETWORK_MISSING, NETWORK_DEVICE_MISMATCH (error), NETWORK_DEVICE_UNPINNED
 *   (warning)
 * - INCLUDE_REMOTE (error), INCLUDE_UNRESOLVED (warning: an install-time %include is not checked)
 */
import {
  DEPRECATED_COMMANDS,
  DISPLAY_MODES,
  END_ACTIONS,
  KNOWN_COMMANDS,
  REMOVED_COMMANDS,
  SECTIONS,
  SINGLETON_COMMANDS,
  STORAGE_COMMANDS,
} from './ks-commands.js';

export type Severity = 'error' | 'warning';

export interface Finding {
  line: number;
  severity: Severity;
  code: string;
  message: string;
  /** set when the line came from an included file (see include.ts) */
  file?: string;
}

export interface LintOptions {
  /** no display: `graphical` is refused and a text/cmdline mode is required */
  headless?: boolean;
  /** the NIC the install must configure (by MAC, or by interface name) */
  assignedNic?: { mac?: string; name?: string };
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

const MAC_RE = /^([0-9a-f]{2}[:-]){5}[0-9a-f]{2}$/i;

function normMac(v: string): string {
  return v.toLowerCase().replace(/-/g, ':');
}

export function lintKickstart(text: string, options: LintOptions = {}): Finding[] {
  const { commands, findings } = parseKickstart(text);
  const out: Finding[] = [...findings];
  const add = (line: number, severity: Severity, code: string, message: string): void => {
    out.push({ line, severity, code, message });
  };
  const byName = new Map<string, KsCommand[]>();
  for (const c of commands) {
    const list = byName.get(c.name) ?? [];
    list.push(c);
    byName.set(c.name, list);
  }
  const has = (...names: readonly string[]): boolean => names.some((n) => byName.has(n));

  for (const c of commands) {
    if (c.name === '%include' || c.name === '%ksappend') {
      const target = c.args[0] ?? '';
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) {
        add(
          c.line,
          'error',
          'INCLUDE_REMOTE',
          `${c.name} ${target}: remote includes are not fetched; the install would depend on that server`,
        );
      } else {
        add(
          c.line,
          'warning',
          'INCLUDE_UNRESOLVED',
          `${c.name} ${target}: read at install time; its commands are not checked`,
        );
      }
      continue;
    }
    if (REMOVED_COMMANDS.includes(c.name)) {
      add(
        c.line,
        'error',
        'REMOVED_COMMAND',
        `command "${c.name}" has been removed from current Fedora/RHEL kickstart`,
      );
    } else if (DEPRECATED_COMMANDS.includes(c.name)) {
      add(c.line, 'warning', 'DEPRECATED_COMMAND', `command "${c.name}" is deprecated`);
    } else if (!KNOWN_COMMANDS.includes(c.name)) {
      // the name only when it reads as a command word: a line of another file (an %include of
      // /etc/shadow) is never echoed
      add(
        c.line,
        'error',
        'UNKNOWN_COMMAND',
        /^%?[a-z][a-z0-9_-]{0,31}$/i.test(c.name)
          ? `unknown command "${c.name}"`
          : 'not a kickstart command (the line is not shown)',
      );
    }
  }

  for (const name of SINGLETON_COMMANDS) {
    const list = byName.get(name) ?? [];
    for (const dup of list.slice(1)) {
      add(
        dup.line,
        'warning',
        'DUPLICATE_COMMAND',
        `"${name}" given again (first at line ${list[0]!.line}); the last one wins`,
      );
    }
  }

  // display mode
  const modes = commands.filter((c) => DISPLAY_MODES.includes(c.name));
  if (new Set(modes.map((m) => m.name)).size > 1) {
    add(
      modes[1]!.line,
      'error',
      'DISPLAY_MODE_CONFLICT',
      `"${modes[1]!.name}" conflicts with "${modes[0]!.name}" at line ${modes[0]!.line}`,
    );
  }
  for (const g of byName.get('graphical') ?? []) {
    if (options.headless)
      add(
        g.line,
        'error',
        'GRAPHICAL_HEADLESS',
        '"graphical" needs a display; this install is headless: use "text" or "cmdline"',
      );
  }
  if (!has('text', 'cmdline') && !(has('graphical') && !options.headless)) {
    add(
      1,
      options.headless ? 'error' : 'warning',
      'NO_TEXT_MODE',
      'no "text" or "cmdline": anaconda would start its graphical interface',
    );
  }

  // unattended needs
  if (!has('lang'))
    add(1, 'error', 'MISSING_LANG', 'missing "lang": anaconda would stop to ask for the language');
  if (!has('keyboard'))
    add(1, 'error', 'MISSING_KEYBOARD', 'missing "keyboard": anaconda would stop to ask for the keyboard');
  if (!has('timezone'))
    add(1, 'error', 'MISSING_TIMEZONE', 'missing "timezone": anaconda would stop to ask for the time zone');
  if (!has('rootpw', 'user'))
    add(1, 'error', 'MISSING_AUTH', 'missing "rootpw" or "user": anaconda would stop to ask for an account');
  if (!has(...STORAGE_COMMANDS)) {
    add(
      1,
      'error',
      'MISSING_STORAGE',
      `missing storage ("autopart" or "part"…): anaconda would stop at installation destination`,
    );
  }
  if (!has('bootloader'))
    add(
      1,
      'warning',
      'MISSING_BOOTLOADER',
      'missing "bootloader": the default location and no serial console arguments',
    );
  if (!has(...END_ACTIONS)) {
    add(
      1,
      'error',
      'MISSING_END_ACTION',
      'missing "shutdown", "poweroff" or "reboot": anaconda would wait at the end for a key press',
    );
  }

  for (const r of byName.get('rootpw') ?? []) {
    if (
      optionValue(r.args, 'iscrypted') === undefined &&
      optionValue(r.args, 'lock') === undefined &&
      r.args.some((a) => !a.startsWith('--'))
    ) {
      add(
        r.line,
        'warning',
        'PLAINTEXT_PASSWORD',
        'rootpw holds a plain-text password; use --iscrypted with a $6$ hash',
      );
    }
  }
  for (const u of byName.get('user') ?? []) {
    if (optionValue(u.args, 'password') !== undefined && optionValue(u.args, 'iscrypted') === undefined) {
      add(
        u.line,
        'warning',
        'PLAINTEXT_PASSWORD',
        'user --password holds a plain-text password; add --iscrypted with a $6$ hash',
      );
    }
  }

  // the assigned NIC
  const nic = options.assignedNic;
  if (nic && (nic.mac || nic.name)) {
    const want = nic.mac ? normMac(nic.mac) : undefined;
    const networks = byName.get('network') ?? [];
    const label = [nic.mac, nic.name].filter(Boolean).join(' / ');
    const matches = (dev: string): boolean =>
      (want !== undefined && MAC_RE.test(dev) && normMac(dev) === want) ||
      (nic.name !== undefined && dev === nic.name);
    if (networks.length === 0) {
      add(1, 'error', 'NETWORK_MISSING', `no "network" command: the assigned NIC ${label} is not configured`);
    } else if (!networks.some((n) => matches(optionValue(n.args, 'device') ?? ''))) {
      for (const n of networks) {
        const dev = optionValue(n.args, 'device');
        if (dev === undefined || dev === '' || ['link', 'bootif', 'ibft'].includes(dev.toLowerCase())) {
          add(
            n.line,
            'warning',
            'NETWORK_DEVICE_UNPINNED',
            `network ${dev ? `--device=${dev}` : 'without --device'} may pick another interface than the assigned NIC ${label}; use --device=${nic.mac ?? nic.name}`,
          );
        } else {
          add(
            n.line,
            'error',
            'NETWORK_DEVICE_MISMATCH',
            `network --device=${dev} is not the assigned NIC ${label}`,
          );
        }
      }
    }
  }

  return out.sort(
    (a, b) => a.line - b.line || (a.severity === b.severity ? 0 : a.severity === 'error' ? -1 : 1),
  );
}

export function countBySeverity(findings: readonly Finding[]): { errors: number; warnings: number } {
  return {
    errors: findings.filter((f) => f.severity === 'error').length,
    warnings: findings.filter((f) => f.severity === 'warning').length,
  };
}
