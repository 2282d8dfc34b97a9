/** Runs the install pipeline for the CLI and prints the plan, argvs or result. */
import type { Args, CommandContext } from '../command-context.js';
import { formatArgs } from '../qemu/command.js';
import { pickInstallArgs } from '../request/options.js';
import { createInstallPipeline } from './install-pipeline.js';
import { PipelineError, runStages } from './runner.js';
import type { StageLog, StageRecord } from './stage.js';
import { createReporter } from '../report/reporter.js';
import { summaryLines } from '../stages/report.js';
import type { InstallState } from './state.js';

export function planOf(state: InstallState, records: StageRecord[]): Record<string, unknown> {
  return {
    dryRun: state.request?.dryRun ?? false,
    name: state.request?.name,
    accel: state.accel,
    accelDecision: state.accelDecision,
    // --connect: the libvirt host that would run the guest (a transient install domain, then the persistent one)
    ...(state.libvirt
      ? {
          libvirt: {
            uri: state.libvirt.uri,
            domainType: state.libvirt.domainType,
            pool: state.libvirt.pool,
            transient: state.libvirt.transient,
          },
        }
      : {}),
    stages: records.map((r) => ({ name: r.name, status: r.status })),
    media: state.media,
    devices: state.prepared ?? state.devices ?? [],
    detach: state.detach ?? [],
    downloads: state.downloads ?? [],
    ...(state.extracts?.length ? { extracts: state.extracts } : {}),
    // --publish-base: the key the real run publishes under (null: known once the media are downloaded)
    ...(state.base
      ? {
          base: {
            key: state.base.key,
            cacheDir: state.base.cacheDir,
            ...(state.base.note ? { note: state.base.note } : {}),
          },
        }
      : {}),
    network: state.network?.kind,
    answerFile: state.answerFile,
    argv: state.argv,
    warnings: state.warnings ?? [],
  };
}

/** The dry run's promise in words: every device it would take from the host, group members included. */
export function detachLines(state: InstallState): string[] {
  return (state.detach ?? []).map(
    (d) =>
      `${d.change ? 'would detach' : 'already on the stub'} ${d.address}${d.vendorDevice ? ` [${d.vendorDevice}]` : ''}${d.change ? ` from ${d.from ?? 'no driver'} to ${d.to}` : ` (${d.to})`} (${d.why})`,
  );
}

interface Argvs {
  install: readonly string[];
  confirm: readonly string[];
}

/** Both argvs, one argument per line, each under a `# … boot` heading. */
function formatCmdlines(argv: Argvs): string {
  return `# install boot\n${formatArgs(argv.install)}\n# confirm boot\n${formatArgs(argv.confirm).trimEnd()}`;
}

/** --connect / LIBVIRT_DEFAULT_URI and --transient, for the connect-libvirt stage. */
async function connectOf(args: Args, ctx: CommandContext): Promise<Pick<InstallState, 'connect'>> {
  const { resolveConnectUri } = await import('../libvirt/connection.js');
  const uri = resolveConnectUri(args.connect, ctx.deps.env);
  return uri ? { connect: { uri, transient: Boolean(args.transient) } } : {};
}

