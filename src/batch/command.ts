/**
 * `install-guest batch MANIFEST`: check the manifest (every error, with path and line), then either
 * print the plan (--dry-run) or run the guests through the scheduler and report: a summary table,
 * --json results, --junit FILE, --print-xml / --print-kubevirt for the installed guests. The device
 * pool is this host's assignable PCI functions (src/batch/host-pool.ts) or --inventory FILE. Exit 0 only
 * when every guest passed (or was skipped by --resume).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Args, CommandContext } from '../command-context.js';
import { inputError, isInstallGuestError } from '../errors.js';
import type { ExportDevice } from '../export/libvirt.js';
import { formatManifestError } from './manifest.js';
import { applyAutoFallback, planBatch, withoutPassword } from './plan.js';
import type { HostFacts, HostNeeds, HostsPool } from './hosts.js';
import type { BatchGuest, BatchPlan } from './plan.js';
import { describeMatch } from './pool.js';
import type { PoolDevice, PoolFilterData } from './pool.js';
import type { BatchEvent, InstallFn } from './scheduler.js';
import type { PredictedStart } from './simulate.js';

export interface BatchDeps {
  /** the install of one guest (default: the install pipeline, in-process) */
  install?: InstallFn<BatchGuest>;
  /** the device pool's inventory (default: --inventory FILE, else this host's PCI functions) */
  inventory?: PoolDevice[];
}

function filterText(f: PoolFilterData): string {
  const parts: string[] = [];
  if (f.class !== undefined) parts.push(`class ${f.class}`);
  if (f.vendorDevice !== undefined)
    parts.push(`vendorDevice ${([] as string[]).concat(f.vendorDevice).join('|')}`);
  if (f.addresses !== undefined) parts.push(`addresses ${f.addresses.join('|')}`);
  return parts.join(', ');
}

function mediaText(g: BatchGuest): string {
  const r = g.request;
  if (r.import) return `import ${r.disks[0]?.path ?? ''}`;
  const parts: string[] = [];
  if (r.location) parts.push(`location ${r.location}`);
  if (r.cdrom) parts.push(`cdrom ${r.cdrom}`);
  if (r.boot?.kernel)
    parts.push(`kernel ${r.boot.kernel}${r.boot.initrd ? `, initrd ${r.boot.initrd}` : ''}`);
  if (r.boot?.kernelArgs) parts.push(`kernel args '${r.boot.kernelArgs}'`);
  if (r.extraArgs) parts.push(`extra args '${r.extraArgs}'`);
  return parts.join('; ');
}

function networkText(g: BatchGuest): string {
  const n = g.request.network;
  if (n.kind === 'none') return 'none';
  const extra = `${n.model}${n.mac ? `, mac ${n.mac}` : ''}`;
  if (n.kind === 'network') return `libvirt network ${n.network} (${extra})`;
  return n.kind === 'user' ? `user (${extra})` : `bridge ${n.bridge} (${extra})`;
}

const deviceText = (d: PoolDevice): string =>
  `${d.address} [${d.vendorDevice}, group ${d.iommuGroup ?? 'none'}]`;

/** What the plan shows besides the plan itself: where the pool came from, `auto` fallbacks. */
export interface PlanExtra {
  /** e.g. "this host's devices" (default "the inventory") */
  poolSource?: string;
  /** guest → why it installs without a device it asked for */
  notes?: ReadonlyMap<string, string>;
  /** a batch over hosts: one line per host (HostsPool.describe) */
  hostLines?: string[];
}

