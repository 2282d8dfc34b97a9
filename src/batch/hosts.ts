/**
 * A batch over several hosts (manifest `hosts:`): each host has its own device pool, read from its
 * own inventory (libvirt's node devices, or this machine's sysfs for `local`), and its own
 * concurrency limit. A guest goes to a host that can give it every device it asks for, all at once;
 * a guest that asks for none goes where no device is wasted (the hosts with the fewest assignable
 * devices first), so the hosts with devices stay free for the guests that need them. Pure state,
 * no I/O: the facts come in as data.
 *
 * Group keys are per host (`HOST|group:7`): group 7 on one host has nothing to do with group 7 on
 * another.
 */
import { DevicePool } from './pool.js';
import type { Allocation, DeviceMatch, GuestPool, PoolDevice, PoolFilterData } from './pool.js';
import { withoutPassword } from './plan.js';
import type { BatchHost } from './plan.js';

/** One host as the batch sees it: its devices (from its inventory) or why it cannot take guests. */
export interface HostFacts {
  host: BatchHost;
  /** the host's assignable functions (whole groups), as poolFromInventory gives them */
  devices: PoolDevice[];
  /** why no guest can go there (unreachable, …); undefined: it takes guests */
  down?: string;
}

/** What a guest needs of a host besides devices. */
export interface HostNeeds {
  /** a libvirt host (`--network network=NAME`, `--disk pool=`): not `local` */
  libvirt?: string;
}

interface HostSlot {
  facts: HostFacts;
  pool: DevicePool;
  running: Set<string>;
}

export class HostsPool implements GuestPool {
  readonly impossibleCode = 'NO_HOST_FOR_GUEST' as const;
  private readonly slots: HostSlot[];
  /** owner → the host it holds a slot on */
  private readonly where = new Map<string, HostSlot>();
  private readonly needs: ReadonlyMap<string, HostNeeds>;

  constructor(
    hosts: readonly HostFacts[],
    pools: Record<string, PoolFilterData> = {},
    needs: ReadonlyMap<string, HostNeeds> = new Map(),
  ) {
    this.slots = hosts.map((facts) => ({
      facts,
      pool: new DevicePool(facts.devices, pools),
      running: new Set(),
    }));
    this.needs = needs;
  }

  /** the sum of the hosts' limits (the hosts that take guests) */
  get capacity(): number {
    return this.slots.filter((s) => !s.facts.down).reduce((n, s) => n + s.facts.host.concurrency, 0);
  }

  /** why this host can never take the guest; null when it can */
  private refusal(s: HostSlot, requests: readonly DeviceMatch[], owner?: string): string | null {
    if (s.facts.down) return s.facts.down;
    const need = owner === undefined ? undefined : this.needs.get(owner);
    if (need?.libvirt && s.facts.host.uri === undefined) return `not a libvirt host (${need.libvirt})`;
    if (requests.length === 0) return null;
    return s.pool.impossible(requests);
  }

  impossible(requests: readonly DeviceMatch[], owner?: string): string | null {
    const why: string[] = [];
    for (const s of this.slots) {
      const r = this.refusal(s, requests, owner);
      if (r === null) return null;
      why.push(`${s.facts.host.name}: ${r}`);
    }
    return why.length ? why.join('; ') : 'the batch has no hosts';
  }

  /** every device of every host a request could be given (for the `auto` fallback decision) */
  candidates(m: DeviceMatch): PoolDevice[] {
    return this.slots.filter((s) => !s.facts.down).flatMap((s) => s.pool.candidates(m));
  }

  candidateGroups(requests: readonly DeviceMatch[], owner?: string): Set<string> {
    const out = new Set<string>();
    for (const s of this.slots) {
      if (this.refusal(s, requests, owner) !== null) continue;
      for (const k of s.pool.candidateGroups(requests)) out.add(`${s.facts.host.name}|${k}`);
    }
    return out;
  }

  /** the hosts in the order this guest tries them */
  private order(requests: readonly DeviceMatch[]): HostSlot[] {
    if (requests.length > 0) return this.slots;
    // no device: the hosts with the fewest devices first, then the least loaded, then manifest order
    return this.slots
      .map((s, i) => ({ s, i }))
      .sort(
        (a, b) =>
          a.s.pool.inventory.length - b.s.pool.inventory.length ||
          a.s.running.size / a.s.facts.host.concurrency - b.s.running.size / b.s.facts.host.concurrency ||
          a.i - b.i,
      )
      .map((x) => x.s);
  }

  tryAcquire(
    owner: string,
    requests: readonly DeviceMatch[],
    blocked: ReadonlySet<string> = new Set(),
    avoid: ReadonlySet<string> = new Set(),
  ): Allocation | null {
    if (this.where.has(owner)) throw new Error(`hosts pool: ${owner} already holds a host`);
    for (const s of this.order(requests)) {
      if (this.refusal(s, requests, owner) !== null) continue;
      if (s.running.size >= s.facts.host.concurrency) continue;
      const prefix = `${s.facts.host.name}|`;
      const mine = new Set(
        [...blocked].filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length)),
      );
      const a = s.pool.tryAcquire(owner, requests, mine, avoid);
      if (!a) continue;
      s.running.add(owner);
      this.where.set(owner, s);
      const h = s.facts.host;
      return {
        ...a,
        host: {
          name: h.name,
          ...(h.uri !== undefined ? { uri: h.uri } : {}),
          ...(h.force ? { force: true } : {}),
        },
      };
    }
    return null;
  }

  release(owner: string): void {
    const s = this.where.get(owner);
    if (!s) return;
    s.pool.release(owner);
    s.running.delete(owner);
    this.where.delete(owner);
  }

  /** one line per host: its name, URI, limit and pool (or why it takes no guests) */
  describe(): string[] {
    return this.slots.map((s) => {
      const h = s.facts.host;
      const where =
        h.uri === undefined ? 'this machine, qemu run directly' : `libvirt ${withoutPassword(h.uri)}`;
      const pool = s.facts.down
        ? `takes no guests: ${s.facts.down}`
        : `${s.pool.inventory.length} assignable function${s.pool.inventory.length === 1 ? '' : 's'}${s.pool.inventory.length ? ` (${s.pool.inventory.map((d) => `${d.address} ${d.vendorDevice}`).join(', ')})` : ''}`;
      return `host ${h.name} (${where}): concurrency ${h.concurrency}, ${pool}`;
    });
  }
}
