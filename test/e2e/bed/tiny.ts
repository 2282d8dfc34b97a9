/**
 * Single-level qemu boots of the tiny installer and of the system it installs.
 *
 * media:
 *  - 'direct'  the bed's ELF vmlinux (PVH, fastest) + the tree's initrd.img
 *  - 'tree'    the tree's images/pxeboot/vmlinuz + initrd.img (what a tool given the tree boots)
 *  - 'netboot' debian-installer/amd64/linux + initrd.gz
 *  - 'iso'     the bootable ISO through SeaBIOS + isolinux (no kernel arguments can be added:
 *              the kickstart goes on an OEMDRV volume, which the installer finds by itself)
 *  - 'disk'    the installed disk itself (SeaBIOS → extlinux → kernel + initramfs from the disk)
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Bed } from './build.js';
import { type QemuResult, baseTcgArgs, runQemu } from './qemu.js';
import { cpioNewc, privateTempDir, rmrf, run } from './util.js';

export type TinyMedia = 'direct' | 'tree' | 'netboot' | 'iso' | 'disk';
export type TinyFailMode = 'traceback' | 'panic' | 'diskfull' | 'hang';

export interface TinyNic {
  model: 'e1000e' | 'virtio-net-pci';
  mac?: string;
}

export interface BootTinyOptions {
  media: TinyMedia;
  /** the target disk image (qcow2), attached as the first virtio disk */
  disk: string;
  /** kickstart text: appended to the initrd as /ks.cfg (kernel media) or on an OEMDRV ISO ('iso', or kickstartVia 'oemdrv') */
  kickstart?: string;
  kickstartVia?: 'initrd' | 'oemdrv';
  /** `inst.ks=` value to pass instead (e.g. an http:// URL served on 127.0.0.1 → 10.0.2.2 in the guest) */
  ksUrl?: string;
  failMode?: TinyFailMode;
  /** extra kernel arguments (kernel media only) */
  append?: readonly string[];
  /** default: one e1000e on user networking (restrict=on unless ksUrl is given) */
  nics?: readonly TinyNic[];
  memoryMiB?: number;
  timeoutMs: number;
  stopWhen?: RegExp;
  /** stop when the console has been silent this long (result.stalled) */
  stallMs?: number;
  /** default true: a guest reboot ends qemu (SHUTDOWN guest-reset) */
  noReboot?: boolean;
  onConsole?: (chunk: string) => void;
  signal?: AbortSignal;
  /** more qemu arguments (devices …), appended last */
  extraArgs?: readonly string[];
}

/** Writes a newc cpio holding `files` (path inside the archive → content) with the cpio tool. */
export async function makeNewcCpio(files: Record<string, string | Buffer>, outFile: string): Promise<void> {
  const dir = await privateTempDir('ig-bed-cpio-');
  try {
    for (const [name, content] of Object.entries(files)) {
      const dest = path.join(dir, name.replace(/^\/+/, ''));
      await fs.mkdir(path.dirname(dest), { recursive: true });
      await fs.writeFile(dest, content, { mode: 0o600 });
    }
    await cpioNewc(dir, outFile);
  } finally {
    await rmrf(dir);
  }
}

/** Writes an ISO 9660 volume labelled OEMDRV holding /ks.cfg (anaconda's automatic kickstart lookup). */
export async function makeOemdrvIso(kickstart: string, outFile: string): Promise<void> {
  const dir = await privateTempDir('ig-bed-oemdrv-');
  try {
    await fs.writeFile(path.join(dir, 'ks.cfg'), kickstart, { mode: 0o600 });
    await run('xorriso', ['-as', 'mkisofs', '-quiet', '-o', outFile, '-V', 'OEMDRV', '-J', '-R', dir]);
  } finally {
    await rmrf(dir);
  }
}

/**
 * An initrd followed by another (newc) archive: the kernel unpacks each in turn. The first is
 * padded with zeros to a 4-byte boundary, where the kernel looks for the next cpio header.
 */
export async function appendCpio(initrd: string, cpio: string): Promise<Buffer> {
  const first = await fs.readFile(initrd);
  const pad = Buffer.alloc((4 - (first.length % 4)) % 4);
  return Buffer.concat([first, pad, await fs.readFile(cpio)]);
}

