/**
 * Where the shipped data lives (templates/, kickstarts/): found by walking up from this module to the
 * package root, so it works from src/ under tsx and from dist/src/ after the build alike.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

export function packageRoot(): string {
  if (cached) return cached;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'templates')))
      return (cached = dir);
    const up = path.dirname(dir);
    if (up === dir) throw new Error('install-guest: cannot find its package root (templates/ missing)');
    dir = up;
  }
}

export const templatesDir = (): string => path.join(packageRoot(), 'templates');
export const kickstartsDir = (): string => path.join(packageRoot(), 'kickstarts');
