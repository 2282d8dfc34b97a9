/**
 * Where the shipped templates live: `kickstarts/` at the package root, found by walking up from
 * this module (src/kickstart under tsx, dist/src/kickstart when built).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

export function kickstartsDir(): string {
  if (cached) return cached;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, 'kickstarts');
    if (existsSync(path.join(candidate, 'partials')) && existsSync(path.join(dir, 'package.json'))) {
      cached = candidate;
      return candidate;
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error('install-guest: the kickstarts/ directory was not found above ' + dir);
    dir = up;
  }
}
