/**
 * `install-guest install --interactive`, and a bare `install-guest` on a terminal: runs the wizard,
 * then runs the exact command line it printed through main() (argv, never a shell). Loaded lazily by
 * the install command only when it is needed; the prompt library is loaded only when a wizard starts.
 */
import type { Argv } from 'yargs';
import { EXIT, inputError } from '../errors.js';
import type { RawInstallArgs } from '../request/request.js';
import { toCommandLine } from '../wizard/command-line.js';
import type { WizardDeps, WizardPrompts } from '../wizard/types.js';
import type { Args, CommandContext } from './command.js';

export function isInteractiveTerminal(ctx: CommandContext): boolean {
  const stdin = ctx.deps.stdin ?? process.stdin;
  return Boolean(stdin.isTTY) && Boolean(ctx.deps.stdout.isTTY);
}

async function loadPrompts(ctx: CommandContext): Promise<WizardPrompts> {
  if (ctx.deps.wizard?.prompts) return ctx.deps.wizard.prompts;
  const { select, input, confirm, number } = await import('@inquirer/prompts');
  return { select, input, confirm, number };
}

/** The install command's options (cli/install.ts passes them: this module is imported by it). */
type InstallOptions = (y: Argv) => Argv;

/** The install command's entry when --interactive is given or no argument at all. */
export async function installOrWizard(args: Args, ctx: CommandContext, options: InstallOptions): Promise<number> {
  const tty = isInteractiveTerminal(ctx);
  if (!args.interactive) {
    if (ctx.deps.argv.length === 0 && tty) {
      const [{ isPromptCancel }, { wizardCancelled }] = await Promise.all([
        import('../wizard/prompting.js'),
        import('../wizard/wizard.js'),
      ]);
      const prompts = await loadPrompts(ctx);
      const start = await prompts
        .confirm(
          { message: 'No options given. Start the interactive install?', default: true },
          ctx.deps.signal ? { signal: ctx.deps.signal } : {},
        )
        .catch((e: unknown) => {
          throw isPromptCancel(e) ? wizardCancelled() : e;
        });
      if (start) return runInteractive(args, ctx, prompts, options);
    }
    const { runInstall } = await import('../pipeline/run-install.js');
    return runInstall(args, ctx);
  }
  if (!tty)
    throw inputError('NOT_A_TERMINAL', '--interactive needs a terminal, but stdin or stdout is not a TTY', {
      hint: 'pass the options instead, e.g. install-guest install --name web1 --memory 2G --cdrom os.iso --hostdev 0000:03:00.0 (see install-guest install --help)',
    });
  if (args.json)
    throw inputError('USAGE', '--interactive cannot be combined with --json', {
      hint: 'run the wizard without --json; it prints the equivalent command line, which takes --json',
    });
  return runInteractive(args, ctx, await loadPrompts(ctx), options);
}

/** Parses an install argv (from toCommandLine) with the install command's own options, as main() does. */
export async function parseInstallArgv(
  argv: readonly string[],
  installOptions: InstallOptions,
): Promise<{ raw: RawInstallArgs; hostRoot?: string }> {
  const { default: yargs } = await import('yargs');
  const { pickInstallArgs } = await import('../request/options.js');
  let parsed: Args | undefined;
  await yargs([...argv])
    .option('json', { type: 'boolean' })
    .option('host-root', { type: 'string' })
    .command(['install', '$0'], 'install', installOptions, (a) => {
      parsed = a;
    })
    .strict()
    .exitProcess(false)
    .fail((msg, err) => {
      throw err ?? new Error(msg);
    })
    .parseAsync();
  if (!parsed) throw new Error(`install-guest: '${argv.join(' ')}' did not reach the install command`);
  return {
    raw: pickInstallArgs(parsed),
    ...(typeof parsed.hostRoot === 'string' ? { hostRoot: parsed.hostRoot } : {}),
  };
}

async function runInteractive(
  args: Args,
  ctx: CommandContext,
  prompts: WizardPrompts,
  options: InstallOptions,
): Promise<number> {
  const [{ pickInstallArgs }, { defaultProviders }, { runWizard }] = await Promise.all([
    import('../request/options.js'),
    import('../wizard/providers.js'),
    import('../wizard/wizard.js'),
  ]);
  const globals = typeof args.hostRoot === 'string' ? { hostRoot: args.hostRoot } : {};
  const deps: WizardDeps = {
    ...defaultProviders(ctx.host, {
      cwd: ctx.deps.cwd,
      env: ctx.deps.env,
      ...(ctx.deps.signal ? { signal: ctx.deps.signal } : {}),
    }),
    ...ctx.deps.wizard,
    prompts,
    stdout: ctx.deps.stdout,
    cwd: ctx.deps.cwd,
    initial: pickInstallArgs(args),
    globals,
    ...(ctx.deps.signal ? { signal: ctx.deps.signal } : {}),
  };
  const raw = await runWizard(deps);
  if (raw === null) {
    ctx.print('Not run: nothing on the host was changed. The command line above runs it later.');
    return EXIT.OK;
  }
  const argv = toCommandLine(raw, globals);
  // What runs is the printed argv, parsed by the install command: check the round trip first.
  const back = await parseInstallArgv(argv, options);
  const again = toCommandLine(back.raw, back.hostRoot === undefined ? {} : { hostRoot: back.hostRoot });
  if (JSON.stringify(again) !== JSON.stringify(argv))
    throw new Error(
      `the wizard's command line does not parse back the same:\n${argv.join(' ')}\n${again.join(' ')}`,
    );
  ctx.print('');
  return ctx.runArgv(argv);
}
