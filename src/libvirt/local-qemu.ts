/**
 * The qemu process of a domain on THIS machine's libvirtd (a URI without a host): its pid from the
 * pid file libvirtd writes, checked against the process's own command line (`-name guest=NAME,`).
 * Stopping a failed install's transient domain by signalling its qemu directly ends it in tens of
 * milliseconds: `virsh destroy` costs a virsh start-up, a connection, and libvirtd's own kill loop
 * that polls every 200 ms, seconds in all on a loaded host. libvirtd sees its qemu go (the monitor
 * closes) and removes the transient domain itself, as it does when a guest powers off.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';

/** Where libvirtd keeps its qemu pid files: qemu:///system, then qemu:///session. */
function pidDirs(env: Readonly<Record<string, string | undefined>>): string[] {
  const dirs = ['/run/libvirt/qemu', '/var/run/libvirt/qemu'];
  if (env.XDG_RUNTIME_DIR) dirs.push(path.join(env.XDG_RUNTIME_DIR, 'libvirt', 'qemu', 'run'));
  return dirs;
}

/** The pid of the domain's qemu, or undefined when it cannot be told for sure. */
export async function localQemuPid(
  name: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<number | undefined> {
  // a domain name never has '/', but the path is built from it: refuse anything odd
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.+-]*$/.test(name)) return undefined;
  for (const dir of pidDirs(env)) {
    const text = await readFile(path.join(dir, `${name}.pid`), 'utf8').catch(() => undefined);
    const pid = Number(text?.trim());
    if (!Number.isSafeInteger(pid) || pid <= 1) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'latin1').catch(() => '');
    const args = cmdline.split('\0');
    const i = args.indexOf('-name');
    if (i >= 0 && args[i + 1]?.startsWith(`guest=${name},`)) return pid;
  }
  return undefined;
}

/** true once the process is gone or a zombie (its parent, libvirtd, has not reaped it yet) */
async function gone(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'latin1').catch(() => null);
  if (stat === null) return true;
  return /^\d+ \(.*\) Z /s.test(stat);
}

/**
 * Sends SIGTERM to the domain's qemu (qemu shuts down at once, flushing its disks) and waits, up to
 * `timeoutMs`, until it is gone. false: not found, not ours to signal, or still there.
 */
export async function terminateLocalQemu(
  name: string,
  timeoutMs = 2000,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<boolean> {
  const pid = await localQemuPid(name, env);
  if (pid === undefined) return false;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return false;
  }
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (await gone(pid)) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return false;
}
