/**
 * `npx tsx test/e2e/bed/bed-cli.ts [build] [--force]`: builds (or rebuilds) the test bed's cache and
 * prints the asset paths as JSON with the build time. `path`: prints the cache directory only.
 */
import { bedDir, ensureBed } from './build.js';

const args = process.argv.slice(2);
if (args[0] === 'path') {
  process.stdout.write(`${bedDir()}\n`);
} else {
  const t0 = Date.now();
  const bed = await ensureBed({ force: args.includes('--force') });
  process.stdout.write(`${JSON.stringify({ ...bed, seconds: (Date.now() - t0) / 1000 }, null, 2)}\n`);
}
