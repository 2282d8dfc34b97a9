/**
 * The final result of an install: devices (as the guest confirmed them), media, phases with their
 * timings, the log dir and the verdict. Written to `<logDir>/result.json` and `<logDir>/timings.json`;
 * the CLI prints it (JSON with --json, a short human summary otherwise).
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Stage } from '../pipeline/stage.js';
import type { InstallState } from '../pipeline/state.js';
import { need } from '../pipeline/stage.js';

export type Verdict = 'confirmed' | 'installed-unconfirmed';

/** The result object from the state. Pure. */
export function resultOf(state: InstallState): Record<string, unknown> {
  const confirm = state.confirm;
  const verdict: Verdict = confirm && !confirm.skipped ? 'confirmed' : 'installed-unconfirmed';
  const install = state.installRun;
  return {
    verdict,
    name: state.request?.name,
    accel: state.accel,
    accelDecision: state.accelDecision,
    media: state.media ? { source: state.media.source, kind: state.media.kind } : undefined,
    network: state.network?.kind ?? state.request?.network.kind,
    devices:
      confirm && !confirm.skipped
        ? confirm.devices
        : (state.prepared ?? state.devices ?? []).map((d) => ({
            kind: 'assigned',
            source: d.address,
            vendorDevice: d.vendorDevice,
          })),
    phases: {
      install: install
        ? {
            ms: install.ms,
            how: install.how,
            shutdownReason: install.shutdownReason,
            serialLog: install.serialLog,
          }
        : state.request?.import
          ? { skipped: '--import' }
          : undefined,
      confirm: !confirm
        ? undefined
        : confirm.skipped
          ? { skipped: confirm.reason }
          : {
              ms: confirm.ms,
              ended: confirm.ended,
              serialLog: confirm.serialLog,
              notes: confirm.notes,
              ...(confirm.tpm ? { tpm: confirm.tpm } : {}),
            },
    },
    answerFile: state.answerFile?.redactedPath,
    ...(state.cloudInit?.instanceId
      ? {
          cloudInit: {
            instanceId: state.cloudInit.instanceId,
            seed: state.cloudInit.options.seed,
            files: state.cloudInit.files,
            userData: state.cloudInit.userDataRedacted,
            ...(state.cloudInit.finished
              ? {
                  finishedMs: state.cloudInit.finished.ms,
                  finishedLine: state.cloudInit.finished.line,
                  seedDetached: state.cloudInit.finished.detached,
                }
              : {}),
          },
        }
      : {}),
    // --publish-base: the confirmed disk is now this cached base (the install's disk path is gone)
    ...(state.base?.published && state.base.key
      ? { base: { key: state.base.key, disk: state.base.published.disk } }
      : {}),
    logDir: state.logDir,
    warnings: [...(state.warnings ?? []), ...(install?.warnings ?? [])],
  };
}

/** A few lines for a person. */
export function summaryLines(result: Record<string, unknown>): string[] {
  const phases = result.phases as {
    install?: { ms?: number; skipped?: string };
    confirm?: { ms?: number; skipped?: string };
  };
  const phase = (p: { ms?: number; skipped?: string } | undefined): string =>
    p?.skipped ? `skipped (${p.skipped})` : secs(p?.ms);
  const secs = (ms: number | undefined): string => (ms === undefined ? '?' : `${(ms / 1000).toFixed(1)} s`);
  const lines = [
    `${String(result.name)}: ${result.verdict === 'confirmed' ? 'installed and confirmed' : 'installed (not confirmed)'}`,
    `  install ${phase(phases.install)}, confirm ${phase(phases.confirm)}`,
  ];
  for (const d of (result.devices ?? []) as {
    kind: string;
    source: string;
    vendorDevice?: string;
    guestAddress?: string;
    guestDriver?: string | null;
  }[]) {
    lines.push(
      `  ${d.kind} ${d.source} ${d.vendorDevice ?? ''}${d.guestAddress ? ` seen by the guest at ${d.guestAddress}, driver ${d.guestDriver ?? 'none'}` : ''}`,
    );
  }
  const tpm = (phases.confirm as { tpm?: { model: string; guestName: string } } | undefined)?.tpm;
  if (tpm) lines.push(`  TPM 2.0 ${tpm.model} seen by the guest as ${tpm.guestName}`);
  const base = result.base as { key: string; disk: string } | undefined;
  if (base)
    lines.push(
      `  published as base ${base.key} (${base.disk}, read-only): install-guest provision --base ${base.key}`,
    );
  lines.push(`  logs: ${String(result.logDir)}`);
  return lines;
}

export const report: Stage<InstallState> = {
  name: 'report',
  // writes into the log dir, which a dry run does not create
  changesHost: true,
  needs: ['logDir'],
  async run({ state }) {
    const result = resultOf(state);
    const logDir = need(state, 'logDir');
    await writeFile(path.join(logDir, 'result.json'), `${JSON.stringify(result, null, 2)}\n`, {
      mode: 0o600,
    });
    const timings = {
      installMs: state.installRun?.ms,
      confirmMs: state.confirm && !state.confirm.skipped ? state.confirm.ms : undefined,
    };
    await writeFile(path.join(logDir, 'timings.json'), `${JSON.stringify(timings, null, 2)}\n`, {
      mode: 0o600,
    });
    return { result };
  },
};