export async function runInstall(args: Args, ctx: CommandContext): Promise<number> {
  const raw = pickInstallArgs(args);
  const signal = ctx.deps.signal ?? new AbortController().signal;
  const dryRun = Boolean(raw.dryRun);
  // --print-xml / --print-kubevirt: the guest handed off to libvirt or KubeVirt (src/export/install-export.ts)
  const want = { xml: Boolean(raw.printXml), kubevirt: Boolean(raw.printKubevirt) };
  const exporting = want.xml || want.kubevirt;
  const exportsOf = async (state: InstallState) =>
    (await import('../export/install-export.js')).renderInstallExports(state, want);
  // a real run reports progress: JSON events on stdout with --json, else plain lines or a status
  // bar (on a terminal) on stderr; a dry run only prints its plan
  const reporter = dryRun
    ? undefined
    : createReporter(
        ctx.json ? { stream: ctx.deps.stdout, json: true } : { stream: ctx.deps.stderr, json: false },
      );
  // nothing is reported before the request is valid: a bad request gets its error alone
  let validated = false;
  const log: StageLog = reporter
    ? {
        info: (l) => reporter.info(l),
        warn: (l) => reporter.warn(l),
        progress: (f, t) => reporter.progress(f, t),
        event: (o) => {
          // --print-cmdline in a real run: the argvs in the --print-cmdline format on stdout, or as a JSON event
          // (on stderr when an exported document owns stdout)
          if (o.event === 'cmdline' && !ctx.json) {
            const text = formatCmdlines(o as unknown as Argvs);
            if (exporting) ctx.warn(text);
            else ctx.print(text);
          } else reporter.event(o);
        },
      }
    : { info: (l) => ctx.warn(l), warn: (l) => ctx.warn(l) };
  try {
    const { state, records } = await runStages(
      createInstallPipeline({ publishBase: Boolean(raw.publishBase) }),
      {
        host: ctx.host,
        log,
        ...(reporter
          ? {
              onStage: (r: StageRecord, phase: 'start' | 'end') => {
                if (!validated) {
                  validated = r.name === 'validate-request' && phase === 'end' && r.status === 'done';
                  return;
                }
                reporter.stage(
                  r.name,
                  phase === 'start'
                    ? 'start'
                    : r.status === 'failed'
                      ? 'fail'
                      : r.status === 'done'
                        ? 'done'
                        : 'skip',
                );
              },
            }
          : {}),
        signal,
        dryRun: Boolean(raw.dryRun),
        onError: raw.onError === 'keep' ? 'keep' : 'cleanup',
        initial: {
          raw,
          ...(await connectOf(args, ctx)),
          cwd: ctx.deps.cwd,
          env: ctx.deps.env,
          cacheDir: (await import('../media/cache.js')).defaultCacheDir(ctx.deps.env),
        },
      },
    );
    if (reporter) {
      const result: Record<string, unknown> = { ...(state.result ?? {}), stages: records };
      let exported: { xml?: string; kubevirt?: string } = {};
      if (exporting) {
        exported = await exportsOf(state);
        const { saveInstallExports } = await import('../export/install-export.js');
        if (state.logDir) result.exports = await saveInstallExports(state.logDir, exported);
      }
      reporter.close();
      // with an export, stdout carries only the document: the summary goes to stderr
      const say = (l: string): void => (exporting ? ctx.warn(l) : ctx.print(l));
      if (ctx.json) reporter.result(result);
      else for (const l of summaryLines(result)) say(l);
      if (!ctx.json) for (const doc of [exported.xml, exported.kubevirt]) if (doc) ctx.print(doc.trimEnd());
      return 0;
    }
    if (exporting) {
      const exported = await exportsOf(state);
      if (ctx.json) ctx.printJson({ ...planOf(state, records), exports: exported });
      else for (const doc of [exported.xml, exported.kubevirt]) if (doc) ctx.print(doc.trimEnd());
    } else if (ctx.json) ctx.printJson(planOf(state, records));
    else if (raw.printCmdline && state.argv) {
      ctx.print(formatCmdlines(state.argv));
    } else if (raw.dryRun) {
      for (const r of records) ctx.print(`${r.status.padEnd(8)} ${r.name}`);
      for (const d of state.downloads ?? [])
        ctx.print(`would download ${d.url}${d.size !== null ? ` (${d.size} bytes)` : ''}`);
      for (const x of state.extracts ?? [])
        ctx.print(`would extract ${x.path} from ${x.iso} into the media cache (${x.size} bytes)`);
      for (const l of detachLines(state)) ctx.print(l);
      if (state.base)
        ctx.print(
          state.base.key
            ? `would publish the confirmed disk as base ${state.base.key} in ${state.base.cacheDir}`
            : `would publish the confirmed disk as a base in ${state.base.cacheDir} (${state.base.note ?? 'key not known yet'})`,
        );
      ctx.print('dry run: nothing on the host was changed (add --print-cmdline for the qemu command lines)');
    }
    return 0;
  } catch (e) {
    reporter?.close();
    // the stage's own error, not the runner's wrapper, is what the user sees
    throw e instanceof PipelineError ? e.error : e;
  }
}
