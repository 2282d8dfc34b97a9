/**
 * A preseed linter beside the kickstart one (lint.ts), for unattended debian-installer runs. Pure:
 * text in, findings out, with the line each answer starts on. Messages name questions and line
 * numbers, never a line's text (a file that is not a preseed must not be echoed).
 *
 * Rules (codes are stable):
 * - PRESEED_SYNTAX (error): a line that is not `owner question type [value]`
 * - PRESEED_UNKNOWN_TYPE (error): a type debconf does not have
 * - PRESEED_BAD_BOOLEAN (error): a boolean answer that is not true or false
 * - PRESEED_UNANSWERED (error): a question d-i would still ask at critical priority (preseed-check.ts)
 * - PRESEED_NO_END_ACTION (warning): nothing ends the install without a prompt
 *   (finish-install/reboot_in_progress or debian-installer/exit/halt|poweroff)
 * - PLAINTEXT_PASSWORD (warning): passwd/root-password or passwd/user-password in clear
 * - DUPLICATE_ANSWER (warning): a question answered twice (the last one wins)
 */
import type { Finding, Severity } from './lint.js';
import type { PreseedAnswer } from './preseed-check.js';
import { userSetupQuestions } from './preseed-check.js';

const TYPES = new Set([
  'string',
  'boolean',
  'select',
  'multiselect',
  'note',
  'password',
  'text',
  'title',
  'error',
  'seen',
]);

const QUESTION = /^[A-Za-z0-9][A-Za-z0-9_.+-]*(\/[A-Za-z0-9_.+-]+)+$/;
const OWNER = /^[a-z0-9][a-z0-9_.+-]*$/;

/** True when the text reads as a preseed: its first answer-like line is `owner question/… type …`. */
export function looksLikePreseed(text: string): boolean {
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const f = line.split(/\s+/);
    return f.length >= 3 && OWNER.test(f[0]!) && QUESTION.test(f[1]!) && TYPES.has(f[2]!);
  }
  return false;
}

export function lintPreseed(text: string): Finding[] {
  const out: Finding[] = [];
  const add = (line: number, severity: Severity, code: string, message: string): void => {
    out.push({ line, severity, code, message });
  };
  const answers = new Map<string, PreseedAnswer>();
  const firstLine = new Map<string, number>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const start = i + 1;
    let line = lines[i]!;
    // a line ending in a backslash continues on the next one
    while (line.endsWith('\\') && i + 1 < lines.length) line = line.slice(0, -1) + lines[++i]!;
    const t = line.trim();
    if (t === '' || t.startsWith('#')) continue;
    const m = /^(\S+)\s+(\S+)\s+(\S+)(?:\s(.*))?$/.exec(t);
    if (!m || !OWNER.test(m[1]!) || !QUESTION.test(m[2]!)) {
      add(start, 'error', 'PRESEED_SYNTAX', 'not a preseed answer (owner question type value)');
      continue;
    }
    const [, owner, question, type] = m as unknown as [string, string, string, string];
    const value = (m[4] ?? '').trim();
    if (!TYPES.has(type)) {
      add(
        start,
        'error',
        'PRESEED_UNKNOWN_TYPE',
        `${question}: unknown debconf type (expected string, boolean, select, …)`,
      );
      continue;
    }
    if (type === 'boolean' && value !== 'true' && value !== 'false')
      add(start, 'error', 'PRESEED_BAD_BOOLEAN', `${question}: a boolean answer must be true or false`);
    if ((question === 'passwd/root-password' || question === 'passwd/user-password') && value !== '')
      add(start, 'warning', 'PLAINTEXT_PASSWORD', `${question}: password in clear; use ${question}-crypted`);
    const first = firstLine.get(question);
    if (first !== undefined)
      add(
        start,
        'warning',
        'DUPLICATE_ANSWER',
        `${question} answered again (first at line ${first}); the last one wins`,
      );
    else firstLine.set(question, start);
    answers.set(question, { owner, type, value });
  }
  for (const q of new Set(userSetupQuestions(answers)))
    add(1, 'error', 'PRESEED_UNANSWERED', `d-i would stop to ask ${q} (critical priority, not answered)`);
  const ends =
    answers.has('finish-install/reboot_in_progress') ||
    answers.get('debian-installer/exit/poweroff')?.value === 'true' ||
    answers.get('debian-installer/exit/halt')?.value === 'true';
  if (!ends)
    add(
      1,
      'warning',
      'PRESEED_NO_END_ACTION',
      'nothing ends the install unattended (finish-install/reboot_in_progress note)',
    );
  return out.sort((a, b) => a.line - b.line);
}
