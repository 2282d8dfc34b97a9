/**
 * `.treeinfo` in the productmd format (header type `productmd.treeinfo`, versions 1.0–1.2) and the
 * older anaconda format that has only `[general]`: release name, version and arch; `[images-ARCH]`
 * (kernel, initrd, boot.iso); `[stage2]`; `[tree] variants` with their `[variant-ID]` repositories;
 * `[checksums]`. Pure: text in, a TreeInfo out; every path is checked to stay inside the tree.
 */
import { inputError } from '../errors.js';
import { normalizeArch } from './arch.js';
import { parseChecksumValue } from './checksums.js';
import { ConfigParseError, parseConfig } from './configparser.js';
import type { ConfigFile } from './configparser.js';
import { safeRelPath } from './safe-path.js';
import type { Arch, Checksum, Family, Variant } from './types.js';

export interface TreeInfo {
  /** productmd format version (`1.2`), or null for the pre-productmd format */
  formatVersion: string | null;
  releaseName: string;
  releaseShort: string | null;
  version: string | null;
  family: Family;
  arch: Arch | null;
  /** the arch as written (`x86_64`) */
  rawArch: string | null;
  /** `[images-PLATFORM]` → key → path (already checked), PLATFORM as written (`x86_64`, `xen`) */
  images: Record<string, Record<string, string>>;
  stage2: string | null;
  variants: Variant[];
  checksums: Record<string, Checksum>;
  warnings: string[];
}

/** The family a release name stands for (`Red Hat Enterprise Linux` → rhel). */
export function familyOfRelease(name: string, short = ''): Family {
  const s = `${name} ${short}`.toLowerCase();
  if (/fedora/.test(s)) return 'fedora';
  if (/red hat enterprise linux|\brhel\b/.test(s)) return 'rhel';
  if (/centos[ -]stream/.test(s)) return 'centos-stream';
  if (/centos/.test(s)) return 'centos';
  if (/almalinux/.test(s)) return 'almalinux';
  if (/rocky/.test(s)) return 'rocky';
  if (/oracle/.test(s)) return 'oracle';
  if (/suse/.test(s)) return 'suse';
  return 'generic';
}

export function parseTreeInfo(text: string, where = '.treeinfo'): TreeInfo {
  let cfg: ConfigFile;
  try {
    cfg = parseConfig(text, { keyCase: 'preserve' });
  } catch (e) {
    const line = e instanceof ConfigParseError ? e.message : String(e);
    throw inputError('MEDIA_BAD_TREEINFO', `${where} is not a valid .treeinfo: ${line}`, {
      hint: 'the tree metadata is damaged or not a .treeinfo; check the location',
      cause: e,
    });
  }
  const get = (s: string, k: string): string | null => cfg.get(s, k) ?? null;
  const warnings: string[] = [];

  const headerType = get('header', 'type');
  if (headerType !== null && headerType !== 'productmd.treeinfo') {
    throw inputError('MEDIA_BAD_TREEINFO', `${where} has [header] type=${headerType}`, {
      hint: 'expected type = productmd.treeinfo',
    });
  }
  const formatVersion = get('header', 'version');
  if (formatVersion !== null && !/^1\.\d+$/.test(formatVersion)) {
    warnings.push(`${where}: productmd format ${formatVersion} is newer than 1.x; reading it as 1.x`);
  }
  if (!cfg.has('general') && !cfg.has('release') && !cfg.has('tree')) {
    throw inputError('MEDIA_BAD_TREEINFO', `${where} has none of the sections [general], [release], [tree]`, {
      hint: 'the file is not a .treeinfo',
    });
  }

  const releaseName =
    get('release', 'name') ?? get('general', 'family') ?? get('general', 'name') ?? 'unknown';
  const releaseShort = get('release', 'short');
  const version = get('release', 'version') ?? get('general', 'version');
  const rawArch = get('tree', 'arch') ?? get('general', 'arch');
  const arch = rawArch ? normalizeArch(rawArch) : null;
  if (rawArch && !arch) warnings.push(`${where}: unknown arch ${JSON.stringify(rawArch)}`);

  const images: Record<string, Record<string, string>> = {};
  for (const section of cfg.sections()) {
    const m = /^images-(.+)$/.exec(section);
    if (!m) continue;
    const entries: Record<string, string> = {};
    for (const [key, value] of Object.entries(cfg.section(section))) {
      const rel = safeRelPath(value);
      if (rel === null) {
        throw inputError(
          'MEDIA_UNSAFE_PATH',
          `${where} [${section}] ${key} = ${JSON.stringify(value)} leaves the tree`,
          {
            hint: 'metadata may only name files inside the install tree (no "..", absolute paths or URLs)',
          },
        );
      }
      entries[key] = rel;
    }
    images[m[1]!] = entries;
  }

  let stage2: string | null = null;
  const mainimage = get('stage2', 'mainimage') ?? get('stage2', 'instimage');
  if (mainimage !== null) {
    stage2 = safeRelPath(mainimage);
    if (stage2 === null) {
      throw inputError(
        'MEDIA_UNSAFE_PATH',
        `${where} [stage2] mainimage = ${JSON.stringify(mainimage)} leaves the tree`,
        {
          hint: 'metadata may only name files inside the install tree',
        },
      );
    }
  }

  const variants: Variant[] = [];
  const variantIds = (get('tree', 'variants') ?? get('general', 'variants') ?? '')
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean);
  for (const id of variantIds) {
    const s = `variant-${id}`;
    const repoRaw = get(s, 'repository') ?? (cfg.has(s) ? null : get('general', 'repository'));
    const pkgRaw = get(s, 'packages') ?? (cfg.has(s) ? null : get('general', 'packagedir'));
    const checkVariantPath = (p: string | null, what: string): string | null => {
      if (p === null) return null;
      if (p === '.') return '.';
      const rel = safeRelPath(p);
      if (rel === null)
        warnings.push(`${where}: variant ${id} ${what} ${JSON.stringify(p)} is outside the tree; ignored`);
      return rel;
    };
    variants.push({
      id,
      name: get(s, 'name') ?? id,
      type: get(s, 'type') ?? 'variant',
      repository: checkVariantPath(repoRaw, 'repository'),
      packages: checkVariantPath(pkgRaw, 'packages'),
    });
  }

  const checksums: Record<string, Checksum> = {};
  for (const [key, value] of Object.entries(cfg.section('checksums'))) {
    const rel = safeRelPath(key);
    const sum = parseChecksumValue(value);
    if (rel === null) {
      warnings.push(`${where}: ignored a checksum for ${JSON.stringify(key)}: outside the tree`);
    } else if (sum === null) {
      warnings.push(`${where}: ignored an unreadable checksum for ${key}: ${JSON.stringify(value)}`);
    } else {
      checksums[rel] = sum;
    }
  }

  return {
    formatVersion,
    releaseName,
    releaseShort,
    version,
    family: familyOfRelease(releaseName, releaseShort ?? ''),
    arch,
    rawArch,
    images,
    stage2,
    variants,
    checksums,
    warnings,
  };
}
