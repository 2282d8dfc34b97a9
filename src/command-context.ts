/**
 * What a command's work receives from the CLI: the process's streams, cwd, environment and signal,
 * the host boundary and the output helpers. A leaf module (it imports only the host's type), so the
 * pipeline, batch and wizard code that commands run can name these types without importing cli/.
 */
import type { Host } from './host/host.js';

export interface Output {
  write(chunk: string): unknown;
  isTTY?: boolean;
}

/** The process around a command; cli/command.ts's CliDeps adds what only the CLI's own commands read. */
export interface CommandDeps {
  argv: readonly string[];
  env: Readonly<Record<string, string | undefined>>;
  stdout: Output;
  stderr: Output;
  cwd: string;
  /** aborted on SIGINT/SIGTERM by src/bin; commands pass it to the pipeline */
  signal?: AbortSignal;
  /** tests inject a host (e.g. a fixture tree with a kernel model); otherwise one is made from --host-root */
  host?: Host;
  /** the terminal input the interactive install checks for a TTY; src/bin leaves it unset: process.stdin */
  stdin?: { isTTY?: boolean };
}

export interface CommandContext<D extends CommandDeps = CommandDeps> {
  deps: D;
  /** the host boundary, rooted at --host-root / INSTALL_GUEST_HOST_ROOT or `/` */
  host: Host;
  json: boolean;
  /** one line to stdout */
  print(line: string): void;
  /** one JSON value on one line to stdout */
  printJson(value: unknown): void;
  /** one line to stderr (warnings, progress when --json owns stdout) */
  warn(line: string): void;
}

export type Args = Record<string, unknown> & { _: (string | number)[] };
