/**
 * The CLI entry, callable in-process: main(deps) parses argv with yargs, runs one command and
 * returns its exit code. Every error ends here: typed errors become one line (or a JSON object with
 * --json) and their exit code; anything else is a bug and is reported with its stack.
 */
import yargs from 'yargs';
import type { Argv } from 'yargs';
import { EXIT, formatErrorLine, inputError, isInstallGuestError } from '../errors.js';
import type { Args, CliDeps, CommandContext, CommandSpec } from './command.js';
import { commands } from './commands.js';
import { VERSION } from '../version.js';
import { unknownOptionError } from '../request/virt-install.js';

export { VERSION };

/** The part of what yargs passes to .check() as its second argument that says how options were declared. */
interface DeclaredOptions {
  string?: string[];
  number?: string[];
  array?: string[];
}

/** The first option declared to take one value (string or number) that argv holds several values of. */
export function repeatedSingleValue(
  argv: Record<string, unknown>,
  declared: DeclaredOptions,
): [option: string, values: unknown[]] | undefined {
  const lists = new Set(declared.array ?? []);
  for (const key of [...(declared.string ?? []), ...(declared.number ?? [])]) {
    const v = argv[key];
    if (!lists.has(key) && Array.isArray(v)) return [key, v];
  }
  return undefined;
}

export function repeatedOptionError(key: string, values: readonly unknown[]): Error {
  const option = `--${key}`;
  return inputError(
    'REPEATED_OPTION',
    `${option} was given ${values.length} times (${values.map((x) => `'${String(x)}'`).join(', ')}); it takes one value`,
    {
      hint:
        option === '--network'
          ? 'give --network once: the guest gets one emulated NIC (assigned devices come from --hostdev)'
          : `give ${option} once`,
    },
  );
}

/** --help (or -h) before any `--`: the only run whose help text is printed. */
export function wantsHelp(argv: readonly string[]): boolean {
  for (const a of argv) {
    if (a === '--') return false;
    if (a === '--help' || a === '-h') return true;
  }
  return false;
}

export async function main(deps: CliDeps): Promise<number> {
  let exitCode: number = EXIT.OK;
  let json = deps.argv.includes('--json');
  const report = (e: unknown): number => {
    if (isInstallGuestError(e)) {
      if (json) deps.stdout.write(`${JSON.stringify(e.toJSON())}\n`);
      else deps.stderr.write(`${formatErrorLine(e)}\n`);
      return e.exitCode;
    }
    const err = e instanceof Error ? e : new Error(String(e));
    deps.stderr.write(`install-guest: internal error: ${err.stack ?? err.message}\n`);
    deps.stderr.write(
      'install-guest: this is a bug in install-guest; please report it with the output above\n',
    );
    return EXIT.GUEST_FAILED;
  };

  const makeContext = async (args: Args): Promise<CommandContext> => {
    json = Boolean(args.json);
    let host = deps.host;
    if (!host) {
      const [{ createHost }, { checkHostRoot }] = await Promise.all([
        import('../host/host.js'),
        import('../host/check-dirs.js'),
      ]);
      const given = args.hostRoot as string | undefined;
      const fromEnv = given === undefined ? deps.env.INSTALL_GUEST_HOST_ROOT : undefined;
      const root =
        given !== undefined
          ? await checkHostRoot(given, '--host-root', deps.cwd)
          : fromEnv !== undefined
            ? await checkHostRoot(fromEnv, 'INSTALL_GUEST_HOST_ROOT', deps.cwd)
            : '/';
      host = createHost({ root });
    }
    return {
      deps,
      host,
      json,
      print: (line) => void deps.stdout.write(`${line}\n`),
      printJson: (value) => void deps.stdout.write(`${JSON.stringify(value)}\n`),
      warn: (line) => void deps.stderr.write(`${line}\n`),
      runArgv: (argv) => main({ ...deps, argv }),
    };
  };

  const register = (y: Argv, spec: CommandSpec): Argv =>
    y.command(spec.command as string | string[], spec.describe, spec.builder, async (args) => {
      const ctx = await makeContext(args);
      exitCode = await spec.run(args, ctx);
    });

  let parser: Argv = yargs([...deps.argv])
    .scriptName('install-guest')
    .usage('$0 <command> [options]\n\nInstall KVM guests with host PCI devices assigned through the IOMMU.')
    .option('json', {
      type: 'boolean',
      describe: 'machine-readable output: JSON on stdout, errors as objects',
    })
    .option('host-root', {
      type: 'string',
      describe:
        'read and write kernel files (/sys, /proc, /dev) under this directory instead of / (env INSTALL_GUEST_HOST_ROOT)',
    })
    .strict()
    // a repeated single-value option: yargs collects it into an array, which every command would
    // otherwise read as one comma-joined value ('user,none') or not as a string at all
    .check((argv, options) => {
      const repeated = repeatedSingleValue(argv, options);
      if (repeated) throw repeatedOptionError(...repeated);
      return true;
    }, true)
    .recommendCommands()
    .version(VERSION)
    .help()
    .alias('h', 'help')
    // yargs renders a command's whole help after starting its handler, to show on a later failure;
    // our .fail() prints one line instead, so that text is only read for --help: wrapping it
    // (wrap-ansi over every description) is skipped otherwise, a third of a dry run's CPU time
    .wrap(wantsHelp(deps.argv) ? Math.min(110, process.stdout.columns ?? 110) : null)
    .fail((msg, err) => {
      // yargs usage errors (unknown option, missing value, failed coerce) are the user's mistake
      if (err && !isInstallGuestError(err) && !msg) throw err;
      // strict mode: name the unknown option and say whether virt-install has it (and why we do not)
      const unknown = !isInstallGuestError(err) && msg ? unknownOptionError(msg) : undefined;
      if (unknown) throw unknown;
      throw isInstallGuestError(err)
        ? err
        : inputError('USAGE', msg ?? err?.message ?? 'invalid usage', { hint: 'see install-guest --help' });
    })
    .exitProcess(false);
  for (const spec of commands) parser = register(parser, spec);
  parser = parser.demandCommand(
    1,
    'name a command (install, hostdev, doctor, media, kickstart, recover, batch)',
  );

  try {
    let helpText = '';
    await parser.parseAsync([...deps.argv], {}, (_err, _argv, output) => {
      helpText = output;
    });
    if (helpText) deps.stdout.write(`${helpText}\n`);
  } catch (e) {
    return report(e);
  }
  return exitCode;
}
