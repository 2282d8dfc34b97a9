/**
 * From a manifest to a batch plan: each guest's options are the defaults overlaid with its own,
 * mapped onto the install command's RawInstallArgs and parsed by the same parseInstallRequest (one
 * parser for the CLI and the manifest). Device requests are parsed with the --hostdev grammar.
 * Every mistake is collected with its manifest path and line; nothing is read from the host.
 */
import path from 'node:path';
import { inputError, isInstallGuestError } from '../errors.js';
import type { InstallGuestError } from '../errors.js';
import { parseHostdev, parseInstallRequest, safeFileName } from '../request/request.js';
import type { HostdevRequest, InstallRequest, RawInstallArgs } from '../request/request.js';
import { canonicalAddress } from '../pci/address.js';
import { formatManifestError, formatPath, parseManifest } from './manifest.js';
import type {
  HostdevSpec,
  LoadedManifest,
  Manifest,
  ManifestError,
  ManifestOptions,
  PoolFilter,
  Scalar,
} from './manifest.js';
import { BUILTIN_POOLS } from './pool.js';
import type { DeviceMatch, PoolFilterData } from './pool.js';

export interface DeviceRequest {
  /** as written in the manifest, e.g. `auto`, `0000:03:00.0,rom.bar=off`, `pool net` */
  spec: string;
  match: DeviceMatch;
  /** options carried to the device that is assigned */
  options: Omit<HostdevRequest, 'selector'>;
  /**
   * `auto`: when no device in the pool could ever meet it, the guest installs without it (user
   * networking, as `install --hostdev auto` falls back) instead of failing
   */
  fallback?: true;
}

export interface BatchGuest {
  index: number;
  name: string;
  /** its manifest path and line, for messages */
  path: string;
  line?: number;
  /** relative paths in the manifest resolve against the manifest's directory */
  cwd: string;
  /** the merged options, as the install command would get them (no hostdev: see `devices`) */
  raw: RawInstallArgs;
  request: InstallRequest;
  devices: DeviceRequest[];
  vars: Record<string, Scalar>;
  logDir: string;
}

/** A host of a batch (manifest `hosts:` or --connect): where guests install. */
export interface BatchHost {
  /** its name in reports: `name:`, else the URI (without a password), or `local` */
  name: string;
  /** the libvirt URI; undefined: this machine, qemu run directly */
  uri?: string;
  /** how many guests install there at once */
  concurrency: number;
  /** `force: true`: the guards libvirt cannot check on that host are taken as clear (--force) */
  force?: boolean;
}

export interface BatchPlan {
  name: string;
  /** the manifest's `hosts:`, in order; undefined: this machine only (or --connect) */
  hosts?: BatchHost[];
  manifestPath: string;
  logRoot: string;
  stateDir: string;
  /** the pools guests may name: the built-ins and the manifest's */
  pools: Record<string, PoolFilterData>;
  guests: BatchGuest[];
}

export interface PlanOptions {
  /** the manifest file (relative paths in it resolve against its directory) */
  manifestPath: string;
  /** where the batch's log dir goes by default (the working directory) */
  cwd: string;
  /** the batch's log dir: each guest gets `<logRoot>/<name>`; default `<cwd>/<batch name>-logs` */
  logRoot?: string;
  /** default `<logRoot>/state` */
  stateDir?: string;
}

/** manifest key → RawInstallArgs key (the install command's option, camel-cased as yargs gives it) */
const OPTION_KEYS: Record<Exclude<keyof ManifestOptions, 'hostdev' | 'vars'>, keyof RawInstallArgs> = {
  memory: 'memory',
  vcpus: 'vcpus',
  cpu: 'cpu',
  machine: 'machine',
  accel: 'accel',
  disk: 'disk',
  location: 'location',
  cdrom: 'cdrom',
  import: 'import',
  boot: 'boot',
  'extra-args': 'extraArgs',
  'initrd-inject': 'initrdInject',
  'os-variant': 'osVariant',
  network: 'network',
  graphics: 'graphics',
  noreboot: 'noreboot',
  wait: 'wait',
  'on-error': 'onError',
  'qemu-binary': 'qemuBinary',
};

const LIST_KEYS = new Set(['disk', 'initrd-inject']);

