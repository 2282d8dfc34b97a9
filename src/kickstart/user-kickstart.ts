/**
 * User-supplied kickstarts: `%include` resolution (local files inlined, relative to the including
 * file's directory, with a depth limit; remote ones refused), the confirmation unit appended as a
 * %post section, and a line map so findings point at the file and line the user wrote.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { inputError } from '../errors.js';
import type { Finding } from './lint.js';
import { parseKickstart } from './parse.js';
import { readRegularFile } from './read-file.js';
import { redactSecrets } from './redact.js';
import { confirmInstallSnippet } from './render.js';

export const MAX_INCLUDE_DEPTH = 8;
const CONFIRM_MARK = 'install-guest-confirm';

export interface LineOrigin {
  file: string;
  line: number;
}

export interface ResolvedKickstart {
  text: string;
  /** origin of each line of `text` (index 0 = line 1) */
  origins: LineOrigin[];
  /** install-time includes kept as they are (absolute paths that a %pre script may create) */
  kept: LineOrigin[];
}

function isRemote(target: string): boolean {
  return /^[a-z][a-z0-9+.-]*:/i.test(target);
}

function hasPreSection(text: string): boolean {
  return parseKickstart(text).sections.some((s) => s.name === 'pre');
}

/**
 * Inlines `%include FILE` / `%ksappend FILE` lines outside sections. A relative FILE is read from
 * the including file's directory. Remote targets (http:, ftp:, nfs:…) are refused; an absolute path
 * that does not exist here is kept verbatim when the kickstart has a %pre section (the usual
 * "%pre writes /tmp/part-include" idiom), otherwise refused.
 */
export async function resolveIncludes(
  file: string,
  depth = 0,
  chain: string[] = [],
): Promise<ResolvedKickstart> {
  const full = path.resolve(file);
  if (chain.includes(full)) {
    throw inputError(
      'KICKSTART_INCLUDE_CYCLE',
      `kickstart ${full} includes itself (via ${chain.join(' → ')})`,
      {
        hint: 'remove the circular %include',
      },
    );
  }
  if (depth > MAX_INCLUDE_DEPTH) {
    throw inputError(
      'KICKSTART_INCLUDE_DEPTH',
      `kickstart includes nest deeper than ${MAX_INCLUDE_DEPTH} at ${full}`,
      {
        hint: 'flatten the includes',
      },
    );
  }
  const text = await readRegularFile(full, 'kickstart', {
    hint: 'check the path (relative %include paths are relative to the including file)',
  });
  const pre = hasPreSection(text);
  const lines = text.split(/\r?\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const out: string[] = [];
  const origins: LineOrigin[] = [];
  const kept: LineOrigin[] = [];
  const { commands } = parseKickstart(text);
  const includeAt = new Map<number, string>();
  for (const c of commands) {
    if (c.name === '%include' || c.name === '%ksappend') includeAt.set(c.line, c.args[0] ?? '');
  }
  for (let i = 0; i < lines.length; i++) {
    const line = i + 1;
    const target = includeAt.get(line);
    if (target === undefined) {
      out.push(lines[i]!);
      origins.push({ file: full, line });
      continue;
    }
    if (!target) {
      throw inputError('KICKSTART_INCLUDE', `${full}:${line}: %include without a file name`, {
        hint: 'name a file',
      });
    }
    if (isRemote(target)) {
      throw inputError(
        'KICKSTART_INCLUDE_REMOTE',
        `${full}:${line}: %include ${target} is remote; install-guest does not fetch kickstart parts from servers`,
        {
          hint: 'download it yourself and %include the local copy, so the answer file is complete and reviewable before the install',
        },
      );
    }
    const targetPath = path.isAbsolute(target) ? target : path.join(path.dirname(full), target);
    // stat, not a read: the file is read (regular files only) when it is inlined below
    const exists = await stat(targetPath).then(
      () => true,
      () => false,
    );
    if (!exists) {
      if (path.isAbsolute(target) && pre) {
        out.push(lines[i]!);
        origins.push({ file: full, line });
        kept.push({ file: full, line });
        continue;
      }
      throw inputError(
        'KICKSTART_INCLUDE_MISSING',
        `${full}:${line}: %include ${target}: ${targetPath} does not exist`,
        {
          hint: path.isAbsolute(target)
            ? 'an include created at install time needs a %pre section that writes it'
            : "relative includes are read from the including file's directory",
        },
      );
    }
    const inner = await resolveIncludes(targetPath, depth + 1, [...chain, full]);
    out.push(...inner.text.split('\n').slice(0, inner.origins.length));
    origins.push(...inner.origins);
    kept.push(...inner.kept);
  }
  return { text: `${out.join('\n')}\n`, origins, kept };
}

/** Maps findings on a resolved text back to the file and line the user wrote. */
export function mapFindings(findings: readonly Finding[], origins: readonly LineOrigin[]): Finding[] {
  return findings.map((f) => {
    const o = origins[f.line - 1];
    return o ? { ...f, line: o.line, file: o.file } : f;
  });
}

/** True when the text already installs the confirmation unit. */
export function hasConfirmUnit(text: string): boolean {
  return text.includes(CONFIRM_MARK);
}

/**
 * Appends a %post section that installs the confirmation unit (unchanged when one is there).
 * Refuses a kickstart whose last section is not closed (appending would land inside it).
 */
export function addConfirmUnit(text: string): string {
  if (hasConfirmUnit(text)) return text;
  const unclosed = parseKickstart(text).findings.find((f) => f.code === 'SECTION_NOT_CLOSED');
  if (unclosed) {
    throw inputError('KICKSTART_SECTION_NOT_CLOSED', `kickstart line ${unclosed.line}: ${unclosed.message}`, {
      hint: 'close every %packages/%pre/%post section with %end',
    });
  }
  const base = text.endsWith('\n') ? text : `${text}\n`;
  return `${base}\n%post\n${confirmInstallSnippet()}%end\n`;
}

export interface UserKickstart {
  text: string;
  redacted: string;
  origins: LineOrigin[];
  /** install-time includes left in place */
  kept: LineOrigin[];
  /** true when the confirmation unit was appended (false when asked not to, or already there) */
  confirmAdded: boolean;
}

/** Reads a user kickstart: includes resolved, the confirmation unit added unless `confirmUnit` is false. */
export async function loadUserKickstart(
  file: string,
  options: { confirmUnit?: boolean } = {},
): Promise<UserKickstart> {
  const resolved = await resolveIncludes(file);
  const want = options.confirmUnit ?? true;
  const text = want ? addConfirmUnit(resolved.text) : resolved.text;
  return {
    text,
    redacted: redactSecrets(text),
    origins: resolved.origins,
    kept: resolved.kept,
    confirmAdded: text !== resolved.text,
  };
}