/** Pure: the dry run's plan as text. */
export function formatPlan(
  plan: BatchPlan,
  concurrency: number,
  predicted: PredictedStart[] | undefined,
  failFast: boolean,
  extra: PlanExtra = {},
): string[] {
  const out: string[] = [];
  out.push(
    `batch ${plan.name}: ${plan.guests.length} guest${plan.guests.length === 1 ? '' : 's'} from ${plan.manifestPath}`,
  );
  out.push(
    `concurrency ${concurrency}${failFast ? ', fail-fast' : ''}; guests start in manifest order, each when a slot and its devices are free`,
  );
  out.push(`log dir ${plan.logRoot} (resume records in ${plan.stateDir})`);
  out.push(
    `pools: ${Object.entries(plan.pools)
      .map(([n, f]) => `${n} = ${filterText(f)}`)
      .join('; ')}`,
  );
  for (const l of extra.hostLines ?? []) out.push(l);
  for (const [i, g] of plan.guests.entries()) {
    const r = g.request;
    out.push('');
    out.push(`${i + 1}. ${g.name} (${g.path}${g.line !== undefined ? `, line ${g.line}` : ''})`);
    const v = r.vcpus;
    const topo =
      v.sockets || v.cores || v.threads ? ` (${v.sockets ?? 1}×${v.cores ?? 1}×${v.threads ?? 1})` : '';
    out.push(
      `   memory ${r.memoryMiB} MiB, vcpus ${v.count}${topo}, machine ${r.machine}, accel ${r.accel}${r.cpu ? `, cpu ${r.cpu}` : ''}${r.osVariant ? `, os-variant ${r.osVariant}` : ''}`,
    );
    out.push(`   media: ${mediaText(g)}`);
    for (const d of r.disks)
      out.push(
        `   disk: ${d.path} (${d.sizeGiB !== undefined ? `${d.sizeGiB} GiB, ` : ''}${d.format}, ${d.bus})`,
      );
    out.push(`   network: ${networkText(g)}`);
    out.push(
      `   devices: ${g.devices.length ? g.devices.map((d) => `${d.spec} → ${describeMatch(d.match)}`).join('; ') : 'none'}`,
    );
    const vars = Object.entries(g.vars).sort(([a], [b]) => a.localeCompare(b));
    if (vars.length) out.push(`   vars: ${vars.map(([k, val]) => `${k}=${String(val)}`).join(' ')}`);
    const run = [
      r.noReboot ? 'no confirm boot (noreboot)' : '',
      r.waitMinutes !== undefined ? `wait ${r.waitMinutes} min` : '',
      r.onError === 'keep' ? 'on-error keep' : '',
    ].filter(Boolean);
    if (run.length) out.push(`   run: ${run.join(', ')}`);
    const note = extra.notes?.get(g.name);
    if (note) out.push(`   note: ${note}`);
    out.push(`   log: ${g.logDir}`);
  }
  out.push('');
  if (extra.hostLines) {
    out.push(
      'order: decided as guests start: each goes to the first host with a free slot that can give it its devices (guests without devices to the hosts with the fewest)',
    );
    return out;
  }
  if (!predicted) {
    const needs = plan.guests.filter((g) => g.devices.length).length;
    out.push(
      needs
        ? `order: not simulated (${needs} guest${needs === 1 ? ' needs' : 's need'} devices; give --inventory FILE to see who gets which device and who waits)`
        : 'order: as listed, no devices to wait for',
    );
    return out;
  }
  out.push(
    `order (simulated against ${extra.poolSource ?? 'the inventory'}, every install taking the same time):`,
  );
  const width = Math.max(...predicted.map((p) => p.name.length));
  const byStart = [...predicted].sort((a, b) => (a.order ?? Infinity) - (b.order ?? Infinity));
  for (const p of byStart) {
    if (p.order === undefined) {
      out.push(`   -. ${p.name.padEnd(width)}  does not start: ${p.failure ?? 'unknown'}`);
      continue;
    }
    const when = p.after.length
      ? `after ${p.after.join(', ')} end${p.after.length === 1 ? 's' : ''}`
      : 'at once';
    const devs = p.devices.length ? `  ${p.devices.map(deviceText).join('; ')}` : '';
    const also = p.alsoReserved.length ? ` (holds ${p.alsoReserved.join(', ')} with it)` : '';
    out.push(`   ${p.order}. ${p.name.padEnd(width)}  starts ${when}${devs}${also}`);
  }
  return out;
}

