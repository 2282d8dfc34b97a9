/**
 * Leases on devices and IOMMU groups, so two runs never prepare the same device (Proxmox keeps
 * reservations the same way). A lease names its owner: PID, the process start time (field 22 of
 * /proc/<pid>/stat, so a reused PID is not mistaken for the owner), the boot id, the guest name and
 * the command. It is stale exactly when that owner is gone, and is then taken over with a warning.
 *
 * Why not proper-lockfile: its staleness is an mtime heartbeat, so a killed owner's lock is only taken
 * over after `stale` ms (at least 5 s), the holder must keep a timer updating the mtime for the whole
 * install (a blocked event loop "compromises" the lock and its default handler throws), and it stores
 * no owner, so DEVICE_BUSY could not say who holds the device.
 *
 * The protocol never lets a live lease disappear, even with several processes taking over one stale
 * lease at once: a lease is a directory `<kind>-<id>.lock/` holding one file `owner.<token>.json`.
 * - take: build a private temp directory with the owner file, then rename(2) it to the lock path;
 *   rename fails (ENOTEMPTY/EEXIST) when a lock directory with an owner exists, and replaces an
 *   empty one;
 * - break a stale lease: unlink exactly the owner file that was examined (its token is in its name:
 *   a newer owner's file has another name and cannot be removed by mistake), then rmdir the lock
 *   directory (which fails harmlessly if another process has already put its own there);
 * - release: unlink the own owner file, then rmdir.
 * An empty lock directory (a breaker or releaser stopped between unlink and rmdir) counts as free.
 *
 * Lock files are the tool's own state, not host kernel state: node:fs is used for them. Process facts
 * (/proc/<pid>/stat, boot_id) are read through Host.processes, which is always the real /proc: a live
 * run's lease under --host-root must not look stale because the tree has no /proc/<pid>.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { hostError, inputError } from '../errors.js';
import type { Host } from '../host/host.js';
import { check, checkFields, checkIdentity, printable } from './state-grammar.js';

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

/** A process of this machine (host.processes: the real /proc, also under --host-root). */
export async function readProcStat(host: Host, pid: number): Promise<ProcStat | null> {
  const text = await host.processes.stat(pid);
  return text === null ? null : parseProcStat(text);
}

export async function readBootId(host: Host): Promise<string | null> {
  return host.processes.bootId();
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
  /** unique per lease, in the owner file's name */
  token: string;
}

export interface LeaseLog {
  warn(line: string): void;
}

export function leaseFileName(key: LeaseKey): string {
  return `${key.kind}-${key.id}.lock`;
}

export function describeKey(key: LeaseKey): string {
  return key.kind === 'group' ? `IOMMU group ${printable(key.id)}` : `device ${printable(key.id)}`;
}

export function describeOwner(o: Pick<LeaseOwner, 'pid' | 'guest' | 'command' | 'at'>): string {
  return `PID ${o.pid} (guest ${printable(o.guest)}, ${printable(o.command)}, since ${printable(o.at)})`;
}

/**
 * An owner file's content, or null when it is not one this tool writes: every field is checked
 * against its grammar (state-grammar.ts) before use; a PID names a file under /proc and the names
 * are printed in DEVICE_BUSY. A refused owner file counts as unreadable (its lease as stale).
 */
