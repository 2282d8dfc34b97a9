/**
 * Leases on devices and IOMMU groups, so two runs never prepare the same device (Proxmox keeps
 * reservations the same way). A lease is a lock file in the state directory holding its owner: PID,
 * the process start time (field 22 of /proc/<pid>/stat, so a reused PID is not mistaken for the
 * owner), the boot id, the guest name and the command.
 *
 * Why not proper-lockfile: its staleness is an mtime heartbeat, so a killed owner's lock is only taken
 * over after `stale` ms (at least 5 s), the holder must keep a timer updating the mtime for the whole
 * install (a blocked event loop "compromises" the lock and its default handler throws), and it stores
 * no owner, so DEVICE_BUSY could not say who holds the device. Here a lock is created atomically with
 * its content (written to a private temp file, then link(2), which fails with EEXIST when the lock
 * exists); it is stale exactly when its owner process is gone, and is then taken over with a warning.
 * Takeover renames the stale file away and checks that what it moved is the stale lock it examined; if
 * a live lock slipped in between, it is linked back.
 *
 * Lock files are the tool's own state, not host kernel state: node:fs is used for them. Process facts
 * (/proc/<pid>/stat, boot_id) are host state and are read through Host.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { hostError } from '../errors.js';
import type { Host } from '../host/host.js';

export interface ProcessIdentity {
  pid: number;
  /** /proc/<pid>/stat field 22 (clock ticks after boot); null when /proc could not be read */
  startTime: string | null;
  /** /proc/sys/kernel/random/boot_id; null when unknown */
  bootId: string | null;
}

export interface ProcStat {
  pid: number;
  comm: string;
  /** R, S, D, Z (zombie), X (dead), … */
  state: string;
  startTime: string;
}

/** Parses /proc/<pid>/stat. The command name may hold spaces and parentheses: split after the last ')'. */
export function parseProcStat(text: string): ProcStat | null {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const pid = Number(text.slice(0, open).trim());
  const rest = text
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  // rest[0] is field 3 (state); field 22 (starttime) is rest[19]
  const state = rest[0];
  const startTime = rest[19];
  if (!Number.isInteger(pid) || !state || !startTime || !/^\d+$/.test(startTime)) return null;
  return { pid, comm: text.slice(open + 1, close), state, startTime };
}

export async function readProcStat(host: Host, pid: number): Promise<ProcStat | null> {
  const text = await host.readTrimmed(`/proc/${pid}/stat`);
  return text === null ? null : parseProcStat(text);
}

export async function readBootId(host: Host): Promise<string | null> {
  return host.readTrimmed('/proc/sys/kernel/random/boot_id');
}

/** This process as an owner of journal entries and leases. */
export async function selfIdentity(host: Host): Promise<ProcessIdentity> {
  const stat = await readProcStat(host, process.pid);
  return { pid: process.pid, startTime: stat?.startTime ?? null, bootId: await readBootId(host) };
}

export type OwnerStatus = 'alive' | 'gone';

/**
 * Pure: is the recorded owner the process now seen under its PID? Gone when the boot differs, the PID
 * is absent or a zombie, or the PID now belongs to a process started at another time (PID reuse).
 */
export function ownerStatus(
  recorded: ProcessIdentity,
  now: { stat: ProcStat | null; bootId: string | null },
): OwnerStatus {
  if (recorded.bootId && now.bootId && recorded.bootId !== now.bootId) return 'gone';
  const stat = now.stat;
  if (!stat || stat.state === 'Z' || stat.state === 'X') return 'gone';
  if (recorded.startTime !== null && stat.startTime !== recorded.startTime) return 'gone';
  return 'alive';
}

export async function checkOwner(host: Host, recorded: ProcessIdentity): Promise<OwnerStatus> {
  return ownerStatus(recorded, {
    stat: await readProcStat(host, recorded.pid),
    bootId: await readBootId(host),
  });
}

export type LeaseKind = 'group' | 'device';

