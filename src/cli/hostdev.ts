/**
 * `install-guest hostdev <action>`: the host's PCI functions and whether each can be assigned.
 *
 *   hostdev list [--class net|storage|display|all] [--json]   an lspci-like table plus the verdict
 *   hostdev show DEVICE [--json]                             every reason with its evidence
 *   hostdev snapshot OUT                                     copy what the inventory reads into a tree
 *
 * DEVICE uses the --hostdev grammar (0000:03:00.0, 03:00.0, pci_0000_03_00_0, 8086:10d3, enp3s0,
 * auto). Actions that change the host (detach, reattach, reset) belong to device preparation and
 * are added to ACTIONS by that work.
 */
import type { Argv } from 'yargs';
import { prepOptions } from './hostdev-prepare.js';
import { connectOption, connectionOf, inventoryOf } from './connect.js';
import type { LibvirtConnection } from '../libvirt/connection.js';
import type { Host } from '../host/host.js';
import type { AssessContext } from '../pci/assignability.js';
import type { Args, CommandContext, CommandSpec } from './command.js';

export const ACTIONS = ['list', 'show', 'snapshot', 'detach', 'reattach', 'reset'] as const;
export type HostdevAction = (typeof ACTIONS)[number];

function commonContext(args: Args): { mgmtIfaces: string[]; force: boolean } {
  const raw = args.mgmtIface;
  const list = Array.isArray(raw) ? raw : raw === undefined ? [] : [raw];
  return {
    mgmtIfaces: list.flatMap((x) => String(x).split(',')).filter(Boolean),
    force: Boolean(args.force),
  };
}

/** The listing as `hostdev list` shows it: from the libvirt connection's nodedevs with --connect. */
async function readListing(host: Host, context: AssessContext, conn?: LibvirtConnection) {
  const { readListing: read } = await import('../pci/listing.js');
  return read(host, context, conn ? await inventoryOf(conn, host) : undefined);
}

async function runList(args: Args, ctx: CommandContext): Promise<number> {
  const render = await import('../pci/render.js');
  const conn = await connectionOf(args, ctx);
  const { inventory: inv, assessments } = await readListing(ctx.host, commonContext(args), conn);
  const filter = (args.class as 'net' | 'storage' | 'display' | 'all' | undefined) ?? 'all';
  if (ctx.json) ctx.printJson(render.listJson(inv, assessments, filter));
  else for (const line of render.listTable(inv, assessments, filter)) ctx.print(line);
  return 0;
}

async function runShow(args: Args, ctx: CommandContext): Promise<number> {
  const { inputError } = await import('../errors.js');
  const target = args.target as string | undefined;
  if (!target) {
    throw inputError('USAGE', 'hostdev show needs a DEVICE', {
      hint: 'e.g. install-guest hostdev show 0000:03:00.0 (or enp3s0, 8086:10d3, auto)',
    });
  }
  const [{ parseHostdevSpec, selectHostdev, describeCandidate }, render] = await Promise.all([
    import('../pci/hostdev-spec.js'),
    import('../pci/render.js'),
  ]);
  const spec = parseHostdevSpec(target);
  const inv = await inventoryOf(await connectionOf(args, ctx), ctx.host, { capabilities: true });
  const sel = selectHostdev(spec, inv, commonContext(args));
  if (sel.kind === 'none') {
    if (ctx.json) {
      ctx.printJson({ spec: spec.text, selected: null, message: sel.message, refused: sel.refused });
    } else {
      ctx.print(`auto: ${sel.message}; an install falls back to local media`);
      for (const r of sel.refused) {
        ctx.print(`  ${r.description}: ${r.assessment.verdict}`);
        for (const reason of r.assessment.reasons.filter((x) => x.severity === 'block')) {
          ctx.print(`      ${reason.code}: ${reason.message}`);
        }
      }
    }
    return 0;
  }
  if (ctx.json) {
    ctx.printJson({
      spec: spec.text,
      selected: sel.device.address,
      device: { ...sel.device, verdict: sel.assessment.verdict, reasons: sel.assessment.reasons },
      ...(sel.ranking ? { ranking: sel.ranking } : {}),
    });
    return 0;
  }
  if (sel.ranking) {
    ctx.print(`auto picks ${describeCandidate(sel.device)}; ranking (best first):`);
    for (const c of sel.ranking) ctx.print(`  ${c.address}  ${c.verdict}  ${c.why.join(', ')}`);
    ctx.print('');
  }
  for (const line of render.showText(sel.device, sel.assessment, inv)) ctx.print(line);
  return 0;
}

