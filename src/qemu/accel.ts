/**
 * Which accelerator can run a guest here, decided from facts, cheapest first:
 *
 * 1. Host facts (no process started): is /dev/kvm there and usable, does the CPU show hardware
 *    virtualization (`vmx`/`svm` in /proc/cpuinfo, or `kvm_intel`/`kvm_amd` loaded), and is the
 *    KVM device provided by a known software monitor (`kvm_pvm`, a pagetable-based monitor that
 *    offers /dev/kvm on CPUs without VT-x/AMD-V and on which a stock guest kernel hangs).
 *    `assessKvm` is the one reading of these facts; `doctor` reports the same verdict.
 * 2. A launch probe with the real argv's shape (machine and its options, `-accel kvm`, the `-cpu`,
 *    the vIOMMU device, `-S`, tiny memory, QMP `quit` on stdin): qemu creates the vCPUs at machine
 *    init, so an abort there (MSR 0x10a, IA32_ARCH_CAPABILITIES advertised and then refused) or a
 *    configuration error (intremap with kernel-irqchip=on) shows in a fraction of a second.
 *
 * `chooseAccel` combines both; probe results are cached per (qemu binary identity, kernel release,
 * cpu model) so a batch pays the probe once. The decisions (`assessKvm`, `classifyProbe`,
 * `probeArgv`) are pure and tested over recorded facts and recorded qemu output.
 */
import { hostError } from '../errors.js';
import type { ExecResult, Host } from '../host/host.js';

/** Kernel modules that provide /dev/kvm without hardware virtualization, and what they are. */
export const SOFTWARE_MONITORS: Readonly<Record<string, string>> = {
  kvm_pvm: 'a software, pagetable-based virtual machine monitor',
};

export interface AccelFacts {
  /** /dev/kvm: absent, present but not openable read-write by this user, or usable */
  kvmDevice: 'missing' | 'no-access' | 'usable';
  /** `vmx`, `svm` or null, from /proc/cpuinfo's flags */
  cpuFlag: 'vmx' | 'svm' | null;
  /** loaded hardware KVM modules (kvm_intel, kvm_amd) */
  hardwareModules: string[];
  /** loaded known software monitors (kvm_pvm) */
  softwareMonitors: string[];
  vendor: string | null;
  /** /proc/cpuinfo's model name */
  cpuModel: string | null;
  /** /proc/sys/kernel/osrelease */
  kernelRelease: string | null;
}

export interface KvmAssessment {
  /** KVM can be tried: the device is usable and the CPU has hardware virtualization */
  hardware: boolean;
  /** the fact that decided, in words, for warnings, doctor and --json */
  fact: string;
}

export function parseCpuinfo(text: string): { vendor: string | null; flags: string[]; model: string | null } {
  const vendor = /^vendor_id\s*:\s*(\S+)/m.exec(text)?.[1] ?? null;
  const flags = /^flags\s*:\s*(.*)$/m.exec(text)?.[1]?.trim().split(/\s+/) ?? [];
  const model = /^model name\s*:\s*(.*)$/m.exec(text)?.[1]?.trim() ?? null;
  return { vendor, flags, model };
}

/** The facts, from files under the host's root (/proc, /sys/module, /dev/kvm). */
export async function gatherAccelFacts(host: Host): Promise<AccelFacts> {
  const [cpuinfo, modules, release, exists, usable] = await Promise.all([
    host.readText('/proc/cpuinfo').catch(() => ''),
    host.list('/sys/module'),
    host.readTrimmed('/proc/sys/kernel/osrelease').catch(() => null),
    host.exists('/dev/kvm'),
    host.canReadWrite('/dev/kvm'),
  ]);
  const cpu = parseCpuinfo(cpuinfo);
  const flag = cpu.flags.includes('vmx') ? 'vmx' : cpu.flags.includes('svm') ? 'svm' : null;
  return {
    kvmDevice: !exists ? 'missing' : usable ? 'usable' : 'no-access',
    cpuFlag: flag,
    hardwareModules: ['kvm_intel', 'kvm_amd'].filter((m) => modules.includes(m)),
    softwareMonitors: Object.keys(SOFTWARE_MONITORS).filter((m) => modules.includes(m)),
    vendor: cpu.vendor,
    cpuModel: cpu.model,
    kernelRelease: release,
  };
}

/** Can KVM be tried at all, and which fact says so. Pure. */
export function assessKvm(f: AccelFacts): KvmAssessment {
  if (f.kvmDevice === 'missing') return { hardware: false, fact: '/dev/kvm does not exist' };
  if (f.kvmDevice === 'no-access')
    return { hardware: false, fact: '/dev/kvm exists but this user cannot open it read-write' };
  const hw = [
    ...(f.cpuFlag ? [`${f.cpuFlag} in /proc/cpuinfo`] : []),
    ...f.hardwareModules.map((m) => `${m} loaded`),
  ];
  if (hw.length > 0) return { hardware: true, fact: `hardware virtualization (${hw.join(', ')})` };
  const sw = f.softwareMonitors[0];
  if (sw)
    return {
      hardware: false,
      fact: `/dev/kvm is provided by ${sw}, ${SOFTWARE_MONITORS[sw]}, and the CPU shows no vmx or svm`,
    };
  return {
    hardware: false,
    fact: '/dev/kvm is usable but the CPU shows no hardware virtualization (no vmx or svm, no kvm_intel or kvm_amd)',
  };
}

