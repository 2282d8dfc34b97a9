/** `media inspect` on a location as the user typed it (the command and the interactive install share it). */
import type { InspectOptions, InspectReport } from './inspect.js';

/**
 * What `media inspect` reports for a location typed by the user: a URL as it is, a path resolved
 * against `cwd`, the download cache from --cache-dir or the environment. The interactive install's
 * media step calls this too.
 */
export async function inspectMedia(
  location: string,
  options: Omit<InspectOptions, 'cacheDir'> & {
    cwd: string;
    env: Readonly<Record<string, string | undefined>>;
    cacheDir?: string;
  },
): Promise<InspectReport> {
  const { inspectLocation } = await import('./inspect.js');
  const { defaultCacheDir } = await import('./cache.js');
  const path = await import('node:path');
  const { cwd, env, cacheDir, ...rest } = options;
  return inspectLocation(/^[a-z][a-z0-9+.-]*:\/\//i.test(location) ? location : path.resolve(cwd, location), {
    ...rest,
    env,
    cacheDir: path.resolve(cwd, cacheDir ?? defaultCacheDir(env)),
  });
}