async function runSnapshot(args: Args, ctx: CommandContext): Promise<number> {
  const { inputError } = await import('../errors.js');
  const target = args.target as string | undefined;
  if (!target) {
    throw inputError('USAGE', 'hostdev snapshot needs an OUT directory or .tar.gz file', {
      hint: 'e.g. install-guest hostdev snapshot /tmp/host-snapshot',
    });
  }
  const { captureSnapshot } = await import('../pci/snapshot.js');
  const r = await captureSnapshot(ctx.host, target);
  if (ctx.json) ctx.printJson(r);
  else {
    ctx.print(`captured ${r.devices} PCI functions (${r.files} files, ${r.links} links) into ${r.out}`);
    if (/\.(tar\.gz|tgz)$/.test(r.out)) {
      const { shellWord } = await import('../host/check-dirs.js');
      const dir = shellWord(r.out.replace(/\.(tar\.gz|tgz)$/, ''));
      ctx.print(
        `read it back with: mkdir -p ${dir} && tar -xzf ${shellWord(r.out)} -C ${dir} && install-guest --host-root ${dir} hostdev list`,
      );
    } else ctx.print(`read it back with: install-guest --host-root ${r.out} hostdev list`);
  }
  return 0;
}

export const hostdevCommand: CommandSpec = {
  command: 'hostdev <action> [target]',
  describe: 'list host PCI devices with assignability verdicts, explain one, or snapshot what is read',
  builder: (y: Argv) =>
    connectOption(prepOptions(y))
      .positional('action', {
        choices: ACTIONS,
        describe: 'list | show DEVICE | snapshot OUT | detach DEVICE | reattach DEVICE | reset DEVICE',
      })
      .positional('target', {
        type: 'string',
        describe:
          'show: a device (0000:03:00.0, 03:00.0, pci_0000_03_00_0, 8086:10d3, enp3s0, auto); snapshot: OUT',
      })
      .option('class', {
        choices: ['net', 'storage', 'display', 'all'] as const,
        default: 'all',
        describe: 'list: only this class of device',
      })
      .option('mgmt-iface', {
        type: 'string',
        array: true,
        describe:
          'interfaces that carry management traffic and must never be assigned (repeat or comma-separate)',
      })
      .example('$0 hostdev list --class net', 'network functions and whether each can be assigned')
      .example(
        '$0 hostdev list --connect qemu+ssh://root@host/system',
        "another host's functions, from its libvirt",
      )
      .example('$0 hostdev show enp3s0', 'why the function behind enp3s0 can or cannot be assigned')
      .example('$0 hostdev show auto', 'which network function --hostdev auto would pick, and why')
      .example('$0 hostdev detach 0000:03:00.0', 'bind it to vfio-pci (journaled) and keep it there')
      .example('$0 hostdev reattach 0000:03:00.0', 'give it back to its original driver'),
  async run(args, ctx) {
    const action = args.action as HostdevAction;
    if (action === 'list') return runList(args, ctx);
    if (action === 'show') return runShow(args, ctx);
    if (action === 'snapshot') return runSnapshot(args, ctx);
    if (args.connect !== undefined) {
      const { inputError } = await import('../errors.js');
      throw inputError('CONNECT_NOT_SUPPORTED', `hostdev ${action} does not take --connect`, {
        hint: `libvirt detaches and gives back a managed device itself; on that host: virsh -c URI nodedev-${action === 'reattach' ? 'reattach' : action === 'reset' ? 'reset' : 'detach'} pci_DDDD_BB_SS_F`,
      });
    }
    if (!args.target) {
      const { inputError } = await import('../errors.js');
      throw inputError('USAGE', `hostdev ${action} needs a DEVICE`, {
        hint: `install-guest hostdev ${action} 0000:03:00.0`,
      });
    }
    const { runAction } = await import('./hostdev-prepare.js');
    return runAction(action, args, ctx);
  },
};
