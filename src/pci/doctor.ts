/**
 * `install-guest doctor`: the host checks virt-host-validate makes (hardware virtualization,
 * /dev/kvm, DMAR/IVRS tables, IOMMU groups, kernel command line) plus what device assignment also
 * needs: interrupt remapping, the vfio modules and /dev/vfio/vfio, a qemu with vfio-pci, enough
 * locked-memory allowance and free memory for the guest (an assigned device pins all guest
 * memory), and a per-device summary. Facts are gathered through the Host (files under its root,
 * programs through Host.exec); the verdicts are a pure function of the facts.
 */
import { inputError } from '../errors.js';
import type { Host } from '../host/host.js';
import { assessAll } from './assignability.js';
import { readsOf } from './host-reads.js';
import { listDevices } from './inventory.js';
import {
  assessKvm,
  chooseAccel,
  gatherAccelFacts,
  parseCpuinfo as parseAccelCpuinfo,
  SOFTWARE_MONITORS,
  type AccelFacts,
} from '../qemu/accel.js';

export type CheckStatus = 'PASS' | 'WARN' | 'FAIL';

export interface Check {
  id: string;
  status: CheckStatus;
  message: string;
  hint?: string;
  evidence: string[];
}

export type ModuleState = 'loaded' | 'builtin' | 'available' | 'missing';

export interface DoctorFacts {
  cpu: { vendor: string | null; flags: string[] };
  kvm: { exists: boolean; usable: boolean; modules: string[] };
  acpi: { dmar: boolean; ivrs: boolean; dmarIntrRemap: boolean | null };
  iommu: { units: string[]; groupCount: number; ecapIr: boolean | null };
  cmdline: string;
  irChips: string[];
  allowUnsafeInterrupts: boolean | null;
  modules: Record<string, ModuleState>;
  vfioContainer: boolean;
  qemu: {
    binary: string;
    found: boolean;
    version: string | null;
    vfioPci: boolean | null;
    error: string | null;
  };
  memlockBytes: number | 'unlimited' | null;
  capIpcLock: boolean | null;
  memAvailableMiB: number | null;
  guestMemoryMiB: number;
  /** what `install --accel auto` would choose here, and why (the same code path: src/qemu/accel.ts) */
  accel?: { accel: 'kvm' | 'tcg'; reason: string; probe?: { ok: boolean; line?: string; ms: number } };
  devices: {
    total: number;
    assignable: number;
    warnings: number;
    notAssignable: number;
    nics: { address: string; verdict: string; codes: string[] }[];
  };
}

export const VFIO_MODULES = ['vfio', 'vfio_pci', 'vfio_iommu_type1'] as const;

/** `2048` (MiB), `512M`, `2G`, `2GiB`, `1.5G` → MiB; throws an input error otherwise. */
export function parseMemorySize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(text);
  if (!m) {
    throw inputError('BAD_MEMORY', `--memory '${text}' is not a size: expected e.g. 2048, 512M or 4G`, {
      hint: 'a bare number is MiB',
    });
  }
  const n = Number(m[1]);
  const unit = (m[2] ?? '').toLowerCase();
  const mib = unit === 'k' ? n / 1024 : unit === 'g' ? n * 1024 : unit === 't' ? n * 1024 * 1024 : n;
  if (!(mib >= 1)) {
    throw inputError('BAD_MEMORY', `--memory '${text}' is less than 1 MiB`, { hint: 'e.g. --memory 2G' });
  }
  return Math.round(mib);
}

export function parseLimits(text: string): number | 'unlimited' | null {
  const line = text.split('\n').find((l) => l.startsWith('Max locked memory'));
  if (!line) return null;
  const soft = line.slice('Max locked memory'.length).trim().split(/\s+/)[0];
  if (soft === 'unlimited') return 'unlimited';
  const n = Number(soft);
  return Number.isFinite(n) ? n : null;
}

