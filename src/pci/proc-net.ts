/**
 * Parsers for the kernel's network tables in /proc (pure: text in, data out).
 *
 * - /proc/net/route: IPv4 routes; addresses and masks are hex in host (little-endian) byte order;
 *   the default route has destination 00000000 and mask 00000000.
 * - /proc/net/ipv6_route: IPv6 routes; the default route is destination ::/0.
 * - /proc/net/if_inet6: IPv6 addresses with their interface.
 * - /proc/net/fib_trie: IPv4 local addresses (`|-- A.B.C.D` followed by `/32 host LOCAL`). The
 *   trie does not name the interface, so each local address is given to the interface whose
 *   connected (gateway-less) route in /proc/net/route contains it, longest prefix first. This reads
 *   only /proc (so it works on captured snapshots and fixture trees) at the cost of missing
 *   addresses with no connected route (e.g. /32 point-to-point addresses): those are reported
 *   under the interface `?`.
 */

export interface Ipv4Route {
  iface: string;
  destination: string;
  gateway: string;
  prefix: number;
  metric: number;
  flags: number;
}

export interface Ipv6Route {
  iface: string;
  destination: string;
  prefix: number;
  gateway: string;
  metric: number;
  flags: number;
}

export interface InterfaceAddress {
  iface: string;
  /** `192.168.1.10/24` or `2001:db8::10/64` */
  address: string;
  family: 4 | 6;
  /** IPv6 only: the scope from if_inet6 (0 global, 0x20 link, 0x10 host) */
  scope?: number;
}

function leHexToIpv4(h: string): string {
  const n = Number.parseInt(h, 16) >>> 0;
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24].join('.');
}

function maskToPrefix(h: string): number {
  let n = Number.parseInt(h, 16) >>> 0;
  let bits = 0;
  while (n) {
    bits += n & 1;
    n >>>= 1;
  }
  return bits;
}

export function parseRouteTable(text: string): Ipv4Route[] {
  const out: Ipv4Route[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8 || !/^[0-9a-f]{8}$/i.test(f[1]!)) continue;
    out.push({
      iface: f[0]!,
      destination: leHexToIpv4(f[1]!),
      gateway: leHexToIpv4(f[2]!),
      flags: Number.parseInt(f[3]!, 16),
      metric: Number(f[6]),
      prefix: maskToPrefix(f[7]!),
    });
  }
  return out;
}

/** `20010db8000000000000000000000010` → `2001:db8::10` (RFC 5952 short form). */
export function formatIpv6(hex32: string): string {
  const groups =
    hex32
      .toLowerCase()
      .match(/.{4}/g)
      ?.map((g) => g.replace(/^0+(?=.)/, '')) ?? [];
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < groups.length;) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === '0') j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

export function parseIpv6RouteTable(text: string): Ipv6Route[] {
  const out: Ipv6Route[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || !/^[0-9a-f]{32}$/i.test(f[0]!)) continue;
    out.push({
      destination: formatIpv6(f[0]!),
      prefix: Number.parseInt(f[1]!, 16),
      gateway: formatIpv6(f[4]!),
      metric: Number.parseInt(f[5]!, 16),
      flags: Number.parseInt(f[8]!, 16),
      iface: f[9]!,
    });
  }
  return out;
}

export function parseIfInet6(text: string): InterfaceAddress[] {
  const out: InterfaceAddress[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 6 || !/^[0-9a-f]{32}$/i.test(f[0]!)) continue;
    out.push({
      iface: f[5]!,
      address: `${formatIpv6(f[0]!)}/${Number.parseInt(f[2]!, 16)}`,
      family: 6,
      scope: Number.parseInt(f[3]!, 16),
    });
  }
  return out;
}

/** The local IPv4 addresses listed in /proc/net/fib_trie (deduplicated, in order of appearance). */
export function parseFibTrieLocal(text: string): string[] {
  const out: string[] = [];
  let last: string | null = null;
  for (const line of text.split('\n')) {
    const leaf = /\|--\s+(\d+\.\d+\.\d+\.\d+)/.exec(line);
    if (leaf) {
      last = leaf[1]!;
      continue;
    }
    if (last && /\/32 host LOCAL/.test(line) && !out.includes(last)) out.push(last);
  }
  return out;
}

const v4num = (ip: string): number => ip.split('.').reduce((a, x) => ((a << 8) | Number(x)) >>> 0, 0);

/** Gives each local IPv4 address to the interface of the longest connected route containing it. */
export function assignIpv4Addresses(local: string[], routes: Ipv4Route[]): InterfaceAddress[] {
  const out: InterfaceAddress[] = [];
  for (const ip of local) {
    if (ip.startsWith('127.')) continue;
    const n = v4num(ip);
    let best: Ipv4Route | null = null;
    for (const r of routes) {
      if (r.flags & 0x2 || r.prefix === 0) continue; // gateway routes and the default route are not connected
      const mask = r.prefix === 32 ? 0xffffffff : (0xffffffff << (32 - r.prefix)) >>> 0;
      if ((n & mask) >>> 0 !== (v4num(r.destination) & mask) >>> 0) continue;
      if (!best || r.prefix > best.prefix) best = r;
    }
    out.push({ iface: best?.iface ?? '?', address: `${ip}/${best?.prefix ?? 32}`, family: 4 });
  }
  return out;
}

export interface DefaultRoutes {
  /** interfaces carrying an IPv4 or IPv6 default route, with the gateway (`via 192.168.1.1`) */
  byIface: Map<string, string[]>;
}

export function defaultRouteIfaces(v4: Ipv4Route[], v6: Ipv6Route[]): Map<string, string[]> {
  const m = new Map<string, string[]>();
  const add = (iface: string, what: string): void => {
    if (iface === 'lo') return;
    m.set(iface, [...(m.get(iface) ?? []), what]);
  };
  for (const r of v4)
    if (r.destination === '0.0.0.0' && r.prefix === 0) add(r.iface, `0.0.0.0/0 via ${r.gateway}`);
  for (const r of v6) {
    // unreachable (RTF_REJECT 0x0200) defaults on lo are the kernel's placeholders, not routes
    if (r.destination === '::' && r.prefix === 0 && (r.flags & 0x0200) === 0)
      add(r.iface, `::/0 via ${r.gateway}`);
  }
  return m;
}
