import { expect } from 'chai';
import {
  assignIpv4Addresses,
  defaultRouteIfaces,
  formatIpv6,
  parseFibTrieLocal,
  parseIfInet6,
  parseIpv6RouteTable,
  parseRouteTable,
} from '../../../src/pci/proc-net.js';

// Captured from a real host (the tables the kernel prints, whitespace included).
const ROUTE = `Iface	Destination	Gateway 	Flags	RefCnt	Use	Metric	Mask		MTU	Window	IRTT                                                       
eth0	00000000	010200C0	0003	0	0	0	00000000	0	0	0                                                                               
eth0	000200C0	00000000	0001	0	0	0	00FFFFFF	0	0	0                                                                               
`;
const IPV6_ROUTE = `fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 fd000000000000000000000000000001 00000400 00000002 00000000 00000003     eth0
00000000000000000000000000000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000002 00000000 80200001       lo
00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo
`;
const FIB_TRIE = `Main:
  +-- 0.0.0.0/0 3 0 5
     |-- 0.0.0.0
        /0 universe UNICAST
     +-- 127.0.0.0/8 2 0 2
        +-- 127.0.0.0/31 1 0 0
           |-- 127.0.0.0
              /8 host LOCAL
           |-- 127.0.0.1
              /32 host LOCAL
        |-- 127.255.255.255
           /32 link BROADCAST
     +-- 192.0.2.0/24 2 0 2
        +-- 192.0.2.0/30 2 0 2
           |-- 192.0.2.0
              /24 link UNICAST
           |-- 192.0.2.2
              /32 host LOCAL
        |-- 192.0.2.255
           /32 link BROADCAST
Local:
  +-- 0.0.0.0/0 3 0 5
     |-- 192.0.2.2
        /32 host LOCAL
`;
const IF_INET6 = `00000000000000000000000000000001 01 80 10 80       lo
fd000000000000000000000000000002 02 40 00 80     eth0
fe8000000000000000fc00fffe000001 02 40 20 80     eth0
`;

describe('pci/proc-net', () => {
  it('reads /proc/net/route: little-endian hex, prefix from the mask', () => {
    expect(parseRouteTable(ROUTE)).to.deep.equal([
      { iface: 'eth0', destination: '0.0.0.0', gateway: '192.0.2.1', flags: 3, metric: 0, prefix: 0 },
      { iface: 'eth0', destination: '192.0.2.0', gateway: '0.0.0.0', flags: 1, metric: 0, prefix: 24 },
    ]);
  });

  it('reads /proc/net/ipv6_route', () => {
    const r = parseIpv6RouteTable(IPV6_ROUTE);
    expect(r[0]).to.include({ iface: 'eth0', destination: 'fd00::', prefix: 64 });
    expect(r[1]).to.include({
      iface: 'eth0',
      destination: '::',
      prefix: 0,
      gateway: 'fd00::1',
      metric: 1024,
    });
  });

  it('finds default routes per interface, ignoring the kernel’s unreachable placeholders on lo', () => {
    const m = defaultRouteIfaces(parseRouteTable(ROUTE), parseIpv6RouteTable(IPV6_ROUTE));
    expect([...m.entries()]).to.deep.equal([['eth0', ['0.0.0.0/0 via 192.0.2.1', '::/0 via fd00::1']]]);
  });

  it('gives fib_trie local addresses to the interface of the longest connected route', () => {
    const local = parseFibTrieLocal(FIB_TRIE);
    expect(local).to.deep.equal(['127.0.0.1', '192.0.2.2']);
    const routes = [
      ...parseRouteTable(ROUTE),
      { iface: 'br0', destination: '192.0.2.0', gateway: '0.0.0.0', flags: 1, metric: 0, prefix: 28 },
    ];
    expect(assignIpv4Addresses(local, routes)).to.deep.equal([
      { iface: 'br0', address: '192.0.2.2/28', family: 4 },
    ]);
    expect(assignIpv4Addresses(['10.9.9.9'], routes)).to.deep.equal([
      { iface: '?', address: '10.9.9.9/32', family: 4 },
    ]);
  });

  it('reads /proc/net/if_inet6', () => {
    expect(parseIfInet6(IF_INET6).map((a) => `${a.iface} ${a.address}`)).to.deep.equal([
      'lo ::1/128',
      'eth0 fd00::2/64',
      'eth0 fe80::fc:ff:fe00:1/64',
    ]);
  });

  const v6: [string, string][] = [
    ['00000000000000000000000000000000', '::'],
    ['00000000000000000000000000000001', '::1'],
    ['20010db8000000000000000000000010', '2001:db8::10'],
    ['20010db8000100000000000100000001', '2001:db8:1::1:0:1'],
    ['fe800000000000000000000000000000', 'fe80::'],
    ['20010db8000000010001000100010001', '2001:db8:0:1:1:1:1:1'],
  ];
  for (const [hex, want] of v6) it(`formats ${hex} as ${want}`, () => expect(formatIpv6(hex)).to.equal(want));
});
