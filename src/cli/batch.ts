/**
 * `install-guest batch MANIFEST`: many guests from one manifest (YAML or JSON), with a device pool
 * and a concurrency limit. Only yargs is needed to declare the options; the work is imported lazily.
 */
import type { Argv } from 'yargs';
import type { CommandSpec } from './command.js';
import { connectOption } from './connect.js';

export function batchOptions(y: Argv): Argv {
  return connectOption(y)
    .positional('manifest', {
      type: 'string',
      describe: 'the batch manifest (YAML or JSON; format: templates/batch/manifest.schema.json)',
    })
    .option('dry-run', { type: 'boolean', describe: 'check the manifest and print the plan; change nothing' })
    .option('concurrency', {
      type: 'string',
      describe: 'how many guests install at once (default 1)   e.g. --concurrency 2',
    })
    .option('fail-fast', {
      type: 'boolean',
      describe: 'a guest that would wait for a device fails at once, and no guest starts after a failure',
    })
    .option('junit', { type: 'string', describe: 'write a JUnit XML report: one case per guest and phase' })
    .option('resume', {
      type: 'boolean',
      describe: 'skip guests that passed in an earlier run of this batch with unchanged inputs',
    })
    .option('log-dir', {
      type: 'string',
      describe: 'the batch log dir, one folder per guest (default ./NAME-logs)',
    })
    .option('state-dir', { type: 'string', describe: 'where --resume records live (default LOG-DIR/state)' })
    .option('inventory', {
      type: 'string',
      describe:
        "the device pool as a JSON list of { address, vendorDevice, class, iommuGroup } instead of the host's PCI functions (the default: what `hostdev list` shows as assignable, whole IOMMU groups)",
    })
    .option('mgmt-iface', {
      type: 'string',
      array: true,
      describe:
        'interfaces that carry management traffic: their functions stay out of the pool (repeat or comma-separate)',
    })
    .option('print-xml', {
      type: 'boolean',
      describe: 'print the libvirt domain XML of each installed guest',
    })
    .option('print-kubevirt', {
      type: 'boolean',
      describe: 'print KubeVirt VirtualMachines and the KubeVirt CR permittedHostDevices they need (YAML)',
    })
    .example(
      '$0 batch fleet.yaml --dry-run --inventory pool.json',
      'check a manifest and see who gets which device',
    )
    .example('$0 batch fleet.yaml --concurrency 2 --junit report.xml', 'install every guest, two at a time')
    .example(
      '$0 batch fleet.yaml --connect qemu:///system',
      "every guest as a libvirt domain there (or list several hosts under the manifest's hosts:)",
    );
}

export const batchCommand: CommandSpec = {
  command: 'batch <manifest>',
  describe: 'install many guests from a manifest, sharing a pool of host devices',
  builder: batchOptions,
  async run(args, ctx) {
    if (typeof args.stateDir === 'string') {
      const { checkStateDir } = await import('../host/check-dirs.js');
      const dir = (await import('node:path')).resolve(ctx.deps.cwd, args.stateDir);
      await checkStateDir(dir, { source: '--state-dir', entries: ['guests'] });
    }
    const { runBatchCommand } = await import('../batch/command.js');
    return runBatchCommand(args, ctx);
  },
};
