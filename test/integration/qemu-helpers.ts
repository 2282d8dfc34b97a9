/**
 * Helpers for the qemu integration tests: temp work dirs, the argv shapes the templates produce,
 * and a tiny busybox initramfs whose /init script plays a guest (prints lines, powers off,
 * reboots, hangs) on top of the Debian netboot kernel.
 */
import { execa } from 'execa';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const QEMU = 'qemu-system-x86_64';
export const DEBIAN_KERNEL = '/usr/lib/debian-installer/images/12/amd64/text/debian-installer/amd64/linux';
export const BUSYBOX = '/bin/busybox';

export async function makeWorkDir(prefix = 'ig-qemu-'): Promise<string> {
  // short paths: a unix socket path may not exceed 107 bytes
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  await fs.chmod(dir, 0o700);
  return dir;
}

export interface WorkPaths {
  qmpSocketPath: string;
  serialSocketPath: string;
  serialLogPath: string;
  qmpTranscriptPath: string;
}

export function workPaths(dir: string): WorkPaths {
  return {
    qmpSocketPath: path.join(dir, 'qmp.sock'),
    serialSocketPath: path.join(dir, 'serial.sock'),
    serialLogPath: path.join(dir, 'serial.log'),
    qmpTranscriptPath: path.join(dir, 'qmp.jsonl'),
  };
}

/** The console and monitor arguments, in the shape the argv templates produce. */
export function consoleArgs(p: WorkPaths): string[] {
  return [
    '-chardev',
    `socket,id=serial0,path=${p.serialSocketPath.replace(/,/g, ',,')}`,
    '-serial',
    'chardev:serial0',
    '-qmp',
    `unix:${p.qmpSocketPath.replace(/,/g, ',,')},server=on,wait=off`,
  ];
}

/** A machine with no disk: SeaBIOS prints its banner and "No bootable device." on the serial port. */
export function firmwareOnlyArgs(p: WorkPaths): string[] {
  return ['-nodefaults', '-machine', 'q35,graphics=off', '-display', 'none', '-m', '128', ...consoleArgs(p)];
}

export function kernelArgs(
  p: WorkPaths,
  opts: { initrd?: string; append: string; noReboot?: boolean; extra?: string[] },
): string[] {
  return [
    '-nodefaults',
    '-machine',
    'q35,graphics=off',
    '-display',
    'none',
    '-m',
    '256',
    ...(opts.noReboot === false ? [] : ['-no-reboot']),
    '-kernel',
    DEBIAN_KERNEL,
    ...(opts.initrd ? ['-initrd', opts.initrd] : []),
    '-append',
    opts.append,
    ...(opts.extra ?? []),
    ...consoleArgs(p),
  ];
}

/**
 * Writes a newc initramfs holding a static busybox and `/init` (a busybox sh script).
 * Returns its path. `script` runs with /proc and /sys mounted.
 */
export async function buildInitramfs(dir: string, script: string): Promise<string> {
  const root = path.join(dir, 'initramfs-root');
  await fs.mkdir(path.join(root, 'bin'), { recursive: true });
  await fs.mkdir(path.join(root, 'proc'), { recursive: true });
  await fs.mkdir(path.join(root, 'sys'), { recursive: true });
  await fs.mkdir(path.join(root, 'dev'), { recursive: true });
  await fs.copyFile(BUSYBOX, path.join(root, 'bin', 'busybox'));
  await fs.chmod(path.join(root, 'bin', 'busybox'), 0o755);
  await fs.symlink('busybox', path.join(root, 'bin', 'sh'));
  const init = [
    '#!/bin/busybox sh',
    '/bin/busybox mount -t proc proc /proc',
    '/bin/busybox mount -t sysfs sysfs /sys',
    script,
    '',
  ].join('\n');
  await fs.writeFile(path.join(root, 'init'), init, { mode: 0o755 });
  const list = ['.', 'bin', 'bin/busybox', 'bin/sh', 'proc', 'sys', 'dev', 'init'].join('\n');
  const out = path.join(dir, 'initramfs.cpio');
  await execa('cpio', ['--quiet', '-o', '-H', 'newc', '-R', '0:0', '-O', out], {
    cwd: root,
    input: `${list}\n`,
  });
  return out;
}

export async function removeDir(dir: string | undefined): Promise<void> {
  if (dir) await fs.rm(dir, { recursive: true, force: true });
}
