/** The typed state of one install: each field is written by the stage named beside it. */
import type { AssignedDevice, BootMedia } from '../qemu/command.js';
import type { ConfirmReport } from '../kickstart/confirm.js';
import type { PreparedSession } from '../pci/session.js';
import type { InstallRequest, NetworkRequest, RawInstallArgs } from '../request/request.js';
import type { CloudInitState } from '../cloudinit/state.js';
import type { LibvirtState } from '../libvirt/state.js';

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
  /** false (--hostdev …,managed=no): install-guest prepared it; libvirt must not detach it again */
  managed?: boolean;
}

/** prepare-device: one device the preparation detaches from its host driver (or finds on the stub). */
export interface DetachPlan {
  address: string;
  vendorDevice?: string;
  /** the host driver it is taken from (null: unbound) */
  from: string | null;
  to: string;
  /** `requested`, or why else (a member of the IOMMU group with --group) */
  why: string;
  /** false when it is on the stub already */
  change: boolean;
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
  /** the environment media fetches read their proxy from (http_proxy, https_proxy, no_proxy) */
  env?: Readonly<Record<string, string | undefined>>;
  /** resolve-media: a local tree served to the guest over HTTP, stopped in cleanup */
  servedTree?: { guestUrl: string; close(): Promise<void> };
  /** render-kickstart: the answer file served over HTTP (--kickstart-delivery http), stopped in cleanup */
  servedKickstart?: { url: string; readonly fetches: number; close(): Promise<void> };
  /** validate-request */
  request?: InstallRequest;
  /** prepare-workdir: private (0700) temp dir for sockets and generated files */
  workDir?: string;
  logDir?: string;
  /** probe-accel: the accelerator actually used (auto resolved; launch-qemu may switch kvm → tcg) */
  accel?: 'kvm' | 'tcg';
  /** probe-accel: the cpu the accelerator choice settled on, when it changed the request's */
  cpu?: string;
  /** probe-accel: what was asked, what was chosen and the fact that decided (plan, result, --json) */
  accelDecision?: {
    wanted: 'kvm' | 'tcg' | 'auto';
    accel: 'kvm' | 'tcg';
    reason: string;
    cpu?: string;
    probe?: { ok: boolean; kind?: string; line?: string; cached: boolean };
    /** set when the guest hung in early boot under KVM and the boot was restarted under tcg */
    fallback?: { phase: string; afterMs: number };
  };
  uuid?: string;
  mac?: string;
  /** resolve-media */
  media?: MediaState;
  /** resolve-media, dry run only: what the real run would download (URLs without credentials) */
  downloads?: { url: string; size: number | null }[];
  /** resolve-media, dry run only: the files the real run would extract from an ISO into the media cache */
  extracts?: { iso: string; path: string; size: number }[];
  /** select-device */
  devices?: SelectedDevice[];
  network?: NetworkRequest;
  /** prepare-device: devices now bound to the stub driver (the selected ones, then --group members) */
  prepared?: SelectedDevice[];
  /** prepare-device: the journaled, leased binding its cleanup gives back (or keeps) */
  deviceSession?: PreparedSession;
  /** prepare-device: every device detached (in a dry run: that would be) */
  detach?: DetachPlan[];
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
  /** validate-request: the --cloud-init sub-options; render-cloud-init: the seed made for this run */
  cloudInit?: CloudInitState;
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
  /**
   * check-base (--publish-base): the key of the base this install publishes, checked absent from the
   * cache before anything is installed (null in a dry run whose media are not on this host: `note`
   * says why); publish-base sets `published` once the confirmed disk is in the cache
   */
  base?: {
    key: string | null;
    cacheDir: string;
    mediaChecksum?: string;
    note?: string;
    published?: { dir: string; disk: string };
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
      /** --tpm: the TPM the guest registered (its /sys/class/tpm name) for the model qemu was given */
      tpm?: { model: string; guestName: string; version: string };
    });
