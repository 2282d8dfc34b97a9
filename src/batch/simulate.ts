/**
 * The dry run's order: the real scheduler run against the inventory with an install that takes the
 * same time for every guest, so the plan shows who starts at once, who waits for whom, and which
 * device each guest would get. Nothing is touched.
 */
import type { BatchGuest } from './plan.js';
import { DevicePool } from './pool.js';
import type { PoolDevice, PoolFilterData } from './pool.js';
import { runBatch } from './scheduler.js';
import type { GuestResult } from './scheduler.js';

export interface PredictedStart {
  name: string;
  /** 1-based start order; undefined when the guest would not start */
  order?: number;
  /** the guests whose end let this one start ([] = at once) */
  after: string[];
  devices: PoolDevice[];
  /** other functions of the devices' IOMMU groups, held with them */
  alsoReserved: string[];
  /** why it would not start */
  failure?: string;
}

export async function simulateBatch(
  guests: readonly BatchGuest[],
  inventory: readonly PoolDevice[],
  pools: Record<string, PoolFilterData>,
  concurrency: number,
  failFast = false,
): Promise<PredictedStart[]> {
  const pool = new DevicePool(inventory, pools);
  const running: { name: string; resolve: (r: GuestResult) => void }[] = [];
  const ended: string[] = [];
  const predicted = new Map<string, PredictedStart>();
  let order = 0;
  const settle = () => new Promise<void>((r) => setImmediate(r));
  const done = runBatch(
    { guests },
    {
      concurrency,
      failFast,
      pool,
      install: (g, a) =>
        new Promise<GuestResult>((resolve) => {
          const devices = a.devices.map((d) => d.address);
          predicted.set(g.name, {
            name: g.name,
            order: ++order,
            after: [...ended],
            devices: a.devices,
            alsoReserved: a.reserved.map((d) => d.address).filter((x) => !devices.includes(x)),
          });
          ended.length = 0;
          running.push({ name: g.name, resolve });
        }),
    },
  );
  let finished = false;
  void done.then(() => (finished = true));
  await settle();
  let idle = 0;
  while (!finished) {
    const next = running.shift();
    if (!next) {
      // nothing runs and the batch has not ended: only a scheduler bug could leave it so for long
      if (++idle > 1000) throw new Error('batch simulation made no progress');
      await settle();
      continue;
    }
    idle = 0;
    ended.push(next.name);
    next.resolve({
      phases: [
        { phase: 'install', status: 'passed', timeSec: 0 },
        { phase: 'confirm', status: 'passed', timeSec: 0 },
      ],
    });
    await settle();
  }
  const result = await done;
  return result.guests.map(
    (g) =>
      predicted.get(g.name) ?? {
        name: g.name,
        after: [],
        devices: [],
        alsoReserved: [],
        failure: g.error ? `${g.error.message} [${g.error.code}]` : (g.reason ?? g.status),
      },
  );
}
