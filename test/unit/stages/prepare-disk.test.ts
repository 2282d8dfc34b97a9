/**
 * prepare-disk through the runner, with real qemu-img: a disk created before a later disk fails is
 * removed by the stage's own cleanup (what the stage recorded as it went reaches its cleanup).
 */
import { expect } from 'chai';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isInstallGuestError } from '../../../src/errors.js';
import { createHost } from '../../../src/host/host.js';
import { PipelineError, runStages } from '../../../src/pipeline/runner.js';
import type { InstallRequest } from '../../../src/request/request.js';
import { prepareDisk } from '../../../src/stages/prepare-disk.js';

const exists = (p: string): Promise<boolean> => stat(p).then(
  () => true,
  () => false,
);

describe('prepare-disk', () => {
  let tmp: string;
  beforeEach(async () => (tmp = await mkdtemp(path.join(os.tmpdir(), 'ig-disk-test-'))));
  afterEach(() => rm(tmp, { recursive: true, force: true }));

  const run = (disks: { path: string; sizeGiB?: number }[]) =>
    runStages([prepareDisk], {
      host: createHost({ root: '/' }),
      log: { info: () => undefined, warn: () => undefined },
      signal: new AbortController().signal,
      initial: {
        raw: {},
        cwd: tmp,
        request: { disks: disks.map((d) => ({ format: 'qcow2', ...d })) } as unknown as InstallRequest,
      },
    });

  it('creates the disks it is asked for and keeps them after success', async () => {
    const one = path.join(tmp, 'one.qcow2');
    const { state } = await run([{ path: one, sizeGiB: 1 }]);
    expect(state.createdDisks).to.deep.equal([one]);
    expect(await exists(one)).to.equal(true);
  });

  it('removes disk 1 when creating disk 2 fails half-way through the stage', async () => {
    const one = path.join(tmp, 'one.qcow2');
    const two = path.join(tmp, 'no-such-dir', 'two.qcow2');
    let caught: unknown;
    try {
      await run([
        { path: one, sizeGiB: 1 },
        { path: two, sizeGiB: 1 },
      ]);
    } catch (e) {
      caught = e;
    }
    expect(caught).to.be.instanceOf(PipelineError);
    const first = (caught as PipelineError).error;
    expect(isInstallGuestError(first) && first.code).to.equal('DISK_CREATE_FAILED');
    expect((caught as PipelineError).records[0]).to.include({ name: 'prepare-disk', status: 'failed', cleanup: 'done' });
    expect(await exists(one), 'disk 1 was left behind').to.equal(false);
  });
});
