/**
 * Detectors beyond anaconda and d-i, after virt-install's:
 * - suse-content: SUSE/openSUSE trees with a `content` file (openSUSE 10.x–15.x, Leap 42.x,
 *   Tumbleweed, SLES/SLED 10–15): the product from LABEL or DISTRO, the version from the SLE name
 *   (`11 SP4` → 11.4), VERSION or the DISTRO cpe, the arch from BASEARCHS/DEFAULTBASE/REPOID,
 *   `HASH SHA256|SHA1 hex path` lines as checksums, the kernel `boot/ARCH/loader/linux` (or
 *   `boot/ARCH/linux`, s390x's `vmrdr.ikr`, `boot/loader/linux64`) with its initrd,
 *   `boot/ARCH/vmlinuz-xen` with --xen;
 * - mageia: a `VERSION` file starting `Mageia N`, kernel `isolinux/ARCH/vmlinuz` + `all.rdz`.
 */
import { inputError } from '../errors.js';
import { normalizeArch } from './arch.js';
import type { Detector, ProbeView, DetectContext } from './detector.js';
import { LIMITS } from './detector.js';
import { archCandidates, checkArch, firstExisting } from './detect-util.js';
import { safeRelPath } from './safe-path.js';
import type { Arch, Checksum, ChecksumAlgo, Detection } from './types.js';

// ---------------------------------------------------------------- SUSE

export interface SuseContent {
  fields: Record<string, string>;
  checksums: Record<string, Checksum>;
  warnings: string[];
}

/** The `content` file: `KEY  value` lines, `HASH ALGO hex path` and `META ALGO hex path` lines. */
export function parseSuseContent(text: string): SuseContent {
  const fields: Record<string, string> = {};
  const checksums: Record<string, Checksum> = {};
  const warnings: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^(\S+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const key = m[1]!.toUpperCase();
    const value = m[2]!.trim();
    if (key === 'HASH') {
      const h = /^(SHA256|SHA1|SHA512|MD5)\s+([0-9a-fA-F]+)\s+(\S+)$/i.exec(value);
      if (!h) continue;
      const rel = safeRelPath(h[3]!);
      if (rel === null) {
        warnings.push(`content: ignored a checksum for ${JSON.stringify(h[3])}: outside the tree`);
        continue;
      }
      checksums[rel] = { algo: h[1]!.toLowerCase() as ChecksumAlgo, hex: h[2]!.toLowerCase() };
    } else if (key !== 'META' && !(key in fields)) {
      fields[key] = value;
    }
  }
  return { fields, checksums, warnings };
}

/** What a `content` file says about the product, after virt-install's reading of it. */
export interface SuseProduct {
  /** `openSUSE Leap 15.5`, `SUSE Linux Enterprise Server 11 SP4`, `openSUSE` */
  productName: string;
  /** `15.5`, `11.4` (SLE: major.SP), `tumbleweed`; null when the file does not say */
  version: string | null;
  /** the architectures the tree's boot directory serves, in the file's order */
  arches: Arch[];
}

/**
 * The product a SUSE `content` file describes, or null when it is not a SUSE product file. The name
 * is LABEL, else the text after the comma of DISTRO (`cpe:/o:opensuse:opensuse:13.2,openSUSE`,
 * the only form since 2018); the version is SLE's `N SPm` from the name, else VERSION without its
 * `-release` suffix, else the cpe's version; the arch is BASEARCHS, else DEFAULTBASE, else the last
 * segment of REPOID (`…/ftp/i586-x86_64` is the x86_64 tree).
 */