export function parseCapIpcLock(statusText: string): boolean | null {
  const m = /^CapEff:\s*([0-9a-f]+)/im.exec(statusText);
  if (!m) return null;
  return (BigInt(`0x${m[1]}`) & (1n << 14n)) !== 0n;
}

export function parseMemAvailableMiB(meminfo: string): number | null {
  const m = /^MemAvailable:\s*(\d+)\s*kB/m.exec(meminfo);
  return m ? Math.floor(Number(m[1]) / 1024) : null;
}

export function parseCpuinfo(text: string): { vendor: string | null; flags: string[] } {
  const { vendor, flags } = parseAccelCpuinfo(text);
  return { vendor, flags };
}

/** The accelerator facts as the doctor gathered them (one reading of them: assessKvm). */
export function accelFactsOf(f: Pick<DoctorFacts, 'cpu' | 'kvm'>): AccelFacts {
  const flag = f.cpu.flags.includes('vmx') ? 'vmx' : f.cpu.flags.includes('svm') ? 'svm' : null;
  return {
    kvmDevice: !f.kvm.exists ? 'missing' : f.kvm.usable ? 'usable' : 'no-access',
    cpuFlag: flag,
    hardwareModules: f.kvm.modules.filter((m) => m === 'kvm_intel' || m === 'kvm_amd'),
    softwareMonitors: f.kvm.modules.filter((m) => m in SOFTWARE_MONITORS),
    vendor: f.cpu.vendor,
    cpuModel: null,
    kernelRelease: null,
  };
}

const moduleFileName = (m: string): RegExp => new RegExp(`/${m.replace(/_/g, '[-_]')}\\.ko(\\.[a-z]+)?$`);

export function moduleState(
  name: string,
  loaded: ReadonlySet<string>,
  builtin: string,
  dep: string,
): ModuleState {
  if (loaded.has(name)) return 'loaded';
  const re = moduleFileName(name);
  if (builtin.split('\n').some((l) => re.test(l.trim()))) return 'builtin';
  if (dep.split('\n').some((l) => re.test((l.split(':')[0] ?? '').trim()))) return 'available';
  return 'missing';
}

export interface DoctorOptions {
  guestMemoryMiB: number;
  qemuBinary?: string;
  /** milliseconds allowed for each qemu probe */
  probeTimeoutMs?: number;
}

