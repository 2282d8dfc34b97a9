/**
 * A reader for INI files that gives the same sections, keys and values as Python's
 * `configparser.RawConfigParser` with its defaults, which is what productmd (and so every
 * `.treeinfo` writer and virt-install) uses:
 * - `[section]` headers; a section name is a flat string, dots included (`[images-x86_64]`,
 *   `[variant-BaseOS]`, `[tree.addons]` is one section named `tree.addons`);
 * - `key = value` and `key: value`, split at the first `=` or `:`; values stripped; keys are
 *   lower-cased (Python's default `optionxform`) or kept as written (`keyCase: 'preserve'`, what
 *   productmd does, so `[checksums]` paths keep their case); lookups ignore case either way; `;` and `#` start a comment only at the start of a line (after blanks), so
 *   `name = a ; b` keeps `a ; b`;
 * - continuation lines (indented deeper than the key) join the value with `\n`; blank lines inside a
 *   value are kept, trailing ones dropped;
 * - values stay text (`false` stays the string `false`), `%(…)s` is kept verbatim (raw mode);
 * - a duplicate section or key, a line outside any section, or a line without a delimiter is an
 *   error, as in Python's strict mode; `[DEFAULT]` supplies fall-back values to every section.
 *
 * Why not the npm `ini` package: it nests dotted section names (`[a.b]` becomes `{a: {b: …}}`), treats
 * `;` anywhere as a comment (dropping text from values) and turns `true`/`false` into booleans, so its
 * output differs from what the tree's author and virt-install read.
 */

export class ConfigParseError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(`line ${line}: ${message}`);
    this.name = 'ConfigParseError';
  }
}

export interface ConfigFile {
  /** section names in file order, `DEFAULT` excluded */
  sections(): string[];
  has(section: string): boolean;
  /** key names of a section (lower-cased, file order), defaults included */
  keys(section: string): string[];
  /** the value, or undefined when the section or key is missing; key lookup is case-insensitive */
  get(section: string, key: string): string | undefined;
  /** the section as a plain object (defaults included) */
  section(section: string): Record<string, string>;
}

const DEFAULT_SECTION = 'DEFAULT';
const COMMENT_PREFIXES = ['#', ';'];
const SECTION_RE = /^\[(.+)\]$/;
// Python's _OPT_TMPL: the option is the shortest text before the first delimiter
const OPTION_RE = /^(.*?)\s*([=:])\s*(.*)$/;

export interface ParseOptions {
  /** `lower` (Python's default) or `preserve` (productmd's `optionxform = str`) */
  keyCase?: 'lower' | 'preserve';
}

export function parseConfig(text: string, options: ParseOptions = {}): ConfigFile {
  const preserve = options.keyCase === 'preserve';
  const sections = new Map<string, Map<string, string[]>>();
  const defaults = new Map<string, string[]>();
  const order: string[] = [];
  let cursect: Map<string, string[]> | null = null;
  let cursectName = '';
  let optname: string | null = null;
  let indentLevel = 0;
  const seenSections = new Set<string>();
  const seenOptions = new Set<string>();

  const body = text.startsWith('\ufeff') ? text.slice(1) : text;
  const lines = body.split(/\r\n|\n|\r/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();

  lines.forEach((line, i) => {
    const lineno = i + 1;
    const stripped = line.trim();
    const isComment = COMMENT_PREFIXES.some((p) => stripped.startsWith(p));
    const value = isComment ? '' : stripped;
    if (!value) {
      // empty lines inside a value are kept (empty_lines_in_values=True), comment lines are not
      if (!isComment && cursect && optname !== null) cursect.get(optname)?.push('');
      return;
    }
    const firstNonSpace = line.search(/\S/);
    const curIndent = firstNonSpace < 0 ? 0 : firstNonSpace;
    if (cursect && optname !== null && curIndent > indentLevel) {
      cursect.get(optname)?.push(value);
      return;
    }
    indentLevel = curIndent;
    const sm = SECTION_RE.exec(value);
    if (sm) {
      const name = sm[1]!;
      if (seenSections.has(name)) throw new ConfigParseError(`duplicate section [${name}]`, lineno);
      if (name === DEFAULT_SECTION) {
        cursect = defaults;
      } else {
        cursect = sections.get(name) ?? new Map<string, string[]>();
        if (!sections.has(name)) {
          sections.set(name, cursect);
          order.push(name);
        }
      }
      seenSections.add(name);
      cursectName = name;
      optname = null;
      return;
    }
    if (!cursect) throw new ConfigParseError(`a key before any [section]: ${JSON.stringify(line)}`, lineno);
    const om = OPTION_RE.exec(value);
    if (!om || !om[1]!.trim()) {
      throw new ConfigParseError(`expected "key = value", found ${JSON.stringify(line)}`, lineno);
    }
    const written = om[1]!.trimEnd();
    const key = preserve ? written : written.toLowerCase();
    const id = `${cursectName}\u0000${key}`;
    if (seenOptions.has(id)) throw new ConfigParseError(`duplicate key "${key}" in [${cursectName}]`, lineno);
    seenOptions.add(id);
    cursect.set(key, [om[3]!.trim()]);
    optname = key;
  });

  const findKey = (m: Map<string, string[]>, key: string): string[] | undefined => {
    const exact = m.get(key);
    if (exact !== undefined) return exact;
    const lower = key.toLowerCase();
    for (const [k, v] of m) if (k.toLowerCase() === lower) return v;
    return undefined;
  };
  const join = (parts: string[]): string => parts.join('\n').trimEnd();
  const lookup = (section: string): Map<string, string[]> | undefined =>
    section === DEFAULT_SECTION ? defaults : sections.get(section);

  const cfg: ConfigFile = {
    sections: () => [...order],
    has: (s) => sections.has(s),
    keys(s) {
      const sect = lookup(s);
      if (!sect) return [];
      const keys = [...sect.keys()];
      for (const k of defaults.keys()) if (findKey(sect, k) === undefined) keys.push(k);
      return keys;
    },
    get(s, key) {
      const sect = lookup(s);
      if (!sect) return undefined;
      const v = findKey(sect, key) ?? findKey(defaults, key);
      return v === undefined ? undefined : join(v);
    },
    section(s) {
      const out: Record<string, string> = {};
      for (const k of cfg.keys(s)) out[k] = cfg.get(s, k)!;
      return out;
    },
  };
  return cfg;
}
