/** The typed state of one install: each field is written by the stage named beside it. */
import type { AssignedDevice, BootMedia } from '../qemu/command.js';
import type { ConfirmReport } from '../kickstart/confirm.js';
import type { InstallRequest, NetworkRequest, RawInstallArgs } from '../request/request.js';
import type { LibvirtState } from '../libvirt/install.js';

export interface SelectedDevice extends AssignedDevice {
  /** vendor:device as lowercase hex, e.g. 8086:10d3, when the host shows it */
  vendorDevice?: string;
  subsystem?: string;
  driver?: string | null;
  iommuGroup?: string | null;
  /** the MAC of the device's network interface, for a NIC */
  mac?: string;
  /** why this device (for `auto`), or a warning in a dry run */
  note?: string;
}

export interface MediaState {
  /** what was given: the location, cdrom or kernel path */
  source: string;
  kind: 'kernel-initrd' | 'cdrom' | 'tree-local' | 'tree-http' | 'iso' | 'disk';
  family?: string;
  installer?: string;
  version?: string;
  arch?: string;
  boot: BootMedia;
  /** an install ISO attached read-only beside a direct kernel boot (anaconda's stage2 lives on it) */
  attachCdrom?: string;
  /** why local media replaced network media, when it did */
  fallbackReason?: string;
}

export interface InstallState {
  raw: RawInstallArgs;
  cwd: string;
  /** where fetched media are cached (content-addressed) */
  cacheDir?: string;
  /** resolve-media: a local tree served to the guest over HTTP, stopped in cleanup */
  servedTree?: { guestUrl: string; close(): Promise<void> };
  /** validate-request */
  request?: InstallRequest;
  /** prepare-workdir: private (0700) temp dir for sockets and generated files */
  workDir?: string;
  logDir?: string;
  /** the accelerator actually used (auto resolved) */
  accel?: 'kvm' | 'tcg';
  uuid?: string;
  mac?: string;
  /** resolve-media */
  media?: MediaState;
  /** select-device */
  devices?: SelectedDevice[];
  network?: NetworkRequest;
  /** prepare-device: devices now bound to the stub driver */
  prepared?: SelectedDevice[];
  /** render-kickstart: the answer file and how it reaches the installer */
  answerFile?: {
    family: 'kickstart' | 'preseed';
    source: string;
    delivery: 'initrd' | 'oemdrv' | 'http';
    fileName: string;
    /** the redacted copy in the log dir */
    redactedPath?: string;
  };
  /** render-kickstart: read-only cdroms added to the install boot (the OEMDRV volume) */
  extraCdroms?: string[];
  /** prepare-disk: disks created by this run (removed again if the install fails) */
  createdDisks?: string[];
  /** build-command */
  argv?: { install: string[]; confirm: string[] };
  warnings?: string[];
  /** select-device: why no device was assigned (auto found none) */
  fallbackReason?: string;
  /** select-device: the local media (--fallback-location) that replace network media after a fallback */
  fallbackMedia?: { location: string };
  /** --connect URI (or LIBVIRT_DEFAULT_URI) and --transient: run the guest as a libvirt domain there */
  connect?: { uri: string; transient: boolean };
  /**
   * connect-libvirt (--connect / LIBVIRT_DEFAULT_URI): the libvirt host that runs the guest, and
   * what this run created there (recorded as it goes, so cleanup sees a half-finished run)
   */
  libvirt?: LibvirtState;
  /** launch-qemu: how the install boot ended, and its files */
  installRun?: PhaseRun & {
    how: 'poweroff' | 'reboot-request';
    shutdownReason: string;
    /** the console rule pack used */
    rules: string;
    resets: number;
    serialBytes: number;
    /** console warnings (rule message: line) */
    warnings: string[];
  };
  /** reboot-and-confirm: what the installed guest showed */
  confirm?: ConfirmState;
  /** report: the final result object (also `<logDir>/result.json`) */
  result?: Record<string, unknown>;
}

export interface PhaseRun {
  ms: number;
  argvFile: string;
  serialLog: string;
  qmpLog: string;
  stderrLog: string;
}

/** One device the confirm boot checked: qemu's view (host side) and the guest's own listing. */
export interface ConfirmedDevice {
  /** `assigned` (vfio-pci) or `emulated` (the NIC qemu emulates when nothing is assigned) */
  kind: 'assigned' | 'emulated';
  /** the host address for an assigned device, the qemu model for an emulated one */
  source: string;
  /** the qdev id in the argv (hostdevN, net0-dev) */
  qdevId: string;
  vendorDevice: string;
  /** where qemu put it on the guest's bus */
  qemuAddress: string;
  /** the guest's entry: its address and driver (null: none bound) */
  guestAddress: string;
  guestDriver: string | null;
  /** the guest's interfaces on this device */
  interfaces: { name: string; mac: string; state: string }[];
}

export type ConfirmState =
  | { skipped: true; reason: string }
  | (PhaseRun & {
      skipped: false;
      /** how the confirm boot ended: the block was seen (qemu stopped) or the guest powered off */
      ended: 'block-seen' | 'poweroff';
      report: ConfirmReport;
      devices: ConfirmedDevice[];
      notes: string[];
    });
