/**
 * Debian and Ubuntu d-i trees, three layouts:
 * - debian-mirror: a mirror's `…/main/installer-ARCH/` (or `daily-images/ARCH/`) directory:
 *   `current/images/MANIFEST` (also `current/legacy-images/`, `daily/`, or the images directory
 *   itself) naming Debian or Ubuntu, the netboot kernel `netboot/debian-installer/ARCH/linux` +
 *   `initrd.gz`, `SHA256SUMS` beside the MANIFEST, `netboot/xen/` with --xen;
 * - debian-netboot: the netboot tarball's layout (as the Debian package
 *   debian-installer-12-netboot-amd64 installs it, which virt-install does not recognise):
 *   `version.info` + `debian-installer/ARCH/linux` + `initrd.gz`;
 * - debian-cd: a CD/DVD's layout (ISO or its copy): `.disk/info` + `install.amd/vmlinuz` (per arch:
 *   `install.a64/`, `install.386/`, ppc64el `install/vmlinux`, s390x `boot/linux_vm` + `root.bin`);
 *   over HTTP or from a directory the netboot kernel under `install/netboot/` when the CD has one.
 */
import { inputError } from '../errors.js';
import { debianArch, normalizeArch } from './arch.js';
import { parseSumsFile } from './checksums.js';
import { LIMITS } from './detector.js';
import type { DetectContext, Detector, ProbeView, Wants } from './detector.js';
import {
  DEBIAN_CODENAMES,
  UBUNTU_CODENAMES,
  archCandidates,
  capitalise,
  cdSums,
  cdSumsWants,
  checkArch,
  codenameInLocation,
  codenameOf,
  firstExisting,
  mergeWants,
  parseDiskInfo,
  parseVersionInfo,
} from './detect-util.js';
import type { Arch, Detection } from './types.js';

type Deb = 'debian' | 'ubuntu';

/**
 * The netboot kernel and initrd for one arch: on a mirror under `PREFIX/netboot/` (s390x: under
 * `PREFIX/generic/`), in a netboot tarball at its root; null when the layout has none for the arch.
 */
export function netbootPair(
  deb: Deb,
  arch: Arch,
  layout: { prefix: string } | 'tarball',
): [string, string] | null {
  const d = debianArch(arch);
  if (arch === 's390x') {
    return layout === 'tarball'
      ? null
      : [`${layout.prefix}generic/kernel.${deb}`, `${layout.prefix}generic/initrd.${deb}`];
  }
  const root = layout === 'tarball' ? '' : `${layout.prefix}netboot/`;
  const kernel = arch === 'ppc64le' ? 'vmlinux' : 'linux';
  return [`${root}${deb}-installer/${d}/${kernel}`, `${root}${deb}-installer/${d}/initrd.gz`];
}

function xenPair(prefix: string): [string, string] {
  return [`${prefix}netboot/xen/vmlinuz`, `${prefix}netboot/xen/initrd.gz`];
}

function releaseName(deb: Deb, version: string | null, codename: string | null): string {
  const name = capitalise(deb);
  if (!version) return `${name} (version unknown)`;
  return codename ? `${name} ${version} (${codename})` : `${name} ${version}`;
}

function versionFrom(
  deb: Deb,
  location: string,
  versionInfo: string | null,
): { version: string | null; codename: string | null } {
  const table = deb === 'ubuntu' ? UBUNTU_CODENAMES : DEBIAN_CODENAMES;
  if (versionInfo) {
    const vi = parseVersionInfo(versionInfo);
    if (vi.version) return { version: vi.version, codename: vi.codename ?? codenameOf(vi.version, table) };
  }
  const fromUrl = codenameInLocation(location, table);
  return fromUrl
    ? { version: fromUrl.version, codename: fromUrl.codename }
    : { version: null, codename: null };
}

// ---------------------------------------------------------------- mirror

