/**
 * What an unattended debian-installer would still ask. d-i runs at `priority=critical` (the
 * install boot's kernel arguments), so a question asked at critical priority that the preseed
 * does not answer is a dialog nobody answers: the install hangs until the stall timeout.
 *
 * Only the user-setup step is modelled, the one a preseed most easily gets wrong: its answers
 * depend on each other (user-setup's `user-setup-ask`, Debian 12):
 * - `passwd/root-login false` forces `passwd/make-user true`, and then the user's full name,
 *   username and password are critical questions;
 * - with root login, the root password is asked unless `passwd/root-password-crypted` holds a
 *   hash (anything but empty or a bare `!`, which d-i takes as "not set") or
 *   `passwd/root-password` a plain password;
 * - `passwd/make-user` defaults to true (asked at medium priority, so not asked: the default holds).
 * Pure: preseed text in, question names out.
 */

/** One answer: `owner question type value`; the value may be empty. */
export interface PreseedAnswer {
  owner: string;
  type: string;
  value: string;
}

/** The answers of a preseed file by question name (the last one wins, as in debconf). */
export function parsePreseed(text: string): Map<string, PreseedAnswer> {
  const out = new Map<string, PreseedAnswer>();
  // a line ending in a backslash continues on the next one
  const joined = text.replace(/\\\r?\n/g, '');
  for (const raw of joined.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(\S+)\s+(\S+)\s+(\S+)(?:\s(.*))?$/.exec(line);
    if (!m) continue;
    out.set(m[2]!, { owner: m[1]!, type: m[3]!, value: (m[4] ?? '').trim() });
  }
  return out;
}

/** The user-setup questions d-i would ask at critical priority with these answers, in order. */
export function userSetupQuestions(preseed: string | Map<string, PreseedAnswer>): string[] {
  const a = typeof preseed === 'string' ? parsePreseed(preseed) : preseed;
  const value = (q: string): string | undefined => a.get(q)?.value;
  const asked: string[] = [];
  const rootLogin = value('passwd/root-login') !== 'false';
  let makeUser: boolean;
  if (rootLogin) {
    const crypted = value('passwd/root-password-crypted') ?? '';
    const plain = value('passwd/root-password') ?? '';
    if (crypted === '' || crypted === '!') {
      if (plain === '') asked.push('passwd/root-password', 'passwd/root-password-again');
      else if (value('passwd/root-password-again') !== plain) asked.push('user-setup/password-mismatch');
    }
    makeUser = value('passwd/make-user') !== 'false';
  } else {
    makeUser = true;
  }
  if (makeUser) {
    if (!a.has('passwd/user-fullname')) asked.push('passwd/user-fullname');
    const username = value('passwd/username') ?? '';
    if (!/^[a-z][-a-z0-9_]{0,31}$/.test(username)) asked.push('passwd/username');
    if ((value('passwd/user-password-crypted') ?? '') === '') {
      const plain = value('passwd/user-password') ?? '';
      if (plain === '') asked.push('passwd/user-password', 'passwd/user-password-again');
      else if (value('passwd/user-password-again') !== plain) asked.push('user-setup/password-mismatch');
    }
  }
  return asked;
}
