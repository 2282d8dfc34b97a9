/**
 * The seam between the install's decisions and the machine that runs the guest. The stages decide
 * (media, device verdicts, kickstart, the qemu argv and the libvirt XML) the same way whichever
 * backend runs the guest; only starting a boot, stopping it, its console, its lifecycle events and
 * qemu's view of its PCI bus differ:
 *
 *   qemu     (src/backend/qemu.ts)    install-guest runs qemu itself (the default)
 *   libvirt  (src/backend/libvirt.ts) a libvirtd, local or remote, runs it as a domain (`--connect`)
 *
 * A boot handle has what supervision (src/qemu/completion.ts) and the confirm stage read: QMP-shaped
 * lifecycle events, the serial console as a byte stream (saved whole in the log dir), the exit, a
 * bounded stop, query-pci, and ejecting a cdrom (the cloud-init seed once cloud-init has finished).
 */
import type { StageContext } from '../pipeline/stage.js';
import type { InstallState } from '../pipeline/state.js';
import type { Phase } from '../qemu/command.js';
import type { QemuExit, SerialConsole, StopResult } from '../qemu/process.js';
import type { GuestPciDevice, QmpEvent } from '../qemu/qmp.js';

/** Lifecycle events in QMP's shape (SHUTDOWN, RESET, GUEST_PANICKED, BLOCK_IO_ERROR, STOP…). */
export interface GuestEvents {
  /** events received so far (supervision replays them) */
  readonly history: readonly QmpEvent[];
  onEvent(listener: (e: QmpEvent) => void): () => void;
}

export interface BootHandle {
  /** what the progress line names: `qemu pid 1234`, `libvirt domain web1 on qemu:///system` */
  readonly describe: string;
  readonly qmp: GuestEvents;
  readonly serial: SerialConsole;
  /** settles (never rejects) when the guest's qemu is gone */
  readonly exited: Promise<QemuExit>;
  readonly exit: QemuExit | undefined;
  readonly stopReason: string | undefined;
  /** Stops the guest at once (bounded, idempotent). */
  stop(reason: string): Promise<StopResult>;
  /** qemu's view of the guest's PCI bus, with install-guest's qdev ids (hostdevN, net0-dev) */
  queryPci(): Promise<GuestPciDevice[]>;
  /**
   * Removes the medium of the boot's cdrom whose drive install-guest named `drive` (qemu/command.ts
   * names the cloud-init seed `cidata`), while the guest runs; a persistent domain keeps it removed.
   */
  ejectCdrom(drive: string): Promise<void>;
}

/** One boot's files: sockets in the private work dir, logs in the log dir. */
export interface PhaseFiles {
  argvFile: string;
  serialLog: string;
  qmpLog: string;
  stderrLog: string;
  qmpSocket: string;
  serialSocket: string;
}

export interface GuestBackend {
  readonly kind: 'qemu' | 'libvirt';
  /** Starts the install or confirm boot the state describes. */
  startBoot(
    ctx: StageContext<InstallState>,
    phase: Phase,
    argv: readonly string[],
    files: PhaseFiles,
    maxLifetimeMs: number,
  ): Promise<BootHandle>;
}
