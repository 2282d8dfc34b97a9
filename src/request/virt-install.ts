/**
 * What install-guest takes from virt-install 4.1's command line (virtinst/cli.py, virtinstall.py)
 * beyond the options it declares: the options it refuses and why, the NIC model names, how kernel
 * arguments from several sources are merged, and the kickstart idiom
 * (`--initrd-inject ks.cfg --extra-args "inst.ks=file:/ks.cfg"`). Pure; imported at start-up by the
 * CLI's usage-error handler, so it imports nothing but the errors module.
 */
import { inputError } from '../errors.js';

/**
 * virt-install options install-guest does not have, with the reason. A pasted command line that
 * uses one is refused with this line (exit 2) instead of yargs' bare "Unknown argument".
 */
export const VIRT_INSTALL_REFUSED: Readonly<Record<string, string>> = {
  pxe: 'a PXE install needs a boot server on the guest network; use --location with the same tree',
  livecd: 'a live CD installs nothing to confirm',
  install: '--install (os=/kernel=) picks media from libosinfo; give --location or --cdrom',
  reinstall: 're-installing an existing libvirt domain needs libvirt',
  container: 'install-guest makes full virtual machines only',
  paravirt: 'Xen paravirtual guests are not supported (KVM/qemu only)',
  hvm: 'every guest is a full (hvm) guest already: drop -v/--hvm',
  arch: 'install-guest installs x86_64 guests only',
  uuid: 'the UUID is generated per install',
  metadata: 'domain metadata is libvirt-only; edit the --print-xml output',
  description: 'domain metadata is libvirt-only; edit the --print-xml output',
  controller: 'controllers are placed by install-guest (a PCIe root port per assigned device)',
  input: 'the guest runs headless: no input devices',
  serial: "the serial console is install-guest's own (it watches the install on it)",
  parallel: 'no parallel ports',
  channel: 'no guest agent channels: confirmation runs from the installed disk',
  filesystem: 'no shared filesystems',
  sound: 'the guest runs headless: no sound',
  soundhw: 'the guest runs headless: no sound',
  audio: 'the guest runs headless: no sound',
  watchdog: 'no watchdog device',
  video: 'the guest runs headless: no video device',
  smartcard: 'no smartcard device',
  redirdev: 'no USB redirection',
  memballoon: 'no balloon: assigned devices pin all guest memory',
  panic: 'no panic device',
  shmem: 'no shared memory device',
  memdev: 'no memory hotplug devices',
  vsock: 'no vsock device',
  iommu: 'no guest IOMMU device',
  iothreads: 'domain tuning is libvirt-only; edit the --print-xml output',
  seclabel: 'security labels are libvirt-only',
  security: 'security labels are libvirt-only',
  keywrap: 'libvirt-only (s390 key wrapping)',
  cputune: 'domain tuning is libvirt-only; edit the --print-xml output',
  numatune: 'domain tuning is libvirt-only; edit the --print-xml output',
  memtune: 'domain tuning is libvirt-only; edit the --print-xml output',
  blkiotune: 'domain tuning is libvirt-only; edit the --print-xml output',
  memorybacking: 'memory is locked when a device is assigned; other backing is libvirt-only',
  features: 'the machine features are fixed (acpi, apic)',
  clock: 'the guest clock is utc',
  pm: 'no power management tuning',
  events: "on_poweroff/on_reboot are install-guest's own (it watches both boots)",
  resource: 'libvirt-only (resource partitions)',
  sysinfo: 'no SMBIOS overrides',
  'qemu-commandline': 'qemu arguments come from templates only (see --print-cmdline)',
  launchSecurity: 'no confidential-computing guests',
  launchsecurity: 'no confidential-computing guests',
  idmap: 'containers only',
  xml: 'XML edits are libvirt-only; edit the --print-xml output',
  file: 'the old -f/--file is gone from virt-install too: use --disk path=',
  'file-size': 'the old --file-size is gone: use --disk size=',
  nonsparse: 'use --disk sparse=no',
  nodisks: 'use --disk none',
  nonetworks: 'use --network none',
  bridge: 'use --network bridge=NAME',
  mac: 'use --network mac=',
  vnc: 'the guest runs headless: --graphics none',
  vncport: 'the guest runs headless: --graphics none',
  vnclisten: 'the guest runs headless: --graphics none',
  keymap: 'the guest runs headless: --graphics none',
  sdl: 'the guest runs headless: --graphics none',
  nographics: 'use --graphics none (the default)',
  accelerate: 'use --accel kvm (or --virt-type kvm)',
  noapic: 'the machine features are fixed (acpi, apic)',
  noacpi: 'the machine features are fixed (acpi, apic)',
  autostart: 'libvirt-only: define the --print-xml output and use virsh autostart',
  transient: 'install-guest guests are never defined in libvirt by the install itself',
  'destroy-on-exit': 'install-guest always stops the guest it started',
  replace: 'install-guest does not define libvirt domains, so there is nothing to replace',
  'print-step': 'use --print-xml (the installed guest) and --print-cmdline (both boots)',
  prompt: 'install-guest never prompts outside --interactive',
  quiet: 'output goes to stderr; use --json for machine-readable output',
  debug: 'the log dir keeps the serial logs, QMP transcripts and argvs',
  'os-type': 'removed from virt-install too: use --os-variant',
  'check-cpu': 'removed from virt-install too',
  cpuset: 'CPU pinning is libvirt-only',
  'test-media-detection': 'a virt-install test hook',
  connect: 'install-guest runs qemu itself; libvirt URIs need the libvirt backend',
};