const MIRROR_LAYOUTS = [
  { manifest: 'current/images/MANIFEST', prefix: 'current/images/', kind: 'current' },
  { manifest: 'current/legacy-images/MANIFEST', prefix: 'current/legacy-images/', kind: 'legacy-images' },
  { manifest: 'daily/MANIFEST', prefix: 'daily/', kind: 'daily' },
  { manifest: 'MANIFEST', prefix: '', kind: 'images' },
] as const;

function mirrorLayout(
  view: ProbeView,
): { layout: (typeof MIRROR_LAYOUTS)[number]; deb: Deb } | 'want' | null {
  for (const layout of MIRROR_LAYOUTS) {
    if (!view.known(layout.manifest)) return 'want';
    const text = view.text(layout.manifest);
    if (text === null) continue;
    // virt-install's rule: a MANIFEST mentioning Ubuntu is Ubuntu's, else one mentioning Debian
    if (/ubuntu/i.test(text)) return { layout, deb: 'ubuntu' };
    if (/debian/i.test(text)) return { layout, deb: 'debian' };
    return null;
  }
  return null;
}

/** The arch a mirror URL names: `…/installer-amd64/`, `…/daily-images/arm64/`. */
export function archInMirrorUrl(location: string): Arch | null {
  const m =
    /\/installer-([a-z0-9]+)(?:\/|$)/i.exec(location) ??
    /\/daily-images\/([a-z0-9]+)(?:\/|$)/i.exec(location);
  return m ? normalizeArch(m[1]!) : null;
}

function mirrorCandidates(ctx: DetectContext, deb: Deb, prefix: string) {
  const urlArch = archInMirrorUrl(ctx.location);
  return archCandidates(ctx, urlArch).flatMap((arch) => {
    const files = ctx.xen ? xenPair(prefix) : netbootPair(deb, arch, { prefix });
    return files ? [{ files, value: arch }] : [];
  });
}

export const debianMirrorDetector: Detector = {
  name: 'debian-mirror',
  lookingFor:
    'current/images/MANIFEST (also current/legacy-images/, daily/) with netboot/debian-installer/ARCH/linux (Debian/Ubuntu mirrors)',
  wants(view, ctx) {
    const found = mirrorLayout(view);
    if (found === 'want') {
      const next = MIRROR_LAYOUTS.find((l) => !view.known(l.manifest))!;
      return { read: [{ path: next.manifest, maxBytes: LIMITS.manifest }] };
    }
    if (!found) return {};
    const { layout, deb } = found;
    const probe = firstExisting(view, mirrorCandidates(ctx, deb, layout.prefix));
    const meta: Wants = {
      read: [
        { path: `${layout.prefix}SHA256SUMS`, maxBytes: LIMITS.sums },
        { path: `${layout.prefix}netboot/version.info`, maxBytes: LIMITS.small },
      ],
    };
    return probe.state === 'want' ? mergeWants(probe.wants, meta) : meta;
  },
  detect(view, ctx): Detection | null {
    const found = mirrorLayout(view);
    if (!found || found === 'want') return null;
    const { layout, deb } = found;
    checkArch(ctx, archInMirrorUrl(ctx.location), ctx.location);
    const probe = firstExisting(view, mirrorCandidates(ctx, deb, layout.prefix));
    if (probe.state !== 'found') {
      if (ctx.xen) {
        throw inputError('MEDIA_NO_XEN_IMAGES', `${layout.prefix}netboot/xen/ has no vmlinuz and initrd.gz`, {
          hint: 'drop --xen',
        });
      }
      return null;
    }
    const arch = probe.value;
    const [kernel, initrd] = ctx.xen ? xenPair(layout.prefix) : netbootPair(deb, arch, layout)!;
    const sumsPath = `${layout.prefix}SHA256SUMS`;
    const sums = view.text(sumsPath);
    const parsed = sums ? parseSumsFile(sums, 'sha256', layout.prefix) : { checksums: {}, warnings: [] };
    // daily builds are of the release being prepared: virt-install calls them debiantesting
    const { version, codename } =
      layout.kind === 'daily'
        ? { version: deb === 'debian' ? 'testing' : null, codename: null }
        : versionFrom(deb, ctx.location, view.text(`${layout.prefix}netboot/version.info`));
    return {
      detector: 'debian-mirror',
      family: deb,
      installer: 'debian-installer',
      version,
      arch,
      name:
        layout.kind === 'daily'
          ? `${capitalise(deb)}${version ? ` ${version}` : ''} (daily installer build)`
          : releaseName(deb, version, codename),
      kernel,
      initrd,
      variants: [],
      checksums: parsed.checksums,
      ...(sums ? { checksumSource: sumsPath } : {}),
      netInstall: true,
      evidence: [layout.manifest, kernel, initrd, ...(sums ? [sumsPath] : [])],
      warnings: [
        ...parsed.warnings,
        ...(version === null && layout.kind !== 'daily'
          ? [
              'the version is unknown: the location names no codename (…/dists/bookworm/…) and the tree has no version.info',
            ]
          : []),
      ],
    };
  },
};