/** Pure: the dry run's plan as JSON. */
export function planJson(
  plan: BatchPlan,
  concurrency: number,
  predicted: PredictedStart[] | undefined,
  extra: PlanExtra = {},
): Record<string, unknown> {
  return {
    dryRun: true,
    ...(extra.poolSource ? { poolSource: extra.poolSource } : {}),
    batch: plan.name,
    manifest: plan.manifestPath,
    concurrency,
    logRoot: plan.logRoot,
    stateDir: plan.stateDir,
    pools: plan.pools,
    ...(extra.hostLines ? { hosts: extra.hostLines } : {}),
    guests: plan.guests.map((g) => {
      const p = predicted?.find((x) => x.name === g.name);
      return {
        name: g.name,
        path: g.path,
        line: g.line,
        request: g.request,
        devices: g.devices,
        vars: g.vars,
        logDir: g.logDir,
        ...(extra.notes?.has(g.name) ? { note: extra.notes.get(g.name) } : {}),
        ...(p
          ? {
              predicted: {
                order: p.order ?? null,
                after: p.after,
                devices: p.devices.map((d) => d.address),
                ...(p.failure ? { failure: p.failure } : {}),
              },
            }
          : {}),
      };
    }),
  };
}

function eventLine(e: BatchEvent): string {
  const t = new Date(e.time).toISOString().slice(11, 19);
  switch (e.type) {
    case 'start':
      return `${t} ${e.guest}: started${e.host !== undefined ? ` on ${e.host}` : ''}${e.devices.length ? ` with ${e.devices.join(', ')}` : ''}`;
    case 'waiting':
      return `${t} ${e.guest}: ${e.reason}`;
    case 'end':
      return `${t} ${e.guest}: ${e.status}${e.status === 'passed' ? '' : ` (exit ${e.exitCode})`}`;
    case 'skip':
      return `${t} ${e.guest}: skipped, ${e.reason}`;
    case 'cancel':
      return `${t} ${e.guest}: cancelled, ${e.reason}`;
    case 'warning':
      return `${t} ${e.guest}: warning: ${e.message}`;
  }
}

function mgmtIfacesOf(args: Args): string[] {
  const raw = args.mgmtIface;
  const list = Array.isArray(raw) ? raw : raw === undefined ? [] : [raw];
  return list.flatMap((x) => String(x).split(',')).filter(Boolean);
}

function positiveInt(option: string, value: unknown): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw inputError('BAD_NUMBER', `${option} '${String(value)}' is not a positive whole number`, {
      hint: `e.g. ${option} 2`,
    });
  return n;
}

async function exportsFor(
  ctx: CommandContext,
  devicesOf: (g: BatchGuest) => ExportDevice[] | Promise<ExportDevice[]>,
  guests: readonly BatchGuest[],
  xml: boolean,
  kube: boolean,
): Promise<{ xml: Map<string, string>; kube: string | undefined }> {
  const out = new Map<string, string>();
  const { toLibvirtXml } = await import('../export/libvirt.js');
  const { toKubeVirt, kubeVirtYaml } = await import('../export/kubevirt.js');
  const kubes = [];
  for (const g of guests) {
    const devices = await devicesOf(g);
    if (xml)
      out.set(g.name, toLibvirtXml(g.request, devices, g.request.disks, { uuid: ctx.host.ids.uuid() }));
    if (kube) kubes.push(toKubeVirt(g.request, devices));
  }
  return { xml: out, kube: kube ? kubeVirtYaml(kubes) : undefined };
}