export function suseProduct(fields: Record<string, string>): SuseProduct | null {
  const distro = fields.DISTRO ?? '';
  const productName =
    fields.LABEL ?? (distro.includes(',') ? distro.slice(distro.lastIndexOf(',') + 1).trim() : null);
  if (!productName || !/suse|\bsle[sd]?\b/i.test(productName)) return null;

  let version: string | null = null;
  const sle = /SUSE Linux Enterprise (?:Server|Desktop)(?: for \S+)? (\d+)(?: SP(\d+))?/i.exec(productName);
  if (/tumbleweed/i.test(productName)) version = 'tumbleweed';
  else if (sle) version = sle[2] ? `${sle[1]}.${sle[2]}` : sle[1]!;
  else if (fields.VERSION) version = fields.VERSION.split('-')[0]!.trim() || null;
  else if (distro.includes(',')) {
    // cpe:/o:VENDOR:PRODUCT:VERSION[:UPDATE],Name
    version = distro.slice(0, distro.lastIndexOf(',')).split(':')[4]?.trim() || null;
  }
  version ??= /\s(\d+(?:\.\d+)?)$/.exec(productName)?.[1] ?? null;

  const raw = fields.BASEARCHS ?? fields.DEFAULTBASE ?? fields.REPOID?.split('/').pop() ?? '';
  const words = raw.includes('i586-x86_64') ? ['x86_64'] : raw.split(/\s+/);
  const arches: Arch[] = [];
  for (const w of words) {
    const a = normalizeArch(w);
    if (a && !arches.includes(a)) arches.push(a);
  }
  return { productName, version, arches };
}

/** SUSE spells i686 as i386 in its boot directories. */
function suseArch(a: Arch): string {
  return a === 'i686' ? 'i386' : a;
}

/**
 * The kernel and initrd pairs a SUSE tree may have for one arch, most common first (virt-install's
 * list): `boot/ARCH/loader/` (openSUSE ≥ 10.2, SLE 10–15 on x86), `boot/ARCH/` (s390x, ppc64le,
 * aarch64), `boot/s390x/vmrdr.ikr` (SLE 11 on s390x), `boot/loader/linux64` (openSUSE 10.0); with
 * --xen only `boot/ARCH/vmlinuz-xen`.
 */
export function susePairs(arch: Arch, xen: boolean): [string, string][] {
  const a = suseArch(arch);
  if (xen) return [[`boot/${a}/vmlinuz-xen`, `boot/${a}/initrd-xen`]];
  const loader: [string, string] = [`boot/${a}/loader/linux`, `boot/${a}/loader/initrd`];
  const flat: [string, string] = [`boot/${a}/linux`, `boot/${a}/initrd`];
  const pairs: [string, string][] = arch === 's390x' ? [flat, loader] : [loader, flat];
  if (arch === 's390x') pairs.push(['boot/s390x/vmrdr.ikr', 'boot/s390x/initrd']);
  const old = arch === 'x86_64' ? '64' : '';
  pairs.push([`boot/loader/linux${old}`, `boot/loader/initrd${old}`]);
  return pairs;
}

function suseArchCandidates(ctx: DetectContext, treeArches: Arch[]): Arch[] {
  if (ctx.arch) return [ctx.arch];
  if (treeArches.length) {
    return treeArches.includes(ctx.hostArch)
      ? [ctx.hostArch, ...treeArches.filter((a) => a !== ctx.hostArch)]
      : treeArches;
  }
  return archCandidates(ctx);
}

function suseCandidates(ctx: DetectContext, treeArches: Arch[]) {
  return suseArchCandidates(ctx, treeArches).flatMap((arch) =>
    susePairs(arch, ctx.xen).map((files) => ({ files, value: { arch, files } })),
  );
}

function suseOf(view: ProbeView): { content: SuseContent; product: SuseProduct } | null {
  const text = view.text('content');
  if (text === null) return null;
  const content = parseSuseContent(text);
  const product = suseProduct(content.fields);
  return product ? { content, product } : null;
}

