/**
 * The confirm boot: boots the installed disk with the same devices (the confirm argv: no install
 * media, no kernel arguments), reads the IG-CONFIRM block the guest's confirmation unit prints
 * (CONTRACTS §1), asks qemu over QMP what it put on the guest's PCI bus (host-side proof), and
 * checks every expected device appears in the guest's own listing. Skipped with --noreboot.
 * The boot ends when the block has been read (qemu is then stopped) or when the guest powers off.
 */
import { InstallGuestError, guestError, hostError } from '../errors.js';
import type { ConfirmReport } from '../kickstart/confirm.js';
import type { Stage } from '../pipeline/stage.js';
import type { ConfirmedDevice, InstallState } from '../pipeline/state.js';
import type { InstallOutcome } from '../qemu/completion.js';
import type { GuestPciDevice } from '../qemu/qmp.js';
import {
  DEFAULT_STALL_TIMEOUT_S,
  DEFAULT_WAIT_MIN,
  forwardEvents,
  hungLogs,
  startPhase,
  withReportFields,
} from './launch-qemu.js';
import { need } from '../pipeline/stage.js';

export interface ExpectedDevice {
  kind: 'assigned' | 'emulated';
  /** host address (assigned) or qemu device model (emulated) */
  source: string;
  /** the `id=` the argv gives it */
  qdevId: string;
  /** known from the host for an assigned device; an emulated one's comes from qemu */
  vendorDevice?: string;
  subsystem?: string;
  /** the emulated NIC's MAC */
  mac?: string;
}

/** The emulated NIC's model and MAC, read from the argv's `-device MODEL,netdev=net0,…,mac=…`. */
export function emulatedNic(argv: readonly string[]): { model: string; qdevId: string; mac?: string } | null {
  for (let i = 0; i + 1 < argv.length; i++) {
    if (argv[i] !== '-device') continue;
    const parts = argv[i + 1]!.split(',');
    if (!parts.includes('netdev=net0')) continue;
    const opt = (k: string): string | undefined =>
      parts.find((p) => p.startsWith(`${k}=`))?.slice(k.length + 1);
    return { model: parts[0]!, qdevId: opt('id') ?? '', ...(opt('mac') ? { mac: opt('mac')! } : {}) };
  }
  return null;
}

/** What the confirm boot must show: every assigned device, else the emulated NIC (if any). Pure. */
export function expectedDevices(
  state: Pick<InstallState, 'prepared' | 'devices' | 'argv'>,
): ExpectedDevice[] {
  const assigned = state.prepared ?? state.devices ?? [];
  if (assigned.length > 0) {
    return assigned.map((d, i) => ({
      kind: 'assigned' as const,
      source: d.address,
      qdevId: `hostdev${i}`,
      ...(d.vendorDevice ? { vendorDevice: d.vendorDevice.toLowerCase() } : {}),
      ...(d.subsystem ? { subsystem: d.subsystem.toLowerCase() } : {}),
    }));
  }
  const nic = emulatedNic(state.argv?.confirm ?? []);
  if (!nic) return [];
  return [
    {
      kind: 'emulated',
      source: nic.model,
      qdevId: nic.qdevId,
      ...(nic.mac ? { mac: nic.mac.toLowerCase() } : {}),
    },
  ];
}

function shown(report: ConfirmReport): string {
  return report.pci.length === 0
    ? 'no PCI devices'
    : report.pci.map((p) => `${p.addr} ${p.vendorDevice} (${p.driver ?? 'no driver'})`).join(', ');
}

/**
 * Matches the expected devices against qemu's bus (query-pci) and the guest's listing. Pure.
 * Throws DEVICE_NOT_IN_QEMU (host side) or DEVICE_NOT_SEEN_BY_GUEST (guest side).
 */
