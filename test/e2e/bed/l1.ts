/**
 * runInL1: runs a command inside "L1", a qemu guest that is a host with a real (emulated) IOMMU
 * and emulated NICs, where a real Linux kernel binds devices to vfio-pci. L1 shares this machine's
 * root over 9p (read-only, under a tmpfs overlay) and chroots into it, so the host's own node,
 * qemu-system-x86_64 and lspci run there against L1's sysfs: the tool under test runs in L1
 * without an image being built of it.
 *
 * The command's stdout, stderr and exit status come back on dedicated virtio-serial ports
 * (files on this side); the kernel console (ttyS0) is kept separate as consoleLog.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Bed } from './build.js';
import { type QemuResult, baseTcgArgs, runQemu, tail } from './qemu.js';
import { privateTempDir, repoRoot, rmrf, shQuote } from './util.js';

export interface RunInL1Options {
  timeoutMs: number;
  /** an intel-iommu in L1 (default true); without it vfio-pci's probe fails with -22 */
  iommu?: boolean;
  /** the IOMMU's interrupt remapping (default true); without it opening a vfio container fails with EPERM */
  intremap?: boolean;
  /** how many e1000e NICs, each behind its own pcie-root-port (default 2) */
  nics?: number;
  /** L1 memory (default 1024 MiB; give more when L1 starts a nested guest) */
  memoryMiB?: number;
  /** L1 vCPUs (default 1) */
  cpus?: number;
  /** environment of the command (added to PATH, HOME=/root, TERM=dumb, LANG=C.UTF-8) */
  env?: Record<string, string>;
  /** working directory inside L1 (default: the repository root, which L1 sees at the same path) */
  cwd?: string;
  /** modules to modprobe in L1 before the command (default ['vfio-pci']); [] to let the command load them */
  preload?: readonly string[];
  /** a directory of this machine mounted writable at the same path inside L1 (results, logs) */
  outDir?: string;
  /** extra kernel arguments for L1 */
  append?: readonly string[];
  /** extra qemu arguments for L1 (devices …), appended last */
  extraArgs?: readonly string[];
  onConsole?: (chunk: string) => void;
  signal?: AbortSignal;
}

export interface RunInL1Result {
  stdout: string;
  stderr: string;
  exitCode: number;
  /** L1's kernel console (ttyS0) */
  consoleLog: string;
  durationMs: number;
  qemu: QemuResult;
}

/** The MAC of L1's NIC number i (0-based). */
export function l1NicMac(i: number): string {
  return `52:54:00:1b:00:${(0x10 + i).toString(16).padStart(2, '0')}`;
}

const PATH_IN_L1 = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The script L1 runs chrooted (pure): cd, then exec the argv through env -i with the given environment. */
export function l1RunScript(argv: readonly string[], cwd: string, env: Record<string, string>): string {
  const vars: Record<string, string> = {
    PATH: PATH_IN_L1,
    HOME: '/root',
    TERM: 'dumb',
    LANG: 'C.UTF-8',
    ...env,
  };
  const assignments = Object.entries(vars).map(([k, v]) => shQuote(`${k}=${v}`));
  return [
    '#!/bin/sh',
    `cd ${shQuote(cwd)} || exit 125`,
    `exec env -i ${assignments.join(' ')} ${argv.map(shQuote).join(' ')}`,
    '',
  ].join('\n');
}

