/**
 * Ubuntu's live-server ISOs (18.04 live and later; the only kind since 20.10): the subiquity
 * installer runs from `casper/vmlinuz` + `casper/initrd`, `.disk/info` names the release. The guest
 * needs the ISO attached (casper looks for its CD), so over HTTP this is recognised with a warning.
 */
import { LIMITS } from './detector.js';
import type { DetectContext, Detector, ProbeView } from './detector.js';
import {
  UBUNTU_CODENAMES,
  archCandidates,
  cdSums,
  cdSumsWants,
  checkArch,
  codenameOf,
  firstExisting,
  parseDiskInfo,
} from './detect-util.js';
import type { Arch, Detection } from './types.js';

const INITRDS = ['casper/initrd', 'casper/initrd.gz', 'casper/initrd.lz'] as const;

function candidates(view: ProbeView, ctx: DetectContext) {
  const info = parseDiskInfo(view.text('.disk/info') ?? '');
  // casper/vmlinuz is the same path on every arch: the arch comes from .disk/info or the request
  const arch: Arch = ctx.arch ?? info.arch ?? archCandidates(ctx)[0]!;
  return INITRDS.map((initrd) => ({ files: ['casper/vmlinuz', initrd], value: { arch, initrd } }));
}

export const ubuntuCasperDetector: Detector = {
  name: 'ubuntu-casper',
  lookingFor: 'casper/vmlinuz and casper/initrd (Ubuntu live-server ISO)',
  wants(view, ctx) {
    if (!view.known('.disk/info')) return { read: [{ path: '.disk/info', maxBytes: LIMITS.small }] };
    const probe = firstExisting(view, candidates(view, ctx));
    if (probe.state === 'want') return probe.wants;
    return probe.state === 'found' ? cdSumsWants(view) : {};
  },
  detect(view, ctx): Detection | null {
    const probe = firstExisting(view, candidates(view, ctx));
    if (probe.state !== 'found') return null;
    const infoText = view.text('.disk/info');
    const info = parseDiskInfo(infoText ?? '');
    checkArch(ctx, info.arch, '.disk/info');
    const family = info.distro === 'ubuntu' || infoText === null ? 'ubuntu' : 'generic';
    const sums = cdSums(view);
    const codename = info.codename ?? codenameOf(info.version, UBUNTU_CODENAMES);
    const name =
      family === 'ubuntu'
        ? `Ubuntu ${info.version ?? '(version unknown)'}${codename && info.version ? ` (${codename})` : ''}`
        : (infoText?.trim().split('\n')[0] ?? 'casper live system');
    return {
      detector: 'ubuntu-casper',
      family,
      installer: 'casper',
      version: info.version,
      arch: probe.value.arch,
      name,
      kernel: 'casper/vmlinuz',
      initrd: probe.value.initrd,
      variants: [],
      checksums: sums.checksums,
      ...(sums.source ? { checksumSource: sums.source } : {}),
      netInstall: false,
      evidence: [
        ...(infoText !== null ? ['.disk/info'] : []),
        'casper/vmlinuz',
        probe.value.initrd,
        ...(sums.source ? [sums.source] : []),
      ],
      warnings: [
        ...sums.warnings,
        ...(infoText === null ? ['no .disk/info: assuming Ubuntu'] : []),
        ...(ctx.medium !== 'iso'
          ? ['casper looks for its CD: the guest needs the ISO attached (use --location ISO)']
          : []),
      ],
    };
  },
};
