/**
 * A small ISO 9660 volume labelled OEMDRV holding ks.cfg at its root, for cdrom installs: anaconda
 * (and the test-bed installer) look for a volume with that label and read /ks.cfg from it without
 * any kernel argument. Made with xorriso (`xorriso -as mkisofs -V OEMDRV -J -r`), run with an argv
 * array; the kickstart goes through a private temporary directory that is removed afterwards.
 */
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { hostError } from '../errors.js';
import type { Executor } from '../host/host.js';

export const OEMDRV_LABEL = 'OEMDRV';

async function execaExecutor(
  file: string,
  args: readonly string[],
): Promise<{ exitCode: number; stdout: string; stderr: string; notFound?: boolean }> {
  const { execa } = await import('execa');
  const r = await execa(file, args, { reject: false, timeout: 60_000 });
  const code = (r as { code?: string }).code;
  return {
    exitCode: r.exitCode ?? 127,
    stdout: String(r.stdout ?? ''),
    stderr: String(r.stderr ?? ''),
    ...(code === 'ENOENT' ? { notFound: true } : {}),
  };
}

export interface OemdrvOptions {
  /** the file name on the volume (default ks.cfg; preseed.cfg for d-i) */
  fileName?: string;
  /** runs xorriso (default: execa); tests may pass Host.exec */
  exec?: Executor;
  /** where the private staging directory goes (default: the OS temp dir) */
  tmpDir?: string;
}

/** Writes an ISO image labelled OEMDRV with `ksText` as /ks.cfg to `outPath` (mode 0600). */
export async function makeOemdrvImage(
  ksText: string,
  outPath: string,
  options: OemdrvOptions = {},
): Promise<void> {
  const exec = options.exec ?? execaExecutor;
  const stage = await mkdtemp(path.join(options.tmpDir ?? os.tmpdir(), 'ig-oemdrv-'));
  try {
    await chmod(stage, 0o700);
    const root = path.join(stage, 'root');
    await mkdir(root, { mode: 0o700 });
    await writeFile(path.join(root, options.fileName ?? 'ks.cfg'), ksText, { mode: 0o600 });
    const r = await exec('xorriso', [
      '-as',
      'mkisofs',
      '-quiet',
      '-V',
      OEMDRV_LABEL,
      '-J',
      '-r',
      '-o',
      outPath,
      root,
    ]);
    if (r.notFound) {
      throw hostError(
        'XORRISO_MISSING',
        'xorriso is needed to build the OEMDRV kickstart volume and was not found',
        {
          hint: 'apt-get install xorriso (or deliver the kickstart by initrd injection or HTTP)',
        },
      );
    }
    if (r.exitCode !== 0) {
      throw hostError(
        'OEMDRV_BUILD_FAILED',
        `xorriso could not build the OEMDRV volume ${outPath}: exit ${r.exitCode}: ${r.stderr.trim().split('\n').pop() ?? ''}`,
        {
          hint: 'check that the output directory is writable and has space',
        },
      );
    }
    await chmod(outPath, 0o600);
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}
