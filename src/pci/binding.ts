/**
 * Driver binding recipes, the way libvirt's virpci.c learned to do them:
 * - vfio-pci: write `driver_override`, unbind from the current driver, write the address to
 *   /sys/bus/pci/drivers_probe, then verify the `driver` link (and that /dev/vfio/<group> appeared);
 * - pci-stub (legacy, the original feature's path; modern qemu has no pci-assign, so it only reserves
 *   the device): `new_id`, unbind, `bind`, verify, `remove_id` right away so the stub grabs nothing else;
 * - restore: put back the exact original driver and driver_override, removing any dynamic id we added.
 *
 * Every write goes through Host.write and is announced to the run journal first (write-ahead). A
 * failing write becomes a StepFailure naming the device and the step.
 */
import type { Host } from '../host/host.js';
import type { BindingState, RunJournal } from './journal.js';

export type { BindingState } from './journal.js';

export type StubDriver = 'vfio-pci' | 'pci-stub';
export const STUB_DRIVERS: readonly string[] = ['vfio-pci', 'pci-stub'];
/** drivers a group member may have while the group is assigned (the kernel's vfio allows these) */
export const VIABLE_DRIVERS: readonly string[] = ['vfio-pci', 'pci-stub', 'pcieport'];

export const MODULE_OF: Record<StubDriver, string> = { 'vfio-pci': 'vfio_pci', 'pci-stub': 'pci_stub' };

export const devPath = (address: string, file?: string): string =>
  `/sys/bus/pci/devices/${address}${file ? `/${file}` : ''}`;
export const drvPath = (driver: string, file?: string): string =>
  `/sys/bus/pci/drivers/${driver}${file ? `/${file}` : ''}`;
export const DRIVERS_PROBE = '/sys/bus/pci/drivers_probe';

export interface DeviceFacts extends BindingState {
  address: string;
  /** lowercase hex vendor:device, e.g. 8086:10d3 */
  vendorDevice: string | null;
  /** e.g. 0x020000 */
  classCode: string | null;
  iommuGroup: string | null;
  /** PCI-to-PCI bridge (class 0x0604xx/0x0609xx): left on its driver when a group is assigned */
  isBridge: boolean;
  /**
   * Not null when the function hosts other PCI devices without being a bridge: an Intel VMD
   * controller (its NVMe/ports sit in a PCI domain of their own, 10000+), or any function with a
   * root bus below it in sysfs. It says what it hosts; such a function is never detached.
   */
  hostsDevices: string | null;
}

/** The kernel shows an unset override as `(null)`. */
export function parseOverride(text: string | null): string | null {
  if (text === null) return null;
  const t = text.trim();
  return t === '' || t === '(null)' ? null : t;
}

export function isBridgeClass(classCode: string | null): boolean {
  return classCode !== null && /^(0x)?060[49]/i.test(classCode);
}

/**
 * Intel Volume Management Device controllers (Linux drivers/pci/controller/vmd.c's id table): class
 * 0x0104 (RAID) functions that host a PCI domain of their own behind them.
 */
export const VMD_IDS: readonly string[] = [
  '8086:201d',
  '8086:28c0',
  '8086:467f',
  '8086:4c3d',
  '8086:7d0b',
  '8086:9a0b',
  '8086:a77f',
  '8086:ad0b',
  '8086:b06f',
  '8086:b60b',
];

/** Pure: what a non-bridge function hosts (VMD by id, or the root buses found below it), or null. */
export function hostedDevices(
  vendorDevice: string | null,
  classCode: string | null,
  childEntries: readonly string[],
): string | null {
  const domains = [
    ...new Set(
      childEntries.flatMap((n) => {
        const m = /^pci([0-9a-f]{4,}):[0-9a-f]{2}$/i.exec(n);
        return m ? [m[1]!.toLowerCase()] : [];
      }),
    ),
  ];
  const where = domains.length > 0 ? `PCI domain ${domains.join(', ')}` : '';
  if (vendorDevice && VMD_IDS.includes(vendorDevice) && (classCode === null || /^(0x)?0104/i.test(classCode)))
    return `VMD controller${where ? ` of ${where}` : ''}`;
  return where || null;
}

