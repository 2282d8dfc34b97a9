/**
 * Detectors beyond anaconda and d-i, after virt-install's:
 * - suse-content: SUSE/openSUSE trees with a `content` file (openSUSE Leap ≤ 15, SLES 10–15): the
 *   product from LABEL/DISTRIBUTION/VERSION, `HASH SHA256|SHA1 hex path` lines as checksums, the
 *   kernel `boot/ARCH/loader/linux` (or `boot/ARCH/linux`, `boot/loader/linux`) with its `initrd`,
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

/** SUSE spells i686 as i386 in its boot directories. */
function suseArch(a: Arch): string {
  return a === 'i686' ? 'i386' : a;
}

function suseCandidates(ctx: DetectContext, treeArch: Arch | null) {
  return archCandidates(ctx, treeArch).flatMap((arch) => {
    const a = suseArch(arch);
    const pairs: [string, string][] = ctx.xen
      ? [[`boot/${a}/vmlinuz-xen`, `boot/${a}/initrd-xen`]]
      : [
          [`boot/${a}/loader/linux`, `boot/${a}/loader/initrd`],
          [`boot/${a}/linux`, `boot/${a}/initrd`],
        ];
    return pairs.map((files) => ({ files, value: { arch, files } }));
  });
}

function suseTreeArch(fields: Record<string, string>): Arch | null {
  const words = [fields.BASEARCHS, fields.REPOID?.split('/').pop()].filter(Boolean).join(' ');
  for (const w of words.split(/\s+/)) {
    const a = normalizeArch(w);
    if (a) return a;
  }
  return null;
}

export const suseContentDetector: Detector = {
  name: 'suse-content',
  lookingFor: 'content with boot/ARCH/loader/linux (SUSE, openSUSE)',
  wants(view: ProbeView, ctx) {
    if (!view.known('content')) return { read: [{ path: 'content', maxBytes: LIMITS.manifest }] };
    const text = view.text('content');
    if (text === null) return {};
    const c = parseSuseContent(text);
    if (!c.fields.LABEL && !c.fields.PRODUCT && !c.fields.DISTRIBUTION) return {};
    const probe = firstExisting(view, suseCandidates(ctx, suseTreeArch(c.fields)));
    if (probe.state === 'want') return probe.wants;
    return view.known('repodata/repomd.xml') ? {} : { exists: ['repodata/repomd.xml'] };
  },
  detect(view, ctx): Detection | null {
    const text = view.text('content');
    if (text === null) return null;
    const c = parseSuseContent(text);
    const f = c.fields;
    if (!f.LABEL && !f.PRODUCT && !f.DISTRIBUTION) return null;
    const treeArch = suseTreeArch(f);
    checkArch(ctx, treeArch, 'content');
    const probe = firstExisting(view, suseCandidates(ctx, treeArch));
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
    const version = f.VERSION ? f.VERSION.replace(/-\d+$/, '') : null;
    const name = f.LABEL ?? [f.DISTRIBUTION ?? f.PRODUCT, version].filter(Boolean).join(' ');
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
      netInstall: ctx.medium === 'http' || !view.has('repodata/repomd.xml'),
      evidence: ['content', kernel, initrd],
      warnings: c.warnings,
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
  for (const w of m[2]!.split(/\s+/)) arch ??= normalizeArch(w === 'i586' ? 'i686' : w);
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
