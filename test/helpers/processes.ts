/**
 * The processes an end-to-end test starts through the CLI (qemu): the CLI run in-process with the
 * qemu pids it reports picked up as they are printed, whether a pid still runs, and the guard that
 * kills what a failed test left behind.
 */
import { main } from '../../src/cli/main.js';

/** True while a process with this pid exists (signal 0 only checks). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGKILLs every pid still running: an after() hook's guard, so a failed assertion leaves no qemu. */
export function killLeft(pids: Iterable<number>): void {
  for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
}

/** The qemu pids a run's progress output or install-guest.log names (`install boot: qemu pid 1234, …`). */
export function qemuPids(text: string): number[] {
  return [...text.matchAll(/boot: qemu pid (\d+)/g)].map((m) => Number(m[1]));
}

export interface WatchedRun {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
  /** the qemu pids the run printed, in order */
  pids: number[];
}

/**
 * Runs the CLI in-process in `cwd` with an empty environment and captures what it prints; `onPid` is
 * called as each qemu starts (from the progress output), e.g. to kill it mid-install.
 */
export async function runCliWatched(
  argv: string[],
  cwd: string,
  onPid?: (pid: number) => void,
): Promise<WatchedRun> {
  let stdout = '';
  let stderr = '';
  const pids: number[] = [];
  const scan = (s: string): void => {
    for (const pid of qemuPids(s)) {
      pids.push(pid);
      onPid?.(pid);
    }
  };
  const t0 = performance.now();
  const code = await main({
    argv,
    env: {},
    stdout: {
      write: (s: string) => {
        stdout += s;
        scan(s);
      },
    },
    stderr: {
      write: (s: string) => {
        stderr += s;
        scan(s);
      },
    },
    cwd,
  });
  return { code, stdout, stderr, ms: Math.round(performance.now() - t0), pids };
}