// ---------------------------------------------------------------- netboot tarball

function netbootCandidates(view: ProbeView, ctx: DetectContext) {
  const vi = view.text('version.info');
  const debs: Deb[] =
    vi === null ? ['debian', 'ubuntu'] : parseVersionInfo(vi).ubuntu ? ['ubuntu'] : ['debian'];
  const arches = archCandidates(ctx);
  return debs.flatMap((deb) =>
    arches.flatMap((arch) => {
      const files = netbootPair(deb, arch, 'tarball');
      return files ? [{ files, value: { deb, arch } }] : [];
    }),
  );
}

export const debianNetbootDetector: Detector = {
  name: 'debian-netboot',
  lookingFor:
    'debian-installer/ARCH/linux and initrd.gz with version.info (Debian/Ubuntu netboot tarball layout)',
  wants(view, ctx) {
    if (!view.known('version.info')) return { read: [{ path: 'version.info', maxBytes: LIMITS.small }] };
    const probe = firstExisting(view, netbootCandidates(view, ctx));
    return probe.state === 'want' ? probe.wants : {};
  },
  detect(view, ctx): Detection | null {
    const probe = firstExisting(view, netbootCandidates(view, ctx));
    if (probe.state !== 'found') return null;
    const { deb, arch } = probe.value;
    if (ctx.xen) {
      throw inputError('MEDIA_NO_XEN_IMAGES', 'a netboot tarball tree has no Xen PV images', {
        hint: 'drop --xen, or use the mirror tree (…/installer-amd64/) whose current/images/netboot/xen/ has them',
      });
    }
    const [kernel, initrd] = netbootPair(deb, arch, 'tarball')!;
    const { version, codename } = versionFrom(deb, ctx.location, view.text('version.info'));
    return {
      detector: 'debian-netboot',
      family: deb,
      installer: 'debian-installer',
      version,
      arch,
      name: releaseName(deb, version, codename),
      kernel,
      initrd,
      variants: [],
      checksums: {},
      netInstall: true,
      evidence: [...(view.has('version.info') ? ['version.info'] : []), kernel, initrd],
      warnings: [
        'the netboot tarball layout carries no checksums: the kernel and initrd are not verified',
        ...(version === null ? ['the version is unknown: the tree has no version.info'] : []),
      ],
    };
  },
};

// ---------------------------------------------------------------- CD / DVD

/** A d-i CD's kernel and initrd for one arch (virt-install's table). */
export function cdPair(deb: Deb, arch: Arch): [string, string] | null {
  if (deb === 'ubuntu')
    return arch === 's390x'
      ? ['boot/kernel.ubuntu', 'boot/initrd.ubuntu']
      : ['install/vmlinuz', 'install/initrd.gz'];
  switch (arch) {
    case 'x86_64':
      return ['install.amd/vmlinuz', 'install.amd/initrd.gz'];
    case 'i686':
      return ['install.386/vmlinuz', 'install.386/initrd.gz'];
    case 'aarch64':
      return ['install.a64/vmlinuz', 'install.a64/initrd.gz'];
    case 'ppc64le':
      return ['install/vmlinux', 'install/initrd.gz'];
    case 's390x':
      return ['boot/linux_vm', 'boot/root.bin'];
    case 'armv7l':
      return ['install.ahf/cdrom/vmlinuz', 'install.ahf/cdrom/initrd.gz'];
    case 'riscv64':
      return ['install.rv64/vmlinuz', 'install.rv64/initrd.gz'];
  }
}

