/**
 * The shapes shared by media detection, fetching and resolution. Detection works on a TreeReader
 * (an HTTP tree, a local directory or the contents of an ISO all look the same to a detector), and
 * resolution turns a request (`--location`, `--cdrom`, `--boot kernel=,initrd=`) into ResolvedMedia:
 * local kernel and initrd files plus what the guest needs to find the rest of the installer.
 */

export type MediaKind = 'tree-http' | 'tree-local' | 'iso' | 'cdrom' | 'kernel-initrd';

export type Family =
  | 'fedora'
  | 'rhel'
  | 'centos-stream'
  | 'centos'
  | 'almalinux'
  | 'rocky'
  | 'oracle'
  | 'debian'
  | 'ubuntu'
  | 'suse'
  | 'mageia'
  | 'generic';

/** Which installer the kernel and initrd start: it decides the kernel arguments. */
export type Installer =
  'anaconda' | 'debian-installer' | 'casper' | 'suse-linuxrc' | 'mageia-drakx' | 'unknown';

/** Architectures in the kernel's (and qemu's) spelling. */
export type Arch = 'x86_64' | 'i686' | 'aarch64' | 'armv7l' | 'ppc64le' | 's390x' | 'riscv64';

export type ChecksumAlgo = 'sha256' | 'sha512' | 'sha384' | 'sha224' | 'sha1' | 'md5';

export interface Checksum {
  algo: ChecksumAlgo;
  /** lowercase hex */
  hex: string;
}

/** Read access to an install tree, whatever holds it. Paths are relative to the tree root, `/`-separated. */
export interface TreeReader {
  /** what the tree is, for messages (`http://…/`, `/srv/tree`, `fedora.iso`) */
  readonly describe: string;
  /** the file's first `maxBytes` bytes … or null when it does not exist (or is not a regular file) */
  read(relPath: string, maxBytes: number): Promise<Buffer | null>;
  /** true when a regular file (or a link to one) exists at relPath */
  exists(relPath: string): Promise<boolean>;
}

/** A variant (productmd `[variant-X]`): a repository inside the tree. */
export interface Variant {
  id: string;
  name: string;
  type: string;
  /** relative to the tree root; null when the metadata pointed outside the tree */
  repository: string | null;
  packages: string | null;
}

/** What a detector found in a tree. All paths are relative to the tree root and already checked. */
export interface Detection {
  /** the detector that recognised the tree (`treeinfo`, `debian-mirror`, `debian-netboot`, …) */
  detector: string;
  family: Family;
  installer: Installer;
  /** `39`, `9.3`, `12`, `22.04.3`; null when the tree does not say */
  version: string | null;
  arch: Arch;
  /** a human name: `Fedora 39`, `Debian 12 (bookworm)` */
  name: string;
  kernel: string;
  initrd: string;
  /** anaconda's stage2 image, when the tree names one */
  stage2?: string;
  bootIso?: string;
  variants: Variant[];
  /** checksums the tree publishes, keyed by relative path */
  checksums: Record<string, Checksum>;
  /** where the checksums came from (`.treeinfo [checksums]`, `current/images/SHA256SUMS`, `md5sum.txt`) */
  checksumSource?: string;
  /** true when the installer downloads its packages from the network (netboot, netinst, HTTP trees) */
  netInstall: boolean;
  /** the files that decided it (for `media inspect`) */
  evidence: string[];
  warnings: string[];
}

export interface KernelArgsOptions {
  /** a path inside the installer's initrd holding the answer file (kickstart, preseed, autoinstall) */
  ksPath?: string;
  /** a URL the installer fetches the answer file from */
  ksUrl?: string;
  /** the guest's console is the serial port (no display): `console=ttyS0` */
  headless: boolean;
  /**
   * where the guest reaches the tree's repository when the tree itself is not reachable by the guest
   * (a local directory served over HTTP by the pipeline); overrides the tree's own URL
   */
  repoUrl?: string;
}

export interface MediaRequest {
  /** an http(s) URL of a tree, a local directory, or an ISO file */
  location?: string;
  /** an ISO attached as the guest's CD-ROM and booted by the firmware (no direct kernel boot) */
  cdrom?: string;
  /** `--boot kernel=,initrd=`: local paths or http(s) URLs; override what the tree provides */
  boot?: { kernel?: string; initrd?: string };
  /** `x86_64`, `amd64`, `aarch64`, `arm64`, …; defaults to the tree's own (or the host's) */
  arch?: string;
  /** use the tree's Xen PV images (`[images-xen]`, Debian `netboot/xen/`) */
  xen?: boolean;
}

/** A dry run: a file the real run would download (URL without credentials; size from HEAD, if given). */
export interface PlannedDownload {
  url: string;
  size: number | null;
}

/** A dry run: a file the real run would extract from an ISO into the media cache. */
export interface PlannedExtract {
  /** the ISO file */
  iso: string;
  /** the file's path inside the ISO */
  path: string;
  size: number;
}

export interface ResolvedMedia {
  kind: MediaKind;
  /** the location as given (URL, directory or ISO path), or the kernel path for kernel-initrd */
  location: string;
  family: Family;
  installer: Installer;
  version: string | null;
  arch: Arch;
  name: string;
  /** local path of the kernel to boot directly; null for `cdrom` (the firmware boots the ISO) */
  kernel: string | null;
  initrd: string | null;
  /** anaconda stage2: an URL or `hd:LABEL=…` */
  stage2?: string;
  /** the installer's package source: an URL, `hd:LABEL=…`, or `cdrom` */
  repo?: string;
  /** ISO 9660 volume label (the PVD's volume identifier) */
  volumeLabel?: string;
  /** the ISO the guest needs attached as a CD-ROM */
  cdromPath?: string;
  /** a local tree the guest cannot see: the pipeline serves it over HTTP and passes `repoUrl` */
  serveDir?: string;
  /** true when the installer downloads its packages from the network */
  netInstall: boolean;
  detection: Detection | null;
  /** images checked against the tree's checksums */
  verified: { path: string; algo: ChecksumAlgo; ok: boolean }[];
  /** body bytes downloaded while resolving (0 when everything came from the cache) */
  bytesDownloaded: number;
  /** a dry run (ResolveDeps.plan): what the real run would download instead (not enumerable) */
  plannedDownloads?: PlannedDownload[];
  /** a dry run: what the real run would extract from an ISO into the cache instead (not enumerable) */
  plannedExtracts?: PlannedExtract[];
  warnings: string[];
  /** the kernel command line for this installer; [] when the firmware boots the media (cdrom) */
  kernelArgs(opts: KernelArgsOptions): string[];
}
