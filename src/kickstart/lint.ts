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
  SINGLETON_COMMANDS,
  STORAGE_COMMANDS,
} from './ks-commands.js';
import { type Finding, type KsCommand, type Severity, optionValue, parseKickstart } from './parse.js';

/** What the linter reports (the parser's structural findings among them). */
export type { Finding, Severity } from './parse.js';

export interface LintOptions {
  /** no display: `graphical` is refused and a text/cmdline mode is required */
  headless?: boolean;
  /** the NIC the install must configure (by MAC, or by interface name) */
  assignedNic?: { mac?: string; name?: string };
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
