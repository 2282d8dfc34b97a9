/**
 * `media inspect LOCATION`: what a location holds, without downloading the kernel and initrd:
 * the detection (family, version, arch, kernel, initrd, stage2, variants, checksums), the ISO's
 * labels and name source, and with `verify` every image checked against the tree's checksums.
 */
import { parseArch, hostArch as nodeHostArch } from './arch.js';
import { detectTree } from './detect.js';
import type { DetectContext } from './detector.js';
import { Fetcher, redactUrl } from './fetch.js';
import type { FetchProgress } from './fetch.js';
import { HttpTreeReader } from './http-tree.js';
import { IsoImage } from './iso9660.js';
import type { NameSource } from './iso9660.js';
import { LocalTreeReader } from './readers.js';
import { IsoTreeReader } from './readers.js';
import { classifyLocation } from './resolve.js';
import type { Arch, Detection } from './types.js';
import { verifyImages } from './verify.js';
import type { VerifyResult } from './verify.js';

export interface InspectOptions {
  cacheDir: string;
  arch?: string;
  xen?: boolean;
  verify?: boolean;
  signal?: AbortSignal;
  onProgress?: (p: FetchProgress) => void;
  hostArch?: Arch;
  /** where the proxy variables are read */
  env?: Readonly<Record<string, string | undefined>>;
}

export interface InspectReport {
  location: string;
  kind: 'tree-http' | 'tree-local' | 'iso';
  detection: Detection;
  /** where the kernel and initrd are: URLs for HTTP trees, paths for local trees, paths inside the ISO */
  kernel: string;
  initrd: string;
  iso?: {
    volumeLabel: string;
    primaryLabel: string;
    jolietLabel: string | null;
    names: NameSource;
    bytes: number;
  };
  verify?: VerifyResult[];
  /** body bytes downloaded while inspecting */
  bytesDownloaded: number;
}

export async function inspectLocation(location: string, opts: InspectOptions): Promise<InspectReport> {
  const where = await classifyLocation(location);
  const ctx: DetectContext = {
    arch: opts.arch ? parseArch(opts.arch) : null,
    hostArch: opts.hostArch ?? nodeHostArch(),
    location: redactUrl(where.value),
    medium: where.kind === 'dir' ? 'local' : where.kind,
    xen: opts.xen ?? false,
  };
  const fetcher = new Fetcher({
    cacheDir: opts.cacheDir,
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    ...(opts.env ? { env: opts.env } : {}),
  });
  if (where.kind === 'http') {
    const reader = new HttpTreeReader(where.value, fetcher);
    const detection = await detectTree(reader, ctx);
    const verify = opts.verify ? await verifyImages(detection, { kind: 'http', reader, fetcher }) : undefined;
    return {
      location: redactUrl(reader.base),
      kind: 'tree-http',
      detection,
      kernel: reader.url(detection.kernel)!,
      initrd: reader.url(detection.initrd)!,
      ...(verify ? { verify } : {}),
      bytesDownloaded: fetcher.stats.bytesDownloaded,
    };
  }
  if (where.kind === 'dir') {
    const reader = new LocalTreeReader(where.value);
    const detection = await detectTree(reader, ctx);
    const verify = opts.verify ? await verifyImages(detection, { kind: 'local', reader }) : undefined;
    return {
      location: where.value,
      kind: 'tree-local',
      detection,
      kernel: (await reader.resolve(detection.kernel)) ?? `${where.value}/${detection.kernel} (missing)`,
      initrd: (await reader.resolve(detection.initrd)) ?? `${where.value}/${detection.initrd} (missing)`,
      ...(verify ? { verify } : {}),
      bytesDownloaded: 0,
    };
  }
  const image = await IsoImage.open(where.value);
  try {
    const detection = await detectTree(new IsoTreeReader(image), ctx);
    const verify = opts.verify ? await verifyImages(detection, { kind: 'iso', image }) : undefined;
    return {
      location: where.value,
      kind: 'iso',
      detection,
      kernel: `${where.value}:/${detection.kernel}`,
      initrd: `${where.value}:/${detection.initrd}`,
      iso: {
        volumeLabel: image.volumeLabel,
        primaryLabel: image.primaryLabel,
        jolietLabel: image.jolietLabel,
        names: image.names,
        bytes: image.volumeBytes,
      },
      ...(verify ? { verify } : {}),
      bytesDownloaded: 0,
    };
  } finally {
    await image.close();
  }
}

/** The report as lines for a terminal. */
export function formatInspect(r: InspectReport): string[] {
  const d = r.detection;
  const lines = [
    `${d.name} ${d.arch}`,
    `  location   ${r.location} (${r.kind})`,
    `  detector   ${d.detector}`,
    `  family     ${d.family} (installer: ${d.installer})`,
    `  version    ${d.version ?? 'unknown'}`,
    `  arch       ${d.arch}`,
    `  kernel     ${r.kernel}`,
    `  initrd     ${r.initrd}`,
  ];
  if (d.stage2) lines.push(`  stage2     ${d.stage2}`);
  if (d.bootIso) lines.push(`  boot.iso   ${d.bootIso}`);
  if (r.iso) {
    lines.push(`  label      ${r.iso.volumeLabel}`);
    lines.push(`  names      ${r.iso.names}`);
  }
  if (d.variants.length) {
    lines.push(
      `  variants   ${d.variants.map((v) => `${v.id} (${v.repository ?? 'outside the tree'})`).join(', ')}`,
    );
  }
  const n = Object.keys(d.checksums).length;
  lines.push(`  checksums  ${n ? `${n} in ${d.checksumSource}` : 'none'}`);
  lines.push(
    `  network    ${d.netInstall ? 'the installer downloads its packages from the network' : 'the packages are on the media'}`,
  );
  lines.push(`  evidence   ${d.evidence.join(', ')}`);
  for (const w of d.warnings) lines.push(`  warning: ${w}`);
  if (r.verify) {
    const bad = r.verify.filter((v) => !v.ok);
    lines.push(
      `  verify     ${r.verify.length - bad.length} of ${r.verify.length} images match their checksums`,
    );
    for (const v of r.verify) {
      lines.push(
        `    ${v.ok ? 'ok  ' : 'FAIL'} ${v.path} ${v.algo}${v.ok ? '' : v.error ? ` (${v.error})` : ` (got ${v.got}, expected ${v.expected})`}`,
      );
    }
  }
  return lines;
}
