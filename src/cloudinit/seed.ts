/**
 * The NoCloud seed on disk: a directory of user-data, meta-data and network-config (0600 files in a
 * 0700 directory of the install's private work dir) and, for `seed=iso`, an ISO 9660 volume
 * labelled `cidata` made of it with xorriso (argv array; Joliet and Rock Ridge, as cloud-localds
 * and virt-install make it). For `seed=smbios` the directory is served over HTTP instead and the
 * guest is told where by the SMBIOS serial (smbiosSerial()).
 */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { hostError } from '../errors.js';
import type { Executor } from '../host/host.js';

export const SEED_LABEL = 'cidata';

export interface SeedFiles {
  userData: string;
  metaData: string;
  networkConfig?: string;
}

/** Writes the seed files into `dir` (created 0700; files 0600). */
export async function writeSeedDir(dir: string, files: SeedFiles): Promise<string[]> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const entries: [string, string | undefined][] = [
    ['user-data', files.userData],
    ['meta-data', files.metaData],
    ['network-config', files.networkConfig],
  ];
  const written: string[] = [];
  for (const [name, text] of entries) {
    if (text === undefined) continue;
    await writeFile(path.join(dir, name), text, { mode: 0o600 });
    written.push(name);
  }
  return written;
}

/** The xorriso argv that makes the cidata volume of `dir` into `iso`. */
export function seedIsoArgv(dir: string, iso: string): string[] {
  return [
    '-as',
    'mkisofs',
    '-quiet',
    '-V',
    SEED_LABEL,
    '-J',
    '-r',
    '-input-charset',
    'utf-8',
    '-o',
    iso,
    dir,
  ];
}

/** Makes the cidata ISO of `dir` at `iso` (mode 0600). Throws XORRISO_MISSING / SEED_BUILD_FAILED (exit 3). */
export async function makeSeedIso(exec: Executor, dir: string, iso: string): Promise<void> {
  const r = await exec('xorriso', seedIsoArgv(dir, iso), { timeoutMs: 60_000 });
  if (r.notFound)
    throw hostError(
      'XORRISO_MISSING',
      'xorriso is needed to build the cloud-init seed volume and was not found',
      {
        hint: 'apt-get install xorriso, or use --cloud-init seed=smbios',
      },
    );
  if (r.exitCode !== 0)
    throw hostError(
      'SEED_BUILD_FAILED',
      `xorriso could not build the cloud-init seed ${iso}: exit ${r.exitCode}: ${r.stderr.trim().split('\n').pop() ?? ''}`,
      { hint: 'check that the work directory is writable and has space' },
    );
  await chmod(iso, 0o600);
}

/**
 * The SMBIOS system serial that points cloud-init's NoCloud datasource at a seed URL
 * (`ds=nocloud;s=URL/`); the URL must end with a slash (cloud-init appends the file names).
 */
export function smbiosSerial(seedUrl: string): string {
  const url = seedUrl.endsWith('/') ? seedUrl : `${seedUrl}/`;
  return `ds=nocloud;s=${url}`;
}
