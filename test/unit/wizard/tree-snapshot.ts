/** A directory tree as data: equal snapshots mean nothing under it changed (files, links, dirs). */
import { createHash } from 'node:crypto';
import { lstat, readFile, readdir, readlink } from 'node:fs/promises';
import path from 'node:path';

/** Every path under `dir` with its link target, `dir`, or the sha256 of the file's bytes and its mode. */
export async function snapshotTree(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (d: string): Promise<void> => {
    for (const e of (await readdir(d)).sort()) {
      const p = path.join(d, e);
      const s = await lstat(p);
      const rel = path.relative(dir, p);
      if (s.isSymbolicLink()) out[rel] = `-> ${await readlink(p)}`;
      else if (s.isDirectory()) {
        out[rel] = `dir ${(s.mode & 0o7777).toString(8)}`;
        await walk(p);
      } else
        out[rel] = `${(s.mode & 0o7777).toString(8)} ${createHash('sha256')
          .update(await readFile(p))
          .digest('hex')}`;
    }
  };
  await walk(dir);
  return out;
}
