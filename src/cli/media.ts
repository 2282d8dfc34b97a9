/**
 * `install-guest media inspect LOCATION [--json] [--verify] [--arch ARCH] [--xen]`: what an install
 * tree, local directory or ISO holds (family, version, arch, kernel, initrd, …); `--verify` checks
 * every image against the tree's checksums (exit 2 when one does not match). Not recognised: exit
 * 2, saying what was looked for and where.
 */
import type { CommandSpec } from './command.js';

export const mediaCommand: CommandSpec = {
  command: 'media <action> <location>',
  describe: 'inspect install media: an http(s) tree, a local directory or an ISO',
  builder: (y) =>
    y
      .positional('action', { choices: ['inspect'] as const, describe: 'what to do' })
      .positional('location', {
        type: 'string',
        describe: 'an http(s) URL of a tree, a local directory, or an ISO file',
      })
      .option('verify', {
        type: 'boolean',
        default: false,
        describe: "check every image against the tree's checksums",
      })
      .option('arch', {
        type: 'string',
        describe: 'the architecture to look for (x86_64, amd64, aarch64, …)',
      })
      .option('xen', { type: 'boolean', default: false, describe: "use the tree's Xen PV images" })
      .option('cache-dir', {
        type: 'string',
        describe: 'download cache (default $INSTALL_GUEST_CACHE_DIR or ~/.cache/install-guest/media)',
      }),
  async run(args, ctx) {
    const { createProgressPrinter } = await import('../media/progress.js');
    const { inspectMedia } = await import('../media/inspect-media.js');
    const report = await inspectMedia(String(args.location), {
      cwd: ctx.deps.cwd,
      env: ctx.deps.env,
      ...(typeof args.cacheDir === 'string' ? { cacheDir: args.cacheDir } : {}),
      verify: Boolean(args.verify),
      xen: Boolean(args.xen),
      ...(typeof args.arch === 'string' ? { arch: args.arch } : {}),
      ...(ctx.deps.signal ? { signal: ctx.deps.signal } : {}),
      onProgress: createProgressPrinter(ctx.deps.stderr, {
        tty: Boolean(ctx.deps.stderr.isTTY) && !ctx.json,
      }),
    });
    if (ctx.json) ctx.printJson(report);
    else {
      const { formatInspect } = await import('../media/inspect.js');
      for (const line of formatInspect(report)) ctx.print(line);
    }
    return report.verify?.some((v) => !v.ok) ? 2 : 0;
  },
};
