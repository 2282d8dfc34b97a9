/**
 * Local-media fallback, a pure decision the pipeline takes after device selection. When no NIC can
 * be assigned, or the chosen NIC is the host's only uplink (assigning it cuts the host off the
 * network: the original feature's own warning), the guest gets no passed-through NIC; network
 * install media are then replaced by the configured local media (`--fallback-location`, else a
 * configured default), and the guest gets qemu's user-mode network (or none). The reason is one
 * sentence for the plan and the report.
 */
import { type InstallGuestError, inputError } from '../errors.js';
import type { MediaRequest } from './types.js';

export interface NicSituation {
  /** `assignable`: a NIC was selected for passthrough; `none-assignable`: selection found none */
  status: 'assignable' | 'none-assignable';
  /** the selected NIC carries the host's only uplink (its only default route) */
  onlyUplink?: boolean;
  /** the NIC for messages (`enp3s0 (0000:03:00.0)`) */
  device?: string;
  /** why none was assignable, from the selection (`IOMMU group 7 is not viable`) */
  why?: string;
}

export interface FallbackInput {
  request: MediaRequest;
  nic: NicSituation;
  /** `--fallback-location` */
  fallbackLocation?: string;
  /** the configured default local media */
  configuredFallback?: string;
  /** true when the media need the network even though they are local (a netboot tree); from ResolvedMedia.netInstall */
  mediaNeedsNetwork?: boolean;
  /** qemu's user-mode networking may be used (default true) */
  userNetworking?: boolean;
  /** the user insisted on assigning the host's only uplink */
  allowOnlyUplink?: boolean;
}

export interface FallbackDecision {
  media: MediaRequest;
  network: 'passthrough' | 'user' | 'none';
  fellBack: boolean;
  /** one sentence for the plan and the report; null when nothing changed */
  reason: string | null;
}

const isHttp = (s: string | undefined): boolean => s !== undefined && /^https?:\/\//i.test(s);

/**
 * True when a location is a URL (`scheme://…`): network media, which cannot stand in for a missing
 * NIC. A fallback must be a local directory or ISO.
 */
export function isNetworkLocation(location: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(location);
}

/** FALLBACK_NOT_LOCAL: `source` names where the fallback came from (`--fallback-location`). */
export function fallbackNotLocal(source: string, location: string): InstallGuestError {
  return inputError(
    'FALLBACK_NOT_LOCAL',
    `${source} '${location}' is network media; the fallback must be local`,
    {
      hint: 'give a local install tree directory or ISO, e.g. --fallback-location ./Fedora-40-dvd.iso',
    },
  );
}

/** True when the request installs from the network (an http(s) tree, or a kernel fetched over http). */
export function isNetworkMedia(request: MediaRequest): boolean {
  return isHttp(request.location) || isHttp(request.boot?.kernel) || isHttp(request.boot?.initrd);
}

export function chooseFallback(input: FallbackInput): FallbackDecision {
  const { request, nic } = input;
  const unchanged = { media: request, fellBack: false };
  if (nic.status === 'assignable' && !nic.onlyUplink)
    return { ...unchanged, network: 'passthrough', reason: null };
  if (nic.status === 'assignable' && nic.onlyUplink && input.allowOnlyUplink) {
    return {
      ...unchanged,
      network: 'passthrough',
      reason: `${nic.device ?? 'the selected NIC'} is the host's only uplink and is assigned anyway as asked: the host has no network until it is given back`,
    };
  }

  const why =
    nic.status === 'none-assignable'
      ? `no NIC can be assigned${nic.why ? ` (${nic.why})` : ''}`
      : `${nic.device ?? 'the selected NIC'} is the host's only uplink: assigning it would cut the host off the network`;
  const network = input.userNetworking === false ? 'none' : 'user';
  const netLabel = network === 'user' ? "qemu's user-mode network" : 'no network';
  const needsNetwork = isNetworkMedia(request) || input.mediaNeedsNetwork === true;

  if (!needsNetwork) {
    return { ...unchanged, network, reason: `${why}; the guest gets ${netLabel}` };
  }
  const fallback = input.fallbackLocation ?? input.configuredFallback;
  const source = input.fallbackLocation !== undefined ? '--fallback-location' : 'the configured default';
  if (fallback !== undefined) {
    if (isNetworkLocation(fallback)) throw fallbackNotLocal(source, fallback);
    const media: MediaRequest = { location: fallback };
    if (request.arch) media.arch = request.arch;
    if (request.xen) media.xen = request.xen;
    return {
      media,
      network,
      fellBack: true,
      reason: `${why}; installing from the local media ${fallback} (${source}) instead of ${
        request.location ?? request.boot?.kernel ?? 'the network media'
      }, and the guest gets ${netLabel}`,
    };
  }
  if (network === 'user') {
    return {
      ...unchanged,
      network,
      reason: `${why}; no local media is configured (--fallback-location), so the network media are kept and the guest reaches them through qemu's user-mode network`,
    };
  }
  throw inputError(
    'MEDIA_NEEDS_NETWORK',
    `${why}, the media need the network, and the guest may have no network`,
    {
      hint: 'give local media with --fallback-location DIR|ISO, or allow user-mode networking',
    },
  );
}
