/**
 * `install-guest kickstart render [TEMPLATE] [--set key=value]… [--vars FILE] [--out FILE] [--json]`
 * `install-guest kickstart lint FILE [--json] [--headless] [--nic MAC|NAME]` (exit 2 on errors): a
 *   kickstart, or a preseed when the file holds debconf answer lines
 *
 * Plain passwords are refused on the command line (argv is visible to every user of the host):
 * give them in a --vars file or with rootPasswordFile= / user.passwordFile=.
 */
import path from 'node:path';
import type { Argv } from 'yargs';
import { EXIT, inputError } from '../errors.js';
import { findingLine, lintFile } from '../kickstart/lint-file.js';
import type { Args, CommandContext, CommandSpec } from './command.js';

async function render(args: Args, ctx: CommandContext): Promise<number> {
  const { writeFile } = await import('node:fs/promises');
  const { readRegularFile } = await import('../kickstart/read-file.js');
  const { renderKickstart, DEFAULT_TEMPLATE } = await import('../kickstart/render.js');
  const { applySetItems } = await import('../kickstart/vars.js');
  const { lintKickstart, countBySeverity } = await import('../kickstart/lint.js');
  const cwd = ctx.deps.cwd;

  let vars: Record<string, unknown> = {};
  if (typeof args.vars === 'string') {
    const file = path.resolve(cwd, args.vars);
    const raw = await readRegularFile(file, '--vars file', {
      code: 'KICKSTART_VARS_FILE',
      hint: 'give a JSON file',
    });
    try {
      vars = JSON.parse(raw) as Record<string, unknown>;
    } catch (e) {
      throw inputError(
        'KICKSTART_VARS_FILE',
        `--vars file ${file} is not valid JSON: ${(e as Error).message}`,
        {
          hint: 'the file holds one JSON object of template variables',
        },
      );
    }
  }
  applySetItems(vars, (args.set as string[] | undefined) ?? [], '--set');

  const template = typeof args.target === 'string' ? args.target : DEFAULT_TEMPLATE;
  const rendered = await renderKickstart(template, vars, { cwd });
  const { lintPreseed } = await import('../kickstart/preseed-lint.js');
  const findings =
    rendered.template.family === 'kickstart'
      ? lintKickstart(rendered.text, {
          headless: true,
          ...(isNic(vars.nic) ? { assignedNic: vars.nic } : {}),
        })
      : lintPreseed(rendered.text);
  const output = args.redacted ? rendered.redacted : rendered.text;
  if (typeof args.out === 'string') {
    const { prepareOutputFile } = await import('../output-path.js');
    await prepareOutputFile('--out', path.resolve(cwd, args.out));
    await writeFile(path.resolve(cwd, args.out), output, { mode: 0o600 });
  }
  if (ctx.json) {
    ctx.printJson({
      template: rendered.template.name,
      family: rendered.template.family,
      fileName: rendered.fileName,
      ...(typeof args.out === 'string' ? { out: path.resolve(cwd, args.out) } : { text: output }),
      findings,
    });
  } else {
    if (typeof args.out !== 'string') ctx.deps.stdout.write(output);
    for (const f of findings)
      ctx.warn(`${rendered.template.name}:${f.line}: ${f.severity} ${f.code}: ${f.message}`);
  }
  return countBySeverity(findings).errors > 0 ? EXIT.BAD_INPUT : EXIT.OK;
}

function isNic(v: unknown): v is { mac?: string; name?: string } {
  return typeof v === 'object' && v !== null && typeof (v as { mac?: unknown }).mac === 'string';
}

async function lint(args: Args, ctx: CommandContext): Promise<number> {
  if (typeof args.target !== 'string') {
    throw inputError('USAGE', 'kickstart lint needs a FILE', { hint: 'install-guest kickstart lint ks.cfg' });
  }
  const file = path.resolve(ctx.deps.cwd, args.target);
  const nicArg = typeof args.nic === 'string' ? args.nic : undefined;
  const assignedNic = nicArg
    ? /^([0-9a-f]{2}[:-]){5}[0-9a-f]{2}$/i.test(nicArg)
      ? { mac: nicArg }
      : { name: nicArg }
    : undefined;
  const { family, findings, errors, warnings } = await lintFile(file, {
    headless: Boolean(args.headless),
    ...(assignedNic ? { assignedNic } : {}),
  });
  if (ctx.json) {
    ctx.printJson({ file, family, findings, errors, warnings });
  } else {
    for (const f of findings) ctx.print(findingLine(f, ctx.deps.cwd, args.target));
    ctx.print(`${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}`);
  }
  return errors > 0 ? EXIT.BAD_INPUT : EXIT.OK;
}

export const kickstartCommand: CommandSpec = {
  command: 'kickstart <action> [target]',
  describe: 'render a kickstart/preseed template, or lint a kickstart or preseed',
  builder: (y: Argv) =>
    y
      .positional('action', { choices: ['render', 'lint'] as const, describe: 'render TEMPLATE | lint FILE' })
      .positional('target', {
        type: 'string',
        describe:
          'render: a template name (fedora, debian) or .hbs path (default fedora); lint: the kickstart or preseed file (picked by content)',
      })
      .option('set', {
        type: 'string',
        array: true,
        describe: 'render: a template variable, dotted keys allowed (--set network.bootproto=static)',
      })
      .option('vars', {
        type: 'string',
        describe: 'render: a JSON file of template variables (secrets go here)',
      })
      .option('out', {
        type: 'string',
        describe: 'render: write the answer file here (mode 0600) instead of stdout',
      })
      .option('redacted', {
        type: 'boolean',
        describe: 'render: print the copy with passwords replaced by <redacted>',
      })
      .option('headless', {
        type: 'boolean',
        describe: 'lint: the install has no display (graphical is an error)',
      })
      .option('nic', {
        type: 'string',
        describe: 'lint: the assigned NIC (MAC or interface name) the network must use',
      })
      .example('$0 kickstart render', 'the default (fedora) template with default variables')
      .example('$0 kickstart render debian --set nic.mac=52:54:00:12:34:56 --vars secrets.json', 'a preseed')
      .example(
        '$0 kickstart lint ks.cfg --headless --nic 52:54:00:12:34:56',
        'exit 2 when an error is found',
      ),
  run(args, ctx) {
    return args.action === 'lint' ? lint(args, ctx) : render(args, ctx);
  },
};