export interface LeaseKey {
  kind: LeaseKind;
  /** the IOMMU group number or the PCI address */
  id: string;
}

export interface LeaseOwner extends ProcessIdentity {
  guest: string;
  command: string;
  /** ISO time the lease was taken */
  at: string;
  /** unique per lease file, so a takeover can tell two leases apart */
  token: string;
}

export interface LeaseLog {
  warn(line: string): void;
}

export function leaseFileName(key: LeaseKey): string {
  return `${key.kind}-${key.id}.lock`;
}

export function describeKey(key: LeaseKey): string {
  return key.kind === 'group' ? `IOMMU group ${key.id}` : `device ${key.id}`;
}

export function describeOwner(o: Pick<LeaseOwner, 'pid' | 'guest' | 'command' | 'at'>): string {
  return `PID ${o.pid} (guest ${o.guest}, ${o.command}, since ${o.at})`;
}

function parseOwner(text: string): LeaseOwner | null {
  try {
    const o = JSON.parse(text) as Partial<LeaseOwner>;
    if (typeof o.pid !== 'number' || typeof o.token !== 'string') return null;
    return {
      pid: o.pid,
      startTime: o.startTime ?? null,
      bootId: o.bootId ?? null,
      guest: o.guest ?? '?',
      command: o.command ?? '?',
      at: o.at ?? '?',
      token: o.token,
    };
  } catch {
    return null;
  }
}

/** Creates a directory of the tool's own state, private (0700). */
export async function ensurePrivateDir(dir: string): Promise<void> {
  const created = await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  if (created !== undefined) await fs.chmod(dir, 0o700);
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await fs.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

const errCode = (e: unknown): string | undefined => (e as NodeJS.ErrnoException | null)?.code;

/** Atomically creates `file` with `content` (0600); false when it already exists. */
async function createExclusive(file: string, content: string, token: string): Promise<boolean> {
  const tmp = `${file}.new-${process.pid}-${token}`;
  const fh = await fs.open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(content);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await fs.link(tmp, file);
    return true;
  } catch (e) {
    if (errCode(e) === 'EEXIST') return false;
    throw e;
  } finally {
    await fs.unlink(tmp).catch(() => undefined);
  }
}

async function readOwner(file: string): Promise<LeaseOwner | null | 'missing'> {
  try {
    return parseOwner(await fs.readFile(file, 'utf8'));
  } catch (e) {
    if (errCode(e) === 'ENOENT') return 'missing';
    throw e;
  }
}

/** Removes the stale lock `file` only if it is still the one examined (same token). */
async function removeStale(file: string, examined: LeaseOwner | null, token: string): Promise<void> {
  const aside = `${file}.stale-${process.pid}-${token}`;
  try {
    await fs.rename(file, aside);
  } catch (e) {
    if (errCode(e) === 'ENOENT') return; // someone else removed it first
    throw e;
  }
  const moved = await readOwner(aside);
  const same =
    examined === null
      ? moved === null
      : moved !== null && moved !== 'missing' && moved.token === examined.token;
  if (!same) {
    // a live lock replaced the stale one between our read and our rename: put it back
    await fs.link(aside, file).catch(() => undefined);
  }
  await fs.unlink(aside).catch(() => undefined);
}

export interface HeldLease {
  key: LeaseKey;
  file: string;
  token: string;
}

export interface TakenOver {
  key: LeaseKey;
  previous: LeaseOwner | null;
}

export class LeaseSet {
  private released = false;
  constructor(
    readonly held: readonly HeldLease[],
    readonly takenOver: readonly TakenOver[],
    private readonly log: LeaseLog,
  ) {}

