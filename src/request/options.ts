/**
 * Every install option, once: its RawInstallArgs key, its command-line spelling and its kind, in the
 * order `install --help` lists them. The Record type makes the compiler check that no key of
 * RawInstallArgs is missing. Used to pick the install options out of parsed args and to turn a
 * request back into its canonical command line (the wizard's summary).
 */
import type { RawInstallArgs } from './request.js';

/** value: `--opt X`; list: repeatable; flag: `--opt` when true; negatable: `--no-opt` when false */
export type OptionKind = 'value' | 'list' | 'flag' | 'negatable';

export const INSTALL_OPTIONS: Readonly<
  Record<keyof RawInstallArgs, readonly [option: string, kind: OptionKind]>
> = {
  name: ['--name', 'value'],
  memory: ['--memory', 'value'],
  vcpus: ['--vcpus', 'value'],
  cpu: ['--cpu', 'value'],
  machine: ['--machine', 'value'],
  iommu: ['--iommu', 'value'],
  accel: ['--accel', 'value'],
  disk: ['--disk', 'list'],
  osVariant: ['--os-variant', 'value'],
  location: ['--location', 'value'],
  cdrom: ['--cdrom', 'value'],
  fallbackLocation: ['--fallback-location', 'value'],
  import: ['--import', 'flag'],
  boot: ['--boot', 'value'],
  extraArgs: ['--extra-args', 'value'],
  initrdInject: ['--initrd-inject', 'list'],
  kickstart: ['--kickstart', 'value'],
  kickstartDelivery: ['--kickstart-delivery', 'value'],
  ksSet: ['--ks-set', 'list'],
  confirmUnit: ['--confirm-unit', 'negatable'],
  cloudInit: ['--cloud-init', 'value'],
  unattended: ['--unattended', 'value'],
  hostdev: ['--hostdev', 'list'],
  driver: ['--driver', 'value'],
  group: ['--group', 'flag'],
  force: ['--force', 'flag'],
  keepDevice: ['--keep-device', 'flag'],
  stateDir: ['--state-dir', 'value'],
  network: ['--network', 'value'],
  graphics: ['--graphics', 'value'],
  tpm: ['--tpm', 'value'],
  rng: ['--rng', 'value'],
  console: ['--console', 'value'],
  autoconsole: ['--autoconsole', 'value'],
  noautoconsole: ['--noautoconsole', 'flag'],
  check: ['--check', 'list'],
  virtType: ['--virt-type', 'value'],
  noreboot: ['--noreboot', 'flag'],
  wait: ['--wait', 'value'],
  stallTimeout: ['--stall-timeout', 'value'],
  earlyBootTimeout: ['--early-boot-timeout', 'value'],
  dryRun: ['--dry-run', 'flag'],
  printCmdline: ['--print-cmdline', 'flag'],
  printXml: ['--print-xml', 'flag'],
  printKubevirt: ['--print-kubevirt', 'flag'],
  publishBase: ['--publish-base', 'flag'],
  baseCache: ['--base-cache', 'value'],
  logDir: ['--log-dir', 'value'],
  onError: ['--on-error', 'value'],
  qemuBinary: ['--qemu-binary', 'value'],
  json: ['--json', 'flag'],
};

/** The install options present in parsed yargs args. */
export function pickInstallArgs(args: Record<string, unknown>): RawInstallArgs {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(INSTALL_OPTIONS)) if (args[k] !== undefined) out[k] = args[k];
  return out;
}
