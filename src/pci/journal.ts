/**
 * The write-ahead journal of device changes. Each run that changes a device binding owns one file,
 * `<state-dir>/journal/<time>-<pid>-<token>.jsonl`: one JSON record per line, each appended and
 * fsynced BEFORE the change it announces is made. It records the owner (PID, start time, boot id), the
 * guest, each device's original driver and driver_override, the dynamic ids added to a stub driver,
 * and when a device is detached, kept on purpose, handed over or given back.
 *
 * `install-guest recover` reads these files and restores every device whose owner is gone. Recovery
 * is state-based: it compares a device's binding now with the original and converges, so replaying it
 * is harmless and a record of an intent that never reached the kernel costs nothing.
 *
 * The state directory is the tool's own (0700, files 0600), written with node:fs.
 */
import { constants as fsConstants, promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Host } from '../host/host.js';
import { ensurePrivateDir, type ProcessIdentity } from './lease.js';
import { check, checkFields, checkIdentity, unsafeCharacter } from './state-grammar.js';

export interface BindingState {
  /** the bound driver's name, or null when unbound */
  driver: string | null;
  /** the driver_override value, or null when unset */
  override: string | null;
}

/** detached: on the stub; kept: left detached on purpose when its owner ended; restored: given back;
 * gone: the device vanished; transferred: another run took over giving it back */
export type DeviceState = 'detached' | 'kept' | 'restored' | 'gone' | 'transferred';

export type JournalRecord =
  | {
      type: 'run';
      v: 1;
      id: string;
      owner: ProcessIdentity;
      guest: string;
      command: string;
      at: string;
    }
  | {
      type: 'device';
      address: string;
      vendorDevice: string | null;
      iommuGroup: string | null;
      original: BindingState;
      target: string | null;
      /** why this device is touched: requested, group member, grabbed by new_id, … */
      reason: string;
      /** the journal of the run that detached it, when this run takes over giving it back */
      from?: string;
    }
  | { type: 'intent'; address: string | null; step: string; path: string; value: string }
  | { type: 'dynid'; driver: string; id: string; address: string }
  | { type: 'dynid-done'; driver: string; id: string; outcome: 'removed' | 'preexisting' | 'absent' }
  | { type: 'state'; address: string; state: DeviceState; to?: string }
  | { type: 'end' };

export interface JournalDevice {
  address: string;
  vendorDevice: string | null;
  iommuGroup: string | null;
  original: BindingState;
  target: string | null;
  reason: string;
  from?: string;
  /** pending: a change may be under way and nothing says it was finished or undone */
  state: 'pending' | DeviceState;
}

export interface JournalDynid {
  driver: string;
  id: string;
  address: string;
  /** true while the id may still be in the driver's table because of this run */
  pending: boolean;
}

export interface ParsedRun {
  file: string;
  id: string;
  owner: ProcessIdentity;
  guest: string;
  command: string;
  at: string;
  devices: JournalDevice[];
  dynids: JournalDynid[];
  intents: number;
  ended: boolean;
  /** lines that could not be parsed (a record cut short by a crash is skipped) */
  skippedLines: number;
  /** records refused because a field breaks its grammar (never acted on) */
  rejected?: RejectedLine[];
}

export const journalDir = (stateDir: string): string => path.join(stateDir, 'journal');

/** Pure: folds the records of one journal file into the state of its devices and dynamic ids. */
export function foldRecords(
  file: string,
  records: readonly JournalRecord[],
  skippedLines = 0,
): ParsedRun | null {
  const head = records[0];
  if (!head || head.type !== 'run') return null;
  const devices = new Map<string, JournalDevice>();
  const dynids: JournalDynid[] = [];
  let intents = 0;
  let ended = false;
  for (const r of records.slice(1)) {
    switch (r.type) {
      case 'device': {
        const prev = devices.get(r.address);
        // a device given back and touched again in the same run starts a new record; otherwise the
        // first original is the true one
        if (prev && prev.state !== 'restored' && prev.state !== 'gone' && prev.state !== 'transferred') break;
        devices.set(r.address, {
          address: r.address,
          vendorDevice: r.vendorDevice,
          iommuGroup: r.iommuGroup,
          original: r.original,
          target: r.target,
          reason: r.reason,
          ...(r.from ? { from: r.from } : {}),
          state: 'pending',
        });
        break;
      }
      case 'intent':
        intents++;
        if (r.address) {
          const d = devices.get(r.address);
          // an intent after a device was marked detached or kept means it is changing again
          if (d && (d.state === 'detached' || d.state === 'kept')) d.state = 'pending';
        }
        break;
      case 'dynid':
        dynids.push({ driver: r.driver, id: r.id, address: r.address, pending: true });
        break;
      case 'dynid-done':
        for (const d of dynids) if (d.driver === r.driver && d.id === r.id) d.pending = false;
        break;
      case 'state': {
        const d = devices.get(r.address);
        if (d) d.state = r.state;
        break;
      }
      case 'end':
        ended = true;
        break;
      default:
        break;
    }
  }
  return {
    file,
    id: head.id,
    owner: head.owner,
    guest: head.guest,
    command: head.command,
    at: head.at,
    devices: [...devices.values()],
    dynids,
    intents,
    ended,
    skippedLines,
  };
}

