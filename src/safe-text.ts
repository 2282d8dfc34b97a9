/**
 * Text that reaches a terminal. Names given on the command line (`--name`, `--guest`), read back from
 * the state directory (journal, leases) or echoed in an error must not carry characters that drive
 * the terminal or reorder what it shows: they are refused on input (assertPrintable in errors.ts) and
 * shown escaped on output (every error line goes through printable). No imports: errors.ts uses it.
 */
/**
 * C0 and C1 control characters (escape sequences start with ESC or CSI), DEL, and the Unicode format
 * characters that reorder or hide text on a terminal: bidi embeddings, overrides and isolates
 * (U+202A–202E, U+2066–2069), marks (U+200E/F, U+061C), zero-width characters (U+200B–200D, U+2060,
 * U+FEFF) and line/paragraph separators (U+2028/2029).
 */
// eslint-disable-next-line no-control-regex
const UNSAFE_CHAR_RE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/;
// eslint-disable-next-line no-control-regex
const UNSAFE_CHAR_RE_G = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;

/** The first character that must not reach a terminal, as `U+XXXX`, or null when there is none. */
export function unsafeCharacter(text: string): string | null {
  const m = UNSAFE_CHAR_RE.exec(text);
  return m ? `U+${m[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}` : null;
}

/** Text safe to print: every unsafe character shown as its escape (`\x1b`, `\u202e`), nothing else changed. */
export function printable(text: string): string {
  return text.replace(UNSAFE_CHAR_RE_G, (c) => {
    const cp = c.codePointAt(0)!;
    return cp <= 0xff ? `\\x${cp.toString(16).padStart(2, '0')}` : `\\u${cp.toString(16).padStart(4, '0')}`;
  });
}