export async function gatherDoctorFacts(host: Host, options: DoctorOptions): Promise<DoctorFacts> {
  const r = readsOf(host);
  const qemuBinary = options.qemuBinary ?? 'qemu-system-x86_64';
  const timeoutMs = options.probeTimeoutMs ?? 20_000;
  const [
    cpuinfo,
    cmdline,
    interrupts,
    limits,
    status,
    meminfo,
    release,
    modulesList,
    units,
    groups,
    tables,
    vfioDev,
  ] = await Promise.all([
    r.text('/proc/cpuinfo'),
    r.small('/proc/cmdline', 8192),
    r.text('/proc/interrupts'),
    r.text('/proc/self/limits'),
    r.text('/proc/self/status'),
    r.text('/proc/meminfo'),
    r.small('/proc/sys/kernel/osrelease', 256),
    r.list('/sys/module'),
    r.list('/sys/class/iommu'),
    r.list('/sys/kernel/iommu_groups'),
    r.list('/sys/firmware/acpi/tables'),
    r.list('/dev/vfio'),
  ]);
  const loaded = new Set(modulesList);
  const [builtin, dep] = release
    ? await Promise.all([
        r.text(`/lib/modules/${release}/modules.builtin`),
        r.text(`/lib/modules/${release}/modules.dep`),
      ])
    : [null, null];
  const modules: Record<string, ModuleState> = {};
  for (const m of VFIO_MODULES) modules[m] = moduleState(m, loaded, builtin ?? '', dep ?? '');

  let ecapIr: boolean | null = null;
  for (const u of units) {
    const ecap = await r.small(`/sys/class/iommu/${u}/intel-iommu/ecap`, 64);
    if (ecap !== null && /^[0-9a-f]+$/i.test(ecap))
      ecapIr = (ecapIr ?? false) || (BigInt(`0x${ecap}`) & 0x8n) !== 0n;
  }
  const dmarBytes = tables.includes('DMAR') ? await r.bytes('/sys/firmware/acpi/tables/DMAR', 64) : null;
  const dmarIntrRemap = dmarBytes && dmarBytes.length >= 38 ? (dmarBytes[37]! & 0x1) !== 0 : null;
  const unsafe = await r.small('/sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts', 8);

  // /dev/kvm and the CPU read once, by the accelerator choice's own reading (install's probe-accel)
  const accelFacts = await gatherAccelFacts(host);
  const kvmExists = accelFacts.kvmDevice !== 'missing';
  const kvmUsable = accelFacts.kvmDevice === 'usable';

  const version = await host.exec(qemuBinary, ['--version'], { timeoutMs });
  let qemu: DoctorFacts['qemu'];
  if (version.notFound) {
    qemu = { binary: qemuBinary, found: false, version: null, vfioPci: null, error: 'not found' };
  } else {
    const v = /version\s+(\S+)/i.exec(version.stdout)?.[1] ?? null;
    const help = await host.exec(qemuBinary, ['-device', 'help'], { timeoutMs });
    qemu = {
      binary: qemuBinary,
      found: version.exitCode === 0,
      version: v,
      vfioPci: help.exitCode === 0 ? /^name "vfio-pci"/m.test(help.stdout) : null,
      error:
        version.exitCode === 0
          ? help.exitCode === 0
            ? null
            : (help.stderr.trim().split('\n')[0] ?? `exit ${help.exitCode}`)
          : (version.stderr.trim().split('\n')[0] ?? `exit ${version.exitCode}`),
    };
  }

  const inv = await listDevices(host);
  const assessments = assessAll(inv);
  const counts = { assignable: 0, warnings: 0, notAssignable: 0 };
  for (const a of assessments.values()) {
    if (a.verdict === 'assignable') counts.assignable++;
    else if (a.verdict === 'warnings') counts.warnings++;
    else counts.notAssignable++;
  }
  return {
    cpu: parseCpuinfo(cpuinfo ?? ''),
    kvm: {
      exists: kvmExists,
      usable: kvmUsable,
      modules: ['kvm', 'kvm_intel', 'kvm_amd', ...Object.keys(SOFTWARE_MONITORS)].filter((m) =>
        loaded.has(m),
      ),
    },
    accel: await autoAccel(host, accelFacts, qemuBinary, qemu.found, timeoutMs),
    acpi: { dmar: tables.includes('DMAR'), ivrs: tables.includes('IVRS'), dmarIntrRemap },
    iommu: { units, groupCount: groups.length, ecapIr },
    cmdline: cmdline ?? '',
    irChips: [...new Set((interrupts ?? '').match(/\bIR-[A-Za-z0-9-]+/g) ?? [])].sort(),
    allowUnsafeInterrupts: unsafe === null ? null : /^(y|1)/i.test(unsafe),
    modules,
    vfioContainer: vfioDev.includes('vfio'),
    qemu,
    memlockBytes: parseLimits(limits ?? ''),
    capIpcLock: parseCapIpcLock(status ?? ''),
    memAvailableMiB: parseMemAvailableMiB(meminfo ?? ''),
    guestMemoryMiB: options.guestMemoryMiB,
    devices: {
      total: inv.devices.length,
      ...counts,
      nics: inv.devices
        .filter((d) => d.classKind === 'net')
        .map((d) => {
          const a = assessments.get(d.address)!;
          return {
            address: d.address,
            verdict: a.verdict,
            codes: a.reasons.filter((x) => x.severity !== 'info').map((x) => x.code),
          };
        }),
    },
  };
}