export async function readBinding(host: Host, address: string): Promise<BindingState | null> {
  if (!(await host.exists(devPath(address)))) return null;
  return {
    driver: await host.linkName(devPath(address, 'driver')),
    override: parseOverride(await host.readTrimmed(devPath(address, 'driver_override'))),
  };
}

export async function readDeviceFacts(host: Host, address: string): Promise<DeviceFacts | null> {
  const binding = await readBinding(host, address);
  if (!binding) return null;
  const hex = async (f: string): Promise<string | null> => {
    const t = await host.readTrimmed(devPath(address, f));
    return t ? t.replace(/^0x/i, '').toLowerCase() : null;
  };
  const [vendor, device] = [await hex('vendor'), await hex('device')];
  const classCode = (await host.readTrimmed(devPath(address, 'class')))?.toLowerCase() ?? null;
  const vendorDevice = vendor && device ? `${vendor}:${device}` : null;
  const isBridge = isBridgeClass(classCode);
  return {
    address,
    ...binding,
    vendorDevice,
    classCode,
    iommuGroup: await host.linkName(devPath(address, 'iommu_group')),
    isBridge,
    hostsDevices: isBridge ? null : hostedDevices(vendorDevice, classCode, await host.list(devPath(address))),
  };
}

export async function groupMembers(host: Host, group: string): Promise<string[]> {
  return host.list(`/sys/kernel/iommu_groups/${group}/devices`);
}

export async function driverDevices(host: Host, driver: string): Promise<string[]> {
  return (await host.list(drvPath(driver))).filter((n) =>
    /^[0-9a-f]{4,}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/.test(n),
  );
}

export function formatBinding(b: BindingState): string {
  return `${b.driver ?? 'no driver'}${b.override ? ` (driver_override ${b.override})` : ''}`;
}

export const sameBinding = (a: BindingState, b: BindingState): boolean =>
  a.driver === b.driver && a.override === b.override;

export type StepName =
  | 'override'
  | 'unbind'
  | 'probe'
  | 'bind'
  | 'verify'
  | 'new_id'
  | 'remove_id'
  | 'reset'
  | 'reset_method'
  | 'no_reset'
  | 'vanished';

const STEP_CODE: Record<StepName, string> = {
  override: 'DRIVER_OVERRIDE_FAILED',
  unbind: 'UNBIND_FAILED',
  probe: 'PROBE_FAILED',
  bind: 'BIND_FAILED',
  verify: 'BIND_VERIFY_FAILED',
  new_id: 'NEW_ID_FAILED',
  remove_id: 'REMOVE_ID_FAILED',
  reset: 'RESET_FAILED',
  reset_method: 'RESET_FAILED',
  no_reset: 'NO_RESET_METHOD',
  vanished: 'DEVICE_VANISHED',
};

export const errnoOf = (e: unknown): string | undefined => (e as NodeJS.ErrnoException | null)?.code;

function describeCause(e: unknown): string {
  const code = errnoOf(e);
  const msg = e instanceof Error ? e.message : String(e);
  return code && !msg.startsWith(code) ? `${code} (${msg})` : msg;
}

/** One failed step: which device, which step, what was attempted, and the kernel's answer. */
export class StepFailure extends Error {
  constructor(
    readonly address: string | null,
    readonly step: StepName,
    readonly attempted: string,
    readonly detail: string,
    readonly errno?: string,
  ) {
    super(`${address ? `${address}: ` : ''}${attempted} failed: ${detail}`);
    this.name = 'StepFailure';
  }

  get code(): string {
    return STEP_CODE[this.step];
  }
}

/** The run was interrupted between two writes (SIGINT/SIGTERM). */
export class AbortedStep extends Error {
  constructor(readonly reason: unknown) {
    super('interrupted');
    this.name = 'AbortedStep';
  }
}

