/**
 * The wizard's terminal side, shared by every step: printing a line, the prompt context (the abort
 * signal), validation texts from the install's own checks, and the path checks of typed answers.
 * A prompt rejected by Ctrl-C or by the signal is told apart here (`isPromptCancel`).
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { isInstallGuestError } from '../errors.js';
import type { PromptSeparator, WizardDeps } from './types.js';

/** @inquirer rejects with ExitPromptError on Ctrl-C and AbortPromptError when the signal aborts. */
export function isPromptCancel(e: unknown): boolean {
  const name = (e as { name?: unknown } | null)?.name;
  return e instanceof Error && (name === 'ExitPromptError' || name === 'AbortPromptError');
}

/** Prints one line on the wizard's output. */
export const line = (deps: WizardDeps, text = ''): void => void deps.stdout.write(`${text}\n`);
/** The context every prompt gets: the signal that aborts it. */
export const ctxOf = (deps: WizardDeps): { signal?: AbortSignal } =>
  deps.signal ? { signal: deps.signal } : {};
export const separator = (text = ''): PromptSeparator => ({ type: 'separator', separator: text });

/** An inputError's message as a prompt's validation text; true when the check passes. */
export function check(fn: () => unknown): true | string {
  try {
    fn();
    return true;
  } catch (e) {
    if (isInstallGuestError(e)) return e.message;
    throw e;
  }
}

export type PathKind = 'file' | 'dir' | 'block' | 'other';
export async function pathKind(p: string): Promise<PathKind | null> {
  const s = await stat(p).catch(() => null);
  if (!s) return null;
  return s.isFile() ? 'file' : s.isDirectory() ? 'dir' : s.isBlockDevice() ? 'block' : 'other';
}

/** Validation for a path the user types: it must exist and be one of `kinds`. */
export function pathValidator(deps: WizardDeps, what: string, kinds: PathKind[]) {
  return async (v: string): Promise<true | string> => {
    if (!v.trim()) return `give the path of ${what}`;
    if (/[\n\r\0]/.test(v)) return 'a path must be one line of text';
    const k = await pathKind(path.resolve(deps.cwd, v));
    if (k === null) return `no such file or directory: ${v}`;
    return kinds.includes(k) ? true : `${v} is not ${what}`;
  };
}

export const isUrl = (s: string): boolean => /^[a-z][a-z0-9+.-]*:\/\//i.test(s);
