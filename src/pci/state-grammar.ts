/**
 * The grammar of every value read back from the state directory (journal records, lease owner files)
 * before it is used. The state directory is written by this tool, but anyone who can write it (or a
 * disk that corrupts it) would otherwise steer root's writes to sysfs: a device address becomes a path
 * (`/sys/bus/pci/devices/<address>/driver_override`), a driver name becomes one path component
 * (`/sys/bus/pci/drivers/<driver>/bind`) and also a value written to the kernel, a PID names a file
 * under /proc, names are echoed to the terminal. Each check is pure; a value that fails is refused
 * with the reason, and the record or owner file holding it is not acted on.
 */

/** A full PCI address as sysfs names it: domain:bus:device.function. */
export const PCI_ADDRESS_RE = /^[0-9a-f]{4,8}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/;
/**
 * A kernel driver name: one path component of letters, digits, `_`, `-`, `.`, `+`, not `.`/`..`
 * (the kernel's own names: vfio-pci, pci-stub, e1000e, snd_hda_intel, xhci_hcd).
 */
export const DRIVER_RE = /^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,63}$/;
/** vendor:device as the inventory records it */
export const VENDOR_DEVICE_RE = /^[0-9a-f]{4}:[0-9a-f]{4}$/;
/** the `vvvv dddd` a stub driver's new_id / remove_id take */
export const DYNID_RE = /^[0-9a-f]{4} [0-9a-f]{4}$/;
/** an IOMMU group number */
export const GROUP_RE = /^\d{1,9}$/;
/** a journal id (also a journal file's name without .jsonl) */
export const JOURNAL_ID_RE = /^[0-9A-Za-z][0-9A-Za-z_.-]{0,127}$/;
/** the largest PID a process identity may name (pid_t is a signed 32-bit integer) */
export const PID_MAX = 2_147_483_647;
/** /proc/<pid>/stat field 22: clock ticks */
const START_TIME_RE = /^\d{1,20}$/;
/** /proc/sys/kernel/random/boot_id (a UUID); tests use short words */
const BOOT_ID_RE = /^[0-9A-Za-z-]{1,64}$/;

export { printable, unsafeCharacter } from '../safe-text.js';
import { printable, unsafeCharacter } from '../safe-text.js';

export type Check = (value: unknown) => string | null;

const isStr = (v: unknown): v is string => typeof v === 'string';
const show = (v: unknown): string => printable(JSON.stringify(v) ?? String(v)).slice(0, 80);

export const check = {
  address: (v: unknown): string | null =>
    isStr(v) && PCI_ADDRESS_RE.test(v) ? null : `${show(v)} is not a PCI address (dddd:bb:dd.f)`,
  driver: (v: unknown): string | null =>
    isStr(v) && DRIVER_RE.test(v) ? null : `${show(v)} is not a driver name (one path component)`,
  driverOrNull: (v: unknown): string | null => (v === null ? null : check.driver(v)),
  vendorDeviceOrNull: (v: unknown): string | null =>
    v === null || (isStr(v) && VENDOR_DEVICE_RE.test(v)) ? null : `${show(v)} is not vendor:device`,
  groupOrNull: (v: unknown): string | null =>
    v === null || (isStr(v) && GROUP_RE.test(v)) ? null : `${show(v)} is not an IOMMU group number`,
  dynid: (v: unknown): string | null =>
    isStr(v) && DYNID_RE.test(v) ? null : `${show(v)} is not a "vvvv dddd" id`,
  journalId: (v: unknown): string | null =>
    isStr(v) && JOURNAL_ID_RE.test(v) ? null : `${show(v)} is not a journal id`,
  /** free text that is printed (guest names, commands, reasons, times): bounded, no unsafe character */
  text: (v: unknown): string | null => {
    if (!isStr(v) || v.length > 256) return `${show(v)} is not a short text`;
    const bad = unsafeCharacter(v);
    return bad ? `${show(v)} holds the control or bidi character ${bad}` : null;
  },
  pid: (v: unknown): string | null =>
    typeof v === 'number' && Number.isSafeInteger(v) && v > 0 && v <= PID_MAX
      ? null
      : `${show(v)} is not a PID`,
  startTimeOrNull: (v: unknown): string | null =>
    v === null || (isStr(v) && START_TIME_RE.test(v)) ? null : `${show(v)} is not a process start time`,
  bootIdOrNull: (v: unknown): string | null =>
    v === null || (isStr(v) && BOOT_ID_RE.test(v)) ? null : `${show(v)} is not a boot id`,
  oneOf:
    (values: readonly string[]): Check =>
    (v) =>
      isStr(v) && values.includes(v) ? null : `${show(v)} is not one of ${values.join(', ')}`,
};

/** The first failing field of `obj` as `field: reason`, or null when every field passes. */
export function checkFields(obj: Record<string, unknown>, fields: Record<string, Check>): string | null {
  for (const [name, c] of Object.entries(fields)) {
    const why = c(obj[name]);
    if (why) return `${name}: ${why}`;
  }
  return null;
}

/** Checks a process identity (journal run owner, lease owner); null when valid. */
export function checkIdentity(v: unknown): string | null {
  if (!v || typeof v !== 'object') return 'owner: missing';
  const why = checkFields(v as Record<string, unknown>, {
    pid: check.pid,
    startTime: check.startTimeOrNull,
    bootId: check.bootIdOrNull,
  });
  return why ? `owner.${why}` : null;
}
