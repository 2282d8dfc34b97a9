/**
 * URLs as the fetcher handles them: credentials (`http://user:pw@host/…`) are taken out of the URL
 * before any request (Node's fetch refuses them, and they must never be printed, logged or saved);
 * they become an HTTP Basic `Authorization` header sent to that origin only. Everything shown to a
 * person or written to disk uses the redacted form.
 */

export interface FetchTarget {
  /** the URL without userinfo: what requests, cache keys, messages and progress use */
  url: string;
  /** `Basic …` for `origin` when the URL carried credentials */
  auth?: { origin: string; header: string };
}

/** The URL with its password replaced by `***` (`http://user:***@host/…`); text that is not a URL is returned as is. */
export function redactUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    // not a URL: hide anything that looks like userinfo in it all the same
    return url.replace(/\/\/([^/@\s:]*):[^/@\s]*@/g, '//$1:***@');
  }
  if (!u.username && !u.password) return url;
  if (u.password) u.password = '***';
  return u.toString();
}

/** Replaces every URL with credentials inside a text (an error message from a library) by its redacted form. */
export function redactUrlsIn(text: string): string {
  return text.replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]+/gi, (m) => redactUrl(m));
}

/** Splits a URL into the bare URL and, when it carries credentials, the Basic auth for its origin. */
export function fetchTarget(url: string): FetchTarget {
  const u = new URL(url);
  if (!u.username && !u.password) return { url };
  const user = decodeURIComponent(u.username);
  const pass = decodeURIComponent(u.password);
  u.username = '';
  u.password = '';
  return {
    url: u.toString(),
    auth: { origin: u.origin, header: `Basic ${Buffer.from(`${user}:${pass}`, 'utf8').toString('base64')}` },
  };
}

/** A short name for the file (its last path component). */
export function labelOf(url: string): string {
  try {
    const segs = new URL(url).pathname.split('/').filter(Boolean);
    return segs[segs.length - 1] ?? redactUrl(url);
  } catch {
    return redactUrl(url);
  }
}

/** A path that names an HTML page itself (then an HTML body is the file, not an error page). */
export function looksLikeHtmlPath(url: string): boolean {
  return /\.html?$/i.test(new URL(url).pathname);
}
