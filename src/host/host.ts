/**
 * The host boundary. Every path the kernel owns (/sys, /proc, /dev, /run) is read and written
 * through a Host rooted at a configurable directory: `/` in production, a fixture tree or a captured
 * snapshot in tests and bug reports (`--host-root`, INSTALL_GUEST_HOST_ROOT). Nothing outside
 * src/host imports node:fs or node:child_process for host state.
 *
 * All kernel-file writes go through `Host.write`, which calls one `SysfsWriter`. Tests replace the
 * writer with a kernel model that moves `driver` links as the kernel does (test/helpers/kernel-model).
 * Volatile values (time, ids, MACs) come from the injected Clock and IdSource so generated
 * artifacts are deterministic under test.
 */
import type * as NodeCrypto from 'node:crypto';
import { createRequire } from 'node:module';
import {
  closeSync,
  constants as fsConstants,
  promises as fs,
  lstatSync,
  openSync,
  readSync,
  readdirSync,
  readlinkSync,
} from 'node:fs';
import path from 'node:path';
import { InstallGuestError } from '../errors.js';

export interface Clock {
  /** wall-clock milliseconds since the epoch */
  now(): number;
  /** monotonic milliseconds, for durations */
  monotonic(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export interface IdSource {
  uuid(): string;
  /** a locally administered unicast MAC (52:54:00:xx:xx:xx, qemu's prefix) */
  mac(): string;
  /** `bytes` random bytes as lowercase hex, for unguessable paths and tokens */
  token(bytes: number): string;
}

export interface ExecOptions {
  timeoutMs?: number;
  input?: string;
  env?: Record<string, string>;
  signal?: AbortSignal;
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** true when the program could not be started at all (ENOENT, EACCES) */
  notFound?: boolean;
  /** the signal that ended the program (SIGABRT, SIGKILL), when one did */
  signal?: string;
  /** true when the program was stopped because `timeoutMs` passed */
  timedOut?: boolean;
}

/** Performs one write to a kernel-owned file (absolute path under the root, the host path, the value). */
export type SysfsWriter = (absPath: string, hostPath: string, value: string) => Promise<void>;

/**
 * Synchronous reads of kernel pseudo-files, for bulk scans (the PCI inventory reads a dozen
 * attributes per function, thousands on a large host). sysfs and procfs answer from kernel memory
 * and never wait on a disk, so blocking the event loop for one attribute costs less than a trip
 * through libuv's thread pool: an asynchronous open + read + close is three round trips (~30–60 µs
 * each on a busy machine) around system calls of a few µs. Measured on 4,096 generated functions:
 * CPU time of `hostdev list --json` 3.4 s → 1.8 s (see test/bench/inventory.ts).
 *
 * Use them only for kernel-owned files under the root (or fixture trees standing for them), never
 * for media, caches or anything on a network file system. Semantics match the asynchronous methods:
 * paths are host paths, failures read as null / [] / false, never throw.
 */
export interface SyncReads {
  /**
   * Up to maxBytes from the start of the file, or null when it cannot be read. Requests of at most
   * one page (sysfs attributes, config space) take a single read(2), as the kernel answers an
   * attribute in one; larger ones (procfs tables) read until end of file.
   */
  readBytes(hostPath: string, maxBytes: number): Buffer | null;
  /** the link target as stored, or null when not a link */
  readLink(hostPath: string): string | null;
  /** directory entries, sorted; [] when it does not exist */
  list(hostPath: string): string[];
  /** whether the path exists (as a file, directory or link), without following a final link */
  exists(hostPath: string): boolean;
}

/** Runs one program with an argv array (never a shell). */
export type Executor = (file: string, args: readonly string[], options?: ExecOptions) => Promise<ExecResult>;

export interface Host {
  /** the directory that stands for `/` */
  readonly root: string;
  readonly clock: Clock;
  readonly ids: IdSource;
  /** true when root is the real `/`: only then may kernel modules be loaded or real devices touched */
  readonly isRealRoot: boolean;
  /** maps a host path (`/sys/bus/pci/devices`) to the file-system path under the root */
  resolve(hostPath: string): string;
  readText(hostPath: string): Promise<string>;
  /** the trimmed text of a file, or null when it does not exist or cannot be read */
  readTrimmed(hostPath: string): Promise<string | null>;
  readBytes(hostPath: string, maxBytes?: number): Promise<Buffer | null>;
  /** the link target as stored (relative or absolute), or null when not a link */
  readLink(hostPath: string): Promise<string | null>;
  /** the last path component of a link's target (`…/drivers/e1000e` → `e1000e`), or null */
  linkName(hostPath: string): Promise<string | null>;
  /** entry names of a directory, sorted; [] when it does not exist */
  list(hostPath: string): Promise<string[]>;
  exists(hostPath: string): Promise<boolean>;
  /** true when the current process may open the file for reading and writing (e.g. /dev/kvm) */
  canReadWrite(hostPath: string): Promise<boolean>;
  /** a write to a kernel-owned file, through the one SysfsWriter */
  write(hostPath: string, value: string): Promise<void>;
  exec: Executor;
  /**
   * Facts about processes (lease and journal owners), always from the real /proc of the machine
   * this process runs on, never from under the root: a fixture tree or a snapshot has no live
   * processes, and a run under --host-root is still a process of this machine.
   */
  readonly processes: ProcessFacts;
  /**
   * Synchronous reads for bulk scans of kernel pseudo-files (see SyncReads). Optional: a host
   * without it (`createHost({ syncReads: false })`, or a host over something slower than kernel
   * memory) is read through the asynchronous methods above, with the same results.
   */
  readonly sync?: SyncReads;
}

export interface ProcessFacts {
  /** the text of /proc/<pid>/stat, or null when there is no such process */
  stat(pid: number): Promise<string | null>;
  /** /proc/sys/kernel/random/boot_id, trimmed, or null */
  bootId(): Promise<string | null>;
}

const readTrimmedFile = async (file: string): Promise<string | null> => {
  try {
    return (await fs.readFile(file, 'utf8')).trim();
  } catch {
    return null;
  }
};

/** The real process table (see Host.processes). A PID that is not a positive integer reads as absent. */
export const realProcesses: ProcessFacts = {
  stat: (pid) =>
    Number.isSafeInteger(pid) && pid > 0 ? readTrimmedFile(`/proc/${pid}/stat`) : Promise.resolve(null),
  bootId: () => readTrimmedFile('/proc/sys/kernel/random/boot_id'),
};

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason as Error);
        return;
      }
      const t = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = (): void => {
        clearTimeout(t);
        reject(signal?.reason as Error);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
};

