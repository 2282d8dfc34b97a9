/**
 * A newc ("070701") cpio writer, the only format the kernel unpacks from an initramfs, and initrd
 * injection: the archive is gzipped and appended to a COPY of an initrd (the kernel unpacks
 * concatenated archives, compressed or not, one after another; later files win).
 */
import { chmod, copyFile, open } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

export interface CpioEntry {
  /** path inside the archive, without a leading slash (one is stripped) */
  name: string;
  /** st_mode: permission bits, with the file type bits (0o040000 dir, 0o120000 symlink) or without (regular file) */
  mode: number;
  /** file content (for a symlink: its target); empty for a directory */
  data?: Buffer | string;
  /** seconds since the epoch (default 0, so archives are reproducible) */
  mtime?: number;
  uid?: number;
  gid?: number;
}

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;

function hex8(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new Error(`cpio: field out of range: ${n}`);
  return n.toString(16).padStart(8, '0');
}

function pad4(n: number): number {
  return (4 - (n % 4)) % 4;
}

function header(fields: {
  ino: number;
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  mtime: number;
  filesize: number;
  namesize: number;
}): string {
  return (
    '070701' +
    hex8(fields.ino) +
    hex8(fields.mode) +
    hex8(fields.uid) +
    hex8(fields.gid) +
    hex8(fields.nlink) +
    hex8(fields.mtime) +
    hex8(fields.filesize) +
    hex8(0) + // devmajor
    hex8(0) + // devminor
    hex8(0) + // rdevmajor
    hex8(0) + // rdevminor
    hex8(fields.namesize) +
    hex8(0) // check
  );
}

function record(parts: Buffer[], name: string, h: Parameters<typeof header>[0], data: Buffer): void {
  const nameBuf = Buffer.from(`${name}\0`, 'utf8');
  const head = Buffer.from(header({ ...h, namesize: nameBuf.length }), 'ascii');
  parts.push(head, nameBuf, Buffer.alloc(pad4(head.length + nameBuf.length)));
  parts.push(data, Buffer.alloc(pad4(data.length)));
}

/**
 * A newc archive of `entries` in order, ending with TRAILER!!!. Every header and every data part
 * starts on a 4-byte boundary. Parent directories are NOT added implicitly: list them first.
 */
export function writeNewc(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let ino = 721; // arbitrary non-zero start; 0 is avoided as some readers treat it specially
  for (const e of entries) {
    const name = e.name.replace(/^\/+/, '');
    if (!name || name.includes('\0') || name.split('/').includes('..')) {
      throw new Error(`cpio: invalid entry name ${JSON.stringify(e.name)}`);
    }
    const type = e.mode & S_IFMT;
    const mode = type === 0 ? e.mode | S_IFREG : e.mode;
    const data =
      type === S_IFDIR
        ? Buffer.alloc(0)
        : Buffer.isBuffer(e.data)
          ? e.data
          : Buffer.from(e.data ?? '', 'utf8');
    record(
      parts,
      name,
      {
        ino: ino++,
        mode,
        uid: e.uid ?? 0,
        gid: e.gid ?? 0,
        nlink: (mode & S_IFMT) === S_IFDIR ? 2 : 1,
        mtime: e.mtime ?? 0,
        filesize: data.length,
        namesize: 0,
      },
      data,
    );
  }
  record(
    parts,
    'TRAILER!!!',
    { ino: 0, mode: 0, uid: 0, gid: 0, nlink: 1, mtime: 0, filesize: 0, namesize: 0 },
    Buffer.alloc(0),
  );
  return Buffer.concat(parts);
}

/** Entries for `files`, preceded by entries for every parent directory they need (mode 0755). */
export function withParentDirs(files: readonly CpioEntry[]): CpioEntry[] {
  const seen = new Set<string>();
  const out: CpioEntry[] = [];
  for (const f of files) {
    const parts = f.name.replace(/^\/+/, '').split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (!seen.has(dir)) {
        seen.add(dir);
        out.push({ name: dir, mode: S_IFDIR | 0o755 });
      }
    }
    out.push(f);
  }
  return out;
}

export interface InjectFile {
  /** path inside the initramfs, e.g. `ks.cfg` (found as /ks.cfg) */
  name: string;
  data: Buffer | string;
  /** permission bits (default 0600: answer files hold password hashes) */
  mode?: number;
}

/**
 * Copies `initrdPath` to `outPath` (created 0600, never the original touched), pads it to a 4-byte
 * boundary with zeros (the kernel skips zeros between archives) and appends a gzipped newc archive
 * holding `files` (and their parent directories). Returns the number of bytes appended.
 */
export async function injectIntoInitrd(
  initrdPath: string,
  files: readonly InjectFile[],
  outPath: string,
): Promise<number> {
  if (path.resolve(initrdPath) === path.resolve(outPath)) {
    throw new Error('injectIntoInitrd: the output must be a copy, not the initrd itself');
  }
  await copyFile(initrdPath, outPath);
  await chmod(outPath, 0o600);
  const archive = gzipSync(
    writeNewc(withParentDirs(files.map((f) => ({ name: f.name, mode: f.mode ?? 0o600, data: f.data })))),
    { level: 9 },
  );
  const fh = await open(outPath, 'r+');
  try {
    const { size } = await fh.stat();
    const padding = Buffer.alloc(pad4(size));
    await fh.write(Buffer.concat([padding, archive]), 0, padding.length + archive.length, size);
    return padding.length + archive.length;
  } finally {
    await fh.close();
  }
}
