/**
 * The built CLI (dist/), as users run it. `npm test` builds before mocha runs, so tests only check
 * that the build is there instead of each running tsc again.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';

export const BUILT_CLI = path.resolve('dist/src/bin/install-guest.js');

export function requireBuiltCli(): string {
  if (!existsSync(BUILT_CLI))
    throw new Error(`${BUILT_CLI} is missing: run \`npm run build\` first (npm test does)`);
  return BUILT_CLI;
}