/** `Unknown argument(s): a, b` from yargs' strict mode → one line naming the first unknown option. */
export function unknownOptionError(message: string): Error | undefined {
  const m = /^Unknown arguments?: (.+)$/.exec(message);
  if (!m) return undefined;
  // yargs lists an option's camelCase twin too (such-option, suchOption): one name each
  const names = [
    ...new Set(m[1]!.split(', ').map((s) => s.trim().replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`))),
  ];
  const known = names.find((n) => VIRT_INSTALL_REFUSED[n] !== undefined);
  if (known) {
    const flag = known.length === 1 ? `-${known}` : `--${known}`;
    return inputError(
      'UNSUPPORTED_OPTION',
      `${flag} is a virt-install option install-guest does not have: ${VIRT_INSTALL_REFUSED[known]}`,
      { hint: 'drop it from the command line; see README "Coming from virt-install"' },
    );
  }
  const first = names[0]!;
  const flag = first.length === 1 ? `-${first}` : `--${first}`;
  return inputError(
    'USAGE',
    `unknown option ${flag}${names.length > 1 ? ` (and ${names.slice(1).join(', ')})` : ''}: neither install-guest nor virt-install has it`,
    { hint: 'see install-guest --help' },
  );
}

/**
 * virt-install/libvirt NIC model names (and qemu device names, accepted as they are) → the qemu
 * device install-guest renders. `--network model=virtio` is virtio-net-pci, as libvirt renders it.
 */
export const NIC_MODEL_DEVICES: Readonly<Record<string, string>> = {
  virtio: 'virtio-net-pci',
  'virtio-net-pci': 'virtio-net-pci',
  'virtio-transitional': 'virtio-net-pci-transitional',
  'virtio-non-transitional': 'virtio-net-pci-non-transitional',
  e1000e: 'e1000e',
  e1000: 'e1000',
  igb: 'igb',
  rtl8139: 'rtl8139',
  ne2k_pci: 'ne2k_pci',
  pcnet: 'pcnet',
  vmxnet3: 'vmxnet3',
};

/** the libvirt `<model type=…>` of a qemu NIC device */
export function libvirtNicModel(device: string): string {
  if (device === 'virtio-net-pci') return 'virtio';
  if (device === 'virtio-net-pci-transitional') return 'virtio-transitional';
  if (device === 'virtio-net-pci-non-transitional') return 'virtio-non-transitional';
  return device;
}

/** A kernel argument's key: the text before `=`, with anaconda's `inst.` prefix folded (`ks` ≡ `inst.ks`). */
function argKey(arg: string): string {
  const eq = arg.indexOf('=');
  const key = eq < 0 ? arg : arg.slice(0, eq);
  return key.replace(/^inst\./, '');
}

/** keys a later source replaces rather than adds to (several console= are legal, so the set is replaced) */
const SINGLE_KEYS = new Set([
  'ks',
  'repo',
  'stage2',
  'preseed/file',
  'preseed/url',
  'url',
  'auto',
  'priority',
]);

/**
 * Kernel arguments from several sources, in order (media, answer-file delivery, --boot kernel_args,
 * --extra-args): an identical argument is kept once; a later source's `ks=`/`inst.ks=`, `repo=`,
 * `preseed/file=`, … replaces an earlier one; a later source that names any `console=` replaces
 * the earlier consoles.
 */
export function mergeKernelArgs(...sources: (string | readonly string[] | undefined)[]): string {
  let out: string[] = [];
  for (const src of sources) {
    if (src === undefined) continue;
    const args = (typeof src === 'string' ? src.split(/\s+/) : [...src]).flatMap((a) => a.split(/\s+/));
    const mine = args.filter(Boolean);
    const keys = new Set(mine.map(argKey));
    out = out.filter(
      (a) =>
        !(SINGLE_KEYS.has(argKey(a)) && keys.has(argKey(a))) &&
        !(argKey(a) === 'console' && keys.has('console')),
    );
    for (const a of mine) if (!out.includes(a)) out.push(a);
  }
  return out.join(' ');
}

/** `added` appended to `base`, leaving out what `base` already says (the same argument, or the same single-valued key). */
export function addKernelArgs(base: string, added: readonly string[]): string {
  const have = base.split(/\s+/).filter(Boolean);
  const keys = new Set(have.map(argKey));
  const extra = added.filter(
    (a) => !have.includes(a) && !(SINGLE_KEYS.has(argKey(a)) && keys.has(argKey(a))),
  );
  return mergeKernelArgs(have, extra);
}

/**
 * The kickstart idiom: a file given to --initrd-inject that --extra-args names as the answer file
 * (`inst.ks=file:/ks.cfg`, `ks=file:/ks.cfg`, `preseed/file=/preseed.cfg`; d-i also reads
 * /preseed.cfg by itself). Returns the injected path and the name it has in the initrd root.
 */
export function kickstartIdiom(
  extraArgs: string | undefined,
  inject: readonly string[],
): { path: string; name: string } | undefined {
  const args = (extraArgs ?? '').split(/\s+/).filter(Boolean);
  const named: string[] = [];
  for (const a of args) {
    const m = /^(?:inst\.)?ks=file:\/*(.+)$/.exec(a) ?? /^(?:preseed\/)?file=\/*(.+)$/.exec(a);
    if (m) named.push(m[1]!);
  }
  for (const p of inject) {
    const base = p.split('/').pop()!;
    if (named.includes(base)) return { path: p, name: base };
  }
  const preseed = inject.find((p) => p.split('/').pop() === 'preseed.cfg');
  return preseed ? { path: preseed, name: 'preseed.cfg' } : undefined;
}
