/**
 * The user-facing errors of a failed binding step: the step, what was attempted, the errno, and
 * whether every device was given back; with a hint per step code.
 */
import { type InstallGuestError, hostError } from '../errors.js';
import type { StepFailure } from './binding.js';

export const STEP_HINT: Record<string, string> = {
  DRIVER_OVERRIDE_FAILED:
    'the kernel may lack driver_override (Linux 3.16+); --driver pci-stub uses new_id instead',
  UNBIND_FAILED: 'the host driver would not let go of the device; see dmesg, stop what uses it, then retry',
  PROBE_FAILED: 'see dmesg for why no driver took the device',
  BIND_FAILED:
    'the driver refused the device; see dmesg (for vfio-pci the IOMMU must be on: intel_iommu=on or amd_iommu=on)',
  BIND_VERIFY_FAILED:
    'the driver refused the device; see dmesg (for vfio-pci the IOMMU must be on: intel_iommu=on or amd_iommu=on)',
  NEW_ID_FAILED: 'pci-stub refused the id; see dmesg, or use --driver vfio-pci',
  REMOVE_ID_FAILED: 'pci-stub kept the id; run install-guest recover',
  RESET_FAILED: 'use --driver vfio-pci (vfio resets the device when the guest opens it)',
  NO_RESET_METHOD: 'use --driver vfio-pci (vfio resets the device when the guest opens it)',
  DEVICE_VANISHED:
    'the device disappeared (hot-unplug or removal); rescan with: echo 1 > /sys/bus/pci/rescan',
};

/** The user-facing error for a failed step, saying whether every device was given back. */
export function stepError(
  e: StepFailure,
  rollbackFailures: readonly string[],
  verb: string,
): InstallGuestError {
  const back =
    rollbackFailures.length === 0
      ? `every device was given back its original driver`
      : `could NOT give back: ${rollbackFailures.join('; ')}`;
  return hostError(
    e.code,
    `${e.address ? `${e.address}: ` : ''}step '${e.step}' (${e.attempted}) failed while ${verb}: ${e.detail}; ${back}`,
    {
      hint:
        rollbackFailures.length === 0
          ? STEP_HINT[e.code]
          : 'run `install-guest recover` to give the remaining devices back',
      data: { address: e.address, step: e.step, attempted: e.attempted, errno: e.errno, rollbackFailures },
      cause: e,
    },
  );
}

export function abortName(reason: unknown): string {
  return (reason as { signal?: string } | undefined)?.signal ?? 'abort';
}
