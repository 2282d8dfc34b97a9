/** Shared by the device-preparation tests. */
import { expect } from 'chai';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ModelHost } from '../../helpers/kernel-model.js';
import { rejection } from '../../helpers/typed-error.js';

export function quietLog(): { lines: string[]; info(l: string): void; warn(l: string): void } {
  const lines: string[] = [];
  return { lines, info: (l) => void lines.push(l), warn: (l) => void lines.push(l) };
}

/** The typed error a promise rejects with (test/helpers/typed-error.ts). */
export const rejects = rejection;

export async function entries(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch {
    return [];
  }
}

/** The state directory holds no lease and no journal: nothing half-done is left. */
export async function expectClean(m: Pick<ModelHost, 'stateDir' | 'model'>): Promise<void> {
  expect(await entries(path.join(m.stateDir, 'leases')), 'leases left').to.deep.equal([]);
  expect(await entries(path.join(m.stateDir, 'journal')), 'journals left').to.deep.equal([]);
  expect(m.model.allDynids(), 'dynamic ids left').to.deep.equal([]);
}

/** The owner file of a lease a process left that is gone (`pid` has exited or never was). */
export function goneOwner(
  pid: number,
  o: Partial<{ guest: string; command: string; token: string }> = {},
): Record<string, unknown> {
  return {
    pid,
    startTime: '1',
    bootId: null,
    guest: 'old',
    command: 'install',
    at: 'then',
    token: 'x',
    ...o,
  };
}

/** Writes a lease as another process would have left it (a lock directory with its owner file). */
export async function writeLease(
  stateDir: string,
  name: string,
  owner: Record<string, unknown>,
): Promise<void> {
  const dir = path.join(stateDir, 'leases', name);
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, `owner.${String(owner.token)}.json`), JSON.stringify(owner));
}

/** Rewrites the owner of every lease (a test's stand-in for "that process was killed"). */
export async function rewriteLeaseOwners(stateDir: string, patch: Record<string, unknown>): Promise<void> {
  const leases = path.join(stateDir, 'leases');
  for (const n of await entries(leases)) {
    for (const f of await entries(path.join(leases, n))) {
      const file = path.join(leases, n, f);
      const owner = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
      await writeFile(file, JSON.stringify({ ...owner, ...patch }));
    }
  }
}