/** qemu arguments for a tiny boot (pure; `tmp` is where per-run files go). */
export function tinyQemuArgs(
  bed: Bed,
  options: BootTinyOptions,
  files: { initrd?: string; oemdrv?: string },
): string[] {
  const args = baseTcgArgs(options.memoryMiB ?? 512);
  if (options.noReboot !== false) args.push('-no-reboot');
  const restrict = options.ksUrl === undefined ? 'on' : 'off';
  const nics = options.nics ?? [{ model: 'e1000e' }];
  nics.forEach((nic, i) => {
    args.push('-netdev', `user,id=net${i},restrict=${restrict}`);
    args.push('-device', `${nic.model},netdev=net${i}${nic.mac ? `,mac=${nic.mac}` : ''}`);
  });
  args.push('-drive', `file=${options.disk.replace(/,/g, ',,')},if=none,id=disk0,format=qcow2,cache=unsafe`);
  args.push('-device', 'virtio-blk-pci,drive=disk0,bootindex=1');

  const kernelArgs = (): string => {
    const a = ['console=ttyS0,115200', ...bed.fastKernelArgs];
    if (options.ksUrl !== undefined) a.push(`inst.ks=${options.ksUrl}`);
    else if (options.kickstart !== undefined && options.kickstartVia !== 'oemdrv')
      a.push('inst.ks=file:/ks.cfg');
    if (options.failMode !== undefined) a.push(`ig.fail=${options.failMode}`);
    a.push(...(options.append ?? []));
    return a.join(' ');
  };
  switch (options.media) {
    case 'direct':
      args.push('-kernel', bed.kernel.vmlinux, '-initrd', files.initrd ?? bed.media.treeInitrd);
      args.push('-append', kernelArgs());
      break;
    case 'tree':
      args.push('-kernel', bed.media.treeKernel, '-initrd', files.initrd ?? bed.media.treeInitrd);
      args.push('-append', kernelArgs());
      break;
    case 'netboot':
      args.push('-kernel', bed.media.netbootKernel, '-initrd', files.initrd ?? bed.media.netbootInitrd);
      args.push('-append', kernelArgs());
      break;
    case 'iso':
      args.push('-drive', `file=${bed.media.iso.replace(/,/g, ',,')},if=none,id=cd0,media=cdrom,readonly=on`);
      args.push('-device', 'ide-cd,drive=cd0,bus=ide.0,bootindex=0');
      break;
    case 'disk':
      break;
  }
  if (files.oemdrv !== undefined) {
    args.push('-drive', `file=${files.oemdrv.replace(/,/g, ',,')},if=none,id=cd1,media=cdrom,readonly=on`);
    args.push('-device', 'ide-cd,drive=cd1,bus=ide.1');
  }
  args.push(...(options.extraArgs ?? []));
  return args;
}

/**
 * Boots the tiny installer (or the installed disk) under single-level TCG and returns when qemu
 * has exited, stopWhen matched, or the timeout passed (result.timedOut; no throw: a hang is a
 * legitimate outcome for the failure modes).
 */
export async function bootTiny(bed: Bed, options: BootTinyOptions): Promise<QemuResult> {
  if (options.media === 'iso' && (options.failMode !== undefined || (options.append?.length ?? 0) > 0)) {
    throw new Error(
      'testbed: the ISO boots through isolinux: kernel arguments (failMode, append) cannot be added; put `#ig.fail=X` in the kickstart',
    );
  }
  const tmp = await privateTempDir('ig-bed-tiny-');
  try {
    const files: { initrd?: string; oemdrv?: string } = {};
    const via = options.kickstartVia ?? (options.media === 'iso' ? 'oemdrv' : 'initrd');
    if (options.kickstart !== undefined && options.media !== 'disk') {
      if (via === 'oemdrv') {
        files.oemdrv = path.join(tmp, 'oemdrv.iso');
        await makeOemdrvIso(options.kickstart, files.oemdrv);
      } else {
        if (options.media === 'iso')
          throw new Error("testbed: media 'iso' takes the kickstart on OEMDRV only");
        const base = options.media === 'netboot' ? bed.media.netbootInitrd : bed.media.treeInitrd;
        const ks = path.join(tmp, 'ks.cpio');
        await makeNewcCpio({ 'ks.cfg': options.kickstart }, ks);
        files.initrd = path.join(tmp, 'initrd-with-ks.img');
        await fs.writeFile(files.initrd, await appendCpio(base, ks));
      }
    }
    return await runQemu({
      args: tinyQemuArgs(bed, options, files),
      timeoutMs: options.timeoutMs,
      stopWhen: options.stopWhen,
      stallMs: options.stallMs,
      onConsole: options.onConsole,
      signal: options.signal,
    });
  } finally {
    await rmrf(tmp);
  }
}