/** L1's qemu arguments (pure). */
export function l1QemuArgs(
  bed: Bed,
  options: RunInL1Options,
  files: { runDir: string; stdout: string; stderr: string; status: string },
): string[] {
  const iommu = options.iommu !== false;
  const append = [
    'console=ttyS0,115200',
    ...bed.fastKernelArgs,
    'panic=-1',
    ...(iommu ? ['intel_iommu=on'] : []),
    `ig.run=${files.runDir}`,
    // the checkout the command runs in; kept visible when it lies under a directory L1 mounts tmpfs on
    `ig.keep=${options.cwd ?? repoRoot()}`,
    `ig.moddir=${bed.kernel.modulesDir}`,
    ...(options.outDir !== undefined ? ['ig.outtag=igout', `ig.outdir=${options.outDir}`] : []),
  ];
  const preload = options.preload ?? ['vfio-pci'];
  if (preload.length > 0) append.push(`ig.preload=${preload.join(',')}`);
  append.push(...(options.append ?? []));
  const esc = (s: string): string => s.replace(/,/g, ',,');
  const args = [...baseTcgArgs(options.memoryMiB ?? 1024), '-smp', String(options.cpus ?? 1), '-no-reboot'];
  // the IOMMU must come before the devices it translates for
  if (iommu) {
    args.push('-device', `intel-iommu,intremap=${options.intremap === false ? 'off' : 'on'},caching-mode=on`);
  }
  args.push('-kernel', bed.kernel.vmlinux, '-initrd', bed.l1.initramfs, '-append', append.join(' '));
  args.push('-virtfs', 'local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap');
  if (options.outDir !== undefined) {
    args.push(
      '-virtfs',
      `local,path=${esc(options.outDir)},mount_tag=igout,security_model=none,multidevs=remap`,
    );
  }
  args.push('-device', 'virtio-serial-pci,id=igser');
  for (const [name, file] of [
    ['stdout', files.stdout],
    ['stderr', files.stderr],
    ['status', files.status],
  ] as const) {
    args.push('-chardev', `file,id=ig${name},path=${esc(file)}`);
    args.push('-device', `virtserialport,bus=igser.0,chardev=ig${name},name=ig.${name}`);
  }
  const nics = options.nics ?? 2;
  for (let i = 0; i < nics; i += 1) {
    args.push('-device', `pcie-root-port,id=igrp${i},bus=pcie.0,chassis=${i + 1},slot=${i + 1}`);
    args.push('-netdev', `user,id=ignet${i},restrict=on`);
    args.push('-device', `e1000e,bus=igrp${i},netdev=ignet${i},mac=${l1NicMac(i)}`);
  }
  args.push(...(options.extraArgs ?? []));
  return args;
}

/**
 * Boots L1, runs argv inside it (chrooted into this machine's root) and returns its output and
 * exit status. Throws, with the console's tail, when L1 ends without an exit status (timeout,
 * panic, init failure). qemu is always stopped before this returns.
 */
export async function runInL1(
  bed: Bed,
  argv: readonly string[],
  options: RunInL1Options,
): Promise<RunInL1Result> {
  if (argv.length === 0) throw new Error('testbed: runInL1 needs a command');
  // the run directory must be visible in L1 through the host-root share: keep it in the cache
  const runsDir = path.join(bed.dir, 'runs');
  const runDir = await privateTempDir('run-', runsDir);
  try {
    const files = {
      runDir,
      stdout: path.join(runDir, 'stdout'),
      stderr: path.join(runDir, 'stderr'),
      status: path.join(runDir, 'status'),
    };
    await fs.writeFile(
      path.join(runDir, 'run.sh'),
      l1RunScript(argv, options.cwd ?? repoRoot(), options.env ?? {}),
      { mode: 0o600 },
    );
    const qemu = await runQemu({
      args: l1QemuArgs(bed, options, files),
      timeoutMs: options.timeoutMs,
      onConsole: options.onConsole,
      signal: options.signal,
    });
    const read = async (f: string): Promise<string> => fs.readFile(f, 'utf8').catch(() => '');
    const statusText = (await read(files.status)).trim();
    if (!/^\d+$/.test(statusText)) {
      const why = qemu.timedOut
        ? `timed out after ${options.timeoutMs} ms`
        : qemu.aborted
          ? 'aborted'
          : `qemu exited (code ${String(qemu.exitCode)}, shutdown ${String(qemu.shutdownReason)}) without an exit status`;
      throw new Error(
        `testbed: L1 run of \`${argv.join(' ')}\` ${why}\n--- qemu stderr ---\n${tail(qemu.stderr, 10)}\n--- L1 console (tail) ---\n${tail(qemu.console)}`,
      );
    }
    return {
      stdout: await read(files.stdout),
      stderr: await read(files.stderr),
      exitCode: Number(statusText),
      consoleLog: qemu.console,
      durationMs: qemu.durationMs,
      qemu,
    };
  } finally {
    await rmrf(runDir);
  }
}