const prefixed = (p: string, why: string | null): string | null => (why ? p + why : null);

const DEVICE_STATES: readonly DeviceState[] = ['detached', 'kept', 'restored', 'gone', 'transferred'];

/**
 * Pure: why a parsed record may not be used (the first field that breaks its grammar, see
 * state-grammar.ts), or null when every field is what this tool writes. Addresses and driver names
 * become sysfs paths and values, so nothing else may pass.
 */
export function checkRecord(r: Record<string, unknown>): string | null {
  const optional =
    (c: (v: unknown) => string | null) =>
    (v: unknown): string | null =>
      v === undefined ? null : c(v);
  switch (r.type) {
    case 'run': {
      if (r.v !== 1) return `v: ${JSON.stringify(r.v) ?? 'missing'} is not version 1`;
      return (
        checkFields(r, { id: check.journalId, guest: check.text, command: check.text, at: check.text }) ??
        checkIdentity(r.owner)
      );
    }
    case 'device': {
      const o = r.original as Record<string, unknown> | null | undefined;
      if (!o || typeof o !== 'object') return 'original: missing';
      return (
        checkFields(r, {
          address: check.address,
          vendorDevice: check.vendorDeviceOrNull,
          iommuGroup: check.groupOrNull,
          target: check.driverOrNull,
          reason: check.text,
          // the journal file of the run that kept it (informational: never opened from here)
          from: optional((v) =>
            typeof v === 'string' && v.length <= 4096 && !unsafeCharacter(v) ? null : 'not a file name',
          ),
        }) ??
        prefixed('original.', checkFields(o, { driver: check.driverOrNull, override: check.driverOrNull }))
      );
    }
    case 'intent':
      return checkFields(r, {
        address: (v) => (v === null ? null : check.address(v)),
        step: check.text,
        path: (v) =>
          typeof v === 'string' && v.startsWith('/') && !v.split('/').includes('..') && !check.text(v)
            ? null
            : `${JSON.stringify(v)} is not a host path`,
        value: (v) => (typeof v === 'string' && v.length <= 256 ? null : 'not a short value'),
      });
    case 'dynid':
      return checkFields(r, { driver: check.driver, id: check.dynid, address: check.address });
    case 'dynid-done':
      return checkFields(r, {
        driver: check.driver,
        id: check.dynid,
        outcome: check.oneOf(['removed', 'preexisting', 'absent']),
      });
    case 'state':
      return checkFields(r, {
        address: check.address,
        state: check.oneOf(DEVICE_STATES),
        to: optional(check.journalId),
      });
    case 'end':
      return null;
    default:
      return `type: ${JSON.stringify(r.type)} is not a record type`;
  }
}

/** A line of a journal that was not used, and why. */
export interface RejectedLine {
  line: number;
  reason: string;
}

/**
 * Pure: the records of one journal text. A line cut short by a crash is counted and skipped; a record
 * that parses but breaks the grammar (checkRecord) is refused and listed with its reason.
 */
export function parseJournalText(text: string): {
  records: JournalRecord[];
  skipped: number;
  rejected: RejectedLine[];
} {
  const records: JournalRecord[] = [];
  const rejected: RejectedLine[] = [];
  let skipped = 0;
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    let r: unknown;
    try {
      r = JSON.parse(line);
    } catch {
      // the last line may be cut short by a crash: that is expected, not a refusal
      if (lines.slice(i + 1).some((l) => l.trim()))
        rejected.push({ line: i + 1, reason: 'not a JSON record' });
      else skipped++;
      return;
    }
    if (!r || typeof r !== 'object' || Array.isArray(r)) {
      rejected.push({ line: i + 1, reason: 'not a JSON object' });
      return;
    }
    const why = checkRecord(r as Record<string, unknown>);
    if (why) rejected.push({ line: i + 1, reason: why });
    else records.push(r as JournalRecord);
  });
  return { records, skipped, rejected };
}

export async function readJournal(file: string): Promise<ParsedRun | null> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch {
    return null;
  }
  const { records, skipped, rejected } = parseJournalText(text);
  const run = foldRecords(file, records, skipped);
  if (run && rejected.length > 0) run.rejected = rejected;
  return run;
}

/** A journal file that holds refused lines (and, when its run record is refused, nothing usable). */
export interface RejectedJournal {
  file: string;
  lines: RejectedLine[];
}

/**
 * Every run journal in the state directory, oldest first, with the refused lines of each file. A
 * journal whose run record (its owner) is refused is not used at all: whose run it is cannot be known.
 */
