/**
 * Which proxy a media request goes through, from the environment as curl, wget and virt-install
 * (Python's urllib) read it: `http_proxy` for http: URLs, `https_proxy` for https: URLs (the
 * lower-case name wins over the upper-case one), `all_proxy` as a fallback; `no_proxy` lists hosts
 * that are reached directly: `*`, a host name (its subdomains too, with or without a leading `.` or
 * `*.`), an IP address or an IPv4/IPv6 CIDR block, each optionally with `:port`.
 * Pure: URL and environment in, proxy URL (or null) out.
 */
import { BlockList, isIP } from 'node:net';
import { inputError } from '../../errors.js';
import { redactUrl } from './url.js';

export type ProxyEnv = Readonly<Record<string, string | undefined>>;

function envVar(env: ProxyEnv, name: string): string | undefined {
  const v = env[name] ?? env[name.toUpperCase()];
  return v && v.trim() !== '' ? v.trim() : undefined;
}

function bareHost(hostname: string): string {
  return hostname.replace(/^\[|\]$/g, '').toLowerCase();
}

/** True when `no_proxy` says this URL is reached directly. */
export function bypassesProxy(url: URL, noProxy: string | undefined): boolean {
  if (!noProxy) return false;
  const host = bareHost(url.hostname);
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  for (const raw of noProxy.split(/[\s,]+/)) {
    let entry = raw.trim().toLowerCase();
    if (entry === '') continue;
    if (entry === '*') return true;
    let entryPort: string | undefined;
    const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
    if (v6) {
      entry = v6[1]!;
      entryPort = v6[2];
    } else if (isIP(entry) !== 6) {
      const m = /^(.*):(\d+)$/.exec(entry);
      if (m) {
        entry = m[1]!;
        entryPort = m[2];
      }
    }
    if (entryPort !== undefined && entryPort !== port) continue;
    const cidr = /^([^/]+)\/(\d{1,3})$/.exec(entry);
    const family = isIP(host);
    if (cidr && family !== 0) {
      const f = isIP(cidr[1]!);
      if (f === 0) continue;
      const list = new BlockList();
      try {
        list.addSubnet(cidr[1]!, Number(cidr[2]), f === 6 ? 'ipv6' : 'ipv4');
      } catch {
        continue;
      }
      if (list.check(host, family === 6 ? 'ipv6' : 'ipv4')) return true;
      continue;
    }
    const name = entry.replace(/^\*?\./, '');
    if (host === name || (isIP(host) === 0 && host.endsWith(`.${name}`))) return true;
  }
  return false;
}

/** The proxy for this URL (null: connect directly). A proxy this client cannot use is an input error. */
export function proxyFor(url: string | URL, env: ProxyEnv): URL | null {
  const u = typeof url === 'string' ? new URL(url) : url;
  const scheme = u.protocol === 'https:' ? 'https' : u.protocol === 'http:' ? 'http' : null;
  if (scheme === null) return null;
  const value = envVar(env, `${scheme}_proxy`) ?? envVar(env, 'all_proxy');
  if (!value) return null;
  if (bypassesProxy(u, envVar(env, 'no_proxy'))) return null;
  const name = envVar(env, `${scheme}_proxy`) ? `${scheme}_proxy` : 'all_proxy';
  let proxy: URL;
  try {
    proxy = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`);
  } catch {
    throw inputError('MEDIA_PROXY_BAD', `${name}=${redactUrl(value)} is not a valid proxy URL`, {
      hint: `set ${name} to http://HOST:PORT, or unset it`,
    });
  }
  if (proxy.protocol !== 'http:') {
    throw inputError(
      'MEDIA_PROXY_UNSUPPORTED',
      `${name}=${redactUrl(value)}: only http:// proxies are supported for media downloads`,
      { hint: `give an http:// proxy (it tunnels https with CONNECT), or list the host in no_proxy` },
    );
  }
  return proxy;
}
