/**
 * Typed errors with a stable `code`, a factual message (the input, what was expected, what was
 * found), a `hint` for what to do next and an optional `cause`. One top-level catch in src/bin maps
 * each error's exit class to the process exit code; CI relies on this table.
 */
import type { CheckedCode, ErrorKind } from './error-codes.js';

import { printable, unsafeCharacter } from './safe-text.js';

export const EXIT = {
  OK: 0,
  /** the install or the confirmation failed inside the guest */
  GUEST_FAILED: 1,
  /** bad input: usage, manifest, template, media not recognised */
  BAD_INPUT: 2,
  /** the host cannot do it: no IOMMU, no assignable device, device in use, bind or reset refused */
  HOST_CANNOT: 3,
  /** timed out */
  TIMEOUT: 4,
  /** interrupted (after cleanup ran) */
  INTERRUPTED: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** Which exit class each family of codes belongs to (the codes: error-codes.ts). */
export type { ErrorCode, ErrorKind } from './error-codes.js';

const KIND_EXIT: Record<ErrorKind, number> = {
  guest: EXIT.GUEST_FAILED,
  input: EXIT.BAD_INPUT,
  host: EXIT.HOST_CANNOT,
  timeout: EXIT.TIMEOUT,
  interrupted: EXIT.INTERRUPTED,
  // An internal error is a bug in install-guest; it is reported with its stack and exit 1.
  internal: EXIT.GUEST_FAILED,
};

export interface ErrorDetails {
  hint?: string;
  cause?: unknown;
  /** machine-readable facts for --json output (device addresses, file paths, …) */
  data?: Record<string, unknown>;
}

export class InstallGuestError extends Error {
  readonly code: string;
  readonly kind: ErrorKind;
  readonly hint: string | undefined;
  readonly data: Record<string, unknown> | undefined;

  constructor(kind: ErrorKind, code: string, message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'InstallGuestError';
    this.kind = kind;
    this.code = code;
    this.hint = details.hint;
    this.data = details.data;
  }

  get exitCode(): number {
    return KIND_EXIT[this.kind];
  }

  toJSON(): Record<string, unknown> {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.hint ? { hint: this.hint } : {}),
        exitCode: this.exitCode,
        ...(this.data ? { data: this.data } : {}),
        ...(this.cause instanceof Error ? { cause: this.cause.message } : {}),
      },
    };
  }
}

/** Bad input: usage, values, manifests, templates, unrecognised media. Exit 2. */
export function inputError<C extends string>(
  code: C & CheckedCode<C, 'input'>,
  message: string,
  details?: ErrorDetails,
): InstallGuestError {
  return new InstallGuestError('input', code, message, details);
}

/** The host cannot do it. Exit 3. */
export function hostError<C extends string>(
  code: C & CheckedCode<C, 'host'>,
  message: string,
  details?: ErrorDetails,
): InstallGuestError {
  return new InstallGuestError('host', code, message, details);
}

/** The install or the confirmation failed inside the guest. Exit 1. */
export function guestError<C extends string>(
  code: C & CheckedCode<C, 'guest'>,
  message: string,
  details?: ErrorDetails,
): InstallGuestError {
  return new InstallGuestError('guest', code, message, details);
}

/** Timed out. Exit 4. */
export function timeoutError<C extends string>(
  code: C & CheckedCode<C, 'timeout'>,
  message: string,
  details?: ErrorDetails,
): InstallGuestError {
  return new InstallGuestError('timeout', code, message, details);
}

/** Interrupted by a signal, after cleanup ran. Exit 130. */
export function interruptedError(signal: string): InstallGuestError {
  return new InstallGuestError('interrupted', 'INTERRUPTED', `interrupted by ${signal}; cleanup ran`, {
    hint: 'run `install-guest recover` if a device was left detached',
  });
}

/**
 * Duck-typed on purpose: a module graph loaded twice (a CJS and an ESM copy under a test loader, or
 * two installed versions) must not turn a user's mistake into an "internal error".
 */
export function isInstallGuestError(e: unknown): e is InstallGuestError {
  if (e instanceof InstallGuestError) return true;
  const x = e as Partial<InstallGuestError> | null;
  return (
    e instanceof Error &&
    x?.name === 'InstallGuestError' &&
    typeof x.code === 'string' &&
    typeof x.kind === 'string'
  );
}

/** Maps any thrown value to an exit code: typed errors by their kind, anything else is a bug (1). */
export function exitCodeOf(e: unknown): number {
  return isInstallGuestError(e) ? e.exitCode : EXIT.GUEST_FAILED;
}

/** One line for a human: `error CODE: message (hint: …)`. */
export function formatErrorLine(e: InstallGuestError): string {
  // one line, and nothing echoed from input (a name, a file's line) drives the terminal
  return `install-guest: ${printable(e.message)}${e.hint ? ` (hint: ${printable(e.hint)})` : ''} [${e.code}]`;
}

/** Refuses a value holding a terminal control or bidi character (exit 2), naming the option and the character. */
export function assertPrintable(option: string, value: string): void {
  const bad = unsafeCharacter(value);
  if (bad) {
    throw inputError(
      'BAD_VALUE',
      `${option} '${printable(value)}' holds the control or bidi character ${bad}`,
      {
        hint: 'use plain printable text: terminal control and bidirectional-override characters are refused',
      },
    );
  }
}