export const suseContentDetector: Detector = {
  name: 'suse-content',
  lookingFor:
    'content (LABEL or DISTRO naming SUSE) with boot/ARCH/loader/linux or boot/ARCH/linux (SUSE, openSUSE)',
  wants(view: ProbeView, ctx) {
    if (!view.known('content')) return { read: [{ path: 'content', maxBytes: LIMITS.manifest }] };
    const suse = suseOf(view);
    if (!suse) return {};
    const probe = firstExisting(view, suseCandidates(ctx, suse.product.arches));
    if (probe.state === 'want') return probe.wants;
    return view.known('repodata/repomd.xml') || view.known('suse/setup/descr/packages.gz')
      ? {}
      : { exists: ['repodata/repomd.xml', 'suse/setup/descr/packages.gz'] };
  },
  detect(view, ctx): Detection | null {
    const suse = suseOf(view);
    if (!suse) return null;
    const { content: c, product } = suse;
    if (ctx.arch && product.arches.length && !product.arches.includes(ctx.arch)) {
      throw inputError(
        'MEDIA_ARCH_MISMATCH',
        `content is for ${product.arches.join(', ')}, --arch asked for ${ctx.arch}`,
        { hint: 'point --location at the tree for that architecture, or drop --arch' },
      );
    }
    const probe = firstExisting(view, suseCandidates(ctx, product.arches));
    if (probe.state !== 'found') {
      if (ctx.xen) {
        throw inputError('MEDIA_NO_XEN_IMAGES', 'the SUSE tree has no boot/ARCH/vmlinuz-xen', {
          hint: 'drop --xen',
        });
      }
      return null;
    }
    const { arch, files } = probe.value;
    const [kernel, initrd] = files;
    const { productName, version } = product;
    const name =
      // `LABEL openSUSE` (12.3) or `DISTRO …,openSUSE` (13.2) name no release: add the version
      version && version !== 'tumbleweed' && !/\d/.test(productName)
        ? `${productName} ${version}`
        : productName;
    const hasPackages = view.has('repodata/repomd.xml') || view.has('suse/setup/descr/packages.gz');
    return {
      detector: 'suse-content',
      family: 'suse',
      installer: 'suse-linuxrc',
      version,
      arch,
      name,
      kernel,
      initrd,
      variants: [],
      checksums: c.checksums,
      ...(Object.keys(c.checksums).length ? { checksumSource: 'content (HASH lines)' } : {}),
      netInstall: ctx.medium === 'http' || !hasPackages,
      evidence: ['content', kernel, initrd],
      warnings: [...c.warnings, ...(version === null ? ['the version is unknown: content names none'] : [])],
    };
  },
};

// ---------------------------------------------------------------- Mageia

/** Mageia names its 32-bit architecture i586. */
function mageiaArch(a: Arch): string {
  return a === 'i686' ? 'i586' : a;
}

function mageiaCandidates(ctx: DetectContext, treeArch: Arch | null) {
  return archCandidates(ctx, treeArch).map((arch) => {
    const files: [string, string] = [
      `isolinux/${mageiaArch(arch)}/vmlinuz`,
      `isolinux/${mageiaArch(arch)}/all.rdz`,
    ];
    return { files, value: { arch, files } };
  });
}

function mageiaVersion(text: string | null): { version: string; arch: Arch | null } | null {
  const m = /^Mageia (\d+(?:\.\d+)?)\b(.*)$/m.exec(text ?? '');
  if (!m) return null;
  let arch: Arch | null = null;
  // `Mageia 9 x86_64 …`, `Mageia 8 Devel-x86_64-Download 20200717 20:37`
  for (const w of m[2]!.split(/[\s-]+/)) arch ??= normalizeArch(w);
  return { version: m[1]!, arch };
}

export const mageiaDetector: Detector = {
  name: 'mageia',
  lookingFor: 'VERSION ("Mageia N") with isolinux/ARCH/vmlinuz and all.rdz (Mageia)',
  wants(view, ctx) {
    if (!view.known('VERSION')) return { read: [{ path: 'VERSION', maxBytes: LIMITS.small }] };
    const v = mageiaVersion(view.text('VERSION'));
    if (!v) return {};
    const probe = firstExisting(view, mageiaCandidates(ctx, v.arch));
    return probe.state === 'want' ? probe.wants : {};
  },
  detect(view, ctx): Detection | null {
    const v = mageiaVersion(view.text('VERSION'));
    if (!v) return null;
    if (ctx.xen)
      throw inputError('MEDIA_NO_XEN_IMAGES', 'Mageia trees have no Xen PV images', { hint: 'drop --xen' });
    checkArch(ctx, v.arch, 'VERSION');
    const probe = firstExisting(view, mageiaCandidates(ctx, v.arch));
    if (probe.state !== 'found') return null;
    const { arch, files } = probe.value;
    const [kernel, initrd] = files;
    return {
      detector: 'mageia',
      family: 'mageia',
      installer: 'mageia-drakx',
      version: v.version,
      arch,
      name: `Mageia ${v.version}`,
      kernel,
      initrd,
      variants: [],
      checksums: {},
      netInstall: ctx.medium === 'http',
      evidence: ['VERSION', kernel, initrd],
      warnings: [
        'Mageia trees publish no checksum list inside the tree: the kernel and initrd are not verified',
      ],
    };
  },
};
