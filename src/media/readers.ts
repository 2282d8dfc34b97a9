/**
 * TreeReaders over a local directory and over the contents of an ISO image. Both refuse paths that
 * leave the tree (a symlink in a local tree may not point outside it), and a metadata read larger
 * than its limit is an error rather than a truncated file.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { inputError } from '../errors.js';
import type { IsoImage } from './iso9660.js';
import { safeRelPath } from './safe-path.js';
import type { TreeReader } from './types.js';

export function tooLarge(where: string, size: number, maxBytes: number): Error {
  return inputError(
    'MEDIA_METADATA_TOO_LARGE',
    `${where} is ${size} bytes, more than the ${maxBytes} allowed for tree metadata`,
    {
      hint: 'the location does not look like an install tree, or its metadata is damaged',
      data: { where, size, maxBytes },
    },
  );
}

function isInside(root: string, p: string): boolean {
  return p === root || p.startsWith(root.endsWith(path.sep) ? root : root + path.sep);
}

export class LocalTreeReader implements TreeReader {
  readonly describe: string;
  private realRoot: string | null = null;

  constructor(readonly root: string) {
    this.describe = root;
  }

  private async rootReal(): Promise<string> {
    this.realRoot ??= await fs.realpath(this.root);
    return this.realRoot;
  }

  /**
   * The real path of a regular file inside the tree, or null when it does not exist, is not a
   * regular file, or resolves (through symlinks) outside the tree.
   */
  async resolve(relPath: string): Promise<string | null> {
    const rel = safeRelPath(relPath);
    if (rel === null) return null;
    const root = await this.rootReal();
    let real: string;
    try {
      real = await fs.realpath(path.join(root, ...rel.split('/')));
    } catch {
      return null;
    }
    if (!isInside(root, real)) return null;
    try {
      return (await fs.stat(real)).isFile() ? real : null;
    } catch {
      return null;
    }
  }

  async read(relPath: string, maxBytes: number): Promise<Buffer | null> {
    const real = await this.resolve(relPath);
    if (real === null) return null;
    const { size } = await fs.stat(real);
    if (size > maxBytes) throw tooLarge(path.join(this.root, relPath), size, maxBytes);
    return fs.readFile(real);
  }

  async exists(relPath: string): Promise<boolean> {
    return (await this.resolve(relPath)) !== null;
  }
}

export class IsoTreeReader implements TreeReader {
  readonly describe: string;

  constructor(readonly image: IsoImage) {
    this.describe = image.file;
  }

  async read(relPath: string, maxBytes: number): Promise<Buffer | null> {
    const rel = safeRelPath(relPath);
    if (rel === null) return null;
    const e = await this.image.stat(rel);
    if (!e || e.isDir) return null;
    if (e.size > maxBytes) throw tooLarge(`${this.image.file}:/${rel}`, e.size, maxBytes);
    return this.image.readFile(rel);
  }

  async exists(relPath: string): Promise<boolean> {
    const rel = safeRelPath(relPath);
    if (rel === null) return false;
    const e = await this.image.stat(rel);
    return e !== null && !e.isDir;
  }
}