/** What `--accel auto` picks for a default guest (q35, host cpu, 1 vCPU), with the probe it ran. */
async function autoAccel(
  host: Host,
  facts: AccelFacts,
  binary: string,
  qemuFound: boolean,
  timeoutMs: number,
): Promise<DoctorFacts['accel']> {
  if (!qemuFound && assessKvm(facts).hardware)
    return { accel: 'tcg', reason: `qemu (${binary}) was not found, so no launch probe ran` };
  const d = await chooseAccel(host, {
    wanted: 'auto',
    facts,
    shape: { binary, machine: 'q35', cpu: 'host', smp: '1', devices: [] },
    userCpu: false,
    timeoutMs: Math.min(timeoutMs, 10_000),
  });
  return {
    accel: d.accel,
    reason: d.reason,
    ...(d.probe
      ? { probe: { ok: d.probe.ok, ms: d.probe.ms, ...(d.probe.ok ? {} : { line: d.probe.line }) } }
      : {}),
  };
}

const MiB = 1024 * 1024;
/** what VFIO pins beyond guest RAM (libvirt allows 1 GiB for ROMs, MMIO mappings and qemu itself) */
export const MEMLOCK_MARGIN_MIB = 1024;

function cmdlineParams(cmdline: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const tok of cmdline.split(/\s+/)) {
    if (!tok || tok === '--') continue;
    const eq = tok.indexOf('=');
    m.set(eq < 0 ? tok : tok.slice(0, eq), eq < 0 ? '' : tok.slice(eq + 1));
  }
  return m;
}

