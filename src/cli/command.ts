/**
 * The shape every CLI command has. A command file declares its options in `builder` (cheap: only
 * yargs is loaded at start-up) and does its work in `run`, which imports the heavy modules it needs
 * lazily, so `--help` stays fast. `run` returns the process exit code; errors it throws are mapped
 * to exit codes by the one catch in main().
 */
import type { Argv } from 'yargs';
import type { Host } from '../host/host.js';
import type { WizardOverrides } from '../wizard/types.js';

export interface Output {
  write(chunk: string): unknown;
  isTTY?: boolean;
}

export interface CliDeps {
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
  /**
   * replaces parts of the interactive install (tests): the prompts (otherwise @inquirer/prompts), and
   * the device list, media inspection and kickstart lint (otherwise the ones `hostdev list`,
   * `media inspect` and `kickstart lint` use)
   */
  wizard?: WizardOverrides;
}

export interface CommandContext {
  deps: CliDeps;
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

export interface CommandSpec {
  command: string | readonly string[];
  describe: string;
  builder: (y: Argv) => Argv;
  run(args: Args, ctx: CommandContext): Promise<number>;
}