// node:crypto is loaded on first use: most commands (hostdev list, doctor, --help) never make an id,
// and loading it costs 6-10 ms of start-up
let cryptoModule: typeof NodeCrypto | undefined;
const nodeCrypto = (): typeof NodeCrypto =>
  (cryptoModule ??= createRequire(import.meta.url)('node:crypto') as typeof NodeCrypto);

export const randomIds: IdSource = {
  uuid: () => nodeCrypto().randomUUID(),
  mac: () => {
    const b = nodeCrypto().randomBytes(3);
    return ['52', '54', '00', ...[...b].map((x) => x.toString(16).padStart(2, '0'))].join(':');
  },
  token: (n) => nodeCrypto().randomBytes(n).toString('hex'),
};

/** Deterministic ids for golden files and tests: a counter-based sequence. */
export function sequentialIds(seed = 1): IdSource {
  let n = seed;
  const next = (): number => n++;
  return {
    uuid: () => `00000000-0000-4000-8000-${next().toString(16).padStart(12, '0')}`,
    mac: () => `52:54:00:00:00:${(next() % 256).toString(16).padStart(2, '0')}`,
    token: (bytes) =>
      next()
        .toString(16)
        .padStart(bytes * 2, '0'),
  };
}

/** A clock frozen at `start` that advances only when slept on or told to. */
export function fixedClock(start = Date.UTC(2026, 0, 1)): Clock & { advance(ms: number): void } {
  let t = start;
  let m = 0;
  return {
    now: () => t,
    monotonic: () => m,
    advance(ms) {
      t += ms;
      m += ms;
    },
    sleep: async (ms, signal) => {
      if (signal?.aborted) throw signal.reason as Error;
      t += ms;
      m += ms;
      await Promise.resolve();
    },
  };
}