export interface BindingContext {
  host: Host;
  /** every write is announced here first; absent in `recover` (it writes no journal of its own) */
  journal?: RunJournal;
  /** checked before each write on the way forward; never passed when giving devices back */
  signal?: AbortSignal;
}

/** Announces, then makes, one write to a kernel file; maps failures to a StepFailure. */
export async function sysWrite(
  ctx: BindingContext,
  address: string | null,
  step: StepName,
  attempted: string,
  hostPath: string,
  value: string,
): Promise<void> {
  if (ctx.signal?.aborted) throw new AbortedStep(ctx.signal.reason);
  await ctx.journal?.intent(address, step, hostPath, value);
  try {
    await ctx.host.write(hostPath, value);
  } catch (e) {
    if (address && !(await ctx.host.exists(devPath(address)))) {
      throw new StepFailure(address, 'vanished', attempted, 'the device disappeared from /sys', errnoOf(e));
    }
    throw new StepFailure(address, step, attempted, describeCause(e), errnoOf(e));
  }
}

async function currentDriver(ctx: BindingContext, address: string): Promise<string | null> {
  if (!(await ctx.host.exists(devPath(address)))) {
    throw new StepFailure(address, 'vanished', 'reading its driver', 'the device disappeared from /sys');
  }
  return ctx.host.linkName(devPath(address, 'driver'));
}

/** Polls until `hostPath` exists (a driver registering, a /dev/vfio node appearing). */
export async function waitForPath(host: Host, hostPath: string, tries = 20): Promise<boolean> {
  for (let i = 0; i < tries; i++) {
    if (await host.exists(hostPath)) return true;
    await host.clock.sleep(50);
  }
  return host.exists(hostPath);
}

/**
 * vfio-pci through driver_override (libvirt's virPCIDeviceBindWithDriverOverride): with the override
 * set, only vfio-pci can claim the device between unbind and probe. Returns the /dev/vfio node.
 */
export async function bindToVfio(ctx: BindingContext, dev: DeviceFacts): Promise<string | null> {
  const a = dev.address;
  if (dev.override !== 'vfio-pci') {
    await sysWrite(
      ctx,
      a,
      'override',
      'set driver_override to vfio-pci',
      devPath(a, 'driver_override'),
      'vfio-pci',
    );
  }
  let driver = await currentDriver(ctx, a);
  if (driver !== null && driver !== 'vfio-pci') {
    await sysWrite(ctx, a, 'unbind', `unbind from ${driver}`, drvPath(driver, 'unbind'), a);
    driver = await currentDriver(ctx, a);
  }
  if (driver === null) {
    await sysWrite(ctx, a, 'probe', 'reprobe through drivers_probe', DRIVERS_PROBE, a);
    driver = await currentDriver(ctx, a);
  }
  if (driver !== 'vfio-pci') {
    throw new StepFailure(
      a,
      'verify',
      'binding to vfio-pci',
      `after drivers_probe the device is on ${driver ?? 'no driver'}, not vfio-pci${
        dev.iommuGroup ? '' : ' (it has no IOMMU group: vfio-pci refuses it)'
      }`,
    );
  }
  if (!dev.iommuGroup) return null;
  const node = `/dev/vfio/${dev.iommuGroup}`;
  if (!(await waitForPath(ctx.host, node))) {
    throw new StepFailure(a, 'verify', 'binding to vfio-pci', `${node} did not appear`);
  }
  return node;
}

/** `vvvv dddd`, the form new_id and remove_id take. */
export const dynIdOf = (vendorDevice: string): string => vendorDevice.replace(':', ' ');

export interface PciStubOptions {
  /** unbound devices with the same id that the stub could grab on new_id: given back afterwards */
  bystanders?: readonly string[];
  /** called before new_id is written, so the journal holds the id and the bystanders first */
  beforeNewId?(): Promise<void>;
}

