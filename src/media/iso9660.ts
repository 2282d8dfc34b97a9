/**
 * An ISO 9660 reader that needs neither root nor a loop mount: it opens the image, reads the volume
 * descriptors, and then only the directory sectors along the paths it is asked about and the
 * extents of the files it reads (positioned reads on one file handle; `stats` counts them).
 *
 * Names come from Rock Ridge (SUSP `NM`, `PX`, `SL`, `CL`/`RE` for relocated deep directories,
 * `CE` continuation areas) when the image has it, else from Joliet (the supplementary volume
 * descriptor, UCS-2 big-endian names), else from plain ISO 9660 (`NAME.EXT;1`, looked up ignoring
 * case). Files of several extents (over 4 GiB) are joined. The volume label is the one blkid (and so
 * udev's /dev/disk/by-label, which anaconda's `hd:LABEL=` uses) reports.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { inputError } from '../errors.js';

export type NameSource = 'rockridge' | 'joliet' | 'iso9660';

export interface IsoEntry {
  name: string;
  /** path relative to the image root, `/`-separated ('' for the root) */
  path: string;
  isDir: boolean;
  isSymlink: boolean;
  /** the Rock Ridge symlink target as stored */
  target?: string;
  size: number;
  /** POSIX mode from Rock Ridge PX, when present */
  mode?: number;
  /** (block, byte length) of each extent, in order */
  extents: { lba: number; size: number }[];
}

export interface IsoStats {
  reads: number;
  bytesRead: number;
}

const SECTOR = 2048;
const MAX_DIR_BYTES = 64 * 1024 * 1024;
const MAX_SYMLINK_HOPS = 16;

interface RawRecord {
  lba: number;
  size: number;
  flags: number;
  isoName: string;
  /** byte range of the system use area inside the directory buffer */
  suStart: number;
  suEnd: number;
}

interface RrInfo {
  name?: string;
  mode?: number;
  target?: string;
  childLba?: number;
  relocated?: boolean;
}

function isoError(file: string, what: string, cause?: unknown): Error {
  return inputError('MEDIA_BAD_ISO', `${file} is not a readable ISO 9660 image: ${what}`, {
    hint: 'check that the file is a complete CD/DVD image (.iso)',
    ...(cause === undefined ? {} : { cause }),
  });
}

function decodeUcs2be(buf: Buffer): string {
  const even = buf.subarray(0, buf.length - (buf.length % 2));
  const swapped = Buffer.from(even);
  swapped.swap16();
  return swapped.toString('utf16le');
}

/**
 * The label blkid reports for an iso9660 volume: when a Joliet volume identifier matches the
 * primary one (ignoring case, `_` in the primary matching anything) over its 16 characters, the
 * Joliet characters (with their case) followed by the rest of the primary identifier; else the
 * primary identifier. Trailing blanks are dropped.
 */
export function blkidLabel(primary: string, joliet: string | null): string {
  const p = primary.padEnd(32, ' ').slice(0, 32);
  if (joliet !== null) {
    const j = joliet.padEnd(16, ' ').slice(0, 16);
    let match = true;
    for (let i = 0; i < 16; i++) {
      const a = p[i]!;
      if (a !== '_' && a.toUpperCase() !== j[i]!.toUpperCase()) {
        match = false;
        break;
      }
    }
    if (match) return (j + p.slice(16)).trimEnd();
  }
  return p.trimEnd();
}

function cleanIsoName(raw: string): string {
  let n = raw;
  const semi = n.lastIndexOf(';');
  if (semi >= 0) n = n.slice(0, semi);
  if (n.endsWith('.')) n = n.slice(0, -1);
  return n;
}

export class IsoImage {
  readonly file: string;
  /** the primary volume identifier, blanks trimmed */
  readonly primaryLabel: string;
  /** the Joliet volume identifier, when the image has a Joliet descriptor */
  readonly jolietLabel: string | null;
  /** the label blkid and /dev/disk/by-label see */
  readonly volumeLabel: string;
  readonly names: NameSource;
  readonly hasRockRidge: boolean;
  readonly hasJoliet: boolean;
  /** the image size the primary descriptor declares, in bytes */
  readonly volumeBytes: number;
  readonly stats: IsoStats = { reads: 0, bytesRead: 0 };

