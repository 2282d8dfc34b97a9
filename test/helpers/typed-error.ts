/**
 * The typed error a test expects: `rejection(promise)` and `thrown(fn)` return the InstallGuestError
 * (recognised by shape, as the CLI recognises it) so the test can assert its code, message and hint.
 * They fail the test when nothing is thrown, and rethrow any other error as it is, so its own
 * message and stack show.
 */
import { type InstallGuestError, isInstallGuestError } from '../../src/errors.js';

export async function rejection(p: Promise<unknown>): Promise<InstallGuestError> {
  try {
    await p;
  } catch (e) {
    if (isInstallGuestError(e)) return e;
    throw e;
  }
  throw new Error('expected a rejection with a typed error, but the promise resolved');
}

export function thrown(fn: () => unknown): InstallGuestError {
  try {
    fn();
  } catch (e) {
    if (isInstallGuestError(e)) return e;
    throw e;
  }
  throw new Error('expected a typed error, but nothing was thrown');
}

/** The typed error a promise rejects with as one line, `kind:CODE: message`, for a test to match. */
export async function rejectionLine(p: Promise<unknown>): Promise<string> {
  const e = await rejection(p);
  return `${e.kind}:${e.code}: ${e.message}`;
}