  /** Releases every lease still ours; a lease taken over by another process meanwhile is left alone. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    for (const h of [...this.held].reverse()) {
      const owner = await readOwner(h.file).catch(() => null);
      if (owner === 'missing') continue;
      if (owner === null || owner.token !== h.token) {
        this.log.warn(`warning: the lease on ${describeKey(h.key)} was taken over by another process`);
        continue;
      }
      await fs.unlink(h.file).catch(() => undefined);
    }
  }
}

export interface AcquireOptions {
  host: Host;
  stateDir: string;
  keys: readonly LeaseKey[];
  owner: Omit<LeaseOwner, 'token' | 'at'>;
  log: LeaseLog;
}

/**
 * Takes every lease in `keys` or none: groups first (so two runs asking for two members of one group
 * meet on the group lease and exactly one wins), then devices, each set sorted. A lease held by a live
 * process → DEVICE_BUSY naming it; a lease whose owner is gone is taken over with a warning.
 */
export async function acquireLeases(options: AcquireOptions): Promise<LeaseSet> {
  const { host, stateDir, log } = options;
  const dir = path.join(stateDir, 'leases');
  await ensurePrivateDir(stateDir);
  await ensurePrivateDir(dir);
  const unique = new Map<string, LeaseKey>();
  for (const k of options.keys) unique.set(`${k.kind}:${k.id}`, k);
  const keys = [...unique.values()].sort((a, b) =>
    a.kind === b.kind ? a.id.localeCompare(b.id) : a.kind === 'group' ? -1 : 1,
  );
  const held: HeldLease[] = [];
  const takenOver: TakenOver[] = [];
  const set = new LeaseSet(held, takenOver, log);
  try {
    for (const key of keys) {
      const file = path.join(dir, leaseFileName(key));
      const token = host.ids.token(8);
      const owner: LeaseOwner = { ...options.owner, at: new Date(host.clock.now()).toISOString(), token };
      const content = `${JSON.stringify(owner)}\n`;
      for (let attempt = 0; ; attempt++) {
        if (await createExclusive(file, content, token)) {
          held.push({ key, file, token });
          break;
        }
        const current = await readOwner(file);
        if (current === 'missing') continue;
        const status = current === null ? 'gone' : await checkOwner(host, current);
        if (status === 'alive' && current !== null) {
          throw hostError('DEVICE_BUSY', `${describeKey(key)} is leased by ${describeOwner(current)}`, {
            hint: `wait for that run to end, or stop PID ${current.pid}; a lease of a process that is gone is taken over automatically`,
            data: { key, owner: current, leaseFile: file },
          });
        }
        if (attempt >= 5) {
          throw hostError('LEASE_FAILED', `could not take the lease on ${describeKey(key)} (${file})`, {
            hint: 'another process keeps replacing it; try again',
          });
        }
        log.warn(
          `warning: taking over the stale lease on ${describeKey(key)}: ${
            current === null ? 'its file is unreadable' : `${describeOwner(current)} is gone`
          }`,
        );
        takenOver.push({ key, previous: current });
        await removeStale(file, current, token);
      }
    }
    await fsyncDir(dir);
  } catch (e) {
    await set.release();
    throw e;
  }
  return set;
}

/**
 * Removes every lease whose owner is gone (a run killed before it journaled the device it had
 * leased leaves such a file). Returns what it removed; a live lease is never touched.
 */
export async function removeStaleLeases(host: Host, stateDir: string): Promise<LeaseOwner[]> {
  const removed: LeaseOwner[] = [];
  for (const { file, owner } of await listLeases(stateDir)) {
    if (owner !== null && (await checkOwner(host, owner)) === 'alive') continue;
    await removeStale(file, owner, host.ids.token(8));
    if (owner) removed.push(owner);
  }
  return removed;
}

/** Reads every lease file (for `recover` and diagnostics). */
export async function listLeases(stateDir: string): Promise<{ file: string; owner: LeaseOwner | null }[]> {
  const dir = path.join(stateDir, 'leases');
  let names: string[];
  try {
    names = (await fs.readdir(dir)).filter((n) => n.endsWith('.lock')).sort();
  } catch {
    return [];
  }
  const out: { file: string; owner: LeaseOwner | null }[] = [];
  for (const n of names) {
    const o = await readOwner(path.join(dir, n));
    if (o !== 'missing') out.push({ file: path.join(dir, n), owner: o });
  }
  return out;
}
