import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { inputError, isInstallGuestError, timeoutError } from '../errors.js';
import type { Stage, StageContext } from '../pipeline/stage.js';
import type { MediaRequest } from '../media/types.js';
import type { InstallState, MediaState } from '../pipeline/state.js';
import type { InstallRequest } from '../request/request.js';
import { mergeKernelArgs } from '../request/virt-install.js';
import { need } from '../pipeline/stage.js';

async function assertFile(option: string, p: string): Promise<void> {
  const s = await stat(p).catch(() => null);
  if (!s?.isFile())
    throw inputError('MEDIA_NOT_FOUND', `${option} '${p}' is not a readable file`, {
      hint: 'check the path',
    });
}

/** Kernel arguments for a headless install: the serial console first, then what the user adds. */
export function headlessArgs(...extra: (string | undefined)[]): string {
  // merged, never duplicated: a later source's console=, inst.ks=, inst.repo=… replace the earlier
  return mergeKernelArgs('console=ttyS0', ...extra);
}

/** The install media the request names (--location, --cdrom, --boot kernel=,initrd=), for the media module. */
export function mediaRequestOf(req: InstallRequest): MediaRequest {
  return {
    ...(req.location ? { location: req.location } : {}),
    ...(req.cdrom ? { cdrom: req.cdrom } : {}),
    ...(req.boot?.kernel
      ? { boot: { kernel: req.boot.kernel, ...(req.boot.initrd ? { initrd: req.boot.initrd } : {}) } }
      : {}),
  };
}

/**
 * Turns --location / --cdrom / --boot / --import into boot media. Reads only; fetched files go to the
 * cache, not the host's state.
 */
