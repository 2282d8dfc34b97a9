/**
 * --publish-base, before anything is installed: the key of the base this install would publish (from
 * its inputs: media, answer file, templates, version, request), refused with BASE_EXISTS when the
 * cache holds it already, so a long install is not run for a base that is there. Reads only: a dry
 * run runs it too and prints the key (what a CI job needs to look the base up).
 */
import { inputError } from '../errors.js';
import { need } from '../pipeline/stage.js';
import type { Stage } from '../pipeline/stage.js';
import type { InstallState } from '../pipeline/state.js';

export const checkBase: Stage<InstallState> = {
  name: 'check-base',
  changesHost: false,
  needs: ['request', 'media'],
  async run({ state, log, dryRun }) {
    const req = need(state, 'request');
    if (!req.publishBase) return {};
    if (state.connect)
      throw inputError(
        'BAD_PUBLISH_BASE',
        `--publish-base keeps the disk in a cache on this host, but --connect ${state.connect.uri} installs it in a libvirt pool`,
        {
          hint: 'install the base without --connect; provision --base KEY --print-xml hands its overlays to libvirt',
        },
      );
    const { assertBaseAbsent, checkBaseCacheWritable, defaultCacheDir } = await import('../base/cache.js');
    const { installBaseKey } = await import('../base/key.js');
    const cacheDir = req.publishBase.cacheDir ?? defaultCacheDir(state.env ?? {});
    // the publication at the end must not fail on a cache that could be checked now
    await checkBaseCacheWritable(cacheDir);
    const k = await installBaseKey(req, need(state, 'media'));
    if (k === null)
      return {
        base: {
          key: null,
          cacheDir,
          note: 'the key is the checksum of the media the real run downloads: it is printed when the install starts',
        },
      };
    await assertBaseAbsent(cacheDir, k.key);
    if (!dryRun) log.info(`--publish-base: base key ${k.key} (not in ${cacheDir} yet)`);
    return { base: { key: k.key, cacheDir, mediaChecksum: k.mediaChecksum } };
  },
};
