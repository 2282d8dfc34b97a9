/**
 * The wizard's answers as the equivalent non-interactive command line. `toCommandLine` gives the argv
 * that main() runs (never a shell); `shellQuote` renders an argv for display only, quoted so that a
 * POSIX shell would split it back into the same words.
 */
import { INSTALL_OPTIONS } from '../request/options.js';
import type { RawInstallArgs } from '../request/request.js';

/** Values the install command fills in when the option is absent (installOptions' `default`s). */
export const OPTION_DEFAULTS: Partial<Record<keyof RawInstallArgs, string | boolean>> = {
  accel: 'auto',
  onError: 'cleanup',
  confirmUnit: true,
};

/** `--opt value`, or `--opt=value` when the value could be read as an option (starts with `-`). */
function pair(option: string, value: string): string[] {
  return value.startsWith('-') ? [`${option}=${value}`] : [option, value];
}

/**
 * The argv (starting with `install`) that installs what `raw` describes. Options come in `--help`
 * order; `false` flags and default values are left out, so the line is canonical (two requests that
 * install the same give the same line); global options follow the install ones.
 */
export function toCommandLine(raw: RawInstallArgs, globals: { hostRoot?: string } = {}): string[] {
  const argv = ['install'];
  for (const [key, [option, kind]] of Object.entries(INSTALL_OPTIONS) as [
    keyof RawInstallArgs,
    (typeof INSTALL_OPTIONS)[keyof RawInstallArgs],
  ][]) {
    const v = raw[key];
    if (v === undefined || v === null) continue;
    if (kind === 'flag') {
      if (v === true) argv.push(option);
    } else if (kind === 'negatable') {
      if (v === false) argv.push(option.replace(/^--/, '--no-'));
    } else if (kind === 'list') {
      for (const item of v as readonly (string | number)[]) argv.push(...pair(option, String(item)));
    } else if (String(v) !== String(OPTION_DEFAULTS[key])) argv.push(...pair(option, String(v)));
  }
  if (globals.hostRoot !== undefined) argv.push(...pair('--host-root', globals.hostRoot));
  return argv;
}

/** A word a POSIX shell reads back unchanged without quotes. */
const PLAIN = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** One word for display: bare when safe, else single-quoted (`'` written as `'\''`). */
export function quoteWord(word: string): string {
  if (PLAIN.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** An argv for display, e.g. `install-guest install --name 'web 1'`. Never executed through a shell. */
export function shellQuote(argv: readonly string[]): string {
  return argv.map(quoteWord).join(' ');
}

/** A value inside virt-install's `key=value,…` grammar: a literal comma is written `,,`. */
export function subValue(value: string): string {
  return value.replace(/,/g, ',,');
}
