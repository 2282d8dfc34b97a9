/**
 * validate-request: what only the whole install knows (whether --connect was given) decides about
 * options the request grammar alone cannot judge: `--disk pool=` lives in libvirt.
 */
import { expect } from 'chai';
import { isInstallGuestError } from '../../../src/errors.js';
import { createHost } from '../../../src/host/host.js';
import { PipelineError, runStages } from '../../../src/pipeline/runner.js';
import type { InstallState } from '../../../src/pipeline/state.js';
import { validateRequest } from '../../../src/stages/validate-request.js';

const run = (raw: InstallState['raw'], connect?: InstallState['connect']) =>
  runStages([validateRequest], {
    host: createHost({ root: '/' }),
    log: { info: () => undefined, warn: () => undefined },
    signal: new AbortController().signal,
    initial: { raw, cwd: '/w', ...(connect ? { connect } : {}) },
  });

const raw = { name: 'web1', boot: 'kernel=/k,initrd=/i', disk: ['pool=fast,size=2'] } as InstallState['raw'];

describe('validate-request', () => {
  it('--disk pool= without --connect: NEEDS_LIBVIRT naming the pool, with the way out', async () => {
    const e: unknown = await run(raw).then(
      () => null,
      (x: unknown) => (x instanceof PipelineError ? x.error : x),
    );
    expect(isInstallGuestError(e), String(e)).to.equal(true);
    const err = e as { code: string; message: string; hint: string };
    expect(err.code).to.equal('NEEDS_LIBVIRT');
    expect(err.message).to.include('--disk pool=fast');
    expect(err.hint).to.include('--connect');
  });

  it('--disk pool= with --connect: the disk keeps its pool', async () => {
    const { state } = await run(raw, { uri: 'qemu+ssh://root@h7/system', transient: false });
    expect(state.request!.disks[0]).to.deep.include({ pool: 'fast', sizeGiB: 2, path: '/w/web1.qcow2' });
  });
});
