/**
 * A kernel model for PCI driver binding tests, after libvirt's virpcimock: a real sysfs-shaped tree in
 * a temp dir, built by the one fake-sysfs builder (sysfs-fixture.ts) from the model's spec, and a
 * SysfsWriter that reacts to writes the way the
 * kernel does:
 * - `driver_override` stores the value; an empty value or a lone newline clears it (reads `(null)`);
 * - `unbind` (drivers/<drv>/unbind or devices/<addr>/driver/unbind) removes the `driver` link and the
 *   driver's device link;
 * - `drivers_probe` binds an unbound device to its override if set, else to the first driver (in
 *   registration order) whose static or dynamic ids match; a failing probe leaves it unbound and the
 *   write still succeeds, as in the kernel;
 * - `bind` binds if the driver matches (override semantics: a device with an override binds only to
 *   that driver), EBUSY when bound, ENODEV when it does not match;
 * - `new_id` adds a dynamic id (EEXIST when already matched) and probes every unbound matching device;
 *   `remove_id` removes it (ENODEV when absent);
 * - binding vfio-pci creates /dev/vfio/<group> and /dev/vfio/vfio, and only when the device has an
 *   iommu_group link (else the probe fails with EINVAL, like the real vfio-pci);
 * - `reset`, `reset_method`, a bridge's `reset_subordinate` are recorded as events.
 * Faults on request: an errno for an operation (optionally for one device/driver, a number of times),
 * a device vanishing before the N-th write, a delay before each write, and SIGKILL of the own process
 * right after the N-th write (for crash tests). Errors are Node errors with `code`, like fs throws.
 *
 * State lives in the tree itself (links, files) plus `.model/` (driver id tables, dynamic ids, the
 * write log), so a child process and the test process see the same kernel.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ExecResult, Executor, Host, SysfsWriter } from '../../src/host/host.js';
import {
  buildHostTreeSync,
  configBytes,
  normalizeDevices,
  type DeviceProfile,
  type HostProfile,
} from './sysfs-fixture.js';

export interface ModelDeviceSpec {
  address: string;
  vendor: string;
  device: string;
  subsystem?: [string, string];
  /** e.g. 0x020000 (Ethernet), 0x060400 (PCI bridge) */
  class: string;
  /** the upstream bridge's address; absent: on the root bus of its domain */
  parent?: string;
  driver?: string | null;
  override?: string | null;
  /** IOMMU group number; null or absent: no IOMMU */
  group?: string | null;
  /** network interfaces; `under` nests them like virtio does (…/<address>/virtio0/net/<name>) */
  net?: { name: string; master?: string; under?: string }[];
  /** disks below this controller, with partitions */
  block?: { name: string; partitions?: string[] }[];
  flr?: boolean;
  /** Advanced Features FLR */
  afFlr?: boolean;
  /** power management capability (default present with NoSoftRst set); false: absent */
  pm?: { noSoftReset: boolean } | false;
  /** the kernel's reset_method list; default derived from flr/pm; [] → no reset files */
  resetMethods?: string[];
  /** an old kernel: `reset` without `reset_method` */
  noResetMethodFile?: boolean;
  /** a bridge with reset_subordinate */
  resetSubordinate?: boolean;
}

export interface ModelDriverSpec {
  name: string;
  module: string;
  /** static id table, vvvv:dddd */
  ids?: string[];
  /** registered at start (default true) */
  loaded?: boolean;
}

export interface ModelSpec {
  devices: ModelDeviceSpec[];
  drivers: ModelDriverSpec[];
  /** what a fake `modprobe <module>` answers instead of loading it */
  modprobe?: Record<string, { exitCode: number; stderr: string }>;
  /** extra files by host path: /proc/net/route, /proc/mounts, /etc/modprobe.d/x.conf, … */
  files?: Record<string, string>;
  /** symlinks by host path → target (e.g. /proc/4242/fd/5 → /dev/vfio/7) */
  links?: Record<string, string>;
  /** virtual net devices (bridges, bonds) with their own master */
  virtualNet?: { name: string; master?: string }[];
}