/**
 * The legacy pci-stub path (the original feature's): new_id makes the stub match the device, unbind
 * it from its driver, bind it to the stub, then remove_id at once (libvirt does the same) so the stub
 * does not grab other devices with this id later. An id the stub already had (EEXIST) is not ours and
 * is left in place.
 */
export async function bindToPciStub(
  ctx: BindingContext,
  dev: DeviceFacts,
  options: PciStubOptions = {},
): Promise<void> {
  const a = dev.address;
  if (dev.driver === 'pci-stub' && (dev.override === null || dev.override === 'pci-stub')) return;
  if (!dev.vendorDevice) {
    throw new StepFailure(a, 'new_id', 'reading vendor:device', 'the device has no vendor/device files');
  }
  const id = dynIdOf(dev.vendorDevice);
  if (dev.override !== null && dev.override !== 'pci-stub') {
    await sysWrite(
      ctx,
      a,
      'override',
      `clear driver_override ${dev.override}`,
      devPath(a, 'driver_override'),
      '\n',
    );
  }
  await options.beforeNewId?.();
  let added = false;
  await ctx.journal?.append({ type: 'dynid', driver: 'pci-stub', id, address: a });
  try {
    await sysWrite(ctx, a, 'new_id', `add id ${id} to pci-stub (new_id)`, drvPath('pci-stub', 'new_id'), id);
    added = true;
  } catch (e) {
    if (!(e instanceof StepFailure && e.errno === 'EEXIST')) throw e;
    await ctx.journal?.append({ type: 'dynid-done', driver: 'pci-stub', id, outcome: 'preexisting' });
  }
  // new_id probes every unbound device with this id: give back the ones that were not asked for
  for (const b of options.bystanders ?? []) {
    if (b === a) continue;
    const drv = await ctx.host.linkName(devPath(b, 'driver'));
    if (drv === 'pci-stub') {
      await sysWrite(
        ctx,
        b,
        'unbind',
        'unbind a device new_id gave to pci-stub',
        drvPath('pci-stub', 'unbind'),
        b,
      );
    }
  }
  let driver = await currentDriver(ctx, a);
  if (driver !== null && driver !== 'pci-stub') {
    await sysWrite(ctx, a, 'unbind', `unbind from ${driver}`, drvPath(driver, 'unbind'), a);
    driver = await currentDriver(ctx, a);
  }
  if (driver === null) {
    await sysWrite(ctx, a, 'bind', 'bind to pci-stub', drvPath('pci-stub', 'bind'), a);
    driver = await currentDriver(ctx, a);
  }
  if (driver !== 'pci-stub') {
    throw new StepFailure(
      a,
      'verify',
      'binding to pci-stub',
      `the device is on ${driver ?? 'no driver'}, not pci-stub`,
    );
  }
  if (added) {
    await sysWrite(
      ctx,
      a,
      'remove_id',
      `remove id ${id} from pci-stub (remove_id)`,
      drvPath('pci-stub', 'remove_id'),
      id,
    );
    await ctx.journal?.append({ type: 'dynid-done', driver: 'pci-stub', id, outcome: 'removed' });
  }
}

/** Removes a dynamic id this tool added; an id already gone (ENODEV) or a driver not loaded is fine. */
export async function removeDynId(
  ctx: BindingContext,
  driver: string,
  id: string,
): Promise<'removed' | 'absent'> {
  if (!(await ctx.host.exists(drvPath(driver, 'remove_id')))) return 'absent';
  try {
    await sysWrite(
      { ...ctx, signal: undefined },
      null,
      'remove_id',
      `remove id ${id} from ${driver}`,
      drvPath(driver, 'remove_id'),
      id,
    );
  } catch (e) {
    if (!(e instanceof StepFailure && (e.errno === 'ENODEV' || e.errno === 'ENOENT'))) throw e;
    await ctx.journal?.append({ type: 'dynid-done', driver, id, outcome: 'absent' });
    return 'absent';
  }
  await ctx.journal?.append({ type: 'dynid-done', driver, id, outcome: 'removed' });
  return 'removed';
}

