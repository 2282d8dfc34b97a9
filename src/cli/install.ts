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
      alias: 'n',
      type: 'string',
      describe: 'guest name (commas are fine: escaped for qemu)   e.g. --name web1',
    })
    .option('memory', {
      group: G,
      alias: ['ram', 'r'],
      type: 'string',
      describe:
        'memory in MiB (a whole number, 16 MiB–16 TiB), or with a unit; all of it is pinned when a device is assigned; maxmemory=/currentMemory= only when equal (no balloon)   e.g. --memory 2048, --memory 2G',
    })
    .option('vcpus', {
      group: G,
      type: 'string',
      describe:
        'N[,maxvcpus=M][,sockets=S,cores=C,threads=T] (at most 288)   e.g. --vcpus 2, --vcpus 2,maxvcpus=4',
    })
    .option('cpu', {
      group: G,
      type: 'string',
      describe:
        'CPU model and features, passed to qemu as written (default: host with kvm, max with tcg)   e.g. --cpu host,arch-capabilities=off',
    })
    .option('machine', {
      group: G,
      type: 'string',
      describe:
        'machine type and properties (default q35)   e.g. --machine pc, --machine q35,kernel-irqchip=split',
    })
    .option('iommu', {
      group: G,
      type: 'string',
      describe:
        'a guest vIOMMU: model=intel[,driver.intremap=on|off,driver.caching_mode=on|off,driver.eim=,driver.iotlb=]   e.g. --iommu model=intel',
    })
    .option('accel', {
      group: G,
      type: 'string',
      describe:
        'kvm|tcg|auto: auto uses kvm when /dev/kvm is usable, the CPU has vmx/svm and a launch probe passes, else tcg with a warning naming why',
      default: 'auto',
    })
    .option('virt-type', {
      group: G,
      type: 'string',
      describe: "virt-install's spelling of --accel: kvm → kvm, qemu → tcg",
    })
    .option('disk', {
      group: G,
      type: 'string',
      array: true,
      describe:
        'none | PATH or path=,size=(GiB),format=qcow2|raw,bus=virtio|sata|scsi|ide,cache=,io=,discard=,serial=,readonly=,sparse=,boot.order= (repeatable)   e.g. --disk size=8, --disk /var/lib/g.qcow2,size=20,cache=none',
    })
    .option('os-variant', {
      group: G,
      alias: 'osinfo',
      type: 'string',
      describe:
        'the OS being installed (picks the kickstart family); NAME or name=,detect=on,require=off   e.g. --os-variant fedora40, --osinfo debian12',
    })
    .option('location', {
      group: M,
      alias: 'l',
      type: 'string',
      describe:
        'install tree: http(s) URL, local directory or ISO file (a local tree takes ,kernel=,initrd=)   e.g. --location https://mirror/fedora/40/Everything/x86_64/os/',
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
      // virt-install takes --boot more than once (--boot uefi --boot kernel=…): one list of settings
      coerce: (v: unknown) => (Array.isArray(v) ? v.map(String).join(',') : v),
      describe:
        'kernel=PATH,initrd=PATH,kernel_args="…": direct kernel boot; uefi | firmware=efi | loader=PATH: UEFI (OVMF)   e.g. --boot kernel=vmlinuz,initrd=initrd.img, --boot uefi',
    })
    .option('extra-args', {
      group: M,
      alias: 'x',
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
    .option('kickstart-delivery', {
      group: M,
      type: 'string',
      choices: ['auto', 'initrd', 'oemdrv', 'http'],
      describe:
        'how the answer file reaches the installer: auto (initrd for a kernel boot, OEMDRV volume for a cdrom boot), initrd, oemdrv, or http (served on 127.0.0.1 to a --network user guest, stopped with the install)   e.g. --kickstart-delivery http',
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
    .option('cloud-init', {
      group: M,
      type: 'string',
      describe:
        "with --import: configure the disk's first boot with cloud-init (a NoCloud seed): root-password-generate=on, root-password-file=, root-ssh-key=, clouduser-ssh-key=, user-data=, meta-data=, network-config=, disable=on, seed=iso|smbios (bare: your ssh key for root, else a generated password)   e.g. --cloud-init root-ssh-key=id_ed25519.pub",
    })
    .option('unattended', {
      group: M,
      type: 'string',
      describe:
        'the built-in answer file for the media, with [profile=jeos,admin-password-file=,user-login=,user-password-file=] (secrets from files only)   e.g. --unattended admin-password-file=root.pw',
    })
    .option('hostdev', {
      group: D,
      alias: 'host-device',
      type: 'string',
      array: true,
      describe:
        'host PCI device to assign (repeatable): 0000:03:00.0 | 03:00.0 | pci_0000_03_00_0 | 8086:10d3 | enp3s0 | auto, with ,rom.bar=on|off ,rom.file=PATH ,multifunction=on ,address.type=pci,address.bus=,address.slot=,address.function= (where the guest sees it) ,driver.name=vfio   e.g. --hostdev 0000:03:00.0,rom.bar=off',
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
      alias: 'w',
      type: 'string',
      describe:
        'user | bridge=NAME (or bridge:NAME) | none, with ,mac= ,model=virtio|e1000e|e1000|rtl8139|… (default user, virtio)   e.g. --network bridge=br0,model=virtio',
    })
    .option('tpm', {
      group: D,
      type: 'string',
      describe:
        'default | emulator[,model=tpm-crb|tpm-tis]: a TPM 2.0 emulated by swtpm, in --dry-run plans and --print-xml only (an install run refuses it)   e.g. --tpm emulator',
    })
    .option('rng', {
      group: D,
      type: 'string',
      describe: 'a virtio RNG fed from /dev/urandom (or /dev/random)   e.g. --rng /dev/urandom',
    })
    .option('graphics', {
      group: D,
      type: 'string',
      describe: 'none (the only mode: headless, serial console)',
    })
    .option('console', {
      group: D,
      type: 'string',
      describe: 'pty,target_type=serial (the only console: install-guest watches the serial port)',
    })
    .option('noreboot', {
      group: R,
      type: 'boolean',
      describe: 'stop after the install phase; do not boot the installed disk to confirm',
    })
    .option('wait', {
      group: R,
      type: 'string',
      describe:
        'overall limit for the install, minutes (exit 4 when exceeded); -1: no overall limit (the stall timeout still applies)   e.g. --wait 30',
    })
    .option('autoconsole', {
      group: R,
      type: 'string',
      describe: 'none|text: accepted (install-guest never attaches a console; it watches the serial log)',
    })
    .option('noautoconsole', {
      group: R,
      type: 'boolean',
      describe: 'accepted (install-guest never attaches a console)',
    })
    .option('check', {
      group: R,
      type: 'string',
      array: true,
      describe: "accepted for virt-install command lines; install-guest's own checks always run",
    })
    .option('stall-timeout', {
      group: R,
      type: 'string',
      describe:
        'no new console output for this long ends the install, seconds (exit 4; default 600)   e.g. --stall-timeout 900',
    })
    .option('early-boot-timeout', {
      group: R,
      type: 'string',
      describe:
        'no kernel output this long after the guest starts means it hung in early boot, seconds (default 60 under kvm, off under tcg): auto accel restarts the boot under tcg, otherwise exit 4   e.g. --early-boot-timeout 30',
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
    .option('publish-base', {
      group: R,
      type: 'boolean',
      describe:
        'after the install is confirmed, move its disk into the base cache, read-only, under the key of its inputs (printed; with --dry-run, the key it would have) for install-guest provision --base KEY',
    })
    .option('base-cache', {
      group: R,
      type: 'string',
      describe:
        'the base cache --publish-base writes to (default $INSTALL_GUEST_CACHE or ~/.cache/install-guest)',
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
      return installOrWizard(args, ctx, installOptions);
    }
    if (typeof args.stateDir === 'string') {
      // checked before anything else runs, dry run included (src/host/check-dirs.ts)
      const { checkStateDir } = await import('../host/check-dirs.js');
      const dir = (await import('node:path')).resolve(ctx.deps.cwd, args.stateDir);
      await checkStateDir(dir, { source: '--state-dir' });
    }
    const { runInstall } = await import('../pipeline/run-install.js');
    return runInstall(args, ctx);
  },
};
