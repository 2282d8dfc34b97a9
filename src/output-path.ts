/**
 * Output files named on the command line (kickstart render --out, batch --junit): checked before
 * any work, so a typo in a path costs an error line, not a finished batch whose report is lost.
 */
import { constants } from 'node:fs';
import { access, mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { inputError } from './errors.js';

/** Creates the file's directory if needed and checks it can be written there; BAD_OUTPUT_PATH (exit 2) if not. */
export async function prepareOutputFile(option: string, file: string): Promise<void> {
  const fail = (why: string) =>
    inputError('BAD_OUTPUT_PATH', `${option} '${file}' cannot be written: ${why}`, {
      hint: `give ${option} a file in a directory you can write to`,
    });
  const existing = await stat(file).catch(() => null);
  if (existing?.isDirectory()) throw fail('it is a directory');
  try {
    await mkdir(path.dirname(file), { recursive: true });
    await access(existing ? file : path.dirname(file), constants.W_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // mkdir -p over a file on the way: EEXIST, which would read as if the output existed
    throw fail(
      code === 'EEXIST' || code === 'ENOTDIR'
        ? `${path.dirname(file)} is not a directory`
        : (code ?? String(e)),
    );
  }
}