export async function runBatchCommand(
  args: Args,
  ctx: CommandContext,
  deps: BatchDeps = {},
): Promise<number> {
  const manifestArg = String(args.manifest);
  const manifestPath = path.resolve(ctx.deps.cwd, manifestArg);
  // a regular file only: a FIFO or a device would hang the read (src/kickstart/read-file.ts)
  const { readRegularFile } = await import('../kickstart/read-file.js');
  const text = await readRegularFile(manifestPath, 'manifest', {
    code: 'MANIFEST_NOT_FOUND',
    hint: 'check the path',
    maxBytes: 16 * 1024 * 1024,
  });
  const concurrencyGiven = args.concurrency !== undefined;
  let concurrency = positiveInt('--concurrency', args.concurrency ?? 1);
  const failFast = Boolean(args.failFast);
  const dryRun = Boolean(args.dryRun);
  const printXml = Boolean(args.printXml);
  const printKube = Boolean(args.printKubevirt);
  const { plan: planned, errors } = planBatch(text, {
    manifestPath,
    cwd: ctx.deps.cwd,
    ...(typeof args.logDir === 'string' ? { logRoot: args.logDir } : {}),
    ...(typeof args.stateDir === 'string' ? { stateDir: args.stateDir } : {}),
  });
  if (!planned) {
    if (!ctx.json) for (const e of errors) ctx.warn(`${manifestArg}: ${formatManifestError(e)}`);
    throw inputError(
      'BAD_MANIFEST',
      errors.length === 1
        ? `manifest '${manifestArg}': ${formatManifestError(errors[0]!)}`
        : `manifest '${manifestArg}' has ${errors.length} errors${ctx.json ? '' : ' (listed above)'}`,
      {
        hint: 'the manifest format is templates/batch/manifest.schema.json',
        data: { manifest: manifestArg, errors },
      },
    );
  }
  let plan: BatchPlan = planned;
  const fallbackNotes = new Map<string, string>();

  // where the guests go: the manifest's hosts:, or --connect / LIBVIRT_DEFAULT_URI, or this machine
  const hostsPool = await hostsOf(plan, args, ctx, concurrencyGiven ? concurrency : undefined);
  if (hostsPool && !concurrencyGiven) concurrency = Math.max(1, hostsPool.capacity);
  const onNetwork = plan.guests.find((g) => g.request.network.kind === 'network');
  if (!hostsPool && onNetwork)
    throw inputError(
      'NEEDS_LIBVIRT',
      `guest ${onNetwork.name}: --network ${onNetwork.raw.network ?? ''}: a libvirt virtual network exists only in libvirt, and this batch runs qemu itself`,
      { hint: "give --connect URI, or list libvirt hosts under the manifest's hosts:" },
    );

  // the device pool: --inventory FILE, or (the default) this host's PCI functions and their verdicts
  const needsDevices = plan.guests.some((g) => g.devices.length > 0);
  let inventory = deps.inventory;
  let poolSource: string | undefined;
  if (hostsPool) {
    // each host's pool comes from its own inventory (hostsOf)
  } else if (!inventory && typeof args.inventory === 'string') {
    const { readInventory } = await import('./inventory.js');
    inventory = await readInventory(path.resolve(ctx.deps.cwd, args.inventory));
    poolSource = 'the inventory';
  } else if (!inventory && needsDevices) {
    const { readHostPool } = await import('./host-pool.js');
    const hostPool = await readHostPool(ctx.host, { mgmtIfaces: mgmtIfacesOf(args) });
    inventory = hostPool.devices;
    poolSource = hostPool.iommu
      ? `this host's ${hostPool.devices.length} assignable PCI functions`
      : 'this host (no IOMMU: no device can be assigned)';
  }
  if ((inventory || hostsPool) && needsDevices) {
    // `auto` requests the pool (no host's pool) can never meet fall back to installing without a device
    const { DevicePool } = await import('./pool.js');
    const probe = hostsPool ?? new DevicePool(inventory ?? [], plan.pools);
    const fb = applyAutoFallback(plan.guests, (m) => probe.candidates(m));
    plan = { ...plan, guests: fb.guests };
    for (const n of fb.notes) fallbackNotes.set(n.guest, n.message);
  }

  if (dryRun) {
    let predicted: PredictedStart[] | undefined;
    if (inventory && !hostsPool) {
      const { simulateBatch } = await import('./simulate.js');
      predicted = await simulateBatch(plan.guests, inventory, plan.pools, concurrency, failFast);
    }
    if (printXml || printKube) {
      const { hostVendorDevice } = await import('../export/devices.js');
      const devicesOf = async (g: BatchGuest): Promise<ExportDevice[]> => {
        const p = predicted?.find((x) => x.name === g.name);
        if (p && p.order !== undefined)
          return p.devices.map((d, i) => ({
            address: d.address,
            vendorDevice: d.vendorDevice,
            ...romOf(g, i),
          }));
        const out: ExportDevice[] = [];
        for (const [i, d] of g.devices.entries()) {
          if (d.match.kind !== 'address')
            throw inputError(
              'DEVICE_UNRESOLVED',
              `guest ${g.name}: hostdev '${d.spec}' is chosen only at run time, and an exported guest names its devices by PCI address`,
              { hint: 'give --inventory FILE to plan against a device list, or the PCI address' },
            );
          const vendorDevice = await hostVendorDevice(ctx.host, d.match.address);
          out.push({ address: d.match.address, ...(vendorDevice ? { vendorDevice } : {}), ...romOf(g, i) });
        }
        return out;
      };
      const ex = await exportsFor(ctx, devicesOf, plan.guests, printXml, printKube);
      for (const [name, xml] of ex.xml)
        ctx.print(`<!-- install-guest batch ${plan.name}: guest ${name} -->\n${xml.trimEnd()}`);
      if (ex.kube) ctx.print(ex.kube.trimEnd());
      return 0;
    }
    const extra: PlanExtra = {
      ...(poolSource ? { poolSource } : {}),
      notes: fallbackNotes,
      ...(hostsPool ? { hostLines: hostsPool.describe() } : {}),
    };
    if (ctx.json) ctx.printJson(planJson(plan, concurrency, predicted, extra));
    else for (const l of formatPlan(plan, concurrency, predicted, failFast, extra)) ctx.print(l);
    return 0;
  }

  const [{ DevicePool }, { runBatch }, { fileResultStore }, report] = await Promise.all([
    import('./pool.js'),
    import('./scheduler.js'),
    import('./resume.js'),
    import('./report.js'),
  ]);
  if (typeof args.junit === 'string') {
    // before any guest runs: a report that cannot be written would otherwise be lost at the end
    const { prepareOutputFile } = await import('../output-path.js');
    await prepareOutputFile('--junit', path.resolve(ctx.deps.cwd, args.junit));
  }
  await mkdir(plan.logRoot, { recursive: true, mode: 0o700 });
  const machineOut = ctx.json || printXml || printKube;
  const human = (l: string): void => (machineOut ? ctx.warn(l) : ctx.print(l));
  for (const l of hostsPool?.describe() ?? []) human(l);
  let install = deps.install;
  if (!install) {
    const { pipelineInstall } = await import('./pipeline-install.js');
    install = pipelineInstall(ctx.host, ctx.deps.env);
  }
  const guestInstall = install;
  for (const [guest, message] of fallbackNotes) human(`${guest}: warning: ${message}`);
  const result = await runBatch(plan, {
    concurrency,
    failFast,
    // every guest has its own log dir, made before its install starts
    install: async (g, a, c) => {
      await mkdir(c.logDir, { recursive: true, mode: 0o700 });
      return guestInstall(g, a, c);
    },
    pool: hostsPool ?? new DevicePool(inventory ?? [], plan.pools),
    ...(ctx.deps.signal ? { signal: ctx.deps.signal } : {}),
    clock: ctx.host.clock,
    store: fileResultStore(plan.stateDir),
    resume: Boolean(args.resume),
    onEvent: (e) => human(eventLine(e)),
  });
  for (const l of report.formatSummary(result)) human(l);
  if (typeof args.junit === 'string') {
    const { writeJUnit } = await import('./junit.js');
    const file = path.resolve(ctx.deps.cwd, args.junit);
    await writeFile(file, writeJUnit(report.batchToJUnit(plan.name, result)));
    human(`JUnit report: ${file}`);
  }
  await writeFile(
    path.join(plan.logRoot, 'results.json'),
    `${JSON.stringify(report.resultJson(plan.name, result, fallbackNotes), null, 2)}\n`,
    { mode: 0o600 },
  );
  if (ctx.json) ctx.printJson(report.resultJson(plan.name, result, fallbackNotes));
  if (printXml || printKube) {
    // outcomes are in plan order
    const passed = plan.guests.filter((_, i) => result.guests[i]!.status === 'passed');
    const devicesOf = (g: BatchGuest): ExportDevice[] =>
      result.guests[plan.guests.indexOf(g)]!.devices.map((d, i) => ({
        address: d.address,
        vendorDevice: d.vendorDevice,
        ...romOf(g, i),
      }));
    const ex = await exportsFor(ctx, devicesOf, passed, printXml, printKube);
    for (const [name, xml] of ex.xml) {
      const g = plan.guests.find((x) => x.name === name)!;
      await writeFile(path.join(g.logDir, 'domain.xml'), xml, { mode: 0o600 });
      ctx.print(`<!-- install-guest batch ${plan.name}: guest ${name} -->\n${xml.trimEnd()}`);
    }
    if (ex.kube) {
      await writeFile(path.join(plan.logRoot, 'kubevirt.yaml'), ex.kube, { mode: 0o600 });
      ctx.print(ex.kube.trimEnd());
    }
  }
  return result.exitCode;
}

