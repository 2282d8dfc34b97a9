/**
 * Device reset, in libvirt's order (virPCIDeviceReset):
 * 1. nothing extra when the device is on vfio-pci (vfio resets it when a guest opens it) or has FLR
 *    (function level reset, done at assignment);
 * 2. the kernel's sysfs `reset` (with its `reset_method` list);
 * 3. PM D3hot→D0, only when the device's power-management control says NoSoftRst is clear;
 * 4. secondary bus reset on the parent bridge, only when no other device on that bus is in use, and
 *    never on bus 0 (the root bus has no bridge to reset);
 * otherwise a clear NO_RESET_METHOD naming why each method was not usable.
 *
 * Config space is only read (capabilities); resets are asked of the kernel through sysfs files
 * (`reset`, `reset_method`, the bridge's `reset_subordinate`), so the kernel's own locking and state
 * save/restore apply. The decision is the pure `planReset`; `applyReset` carries it out.
 */
import type { Host } from '../host/host.js';
import { type BindingContext, STUB_DRIVERS, StepFailure, devPath, sysWrite } from './binding.js';
import { listCapabilities, resetCapabilities } from './config-space.js';

export interface PciCaps {
  /** FLR through the PCIe device capabilities or the Advanced Features capability */
  flr: boolean;
  /** the power-management capability, when present */
  pm: { noSoftReset: boolean } | null;
  pcie: boolean;
  /** fewer than 256 bytes were readable (an unprivileged read shows only the first 64) */
  truncated: boolean;
}

/**
 * Pure: the reset-relevant capabilities of a config-space dump, through config-space.ts's capability
 * walk. Null when there is no usable header.
 */
export function parseCapabilities(config: Buffer | null): PciCaps | null {
  if (!config || config.length < 0x40) return null;
  const r = resetCapabilities(config, listCapabilities(config));
  return {
    flr: r.pcieFlr === true || r.afFlr === true,
    pm: r.pmNoSoftReset === null ? null : { noSoftReset: r.pmNoSoftReset },
    pcie: r.pcieType !== null,
    truncated: config.length < 256,
  };
}

export interface SiblingUse {
  address: string;
  /** e.g. "bound to e1000e" */
  why: string;
}

export interface ResetFacts {
  address: string;
  driver: string | null;
  /** the bus number of the address */
  bus: number;
  caps: PciCaps | null;
  /** /sys/…/reset exists */
  resetFile: boolean;
  /** the kernel's reset_method list; null when the file does not exist (Linux < 5.15) */
  resetMethods: string[] | null;
  /** the upstream bridge's address; null on a root bus */
  parentBridge: string | null;
  bridgeResetSubordinate: boolean;
  /** other devices on the same bus that are in use (a bus reset would hit them) */
  siblingsInUse: SiblingUse[];
}

export type ResetAttempt =
  | { method: 'sysfs'; methods: string[] | null }
  | { method: 'pm' }
  | { method: 'bus'; via: 'reset_subordinate' | 'reset_method'; bridge: string };

export type ResetPlan =
  | { kind: 'skip'; reason: string }
  | { kind: 'reset'; attempts: ResetAttempt[]; notUsable: string[] }
  | { kind: 'none'; notUsable: string[] };

/** Pure: which resets to try, in order, and why the others are not usable. */
export function planReset(f: ResetFacts): ResetPlan {
  if (f.driver === 'vfio-pci') {
    return { kind: 'skip', reason: 'on vfio-pci: vfio resets the device when a guest opens it' };
  }
  const methods = f.resetMethods;
  if (f.caps?.flr || methods?.includes('flr') || methods?.includes('af_flr')) {
    return { kind: 'skip', reason: 'the device has FLR: it is reset when it is assigned' };
  }
  const attempts: ResetAttempt[] = [];
  const notUsable: string[] = [];
  if (f.resetFile && (methods === null || methods.length > 0)) {
    attempts.push({ method: 'sysfs', methods });
  } else {
    notUsable.push('the kernel offers no reset for it (no sysfs reset file, or reset_method is empty)');
  }
  if (!f.caps?.pm) {
    notUsable.push(f.caps ? 'PM reset: no power-management capability' : 'PM reset: config space unreadable');
  } else if (f.caps.pm.noSoftReset) {
    notUsable.push('PM reset: NoSoftRst is set, so D3hot→D0 keeps the device state');
  } else if (methods?.includes('pm')) {
    attempts.push({ method: 'pm' });
  } else {
    notUsable.push('PM reset: the kernel does not list pm in reset_method');
  }
  if (f.bus === 0 || f.parentBridge === null) {
    notUsable.push('secondary bus reset: never on bus 0 (the root bus)');
  } else if (f.siblingsInUse.length > 0) {
    notUsable.push(
      `secondary bus reset on ${f.parentBridge}: it would also reset ${f.siblingsInUse
        .map((s) => `${s.address} (${s.why})`)
        .join(', ')}`,
    );
  } else if (f.bridgeResetSubordinate) {
    attempts.push({ method: 'bus', via: 'reset_subordinate', bridge: f.parentBridge });
  } else if (methods?.includes('bus')) {
    attempts.push({ method: 'bus', via: 'reset_method', bridge: f.parentBridge });
  } else {
    notUsable.push(
      `secondary bus reset: bridge ${f.parentBridge} has no reset_subordinate and the kernel lists no bus method`,
    );
  }
  return attempts.length > 0 ? { kind: 'reset', attempts, notUsable } : { kind: 'none', notUsable };
}

