import { expect } from 'chai';
import {
  type DoctorFacts,
  doctorExitCode,
  evaluateDoctor,
  moduleState,
  parseCapIpcLock,
  parseLimits,
  parseMemorySize,
} from '../../../src/pci/doctor.js';

const MiB = 1024 * 1024;

function facts(over: Partial<DoctorFacts> = {}): DoctorFacts {
  return {
    cpu: { vendor: 'GenuineIntel', flags: ['fpu', 'vmx'] },
    kvm: { exists: true, usable: true, modules: ['kvm', 'kvm_intel'] },
    acpi: { dmar: true, ivrs: false, dmarIntrRemap: true },
    iommu: { units: ['dmar0'], groupCount: 12, ecapIr: true },
    cmdline: 'BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro intel_iommu=on iommu=pt',
    irChips: ['IR-PCI-MSI'],
    allowUnsafeInterrupts: false,
    modules: { vfio: 'loaded', vfio_pci: 'loaded', vfio_iommu_type1: 'loaded' },
    vfioContainer: true,
    qemu: { binary: 'qemu-system-x86_64', found: true, version: '7.2.22', vfioPci: true, error: null },
    memlockBytes: 8 * MiB,
    capIpcLock: true,
    memAvailableMiB: 16384,
    guestMemoryMiB: 2048,
    devices: {
      total: 5,
      assignable: 1,
      warnings: 0,
      notAssignable: 4,
      nics: [{ address: '0000:05:00.0', verdict: 'assignable', codes: [] }],
    },
    ...over,
  };
}

const statusOf = (f: DoctorFacts, id: string): string | undefined =>
  evaluateDoctor(f).find((c) => c.id === id)?.status;
const hintOf = (f: DoctorFacts, id: string): string | undefined =>
  evaluateDoctor(f).find((c) => c.id === id)?.hint;

describe('pci/doctor: evaluateDoctor', () => {
  it('passes a well-prepared host (exit 0)', () => {
    const checks = evaluateDoctor(facts());
    expect(checks.filter((c) => c.status !== 'PASS')).to.deep.equal([]);
    expect(doctorExitCode(checks)).to.equal(0);
  });

  const table: [string, Partial<DoctorFacts>, string, string, RegExp?][] = [
    [
      'no vmx/svm',
      { cpu: { vendor: 'GenuineIntel', flags: ['fpu'] } },
      'cpu-virtualization',
      'FAIL',
      /firmware/,
    ],
    ['svm counts', { cpu: { vendor: 'AuthenticAMD', flags: ['svm'] } }, 'cpu-virtualization', 'PASS'],
    [
      'no /dev/kvm',
      { kvm: { exists: false, usable: false, modules: [] } },
      'kvm',
      'FAIL',
      /modprobe kvm_intel/,
    ],
    [
      '/dev/kvm not writable',
      { kvm: { exists: true, usable: false, modules: ['kvm'] } },
      'kvm',
      'FAIL',
      /kvm group/,
    ],
    [
      'no DMAR/IVRS',
      { acpi: { dmar: false, ivrs: false, dmarIntrRemap: null } },
      'iommu-firmware',
      'FAIL',
      /intel-iommu/,
    ],
    ['IVRS counts', { acpi: { dmar: false, ivrs: true, dmarIntrRemap: null } }, 'iommu-firmware', 'PASS'],
    [
      'DMAR but no groups: intel_iommu=on hint',
      { iommu: { units: [], groupCount: 0, ecapIr: null }, cmdline: 'root=/dev/sda1 ro' },
      'iommu-kernel',
      'FAIL',
      /intel_iommu=on/,
    ],
    [
      'intel_iommu=off on the command line',
      { iommu: { units: [], groupCount: 0, ecapIr: null }, cmdline: 'root=/dev/sda1 intel_iommu=off' },
      'iommu-kernel',
      'FAIL',
      /remove intel_iommu=off/,
    ],
    [
      'pcie_acs_override',
      { cmdline: 'intel_iommu=on pcie_acs_override=downstream' },
      'kernel-cmdline',
      'WARN',
    ],
    [
      'IR active from /proc/interrupts',
      { irChips: ['IR-IO-APIC'], iommu: { units: ['dmar0'], groupCount: 3, ecapIr: false } },
      'interrupt-remapping',
      'PASS',
    ],
    ['IR supported by ecap', { irChips: [] }, 'interrupt-remapping', 'PASS'],
    [
      'no IR, unsafe allowed',
      { irChips: [], iommu: { units: ['dmar0'], groupCount: 3, ecapIr: false }, allowUnsafeInterrupts: true },
      'interrupt-remapping',
      'WARN',
    ],
    [
      'no IR at all',
      { irChips: [], iommu: { units: ['dmar0'], groupCount: 3, ecapIr: false } },
      'interrupt-remapping',
      'FAIL',
      /intremap=on/,
    ],
    [
      'no IOMMU: IR cannot be checked',
      { iommu: { units: [], groupCount: 0, ecapIr: null }, irChips: [] },
      'interrupt-remapping',
      'WARN',
    ],
    [
      'vfio loadable',
      { modules: { vfio: 'available', vfio_pci: 'available', vfio_iommu_type1: 'builtin' } },
      'vfio-modules',
      'WARN',
      /modprobe vfio vfio-pci/,
    ],
    [
      'vfio missing',
      { modules: { vfio: 'missing', vfio_pci: 'missing', vfio_iommu_type1: 'missing' } },
      'vfio-modules',
      'FAIL',
    ],
    [
      'vfio built in',
      { modules: { vfio: 'builtin', vfio_pci: 'builtin', vfio_iommu_type1: 'builtin' } },
      'vfio-modules',
      'PASS',
    ],
    [
      'no /dev/vfio/vfio but loadable',
      {
        vfioContainer: false,
        modules: { vfio: 'available', vfio_pci: 'available', vfio_iommu_type1: 'available' },
      },
      'vfio-device',
      'WARN',
    ],
    [
      'qemu missing',
      {
        qemu: {
          binary: 'qemu-system-x86_64',
          found: false,
          version: null,
          vfioPci: null,
          error: 'not found',
        },
      },
      'qemu',
      'FAIL',
      /qemu-system-x86/,
    ],
    [
      'qemu without vfio-pci',
      { qemu: { binary: 'q', found: true, version: '1.0', vfioPci: false, error: null } },
      'qemu-vfio',
      'FAIL',
    ],
    [
      'memlock too low without CAP_IPC_LOCK',
      { capIpcLock: false, memlockBytes: 64 * 1024 },
      'memlock',
      'FAIL',
      /ulimit -l 3145728/,
    ],
    ['memlock unlimited', { capIpcLock: false, memlockBytes: 'unlimited' }, 'memlock', 'PASS'],
    [
      'memlock just enough (guest + 1 GiB)',
      { capIpcLock: false, memlockBytes: 3072 * MiB },
      'memlock',
      'PASS',
    ],
    ['memlock one MiB short', { capIpcLock: false, memlockBytes: 3071 * MiB }, 'memlock', 'FAIL'],
    ['not enough free memory', { memAvailableMiB: 1536 }, 'memory', 'FAIL', /lower --memory/],
    ['tight free memory', { memAvailableMiB: 2500 }, 'memory', 'WARN'],
    [
      'no assignable NIC: auto falls back',
      {
        devices: {
          total: 3,
          assignable: 0,
          warnings: 0,
          notAssignable: 3,
          nics: [{ address: '0000:00:1f.6', verdict: 'not-assignable', codes: ['DEFAULT_ROUTE'] }],
        },
      },
      'devices',
      'WARN',
    ],
  ];
  for (const [name, over, id, status, hint] of table) {
    it(`${name}: ${id} ${status}`, () => {
      const f = facts(over);
      expect(statusOf(f, id)).to.equal(status);
      if (hint) expect(hintOf(f, id)).to.match(hint);
      expect(doctorExitCode(evaluateDoctor(f))).to.equal(
        evaluateDoctor(f).some((c) => c.status === 'FAIL') ? 3 : 0,
      );
    });
  }
});