export type FaultOp =
  | 'override'
  | 'unbind'
  | 'bind'
  | 'probe'
  | 'drivers_probe'
  | 'new_id'
  | 'remove_id'
  | 'reset'
  | 'reset_method';

export interface ModelFault {
  op: FaultOp;
  address?: string;
  driver?: string;
  code: string;
  /** how many times it fires (default: always) */
  times?: number;
}

export interface ModelOptions {
  faults?: ModelFault[];
  /** SIGKILL this process right after the N-th write (1-based) */
  killAfter?: number;
  /** remove this device from the tree just before the N-th write */
  vanish?: { address: string; beforeWrite: number };
  delayMs?: number;
  /** called after each write with its number (tests abort a run at a chosen write) */
  onWrite?(n: number, hostPath: string, value: string): void;
}

export interface WriteRecord {
  n: number;
  path: string;
  value: string;
  error?: string;
}

const ERRNO: Record<string, number> = {
  EPERM: 1,
  ENOENT: 2,
  EIO: 5,
  EBUSY: 16,
  EEXIST: 17,
  ENODEV: 19,
  EINVAL: 22,
  ENOTTY: 25,
};

export function kernelError(code: string, p: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: write ${p}`), {
    code,
    errno: -(ERRNO[code] ?? 1),
    syscall: 'write',
    path: p,
  });
}

// ---------------------------------------------------------------------------------------------------
// Tree builder

const rel = (from: string, to: string): string => path.relative(path.dirname(from), to);

function link(root: string, at: string, target: string): void {
  const abs = path.join(root, at);
  fs.mkdirSync(path.dirname(abs), { recursive: true });
  fs.rmSync(abs, { force: true });
  fs.symlinkSync(rel(abs, path.join(root, target)), abs);
}

function put(root: string, at: string, content: string | Buffer): void {
  const abs = path.join(root, at);
  fs.mkdirSync(path.dirname(abs), { recursive: true });
  fs.writeFileSync(abs, content);
}

/**
 * A model device as the one fake-sysfs builder's profile (sysfs-fixture.ts) describes it: the
 * capabilities the reset policy reads (PM, PCIe with or without FLR, AF FLR) in a 256-byte config
 * space, the kernel's reset_method list, the driver_override value, and its interfaces and disks.
 */
function deviceProfile(d: ModelDeviceSpec, index: number): DeviceProfile {
  const methods = defaultResetMethods(d);
  const pm = d.pm === undefined ? { noSoftReset: true } : d.pm;
  return {
    address: d.address,
    id: `${d.vendor}:${d.device}`,
    subsys: `${d.subsystem?.[0] ?? d.vendor}:${d.subsystem?.[1] ?? '0000'}`,
    class: d.class.replace(/^0x/, ''),
    driver: d.driver ?? null,
    ...(d.parent ? { parent: d.parent } : {}),
    ...(d.group !== undefined && d.group !== null ? { group: Number(d.group) } : {}),
    pcie: { flr: Boolean(d.flr) },
    pm,
    ...(d.afFlr ? { af: { flr: true } } : {}),
    configSize: 256,
    resetMethod: methods.length > 0 ? methods.join(' ') : null,
    driverOverride: d.override ?? null,
    net: (d.net ?? []).map((n, i) => ({
      name: n.name,
      mac: `52:54:00:00:${(index & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`,
      ...(n.under ? { via: 'virtio' as const } : {}),
    })),
    ...(d.block ? { block: { kind: 'sata' as const, disks: d.block } } : {}),
  };
}

/** The host profile the fixture builder builds for `spec`: an Intel IOMMU when a device has a group. */
export function modelProfile(spec: ModelSpec): HostProfile {
  const grouped = spec.devices.some((d) => d.group !== undefined && d.group !== null);
  return {
    name: 'kernel-model',
    description: 'a kernel model tree',
    iommu: { kind: grouped ? 'intel' : 'none' },
    modules: spec.drivers.filter((d) => d.loaded !== false).map((d) => d.module),
    devices: spec.devices.map(deviceProfile),
    net: {
      virtual: (spec.virtualNet ?? []).map((v, i) => ({
        name: v.name,
        mac: `52:54:00:ff:00:${(i & 0xff).toString(16).padStart(2, '0')}`,
        lower: [],
      })),
    },
  };
}

/** The config space the fixture builder gives a model device (what the reset policy reads). */
export function configSpace(d: ModelDeviceSpec): Buffer {
  const { parent: _parent, ...alone } = d;
  const [normal] = normalizeDevices({ ...modelProfile({ devices: [alone], drivers: [] }) });
  return configBytes(normal!);
}

export function defaultResetMethods(d: ModelDeviceSpec): string[] {
  if (d.resetMethods) return d.resetMethods;
  const m: string[] = [];
  if (d.flr) m.push('flr');
  if (d.afFlr) m.push('af_flr');
  const pm = d.pm === undefined ? { noSoftReset: true } : d.pm;
  if (pm && !pm.noSoftReset) m.push('pm');
  return m;
}

function createDriver(root: string, drv: ModelDriverSpec): void {
  const dir = `/sys/bus/pci/drivers/${drv.name}`;
  for (const f of ['bind', 'unbind', 'new_id', 'remove_id', 'uevent']) put(root, `${dir}/${f}`, '');
  fs.mkdirSync(path.join(root, `/sys/module/${drv.module}/drivers`), { recursive: true });
  link(root, `${dir}/module`, `/sys/module/${drv.module}`);
  if (drv.name === 'vfio-pci') {
    fs.mkdirSync(path.join(root, '/dev/vfio'), { recursive: true });
    put(root, '/dev/vfio/vfio', '');
  }
}

/**
 * Builds the tree for `spec` under `root` (which should be an empty temp dir): the host tree comes
 * from the fake-sysfs builder (sysfs-fixture.ts); the model adds its own state (`.model/`), the
 * drivers it registers with their modules, what the builder has no word for (an old kernel's missing
 * reset_method, a bridge's reset_subordinate, `master` links of bridge and bond ports) and the spec's
 * extra files and links.
 */
export function buildTree(root: string, spec: ModelSpec): void {
  buildHostTreeSync(modelProfile(spec), root);
  fs.mkdirSync(path.join(root, '.model'), { recursive: true });
  fs.writeFileSync(path.join(root, '.model/spec.json'), JSON.stringify(spec, null, 2));
  fs.writeFileSync(path.join(root, '.model/dynids.json'), '{}');
  fs.mkdirSync(path.join(root, '/dev/vfio'), { recursive: true });
  for (const drv of spec.drivers) if (drv.loaded !== false) createDriver(root, drv);
  const devDir = (address: string): string =>
    '/' + path.relative(root, fs.realpathSync(path.join(root, `/sys/bus/pci/devices/${address}`)));
  const netDir = (name: string): string =>
    '/' + path.relative(root, fs.realpathSync(path.join(root, `/sys/class/net/${name}`)));
  for (const d of spec.devices) {
    const dir = devDir(d.address);
    if (d.noResetMethodFile) fs.rmSync(path.join(root, `${dir}/reset_method`), { force: true });
    if (d.resetSubordinate) put(root, `${dir}/reset_subordinate`, '');
    if (d.driver === 'vfio-pci' && d.group) put(root, `/dev/vfio/${d.group}`, '');
    for (const n of d.net ?? [])
      if (n.master) link(root, `${netDir(n.name)}/master`, `/sys/devices/virtual/net/${n.master}`);
  }
  for (const v of spec.virtualNet ?? [])
    if (v.master) link(root, `${netDir(v.name)}/master`, `/sys/devices/virtual/net/${v.master}`);
  for (const [p, content] of Object.entries(spec.files ?? {})) put(root, p, content);
  for (const [p, target] of Object.entries(spec.links ?? {})) {
    const abs = path.join(root, p);
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    fs.symlinkSync(target, abs);
  }
}

/**
 * Makes `<root>/proc/<pid>` stand for the real process, so owner checks (PID + start time) through a
 * Host rooted at `root` see live and dead processes as they are.
 */
export function linkProcess(root: string, pid: number): void {
  const at = path.join(root, 'proc', String(pid));
  fs.mkdirSync(path.dirname(at), { recursive: true });
  fs.rmSync(at, { force: true });
  fs.symlinkSync(`/proc/${pid}`, at);
}

// ---------------------------------------------------------------------------------------------------
// The model

const ADDRESS_RE = /^[0-9a-f]{4,}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/;

export class KernelModel {
  readonly writes: WriteRecord[] = [];
  readonly events: string[] = [];
  private count = 0;
  private readonly faults: ModelFault[];

  constructor(
    readonly root: string,
    private readonly options: ModelOptions = {},
  ) {
    this.faults = (options.faults ?? []).map((f) => ({ ...f }));
  }

  /** Options from the environment, for child processes: KERNEL_MODEL_KILL_AFTER, _DELAY_MS, _FAULTS (JSON), _VANISH (addr@n). */
  static fromEnv(root: string, env: NodeJS.ProcessEnv = process.env): KernelModel {
    const vanish = env.KERNEL_MODEL_VANISH?.split('@');
    return new KernelModel(root, {
      ...(env.KERNEL_MODEL_KILL_AFTER ? { killAfter: Number(env.KERNEL_MODEL_KILL_AFTER) } : {}),
      ...(env.KERNEL_MODEL_DELAY_MS ? { delayMs: Number(env.KERNEL_MODEL_DELAY_MS) } : {}),
      ...(env.KERNEL_MODEL_FAULTS ? { faults: JSON.parse(env.KERNEL_MODEL_FAULTS) as ModelFault[] } : {}),
      ...(vanish && vanish.length === 2
        ? { vanish: { address: vanish[0]!, beforeWrite: Number(vanish[1]) } }
        : {}),
    });
  }

  private get spec(): ModelSpec {
    return JSON.parse(fs.readFileSync(path.join(this.root, '.model/spec.json'), 'utf8')) as ModelSpec;
  }

  private abs(hostPath: string): string {
    return path.join(this.root, hostPath);
  }

  // --- reading the state (also for assertions) ---

  exists(address: string): boolean {
    return fs.existsSync(this.abs(`/sys/bus/pci/devices/${address}`));
  }

  private devDir(address: string): string {
    return fs.realpathSync(this.abs(`/sys/bus/pci/devices/${address}`));
  }

  driverOf(address: string): string | null {
    try {
      return path.basename(fs.readlinkSync(path.join(this.devDir(address), 'driver')));
    } catch {
      return null;
    }
  }

  overrideOf(address: string): string | null {
    const t = fs.readFileSync(path.join(this.devDir(address), 'driver_override'), 'utf8').trim();
    return t === '(null)' || t === '' ? null : t;
  }

  binding(address: string): { driver: string | null; override: string | null } {
    return { driver: this.driverOf(address), override: this.overrideOf(address) };
  }

  idOf(address: string): string {
    const r = (f: string): string =>
      fs
        .readFileSync(path.join(this.devDir(address), f), 'utf8')
        .trim()
        .replace(/^0x/, '');
    return `${r('vendor')}:${r('device')}`;
  }

  groupOf(address: string): string | null {
    try {
      return path.basename(fs.readlinkSync(path.join(this.devDir(address), 'iommu_group')));
    } catch {
      return null;
    }
  }

  dynids(driver?: string): Record<string, string[]> | string[] {
    const all = JSON.parse(fs.readFileSync(this.abs('/.model/dynids.json'), 'utf8')) as Record<
      string,
      string[]
    >;
    return driver === undefined ? all : (all[driver] ?? []);
  }

  /** every dynamic id of every driver, as `driver vvvv:dddd` */
  allDynids(): string[] {
    const all = this.dynids() as Record<string, string[]>;
    return Object.entries(all).flatMap(([d, ids]) => ids.map((i) => `${d} ${i}`));
  }

  private setDynids(driver: string, ids: string[]): void {
    const all = this.dynids() as Record<string, string[]>;
    all[driver] = ids;
    fs.writeFileSync(this.abs('/.model/dynids.json'), JSON.stringify(all));
  }

  loadedDrivers(): ModelDriverSpec[] {
    return this.spec.drivers.filter((d) => fs.existsSync(this.abs(`/sys/bus/pci/drivers/${d.name}`)));
  }

  private devices(): string[] {
    return fs
      .readdirSync(this.abs('/sys/bus/pci/devices'))
      .filter((n) => ADDRESS_RE.test(n))
      .sort();
  }

  vfioNodes(): string[] {
    try {
      return fs.readdirSync(this.abs('/dev/vfio')).sort();
    } catch {
      return [];
    }
  }

  // --- kernel behaviour ---

  private fault(op: FaultOp, address: string | null, driver: string | null, p: string): void {
    for (const f of this.faults) {
      if (f.op !== op) continue;
      if (f.address && f.address !== address) continue;
      if (f.driver && f.driver !== driver) continue;
      if (f.times !== undefined) {
        if (f.times <= 0) continue;
        f.times--;
      }
      throw kernelError(f.code, p);
    }
  }

  private matches(driver: string, address: string): boolean {
    const override = this.overrideOf(address);
    if (override !== null) return override === driver;
    const id = this.idOf(address);
    const spec = this.spec.drivers.find((d) => d.name === driver);
    return Boolean(spec?.ids?.includes(id)) || (this.dynids(driver) as string[]).includes(id);
  }

  private attach(driver: string, address: string): void {
    const dev = this.devDir(address);
    const drvDir = this.abs(`/sys/bus/pci/drivers/${driver}`);
    fs.symlinkSync(path.relative(dev, drvDir), path.join(dev, 'driver'));
    fs.symlinkSync(path.relative(drvDir, dev), path.join(drvDir, address));
    if (driver === 'vfio-pci') {
      const g = this.groupOf(address)!;
      fs.mkdirSync(this.abs('/dev/vfio'), { recursive: true });
      fs.writeFileSync(this.abs(`/dev/vfio/${g}`), '');
      fs.writeFileSync(this.abs('/dev/vfio/vfio'), '');
    }
  }

  private detach(address: string): void {
    const driver = this.driverOf(address);
    if (driver === null) return;
    fs.unlinkSync(path.join(this.devDir(address), 'driver'));
    fs.rmSync(this.abs(`/sys/bus/pci/drivers/${driver}/${address}`), { force: true });
    if (driver === 'vfio-pci') {
      const g = this.groupOf(address);
      const others = g
        ? fs
            .readdirSync(this.abs(`/sys/kernel/iommu_groups/${g}/devices`))
            .filter((a) => a !== address && this.exists(a) && this.driverOf(a) === 'vfio-pci')
        : [];
      if (g && others.length === 0) fs.rmSync(this.abs(`/dev/vfio/${g}`), { force: true });
    }
  }

  /** A driver's probe: may fail (fault, or vfio-pci without an IOMMU group). */
  private probe(driver: string, address: string, p: string): void {
    this.fault('probe', address, driver, p);
    if (driver === 'vfio-pci' && this.groupOf(address) === null) throw kernelError('EINVAL', p);
    this.attach(driver, address);
  }

  /** device_attach: the first matching driver whose probe succeeds; probe errors are ignored. */
  private deviceAttach(address: string, p: string): void {
    for (const d of this.loadedDrivers()) {
      if (!this.matches(d.name, address)) continue;
      try {
        this.probe(d.name, address, p);
        return;
      } catch {
        // the kernel tries the next driver
      }
    }
  }

  /** driver_attach: probe every unbound device the driver matches. */
  private driverAttach(driver: string, p: string): void {
    for (const a of this.devices()) {
      if (this.driverOf(a) !== null || !this.matches(driver, a)) continue;
      try {
        this.probe(driver, a, p);
      } catch {
        // ignored, as in the kernel
      }
    }
  }

  private mustExist(hostPath: string): void {
    if (!fs.existsSync(this.abs(hostPath))) throw kernelError('ENOENT', hostPath);
  }

  private parseId(value: string, p: string): string {
    const m = /^\s*([0-9a-f]{1,4})\s+([0-9a-f]{1,4})/i.exec(value);
    if (!m) throw kernelError('EINVAL', p);
    return `${m[1]!.toLowerCase().padStart(4, '0')}:${m[2]!.toLowerCase().padStart(4, '0')}`;
  }

  private apply(p: string, value: string): void {
    const v = value.trim();
    let m: RegExpExecArray | null;
    if ((m = /^\/sys\/bus\/pci\/devices\/([^/]+)\/driver_override$/.exec(p))) {
      this.mustExist(p);
      this.fault('override', m[1]!, null, p);
      fs.writeFileSync(this.abs(p), `${v === '' ? '(null)' : v}\n`);
      return;
    }
    if ((m = /^\/sys\/bus\/pci\/devices\/([^/]+)\/driver\/unbind$/.exec(p))) {
      this.mustExist(p);
      const drv = this.driverOf(m[1]!);
      if (v !== m[1]) throw kernelError('ENODEV', p);
      this.fault('unbind', v, drv, p);
      this.detach(v);
      return;
    }
    if ((m = /^\/sys\/bus\/pci\/drivers\/([^/]+)\/(bind|unbind|new_id|remove_id)$/.exec(p))) {
      this.mustExist(p);
      const drv = m[1]!;
      const op = m[2]!;
      if (op === 'unbind') {
        if (!this.exists(v) || this.driverOf(v) !== drv) throw kernelError('ENODEV', p);
        this.fault('unbind', v, drv, p);
        this.detach(v);
      } else if (op === 'bind') {
        if (!this.exists(v)) throw kernelError('ENODEV', p);
        if (this.driverOf(v) !== null) throw kernelError('EBUSY', p);
        if (!this.matches(drv, v)) throw kernelError('ENODEV', p);
        this.fault('bind', v, drv, p);
        this.probe(drv, v, p);
      } else if (op === 'new_id') {
        const id = this.parseId(v, p);
        const spec = this.spec.drivers.find((d) => d.name === drv);
        const dyn = this.dynids(drv) as string[];
        if (spec?.ids?.includes(id) || dyn.includes(id)) throw kernelError('EEXIST', p);
        this.fault('new_id', null, drv, p);
        this.setDynids(drv, [...dyn, id]);
        this.driverAttach(drv, p);
      } else {
        const id = this.parseId(v, p);
        const dyn = this.dynids(drv) as string[];
        if (!dyn.includes(id)) throw kernelError('ENODEV', p);
        this.fault('remove_id', null, drv, p);
        this.setDynids(
          drv,
          dyn.filter((x) => x !== id),
        );
      }
      return;
    }
    if (p === '/sys/bus/pci/drivers_probe') {
      if (!this.exists(v)) throw kernelError('ENODEV', p);
      this.fault('drivers_probe', v, null, p);
      if (this.driverOf(v) === null) this.deviceAttach(v, p);
      return;
    }
    if ((m = /^\/sys\/bus\/pci\/devices\/([^/]+)\/(reset|reset_method|reset_subordinate)$/.exec(p))) {
      this.mustExist(p);
      const a = m[1]!;
      const file = m[2]!;
      const dspec = this.spec.devices.find((d) => d.address === a)!;
      const supported = defaultResetMethods(dspec);
      if (file === 'reset_method') {
        this.fault('reset_method', a, null, p);
        let list: string[];
        if (v === 'default') list = supported;
        else if (v === '') list = [];
        else {
          list = v.split(/\s+/);
          if (list.some((x) => !supported.includes(x))) throw kernelError('EINVAL', p);
        }
        fs.writeFileSync(this.abs(p), `${list.join(' ')}\n`);
        return;
      }
      if (v !== '1') throw kernelError('EINVAL', p);
      this.fault('reset', a, null, p);
      if (file === 'reset_subordinate') {
        this.events.push(`bus-reset ${a}`);
        return;
      }
      const methodFile = this.abs(`/sys/bus/pci/devices/${a}/reset_method`);
      const methods = fs.existsSync(methodFile)
        ? fs.readFileSync(methodFile, 'utf8').trim().split(/\s+/).filter(Boolean)
        : supported;
      if (methods.length === 0) throw kernelError('ENOTTY', p);
      this.events.push(`reset ${a} ${methods[0]}`);
      return;
    }
    throw Object.assign(kernelError('EPERM', p), { message: `kernel model: unexpected write to ${p}` });
  }

  private vanishDevice(address: string): void {
    if (!this.exists(address)) return;
    const dir = this.devDir(address);
    const driver = this.driverOf(address);
    const group = this.groupOf(address);
    if (driver) fs.rmSync(this.abs(`/sys/bus/pci/drivers/${driver}/${address}`), { force: true });
    if (group) fs.rmSync(this.abs(`/sys/kernel/iommu_groups/${group}/devices/${address}`), { force: true });
    fs.rmSync(this.abs(`/sys/bus/pci/devices/${address}`), { force: true });
    fs.rmSync(dir, { recursive: true, force: true });
  }

  readonly writer: SysfsWriter = async (_abs, hostPath, value) => {
    if (this.options.delayMs) await new Promise((r) => setTimeout(r, this.options.delayMs));
    const n = ++this.count;
    if (this.options.vanish && this.options.vanish.beforeWrite === n)
      this.vanishDevice(this.options.vanish.address);
    const record: WriteRecord = { n, path: hostPath, value };
    try {
      this.apply(hostPath, value);
    } catch (e) {
      record.error = (e as NodeJS.ErrnoException).code ?? String(e);
      throw e;
    } finally {
      this.writes.push(record);
      fs.appendFileSync(
        this.abs('/.model/writes.log'),
        `${process.pid}\t${n}\t${hostPath}\t${JSON.stringify(value)}\t${record.error ?? 'ok'}\n`,
      );
      this.options.onWrite?.(n, hostPath, value);
      if (this.options.killAfter === n) process.kill(process.pid, 'SIGKILL');
    }
  };

  /** `modprobe <module>`: registers the driver (probing unbound matching devices) unless told to fail. */
  readonly exec: Executor = (file, args) => {
    if (path.basename(file) !== 'modprobe')
      return Promise.resolve({ exitCode: 127, stdout: '', stderr: '', notFound: true });
    const name = args.filter((a) => !a.startsWith('-')).pop() ?? '';
    const spec = this.spec;
    const drv = spec.drivers.find((d) => d.name === name || d.module === name.replace(/-/g, '_'));
    this.events.push(`modprobe ${name}`);
    const result = (r: ExecResult): Promise<ExecResult> => Promise.resolve(r);
    if (!drv) {
      return result({
        exitCode: 1,
        stdout: '',
        stderr: `modprobe: FATAL: Module ${name} not found in directory /lib/modules/model\n`,
      });
    }
    const canned = spec.modprobe?.[drv.module];
    if (canned) return result({ exitCode: canned.exitCode, stdout: '', stderr: canned.stderr });
    if (!fs.existsSync(this.abs(`/sys/bus/pci/drivers/${drv.name}`))) {
      createDriver(this.root, drv);
      this.driverAttach(drv.name, `/sys/bus/pci/drivers/${drv.name}`);
    }
    return result({ exitCode: 0, stdout: '', stderr: '' });
  };
}

/** Reads the write log a model kept in the tree (all processes). */
export function readWriteLog(
  root: string,
): { pid: number; n: number; path: string; value: string; result: string }[] {
  let text: string;
  try {
    text = fs.readFileSync(path.join(root, '.model/writes.log'), 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [pid, n, p, v, result] = l.split('\t');
      return { pid: Number(pid), n: Number(n), path: p!, value: JSON.parse(v!) as string, result: result! };
    });
}

// ---------------------------------------------------------------------------------------------------
// A standard topology for the tests

export const DRIVERS: ModelDriverSpec[] = [
  // registration order matters for drivers_probe: the stubs come first, so a dynamic id left behind
  // would steal a device on reprobe (the tests catch that)
  { name: 'pci-stub', module: 'pci_stub' },
  { name: 'vfio-pci', module: 'vfio_pci' },
  { name: 'pcieport', module: 'pcieportdrv', ids: ['8086:2940', '8086:2942'] },
  { name: 'e1000e', module: 'e1000e', ids: ['8086:10d3', '8086:105e'] },
  { name: 'igb', module: 'igb', ids: ['8086:1533'] },
  { name: 'ahci', module: 'ahci', ids: ['8086:2922'] },
];

/**
 * A host: a NIC alone in group 7 behind root port 00:1c.0; a dual-port NIC (04:00.0/.1) sharing
 * group 8 with its root port 00:1c.1; the NIC carrying the default route (05:00.0, eno1, through
 * bridge br0) in group 10; the SATA controller of the mounted root disk (00:1f.2) in group 9.
 */
export function standardSpec(
  overrides: {
    drivers?: ModelDriverSpec[];
    devices?: Partial<Record<string, Partial<ModelDeviceSpec>>>;
  } = {},
): ModelSpec {
  const devices: ModelDeviceSpec[] = [
    { address: '0000:00:00.0', vendor: '8086', device: '29c0', class: '0x060000', group: '0', pm: false },
    {
      address: '0000:00:1c.0',
      vendor: '8086',
      device: '2940',
      class: '0x060400',
      driver: 'pcieport',
      group: '3',
      resetSubordinate: true,
    },
    {
      address: '0000:00:1c.1',
      vendor: '8086',
      device: '2942',
      class: '0x060400',
      driver: 'pcieport',
      group: '8',
    },
    {
      address: '0000:00:1c.2',
      vendor: '8086',
      device: '2940',
      class: '0x060400',
      driver: 'pcieport',
      group: '4',
    },
    {
      address: '0000:03:00.0',
      parent: '0000:00:1c.0',
      vendor: '8086',
      device: '10d3',
      subsystem: ['8086', 'a01f'],
      class: '0x020000',
      driver: 'e1000e',
      group: '7',
      flr: true,
      net: [{ name: 'enp3s0' }],
    },
    {
      address: '0000:04:00.0',
      parent: '0000:00:1c.1',
      vendor: '8086',
      device: '105e',
      class: '0x020000',
      driver: 'e1000e',
      group: '8',
      net: [{ name: 'enp4s0f0' }],
    },
    {
      address: '0000:04:00.1',
      parent: '0000:00:1c.1',
      vendor: '8086',
      device: '105e',
      class: '0x020000',
      driver: 'e1000e',
      group: '8',
      net: [{ name: 'enp4s0f1' }],
    },
    {
      address: '0000:05:00.0',
      parent: '0000:00:1c.2',
      vendor: '8086',
      device: '1533',
      class: '0x020000',
      driver: 'igb',
      group: '10',
      flr: true,
      net: [{ name: 'eno1', master: 'br0' }],
    },
    {
      address: '0000:00:1f.2',
      vendor: '8086',
      device: '2922',
      class: '0x010601',
      driver: 'ahci',
      group: '9',
      block: [{ name: 'sda', partitions: ['sda1', 'sda2'] }],
    },
  ];
  for (const [addr, o] of Object.entries(overrides.devices ?? {})) {
    const i = devices.findIndex((d) => d.address === addr);
    if (i >= 0) devices[i] = { ...devices[i]!, ...o };
  }
  return {
    devices,
    drivers: overrides.drivers ?? DRIVERS,
    virtualNet: [{ name: 'br0' }],
    files: {
      '/proc/net/route':
        'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n' +
        'br0\t00000000\t0101A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n' +
        'br0\t0001A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n',
      '/proc/mounts': '/dev/sda2 / ext4 rw,relatime 0 0\nproc /proc proc rw 0 0\n',
      '/proc/swaps': 'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n',
    },
  };
}

export interface ModelHost {
  root: string;
  stateDir: string;
  model: KernelModel;
  host: Host;
  /** a second model + host on the same tree (e.g. without faults, for recover) */
  fresh(options?: ModelOptions): { model: KernelModel; host: Host };
  cleanup(): Promise<void>;
}

/** A temp tree for `spec`, this process linked into its /proc, and a Host whose writes go to the model. */
export async function modelHost(spec: ModelSpec, options: ModelOptions = {}): Promise<ModelHost> {
  const { mkdtemp, rm } = await import('node:fs/promises');
  const os = await import('node:os');
  const { createHost } = await import('../../src/host/host.js');
  const root = await mkdtemp(path.join(os.tmpdir(), 'ig-kmodel-'));
  buildTree(root, spec);
  linkProcess(root, process.pid);
  const make = (o: ModelOptions) => {
    const model = new KernelModel(root, o);
    return { model, host: createHost({ root, writer: model.writer, exec: model.exec }) };
  };
  const first = make(options);
  return {
    root,
    stateDir: path.join(root, 'var/lib/install-guest'),
    ...first,
    fresh: (o = {}) => make(o),
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
}