export function verifyDevices(
  expected: readonly ExpectedDevice[],
  qemuPci: readonly GuestPciDevice[],
  report: ConfirmReport,
  serialLog: string,
): { devices: ConfirmedDevice[]; notes: string[] } {
  const devices: ConfirmedDevice[] = [];
  const notes: string[] = [];
  if (!report.complete)
    notes.push(
      `the confirmation block announced pci=${report.announced.pci} net=${report.announced.net} but held ${report.pci.length} and ${report.net.length} lines`,
    );
  for (const e of expected) {
    const q = qemuPci.find((p) => p.qdevId === e.qdevId);
    if (!q || (e.vendorDevice && q.id !== e.vendorDevice)) {
      throw hostError(
        'DEVICE_NOT_IN_QEMU',
        `qemu's PCI bus has no ${e.kind} device ${e.source} with id ${e.qdevId}${e.vendorDevice ? ` (${e.vendorDevice})` : ''}; it shows ${qemuPci.map((p) => `${p.qdevId || '-'}=${p.id}`).join(', ')}`,
        {
          hint: 'see the QMP transcript qmp-confirm.jsonl and the confirm.args in the log dir',
          data: {
            expected: e,
            qemuPci: qemuPci.map((p) => ({ id: p.id, qdevId: p.qdevId, address: p.address })),
          },
        },
      );
    }
    const vendorDevice = e.vendorDevice ?? q.id;
    let candidates = report.pci.filter(
      (p) => p.vendorDevice === vendorDevice && (!e.subsystem || p.subsystem === e.subsystem),
    );
    if (e.mac && candidates.length > 1) {
      const byMac = candidates.filter((p) => report.net.some((n) => n.pci === p.addr && n.mac === e.mac));
      if (byMac.length > 0) candidates = byMac;
    }
    const g = candidates[0];
    if (!g) {
      throw guestError(
        'DEVICE_NOT_SEEN_BY_GUEST',
        `the installed guest does not list ${e.kind} device ${e.source} (${vendorDevice}${e.subsystem ? ` subsystem ${e.subsystem}` : ''}); it shows ${shown(report)}`,
        {
          hint: `qemu gave it to the guest at ${q.address}; read ${serialLog} (IG-CONFIRM lines) and the guest's kernel messages`,
          data: {
            expected: { ...e, vendorDevice },
            guestPci: report.pci,
            logPath: serialLog,
          },
        },
      );
    }
    if (!g.driver) notes.push(`${vendorDevice} at ${g.addr}: the guest bound no driver to it`);
    const interfaces = report.net
      .filter((n) => n.pci === g.addr)
      .map(({ name, mac, state }) => ({ name, mac, state }));
    if (e.mac && !interfaces.some((n) => n.mac === e.mac))
      notes.push(`${vendorDevice} at ${g.addr}: no guest interface has the MAC ${e.mac}`);
    devices.push({
      kind: e.kind,
      source: e.source,
      qdevId: e.qdevId,
      vendorDevice,
      qemuAddress: q.address,
      guestAddress: g.addr,
      guestDriver: g.driver,
      interfaces,
    });
  }
  return { devices, notes };
}

const END_MARK = 'IG-CONFIRM end';
/** cloud-init's final message on the console (cloud-final.service writes it there) */
const CLOUD_INIT_DONE = /Cloud-init v\. \S+ finished at[^\r\n]*/;
/** the drive id of the seed cdrom (qemu/command.ts gives the confirm boot's seed this id) */
const SEED_DRIVE = 'cidata';