/** The plain file write that the kernel's sysfs files accept: open, write the whole value, close. */
export const fileWriter: SysfsWriter = async (absPath, _hostPath, value) => {
  const fh = await fs.open(absPath, 'w');
  try {
    await fh.write(value);
  } finally {
    await fh.close();
  }
};

export interface HostOptions {
  root?: string;
  clock?: Clock;
  ids?: IdSource;
  writer?: SysfsWriter;
  exec?: Executor;
  /** offer `host.sync` (default true); false reads everything through the thread pool */
  syncReads?: boolean;
}

const PAGE = 4096;

/** SyncReads over the file-system paths that `resolve` maps host paths to. */
function syncReadsAt(resolve: (hostPath: string) => string): SyncReads {
  return {
    readBytes(p, maxBytes) {
      let fd: number;
      try {
        fd = openSync(resolve(p), 'r');
      } catch {
        return null;
      }
      try {
        const buf = Buffer.allocUnsafe(maxBytes);
        let off = 0;
        while (off < maxBytes) {
          const n = readSync(fd, buf, off, maxBytes - off, off);
          off += n;
          if (n === 0 || maxBytes <= PAGE) break;
        }
        return buf.subarray(0, off);
      } catch {
        return null;
      } finally {
        closeSync(fd);
      }
    },
    readLink(p) {
      try {
        return readlinkSync(resolve(p));
      } catch {
        return null;
      }
    },
    list(p) {
      try {
        return readdirSync(resolve(p)).sort();
      } catch {
        return [];
      }
    },
    exists(p) {
      try {
        return lstatSync(resolve(p), { throwIfNoEntry: false }) !== undefined;
      } catch {
        return false;
      }
    },
  };
}

async function defaultExec(
  file: string,
  args: readonly string[],
  options: ExecOptions = {},
): Promise<ExecResult> {
  const { execa } = await import('execa');
  const r = await execa(file, args, {
    reject: false,
    timeout: options.timeoutMs,
    input: options.input,
    env: options.env,
    cancelSignal: options.signal,
    stripFinalNewline: false,
  });
  const code = (r as { code?: string }).code;
  return {
    exitCode: r.exitCode ?? (r.failed ? 127 : 0),
    stdout: String(r.stdout ?? ''),
    stderr: String(r.stderr ?? ''),
    ...(code === 'ENOENT' || code === 'EACCES' ? { notFound: true } : {}),
    ...(r.signal ? { signal: r.signal } : {}),
    ...(r.timedOut ? { timedOut: true } : {}),
  };
}

/**
 * The one containment check of the boundary: a host path is absolute, holds no NUL byte and no `..`
 * segment. Paths are built from components (PCI addresses, driver names, group numbers) that may come
 * from the state directory or a fixture tree; a `..` in one is never meant, and joined under the root
 * it would leave it (`/sys/bus/pci/drivers/../../../../etc` under `/` or under a fixture root alike).
 * Throws HOST_PATH_OUTSIDE_ROOT; callers validate their components first, so this is the last line.
 */
