/**
 * The shape every CLI command has. A command file declares its options in `builder` (cheap: only
 * yargs is loaded at start-up) and does its work in `run`, which imports the heavy modules it needs
 * lazily, so `--help` stays fast. `run` returns the process exit code; errors it throws are mapped
 * to exit codes by the one catch in main().
 */
import type { Argv } from 'yargs';
import type { Args, CommandDeps, CommandContext as BaseContext } from '../command-context.js';
import type { WizardOverrides } from '../wizard/types.js';

export type { Args, Output } from '../command-context.js';

export interface CliDeps extends CommandDeps {
  /**
   * replaces parts of the interactive install (tests): the prompts (otherwise @inquirer/prompts), and
   * the device list, media inspection and kickstart lint (otherwise the ones `hostdev list`,
   * `media inspect` and `kickstart lint` use)
   */
  wizard?: WizardOverrides;
}

export interface CommandContext extends BaseContext<CliDeps> {
  /** runs another command line in this process as main() runs argv (the wizard runs the line it printed) */
  runArgv(argv: readonly string[]): Promise<number>;
}

export interface CommandSpec {
  command: string | readonly string[];
  describe: string;
  builder: (y: Argv) => Argv;
  run(args: Args, ctx: CommandContext): Promise<number>;
}
