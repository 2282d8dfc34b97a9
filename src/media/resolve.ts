/**
 * resolveMedia: from `--location` (an http(s) tree, a local directory or an ISO), `--cdrom ISO`
 * and `--boot kernel=,initrd=` to ResolvedMedia: local kernel and initrd files (downloaded into the
 * cache, extracted from the ISO, or used in place), checked against the tree's checksums, and what
 * the guest needs to find the rest (repository URL, `hd:LABEL=`, the ISO to attach).
 *
 * For HTTP trees the detection itself is remembered per (URL, arch, xen) with the metadata files it
 * read: when those all revalidate unchanged (304), the detection is reused without probing the
 * absent files again, so a second install from the same URL downloads 0 bytes.
 */
import { createHash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { InstallGuestError, inputError } from '../errors.js';
import { hostArch as nodeHostArch, parseArch } from './arch.js';
import { urlKey } from './cache.js';
import { detectTree } from './detect.js';
import type { DetectContext } from './detector.js';
import { Fetcher, redactUrl } from './fetch.js';
import { fetchTarget } from './fetch/url.js';
import type { FetchProgress, FetcherOptions } from './fetch.js';
import { HttpTreeReader, treeBaseUrl } from './http-tree.js';
import { IsoImage, looksLikeIso } from './iso9660.js';
import { escapeLabel, kernelArgsFor } from './kernel-args.js';
import { IsoTreeReader, LocalTreeReader } from './readers.js';
import type {
  Arch,
  Checksum,
  Detection,
  MediaRequest,
  PlannedDownload,
  PlannedExtract,
  ResolvedMedia,
  TreeReader,
} from './types.js';

export interface ResolveDeps {
  cacheDir: string;
  signal?: AbortSignal;
  onProgress?: (p: FetchProgress) => void;
  /** retries, timeouts, backoff for HTTP */
  fetch?: Omit<FetcherOptions, 'cacheDir' | 'signal' | 'onProgress'>;
  /** the host's architecture (defaults to Node's process.arch) */
  hostArch?: Arch;
  /**
   * A dry run: the kernel and initrd over HTTP are not downloaded; a HEAD checks each exists (the
   * real run's MEDIA_NOT_FOUND) and gives its size; they are listed in `plannedDownloads` and stand
   * in the result as `<download>/NAME`. Tree metadata (.treeinfo, release files) is still read
   * to detect the media: the caller points `cacheDir` at a throwaway directory. Files of an ISO are
   * not extracted into the cache either: they are read in place (their checksums checked, nothing
   * written), listed in `plannedExtracts` and stand in the result as `<extract>/NAME`.
   */
  plan?: boolean;
}

/** A dry run: what would be downloaded, or the real run's MEDIA_NOT_FOUND. */
async function planDownload(fetcher: Fetcher, url: string, planned: PlannedDownload[]): Promise<string> {
  const r = await fetcher.probe(url);
  if (!r.exists) {
    throw inputError('MEDIA_NOT_FOUND', `${redactUrl(url)} does not exist (HTTP 404)`, {
      hint: 'the tree metadata names a file the server does not have; check the location',
    });
  }
  planned.push({ url: redactUrl(url), size: r.size });
  return `<download>/${path.posix.basename(new URL(url).pathname) || 'file'}`;
}

export type LocationKind = 'http' | 'dir' | 'iso';

/** What a --location / --cdrom string names. Throws MEDIA_NOT_FOUND / MEDIA_NOT_AN_ISO / MEDIA_BAD_URL. */
export async function classifyLocation(
  location: string,
  option = '--location',
): Promise<{ kind: LocationKind; value: string }> {
  if (/^https?:\/\//i.test(location)) {
    const base = treeBaseUrl(location);
    if (/\.iso\/$/i.test(base)) {
      throw inputError('MEDIA_REMOTE_ISO', `${option} ${redactUrl(location)} is an ISO on a web server`, {
        hint: 'download the ISO and pass its local path, or give the URL of an install tree',
      });
    }
    return { kind: 'http', value: base };
  }
  let local = location;
  if (/^file:\/\//i.test(location)) local = fileURLToPath(location);
  else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(location)) {
    throw inputError(
      'MEDIA_BAD_URL',
      `${option} ${redactUrl(location)}: only http(s) URLs, local directories and ISO files are supported`,
      {
        hint: 'mount or copy the tree locally, or serve it over http',
      },
    );
  }
  const abs = path.resolve(local);
  let st;
  try {
    st = await fs.stat(abs);
  } catch {
    throw inputError('MEDIA_NOT_FOUND', `${option} ${location}: no such file or directory`, {
      hint: 'give an http(s) URL of a tree, a local directory, or an ISO file',
    });
  }
  if (st.isDirectory()) return { kind: 'dir', value: abs };
  if (st.isFile() && (await looksLikeIso(abs))) return { kind: 'iso', value: abs };
  throw inputError(
    'MEDIA_NOT_AN_ISO',
    `${option} ${location} is a file but not an ISO 9660 image (no CD001 at sector 16)`,
    {
      hint: 'give an install ISO, a directory holding an install tree, or an http(s) URL',
    },
  );
}

async function hashLocal(file: string, algo: string): Promise<string> {
  const h = createHash(algo);
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

function mismatch(where: string, sum: Checksum, got: string): InstallGuestError {
  return inputError(
    'MEDIA_CHECKSUM_MISMATCH',
    `${where} has ${sum.algo} ${got}, the tree's checksum list says ${sum.hex}`,
    {
      hint: 'the tree is damaged or was modified; use an intact copy',
    },
  );
}

interface TreeRecord {
  key: string;
  detection: Detection;
  files: { path: string; sha256: string; maxBytes: number }[];
}

/** A reader that remembers which metadata files were read (and their digests). */
class RecordingReader implements TreeReader {
  readonly files: TreeRecord['files'] = [];
  constructor(private readonly inner: TreeReader) {}
  get describe(): string {
    return this.inner.describe;
  }
  async read(relPath: string, maxBytes: number): Promise<Buffer | null> {
    const buf = await this.inner.read(relPath, maxBytes);
    if (buf)
      this.files.push({ path: relPath, sha256: createHash('sha256').update(buf).digest('hex'), maxBytes });
    return buf;
  }
  exists(relPath: string): Promise<boolean> {
    return this.inner.exists(relPath);
  }
}

async function detectHttp(reader: HttpTreeReader, fetcher: Fetcher, ctx: DetectContext): Promise<Detection> {
  const key = urlKey(
    JSON.stringify({ base: reader.base, arch: ctx.arch, hostArch: ctx.hostArch, xen: ctx.xen }),
  );
  const dir = path.join(fetcher.cache.dir, 'trees');
  const file = path.join(dir, `${key}.json`);
  try {
    const record = JSON.parse(await fs.readFile(file, 'utf8')) as TreeRecord;
    let same = record.key === key;
    for (const f of same ? record.files : []) {
      const url = reader.url(f.path);
      const r = url ? await fetcher.fetchOptional({ url, maxBytes: f.maxBytes, expect: 'text' }) : null;
      if (!r || r.sha256 !== f.sha256) {
        same = false;
        break;
      }
    }
    if (same) return record.detection;
  } catch {
    // no usable record: detect from scratch
  }
  const recording = new RecordingReader(reader);
  const detection = await detectTree(recording, ctx);
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const record: TreeRecord = { key, detection, files: recording.files };
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  await fs.writeFile(tmp, JSON.stringify(record), { mode: 0o600 });
  await fs.rename(tmp, file);
  return detection;
}

function finish(base: Omit<ResolvedMedia, 'kernelArgs'>): ResolvedMedia {
  const media = { ...base } as ResolvedMedia;
  Object.defineProperty(media, 'kernelArgs', {
    enumerable: false,
    value: (opts: Parameters<ResolvedMedia['kernelArgs']>[0]) =>
      kernelArgsFor(
        {
          kind: media.kind,
          installer: media.installer,
          family: media.family,
          location: media.location,
          ...(media.volumeLabel ? { volumeLabel: media.volumeLabel } : {}),
        },
        opts,
      ),
  });
  return media;
}

function fromDetection(
  d: Detection,
): Pick<ResolvedMedia, 'family' | 'installer' | 'version' | 'arch' | 'name' | 'netInstall' | 'detection'> {
  return {
    family: d.family,
    installer: d.installer,
    version: d.version,
    arch: d.arch,
    name: d.name,
    netInstall: d.netInstall,
    detection: d,
  };
}

async function resolveBootFile(
  spec: string,
  what: string,
  fetcher: Fetcher,
  planned?: PlannedDownload[],
): Promise<string> {
  if (/^https?:\/\//i.test(spec)) {
    if (planned) return planDownload(fetcher, spec, planned);
    const r = await fetcher.fetch({ url: spec, expect: 'binary' });
    return r.path;
  }
  const abs = path.resolve(spec);
  try {
    if ((await fs.stat(abs)).isFile()) return abs;
  } catch {
    // reported below
  }
  throw inputError('MEDIA_NOT_FOUND', `--boot ${what}=${spec}: no such file`, {
    hint: `give the path or URL of the ${what}`,
  });
}

async function resolveIsoFile(
  image: IsoImage,
  relPath: string,
  sum: Checksum | undefined,
  fetcher: Fetcher,
  planned?: PlannedExtract[],
): Promise<{ path: string; verified: boolean }> {
  const st = await fs.stat(image.file);
  const entry = await image.stat(relPath);
  if (!entry || entry.isDir) {
    throw inputError('MEDIA_FILE_MISSING', `${image.file} has no ${relPath}, which its metadata names`, {
      hint: 'the ISO does not match its own metadata; check the image',
    });
  }
  if (planned) {
    // a dry run writes nothing: the file is read in place for its checksum, and listed
    if (sum) {
      const h = createHash(sum.algo);
      for await (const c of image.chunks(entry)) h.update(c);
      const got = h.digest('hex');
      if (got !== sum.hex) throw mismatch(`${image.file}:/${relPath}`, sum, got);
    }
    planned.push({ iso: image.file, path: `/${relPath.replace(/^\/+/, '')}`, size: entry.size });
    return { path: `<extract>/${path.basename(relPath)}`, verified: sum !== undefined };
  }
  await fetcher.cache.init();
  const dir = await fetcher.cache.extractedDir(
    `${image.file}|${st.size}|${st.mtimeMs}|${relPath}|${entry.extents[0]?.lba}`,
  );
  const dest = path.join(dir, path.basename(relPath));
  try {
    if ((await fs.stat(dest)).size === entry.size) return { path: dest, verified: sum !== undefined };
  } catch {
    // not extracted yet
  }
  const r = await image.extract(relPath, dest, sum?.algo);
  if (sum && r.digest !== sum.hex) {
    await fs.rm(dest, { force: true });
    throw mismatch(`${image.file}:/${relPath}`, sum, r.digest ?? '');
  }
  return { path: dest, verified: sum !== undefined };
}

/** Resolves install media; see the module comment. Errors are typed (exit 2 for bad media). */
export async function resolveMedia(request: MediaRequest, deps: ResolveDeps): Promise<ResolvedMedia> {
  const arch = request.arch ? parseArch(request.arch) : null;
  const hostArch = deps.hostArch ?? nodeHostArch();
  const xen = request.xen ?? false;
  const fetcher = new Fetcher({
    cacheDir: deps.cacheDir,
    ...(deps.signal ? { signal: deps.signal } : {}),
    ...(deps.onProgress ? { onProgress: deps.onProgress } : {}),
    ...deps.fetch,
  });
  const planned: PlannedDownload[] | undefined = deps.plan ? [] : undefined;
  const extracts: PlannedExtract[] | undefined = deps.plan ? [] : undefined;
  const withPlan = (m: ResolvedMedia): ResolvedMedia => {
    if (planned) Object.defineProperty(m, 'plannedDownloads', { enumerable: false, value: planned });
    if (extracts) Object.defineProperty(m, 'plannedExtracts', { enumerable: false, value: extracts });
    return m;
  };

  if (request.location && request.cdrom) {
    throw inputError('MEDIA_CONFLICT', '--location and --cdrom were both given', {
      hint: 'use --location to boot the installer directly (kickstart on the kernel command line), or --cdrom to boot the ISO',
    });
  }
  const boot = request.boot ?? {};
  if (!request.location && !request.cdrom) {
    if (!boot.kernel || !boot.initrd) {
      throw inputError(
        'MEDIA_MISSING',
        'no install media: give --location, --cdrom, or --boot kernel=PATH,initrd=PATH',
        {
          hint: 'e.g. --location https://mirror.example/fedora/releases/40/Everything/x86_64/os/',
        },
      );
    }
    const kernel = await resolveBootFile(boot.kernel, 'kernel', fetcher, planned);
    const initrd = await resolveBootFile(boot.initrd, 'initrd', fetcher, planned);
    return withPlan(
      finish({
        kind: 'kernel-initrd',
        location: boot.kernel,
        family: 'generic',
        installer: 'unknown',
        version: null,
        arch: arch ?? hostArch,
        name: `kernel ${path.basename(boot.kernel)}`,
        kernel,
        initrd,
        netInstall: false,
        detection: null,
        verified: [],
        bytesDownloaded: fetcher.stats.bytesDownloaded,
        warnings: [],
      }),
    );
  }

  if (request.cdrom) {
    const where = await classifyLocation(request.cdrom, '--cdrom');
    if (where.kind !== 'iso') {
      throw inputError('MEDIA_NOT_AN_ISO', `--cdrom ${request.cdrom} is not an ISO file`, {
        hint: 'give an ISO file; for a directory or URL use --location',
      });
    }
    const image = await IsoImage.open(where.value);
    try {
      let detection: Detection | null = null;
      const warnings: string[] = [];
      try {
        detection = await detectTree(new IsoTreeReader(image), {
          arch,
          hostArch,
          location: where.value,
          medium: 'iso',
          xen,
        });
      } catch (e) {
        if (!(e instanceof InstallGuestError) || e.code !== 'MEDIA_NOT_RECOGNISED') throw e;
        warnings.push('the ISO is not an install tree install-guest recognises; it is booted as it is');
      }
      return finish({
        kind: 'cdrom',
        location: where.value,
        ...(detection
          ? fromDetection(detection)
          : {
              family: 'generic',
              installer: 'unknown',
              version: null,
              arch: arch ?? hostArch,
              name: image.volumeLabel,
              netInstall: false,
              detection: null,
            }),
        kernel: null,
        initrd: null,
        repo: 'cdrom',
        volumeLabel: image.volumeLabel,
        cdromPath: where.value,
        verified: [],
        bytesDownloaded: 0,
        warnings: [
          ...warnings,
          ...(detection?.warnings.filter((w) => !/needs the ISO attached/.test(w)) ?? []),
          'the firmware boots the CD: no kernel arguments (and so no answer file on the command line) can be passed; use --location ISO for that',
        ],
      });
    } finally {
      await image.close();
    }
  }

  const location = request.location!;
  const where = await classifyLocation(location);
  const ctx: DetectContext = {
    arch,
    hostArch,
    // what messages show: a URL's credentials are for requests only
    location: redactUrl(where.value),
    medium: where.kind === 'dir' ? 'local' : where.kind,
    xen,
  };
  const overrides = async (): Promise<{ kernel?: string; initrd?: string }> => ({
    ...(boot.kernel ? { kernel: await resolveBootFile(boot.kernel, 'kernel', fetcher, planned) } : {}),
    ...(boot.initrd ? { initrd: await resolveBootFile(boot.initrd, 'initrd', fetcher, planned) } : {}),
  });

  if (where.kind === 'http') {
    const reader = new HttpTreeReader(where.value, fetcher);
    const d = await detectHttp(reader, fetcher, ctx);
    const over = await overrides();
    const verified: ResolvedMedia['verified'] = [];
    const get = async (rel: string): Promise<string> => {
      const url = reader.url(rel)!;
      if (planned) return planDownload(fetcher, url, planned);
      const sum = d.checksums[rel];
      const r = await fetcher.fetch({ url, expect: 'binary', ...(sum ? { expected: sum } : {}) });
      if (sum) verified.push({ path: rel, algo: sum.algo, ok: true });
      return r.path;
    };
    const kernel = over.kernel ?? (await get(d.kernel));
    const initrd = over.initrd ?? (await get(d.initrd));
    // what the guest and the user see: the URL without credentials (the kernel command line is in
    // qemu's argv, which every user of the host can read)
    const bare = (u: string): string => fetchTarget(u).url;
    const hadCredentials = bare(reader.base) !== reader.base;
    return withPlan(
      finish({
        kind: 'tree-http',
        location: bare(reader.base),
        ...fromDetection(d),
        kernel,
        initrd,
        ...(d.installer === 'anaconda' ? { repo: bare(reader.base) } : {}),
        ...(d.stage2 ? { stage2: bare(reader.url(d.stage2)!) } : {}),
        netInstall: true,
        verified,
        bytesDownloaded: fetcher.stats.bytesDownloaded,
        warnings: [
          ...d.warnings,
          ...(hadCredentials && d.installer !== 'debian-installer'
            ? [
                `the installer in the guest is given ${bare(reader.base)} without the credentials (they would be on the kernel command line, in qemu's argv, readable by every user of this host); let the guest read the tree without a login, or use a local copy`,
              ]
            : []),
        ],
      }),
    );
  }

  if (where.kind === 'dir') {
    const reader = new LocalTreeReader(where.value);
    const d = await detectTree(reader, ctx);
    const over = await overrides();
    const verified: ResolvedMedia['verified'] = [];
    const get = async (rel: string): Promise<string> => {
      const real = await reader.resolve(rel);
      if (!real) {
        throw inputError(
          'MEDIA_FILE_MISSING',
          `${path.join(where.value, rel)} is missing (or leaves the tree), but the tree names it`,
          {
            hint: 'the tree is incomplete; copy it again',
          },
        );
      }
      const sum = d.checksums[rel];
      if (sum) {
        const got = await hashLocal(real, sum.algo);
        if (got !== sum.hex) throw mismatch(real, sum, got);
        verified.push({ path: rel, algo: sum.algo, ok: true });
      }
      return real;
    };
    const kernel = over.kernel ?? (await get(d.kernel));
    const initrd = over.initrd ?? (await get(d.initrd));
    const needsRepo =
      d.installer === 'anaconda' || d.installer === 'suse-linuxrc' || d.installer === 'mageia-drakx';
    return finish({
      kind: 'tree-local',
      location: where.value,
      ...fromDetection(d),
      kernel,
      initrd,
      ...(needsRepo ? { serveDir: where.value } : {}),
      verified,
      bytesDownloaded: fetcher.stats.bytesDownloaded,
      warnings: [
        ...d.warnings,
        ...(needsRepo
          ? [`the guest cannot read ${where.value}: it must be served over HTTP (repoUrl) for ${d.installer}`]
          : []),
      ],
    });
  }

  const image = await IsoImage.open(where.value);
  try {
    const d = await detectTree(new IsoTreeReader(image), ctx);
    const over = await overrides();
    const verified: ResolvedMedia['verified'] = [];
    const get = async (rel: string): Promise<string> => {
      const sum = d.checksums[rel];
      const r = await resolveIsoFile(image, rel, sum, fetcher, extracts);
      if (sum) verified.push({ path: rel, algo: sum.algo, ok: true });
      return r.path;
    };
    const kernel = over.kernel ?? (await get(d.kernel));
    const initrd = over.initrd ?? (await get(d.initrd));
    const label = image.volumeLabel;
    const hdLabel = `hd:LABEL=${escapeLabel(label)}`;
    return withPlan(
      finish({
        kind: 'iso',
        location: where.value,
        ...fromDetection(d),
        kernel,
        initrd,
        ...(d.installer === 'anaconda' ? { stage2: hdLabel, repo: hdLabel } : { repo: 'cdrom' }),
        volumeLabel: label,
        cdromPath: where.value,
        verified,
        bytesDownloaded: fetcher.stats.bytesDownloaded,
        warnings: d.warnings,
      }),
    );
  } finally {
    await image.close();
  }
}
