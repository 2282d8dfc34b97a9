/**
 * --resume: a guest that passed is recorded in the batch's state dir under a key that hashes its
 * resolved inputs (the parsed install request, its device requests, its template variables, the
 * size and modification time of the local files it reads, and the tool's version). A later run with
 * --resume skips a guest whose record exists for the same key: change any input and it runs again.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { InstallRequest } from '../request/request.js';
import { VERSION } from '../version.js';
import { hashOf } from '../base/hash.js';
import type { BatchGuest } from './plan.js';
import type { GuestOutcome, ResultStore } from './scheduler.js';

/** size and mtime of a local input file, or null when it does not exist */
export type FileFact = { size: number; mtimeMs: number } | null;

/** The request without what does not change the installed guest (output places, run-time switches). */
export function requestForKey(
  r: InstallRequest,
): Omit<InstallRequest, 'dryRun' | 'printCmdline' | 'json' | 'logDir' | 'onError'> {
  const { dryRun: _d, printCmdline: _p, json: _j, logDir: _l, onError: _o, ...rest } = r;
  return rest;
}

/** The local files an install reads (media, injected files): their facts go into the key. */
export function inputFiles(r: InstallRequest): string[] {
  const files = [r.boot?.kernel, r.boot?.initrd, r.cdrom, ...r.initrdInject];
  if (r.location && !/^[a-z]+:\/\//i.test(r.location)) files.push(r.location);
  return [...new Set(files.filter((f): f is string => Boolean(f)))].sort();
}

/** Pure: the key of one guest's resolved inputs. */
export function guestInputsKey(
  guest: BatchGuest,
  files: Record<string, FileFact>,
  toolVersion = VERSION,
): string {
  return hashOf({
    toolVersion,
    request: requestForKey(guest.request),
    devices: guest.devices.map((d) => ({ match: d.match, options: d.options })),
    vars: guest.vars,
    files,
  });
}

async function factsOf(paths: readonly string[]): Promise<Record<string, FileFact>> {
  const out: Record<string, FileFact> = {};
  for (const p of paths) {
    const s = await stat(p).catch(() => null);
    out[p] = s ? { size: s.size, mtimeMs: Math.trunc(s.mtimeMs) } : null;
  }
  return out;
}

export interface GuestRecord {
  name: string;
  key: string;
  status: 'passed';
  endedAt?: number;
  devices: string[];
  toolVersion: string;
}

/** The resume records of one batch: `<stateDir>/guests/<key>.json`. */
export function fileResultStore(
  stateDir: string,
): ResultStore<BatchGuest> & { keyOf(g: BatchGuest): Promise<string> } {
  const dir = path.join(stateDir, 'guests');
  const keyOf = async (g: BatchGuest): Promise<string> =>
    guestInputsKey(g, await factsOf(inputFiles(g.request)));
  return {
    keyOf,
    async passedBefore(g) {
      const key = await keyOf(g);
      try {
        const rec = JSON.parse(await readFile(path.join(dir, `${key}.json`), 'utf8')) as Partial<GuestRecord>;
        return rec.key === key && rec.name === g.name && rec.status === 'passed';
      } catch {
        return false;
      }
    },
    async record(g, outcome: GuestOutcome) {
      const key = await keyOf(g);
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const rec: GuestRecord = {
        name: g.name,
        key,
        status: 'passed',
        ...(outcome.endedAt !== undefined ? { endedAt: outcome.endedAt } : {}),
        devices: outcome.devices.map((d) => d.address),
        toolVersion: VERSION,
      };
      // write then rename: a record is either whole or absent
      const tmp = path.join(dir, `.${key}.${randomBytes(4).toString('hex')}.tmp`);
      await writeFile(tmp, `${JSON.stringify(rec, null, 2)}\n`, { mode: 0o600 });
      await rename(tmp, path.join(dir, `${key}.json`));
    },
  };
}
