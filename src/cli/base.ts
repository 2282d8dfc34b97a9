/**
 * `install-guest base list|rm [KEY] [--cache DIR] [--json]`: the bases `install --publish-base`
 * keeps for `provision --base KEY` (src/base/cache.ts). `list` prints each key with when and as what
 * it was installed; `rm KEY` removes one (overlays made from it stop working).
 */
import type { CommandSpec } from './command.js';

export const baseCommand: CommandSpec = {
  command: 'base <action> [key]',
  describe: 'list or remove the installed bases kept for provision --base KEY',
  builder: (y) =>
    y
      .positional('action', { choices: ['list', 'rm'] as const, describe: 'what to do' })
      .positional('key', { type: 'string', describe: 'the base key (64 hex digits), for rm' })
      .option('cache', {
        type: 'string',
        describe: 'the base cache (default $INSTALL_GUEST_CACHE or ~/.cache/install-guest)',
      })
      .example('$0 base list', 'the cached bases, oldest first')
      .example('$0 base rm 3f1c…e9', 'remove one (overlays of it stop working)'),
  async run(args, ctx) {
    const path = await import('node:path');
    const { defaultCacheDir, listBases, removeBase } = await import('../base/cache.js');
    const { inputError } = await import('../errors.js');
    const { assertPlainValue } = await import('../request/suboptions.js');
    if (typeof args.cache === 'string') assertPlainValue('--cache', args.cache);
    const cacheDir =
      typeof args.cache === 'string' && args.cache.trim() !== ''
        ? path.resolve(ctx.deps.cwd, args.cache)
        : defaultCacheDir(ctx.deps.env);
    if (args.action === 'list') {
      if (args.key !== undefined)
        throw inputError('BAD_VALUE', `base list takes no key`, {
          hint: 'install-guest base list [--cache DIR]',
        });
      const bases = await listBases(cacheDir);
      if (ctx.json) ctx.printJson({ cacheDir, bases });
      else if (bases.length === 0) ctx.print(`no bases in ${path.join(cacheDir, 'bases')}`);
      else
        for (const b of bases) {
          const size = b.bytes === null ? '' : `  ${(b.bytes / 2 ** 20).toFixed(0)} MiB`;
          ctx.print(
            b.meta
              ? `${b.key}  ${b.meta.createdAt}  ${b.meta.name ?? '-'}${size}`
              : `${b.key}  (incomplete: no meta or disk; base rm removes it)`,
          );
        }
      return 0;
    }
    if (typeof args.key !== 'string' || args.key === '')
      throw inputError('BAD_BASE_KEY', 'base rm needs the key of the base to remove', {
        hint: 'see install-guest base list',
      });
    const p = await removeBase(cacheDir, args.key);
    if (ctx.json) ctx.printJson({ removed: args.key, dir: p.dir });
    else ctx.print(`removed base ${args.key} (${p.dir})`);
    return 0;
  },
};