export type RestoreOutcome = 'unchanged' | 'restored' | 'gone';

/**
 * Gives a device back its exact original binding (driver and driver_override). Idempotent: compares
 * what is there with the original and writes only what differs, so it also finishes a restore that
 * was cut short. Used by rollback, reattach and recover.
 */
export async function restoreBinding(
  ctx: BindingContext,
  address: string,
  original: BindingState,
): Promise<RestoreOutcome> {
  const c: BindingContext = { ...ctx, signal: undefined };
  const a = address;
  let cur = await readBinding(c.host, a);
  if (!cur) return 'gone';
  if (sameBinding(cur, original)) return 'unchanged';
  // While giving it back, the override names the original driver: then only that driver can claim
  // the device on reprobe (a stale id in a stub's table cannot steal it, and a driver whose id table
  // does not list the device, such as pci-stub, can still take it). The original override comes last.
  const interim = original.driver ?? original.override;
  if (cur.override !== interim) {
    await sysWrite(
      c,
      a,
      'override',
      interim === null
        ? `clear driver_override ${cur.override}`
        : `set driver_override to ${interim} while giving it back`,
      devPath(a, 'driver_override'),
      interim ?? '\n',
    );
  }
  if (cur.driver !== null && cur.driver !== original.driver) {
    await sysWrite(c, a, 'unbind', `unbind from ${cur.driver}`, drvPath(cur.driver, 'unbind'), a);
  }
  if (original.driver !== null) {
    let driver = await currentDriver(c, a);
    if (driver === null) {
      await sysWrite(c, a, 'probe', 'reprobe through drivers_probe', DRIVERS_PROBE, a);
      driver = await currentDriver(c, a);
    }
    if (driver !== original.driver) {
      if (driver !== null) {
        await sysWrite(
          c,
          a,
          'unbind',
          `unbind from ${driver} (probed instead of ${original.driver})`,
          drvPath(driver, 'unbind'),
          a,
        );
      }
      if (!(await c.host.exists(drvPath(original.driver, 'bind')))) {
        throw new StepFailure(
          a,
          'bind',
          `bind to ${original.driver}`,
          `driver ${original.driver} is not loaded`,
        );
      }
      await sysWrite(c, a, 'bind', `bind to ${original.driver}`, drvPath(original.driver, 'bind'), a);
    }
  }
  if (interim !== original.override) {
    await sysWrite(
      c,
      a,
      'override',
      `set driver_override back to ${original.override}`,
      devPath(a, 'driver_override'),
      original.override ?? '\n',
    );
  }
  cur = await readBinding(c.host, a);
  if (!cur) return 'gone';
  if (!sameBinding(cur, original)) {
    throw new StepFailure(
      a,
      'verify',
      `giving it back to ${formatBinding(original)}`,
      `it is on ${formatBinding(cur)}`,
    );
  }
  return 'restored';
}

/**
 * Reattach without a journal record (the device was detached by something else): clear a stub
 * override, unbind from the stub, and let the kernel pick the driver. Returns what it picked.
 */
export async function releaseToKernel(ctx: BindingContext, address: string): Promise<BindingState | null> {
  const c: BindingContext = { ...ctx, signal: undefined };
  const cur = await readBinding(c.host, address);
  if (!cur) return null;
  if (cur.override !== null && STUB_DRIVERS.includes(cur.override)) {
    await sysWrite(
      c,
      address,
      'override',
      `clear driver_override ${cur.override}`,
      devPath(address, 'driver_override'),
      '\n',
    );
  }
  if (cur.driver !== null && STUB_DRIVERS.includes(cur.driver)) {
    await sysWrite(c, address, 'unbind', `unbind from ${cur.driver}`, drvPath(cur.driver, 'unbind'), address);
  }
  if ((await currentDriver(c, address)) === null) {
    await sysWrite(c, address, 'probe', 'reprobe through drivers_probe', DRIVERS_PROBE, address);
  }
  return readBinding(c.host, address);
}