// ---------------------------------------------------------------------------------------------
// The launch probe

export interface ProbeShape {
  binary: string;
  /** the machine option as the real argv has it, e.g. `q35,kernel-irqchip=split` */
  machine: string;
  cpu: string;
  smp: string;
  /** -device values that shape the machine (the vIOMMU) */
  devices: string[];
}

/** argv (without the binary) of a probe: the real machine, accel, cpu and vIOMMU; paused; tiny. */
export function probeArgv(shape: ProbeShape): string[] {
  return [
    '-machine',
    `${shape.machine},graphics=off`,
    '-accel',
    'kvm',
    '-cpu',
    shape.cpu,
    '-smp',
    shape.smp,
    '-m',
    '64',
    '-nodefaults',
    '-display',
    'none',
    ...shape.devices.flatMap((d) => ['-device', d]),
    '-S',
    '-qmp',
    'stdio',
  ];
}

/** What a probe that stopped qemu at once tells. */
export type ProbeResult =
  | { ok: true; ms: number }
  | {
      ok: false;
      ms: number;
      /** msr-arch-capabilities: the IA32_ARCH_CAPABILITIES abort; irqchip: intremap needs split */
      kind: 'msr-arch-capabilities' | 'irqchip' | 'kvm-init' | 'timeout' | 'not-found' | 'other';
      /** qemu's own line that says why */
      line: string;
    };

/** QMP input of the probe: leave negotiation, then quit. */
export const PROBE_INPUT = '{"execute":"qmp_capabilities"}\n{"execute":"quit"}\n';

function meaningfulLine(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  const pick =
    lines.find((l) => /failed to set MSR/i.test(l)) ??
    lines.find((l) => /kernel-irqchip/i.test(l)) ??
    lines.find((l) => /error|failed|cannot|assert/i.test(l)) ??
    lines[lines.length - 1];
  return (pick ?? '').slice(0, 300);
}

/** Reads a finished probe: exit status and stderr → a result. Pure. */
export function classifyProbe(r: ExecResult, ms: number): ProbeResult {
  if (r.notFound) return { ok: false, ms, kind: 'not-found', line: 'the qemu binary could not be started' };
  if (r.timedOut)
    return { ok: false, ms, kind: 'timeout', line: 'qemu did not answer the probe within its time limit' };
  const line = meaningfulLine(r.stderr);
  if (r.exitCode === 0 && !r.signal && /"return"/.test(r.stdout)) return { ok: true, ms };
  if (/failed to set MSR 0x10a\b/i.test(r.stderr) || /MSR 0x10a/i.test(r.stderr))
    return { ok: false, ms, kind: 'msr-arch-capabilities', line };
  if (/kernel-irqchip/i.test(r.stderr)) return { ok: false, ms, kind: 'irqchip', line };
  if (/failed to initialize kvm|Could not access KVM kernel module/i.test(r.stderr))
    return { ok: false, ms, kind: 'kvm-init', line };
  return {
    ok: false,
    ms,
    kind: 'other',
    line: line || (r.signal ? `qemu was killed by ${r.signal}` : `qemu exited with code ${r.exitCode}`),
  };
}

/** The cpu string with IA32_ARCH_CAPABILITIES hidden from the guest. */
export function withoutArchCapabilities(cpu: string): string {
  return /(^|,)[+-]?arch-capabilities\b/.test(cpu) ? cpu : `${cpu},arch-capabilities=off`;
}

const probeCache = new Map<string, ProbeResult>();