/**
 * The hosts of a batch and their pools: the manifest's `hosts:` (each read: libvirt's node devices,
 * or this machine's sysfs for `local`), or the one host --connect / LIBVIRT_DEFAULT_URI names;
 * undefined for a batch on this machine alone. A host of `hosts:` that cannot be read takes no
 * guests (they go elsewhere, or fail with the reason); the one --connect host must answer.
 */
async function hostsOf(
  plan: BatchPlan,
  args: Args,
  ctx: CommandContext,
  concurrency: number | undefined,
): Promise<HostsPool | undefined> {
  const given = typeof args.connect === 'string' && args.connect !== '' ? args.connect : undefined;
  if (plan.hosts && given !== undefined)
    throw inputError('HOSTS_CONFLICT', `--connect and the manifest's hosts: both say where the guests go`, {
      hint: "list that host under the manifest's hosts:, or drop hosts: to install every guest through --connect",
    });
  let hosts = plan.hosts;
  const single = !hosts;
  if (!hosts) {
    const { resolveConnectUri } = await import('../libvirt/connection.js');
    const uri = resolveConnectUri(args.connect, ctx.deps.env);
    if (uri === undefined) return undefined;
    hosts = [{ name: withoutPassword(uri), uri, concurrency: concurrency ?? 1 }];
  }
  if (typeof args.inventory === 'string')
    throw inputError(
      'HOSTS_CONFLICT',
      `--inventory describes one host, but this batch goes to ${single ? '--connect' : "the manifest's hosts:"} (each host's pool comes from its own inventory)`,
      { hint: 'drop --inventory (or plan against it without hosts: and --connect)' },
    );
  const [{ readHostPool, readLibvirtHostPool }, { HostsPool }] = await Promise.all([
    import('./host-pool.js'),
    import('./hosts.js'),
  ]);
  const mgmtIfaces = mgmtIfacesOf(args);
  const facts = await Promise.all(
    hosts.map(async (host): Promise<HostFacts> => {
      try {
        const p =
          host.uri === undefined
            ? await readHostPool(ctx.host, { mgmtIfaces })
            : await readLibvirtHostPool(host.uri, ctx.host, {
                mgmtIfaces,
                ...(host.force ? { force: true } : {}),
                ...(ctx.deps.signal ? { signal: ctx.deps.signal } : {}),
              });
        return {
          host,
          devices: p.devices,
          ...(p.iommu ? {} : { noIommu: true }),
        };
      } catch (e) {
        if (single || !isInstallGuestError(e)) throw e;
        return { host, devices: [], down: e.message };
      }
    }),
  );
  const needs = new Map<string, HostNeeds>();
  for (const g of plan.guests) {
    const n = g.request.network;
    if (n.kind === 'network') needs.set(g.name, { libvirt: `--network network=${n.network}` });
  }
  return new HostsPool(facts, plan.pools, needs);
}

function romOf(g: BatchGuest, i: number): Partial<ExportDevice> {
  const o = g.devices[i]?.options ?? {};
  return {
    ...(o.romBar !== undefined ? { romBar: o.romBar } : {}),
    ...(o.romFile ? { romFile: o.romFile } : {}),
  };
}