/** The merged manifest options of one guest as the install command's arguments. */
export function toRawInstallArgs(name: string, o: ManifestOptions, logDir: string): RawInstallArgs {
  const raw: Record<string, unknown> = { name, logDir };
  for (const [key, rawKey] of Object.entries(OPTION_KEYS)) {
    const v = (o as Record<string, unknown>)[key];
    if (v === undefined) continue;
    raw[rawKey] = LIST_KEYS.has(key) ? ([] as unknown[]).concat(v) : v;
  }
  return raw;
}

const VENDOR_DEVICE_RE = /^[0-9a-f]{4}:[0-9a-f]{4}$/i;

/** One manifest device request: a --hostdev string (options included) or `{ pool }`. */
export function parseDeviceSpec(spec: HostdevSpec): DeviceRequest {
  if (typeof spec !== 'string') {
    const p = spec.pool;
    return typeof p === 'string'
      ? { spec: `pool ${p}`, match: { kind: 'pool', pool: p }, options: {} }
      : {
          spec: `pool {vendorDevice: ${p.vendorDevice}}`,
          match: { kind: 'vendorDevice', vendorDevice: p.vendorDevice.toLowerCase() },
          options: {},
        };
  }
  const { selector, ...options } = parseHostdev(spec);
  const address = canonicalAddress(selector);
  const match: DeviceMatch = address
    ? { kind: 'address', address }
    : selector === 'auto'
      ? { kind: 'pool', pool: 'net' }
      : VENDOR_DEVICE_RE.test(selector)
        ? { kind: 'vendorDevice', vendorDevice: selector.toLowerCase() }
        : { kind: 'interface', name: selector };
  return { spec, match, options, ...(selector === 'auto' ? { fallback: true as const } : {}) };
}

/** A guest whose `auto` request was dropped because the pool holds no device that could meet it. */
export interface FallbackNote {
  guest: string;
  message: string;
}

/**
 * Pure: drops the `auto` requests no device of the pool could ever meet (a host without an IOMMU,
 * or without an assignable NIC), so those guests install without a device, as `install --hostdev
 * auto` does; every other request is left to the scheduler (which waits for it, or fails).
 */
export function applyAutoFallback(
  guests: readonly BatchGuest[],
  candidates: (m: DeviceMatch) => readonly unknown[],
): { guests: BatchGuest[]; notes: FallbackNote[] } {
  const notes: FallbackNote[] = [];
  const out = guests.map((g) => {
    const dropped = g.devices.filter((d) => d.fallback && candidates(d.match).length === 0);
    if (dropped.length === 0) return g;
    notes.push({
      guest: g.name,
      message: `hostdev ${dropped.map((d) => d.spec).join(', ')}: no assignable network function in the pool; installing without it (${g.request.network.kind === 'none' ? 'no' : g.request.network.kind} networking), as install --hostdev auto does`,
    });
    return { ...g, devices: g.devices.filter((d) => !dropped.includes(d)) };
  });
  return { guests: out, notes };
}

/** The option an install-request error is about (`--memory '12x' …` → memory), if it names one. */
function optionOf(e: InstallGuestError): string | undefined {
  const m = /^--([a-z][a-z-]*)/.exec(e.message);
  return m?.[1];
}

function errorAt(
  loaded: LoadedManifest,
  parts: readonly (string | number)[],
  message: string,
  key = false,
): ManifestError {
  const pos = loaded.locate(parts, key);
  return { path: formatPath(parts), ...(pos ? { line: pos.line, column: pos.column } : {}), message };
}

/** True when no schema error lies at or below this path (so the part can be checked further). */
function clean(schemaErrors: readonly ManifestError[], prefix: string): boolean {
  return !schemaErrors.some(
    (e) => e.path === prefix || e.path.startsWith(`${prefix}.`) || e.path.startsWith(`${prefix}[`),
  );
}

function batchNameOf(m: Partial<Manifest>, manifestPath: string): string {
  if (typeof m.name === 'string' && m.name) return m.name;
  return safeFileName(path.basename(manifestPath).replace(/\.(ya?ml|json)$/i, '')) || 'batch';
}

function sortByLine(errors: ManifestError[]): ManifestError[] {
  return errors
    .map((e, i) => ({ e, i }))
    .sort((a, b) => (a.e.line ?? Infinity) - (b.e.line ?? Infinity) || a.i - b.i)
    .map((x) => x.e);
}

/**
 * Checks a manifest's text and resolves it into a plan. Returns every error found: schema errors,
 * then per-guest option errors (for the guests whose part passed the schema) and cross-guest ones
 * (duplicate names, a disk used twice, an undefined pool).
 */