describe('pci/doctor: parsers', () => {
  it('parses --memory sizes (a bare number is MiB)', () => {
    expect(parseMemorySize('2048')).to.equal(2048);
    expect(parseMemorySize('2G')).to.equal(2048);
    expect(parseMemorySize('2GiB')).to.equal(2048);
    expect(parseMemorySize('1.5g')).to.equal(1536);
    expect(parseMemorySize('512M')).to.equal(512);
    expect(parseMemorySize('1048576k')).to.equal(1024);
    for (const bad of ['', 'lots', '12x', '-1', '0', '0.5']) {
      expect(() => parseMemorySize(bad), bad).to.throw(/--memory/);
    }
  });

  it('reads RLIMIT_MEMLOCK from /proc/self/limits', () => {
    const t =
      'Limit                     Soft Limit           Hard Limit           Units     \nMax locked memory         8388608              8388608              bytes     \n';
    expect(parseLimits(t)).to.equal(8388608);
    expect(parseLimits(t.replace(/8388608 {14}8388608/, 'unlimited            unlimited'))).to.equal(
      'unlimited',
    );
    expect(parseLimits('nothing')).to.equal(null);
  });

  it('reads CAP_IPC_LOCK (bit 14) from CapEff', () => {
    expect(parseCapIpcLock('CapEff:\t000001fffeffffff\n')).to.equal(true);
    expect(parseCapIpcLock('CapEff:\t0000000000000000\n')).to.equal(false);
    expect(parseCapIpcLock('CapEff:\t0000000000004000\n')).to.equal(true);
    expect(parseCapIpcLock('')).to.equal(null);
  });

  it('tells loaded, built-in, loadable and missing modules apart', () => {
    const loaded = new Set(['vfio']);
    const builtin = 'kernel/drivers/vfio/vfio_iommu_type1.ko\n';
    const dep = 'kernel/drivers/vfio/pci/vfio-pci.ko.zst: kernel/drivers/vfio/pci/vfio-pci-core.ko.zst\n';
    expect(moduleState('vfio', loaded, builtin, dep)).to.equal('loaded');
    expect(moduleState('vfio_iommu_type1', loaded, builtin, dep)).to.equal('builtin');
    expect(moduleState('vfio_pci', loaded, builtin, dep)).to.equal('available');
    expect(moduleState('kvm_amd', loaded, builtin, dep)).to.equal('missing');
  });
});
