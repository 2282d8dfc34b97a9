import { chmod, copyFile, mkdir, rm, stat } from 'node:fs/promises';
import { firmwareOf } from './build-command.js';
import { hostError, inputError } from '../errors.js';
import type { Stage } from '../pipeline/stage.js';
import type { InstallState } from '../pipeline/state.js';
import { need } from '../pipeline/stage.js';

/**
 * Creates each disk that has a size and does not exist yet (qemu-img), checks that the others exist;
 * a disk this run created is removed again when the install fails.
 */
export const prepareDisk: Stage<InstallState> = {
  name: 'prepare-disk',
  changesHost: true,
  needs: ['request'],
  plan: () => ({ createdDisks: [] }),
  async run({ state, host, signal, record }) {
    if (state.libvirt) {
      // volumes in the libvirt host's pool, removed by connect-libvirt's cleanup after a failure
      const { connectionFor, createPoolDisks } = await import('../libvirt/install.js');
      await createPoolDisks(await connectionFor(state.libvirt), state, signal);
      return { createdDisks: [] };
    }
    const created: string[] = [];
    for (const d of need(state, 'request').disks) {
      const s = await stat(d.path).catch(() => null);
      if (s) {
        if (!s.isFile() && !s.isBlockDevice())
          throw inputError('BAD_DISK', `--disk path '${d.path}' is not a file or block device`, {
            hint: 'name a disk image',
          });
        continue;
      }
      if (d.sizeGiB === undefined)
        throw inputError('BAD_DISK', `--disk path '${d.path}' does not exist and no size was given`, {
          hint: `add size=, e.g. --disk path=${d.path},size=8`,
        });
      const r = await host.exec(
        'qemu-img',
        [
          'create',
          '-q',
          '-f',
          d.format,
          // --disk sparse=no: allocated up front, as virt-install does
          ...(d.sparse === false ? ['-o', 'preallocation=falloc'] : []),
          d.path,
          `${Math.ceil(d.sizeGiB * 1024)}M`,
        ],
        { signal },
      );
      if (r.notFound)
        throw hostError('QEMU_IMG_MISSING', 'qemu-img is not installed', {
          hint: 'apt-get install qemu-utils',
        });
      if (r.exitCode !== 0)
        throw hostError('DISK_CREATE_FAILED', `qemu-img could not create '${d.path}': ${r.stderr.trim()}`, {
          hint: 'check the directory and free space',
        });
      created.push(d.path);
      record({ createdDisks: [...created] });
    }
    // --boot uefi: this guest's own copy of the vars store (never the shared template), private
    const fw = firmwareOf(state);
    if (fw) {
      for (const [what, p] of [
        ['--boot loader', fw.code],
        ['the UEFI vars template', fw.template],
      ] as const) {
        if (!(await stat(p).catch(() => null))?.isFile())
          throw hostError('UEFI_FIRMWARE_MISSING', `${what} ${p} is not there`, {
            hint: 'apt-get install ovmf (or give --boot loader=PATH,nvram.template=PATH)',
          });
      }
      if (!(await stat(fw.vars).catch(() => null))) {
        await copyFile(fw.template, fw.vars);
        await chmod(fw.vars, 0o600);
        created.push(fw.vars);
      }
    }
    // --tpm: this guest's own TPM state directory (swtpm fills it at the install boot), private
    if (need(state, 'request').tpm) {
      const { tpmStateDir } = await import('../qemu/swtpm.js');
      const { safeFileName } = await import('../request/request.js');
      const dir = tpmStateDir(
        state.logDir ?? need(state, 'request').logDir,
        safeFileName(need(state, 'request').name),
      );
      if (!(await stat(dir).catch(() => null))) {
        await mkdir(dir, { mode: 0o700 });
        created.push(dir);
        record({ createdDisks: [...created] });
      }
    }
    return { createdDisks: created };
  },
  async cleanup({ state }, outcome) {
    if (outcome === 'success') return;
    // (a TPM state directory is one of them: recursive)
    for (const p of state.createdDisks ?? []) await rm(p, { force: true, recursive: true });
  },
};
