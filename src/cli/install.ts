/**
 * `install-guest install` (the default command): virt-install's option names and grammars.
 * Only yargs is needed to declare the options; the pipeline is imported when the command runs.
 */
import type { Argv } from 'yargs';
import type { CommandSpec } from './command.js';
import { connectOption } from './connect.js';

const G = 'Guest:';
const M = 'Install media:';
const D = 'Devices:';
const R = 'Run:';

export function installOptions(y: Argv): Argv {
  return connectOption(y, R)
    .option('transient', {
      group: R,
      type: 'boolean',
      describe: 'with --connect: leave no domain defined after the install (the disk volume stays)',
    })
    .option('name', {
      group: G,
      type: 'string',
      describe: 'guest name (commas are fine: escaped for qemu)   e.g. --name web1',
    })
    .option('memory', {
      group: G,
      type: 'string',
      describe:
        'memory in MiB, or with a unit; all of it is pinned when a device is assigned   e.g. --memory 2048, --memory 2G',
    })
    .option('vcpus', {
      group: G,
      type: 'string',
      describe: 'N or vcpus=N,sockets=S,cores=C,threads=T   e.g. --vcpus 2',
    })
    .option('cpu', {
      group: G,
      type: 'string',
      describe: 'CPU model (default: host with kvm, max with tcg)   e.g. --cpu host-passthrough',
    })
    .option('machine', {
      group: G,
      type: 'string',
      describe: 'machine type (default q35)   e.g. --machine pc',
    })
    .option('accel', {
      group: G,
      type: 'string',
      describe: 'kvm|tcg|auto: auto uses kvm when /dev/kvm is usable, else tcg with a warning',
      default: 'auto',
    })
    .option('disk', {
      group: G,
      type: 'string',
      array: true,
      describe:
        'path=,size=(GiB),format=qcow2|raw,bus=virtio|sata|scsi|ide (repeatable)   e.g. --disk size=8, --disk path=/var/lib/g.qcow2,size=20',
    })
    .option('os-variant', {
      group: G,
      type: 'string',
      describe: 'the OS being installed (picks the kickstart family)   e.g. --os-variant fedora40, debian12',
    })
    .option('location', {
      group: M,
      type: 'string',
      describe:
        'install tree: http(s) URL, local directory or ISO file   e.g. --location https://mirror/fedora/40/Everything/x86_64/os/',
    })
    .option('fallback-location', {
      group: M,
      type: 'string',
      describe:
        'local tree or ISO to install from instead of network media when --hostdev auto finds no assignable NIC   e.g. --fallback-location ./Fedora-40-dvd.iso',
    })
    .option('cdrom', {
      group: M,
      type: 'string',
      describe: 'boot the install from this ISO   e.g. --cdrom Fedora-40.iso',
    })
    .option('import', {
      group: M,
      type: 'boolean',
      describe: 'no install: boot the existing --disk and confirm the device',
    })
    .option('boot', {
      group: M,
      type: 'string',
      describe:
        'kernel=PATH,initrd=PATH,kernel_args="…": direct kernel boot   e.g. --boot kernel=vmlinuz,initrd=initrd.img',
    })
    .option('extra-args', {
      group: M,
      type: 'string',
      describe: 'kernel arguments added to the install boot   e.g. --extra-args "inst.text"',
    })
    .option('initrd-inject', {
      group: M,
      type: 'string',
      array: true,
      describe: 'file copied into the installer initrd root (repeatable)   e.g. --initrd-inject ks.cfg',
    })
    .option('kickstart', {
      group: M,
      type: 'string',
      describe:
        'answer file: a kickstart/preseed FILE (the confirmation unit is added) or a built-in template: fedora, debian (default: chosen by the media family)   e.g. --kickstart ks.cfg',
    })
    .option('ks-set', {
      group: M,
      type: 'string',
      array: true,
      describe:
        'a built-in template variable, dotted keys allowed (repeatable)   e.g. --ks-set hostname=web1 --ks-set rootPasswordFile=/root/pw',
    })
    .option('confirm-unit', {
      group: M,
      type: 'boolean',
      default: true,
      describe: 'add the in-guest confirmation unit to the answer file (--no-confirm-unit to leave it out)',
    })
    .option('hostdev', {
      group: D,
      type: 'string',
      array: true,
      describe:
        'host PCI device to assign (repeatable): 0000:03:00.0 | 03:00.0 | pci_0000_03_00_0 | 8086:10d3 | enp3s0 | auto, with ,rom.bar=on|off ,rom.file=PATH ,multifunction=on   e.g. --hostdev 0000:03:00.0,rom.bar=off',
    })
    .option('driver', {
      group: D,
      type: 'string',
      describe:
        'vfio-pci|pci-stub: the stub the --hostdev devices are bound to (default vfio-pci; pci-stub is legacy: it only reserves a device)',
    })
    .option('group', {
      group: D,
      type: 'boolean',
      describe: "also detach the other endpoint members of each device's IOMMU group (bridges stay)",
    })
    .option('force', {
      group: D,
      type: 'boolean',
      describe:
        "detach even a NIC carrying the host's default route, a mounted disk's controller, or a device whose /dev/vfio group is open",
    })
    .option('keep-device', {
      group: D,
      type: 'boolean',
      describe:
        'leave the devices on vfio-pci after a successful install (install-guest hostdev reattach gives them back)',
    })
    .option('network', {
      group: D,
      type: 'string',
      describe:
        'user | bridge=NAME | none, with ,mac= ,model= (default user)   e.g. --network bridge=br0,model=virtio-net-pci',
    })
    .option('graphics', {
      group: D,
      type: 'string',
      describe: 'none (the only mode: headless, serial console)',
    })
    .option('noreboot', {
      group: R,
      type: 'boolean',
      describe: 'stop after the install phase; do not boot the installed disk to confirm',
    })
    .option('wait', {
      group: R,
      type: 'string',
      describe: 'overall limit for the install, minutes (exit 4 when exceeded)   e.g. --wait 30',
    })
    .option('stall-timeout', {
      group: R,
      type: 'string',
      describe:
        'no new console output for this long ends the install, seconds (exit 4; default 600)   e.g. --stall-timeout 900',
    })
    .option('dry-run', {
      group: R,
      type: 'boolean',
      describe: 'change nothing on the host; print what would run',
    })
    .option('print-cmdline', {
      group: R,
      type: 'boolean',
      describe: 'print both qemu argvs (install boot, confirm boot), one argument per line',
    })
    .option('print-xml', {
      group: R,
      type: 'boolean',
      describe:
        'print the libvirt domain XML of the installed guest (devices as managed <hostdev>; also LOG-DIR/domain.xml); with --dry-run, of the guest it would install',
    })
    .option('print-kubevirt', {
      group: R,
      type: 'boolean',
      describe:
        'print a KubeVirt VirtualMachine with hostDevices and the permittedHostDevices the cluster needs (also LOG-DIR/kubevirt.yaml)',
    })
    .option('log-dir', {
      group: R,
      type: 'string',
      describe: 'where serial logs, QMP transcripts, argvs and timings go (default ./NAME-logs)',
    })
    .option('on-error', {
      group: R,
      type: 'string',
      describe: 'cleanup|keep: keep leaves work files and devices for a post-mortem',
      default: 'cleanup',
    })
    .option('state-dir', {
      group: R,
      type: 'string',
      describe: 'where the device journal and leases live (default /var/lib/install-guest)',
    })
    .option('qemu-binary', {
      group: R,
      type: 'string',
      describe: 'qemu system emulator to run (default qemu-system-x86_64)',
    })
    .example(
      '$0 install --name web1 --memory 2G --disk size=8 --location https://mirror/fedora/40/os/ --hostdev auto',
      'install with an assignable NIC chosen for you',
    )
    .example(
      "$0 install --dry-run --print-cmdline --name 'web,1' --disk size=4 --hostdev 0000:03:00.0 --boot kernel=vmlinuz,initrd=initrd.img",
      'print both qemu command lines, change nothing',
    );
}

export const installCommand: CommandSpec = {
  command: ['install', '$0'],
  describe: 'install a guest with host PCI devices assigned, then confirm the guest sees them',
  // interactive install (the wizard, src/cli/wizard.ts): a mode of the command, not an install option
  builder: (y) =>
    installOptions(y).option('interactive', {
      group: R,
      type: 'boolean',
      describe:
        "ask step by step in the terminal (name, media, network or a host device, disk, kickstart), show the equivalent command line, then run it; options given are the answers' defaults",
    }),
  async run(args, ctx) {
    // interactive install: --interactive, or no argument at all (offered on a terminal)
    if (args.interactive || ctx.deps.argv.length === 0) {
      const { installOrWizard } = await import('./wizard.js');
      return installOrWizard(args, ctx);
    }
    const { runInstall } = await import('../pipeline/run-install.js');
    return runInstall(args, ctx);
  },
};
