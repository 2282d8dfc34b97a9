/**
 * The kernel command line each installer needs, as a list of arguments (the qemu builder joins
 * them and escapes them for -append). Pure.
 * - anaconda: the package source (`inst.repo=URL` for an HTTP tree, `inst.stage2=hd:LABEL=…` for an
 *   ISO attached as a CD-ROM, the label's blanks as `\x20` as dracut expects), the kickstart
 *   (`inst.ks=URL` or `inst.ks=file:/PATH` for a file inside the initrd), and `inst.text` with
 *   `console=ttyS0` when there is no display;
 * - debian-installer: with a preseed `auto=true priority=critical` and `url=URL` or
 *   `preseed/file=/PATH`; `console=ttyS0` when headless;
 * - casper (Ubuntu's subiquity): `autoinstall` with a cloud-init NoCloud source
 *   (`ds=nocloud-net;s=URL-DIR/` or `ds=nocloud;s=/DIR/`);
 * - SUSE linuxrc: `install=URL`, `autoyast=URL|file:///PATH`;
 * - Mageia's drakx: `automatic=method:http,network:dhcp,server:HOST,directory:/PATH` (no answer file yet);
 * - unknown installers (a kernel and initrd given with --boot): anaconda's `inst.ks=` spelling, which
 *   install-guest's own test-bed installer honours.
 */
import { inputError } from '../errors.js';
import type { Family, Installer, KernelArgsOptions, MediaKind } from './types.js';

export interface KernelArgsMedia {
  kind: MediaKind;
  installer: Installer;
  family: Family;
  /** the tree URL (tree-http) */
  location: string;
  volumeLabel?: string;
}

/** `Fedora-WS-Live 39` → `Fedora-WS-Live\x2039` (dracut/udev label encoding of blanks). */
export function escapeLabel(label: string): string {
  return label.replace(/ /g, '\\x20');
}

function dirOf(p: string): string {
  const i = p.lastIndexOf('/');
  return i < 0 ? './' : p.slice(0, i + 1);
}

function needsServing(media: KernelArgsMedia): Error {
  return inputError(
    'MEDIA_TREE_NOT_REACHABLE',
    `the guest cannot read the local tree ${media.location}: ${media.installer} needs its repository`,
    { hint: 'serve the directory over HTTP and pass its URL (repoUrl), or use an ISO or an http(s) tree' },
  );
}

export function kernelArgsFor(media: KernelArgsMedia, opts: KernelArgsOptions): string[] {
  if (media.kind === 'cdrom') return [];
  if (opts.ksPath && opts.ksUrl) throw new Error('kernelArgs: give ksPath or ksUrl, not both');
  const ksPath = opts.ksPath && (opts.ksPath.startsWith('/') ? opts.ksPath : `/${opts.ksPath}`);
  const args: string[] = [];
  switch (media.installer) {
    case 'anaconda': {
      if (opts.repoUrl) args.push(`inst.repo=${opts.repoUrl}`);
      else if (media.kind === 'tree-http') args.push(`inst.repo=${media.location}`);
      else if (media.kind === 'iso' && media.volumeLabel)
        args.push(`inst.stage2=hd:LABEL=${escapeLabel(media.volumeLabel)}`);
      else if (media.kind === 'tree-local') throw needsServing(media);
      if (opts.ksUrl) args.push(`inst.ks=${opts.ksUrl}`);
      if (ksPath) args.push(`inst.ks=file:${ksPath}`);
      if (opts.headless) args.push('inst.text');
      break;
    }
    case 'debian-installer': {
      if (opts.ksUrl || ksPath) args.push('auto=true', 'priority=critical');
      if (opts.ksUrl) args.push(`url=${opts.ksUrl}`);
      if (ksPath) args.push(`preseed/file=${ksPath}`);
      break;
    }
    case 'casper': {
      if (opts.ksUrl) args.push('autoinstall', `ds=nocloud-net;s=${dirOf(opts.ksUrl)}`);
      if (ksPath) args.push('autoinstall', `ds=nocloud;s=${dirOf(ksPath)}`);
      break;
    }
    case 'suse-linuxrc': {
      if (opts.repoUrl) args.push(`install=${opts.repoUrl}`);
      else if (media.kind === 'tree-http') args.push(`install=${media.location}`);
      else if (media.kind === 'iso') args.push('install=cd:/');
      else if (media.kind === 'tree-local') throw needsServing(media);
      if (opts.ksUrl) args.push(`autoyast=${opts.ksUrl}`);
      if (ksPath) args.push(`autoyast=file://${ksPath}`);
      if (opts.headless) args.push('textmode=1');
      break;
    }
    case 'mageia-drakx': {
      if (opts.ksUrl || ksPath) {
        throw inputError(
          'MEDIA_NO_UNATTENDED',
          'install-guest has no unattended install for Mageia (auto_inst) yet',
          {
            hint: 'install Mageia interactively (drop the answer file), or use another distribution',
          },
        );
      }
      const repo = opts.repoUrl ?? (media.kind === 'tree-http' ? media.location : null);
      if (repo) {
        const u = new URL(repo);
        args.push(
          `automatic=method:http,network:dhcp,server:${u.host},directory:${decodeURIComponent(u.pathname)}`,
        );
      } else if (media.kind === 'tree-local') {
        throw needsServing(media);
      }
      break;
    }
    case 'unknown': {
      if (opts.ksUrl) args.push(`inst.ks=${opts.ksUrl}`);
      if (ksPath) args.push(`inst.ks=file:${ksPath}`);
      break;
    }
  }
  if (opts.headless) args.push('console=ttyS0');
  return args;
}