/** The binary's identity (path, inode, size, mtime): a replaced qemu is probed again. */
async function binaryIdentity(binary: string): Promise<string> {
  const { stat } = await import('node:fs/promises');
  const dirs = binary.includes('/') ? [''] : (process.env.PATH ?? '/usr/bin:/bin').split(':').filter(Boolean);
  for (const dir of dirs) {
    const file = dir ? `${dir}/${binary}` : binary;
    const st = await stat(file).catch(() => null);
    if (st?.isFile()) return `${file}@${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
  }
  return binary;
}

/** Runs one probe through the Host (cached per binary identity, kernel release, cpu model, shape). */
export async function runProbe(
  host: Host,
  facts: AccelFacts,
  shape: ProbeShape,
  options: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<ProbeResult & { cached: boolean }> {
  const args = probeArgv(shape);
  const key = [
    host.root,
    await binaryIdentity(shape.binary),
    facts.kernelRelease,
    facts.cpuModel,
    ...args,
  ].join('\0');
  const hit = probeCache.get(key);
  if (hit) return { ...hit, cached: true };
  const timeoutMs = options.timeoutMs ?? 10_000;
  const t0 = performance.now();
  const r = await host.exec(shape.binary, args, {
    timeoutMs,
    input: PROBE_INPUT,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const result = classifyProbe(r, Math.round(performance.now() - t0));
  // an aborted run says nothing about the host
  if (!options.signal?.aborted) probeCache.set(key, result);
  return { ...result, cached: false };
}

/** For tests: forget cached probes. */
export function clearProbeCache(): void {
  probeCache.clear();
}

// ---------------------------------------------------------------------------------------------
// The choice

export interface AccelDecision {
  accel: 'kvm' | 'tcg';
  /** the cpu string when the choice changed it (arch-capabilities=off) */
  cpu?: string;
  /** the fact (or probe result) that decided, in words */
  reason: string;
  /** the KVM probe, when one ran */
  probe?: ProbeResult & { cached: boolean; retried?: boolean };
  /** one-line warnings to show the user */
  warnings: string[];
}

export interface ChooseAccelInput {
  wanted: 'kvm' | 'tcg' | 'auto';
  facts: AccelFacts;
  /** the probe's shape with the cpu the real argv would use under KVM */
  shape: ProbeShape;
  /** true when the user named the cpu model (then it is not changed, only probed) */
  userCpu: boolean;
  signal?: AbortSignal;
  timeoutMs?: number;
}

const KVM_HINT_TCG = 'use --accel tcg (software emulation, slower) or --accel auto';

/**
 * tcg, or kvm after the facts and a launch probe agree. `--accel kvm` that cannot work is a host
 * error (exit 3) naming qemu's line; `auto` falls back to tcg with a warning naming the fact.
 */
export async function chooseAccel(host: Host, input: ChooseAccelInput): Promise<AccelDecision> {
  const { wanted, facts } = input;
  if (wanted === 'tcg') return { accel: 'tcg', reason: '--accel tcg', warnings: [] };
  const kvm = assessKvm(facts);
  const warnings: string[] = [];
  if (!kvm.hardware) {
    if (wanted === 'auto')
      return {
        accel: 'tcg',
        reason: kvm.fact,
        warnings: [`warning: ${kvm.fact}: using tcg software emulation (much slower)`],
      };
    if (facts.kvmDevice !== 'usable')
      throw hostError('KVM_UNAVAILABLE', `--accel kvm was asked for, but ${kvm.fact}`, {
        hint:
          facts.kvmDevice === 'missing'
            ? `load kvm_intel or kvm_amd (modprobe), or ${KVM_HINT_TCG}`
            : `add the user to the kvm group or run as root, or ${KVM_HINT_TCG}`,
      });
    // forced on a host without hardware virtualization: say so, and let the probe decide
    warnings.push(`warning: --accel kvm: ${kvm.fact}; the guest may hang in early boot`);
  }
  const opts = {
    ...(input.signal ? { signal: input.signal } : {}),
    ...(input.timeoutMs ? { timeoutMs: input.timeoutMs } : {}),
  };
  const first = await runProbe(host, facts, input.shape, opts);
  if (first.ok) return { accel: 'kvm', reason: `${kvm.fact}; launch probe passed`, probe: first, warnings };

  // IA32_ARCH_CAPABILITIES refused on an AMD host: hide it, and keep KVM only if that then starts
  if (first.kind === 'msr-arch-capabilities' && facts.cpuFlag === 'svm' && !input.userCpu) {
    const cpu = withoutArchCapabilities(input.shape.cpu);
    const retry = await runProbe(host, facts, { ...input.shape, cpu }, opts);
    if (retry.ok) {
      warnings.push(
        `warning: qemu aborted on MSR 0x10a (IA32_ARCH_CAPABILITIES) with -cpu ${input.shape.cpu}; using -cpu ${cpu}`,
      );
      return {
        accel: 'kvm',
        cpu,
        reason: `${kvm.fact}; launch probe passed with arch-capabilities=off`,
        probe: { ...retry, retried: true },
        warnings,
      };
    }
  }
  if (wanted === 'kvm')
    throw hostError('KVM_LAUNCH_FAILED', `--accel kvm: qemu cannot start a KVM guest here: ${first.line}`, {
      hint:
        first.kind === 'msr-arch-capabilities'
          ? `try --cpu ${withoutArchCapabilities(input.shape.cpu)}, or ${KVM_HINT_TCG}`
          : first.kind === 'irqchip'
            ? 'intremap=on needs --machine q35,kernel-irqchip=split under KVM'
            : KVM_HINT_TCG,
      data: { probe: first },
    });
  return {
    accel: 'tcg',
    reason: `KVM launch probe failed: ${first.line}`,
    probe: first,
    warnings: [
      ...warnings,
      `warning: qemu cannot start a KVM guest here (${first.line}): using tcg software emulation`,
    ],
  };
}