/**
 * A CD's contents served over HTTP or copied to a directory: its network-booting kernel
 * (`install/netboot/ARCH-installer/ARCH/linux`, virt-install's "mounted ISO" paths) comes first,
 * because the CD kernel looks for its CD; an ISO read directly uses the CD kernel.
 */
export function mountedIsoPair(deb: Deb, arch: Arch): [string, string] | null {
  const pair = netbootPair(deb, arch, { prefix: 'install/' });
  return arch === 's390x' ? null : pair;
}

type CdBoot = { arch: Arch; pair: [string, string]; netboot: boolean };

function cdCandidates(view: ProbeView, ctx: DetectContext): { files: string[]; value: CdBoot }[] {
  const info = parseDiskInfo(view.text('.disk/info') ?? '');
  if (!info.distro) return [];
  const deb = info.distro;
  return archCandidates(ctx, info.arch).flatMap((arch) => {
    const out: { files: string[]; value: CdBoot }[] = [];
    const net = ctx.medium === 'iso' ? null : mountedIsoPair(deb, arch);
    if (net) out.push({ files: net, value: { arch, pair: net, netboot: true } });
    const cd = cdPair(deb, arch);
    if (cd) out.push({ files: cd, value: { arch, pair: cd, netboot: false } });
    return out;
  });
}

export const debianCdDetector: Detector = {
  name: 'debian-cd',
  lookingFor:
    '.disk/info with install.amd/vmlinuz, install.a64/, install.386/, install/vmlinux or boot/linux_vm (Debian/Ubuntu CD and DVD layout)',
  wants(view, ctx) {
    if (!view.known('.disk/info')) return { read: [{ path: '.disk/info', maxBytes: LIMITS.small }] };
    const probe = firstExisting(view, cdCandidates(view, ctx));
    if (probe.state === 'want') return probe.wants;
    return probe.state === 'found' ? cdSumsWants(view) : {};
  },
  detect(view, ctx): Detection | null {
    const infoText = view.text('.disk/info');
    if (infoText === null) return null;
    const info = parseDiskInfo(infoText);
    if (!info.distro) return null;
    checkArch(ctx, info.arch, '.disk/info');
    const probe = firstExisting(view, cdCandidates(view, ctx));
    if (probe.state !== 'found') return null;
    if (ctx.xen) {
      throw inputError('MEDIA_NO_XEN_IMAGES', 'a Debian CD has no Xen PV images', { hint: 'drop --xen' });
    }
    const { arch, pair, netboot } = probe.value;
    const [kernel, initrd] = pair;
    const sums = cdSums(view);
    const codename =
      info.codename ??
      codenameOf(info.version, info.distro === 'ubuntu' ? UBUNTU_CODENAMES : DEBIAN_CODENAMES);
    return {
      detector: 'debian-cd',
      family: info.distro,
      installer: 'debian-installer',
      version: info.version,
      arch,
      name: releaseName(info.distro, info.version, codename),
      kernel,
      initrd,
      variants: [],
      checksums: sums.checksums,
      ...(sums.source ? { checksumSource: sums.source } : {}),
      netInstall: ctx.medium === 'http' || info.netinst || netboot,
      evidence: ['.disk/info', kernel, initrd, ...(sums.source ? [sums.source] : [])],
      warnings: [
        ...sums.warnings,
        ...(ctx.medium !== 'iso' && !netboot
          ? [
              'this is a CD installer: its initrd looks for the CD, so the guest needs the ISO attached (use --location ISO)',
            ]
          : []),
      ],
    };
  },
};
