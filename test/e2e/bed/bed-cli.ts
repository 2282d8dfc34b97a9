/**
 * `npx tsx test/e2e/bed/bed-cli.ts [build] [--force]`: builds (or rebuilds) the test bed's cache and
 * prints the asset paths as JSON with the build time. `path`: prints the cache directory only.
 * `tree`: builds what is missing (progress on stderr) and prints the tiny install tree's path (the
 * media live in a directory named by their recipe's stamp, so scripts ask for it).
 * `debian [--force]`: builds the Debian 12 cloud image (test/e2e/bed/debian.ts) and prints its facts.
 */
import { bedDir, ensureBed } from './build.js';

const args = process.argv.slice(2);
if (args[0] === 'path') {
  process.stdout.write(`${bedDir()}\n`);
} else if (args[0] === 'tree') {
  process.stdout.write(`${(await ensureBed()).media.treeDir}\n`);
} else if (args[0] === 'debian') {
  const { ensureDebianImage } = await import('./debian.js');
  const t0 = Date.now();
  const image = await ensureDebianImage({ force: args.includes('--force') });
  process.stdout.write(
    `${JSON.stringify({ ...image, packages: image.packages.length, seconds: (Date.now() - t0) / 1000 }, null, 2)}\n`,
  );
} else {
  const t0 = Date.now();
  const bed = await ensureBed({ force: args.includes('--force') });
  process.stdout.write(`${JSON.stringify({ ...bed, seconds: (Date.now() - t0) / 1000 }, null, 2)}\n`);
}
