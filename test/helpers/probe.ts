/**
 * Recorded qemu answers to KVM launch probes (fixtures/qemu-probe), for hosts this machine is not: a
 * fixture host tree says "hardware KVM", and its executor answers the probe as that host's qemu would.
 * Every other program runs for real.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createHost, type ExecResult, type Executor } from '../../src/host/host.js';

const PROBE_DIR = path.resolve('fixtures/qemu-probe');

/** `success`, `msr-arch-capabilities`, `irqchip` or `kvm-init`: what qemu printed and how it ended. */
export function recordedProbe(name: string): ExecResult {
  if (name === 'success')
    return { exitCode: 0, stdout: readFileSync(path.join(PROBE_DIR, 'success.stdout'), 'utf8'), stderr: '' };
  const abort = name === 'msr-arch-capabilities';
  return {
    exitCode: abort ? 134 : 1,
    ...(abort ? { signal: 'SIGABRT' } : {}),
    stdout: '',
    stderr: readFileSync(path.join(PROBE_DIR, `${name}.stderr`), 'utf8'),
  };
}

/** True for the argv of a KVM launch probe (src/qemu/accel.ts probeArgv). */
export const isKvmProbe = (args: readonly string[]): boolean =>
  args.includes('-S') && args.includes('kvm') && args.includes('stdio');

/** The real executor, except that KVM launch probes get the given recorded answers in order (then `success`). */
export function probeExecutor(answers: string[] = []): Executor {
  const real = createHost().exec;
  const queue = [...answers];
  return (file, args, options) =>
    isKvmProbe(args) ? Promise.resolve(recordedProbe(queue.shift() ?? 'success')) : real(file, args, options);
}
