/**
 * `install-guest hostdev detach|reattach|reset DEVICE`: one device by hand, journaled and leased like
 * an install does it. `detach` leaves the device on the stub on purpose (recover leaves it there;
 * `reattach` gives it back); SIGINT/SIGTERM during a detach give it back at once (exit 130).
 *
 * Exported as three sub-command specs (detachCommand, reattachCommand, resetCommand) for the
 * `hostdev` command (detach, reattach, reset).
 */
import path from 'node:path';
import type { Argv } from 'yargs';
import { assertPrintable, inputError } from '../errors.js';
import type { Args, CommandContext } from './command.js';

export type PrepAction = 'detach' | 'reattach' | 'reset';

export function prepOptions(y: Argv): Argv {
  return y
    .option('driver', {
      type: 'string',
      choices: ['vfio-pci', 'pci-stub'],
      default: 'vfio-pci',
      describe: 'detach: the stub driver (pci-stub is legacy: it only reserves the device)',
    })
    .option('group', {
      type: 'boolean',
      describe: "detach: also detach the other endpoint members of the device's IOMMU group",
    })
    .option('force', {
      type: 'boolean',
      describe:
        "detach/reset: even a NIC carrying the default route, a mounted disk's controller, a device in use",
    })
    .option('reset', {
      type: 'boolean',
      default: true,
      describe: 'detach: reset the device after detaching it (--no-reset skips it)',
    })
    .option('guest', {
      type: 'string',
      describe: 'the name recorded in the journal and lease (default: hostdev)',
    })
    .option('state-dir', {
      type: 'string',
      describe: 'journal and leases (default /var/lib/install-guest; env INSTALL_GUEST_STATE_DIR)',
    });
}

/**
 * --state-dir, else INSTALL_GUEST_STATE_DIR, else the default for the host; checked before use
 * (src/host/check-dirs.ts). `readOnly` (recover): a directory named explicitly must exist.
 */
export async function resolveStateDir(
  args: Args,
  ctx: CommandContext,
  o: { readOnly?: boolean } = {},
): Promise<string> {
  const { checkStateDir } = await import('../host/check-dirs.js');
  const flag = args.stateDir as string | undefined;
  const given = flag ?? ctx.deps.env.INSTALL_GUEST_STATE_DIR;
  if (given !== undefined) {
    const source = flag !== undefined ? '--state-dir' : 'INSTALL_GUEST_STATE_DIR';
    if (given.trim() === '')
      throw inputError('STATE_DIR_INVALID', `${source} is empty`, {
        hint: 'name a directory, or leave it out',
      });
    const dir = path.resolve(ctx.deps.cwd, given);
    await checkStateDir(dir, { source, mustExist: Boolean(o.readOnly) });
    return dir;
  }
  const { defaultStateDir } = await import('../pci/prepare.js');
  const dir = defaultStateDir(ctx.host);
  await checkStateDir(dir, { source: 'the state directory' });
  return dir;
}

export async function runAction(action: PrepAction, args: Args, ctx: CommandContext): Promise<number> {
  const { canonicalAddress } = await import('../pci/address.js');
  const given = typeof args.target === 'string' ? args.target : '';
  const address = canonicalAddress(given);
  if (!address) {
    throw inputError('BAD_DEVICE', `'${given}' is not a PCI address`, {
      hint: 'e.g. 0000:03:00.0, 03:00.0 or pci_0000_03_00_0 (see install-guest hostdev list)',
    });
  }
  const stateDir = await resolveStateDir(args, ctx);
  const log = { info: (l: string) => ctx.warn(l), warn: (l: string) => ctx.warn(l) };
  const guest = (args.guest as string | undefined) ?? 'hostdev';
  assertPrintable('--guest', guest);
  if (guest.length === 0 || guest.length > 64)
    throw inputError(
      'BAD_VALUE',
      `--guest is ${guest.length === 0 ? 'empty' : `${guest.length} characters long`}`,
      {
        hint: 'the name recorded in the journal and lease: 1 to 64 characters',
      },
    );
  const command = `hostdev ${action}`;
  const pci = await import('../pci/prepare.js');
  const { formatBinding } = await import('../pci/binding.js');

  if (action === 'detach') {
    const signal = ctx.deps.signal;
    const session = await pci.prepareDevices({
      host: ctx.host,
      stateDir,
      addresses: [address],
      driver: args.driver === 'pci-stub' ? 'pci-stub' : 'vfio-pci',
      group: Boolean(args.group),
      force: Boolean(args.force),
      reset: args.reset !== false,
      guest,
      command,
      log,
      ...(signal ? { signal } : {}),
    });
    if (signal?.aborted) {
      // interrupted after the last write: give everything back, then report the interruption
      await session.release();
      const { interruptedError } = await import('../errors.js');
      throw interruptedError((signal.reason as { signal?: string } | undefined)?.signal ?? 'abort');
    }
    await session.keep();
    if (ctx.json) {
      ctx.printJson({
        action,
        stateDir,
        journal: session.journalFile,
        devices: session.devices,
        warnings: session.warnings,
      });
    } else {
      for (const d of session.devices) {
        const change = d.changed ? `${formatBinding(d.original)} → ${d.driver}` : `already on ${d.driver}`;
        const reset = d.reset && d.reset.method !== 'skipped' ? `; reset: ${d.reset.detail}` : '';
        ctx.print(
          `${d.address}${d.vendorDevice ? ` [${d.vendorDevice}]` : ''}: ${change}${d.vfioNode ? ` (${d.vfioNode})` : ''}${reset}`,
        );
      }
      ctx.print(`kept detached; give back with: install-guest hostdev reattach ${address}`);
    }
    return 0;
  }
  if (action === 'reattach') {
    const r = await (await import('../pci/standalone.js')).reattachDevice({ host: ctx.host, stateDir, address, guest, command, log });
    if (ctx.json) ctx.printJson({ action, stateDir, ...r });
    else if (r.source === 'already')
      ctx.print(`${address}: already on ${formatBinding(r.before)}; nothing to do`);
    else
      ctx.print(
        `${address}: ${formatBinding(r.before)} → ${r.after ? formatBinding(r.after) : 'gone'}${
          r.source === 'kernel' ? ' (no journal record: the kernel chose the driver)' : ''
        }`,
      );
    return 0;
  }
  const r = await (await import('../pci/standalone.js')).resetDevice({
    host: ctx.host,
    stateDir,
    address,
    guest,
    command,
    log,
    force: Boolean(args.force),
  });
  if (ctx.json) ctx.printJson({ action, stateDir, ...r });
  else
    ctx.print(
      `${address}: ${r.method === 'skipped' ? `no reset needed: ${r.detail}` : `reset: ${r.detail}`}`,
    );
  return 0;
}