export function parseOwner(text: string): LeaseOwner | null {
  try {
    const o = JSON.parse(text) as Partial<LeaseOwner> | null;
    if (!o || typeof o !== 'object' || Array.isArray(o)) return null;
    const optionalText = (v: unknown): string | null => (v === undefined ? null : check.text(v));
    const why =
      checkIdentity({ pid: o.pid, startTime: o.startTime ?? null, bootId: o.bootId ?? null }) ??
      checkFields(o, {
        token: (v) => (typeof v === 'string' && /^[0-9A-Za-z_-]{1,64}$/.test(v) ? null : 'not a token'),
        guest: optionalText,
        command: optionalText,
        at: optionalText,
      });
    if (why || typeof o.pid !== 'number' || typeof o.token !== 'string') return null;
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
  let created: string | undefined;
  try {
    created = await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    // a file in the way (EEXIST, ENOTDIR), a kernel file system (/proc: ENOENT), no permission, read-only
    throw inputError(
      'STATE_DIR_INVALID',
      `state directory ${dir} cannot be created (${errCode(e) ?? String(e)})`,
      {
        hint: 'give a directory of its own for install-guest state with --state-dir (default /var/lib/install-guest)',
      },
    );
  }
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

const OWNER_RE = /^owner\.([0-9A-Za-z_-]+)\.json$/;
const ownerFile = (token: string): string => `owner.${token}.json`;

/** The owner file in a lock directory: null when the directory is absent or empty (free). */
async function readLock(lockDir: string): Promise<{ name: string; owner: LeaseOwner | null } | null> {
  const st = await fs.lstat(lockDir).catch((e: unknown) => {
    if (errCode(e) === 'ENOENT') return null;
    throw e;
  });
  if (st === null) return null;
  // a lease is a real directory: a link would lead the unlink of a stale owner file elsewhere
  if (!st.isDirectory())
    throw hostError('LEASE_FAILED', `lease ${printable(lockDir)} is not a directory (a link or a file)`, {
      hint: 'something other than install-guest wrote the state directory; inspect and remove it by hand',
    });
  let names: string[];
  try {
    names = await fs.readdir(lockDir);
  } catch (e) {
    if (errCode(e) === 'ENOENT' || errCode(e) === 'ENOTDIR') return null;
    throw e;
  }
  const name = names.find((n) => OWNER_RE.test(n));
  if (!name) return null;
  try {
    return { name, owner: parseOwner(await fs.readFile(path.join(lockDir, name), 'utf8')) };
  } catch (e) {
    if (errCode(e) === 'ENOENT') return null;
    throw e;
  }
}

/** Takes the lock with one rename of a ready-made directory; false when a live-looking lock is there. */
async function tryTake(dir: string, lockDir: string, owner: LeaseOwner): Promise<boolean> {
  const tmp = path.join(dir, `.tmp-${owner.pid}-${owner.token}`);
  await fs.mkdir(tmp, { mode: 0o700 });
  try {
    const fh = await fs.open(path.join(tmp, ownerFile(owner.token)), 'wx', 0o600);
    try {
      await fh.writeFile(`${JSON.stringify(owner)}\n`);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.rename(tmp, lockDir);
    return true;
  } catch (e) {
    // taken (ENOTEMPTY, EEXIST), or not a directory (ENOTDIR: readLock names it)
    if (errCode(e) === 'ENOTEMPTY' || errCode(e) === 'EEXIST' || errCode(e) === 'ENOTDIR') return false;
    throw e;
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

/** Breaks the examined stale lease: only its own owner file is removed, then the directory if empty. */
async function breakLock(lockDir: string, name: string): Promise<void> {
  try {
    await fs.unlink(path.join(lockDir, name));
  } catch (e) {
    if (errCode(e) !== 'ENOENT') throw e;
  }
  await fs.rmdir(lockDir).catch(() => undefined);
}

export interface HeldLease {
  key: LeaseKey;
  /** the lock directory */
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
      try {
        await fs.unlink(path.join(h.file, ownerFile(h.token)));
      } catch (e) {
        if (errCode(e) !== 'ENOENT') throw e;
        this.log.warn(`warning: the lease on ${describeKey(h.key)} was taken over by another process`);
        continue;
      }
      await fs.rmdir(h.file).catch(() => undefined);
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
  for (const k of options.keys) {
    // the id is one component of the lock directory's name
    if (!/^[0-9A-Za-z_:-][0-9A-Za-z_:.-]{0,63}$/.test(k.id))
      throw hostError(
        'LEASE_FAILED',
        `refused lease id ${JSON.stringify(printable(k.id))}: not one file name`,
        {
          hint: 'a lease is named by a PCI address or an IOMMU group number',
        },
      );
    unique.set(`${k.kind}:${k.id}`, k);
  }
  const keys = [...unique.values()].sort((a, b) =>
    a.kind === b.kind ? a.id.localeCompare(b.id) : a.kind === 'group' ? -1 : 1,
  );
  const held: HeldLease[] = [];
  const takenOver: TakenOver[] = [];
  const set = new LeaseSet(held, takenOver, log);
  try {
    for (const key of keys) {
      const lockDir = path.join(dir, leaseFileName(key));
      const owner: LeaseOwner = {
        ...options.owner,
        at: new Date(host.clock.now()).toISOString(),
        token: host.ids.token(8),
      };
      let broken: TakenOver | undefined;
      for (let attempt = 0; ; attempt++) {
        if (await tryTake(dir, lockDir, owner)) {
          held.push({ key, file: lockDir, token: owner.token });
          if (broken) {
            takenOver.push(broken);
            log.warn(
              `warning: took over the stale lease on ${describeKey(key)}: ${
                broken.previous
                  ? `${describeOwner(broken.previous)} is gone`
                  : 'its owner file was unreadable'
              }`,
            );
          }
          break;
        }
        if (attempt >= 20) {
          throw hostError('LEASE_FAILED', `could not take the lease on ${describeKey(key)} (${lockDir})`, {
            hint: 'another process keeps replacing it; try again',
          });
        }
        const current = await readLock(lockDir);
        if (current === null) continue; // free (absent or empty): take it on the next round
        const status = current.owner === null ? 'gone' : await checkOwner(host, current.owner);
        if (status === 'alive' && current.owner !== null) throw busyError(key, current.owner, lockDir);
        broken = { key, previous: current.owner };
        await breakLock(lockDir, current.name);
      }
    }
    await fsyncDir(dir);
  } catch (e) {
    await set.release();
    throw e;
  }
  return set;
}

/** A lease held by a live process: the one error both the real run and a dry run give. */
function busyError(key: LeaseKey, owner: LeaseOwner, lockDir: string): Error {
  return hostError('DEVICE_BUSY', `${describeKey(key)} is leased by ${describeOwner(owner)}`, {
    hint: `wait for that run to end, or stop PID ${owner.pid}; a lease of a process that is gone is taken over automatically`,
    data: { key, owner, lease: lockDir },
  });
}

/**
 * What acquireLeases would meet, read only (a dry run): DEVICE_BUSY naming the owner for a lease a
 * live process holds, the same error the real run stops with; a stale lease (its owner gone, or an
 * unreadable owner file) is returned, as the real run would take it over. Creates nothing: a state
 * directory that does not exist holds no lease.
 */
export async function checkLeases(
  host: Host,
  stateDir: string,
  keys: readonly LeaseKey[],
): Promise<TakenOver[]> {
  const dir = path.join(stateDir, 'leases');
  const stale: TakenOver[] = [];
  const seen = new Set<string>();
  const sorted = [...keys].sort((a, b) =>
    a.kind === b.kind ? a.id.localeCompare(b.id) : a.kind === 'group' ? -1 : 1,
  );
  for (const key of sorted) {
    if (seen.has(`${key.kind}:${key.id}`)) continue;
    seen.add(`${key.kind}:${key.id}`);
    if (!/^[0-9A-Za-z_:-][0-9A-Za-z_:.-]{0,63}$/.test(key.id))
      throw hostError(
        'LEASE_FAILED',
        `refused lease id ${JSON.stringify(printable(key.id))}: not one file name`,
        {
          hint: 'a lease is named by a PCI address or an IOMMU group number',
        },
      );
    const lockDir = path.join(dir, leaseFileName(key));
    const current = await readLock(lockDir);
    if (current === null) continue;
    const status = current.owner === null ? 'gone' : await checkOwner(host, current.owner);
    if (status === 'alive' && current.owner !== null) throw busyError(key, current.owner, lockDir);
    stale.push({ key, previous: current.owner });
  }
  return stale;
}

/** Reads every lease (for `recover` and diagnostics); `owner` null for an unreadable owner file. */
export async function listLeases(
  stateDir: string,
): Promise<{ file: string; name: string; owner: LeaseOwner | null }[]> {
  const dir = path.join(stateDir, 'leases');
  let names: string[];
  try {
    names = (await fs.readdir(dir)).filter((n) => n.endsWith('.lock')).sort();
  } catch {
    return [];
  }
  const out: { file: string; name: string; owner: LeaseOwner | null }[] = [];
  for (const n of names) {
    // a lease that is not a directory is skipped here (acquiring it names it)
    const lock = await readLock(path.join(dir, n)).catch(() => null);
    if (lock) out.push({ file: path.join(dir, n), name: lock.name, owner: lock.owner });
  }
  return out;
}

/**
 * Removes every lease whose owner is gone (a run killed before it journaled the device it had leased
 * leaves one), empty lock directories, and temp directories of gone processes. A live lease is never
 * touched. Returns the owners whose leases it removed.
 */
export async function removeStaleLeases(host: Host, stateDir: string): Promise<LeaseOwner[]> {
  const dir = path.join(stateDir, 'leases');
  const removed: LeaseOwner[] = [];
  for (const { file, name, owner } of await listLeases(stateDir)) {
    if (owner !== null && (await checkOwner(host, owner)) === 'alive') continue;
    await breakLock(file, name);
    if (owner) removed.push(owner);
  }
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return removed;
  }
  for (const n of names) {
    const tmp = /^\.tmp-(\d+)-/.exec(n);
    if (tmp) {
      const stat = await readProcStat(host, Number(tmp[1]));
      if (!stat || stat.state === 'Z') await fs.rm(path.join(dir, n), { recursive: true, force: true });
    } else if (n.endsWith('.lock')) {
      await fs.rmdir(path.join(dir, n)).catch(() => undefined); // only when empty
    }
  }
  return removed;
}
