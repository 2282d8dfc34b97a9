/**
 * The key of the base an install would publish (`install --publish-base`): baseKey over the media's
 * checksum, what decides the answer file, the shipped templates and kickstarts, the tool's version and
 * the request fields that change the installed system. Read from the inputs, never from what a run
 * made up (a random MAC, a salted password hash), so the same command gives the same key every time:
 * a CI job learns it with `--dry-run --json` before installing anything.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { readRegularBytes } from '../kickstart/read-file.js';
import { kickstartsDir, templatesDir } from '../paths.js';
import type { InstallRequest } from '../request/request.js';
import { VERSION } from '../version.js';
import { type BaseRequestSubset, baseKey, templatesHash } from './cache.js';
import { sha256Hex } from './hash.js';

export function baseRequestSubset(r: InstallRequest): BaseRequestSubset {
  return {
    ...(r.osVariant ? { osVariant: r.osVariant } : {}),
    machine: r.machine,
    memoryMiB: r.memoryMiB,
    disks: r.disks.map((d) => ({
      ...(d.sizeGiB !== undefined ? { sizeGiB: d.sizeGiB } : {}),
      format: d.format,
      bus: d.bus,
    })),
    ...(r.extraArgs ? { extraArgs: r.extraArgs } : {}),
    ...(r.boot?.kernelArgs ? { kernelArgs: r.boot.kernelArgs } : {}),
    ...(r.location && /^[a-z]+:\/\//i.test(r.location) ? { location: r.location } : {}),
  };
}

/** sha256 over files in order (each file's length first, so the boundaries count). */
export async function sha256Files(files: readonly string[]): Promise<string> {
  const h = createHash('sha256');
  for (const f of files) {
    const inner = createHash('sha256');
    for await (const chunk of createReadStream(f)) inner.update(chunk as Buffer);
    h.update(`${path.basename(f)}\0${inner.digest('hex')}\n`);
  }
  return h.digest('hex');
}

/** The boot media of an install, as resolve-media recorded them. */
export interface BaseMediaFacts {
  kind: string;
  source: string;
  boot:
    { kind: 'kernel'; kernel: string; initrd?: string } | { kind: 'cdrom'; iso: string } | { kind: 'disk' };
}

/**
 * The files that identify the media: the ISO itself (its packages are on it), else the kernel and
 * initrd (a tree's packages are named by its location, in the request subset). null when they are
 * not on this host (a dry run over HTTP downloads nothing, an ISO's files are not extracted).
 */
export function mediaFiles(media: BaseMediaFacts): string[] | null {
  if (media.kind === 'iso') return [media.source];
  if (media.boot.kind === 'cdrom') return [media.boot.iso];
  if (media.boot.kind !== 'kernel') return null;
  const files = [media.boot.kernel, ...(media.boot.initrd ? [media.boot.initrd] : [])];
  return files.some((f) => f.startsWith('<')) ? null : files;
}

/** What decides the answer file: the template or the file's content, the variables, the options. */
export async function answerFileRecipe(req: InstallRequest): Promise<string> {
  // an unreadable file is reported by the stage that reads it (render-kickstart), with its own code
  const fileSha = async (p: string): Promise<string> =>
    readRegularBytes(p, 'file', { maxBytes: 1024 * 1024 * 1024 }).then(sha256Hex, () => 'unreadable');
  const kickstart =
    req.kickstart === undefined
      ? null
      : /[/.]/.test(req.kickstart)
        ? { file: path.basename(req.kickstart), sha256: await fileSha(req.kickstart) }
        : { template: req.kickstart };
  const inject = [];
  for (const p of req.initrdInject) inject.push({ name: path.basename(p), sha256: await fileSha(p) });
  return JSON.stringify({
    kickstart,
    injectedAs: req.kickstartInjectedAs ?? null,
    ksSet: req.ksSet,
    confirmUnit: req.confirmUnit,
    delivery: req.kickstartDelivery ?? 'auto',
    initrdInject: inject,
    // the hostname the answer file gives the guest
    name: req.name,
  });
}

/** The base key of an install, or null when its media are not on this host (see mediaFiles). */
export async function installBaseKey(
  req: InstallRequest,
  media: BaseMediaFacts,
): Promise<{ key: string; mediaChecksum: string } | null> {
  const files = mediaFiles(media);
  if (files === null) return null;
  const mediaChecksum = await sha256Files(files);
  const shipped = sha256Hex(
    `${await templatesHash(templatesDir())}\n${await templatesHash(kickstartsDir())}`,
  );
  const key = baseKey({
    mediaChecksum,
    kickstartText: await answerFileRecipe(req),
    templatesHash: shipped,
    toolVersion: VERSION,
    request: baseRequestSubset(req),
  });
  return { key, mediaChecksum };
}
