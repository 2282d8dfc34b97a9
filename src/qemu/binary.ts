/**
 * The emulator the install will run: found the way execve finds it (a path with a slash as given,
 * else the first match in PATH) and executable by this process. Checked before any device is
 * detached, in a dry run too, so both stop with the same QEMU_NOT_FOUND.
 */
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import path from 'node:path';
import { hostError } from '../errors.js';

async function executable(p: string): Promise<'ok' | 'missing' | 'not-a-file' | 'not-executable'> {
  const s = await stat(p).catch(() => null);
  if (!s) return 'missing';
  if (!s.isFile()) return 'not-a-file';
  return (await access(p, constants.X_OK).then(
    () => true,
    () => false,
  ))
    ? 'ok'
    : 'not-executable';
}

/** The absolute path of `binary`, or QEMU_NOT_FOUND saying why it cannot be run. */
export async function resolveQemuBinary(
  binary: string,
  cwd: string,
  envPath = process.env.PATH ?? '',
): Promise<string> {
  const fail = (why: string): never => {
    throw hostError('QEMU_NOT_FOUND', `cannot run ${binary}: ${why}`, {
      hint: 'install qemu-system-x86 (Debian) / qemu-kvm (Fedora) or pass the emulator path',
      data: { binary },
    });
  };
  if (binary.includes('/')) {
    const p = path.resolve(cwd, binary);
    const r = await executable(p);
    if (r === 'ok') return p;
    return fail(
      r === 'missing'
        ? 'no such file'
        : r === 'not-a-file'
          ? 'not a regular file'
          : 'not executable (permission denied)',
    );
  }
  let denied = false;
  for (const dir of envPath.split(':').filter(Boolean)) {
    const p = path.join(dir, binary);
    const r = await executable(p);
    if (r === 'ok') return p;
    if (r === 'not-executable') denied = true;
  }
  return fail(denied ? 'found in PATH but not executable (permission denied)' : 'not found in PATH');
}