/** --location (http(s) tree, local tree, ISO) and --cdrom, through the media module's detectors. */
async function resolveInstallMedia(ctx: StageContext<InstallState>): Promise<Partial<InstallState>> {
  const { state, signal, log } = ctx;
  const req = need(state, 'request');
  const { resolveMedia: resolve } = await import('../media/resolve.js');
  const { fetchProgressToLog } = await import('../media/fetch/progress.js');
  const { DEFAULT_WAIT_MIN } = await import('./launch-qemu.js');
  // after a fallback (select-device), --fallback-location replaces the network media
  const fallback = state.fallbackMedia;
  const request = fallback ? { location: fallback.location } : mediaRequestOf(req);
  // a dry run downloads nothing: the kernel and initrd are listed (HEAD: exists, size) instead, and
  // the tree metadata read to detect the media goes to a throwaway directory, not the cache
  const overHttp = [request.location, request.boot?.kernel, request.boot?.initrd].some(
    (x) => x !== undefined && /^https?:\/\//i.test(x),
  );
  const scratch =
    ctx.dryRun && overHttp ? await mkdtemp(path.join(os.tmpdir(), 'install-guest-plan-')) : null;
  // --wait bounds media resolution too: a server that trickles cannot hold the install forever
  const waitMin = req.waitMinutes ?? DEFAULT_WAIT_MIN;
  const deadline = AbortSignal.timeout(waitMin * 60_000);
  let resolved: Awaited<ReturnType<typeof resolve>>;
  try {
    resolved = await resolve(request, {
      cacheDir: scratch ?? need(state, 'cacheDir'),
      signal: AbortSignal.any([signal, deadline]),
      // a dry run writes nothing to the media cache: no download, no extraction from an ISO
      ...(ctx.dryRun ? { plan: true } : {}),
      onProgress: fetchProgressToLog(log),
      ...(state.env ? { fetch: { env: state.env } } : {}),
    });
  } catch (e) {
    if (deadline.aborted && !signal.aborted && (!isInstallGuestError(e) || e.code === 'FETCH_ABORTED')) {
      throw timeoutError(
        'MEDIA_WAIT_EXCEEDED',
        `resolving the install media took longer than --wait ${waitMin} min`,
        {
          hint: 'the server is too slow; use a nearer mirror or local media, or raise --wait',
          cause: e,
        },
      );
    }
    throw e;
  } finally {
    if (scratch) await rm(scratch, { recursive: true, force: true });
  }
  const downloads = resolved.plannedDownloads ?? [];
  const extracts = resolved.plannedExtracts ?? [];
  // a local anaconda tree is served below, so the media module's "must be served" note does not apply
  const served = resolved.serveDir !== undefined && resolved.installer === 'anaconda';
  for (const w of resolved.warnings)
    if (!(served && w.includes('served over HTTP'))) log.warn(`warning: ${w}`);
  const facts = {
    source: resolved.location,
    kind: resolved.kind,
    family: resolved.family,
    installer: resolved.installer,
    ...(resolved.version ? { version: resolved.version } : {}),
    arch: resolved.arch,
    ...(fallback && state.fallbackReason ? { fallbackReason: state.fallbackReason } : {}),
  };
  if (resolved.kind === 'cdrom' || !resolved.kernel) {
    return {
      media: { ...facts, kind: 'cdrom', boot: { kind: 'cdrom', iso: resolved.cdromPath ?? req.cdrom! } },
      downloads,
    };
  }
  let servedTree: InstallState['servedTree'];
  let repoUrl: string | undefined;
  if (resolved.serveDir && resolved.installer === 'anaconda') {
    const net = state.network ?? req.network;
    if (state.libvirt && !state.libvirt.local) {
      // served on this machine's loopback; a guest on another host reaches that host's loopback
      throw inputError(
        'MEDIA_TREE_NOT_REACHABLE',
        `a guest on the remote libvirt host cannot reach the local tree ${resolved.location} (it is served on this machine only)`,
        {
          hint: 'give an http(s) tree that host can reach, an ISO (--cdrom or --location ISO: uploaded to its pool), or --boot kernel=,initrd=',
        },
      );
    }
    if (net.kind !== 'user') {
      throw inputError(
        'MEDIA_TREE_NOT_REACHABLE',
        `the guest cannot reach the local tree ${resolved.location} without user networking`,
        {
          hint: 'use an http(s) tree or an ISO, or --network user',
        },
      );
    }
    if (!ctx.dryRun) {
      const { serveTree } = await import('../media/serve-tree.js');
      servedTree = await serveTree(resolved.serveDir);
      repoUrl = servedTree.guestUrl;
    } else repoUrl = 'http://10.0.2.2:<port>/';
  }
  const args = resolved.kernelArgs({ headless: true, ...(repoUrl ? { repoUrl } : {}) });
  return {
    media: {
      ...facts,
      boot: {
        kind: 'kernel',
        kernel: resolved.kernel,
        ...(resolved.initrd ? { initrd: resolved.initrd } : {}),
        append: headlessArgs(...args, req.boot?.kernelArgs, req.extraArgs),
      },
      ...(resolved.cdromPath ? { attachCdrom: resolved.cdromPath } : {}),
    },
    ...(servedTree ? { servedTree } : {}),
    downloads,
    ...(extracts.length ? { extracts } : {}),
  };
}

export const resolveMedia: Stage<InstallState> = {
  name: 'resolve-media',
  changesHost: false,
  needs: ['request'],
  async run(ctx) {
    const { state } = ctx;
    const req = need(state, 'request');
    let media: MediaState;
    if (req.boot?.kernel && !req.location) {
      await assertFile('--boot kernel', req.boot.kernel);
      if (req.boot.initrd) await assertFile('--boot initrd', req.boot.initrd);
      media = {
        source: req.boot.kernel,
        kind: 'kernel-initrd',
        ...(req.osVariant ? { family: req.osVariant } : {}),
        boot: {
          kind: 'kernel',
          kernel: req.boot.kernel,
          ...(req.boot.initrd ? { initrd: req.boot.initrd } : {}),
          append: headlessArgs(req.boot.kernelArgs, req.extraArgs),
        },
      };
    } else if (req.import) {
      media = { source: req.disks[0]!.path, kind: 'disk', boot: { kind: 'disk' } };
    } else {
      return resolveInstallMedia(ctx);
    }
    return { media };
  },
  async cleanup({ state }) {
    await state.servedTree?.close();
  },
};
