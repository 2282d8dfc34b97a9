/**
 * --publish-base, after the confirm boot: the installed disk moves into the base cache under the key
 * check-base computed (read-only, with its meta), for `provision --base KEY`. Only a disk the confirm
 * boot booted is published; the cache's own checks (key grammar, no link followed, a key published
 * meanwhile refused and the disk left where it was) are in src/base/cache.ts.
 */
import { inputError } from '../errors.js';
import { need } from '../pipeline/stage.js';
import type { Stage } from '../pipeline/stage.js';
import type { InstallState } from '../pipeline/state.js';

/** The disk to publish, or BASE_NOT_CONFIRMED when the install did not end with a passed confirm boot. */
export function diskToPublish(state: InstallState): string {
  const confirm = state.confirm;
  if (!confirm || confirm.skipped)
    throw inputError(
      'BASE_NOT_CONFIRMED',
      `the disk of ${state.request?.name ?? 'this install'} was not confirmed${confirm?.skipped ? ` (${confirm.reason})` : ''}: it is not published as a base`,
      { hint: 'a base is the disk of an install whose confirm boot passed; drop --noreboot' },
    );
  const disks = state.request?.disks ?? [];
  if (disks.length !== 1)
    throw inputError(
      'BAD_PUBLISH_BASE',
      `--publish-base publishes one disk, but this install has ${disks.length}`,
      {
        hint: 'install the base with a single --disk',
      },
    );
  return disks[0]!.path;
}

export const publishBaseStage: Stage<InstallState> = {
  name: 'publish-base',
  changesHost: true,
  needs: ['request'],
  // a dry run: check-base has put the key (or why it is not known yet) in the state; nothing to add
  plan: () => ({}),
  async run({ state, host, log, record }) {
    const req = need(state, 'request');
    const base = state.base;
    if (!req.publishBase || !base) return {};
    const disk = diskToPublish(state);
    if (base.key === null) throw new Error('check-base left no key in a real run');
    const { publishBase } = await import('../base/cache.js');
    const { baseRequestSubset } = await import('../base/key.js');
    const { VERSION } = await import('../version.js');
    const p = await publishBase(base.cacheDir, base.key, disk, {
      createdAt: new Date(host.clock.now()).toISOString(),
      toolVersion: VERSION,
      name: req.name,
      request: baseRequestSubset(req),
      ...(base.mediaChecksum ? { mediaChecksum: base.mediaChecksum } : {}),
      source: {
        ...(state.media ? { media: state.media.source } : {}),
        ...(state.answerFile ? { answerFile: state.answerFile.source } : {}),
      },
    }).catch((e: unknown) => {
      // a confirmed install is not thrown away because its publication failed: prepare-disk's
      // cleanup would remove the disk this run created, so it is taken off that list
      record({ createdDisks: (state.createdDisks ?? []).filter((d) => d !== disk) });
      log.warn(`warning: the confirmed disk is kept at ${disk} (not published)`);
      throw e;
    });
    log.info(`published ${disk} as base ${base.key} (${p.disk}, read-only)`);
    return { base: { ...base, published: { dir: p.dir, disk: p.disk } } };
  },
};
