/** Runs the install pipeline for the CLI and prints the plan, argvs or result. */
import type { Args, CommandContext } from '../cli/command.js';
import { formatArgs } from '../qemu/command.js';
import { pickInstallArgs } from '../request/options.js';
import { installPipeline } from './install-pipeline.js';
import { PipelineError, runStages } from './runner.js';
import type { StageRecord } from './stage.js';
import type { InstallState } from './state.js';

export function planOf(state: InstallState, records: StageRecord[]): Record<string, unknown> {
  return {
    dryRun: state.request?.dryRun ?? false,
    name: state.request?.name,
    accel: state.accel,
    stages: records.map((r) => ({ name: r.name, status: r.status })),
    media: state.media,
    devices: state.prepared ?? state.devices ?? [],
    network: state.network?.kind,
    answerFile: state.answerFile,
    argv: state.argv,
    warnings: state.warnings ?? [],
  };
}

export async function runInstall(args: Args, ctx: CommandContext): Promise<number> {
  const raw = pickInstallArgs(args);
  const signal = ctx.deps.signal ?? new AbortController().signal;
  try {
    const { state, records } = await runStages(installPipeline, {
      host: ctx.host,
      log: { info: (l) => ctx.warn(l), warn: (l) => ctx.warn(l) },
      signal,
      dryRun: Boolean(raw.dryRun),
      onError: raw.onError === 'keep' ? 'keep' : 'cleanup',
      initial: {
        raw,
        cwd: ctx.deps.cwd,
        cacheDir: (await import('../media/cache.js')).defaultCacheDir(ctx.deps.env),
      },
    });
    if (ctx.json) ctx.printJson(planOf(state, records));
    else if (raw.printCmdline && state.argv) {
      ctx.print(
        `# install boot\n${formatArgs(state.argv.install)}\n# confirm boot\n${formatArgs(state.argv.confirm).trimEnd()}`,
      );
    } else if (raw.dryRun) {
      for (const r of records) ctx.print(`${r.status.padEnd(8)} ${r.name}`);
      ctx.print('dry run: nothing on the host was changed (add --print-cmdline for the qemu command lines)');
    }
    return 0;
  } catch (e) {
    // the stage's own error, not the runner's wrapper, is what the user sees
    throw e instanceof PipelineError ? e.error : e;
  }
}
