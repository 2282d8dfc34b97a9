/**
 * `--machine`, `--cpu` and `--iommu`: the options that shape the virtual machine itself.
 *
 * `--machine` and `--cpu` are qemu option strings (`q35,kernel-irqchip=split`,
 * `host,arch-capabilities=off`, `Skylake-Server,-hle`): they reach qemu as written, so instead of
 * comma-escaping them (which would turn `host,arch-capabilities=off` into one odd model name) they
 * must match a strict grammar that admits a model and its properties and nothing else — no `=`
 * smuggled into the model, no second option, no spaces or quotes.
 *
 * `--iommu model=intel[,driver.intremap=on|off][,driver.caching_mode=on|off][,driver.eim=on|off]
 * [,driver.iotlb=on|off]` is virt-install's option for a guest vIOMMU (`-device intel-iommu`).
 * Interrupt remapping under KVM needs `kernel-irqchip=split` on the machine (qemu refuses `on`);
 * `machineOption` adds it. An assigned device behind a vIOMMU needs caching mode (qemu refuses
 * vfio-pci otherwise), so caching_mode defaults to on.
 */
import { inputError } from '../errors.js';
import { parseOnOff, parseSubOptions } from './suboptions.js';

const WORD = '[A-Za-z0-9][A-Za-z0-9_.-]*';
const MACHINE_RE = new RegExp(`^${WORD}(,${WORD}=${WORD})*$`);
const CPU_RE = new RegExp(`^${WORD}(,([+-]${WORD}|${WORD}(=${WORD})?))*$`);

export function parseMachine(text: string): string {
  if (!MACHINE_RE.test(text) || text.length > 200)
    throw inputError('BAD_MACHINE', `--machine '${text}' is not a machine type with properties`, {
      hint: 'TYPE[,PROP=VALUE...], e.g. --machine q35 or --machine q35,kernel-irqchip=split',
    });
  return text;
}

/** The machine type without its properties. */
export function machineType(machine: string): string {
  return machine.split(',')[0]!;
}

export function isQ35(machine: string): boolean {
  return /^(pc-)?q35/.test(machineType(machine));
}

export function parseCpu(text: string): string {
  if (!CPU_RE.test(text) || text.length > 300)
    throw inputError('BAD_CPU', `--cpu '${text}' is not a CPU model with features`, {
      hint: 'MODEL[,+FEATURE|-FEATURE|PROP=VALUE...], e.g. --cpu host, --cpu host,arch-capabilities=off or --cpu Skylake-Server,-hle',
    });
  return text;
}

export interface IommuRequest {
  model: 'intel';
  intremap: boolean;
  cachingMode: boolean;
  eim?: boolean;
  iotlb?: boolean;
}

export function parseIommu(text: string): IommuRequest {
  const o = parseSubOptions(
    '--iommu',
    text,
    ['model', 'driver.intremap', 'driver.caching_mode', 'driver.eim', 'driver.iotlb'],
    'model',
  );
  const model = o.main ?? o.values.get('model') ?? 'intel';
  if (model !== 'intel')
    throw inputError('BAD_IOMMU', `--iommu model '${model}' is not supported`, {
      hint: 'install-guest emulates an Intel vIOMMU: --iommu model=intel',
    });
  const flag = (k: string): boolean | undefined =>
    o.values.has(k) ? parseOnOff('--iommu', k, o.values.get(k)!) : undefined;
  const eim = flag('driver.eim');
  const iotlb = flag('driver.iotlb');
  return {
    model: 'intel',
    intremap: flag('driver.intremap') ?? true,
    cachingMode: flag('driver.caching_mode') ?? true,
    ...(eim !== undefined ? { eim } : {}),
    ...(iotlb !== undefined ? { iotlb } : {}),
  };
}

/** Refusals that need the machine and the devices: q35 only; caching mode for assigned devices. */
export function checkIommu(iommu: IommuRequest, machine: string, hostdevCount: number): void {
  if (!isQ35(machine))
    throw inputError('BAD_IOMMU', `--iommu needs a q35 machine, not '${machineType(machine)}'`, {
      hint: 'drop --machine or use --machine q35',
    });
  if (!iommu.cachingMode && hostdevCount > 0)
    throw inputError('BAD_IOMMU', '--iommu driver.caching_mode=off cannot carry an assigned device', {
      hint: 'qemu assigns a device behind a vIOMMU only with caching mode: drop driver.caching_mode=off',
    });
}

/** The -machine value for an accelerator: KVM with interrupt remapping needs kernel-irqchip=split. */
export function machineOption(
  machine: string,
  accel: 'kvm' | 'tcg',
  iommu: IommuRequest | undefined,
): string {
  if (accel === 'kvm' && iommu?.intremap && !/(^|,)kernel-irqchip=/.test(machine))
    return `${machine},kernel-irqchip=split`;
  return machine;
}

/** The -device value of the vIOMMU. */
export function iommuDevice(iommu: IommuRequest): string {
  return [
    'intel-iommu',
    `intremap=${iommu.intremap ? 'on' : 'off'}`,
    `caching-mode=${iommu.cachingMode ? 'on' : 'off'}`,
    ...(iommu.eim !== undefined ? [`eim=${iommu.eim ? 'on' : 'off'}`] : []),
    ...(iommu.iotlb !== undefined ? [`device-iotlb=${iommu.iotlb ? 'on' : 'off'}`] : []),
  ].join(',');
}
