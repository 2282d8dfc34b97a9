/**
 * The accelerator: `--accel auto` decides from host facts first (the same reading `doctor` reports),
 * then from a launch probe with the real argv's shape; `--accel kvm` that cannot work stops here
 * with exit 3 and qemu's own line, before anything is prepared. The decision and the fact that made
 * it are kept in the state for the plan, the result and --json (src/qemu/accel.ts).
 */
import type { Stage } from '../pipeline/stage.js';
import type { InstallState } from '../pipeline/state.js';
import { cpuModel, smpOf } from '../qemu/command.js';
import { iommuDevice, machineOption } from '../request/machine.js';
import { need } from '../pipeline/stage.js';

export const probeAccel: Stage<InstallState> = {
  name: 'probe-accel',
  changesHost: false,
  needs: ['request'],
  async run({ state, host, log, signal }) {
    const req = need(state, 'request');
    const { chooseAccel, gatherAccelFacts } = await import('../qemu/accel.js');
    const facts = await gatherAccelFacts(host);
    const decision = await chooseAccel(host, {
      wanted: req.accel,
      facts,
      shape: {
        binary: req.qemuBinary,
        machine: machineOption(req.machine, 'kvm', req.iommu),
        cpu: cpuModel(req, 'kvm'),
        smp: smpOf(req),
        devices: req.iommu ? [iommuDevice(req.iommu)] : [],
      },
      userCpu: req.cpu !== undefined && !/^host(-passthrough|-model)?$/.test(req.cpu),
      signal,
    });
    for (const w of decision.warnings) log.warn(w);
    if (decision.warnings.length === 0) log.info(`accelerator: ${decision.accel} (${decision.reason})`);
    return {
      ...(decision.warnings.length > 0
        ? {
            warnings: [
              ...(state.warnings ?? []),
              ...decision.warnings.map((w) => w.replace(/^warning: /, '')),
            ],
          }
        : {}),
      accel: decision.accel,
      ...(decision.cpu ? { cpu: decision.cpu } : {}),
      accelDecision: {
        wanted: req.accel,
        accel: decision.accel,
        reason: decision.reason,
        ...(decision.cpu ? { cpu: decision.cpu } : {}),
        ...(decision.probe
          ? {
              probe: decision.probe.ok
                ? { ok: true, cached: decision.probe.cached }
                : {
                    ok: false,
                    kind: decision.probe.kind,
                    line: decision.probe.line,
                    cached: decision.probe.cached,
                  },
            }
          : {}),
      },
    };
  },
};