export function planBatch(text: string, opts: PlanOptions): { plan?: BatchPlan; errors: ManifestError[] } {
  const parsed = parseManifest(text);
  const loaded = parsed.loaded ?? parsed.partial;
  if (!loaded) return { errors: parsed.errors };
  const schemaErrors = parsed.errors;
  const errors: ManifestError[] = [...schemaErrors];
  const seen = new Set(errors.map((e) => `${e.path}\0${e.message}`));
  const add = (e: ManifestError): void => {
    const k = `${e.path}\0${e.message}`;
    if (seen.has(k)) return;
    seen.add(k);
    errors.push(e);
  };

  const m = loaded.manifest as Partial<Manifest>;
  const manifestPath = path.resolve(opts.cwd, opts.manifestPath);
  const manifestDir = path.dirname(manifestPath);
  const name = batchNameOf(m, manifestPath);
  const logRoot = path.resolve(opts.cwd, opts.logRoot ?? `${name}-logs`);
  const stateDir = path.resolve(opts.cwd, opts.stateDir ?? path.join(logRoot, 'state'));
  // the parts that passed the schema are still checked further, so one run reports every mistake
  const validPart = <T extends object>(value: unknown, prefix: string): Partial<T> => {
    if (!value || typeof value !== 'object' || Array.isArray(value)) return {};
    if (!clean(schemaErrors, prefix) && schemaErrors.some((e) => e.path === prefix)) return {};
    return Object.fromEntries(
      Object.entries(value).filter(([k]) => clean(schemaErrors, formatPath([prefix, k]))),
    ) as Partial<T>;
  };
  const defaults: ManifestOptions = validPart<ManifestOptions>(m.defaults, 'defaults');
  const userPools = validPart<Record<string, PoolFilter>>(m.pools, 'pools') as Record<string, PoolFilter>;
  const hosts = hostsOf(loaded, m.hosts, schemaErrors, add);
  const pools: Record<string, PoolFilterData> = { ...BUILTIN_POOLS, ...userPools };
  const guestsIn = Array.isArray(m.guests) ? m.guests : [];

  const guests: BatchGuest[] = [];
  const byName = new Map<string, number>();
  const byDisk = new Map<string, { index: number; fromDefaults: boolean }>();
  guestsIn.forEach((g, index) => {
    const gPath = ['guests', index] as const;
    if (!clean(schemaErrors, formatPath(gPath))) return;
    const where = (key: string): (string | number)[] =>
      Object.hasOwn(g, key) ? [...gPath, key] : Object.hasOwn(defaults, key) ? ['defaults', key] : [...gPath];

    const other = byName.get(g.name);
    if (other !== undefined) {
      add(errorAt(loaded, [...gPath, 'name'], `guest name '${g.name}' is also used by guests[${other}]`));
      return;
    }
    byName.set(g.name, index);

    const merged: ManifestOptions = { ...defaults, ...g };
    const vars = { ...(defaults.vars ?? {}), ...(g.vars ?? {}) };
    const logDir = path.join(logRoot, safeFileName(g.name));
    const raw = toRawInstallArgs(g.name, merged, logDir);
    let request: InstallRequest;
    try {
      // a libvirt network is checked against the batch's hosts when it runs (batch/command.ts)
      request = parseInstallRequest(raw, manifestDir, { libvirt: true });
    } catch (e) {
      if (!isInstallGuestError(e)) throw e;
      const opt = optionOf(e);
      add(errorAt(loaded, opt && opt !== 'name' ? where(opt) : [...gPath], e.message));
      return;
    }

    const specs = merged.hostdev === undefined ? [] : ([] as HostdevSpec[]).concat(merged.hostdev);
    const hostdevBase = where('hostdev');
    const devices: DeviceRequest[] = [];
    let deviceErrors = false;
    specs.forEach((spec, k) => {
      const at = Array.isArray(merged.hostdev) ? [...hostdevBase, k] : hostdevBase;
      try {
        const d = parseDeviceSpec(spec);
        if (d.match.kind === 'pool' && !Object.hasOwn(pools, d.match.pool)) {
          const known = Object.keys(pools).join(', ');
          const poolAt = typeof spec === 'string' ? at : [...at, 'pool'];
          add(errorAt(loaded, poolAt, `pool '${d.match.pool}' is not defined (pools: ${known})`));
          deviceErrors = true;
          return;
        }
        devices.push(d);
      } catch (e) {
        if (!isInstallGuestError(e)) throw e;
        add(errorAt(loaded, at, e.message));
        deviceErrors = true;
      }
    });
    if (deviceErrors) return;

    for (const d of request.disks) {
      const prior = byDisk.get(d.path);
      if (prior !== undefined) {
        add(
          errorAt(
            loaded,
            where('disk'),
            `disk '${d.path}' is also used by guests[${prior.index}] (${guestsIn[prior.index]!.name})`,
          ),
        );
        return;
      }
    }
    for (const d of request.disks) byDisk.set(d.path, { index, fromDefaults: !Object.hasOwn(g, 'disk') });

    const pos = loaded.locate(gPath);
    guests.push({
      index,
      name: g.name,
      path: formatPath(gPath),
      ...(pos ? { line: pos.line } : {}),
      cwd: manifestDir,
      raw,
      request,
      devices,
      vars,
      logDir,
    });
  });

  if (errors.length > 0) return { errors: sortByLine(errors) };
  return {
    plan: { name, manifestPath, logRoot, stateDir, pools, guests, ...(hosts ? { hosts } : {}) },
    errors,
  };
}