const ADDRESS_RE = /^[0-9a-f]{4,}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/;

export interface ResetFactOptions {
  /** is this IOMMU group held open by some process (a guest)? */
  groupInUse?(group: string): Promise<boolean>;
}

export async function readResetFacts(
  host: Host,
  address: string,
  options: ResetFactOptions = {},
): Promise<ResetFacts> {
  const methodsText = await host.readTrimmed(devPath(address, 'reset_method'));
  const link = (await host.readLink(devPath(address))) ?? '';
  const parts = link.split('/').filter(Boolean);
  const parent = parts.length >= 2 ? parts[parts.length - 2]! : '';
  const parentBridge = ADDRESS_RE.test(parent) ? parent : null;
  const busPrefix = address.slice(0, address.lastIndexOf(':') + 1);
  const siblingsInUse: SiblingUse[] = [];
  for (const other of await host.list('/sys/bus/pci/devices')) {
    if (other === address || !other.startsWith(busPrefix)) continue;
    const drv = await host.linkName(devPath(other, 'driver'));
    if (drv !== null && !STUB_DRIVERS.includes(drv)) {
      siblingsInUse.push({ address: other, why: `bound to ${drv}` });
    } else if (drv === 'vfio-pci') {
      const group = await host.linkName(devPath(other, 'iommu_group'));
      if (group && (await options.groupInUse?.(group))) {
        siblingsInUse.push({ address: other, why: `in use through /dev/vfio/${group}` });
      }
    }
  }
  return {
    address,
    driver: await host.linkName(devPath(address, 'driver')),
    bus: parseInt(address.split(':').at(-2) ?? '0', 16),
    caps: parseCapabilities(await host.readBytes(devPath(address, 'config'), 4096)),
    resetFile: await host.exists(devPath(address, 'reset')),
    resetMethods: methodsText === null ? null : methodsText.split(/\s+/).filter(Boolean),
    parentBridge,
    bridgeResetSubordinate:
      parentBridge !== null && (await host.exists(devPath(parentBridge, 'reset_subordinate'))),
    siblingsInUse,
  };
}

export interface ResetOutcome {
  address: string;
  /** `skipped` when nothing extra was needed */
  method: 'skipped' | 'sysfs' | 'pm' | 'bus';
  detail: string;
  /** attempts that failed before the one that worked */
  failed: string[];
}

async function withResetMethod(
  ctx: BindingContext,
  address: string,
  method: string,
  original: string[] | null,
): Promise<void> {
  await sysWrite(
    ctx,
    address,
    'reset_method',
    `select reset_method ${method}`,
    devPath(address, 'reset_method'),
    method,
  );
  try {
    await sysWrite(ctx, address, 'reset', `reset through ${method}`, devPath(address, 'reset'), '1');
  } finally {
    const back = original && original.length > 0 ? original.join(' ') : 'default';
    await sysWrite(
      { ...ctx, signal: undefined },
      address,
      'reset_method',
      'put reset_method back',
      devPath(address, 'reset_method'),
      back,
    ).catch(() => undefined);
  }
}

function describeAttempt(a: ResetAttempt): string {
  if (a.method === 'sysfs') return `sysfs reset${a.methods ? ` (reset_method: ${a.methods.join(' ')})` : ''}`;
  if (a.method === 'pm') return 'PM reset (D3hot→D0)';
  return `secondary bus reset on ${a.bridge} (${a.via})`;
}

/** Carries out a plan: the first attempt that works wins; none working is a StepFailure naming each. */
export async function applyReset(
  ctx: BindingContext,
  facts: ResetFacts,
  plan: ResetPlan,
): Promise<ResetOutcome> {
  const a = facts.address;
  if (plan.kind === 'skip') return { address: a, method: 'skipped', detail: plan.reason, failed: [] };
  if (plan.kind === 'none') {
    throw new StepFailure(a, 'no_reset', 'resetting it', `no reset method: ${plan.notUsable.join('; ')}`);
  }
  const failed: string[] = [];
  for (const attempt of plan.attempts) {
    try {
      if (attempt.method === 'sysfs') {
        await sysWrite(ctx, a, 'reset', 'reset through sysfs', devPath(a, 'reset'), '1');
      } else if (attempt.method === 'pm') {
        await withResetMethod(ctx, a, 'pm', facts.resetMethods);
      } else if (attempt.via === 'reset_subordinate') {
        await sysWrite(
          ctx,
          a,
          'reset',
          `secondary bus reset on ${attempt.bridge}`,
          devPath(attempt.bridge, 'reset_subordinate'),
          '1',
        );
      } else {
        await withResetMethod(ctx, a, 'bus', facts.resetMethods);
      }
      return { address: a, method: attempt.method, detail: describeAttempt(attempt), failed };
    } catch (e) {
      if (!(e instanceof StepFailure) || e.step === 'vanished') throw e;
      failed.push(`${describeAttempt(attempt)}: ${e.detail}`);
    }
  }
  throw new StepFailure(a, 'reset', 'resetting it', `every reset failed: ${failed.join('; ')}`);
}