/** The checks, from facts alone. */
export function evaluateDoctor(f: DoctorFacts): Check[] {
  const checks: Check[] = [];
  const add = (id: string, status: CheckStatus, message: string, evidence: string[], hint?: string): void => {
    checks.push({ id, status, message, evidence, ...(hint ? { hint } : {}) });
  };
  const params = cmdlineParams(f.cmdline);
  const isAmd = f.cpu.vendor === 'AuthenticAMD' || (f.acpi.ivrs && !f.acpi.dmar);

  // hardware virtualization
  const virt = f.cpu.flags.includes('vmx') ? 'vmx' : f.cpu.flags.includes('svm') ? 'svm' : null;
  if (virt)
    add('cpu-virtualization', 'PASS', `the CPU supports hardware virtualization (${virt})`, [
      `/proc/cpuinfo flags: ${virt}`,
    ]);
  else {
    const kvm = assessKvm(accelFactsOf(f));
    const monitor = f.kvm.modules.find((m) => m in SOFTWARE_MONITORS);
    add(
      'cpu-virtualization',
      'FAIL',
      monitor && f.kvm.exists
        ? `the CPU shows no hardware virtualization: ${kvm.fact}`
        : 'the CPU shows no hardware virtualization (no vmx or svm flag)',
      [`/proc/cpuinfo vendor ${f.cpu.vendor ?? '?'}`, ...(monitor ? [`module ${monitor} loaded`] : [])],
      'enable VT-x / AMD-V in the firmware setup (or nested virtualization when this host is itself a VM)',
    );
  }

  // /dev/kvm
  const kvmMod = isAmd ? 'kvm_amd' : 'kvm_intel';
  if (f.kvm.usable)
    add('kvm', 'PASS', '/dev/kvm exists and is readable and writable', [
      `modules: ${f.kvm.modules.join(' ') || 'built in'}`,
    ]);
  else if (f.kvm.exists)
    add(
      'kvm',
      'FAIL',
      '/dev/kvm exists but this user cannot open it read-write',
      [],
      'add the user to the kvm group or run as root',
    );
  else
    add(
      'kvm',
      'FAIL',
      '/dev/kvm does not exist',
      [`modules: ${f.kvm.modules.join(' ') || 'none'}`],
      `load the KVM module: modprobe ${kvmMod}`,
    );

  // the accelerator --accel auto would use (facts, then a launch probe)
  if (f.accel) {
    const evidence = f.accel.probe
      ? [
          f.accel.probe.ok
            ? `KVM launch probe passed in ${f.accel.probe.ms} ms`
            : `KVM launch probe: ${f.accel.probe.line ?? 'failed'}`,
        ]
      : [];
    if (f.accel.accel === 'kvm')
      add('accelerator', 'PASS', `--accel auto uses kvm: ${f.accel.reason}`, evidence);
    else
      add(
        'accelerator',
        'WARN',
        `--accel auto uses tcg (software emulation, much slower): ${f.accel.reason}`,
        evidence,
        'guests still install and run; for KVM the host needs VT-x/AMD-V and the kvm_intel or kvm_amd module',
      );
  }

  // firmware tables
  if (f.acpi.dmar || f.acpi.ivrs)
    add(
      'iommu-firmware',
      'PASS',
      `the firmware describes an IOMMU (${f.acpi.dmar ? 'ACPI DMAR, Intel VT-d' : 'ACPI IVRS, AMD-Vi'})`,
      [`/sys/firmware/acpi/tables/${f.acpi.dmar ? 'DMAR' : 'IVRS'}`],
    );
  else
    add(
      'iommu-firmware',
      'FAIL',
      'the firmware describes no IOMMU (no ACPI DMAR or IVRS table)',
      ['/sys/firmware/acpi/tables: no DMAR, no IVRS'],
      'enable VT-d / AMD-Vi (often "IOMMU" or "Directed I/O") in the firmware setup; a qemu host needs -machine q35,kernel-irqchip=split -device intel-iommu,intremap=on',
    );

  // kernel IOMMU
  const iommuOn = f.iommu.groupCount > 0;
  if (iommuOn)
    add('iommu-kernel', 'PASS', `the kernel enabled the IOMMU: ${f.iommu.groupCount} groups`, [
      `/sys/class/iommu: ${f.iommu.units.join(' ') || 'none'}`,
    ]);
  else {
    const off = ['intel_iommu', 'amd_iommu', 'iommu'].filter((k) => params.get(k) === 'off');
    const hint = off.length
      ? `remove ${off.map((k) => `${k}=off`).join(' ')} from the kernel command line`
      : f.acpi.dmar
        ? 'add intel_iommu=on (and iommu=pt) to the kernel command line and reboot'
        : f.acpi.ivrs
          ? 'check that the kernel is built with AMD IOMMU support and amd_iommu is not disabled; add iommu=pt'
          : 'enable the IOMMU in the firmware first, then add intel_iommu=on (Intel) to the kernel command line';
    add(
      'iommu-kernel',
      'FAIL',
      'the kernel has no IOMMU groups: no device can be assigned',
      ['/sys/kernel/iommu_groups: empty', `/sys/class/iommu: ${f.iommu.units.join(' ') || 'empty'}`],
      hint,
    );
  }

  // kernel command line
  const relevant = [...params.entries()]
    .filter(([k]) => /iommu|vfio|pcie_acs_override|kvm/.test(k))
    .map(([k, v]) => (v ? `${k}=${v}` : k));
  if (params.has('pcie_acs_override'))
    add(
      'kernel-cmdline',
      'WARN',
      'pcie_acs_override is set: IOMMU groups no longer reflect real isolation',
      relevant,
      'remove pcie_acs_override unless you accept that devices can reach each other',
    );
  else {
    const evidence = relevant.length ? [...relevant] : ['no IOMMU-related parameters'];
    if (iommuOn && params.get('iommu') !== 'pt') {
      evidence.push('iommu=pt not set (optional: passthrough mode lowers the host’s DMA overhead)');
    }
    add('kernel-cmdline', 'PASS', 'the kernel command line has no setting that blocks assignment', evidence);
  }

  // interrupt remapping
  if (!iommuOn) {
    add(
      'interrupt-remapping',
      'WARN',
      'interrupt remapping cannot be checked without an active IOMMU',
      [],
      'fix the IOMMU checks first',
    );
  } else if (f.irChips.length) {
    add('interrupt-remapping', 'PASS', 'interrupt remapping is active', [
      `/proc/interrupts: ${f.irChips.join(' ')}`,
    ]);
  } else if (f.iommu.ecapIr) {
    add('interrupt-remapping', 'PASS', 'the IOMMU supports interrupt remapping', [
      'intel-iommu ecap: IR bit set',
    ]);
  } else if (f.allowUnsafeInterrupts) {
    add(
      'interrupt-remapping',
      'WARN',
      'no interrupt remapping; VFIO runs only because allow_unsafe_interrupts is set',
      ['vfio_iommu_type1 allow_unsafe_interrupts=Y'],
      'a guest could inject interrupts into the host; enable interrupt remapping in the firmware if it has it',
    );
  } else {
    add(
      'interrupt-remapping',
      'FAIL',
      'no interrupt remapping: VFIO refuses to attach devices on this host',
      [
        `/proc/interrupts: no IR- chips`,
        `ecap IR: ${f.iommu.ecapIr === null ? 'unknown' : 'no'}`,
        `DMAR INTR_REMAP flag: ${f.acpi.dmarIntrRemap === null ? 'unknown' : f.acpi.dmarIntrRemap ? 'yes' : 'no'}`,
      ],
      'enable interrupt remapping (x2APIC) in the firmware; a qemu host needs -device intel-iommu,intremap=on with kernel-irqchip=split; as a last resort vfio_iommu_type1.allow_unsafe_interrupts=1',
    );
  }

  // vfio modules
  const states = VFIO_MODULES.map((m) => `${m}: ${f.modules[m]}`);
  const missing = VFIO_MODULES.filter((m) => f.modules[m] === 'missing');
  const notLoaded = VFIO_MODULES.filter((m) => f.modules[m] === 'available');
  if (missing.length)
    add(
      'vfio-modules',
      'FAIL',
      `VFIO modules missing: ${missing.join(', ')}`,
      states,
      'install a kernel built with VFIO (CONFIG_VFIO_PCI, CONFIG_VFIO_IOMMU_TYPE1)',
    );
  else if (notLoaded.length)
    add(
      'vfio-modules',
      'WARN',
      `VFIO modules not loaded yet: ${notLoaded.join(', ')} (loadable)`,
      states,
      `modprobe ${notLoaded.map((m) => m.replace(/_/g, '-')).join(' ')}`,
    );
  else add('vfio-modules', 'PASS', 'VFIO modules are loaded or built in', states);

  if (f.vfioContainer) add('vfio-device', 'PASS', '/dev/vfio/vfio exists', ['/dev/vfio/vfio']);
  else if (!missing.length)
    add(
      'vfio-device',
      'WARN',
      '/dev/vfio/vfio does not exist yet; it appears when the vfio module loads',
      [],
      'modprobe vfio-pci',
    );
  else add('vfio-device', 'FAIL', '/dev/vfio/vfio does not exist', [], 'install and load the vfio modules');

  // qemu
  if (!f.qemu.found)
    add(
      'qemu',
      'FAIL',
      `${f.qemu.binary} is not installed or does not run`,
      [f.qemu.error ?? ''].filter(Boolean),
      'install qemu-system-x86 (Debian/Ubuntu) or qemu-kvm (Fedora/RHEL)',
    );
  else
    add('qemu', 'PASS', `${f.qemu.binary} ${f.qemu.version ?? '(version unknown)'}`, [
      `${f.qemu.binary} --version`,
    ]);
  if (f.qemu.found) {
    if (f.qemu.vfioPci)
      add('qemu-vfio', 'PASS', 'qemu offers the vfio-pci device', [
        `${f.qemu.binary} -device help: vfio-pci`,
      ]);
    else
      add(
        'qemu-vfio',
        'FAIL',
        'qemu does not list the vfio-pci device',
        [f.qemu.error ?? `${f.qemu.binary} -device help: no vfio-pci`],
        'install a qemu build with VFIO support',
      );
  }

  // locked memory
  const needBytes = (f.guestMemoryMiB + MEMLOCK_MARGIN_MIB) * MiB;
  const lim = f.memlockBytes;
  const limText =
    lim === null ? 'unknown' : lim === 'unlimited' ? 'unlimited' : `${Math.floor(lim / MiB)} MiB`;
  if (f.capIpcLock)
    add(
      'memlock',
      'PASS',
      `CAP_IPC_LOCK is held: pinned guest memory is not limited by RLIMIT_MEMLOCK (${limText})`,
      ['/proc/self/status CapEff bit 14'],
    );
  else if (lim === 'unlimited' || (typeof lim === 'number' && lim >= needBytes))
    add(
      'memlock',
      'PASS',
      `RLIMIT_MEMLOCK ${limText} covers ${f.guestMemoryMiB} MiB of guest memory plus ${MEMLOCK_MARGIN_MIB} MiB`,
      ['/proc/self/limits: Max locked memory'],
    );
  else
    add(
      'memlock',
      'FAIL',
      `RLIMIT_MEMLOCK ${limText} is below the ${f.guestMemoryMiB + MEMLOCK_MARGIN_MIB} MiB an assigned device pins (guest ${f.guestMemoryMiB} MiB + ${MEMLOCK_MARGIN_MIB} MiB)`,
      ['/proc/self/limits: Max locked memory'],
      `raise the limit (ulimit -l ${(f.guestMemoryMiB + MEMLOCK_MARGIN_MIB) * 1024}, LimitMEMLOCK= in a systemd unit, memlock in limits.conf) or run as root`,
    );

  // free memory
  if (f.memAvailableMiB === null) add('memory', 'WARN', 'cannot read MemAvailable from /proc/meminfo', []);
  else if (f.memAvailableMiB < f.guestMemoryMiB)
    add(
      'memory',
      'FAIL',
      `${f.memAvailableMiB} MiB available < ${f.guestMemoryMiB} MiB of guest memory, all of which an assigned device pins`,
      ['/proc/meminfo MemAvailable'],
      'lower --memory or free memory on the host',
    );
  else if (f.memAvailableMiB < f.guestMemoryMiB + MEMLOCK_MARGIN_MIB)
    add(
      'memory',
      'WARN',
      `${f.memAvailableMiB} MiB available leaves under ${MEMLOCK_MARGIN_MIB} MiB for the host after pinning ${f.guestMemoryMiB} MiB`,
      ['/proc/meminfo MemAvailable'],
      'lower --memory',
    );
  else
    add(
      'memory',
      'PASS',
      `${f.memAvailableMiB} MiB available for ${f.guestMemoryMiB} MiB of pinned guest memory`,
      ['/proc/meminfo MemAvailable'],
    );

  // devices
  const d = f.devices;
  const okNics = d.nics.filter((n) => n.verdict !== 'not-assignable');
  const summary = `${d.total} PCI functions: ${d.assignable} assignable, ${d.warnings} with warnings, ${d.notAssignable} not assignable; ${okNics.length}/${d.nics.length} network functions assignable`;
  const nicEvidence = d.nics.map(
    (n) => `${n.address}: ${n.verdict}${n.codes.length ? ` (${n.codes.join(',')})` : ''}`,
  );
  if (okNics.length) add('devices', 'PASS', summary, nicEvidence);
  else
    add(
      'devices',
      'WARN',
      `${summary}; --hostdev auto will fall back to local media`,
      nicEvidence,
      'see `install-guest hostdev list` for the reasons',
    );
  return checks;
}

export function doctorExitCode(checks: Check[]): number {
  return checks.some((c) => c.status === 'FAIL') ? 3 : 0;
}

export function doctorText(checks: Check[]): string[] {
  const width = Math.max(...checks.map((c) => c.id.length));
  const out: string[] = [];
  for (const c of checks) {
    out.push(`${c.status.padEnd(4)}  ${c.id.padEnd(width)}  ${c.message}`);
    if (c.hint) out.push(`${''.padEnd(6 + width)}  hint: ${c.hint}`);
  }
  const fails = checks.filter((c) => c.status === 'FAIL').length;
  const warns = checks.filter((c) => c.status === 'WARN').length;
  out.push(
    '',
    `${checks.length} checks: ${checks.length - fails - warns} pass, ${warns} warn, ${fails} fail`,
  );
  return out;
}
