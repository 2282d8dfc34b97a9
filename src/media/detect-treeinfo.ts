/**
 * The `.treeinfo` detector (anaconda trees: Fedora, RHEL, CentOS Stream, AlmaLinux, Rocky, Oracle
 * and any productmd tree). Reads `.treeinfo`, else `treeinfo`, takes the kernel and initrd from
 * `[images-ARCH]` (`[images-xen]` with --xen), the stage2 image, the variants and `[checksums]`.
 * Whether the tree carries its packages is told by `repodata/repomd.xml` under a variant's repository.
 */
import { inputError } from '../errors.js';
import { normalizeArch } from './arch.js';
import { LIMITS } from './detector.js';
import type { DetectContext, Detector, ProbeView } from './detector.js';
import { parseTreeInfo } from './treeinfo.js';
import type { TreeInfo } from './treeinfo.js';
import type { Arch, Detection } from './types.js';

const NAMES = ['.treeinfo', 'treeinfo'] as const;

function treeinfoText(view: ProbeView): { where: string; text: string } | null {
  for (const where of NAMES) {
    const text = view.text(where);
    if (text !== null) return { where, text };
  }
  return null;
}

function repomdPaths(ti: TreeInfo): string[] {
  const repos = ti.variants.map((v) => v.repository).filter((r): r is string => r !== null);
  const roots = repos.length ? repos : ['.'];
  return [...new Set(roots.map((r) => (r === '.' ? 'repodata/repomd.xml' : `${r}/repodata/repomd.xml`)))];
}

function tryParse(found: { where: string; text: string }): TreeInfo | null {
  try {
    return parseTreeInfo(found.text, found.where);
  } catch {
    return null;
  }
}

/**
 * A tree whose .treeinfo names no arch: the requested one's section, else the host's, else the only
 * `[images-ARCH]` section there is.
 */
function archFromImages(ti: TreeInfo, ctx: DetectContext): Arch | null {
  const arches = Object.keys(ti.images)
    .filter((p) => p !== 'xen')
    .map((p) => normalizeArch(p))
    .filter((a): a is Arch => a !== null);
  if (arches.includes(ctx.hostArch)) return ctx.hostArch;
  return arches.length === 1 ? arches[0]! : null;
}

export const treeinfoDetector: Detector = {
  name: 'treeinfo',
  lookingFor:
    '.treeinfo or treeinfo with [images-ARCH] (Fedora, RHEL, CentOS, AlmaLinux, Rocky, openSUSE, SLE)',
  wants(view) {
    if (!view.known('.treeinfo')) return { read: [{ path: '.treeinfo', maxBytes: LIMITS.treeinfo }] };
    if (!view.has('.treeinfo') && !view.known('treeinfo')) {
      return { read: [{ path: 'treeinfo', maxBytes: LIMITS.treeinfo }] };
    }
    const found = treeinfoText(view);
    const ti = found && tryParse(found);
    return ti ? { exists: repomdPaths(ti) } : {};
  },
  detect(view, ctx: DetectContext): Detection | null {
    const found = treeinfoText(view);
    if (!found) return null;
    const ti = parseTreeInfo(found.text, found.where);
    const arch = ctx.arch ?? ti.arch ?? archFromImages(ti, ctx);
    if (!arch) {
      throw inputError(
        'MEDIA_NO_ARCH',
        `${found.where} names no arch ([tree] arch or [general] arch) and has no single [images-ARCH]`,
        { hint: 'pass --arch' },
      );
    }
    if (ctx.arch && ti.arch && ctx.arch !== ti.arch) {
      throw inputError('MEDIA_ARCH_MISMATCH', `the tree is for ${ti.rawArch}, --arch asked for ${ctx.arch}`, {
        hint: 'point --location at the tree for that architecture, or drop --arch',
      });
    }
    // [images-ARCH] as the tree spells it (`i386`, `ppc64le`), or any spelling of the same arch
    const platforms = ctx.xen
      ? ['xen']
      : [
          ...new Set([
            ti.rawArch ?? arch,
            arch,
            ...Object.keys(ti.images).filter((p) => normalizeArch(p) === arch),
          ]),
        ];
    const platform = platforms.find((p) => ti.images[p]?.kernel && ti.images[p]?.initrd);
    if (!platform) {
      const listed = Object.keys(ti.images).map((p) => `[images-${p}]`);
      throw inputError(
        ctx.xen ? 'MEDIA_NO_XEN_IMAGES' : 'MEDIA_NO_KERNEL',
        `${found.where} lists no kernel and initrd in [images-${platforms[0]}]` +
          (listed.length ? ` (it has ${listed.join(', ')})` : ''),
        {
          hint: ctx.xen
            ? 'drop --xen: this tree has no Xen PV images'
            : 'use --boot kernel=,initrd= or another tree',
        },
      );
    }
    const images = ti.images[platform]!;
    const hasLocalRepo = repomdPaths(ti).some((p) => view.has(p));
    // openSUSE Tumbleweed's .treeinfo names no version: it is a rolling release
    const version =
      ti.version ?? (ti.family === 'suse' && /tumbleweed/i.test(ti.releaseName) ? 'tumbleweed' : null);
    const name = [ti.releaseName, ti.version].filter(Boolean).join(' ');
    return {
      detector: 'treeinfo',
      family: ti.family,
      // openSUSE publishes .treeinfo too; its installer is linuxrc, not anaconda
      installer: ti.family === 'suse' ? 'suse-linuxrc' : 'anaconda',
      version,
      arch,
      name,
      kernel: images.kernel!,
      initrd: images.initrd!,
      ...(ti.stage2 ? { stage2: ti.stage2 } : {}),
      ...(images['boot.iso'] ? { bootIso: images['boot.iso'] } : {}),
      variants: ti.variants,
      checksums: ti.checksums,
      ...(Object.keys(ti.checksums).length ? { checksumSource: `${found.where} [checksums]` } : {}),
      netInstall: ctx.medium === 'http' || !hasLocalRepo,
      evidence: [found.where, ...repomdPaths(ti).filter((p) => view.has(p))],
      warnings: ti.warnings,
    };
  },
};
