/**
 * Where the shipped data lives (templates/, kickstarts/): the package root, found by walking up from
 * this module's directory to the first directory holding both package.json and templates/. That works
 * from src/ under tsx, from dist/src/ after tsc, and from a bundled file anywhere under dist/ (e.g.
 * dist/bundle/chunks/x.mjs); a package.json without templates/ beside it (a build's own) is passed by.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The first directory at or above `start` holding package.json and templates/; null when none is. */
export function findPackageRoot(start: string): string | null {
  for (let dir = path.resolve(start); ;) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'templates'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}

let cached: string | undefined;

export function packageRoot(): string {
  if (cached) return cached;
  const here = path.dirname(fileURLToPath(import.meta.url));
  const root = findPackageRoot(here);
  if (root === null)
    throw new Error(
      `install-guest: cannot find its package root (package.json and templates/) above ${here}`,
    );
  return (cached = root);
}

export const templatesDir = (): string => path.join(packageRoot(), 'templates');
export const kickstartsDir = (): string => path.join(packageRoot(), 'kickstarts');