export const rebootAndConfirm: Stage<InstallState> = {
  name: 'reboot-and-confirm',
  changesHost: true,
  needs: ['request', 'argv'],
  async run(ctx) {
    const { state } = ctx;
    const req = need(state, 'request');
    if (req.noReboot) {
      ctx.log.info('--noreboot: the installed disk is not booted; the device is not confirmed');
      return { confirm: { skipped: true, reason: '--noreboot' } };
    }
    const stallTimeoutMs = (req.stallTimeoutSeconds ?? DEFAULT_STALL_TIMEOUT_S) * 1000;
    const deadlineMs = (req.waitMinutes ?? DEFAULT_WAIT_MIN) * 60_000;
    const { ConsoleWatcher, rulesFor } = await import('../qemu/watch.js');
    const { superviseInstall } = await import('../qemu/completion.js');
    const { parseConfirmLines } = await import('../kickstart/confirm.js');

    const { bootWithFallback } = await import('./early-boot.js');
    const bootOnce = async (confirmArgv: readonly string[], earlyBootMs: number | undefined) => {
      const t0 = performance.now();
      const { handle, files } = await startPhase(ctx, 'confirm', confirmArgv, deadlineMs + 60_000);
      let refreshTimer: ReturnType<typeof setInterval> | undefined;
      try {
        // qemu's own view of the bus. Devices behind a bridge (the pcie-root-port each assigned device
        // sits on) are listed only once the guest's firmware numbered the bridge's secondary bus, so
        // the view that counts is taken when the guest printed its block; this early one is what is
        // left when the guest powers off first.
        let earlyPci = await handle.queryPci();
        let latePci: Promise<GuestPciDevice[] | null> | undefined;
        // refreshed every 2 s until the block is read: firmware that numbers the bridges late (OVMF
        // takes seconds under TCG) and a guest that powers off before the late view is taken (a
        // libvirt query costs a virsh start-up) still leave a view with the bridged devices in it
        let refreshing = false;
        refreshTimer = setInterval(() => {
          if (refreshing || latePci) return;
          refreshing = true;
          void handle
            .queryPci()
            .then(
              (v) => {
                if (!latePci) earlyPci = v;
              },
              () => undefined,
            )
            .finally(() => (refreshing = false));
        }, 2000);
        refreshTimer.unref();
        // the console feeds the fatal-line watcher and the IG-CONFIRM reader
        const watcher = new ConsoleWatcher({ rules: rulesFor('generic-linux') });
        let text = '';
        let endAt = -1;
        let report: ConfirmReport | null = null;
        // with a cloud-init seed, the block that counts is the one printed after cloud-init finished
        // (the unit it installs runs then); the seed is detached through the backend at that moment
        const seed = state.cloudInit?.seedIso || state.cloudInit?.smbiosSerial ? state.cloudInit : undefined;
        let blockFrom = seed ? -1 : 0;
        let ciDone: { line: string; ms: number; detached: boolean } | undefined;
        let detaching: Promise<void> | undefined;
        let onBlock!: () => void;
        const blockSeen = new Promise<'block'>((r) => (onBlock = () => r('block')));
        const reading = (async () => {
          try {
            for await (const chunk of handle.serial.stream as AsyncIterable<Buffer>) {
              watcher.feed(chunk);
              const from = Math.max(0, text.length - END_MARK.length);
              const ciFrom = Math.max(0, text.length - 200);
              text += chunk.toString('latin1');
              if (blockFrom < 0) {
                const m = CLOUD_INIT_DONE.exec(text.slice(ciFrom));
                if (m && /[\r\n]/.test(text.slice(ciFrom + m.index + m[0].length))) {
                  blockFrom = ciFrom + m.index + m[0].length;
                  const done = { line: m[0].trim(), ms: Math.round(performance.now() - t0), detached: false };
                  ciDone = done;
                  ctx.log.info(`confirm boot: ${done.line}`);
                  if (seed?.seedIso) {
                    detaching = handle
                      .ejectCdrom(SEED_DRIVE)
                      .then(() => {
                        done.detached = true;
                        ctx.log.info('confirm boot: cloud-init finished; the seed volume is detached');
                      })
                      .catch((e: unknown) => {
                        ctx.log.warn(
                          `detaching the cloud-init seed failed: ${e instanceof Error ? e.message : String(e)}`,
                        );
                      });
                  }
                }
              }
              if (endAt < 0 && blockFrom >= 0) endAt = text.indexOf(END_MARK, Math.max(from, blockFrom));
              // the end line is read once it ended: its counts may arrive in a later chunk
              if (!report && endAt >= 0 && /[\r\n]/.test(text.slice(endAt))) {
                report = parseConfirmLines(text.slice(blockFrom));
                if (report) {
                  latePci = handle.queryPci().catch(() => null);
                  onBlock();
                }
              }
            }
          } catch {
            // a broken console ends like EOF; the supervisor reports qemu's exit
          }
          watcher.end();
        })();
        const supervised = superviseInstall({
          handle,
          watcher,
          stallTimeoutMs,
          deadlineMs,
          ...(earlyBootMs !== undefined ? { earlyBootMs } : {}),
          signal: ctx.signal,
          onEvent: forwardEvents(ctx, 'confirm'),
          serialLogPath: files.serialLog,
          noReboot: true,
        });
        supervised.catch(() => undefined);
        let ended: 'block-seen' | 'poweroff';
        try {
          const first = await Promise.race([blockSeen, supervised]);
          ended = first === 'block' ? 'block-seen' : 'poweroff';
        } catch (e) {
          if (!report) {
            const err = withReportFields(e, files.serialLog);
            if (err instanceof InstallGuestError && err.code === 'INSTALL_FAILED') {
              throw guestError(
                'CONFIRM_BOOT_FAILED',
                err.message.replace(/^install failed/, 'the installed system failed to boot'),
                {
                  ...(err.hint ? { hint: err.hint } : {}),
                  cause: err,
                  ...(err.data ? { data: err.data } : {}),
                },
              );
            }
            throw err;
          }
          ended = 'block-seen';
        }
        clearInterval(refreshTimer);
        const qemuPci = (await latePci) ?? earlyPci;
        if (ended === 'block-seen') {
          await handle.stop('confirmation block read');
        } else {
          const outcome: InstallOutcome = await supervised;
          ctx.log.info(`confirm boot: the guest powered off (${outcome.shutdownReason})`);
        }
        await reading;
        await detaching;
        if (seed && !ciDone) {
          throw guestError(
            'CLOUD_INIT_NOT_FINISHED',
            `the guest's boot ended before cloud-init printed its final message (serial log ${files.serialLog})`,
            {
              hint: 'cloud-init did not run or did not finish: is cloud-init installed in the image, and its NoCloud datasource enabled?',
              data: { logPath: files.serialLog },
            },
          );
        }
        if (ciDone && /DataSourceNone/.test(ciDone.line)) {
          throw guestError(
            'CLOUD_INIT_NO_SEED',
            `cloud-init finished without finding the seed (${ciDone.line})`,
            {
              hint: "the image's cloud-init does not read the NoCloud datasource (datasource_list in /etc/cloud/cloud.cfg.d), or the guest cannot read the cidata cdrom",
              data: { logPath: files.serialLog },
            },
          );
        }
        report ??= parseConfirmLines(blockFrom >= 0 ? text.slice(blockFrom) : '');
        if (!report) {
          throw guestError(
            'CONFIRM_NOT_SEEN',
            `the installed guest ended its boot without printing the IG-CONFIRM block (serial log ${files.serialLog})`,
            {
              hint: 'the confirmation unit was not installed or did not run: check the answer file %post and the guest console',
              data: { logPath: files.serialLog },
            },
          );
        }
        const { devices, notes } = verifyDevices(expectedDevices(state), qemuPci, report, files.serialLog);
        for (const n of notes) ctx.log.warn(n);
        for (const d of devices)
          ctx.log.info(
            `confirmed: ${d.kind} ${d.source} ${d.vendorDevice} in the guest at ${d.guestAddress} (driver ${d.guestDriver ?? 'none'})`,
          );
        const tpm = need(state, 'request').tpm;
        let tpmSeen: { model: string; guestName: string; version: string } | undefined;
        if (tpm) {
          // --tpm: the guest's kernel must have registered the emulated TPM 2.0
          const seen = report.tpm.find((t) => t.version === '2');
          if (!seen)
            throw guestError(
              'TPM_NOT_SEEN_BY_GUEST',
              `the guest lists no TPM 2.0 (${report.tpm.length === 0 ? 'no /sys/class/tpm entry' : report.tpm.map((t) => `${t.name} version ${t.version}`).join(', ')}), though qemu was given a ${tpm.model} (serial log ${files.serialLog})`,
              {
                hint: `the guest kernel needs its ${tpm.model === 'tpm-crb' ? 'tpm_crb' : 'tpm_tis'} driver (CONFIG_TCG_${tpm.model === 'tpm-crb' ? 'CRB' : 'TIS'})`,
                data: { logPath: files.serialLog },
              },
            );
          ctx.log.info(`confirmed: TPM 2.0 (${tpm.model}) in the guest as ${seen.name}`);
          tpmSeen = { model: tpm.model, guestName: seen.name, version: seen.version };
        }
        return {
          ...(seed && ciDone ? { cloudInit: { ...seed, finished: ciDone } } : {}),
          confirm: {
            skipped: false as const,
            ms: Math.round(performance.now() - t0),
            ended,
            report,
            devices,
            notes,
            ...(tpmSeen ? { tpm: tpmSeen } : {}),
            argvFile: files.argvFile,
            serialLog: files.serialLog,
            qmpLog: files.qmpLog,
            stderrLog: files.stderrLog,
          },
        };
      } finally {
        clearInterval(refreshTimer);
        await handle.stop('confirm phase over').catch((e: unknown) => {
          ctx.log.warn(`stopping the confirm qemu failed: ${e instanceof Error ? e.message : String(e)}`);
        });
      }
    };
    const { value, changed } = await bootWithFallback(ctx, 'confirm', hungLogs(ctx, 'confirm'), bootOnce);
    return { ...value, ...changed };
  },
};
