/** `install-guest provision`: plan the overlay, then create it and boot it (or print its exports). */
import type { Args, CommandContext } from '../command-context.js';
import type { RawInstallArgs } from '../request/request.js';
import type { ProvisionRunner } from './provision.js';
import { inputError } from '../errors.js';
import { withoutPassword } from './plan.js';

export interface ProvisionDeps {
  /** boots the overlay (default: the install pipeline in-process, --import) */
  runner?: ProvisionRunner;
}

const PASS_THROUGH: (keyof RawInstallArgs)[] = [
  'hostdev',
  'memory',
  'vcpus',
  'cpu',
  'machine',
  'accel',
  'network',
  'cloudInit',
  'wait',
  'logDir',
  'onError',
  'qemuBinary',
];

export async function runProvisionCommand(
  args: Args,
  ctx: CommandContext,
  deps: ProvisionDeps = {},
): Promise<number> {
  const { defaultCacheDir, planProvision, runProvision } = await import('./provision.js');
  // --connect / LIBVIRT_DEFAULT_URI: the overlay boots as a libvirt domain there
  const { isLocalUri, resolveConnectUri } = await import('../libvirt/connection.js');
  const uri = resolveConnectUri(args.connect, ctx.deps.env);
  if (uri !== undefined && !isLocalUri(uri))
    throw inputError(
      'NOT_IMPLEMENTED',
      `provision --connect ${withoutPassword(uri)}: the overlay is made on this machine, and a remote libvirt host cannot open it`,
      { hint: 'run install-guest provision on that host with --connect qemu:///system' },
    );
  const install: Partial<RawInstallArgs> = {};
  for (const k of PASS_THROUGH) if (args[k] !== undefined) Object.assign(install, { [k]: args[k] });
  const dryRun = Boolean(args.dryRun);
  const printXml = Boolean(args.printXml);
  const printKube = Boolean(args.printKubevirt);
  const plan = await planProvision({
    base: String(args.base),
    cacheDir: typeof args.cache === 'string' ? args.cache : defaultCacheDir(ctx.deps.env),
    cwd: ctx.deps.cwd,
    ...(typeof args.name === 'string' ? { name: args.name } : {}),
    ...(typeof args.out === 'string' ? { out: args.out } : {}),
    install,
    ...(uri !== undefined ? { libvirt: true } : {}),
  });
  const exporting = printXml || printKube;
  const runner: ProvisionRunner =
    deps.runner ??
    (async (raw) => {
      const { runInstall } = await import('../pipeline/run-install.js');
      // --connect / LIBVIRT_DEFAULT_URI: the overlay boots as a libvirt domain there (runInstall reads it)
      return runInstall(
        {
          _: [],
          ...raw,
          ...(uri !== undefined ? { connect: uri, transient: Boolean(args.transient) } : {}),
          ...(ctx.json ? { json: true } : {}),
        },
        ctx,
      );
    });
  if (dryRun && !exporting) {
    const line = `qemu-img ${plan.qemuImg.join(' ')}`;
    if (ctx.json) ctx.warn(`dry run: would run: ${line}`);
    else ctx.print(`dry run: would create the overlay: ${line}`);
  }
  const code = await runProvision(plan, {
    host: ctx.host,
    runner,
    dryRun,
    boot: !exporting,
    keep: plan.raw.onError === 'keep',
    ...(ctx.deps.signal ? { signal: ctx.deps.signal } : {}),
  });
  if (exporting) {
    const { exportDevicesOf } = await import('../export/devices.js');
    const devices = await exportDevicesOf(ctx.host, plan.request.hostdevs);
    if (printXml) {
      const { toLibvirtXml } = await import('../export/libvirt.js');
      ctx.print(
        toLibvirtXml(plan.request, devices, plan.request.disks, { uuid: ctx.host.ids.uuid() }).trimEnd(),
      );
    }
    if (printKube) {
      const { toKubeVirt, kubeVirtYaml } = await import('../export/kubevirt.js');
      ctx.print(kubeVirtYaml([toKubeVirt(plan.request, devices)]).trimEnd());
    }
    if (!dryRun) ctx.warn(`created overlay ${plan.overlay} (backed by ${plan.base.image})`);
  }
  return code;
}