/** A URI without its password, for names and messages. */
export const withoutPassword = (uri: string): string =>
  uri.replace(/^([^:]+:\/\/[^/@:]*):[^/@]*@/, '$1:***@');

/** The manifest's `hosts:` (schema-checked) as BatchHosts; two hosts with one name or URI are an error. */
function hostsOf(
  loaded: LoadedManifest,
  value: Manifest['hosts'],
  schemaErrors: readonly ManifestError[],
  add: (e: ManifestError) => void,
): BatchHost[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const out: BatchHost[] = [];
  const byName = new Map<string, number>();
  const byUri = new Map<string, number>();
  value.forEach((h, i) => {
    if (!clean(schemaErrors, formatPath(['hosts', i]))) return;
    const o = typeof h === 'string' ? { uri: h } : h;
    const uri = o.uri === 'local' ? undefined : o.uri;
    const host: BatchHost = {
      name: o.name ?? (uri === undefined ? 'local' : withoutPassword(uri)),
      ...(uri !== undefined ? { uri } : {}),
      concurrency: o.concurrency ?? 1,
      ...(o.force ? { force: true } : {}),
    };
    const sameUri = byUri.get(o.uri);
    if (sameUri !== undefined) {
      add(errorAt(loaded, ['hosts', i], `host '${host.name}' is also hosts[${sameUri}]`));
      return;
    }
    const sameName = byName.get(host.name);
    if (sameName !== undefined) {
      add(errorAt(loaded, ['hosts', i], `host name '${host.name}' is also used by hosts[${sameName}]`));
      return;
    }
    byUri.set(o.uri, i);
    byName.set(host.name, i);
    out.push(host);
  });
  return out;
}

/** planBatch, or an input error (exit 2) that carries every manifest error in `data.errors`. */
export function loadBatchPlan(text: string, opts: PlanOptions): BatchPlan {
  const { plan, errors } = planBatch(text, opts);
  if (plan) return plan;
  const file = opts.manifestPath;
  throw inputError(
    'BAD_MANIFEST',
    errors.length === 1
      ? `manifest '${file}': ${formatManifestError(errors[0]!)}`
      : `manifest '${file}' has ${errors.length} errors (listed above, or in data.errors with --json)`,
    {
      hint: `fix every error listed; the schema is templates/batch/manifest.schema.json`,
      data: { manifest: file, errors },
    },
  );
}

/**
 * The arguments for one guest's install once its devices are assigned: the merged options, with
 * --hostdev naming each assigned device (and the options its request carried).
 */
export function guestInstallArgs(
  guest: BatchGuest,
  devices: readonly { address: string }[],
  extra: Partial<RawInstallArgs> = {},
): RawInstallArgs {
  if (devices.length !== guest.devices.length)
    throw new Error(`${guest.name}: ${devices.length} devices for ${guest.devices.length} requests`);
  const hostdev = devices.map((d, i) => {
    const o = guest.devices[i]!.options;
    const parts = [d.address];
    if (o.romBar !== undefined) parts.push(`rom.bar=${o.romBar ? 'on' : 'off'}`);
    if (o.romFile !== undefined) parts.push(`rom.file=${o.romFile.replace(/,/g, ',,')}`);
    if (o.multifunction !== undefined) parts.push(`multifunction=${o.multifunction ? 'on' : 'off'}`);
    return parts.join(',');
  });
  return { ...guest.raw, ...(hostdev.length ? { hostdev } : {}), ...extra };
}