  private readonly fh: FileHandle;
  private readonly blockSize: number;
  private readonly root: IsoEntry;
  private readonly suspSkip: number;
  private readonly dirCache = new Map<number, IsoEntry[]>();

  private constructor(init: {
    file: string;
    fh: FileHandle;
    blockSize: number;
    primaryLabel: string;
    jolietLabel: string | null;
    names: NameSource;
    hasRockRidge: boolean;
    volumeBytes: number;
    root: IsoEntry;
    suspSkip: number;
  }) {
    this.file = init.file;
    this.fh = init.fh;
    this.blockSize = init.blockSize;
    this.primaryLabel = init.primaryLabel;
    this.jolietLabel = init.jolietLabel;
    this.volumeLabel = blkidLabel(init.primaryLabel, init.jolietLabel);
    this.names = init.names;
    this.hasRockRidge = init.hasRockRidge;
    this.hasJoliet = init.jolietLabel !== null;
    this.volumeBytes = init.volumeBytes;
    this.root = init.root;
    this.suspSkip = init.suspSkip;
  }

  /** Opens an image and reads its volume descriptors (and the root directory's first sector). */
  static async open(file: string): Promise<IsoImage> {
    let fh: FileHandle;
    try {
      fh = await fs.open(file, 'r');
    } catch (e) {
      throw inputError('MEDIA_NOT_FOUND', `cannot open ${file}: ${(e as Error).message}`, {
        hint: 'check the path of the ISO',
        cause: e,
      });
    }
    const stats: IsoStats = { reads: 0, bytesRead: 0 };
    const read = async (pos: number, len: number): Promise<Buffer> => {
      const buf = Buffer.alloc(len);
      const { bytesRead } = await fh.read(buf, 0, len, pos);
      stats.reads += 1;
      stats.bytesRead += bytesRead;
      return buf.subarray(0, bytesRead);
    };
    try {
      let pvd: Buffer | null = null;
      let svd: Buffer | null = null;
      for (let i = 16; i < 16 + 64; i++) {
        const d = await read(i * SECTOR, SECTOR);
        if (d.length < SECTOR) throw isoError(file, `volume descriptor ${i} is cut short`);
        if (d.toString('latin1', 1, 6) !== 'CD001') throw isoError(file, `no CD001 signature at sector ${i}`);
        const type = d[0]!;
        if (type === 255) break;
        if (type === 1 && !pvd) pvd = d;
        if (type === 2 && !svd) {
          const esc = d.toString('latin1', 88, 91);
          if (esc === '%/@' || esc === '%/C' || esc === '%/E') svd = d;
        }
      }
      if (!pvd) throw isoError(file, 'no primary volume descriptor');
      const blockSize = pvd.readUInt16LE(128) || SECTOR;
      const volumeBytes = pvd.readUInt32LE(80) * blockSize;
      const primaryLabel = pvd.toString('latin1', 40, 72).trimEnd();
      const jolietLabel = svd ? decodeUcs2be(svd.subarray(40, 72)).trimEnd() : null;
      const rootOf = (d: Buffer): IsoEntry => ({
        name: '',
        path: '',
        isDir: true,
        isSymlink: false,
        size: d.readUInt32LE(156 + 10),
        extents: [{ lba: d.readUInt32LE(156 + 2), size: d.readUInt32LE(156 + 10) }],
      });
      // Rock Ridge: the root's "." record carries the SUSP "SP" entry (and "ER"/"RR"/"PX")
      const pRoot = rootOf(pvd);
      const first = await read(pRoot.extents[0]!.lba * blockSize, Math.min(SECTOR, pRoot.size || SECTOR));
      let hasRockRidge = false;
      let suspSkip = 0;
      const recLen = first[0] ?? 0;
      if (recLen >= 34) {
        const nameLen = first[32]!;
        const su = 33 + nameLen + (nameLen % 2 === 0 ? 1 : 0);
        if (
          su + 7 <= recLen &&
          first.toString('latin1', su, su + 2) === 'SP' &&
          first[su + 4] === 0xbe &&
          first[su + 5] === 0xef
        ) {
          // SUSP is present; in practice only Rock Ridge uses it on CD images
          suspSkip = first[su + 6]!;
          hasRockRidge = true;
        }
      }
      const names: NameSource = hasRockRidge ? 'rockridge' : svd ? 'joliet' : 'iso9660';
      const img = new IsoImage({
        file,
        fh,
        blockSize,
        primaryLabel,
        jolietLabel,
        names,
        hasRockRidge,
        volumeBytes,
        root: names === 'joliet' ? rootOf(svd!) : pRoot,
        suspSkip,
      });
      img.stats.reads = stats.reads;
      img.stats.bytesRead = stats.bytesRead;
      return img;
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  async close(): Promise<void> {
    await this.fh.close();
  }

  private async readAt(pos: number, len: number): Promise<Buffer> {
    const buf = Buffer.alloc(len);
    let got = 0;
    while (got < len) {
      const { bytesRead } = await this.fh.read(buf, got, len - got, pos + got);
      this.stats.reads += 1;
      this.stats.bytesRead += bytesRead;
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    if (got < len)
      throw isoError(this.file, `the image ends at byte ${pos + got}, data runs to ${pos + len}`);
    return buf;
  }

  /** Parses the Rock Ridge entries of one record, following CE continuation areas. */
  private async rockRidge(buf: Buffer, start: number, end: number): Promise<RrInfo> {
    const info: RrInfo = {};
    let name = '';
    let haveName = false;
    let target: string[] | null = null;
    let pendingComponent = '';
    let area: { buf: Buffer; start: number; end: number } | null = { buf, start: start + this.suspSkip, end };
    for (let hops = 0; area && hops < 32; hops++) {
      const b: Buffer = area.buf;
      const e: number = area.end;
      let i = area.start;
      area = null;
      while (i + 4 <= e) {
        const sig = b.toString('latin1', i, i + 2);
        const len = b[i + 2]!;
        if (len < 4 || i + len > e) break;
        if (sig === 'ST') break;
        if (sig === 'NM') {
          const flags = b[i + 4]!;
          if (!(flags & 0x06)) {
            name += b.toString('utf8', i + 5, i + len);
            haveName = true;
          }
        } else if (sig === 'PX' && len >= 12) {
          info.mode = b.readUInt32LE(i + 4);
        } else if (sig === 'SL') {
          target ??= [];
          let j = i + 5;
          while (j + 2 <= i + len) {
            const cflags = b[j]!;
            const clen: number = b[j + 1]!;
            let comp = b.toString('utf8', j + 2, j + 2 + clen);
            if (cflags & 0x02) comp = '.';
            else if (cflags & 0x04) comp = '..';
            else if (cflags & 0x08) comp = '';
            pendingComponent += comp;
            if (!(cflags & 0x01)) {
              target.push(pendingComponent);
              pendingComponent = '';
            }
            j += 2 + clen;
          }
        } else if (sig === 'CL' && len >= 12) {
          info.childLba = b.readUInt32LE(i + 4);
        } else if (sig === 'RE') {
          info.relocated = true;
        } else if (sig === 'CE' && len >= 28) {
          const lba = b.readUInt32LE(i + 4);
          const off = b.readUInt32LE(i + 12);
          const ceLen: number = b.readUInt32LE(i + 20);
          if (ceLen > 0 && ceLen <= 64 * 1024) {
            const cbuf = await this.readAt(lba * this.blockSize + off, ceLen);
            area = { buf: cbuf, start: 0, end: ceLen };
          }
        }
        i += len;
      }
    }
    if (haveName) info.name = name;
    if (target) {
      info.target = target.length === 1 && target[0] === '' ? '/' : target.join('/');
    }
    return info;
  }

  /** Parses a directory's records (cached by extent). */
  private async readDirExtent(dir: IsoEntry): Promise<IsoEntry[]> {
    const ext = dir.extents[0]!;
    const cached = this.dirCache.get(ext.lba);
    if (cached) return cached;
    if (ext.size > MAX_DIR_BYTES)
      throw isoError(this.file, `directory /${dir.path} claims ${ext.size} bytes`);
    const buf = await this.readAt(
      ext.lba * this.blockSize,
      Math.ceil(ext.size / this.blockSize) * this.blockSize,
    );
    const raws: RawRecord[] = [];
    let i = 0;
    while (i < ext.size) {
      const len = buf[i]!;
      if (len === 0) {
        i = (Math.floor(i / this.blockSize) + 1) * this.blockSize;
        continue;
      }
      if (len < 34 || i + len > buf.length) throw isoError(this.file, `a damaged record in /${dir.path}`);
      const nameLen = buf[i + 32]!;
      const rawName = buf.subarray(i + 33, i + 33 + nameLen);
      const isoName =
        nameLen === 1 && rawName[0] === 0
          ? '.'
          : nameLen === 1 && rawName[0] === 1
            ? '..'
            : this.names === 'joliet'
              ? decodeUcs2be(rawName)
              : rawName.toString('latin1');
      const suStart = i + 33 + nameLen + (nameLen % 2 === 0 ? 1 : 0);
      raws.push({
        lba: buf.readUInt32LE(i + 2),
        size: buf.readUInt32LE(i + 10),
        flags: buf[i + 25]!,
        isoName,
        suStart,
        suEnd: i + len,
      });
      i += len;
    }
    const entries: IsoEntry[] = [];
    let previous: IsoEntry | null = null;
    let previousMulti = false;
    for (const r of raws) {
      if (r.isoName === '.' || r.isoName === '..') continue;
      let name = this.names === 'iso9660' || this.names === 'joliet' ? cleanIsoName(r.isoName) : r.isoName;
      let isDir = (r.flags & 0x02) !== 0;
      let lba = r.lba;
      let size = r.size;
      let mode: number | undefined;
      let target: string | undefined;
      if (this.names === 'rockridge') {
        const rr = await this.rockRidge(buf, r.suStart, r.suEnd);
        if (rr.relocated) continue;
        name = rr.name ?? cleanIsoName(r.isoName);
        mode = rr.mode;
        target = rr.target;
        if (rr.childLba !== undefined) {
          // a placeholder for a directory relocated by mkisofs: its "." record gives the size
          const dot = await this.readAt(rr.childLba * this.blockSize, 34);
          isDir = true;
          lba = rr.childLba;
          size = dot.readUInt32LE(10);
        }
      }
      if (previous && previousMulti && previous.name === name) {
        previous.extents.push({ lba, size });
        previous.size += size;
      } else {
        previous = {
          name,
          path: dir.path ? `${dir.path}/${name}` : name,
          isDir,
          isSymlink: target !== undefined,
          ...(target !== undefined ? { target } : {}),
          size,
          ...(mode !== undefined ? { mode } : {}),
          extents: [{ lba, size }],
        };
        entries.push(previous);
      }
      previousMulti = (r.flags & 0x80) !== 0;
    }
    this.dirCache.set(ext.lba, entries);
    return entries;
  }

  private find(entries: IsoEntry[], name: string): IsoEntry | undefined {
    const exact = entries.find((e) => e.name === name);
    if (exact || this.names === 'rockridge') return exact;
    const lower = name.toLowerCase();
    return entries.find((e) => e.name.toLowerCase() === lower);
  }

  /** The entry at a path (symlinks followed, inside the image only), or null. */
  async stat(relPath: string, followLast = true): Promise<IsoEntry | null> {
    let hops = 0;
    const walk = async (parts: string[]): Promise<IsoEntry | null> => {
      let cur = this.root;
      const stack: IsoEntry[] = [];
      for (let k = 0; k < parts.length; k++) {
        const part = parts[k]!;
        if (part === '' || part === '.') continue;
        if (part === '..') {
          cur = stack.pop() ?? this.root;
          continue;
        }
        if (!cur.isDir) return null;
        const next = this.find(await this.readDirExtent(cur), part);
        if (!next) return null;
        const last = k === parts.length - 1;
        if (next.isSymlink && (!last || followLast)) {
          if (++hops > MAX_SYMLINK_HOPS || next.target === undefined || next.target.startsWith('/'))
            return null;
          const base = stack
            .concat(cur)
            .map((e) => e.name)
            .filter(Boolean);
          return walk([...base, ...next.target.split('/'), ...parts.slice(k + 1)]);
        }
        stack.push(cur);
        cur = next;
      }
      return cur;
    };
    return walk(relPath.split('/'));
  }

  /** The entries of a directory, or null when the path is not a directory. */
  async readDir(relPath = ''): Promise<IsoEntry[] | null> {
    const dir = await this.stat(relPath);
    if (!dir?.isDir) return null;
    const entries = await this.readDirExtent(dir);
    const prefix = relPath
      .split('/')
      .filter((p) => p && p !== '.')
      .join('/');
    return entries.map((e) => ({ ...e, path: prefix ? `${prefix}/${e.name}` : e.name }));
  }

  /** Every entry under a directory, depth first, in directory order. */
  async *walk(relPath = '', depth = 0): AsyncGenerator<IsoEntry> {
    if (depth > 64) return;
    const entries = (await this.readDir(relPath)) ?? [];
    for (const e of entries) {
      yield e;
      if (e.isDir && !e.isSymlink) yield* this.walk(e.path, depth + 1);
    }
  }

  /** The file's content in chunks, read extent by extent. */
  async *chunks(entry: IsoEntry, chunkBytes = 1024 * 1024): AsyncGenerator<Buffer> {
    for (const ext of entry.extents) {
      for (let off = 0; off < ext.size; off += chunkBytes) {
        yield await this.readAt(ext.lba * this.blockSize + off, Math.min(chunkBytes, ext.size - off));
      }
    }
  }

  /** A regular file's bytes, or null when there is no such file. */
  async readFile(relPath: string): Promise<Buffer | null> {
    const e = await this.stat(relPath);
    if (!e || e.isDir) return null;
    const parts: Buffer[] = [];
    for await (const c of this.chunks(e)) parts.push(c);
    return Buffer.concat(parts);
  }

  /**
   * Copies a file out of the image to `dest` (created 0600, replaced atomically), returning its
   * size and sha256 (and the digest of `alsoHash` when asked, for checksum verification).
   */
  async extract(
    relPath: string,
    dest: string,
    alsoHash?: string,
  ): Promise<{ size: number; sha256: string; digest?: string }> {
    const e = await this.stat(relPath);
    if (!e || e.isDir) {
      throw inputError('MEDIA_FILE_MISSING', `${this.file} has no file ${relPath}`, {
        hint: 'the ISO does not match its own metadata; check the image',
      });
    }
    const tmp = `${dest}.part`;
    const out = await fs.open(tmp, 'w', 0o600);
    const sha = createHash('sha256');
    const other = alsoHash && alsoHash !== 'sha256' ? createHash(alsoHash) : null;
    try {
      for await (const c of this.chunks(e)) {
        sha.update(c);
        other?.update(c);
        await out.write(c);
      }
    } catch (err) {
      await out.close();
      await fs.rm(tmp, { force: true });
      throw err;
    }
    await out.close();
    await fs.rename(tmp, dest);
    const sha256 = sha.digest('hex');
    return { size: e.size, sha256, ...(alsoHash ? { digest: other ? other.digest('hex') : sha256 } : {}) };
  }
}

/** True when the file starts like an ISO 9660 image (CD001 at sector 16). */
export async function looksLikeIso(file: string): Promise<boolean> {
  let fh: FileHandle | null = null;
  try {
    fh = await fs.open(file, 'r');
    const buf = Buffer.alloc(5);
    const { bytesRead } = await fh.read(buf, 0, 5, 16 * SECTOR + 1);
    return bytesRead === 5 && buf.toString('latin1') === 'CD001';
  } catch {
    return false;
  } finally {
    await fh?.close();
  }
}
