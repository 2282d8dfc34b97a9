/**
 * The batch's default `install`: one guest through the install pipeline, in-process, with the
 * devices the pool assigned. Stage records become the report's phases: every stage up to the
 * install's end is the `install` phase, `reboot-and-confirm` is the `confirm` phase. The pipeline's
 * log lines go to `<guest log dir>/install-guest.log`.
 */
import { appendFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Host } from '../host/host.js';
import type { RawInstallArgs } from '../request/request.js';
import type { StageRecord } from '../pipeline/stage.js';
import type { Allocation } from './pool.js';
import { guestInstallArgs } from './plan.js';
import type { BatchGuest } from './plan.js';
import { phaseFailure } from './scheduler.js';
import type { GuestResult, InstallContext, InstallFn, PhaseName, PhaseResult } from './scheduler.js';

const CONFIRM_STAGES = new Set(['reboot-and-confirm']);

/** Pure: the stage records of one pipeline run (and its error, if it failed) as the two phases. */
export function resultFromStages(records: readonly StageRecord[], error?: unknown): GuestResult {
  const phases: PhaseResult[] = [];
  for (const name of ['install', 'confirm'] as PhaseName[]) {
    const mine = records.filter((r) => CONFIRM_STAGES.has(r.name) === (name === 'confirm'));
    if (mine.length === 0) continue;
    const timeSec = mine.reduce((t, r) => t + r.ms, 0) / 1000;
    const failed = mine.find((r) => r.status === 'failed');
    if (failed)
      phases.push({
        phase: name,
        status: 'failed',
        timeSec,
        failure: phaseFailure(error ?? new Error(failed.error ?? `${failed.name} failed`)),
      });
    else phases.push({ phase: name, status: 'passed', timeSec });
  }
  if (error !== undefined && !phases.some((p) => p.status === 'failed'))
    phases.unshift({ phase: 'install', status: 'failed', timeSec: 0, failure: phaseFailure(error) });
  return { phases };
}

/**
 * Pure: the install arguments of a guest once the pool assigned its devices. A guest holding a
 * whole IOMMU group with other endpoints in it detaches them with the assigned ones (`--group`):
 * the group is viable for vfio only when none of its endpoints stays on a host driver.
 */
export function installArgsFor(guest: BatchGuest, allocation: Allocation): RawInstallArgs {
  const held = new Set(allocation.devices.map((d) => d.address));
  const others = allocation.reserved.filter((d) => !held.has(d.address));
  return guestInstallArgs(guest, allocation.devices, others.length ? { group: true } : {});
}

/**
 * Each guest's install runs the same pipeline as `install`, with the same environment (proxies)
 * and the same media cache (an ISO or HTTP media is fetched and extracted there).
 */
export function pipelineInstall(
  host: Host,
  env: Readonly<Record<string, string | undefined>>,
): InstallFn<BatchGuest> {
  return async (guest: BatchGuest, allocation: Allocation, ctx: InstallContext): Promise<GuestResult> => {
    const [{ runStages, PipelineError }, { createInstallPipeline }, { defaultCacheDir }] = await Promise.all([
      import('../pipeline/runner.js'),
      import('../pipeline/install-pipeline.js'),
      import('../media/cache.js'),
    ]);
    await mkdir(ctx.logDir, { recursive: true, mode: 0o700 });
    const logFile = path.join(ctx.logDir, 'install-guest.log');
    const line = (level: string) => (l: string) =>
      appendFileSync(logFile, `${new Date(host.clock.now()).toISOString()} ${level} ${l}\n`, { mode: 0o600 });
    // a host the manifest forces: its unknown guards pass for this guest's device too
    const raw = {
      ...installArgsFor(guest, allocation),
      ...(allocation.host?.force ? { force: true } : {}),
    };
    try {
      const { records } = await runStages(createInstallPipeline(), {
        host,
        log: { info: line('info'), warn: line('warn') },
        signal: ctx.signal,
        onError: raw.onError === 'keep' ? 'keep' : 'cleanup',
        initial: {
          raw,
          cwd: guest.cwd,
          env,
          cacheDir: defaultCacheDir(env),
          // a batch host reached through libvirt: the guest becomes a domain there
          ...(allocation.host?.uri !== undefined
            ? { connect: { uri: allocation.host.uri, transient: false } }
            : {}),
        },
      });
      return resultFromStages(records);
    } catch (e) {
      if (e instanceof PipelineError) {
        line('error')(e.message);
        return resultFromStages(e.records, e.error);
      }
      throw e;
    }
  };
}
