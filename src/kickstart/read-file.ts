/**
 * Reading a user's answer file, include, template, injected file or manifest: regular files only. It is opened with
 * O_NONBLOCK (so a FIFO cannot hang the open) and checked with fstat on the open descriptor (so
 * the check and the read see the same file); a FIFO, a device such as /dev/zero, a directory or a
 * socket is refused, and so is a file larger than any answer file.
 */
import { constants, promises as fs } from 'node:fs';
import type { Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { inputError } from '../errors.js';

export const MAX_ANSWER_FILE_BYTES = 4 * 1024 * 1024;

function kindOf(st: Stats): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isDirectory()) return 'a directory';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** The codes a file that cannot be read is refused with (each in src/error-codes.ts as input). */
export type ReadFileCode =
  | 'KICKSTART_UNREADABLE'
  | 'KICKSTART_VARS_FILE'
  | 'KICKSTART_PASSWORD_FILE'
  | 'KICKSTART_TEMPLATE_UNREADABLE'
  | 'MANIFEST_NOT_FOUND'
  | 'INVENTORY_NOT_FOUND'
  | 'BAD_INITRD_INJECT';

export interface ReadRegularOptions {
  /** the code when the file cannot be opened (default KICKSTART_UNREADABLE) */
  code?: ReadFileCode;
  hint?: string;
  maxBytes?: number;
}

/** The file's text; `what` names it in errors ("kickstart", "%include", "template", "manifest"). */
export async function readRegularFile(
  file: string,
  what: string,
  options: ReadRegularOptions = {},
): Promise<string> {
  return (await readRegularBytes(file, what, options)).toString('utf8');
}

/** The file's bytes, under the same checks as readRegularFile. */
export async function readRegularBytes(
  file: string,
  what: string,
  options: ReadRegularOptions = {},
): Promise<Buffer> {
  const code = options.code ?? 'KICKSTART_UNREADABLE';
  let fh: FileHandle;
  try {
    fh = await fs.open(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (e) {
    throw inputError(code, `cannot read ${what} ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'})`, {
      hint: options.hint ?? 'check the path',
      cause: e,
    });
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) {
      throw inputError('NOT_A_REGULAR_FILE', `${what} ${file} is ${kindOf(st)}, not a regular file`, {
        hint: 'give a regular file (copy the data into one first)',
      });
    }
    const max = options.maxBytes ?? MAX_ANSWER_FILE_BYTES;
    if (st.size > max) {
      throw inputError(
        'FILE_TOO_LARGE',
        `${what} ${file} is ${st.size} bytes, more than the ${max} allowed`,
        {
          hint: options.hint ?? 'an answer file is text of a few kilobytes; check the path',
        },
      );
    }
    return await fh.readFile();
  } finally {
    await fh.close();
  }
}
