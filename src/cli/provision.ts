/**
 * `install-guest provision --base KEY|IMAGE`: a copy-on-write overlay of an installed base image,
 * booted with the assigned device (the install pipeline's --import path). Options are declared
 * cheaply; the work is imported lazily.
 */
import type { Argv } from 'yargs';
import type { CommandSpec } from './command.js';
import { connectOption } from './connect.js';

export function provisionOptions(y: Argv): Argv {
  return connectOption(y)
    .option('transient', {
      type: 'boolean',
      describe: 'with --connect: leave no domain defined after the boot',
    })
    .option('base', {
      type: 'string',
      demandOption: true,
      describe: 'a base key in the cache (64 hex digits) or a base image file',
    })
    .option('cache', {
      type: 'string',
      describe: 'the base cache (default $INSTALL_GUEST_CACHE or ~/.cache/install-guest)',
    })
    .option('name', { type: 'string', describe: 'guest name (default: from the base)' })
    .option('out', { type: 'string', describe: 'the overlay file to create (default ./NAME.qcow2)' })
    .option('hostdev', { type: 'string', array: true, describe: 'host PCI device to assign, as for install' })
    .option('memory', { type: 'string', describe: 'as for install' })
    .option('vcpus', { type: 'string', describe: 'as for install' })
    .option('cpu', { type: 'string', describe: 'as for install' })
    .option('machine', { type: 'string', describe: 'as for install' })
    .option('accel', { type: 'string', describe: 'kvm|tcg|auto, as for install' })
    .option('network', { type: 'string', describe: 'as for install' })
    .option('cloud-init', {
      type: 'string',
      describe: 'as for install: each overlay gets a fresh instance-id, so cloud-init runs again',
    })
    .option('wait', { type: 'string', describe: 'as for install' })
    .option('log-dir', { type: 'string', describe: 'as for install' })
    .option('on-error', {
      type: 'string',
      describe: 'cleanup|keep: keep leaves the overlay after a failed boot',
    })
    .option('qemu-binary', { type: 'string', describe: 'as for install' })
    .option('dry-run', {
      type: 'boolean',
      describe: 'create nothing; print the overlay command and the boot plan',
    })
    .option('print-xml', {
      type: 'boolean',
      describe:
        'create the overlay and print its libvirt domain XML instead of booting it (for virsh define)',
    })
    .option('print-kubevirt', {
      type: 'boolean',
      describe: 'create the overlay and print a KubeVirt VirtualMachine for it instead of booting it',
    })
    .example(
      '$0 provision --base 3f1c…e9 --name ci-42 --hostdev 0000:03:00.0',
      'boot a fresh overlay of a cached base',
    )
    .example(
      '$0 provision --base base.qcow2 --name web7 --hostdev 0000:03:00.0 --print-xml > web7.xml',
      'a guest for virsh define',
    );
}

export const provisionCommand: CommandSpec = {
  command: 'provision',
  describe: 'boot a copy-on-write overlay of an installed base image with a host device (CI)',
  builder: provisionOptions,
  async run(args, ctx) {
    const { runProvisionCommand } = await import('../batch/provision-command.js');
    return runProvisionCommand(args, ctx);
  },
};