export function checkHostPath(hostPath: string): void {
  const bad = (why: string): Error =>
    new InstallGuestError(
      'host',
      'HOST_PATH_OUTSIDE_ROOT',
      `refused host path ${JSON.stringify(hostPath)}: ${why}`,
      {
        hint: 'a value read from the state directory or the host tree is corrupt or hostile; inspect it (install-guest recover --dry-run names the journal)',
      },
    );
  if (!hostPath.startsWith('/')) throw bad('not absolute');
  if (hostPath.includes('\0')) throw bad('it holds a NUL byte');
  if (hostPath.includes('/..') && hostPath.split('/').includes('..'))
    throw bad('a ".." segment leaves the host root');
}

/**
 * Under a root other than `/`, a write must also land inside it after links are followed: a tree
 * (a snapshot, a fixture) may hold a link that points out of it. The directory of the file is
 * resolved; a directory that does not exist is left to the write, which fails on it.
 */
async function checkInsideRoot(root: string, abs: string, hostPath: string): Promise<void> {
  let realRoot: string;
  let realDir: string;
  try {
    realRoot = await fs.realpath(root);
    realDir = await fs.realpath(path.dirname(abs));
  } catch {
    return;
  }
  if (realDir !== realRoot && !realDir.startsWith(`${realRoot}/`)) {
    throw new InstallGuestError(
      'host',
      'HOST_PATH_OUTSIDE_ROOT',
      `refused write to ${JSON.stringify(hostPath)}: under the host root ${root} it leads to ${realDir}, outside it`,
      {
        hint: 'a link in the host tree points out of it; a tree given as --host-root must be self-contained',
      },
    );
  }
}

export function createHost(options: HostOptions = {}): Host {
  const root = path.resolve(options.root ?? '/');
  const writer = options.writer ?? fileWriter;
  const resolve = (hostPath: string): string => {
    checkHostPath(hostPath);
    // already normal (no `.` segment, no `//`): concatenation is what join would give, and the
    // inventory resolves tens of thousands of such paths
    if (!hostPath.includes('/.') && !hostPath.includes('//'))
      return root === '/' ? hostPath : root + hostPath;
    return root === '/' ? path.normalize(hostPath) : path.join(root, hostPath);
  };
  const host: Host = {
    root,
    isRealRoot: root === '/',
    clock: options.clock ?? systemClock,
    ids: options.ids ?? randomIds,
    resolve,
    readText: async (p) => fs.readFile(resolve(p), 'utf8'),
    async readTrimmed(p) {
      try {
        return (await fs.readFile(resolve(p), 'utf8')).trim();
      } catch {
        return null;
      }
    },
    async readBytes(p, maxBytes) {
      try {
        if (maxBytes === undefined) return await fs.readFile(resolve(p));
        const fh = await fs.open(resolve(p), 'r');
        try {
          const buf = Buffer.alloc(maxBytes);
          const { bytesRead } = await fh.read(buf, 0, maxBytes, 0);
          return buf.subarray(0, bytesRead);
        } finally {
          await fh.close();
        }
      } catch {
        return null;
      }
    },
    async readLink(p) {
      try {
        return await fs.readlink(resolve(p));
      } catch {
        return null;
      }
    },
    async linkName(p) {
      const target = await host.readLink(p);
      return target === null ? null : path.basename(target);
    },
    async list(p) {
      try {
        return (await fs.readdir(resolve(p))).sort();
      } catch {
        return [];
      }
    },
    async exists(p) {
      try {
        await fs.lstat(resolve(p));
        return true;
      } catch {
        return false;
      }
    },
    async canReadWrite(p) {
      try {
        await fs.access(resolve(p), fsConstants.R_OK | fsConstants.W_OK);
        return true;
      } catch {
        return false;
      }
    },
    async write(p, value) {
      const abs = resolve(p);
      if (root !== '/') await checkInsideRoot(root, abs, p);
      await writer(abs, p, value);
    },
    exec: options.exec ?? defaultExec,
    processes: realProcesses,
    ...(options.syncReads === false ? {} : { sync: syncReadsAt(resolve) }),
  };
  return host;
}