export async function readJournalsChecked(
  stateDir: string,
): Promise<{ runs: ParsedRun[]; rejected: RejectedJournal[] }> {
  const dir = journalDir(stateDir);
  let names: string[];
  try {
    names = (await fs.readdir(dir)).filter((n) => n.endsWith('.jsonl')).sort();
  } catch {
    return { runs: [], rejected: [] };
  }
  const runs: ParsedRun[] = [];
  const rejected: RejectedJournal[] = [];
  for (const n of names) {
    const file = path.join(dir, n);
    const st = await fs.lstat(file).catch(() => null);
    if (!st) continue;
    if (!st.isFile()) {
      rejected.push({ file, lines: [{ line: 0, reason: 'not a regular file (a link or a special file)' }] });
      continue;
    }
    let text: string;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch {
      continue;
    }
    const parsed = parseJournalText(text);
    const run = foldRecords(file, parsed.records, parsed.skipped);
    const lines = [...parsed.rejected];
    if (!run && parsed.records.length > 0) lines.push({ line: 1, reason: 'no valid run record first' });
    if (lines.length > 0) rejected.push({ file, lines });
    if (run) {
      if (parsed.rejected.length > 0) run.rejected = parsed.rejected;
      runs.push(run);
    }
  }
  return { runs, rejected };
}

/** Every run journal in the state directory, oldest first (refused lines left out). */
export async function readJournals(stateDir: string): Promise<ParsedRun[]> {
  return (await readJournalsChecked(stateDir)).runs;
}

/** Pure: nothing left to do for this run (every device given back, gone or handed over; no id pending). */
export function isSettled(run: ParsedRun): boolean {
  return (
    run.devices.every((d) => d.state === 'restored' || d.state === 'gone' || d.state === 'transferred') &&
    run.dynids.every((d) => !d.pending)
  );
}

/** Pure: devices that need giving back once the owner is gone. */
export function unsettledDevices(run: ParsedRun): JournalDevice[] {
  return run.devices.filter((d) => d.state === 'pending' || d.state === 'detached');
}

async function appendSynced(fh: FileHandle, record: JournalRecord): Promise<void> {
  await fh.write(`${JSON.stringify(record)}\n`);
  await fh.sync();
}

/** Appends one record (fsynced) to another run's journal: used to hand a kept device over or close it. */
export async function appendRecord(file: string, record: JournalRecord): Promise<void> {
  // never through a link: a journal name in the state dir must not lead a write elsewhere
  const fh = await fs.open(file, fsConstants.O_WRONLY | fsConstants.O_APPEND | fsConstants.O_NOFOLLOW, 0o600);
  try {
    await appendSynced(fh, record);
  } finally {
    await fh.close();
  }
}

/** Deletes a journal once nothing in it needs doing; returns true when it did. */
export async function removeIfSettled(file: string): Promise<boolean> {
  const run = await readJournal(file);
  // a journal holding refused lines stays for a person to read
  if (!run || !isSettled(run) || run.rejected) return false;
  await fs.unlink(file).catch(() => undefined);
  return true;
}

export interface OpenJournalOptions {
  host: Host;
  stateDir: string;
  owner: ProcessIdentity;
  guest: string;
  command: string;
}

/** The journal of the current run. Every method appends one record and fsyncs before returning. */
export class RunJournal {
  private closed = false;
  private constructor(
    readonly file: string,
    readonly id: string,
    private readonly fh: FileHandle,
  ) {}

  static async open(o: OpenJournalOptions): Promise<RunJournal> {
    const dir = journalDir(o.stateDir);
    await ensurePrivateDir(o.stateDir);
    await ensurePrivateDir(dir);
    const now = o.host.clock.now();
    const stamp = new Date(now).toISOString().replace(/[-:]/g, '').replace('.', '-');
    const id = `${stamp}-${o.owner.pid}-${o.host.ids.token(4)}`;
    const file = path.join(dir, `${id}.jsonl`);
    const fh = await fs.open(file, 'wx', 0o600);
    const j = new RunJournal(file, id, fh);
    await j.append({
      type: 'run',
      v: 1,
      id,
      owner: o.owner,
      guest: o.guest,
      command: o.command,
      at: new Date(now).toISOString(),
    });
    // the new file's name must survive a crash too
    const d = await fs.open(dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
    return j;
  }

  async append(record: JournalRecord): Promise<void> {
    if (this.closed) throw new Error(`journal ${this.file} is closed`);
    await appendSynced(this.fh, record);
  }

  device(r: Omit<Extract<JournalRecord, { type: 'device' }>, 'type'>): Promise<void> {
    return this.append({ type: 'device', ...r });
  }

  intent(address: string | null, step: string, p: string, value: string): Promise<void> {
    return this.append({ type: 'intent', address, step, path: p, value });
  }

  mark(address: string, state: DeviceState, to?: string): Promise<void> {
    return this.append({ type: 'state', address, state, ...(to ? { to } : {}) });
  }

  /** Writes `end`, closes the file, and deletes it when nothing in it needs doing any more. */
  async end(): Promise<void> {
    if (this.closed) return;
    await this.append({ type: 'end' });
    this.closed = true;
    await this.fh.close();
    await removeIfSettled(this.file);
  }

  /** Closes without `end` (the records stay for `recover`). */
  async abandon(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.fh.close();
  }
}
