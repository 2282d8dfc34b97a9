/**
 * `install-guest recover [--dry-run] [--json] [--state-dir DIR]`: gives back every device left
 * detached by a run whose owner is gone (killed, crashed, or a reboot ago). Idempotent and safe at
 * boot. Exit 0 when nothing is left to give back, 3 when some device could not be given back.
 */
import type { Argv } from 'yargs';
import type { CommandSpec } from './command.js';

export const recoverCommand: CommandSpec = {
  command: 'recover',
  describe: 'give back devices left detached by a run that is gone (idempotent, safe at boot)',
  builder: (y: Argv) =>
    y
      .option('dry-run', { type: 'boolean', describe: 'print what would be given back; change nothing' })
      .option('state-dir', {
        type: 'string',
        describe: 'journal and leases (default /var/lib/install-guest; env INSTALL_GUEST_STATE_DIR)',
      })
      .example('$0 recover --dry-run', 'show which devices would go back to which driver'),
  async run(args, ctx) {
    const { resolveStateDir } = await import('./hostdev-prepare.js');
    const { recover, formatRecoverReport } = await import('../pci/recover.js');
    const { hostError } = await import('../errors.js');
    const stateDir = await resolveStateDir(args, ctx, { readOnly: true });
    const report = await recover({
      host: ctx.host,
      stateDir,
      dryRun: Boolean(args.dryRun),
      log: { info: (l) => ctx.warn(l), warn: (l) => ctx.warn(l) },
    });
    if (ctx.json) ctx.printJson(report);
    else for (const line of formatRecoverReport(report)) ctx.print(line);
    if (report.failed > 0) {
      const err = hostError(
        'RECOVER_INCOMPLETE',
        `${report.failed} device(s), id(s) or refused journal line(s) could not be given back`,
        {
          hint: 'see the lines above and dmesg; run install-guest recover again once fixed',
        },
      );
      if (!ctx.json) throw err;
      return err.exitCode;
    }
    return 0;
  },
};
