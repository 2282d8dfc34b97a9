/**
 * Redaction of answer files for the log directory: every password or password hash is replaced by
 * `<redacted>`, the rest stays byte for byte. Pure text in, text out.
 *
 * Kickstart: `rootpw` (its password argument), `user --password`, `sshpw` (its password argument),
 * `bootloader --password/--md5pass`. Preseed: every answer of type `password`
 * (passwd/root-password, …-crypted, grub-installer/password, …). Passwords a %post script sets by
 * other means (chpasswd, passwd --stdin) are not recognised: keep secrets out of scripts.
 */

export const REDACTED = '<redacted>';

const SECTION_START = /^\s*%(packages|pre|pre-install|post|onerror|traceback|addon|anaconda)\b/;
const SECTION_END = /^\s*%end\b/;

/** Replaces the positional (non --option) argument(s) of a command line, keeping spacing. */
function redactPositional(line: string, command: string): string {
  const m = new RegExp(`^(\\s*${command})(\\s.*)?$`).exec(line);
  if (!m) return line;
  const rest = m[2] ?? '';
  // tokens: quoted strings or runs of non-blanks
  let changed = false;
  let afterFlagTakingValue = false;
  const out = rest.replace(/("([^"\\]|\\.)*"|'[^']*'|\S+)/g, (tok) => {
    if (tok.startsWith('--')) {
      afterFlagTakingValue = command === 'sshpw' && tok === '--username';
      if (/^--(password|md5pass)=/.test(tok)) {
        changed = true;
        return tok.replace(/=.*$/, `=${REDACTED}`);
      }
      return tok;
    }
    if (afterFlagTakingValue) {
      afterFlagTakingValue = false;
      return tok;
    }
    changed = true;
    return REDACTED;
  });
  return changed ? m[1] + out : line;
}

/** Replaces `--password=X`, `--password X`, `--md5pass=X` values on a command line. */
function redactPasswordOptions(line: string): string {
  return line
    .replace(/(--(?:password|md5pass)=)("([^"\\]|\\.)*"|'[^']*'|\S+)/g, `$1${REDACTED}`)
    .replace(/(--(?:password|md5pass)\s+)(?!--)("([^"\\]|\\.)*"|'[^']*'|\S+)/g, `$1${REDACTED}`);
}

function redactKickstartLine(line: string): string {
  const cmd = /^\s*(\S+)/.exec(line)?.[1];
  switch (cmd) {
    case 'rootpw':
      return redactPositional(line, 'rootpw');
    case 'sshpw':
      return redactPositional(redactPasswordOptions(line), 'sshpw');
    case 'user':
    case 'bootloader':
    case 'grub2':
      return redactPasswordOptions(line);
    default:
      return line;
  }
}

/** Preseed line `owner question password value` → value redacted. */
function redactPreseedLine(line: string): string | null {
  const m = /^(\s*\S+\s+\S+\s+password)(\s+)(.*)$/.exec(line);
  if (!m || !m[3]!.trim()) return null;
  return `${m[1]}${m[2]}${REDACTED}`;
}

/** The answer file with its secrets replaced; kickstart and preseed lines are both recognised. */
export function redactSecrets(text: string): string {
  const lines = text.split('\n');
  let inSection = false;
  return lines
    .map((line) => {
      if (inSection) {
        if (SECTION_END.test(line)) inSection = false;
        return line;
      }
      if (SECTION_START.test(line)) {
        inSection = true;
        return line;
      }
      const preseed = redactPreseedLine(line);
      if (preseed !== null) return preseed;
      return redactKickstartLine(line);
    })
    .join('\n');
}
