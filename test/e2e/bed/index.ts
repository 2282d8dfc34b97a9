/**
 * The real-kernel test bed (see README "Test bed"): cached Debian kernel and tiny installer media,
 * single-level boots (bootTiny) and an L1 host with a real emulated IOMMU (runInL1).
 */
export {
  bedDir,
  bedLayout,
  ensureBed,
  FAST_KERNEL_ARGS,
  TINY_ISO_LABEL,
  TINY_PACKAGES,
  TINY_RELEASE,
  type Bed,
  type BedKernel,
  type BedMedia,
  type EnsureBedOptions,
} from './build.js';
export { type KernelPackage, ModuleIndex, parseMetaDepends } from './kernel.js';
export {
  createDisk,
  killAllQemu,
  liveQemuCount,
  runQemu,
  tail,
  type QemuResult,
  type QmpEvent,
  type RunQemuOptions,
} from './qemu.js';
export {
  appendCpio,
  bootTiny,
  makeNewcCpio,
  makeOemdrvIso,
  tinyQemuArgs,
  type BootTinyOptions,
  type TinyFailMode,
  type TinyMedia,
  type TinyNic,
} from './tiny.js';
export { l1NicMac, l1QemuArgs, l1RunScript, runInL1, type RunInL1Options, type RunInL1Result } from './l1.js';
export { confirmKickstart, readFixture } from './fixtures.js';
