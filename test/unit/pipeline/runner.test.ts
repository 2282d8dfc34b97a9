import { expect } from 'chai';
import { hostError, isInstallGuestError } from '../../../src/errors.js';
import { createHost, fixedClock } from '../../../src/host/host.js';
import { PipelineError, runStages } from '../../../src/pipeline/runner.js';
import { need, type Stage } from '../../../src/pipeline/stage.js';

/** codes the tests make up: typed string, so the helpers do not check them against ERROR_CODES */
const STAGE_BROKE: string = 'STAGE_BROKE';

interface S {
  trail: string[];
  value?: number;
}

function harness() {
  const events: string[] = [];
  const warnings: string[] = [];
  const stage = (
    name: string,
    opts: Partial<Stage<S>> & { fail?: boolean; cleanupFails?: boolean } = {},
  ): Stage<S> => ({
    name,
    changesHost: opts.changesHost ?? false,
    run:
      opts.run ??
      (async () => {
        events.push(`run ${name}`);
        await Promise.resolve();
        if (opts.fail) throw hostError(STAGE_BROKE, `${name} broke`);
      }),
    cleanup: async (_ctx, outcome) => {
      events.push(`cleanup ${name} (${outcome})`);
      await Promise.resolve();
      if (opts.cleanupFails) throw new Error(`${name} cleanup broke`);
    },
    ...(opts.plan ? { plan: opts.plan } : {}),
  });
  const options = (signal = new AbortController().signal) => ({
    host: createHost({ root: '/nonexistent', clock: fixedClock() }),
    log: { info: () => undefined, warn: (l: string) => void warnings.push(l) },
    signal,
    initial: { trail: [] } as S,
  });
  return { events, warnings, stage, options };
}

async function failure(p: Promise<unknown>): Promise<PipelineError> {
  try {
    await p;
  } catch (e) {
    expect(e).to.be.instanceOf(PipelineError);
    return e as PipelineError;
  }
  throw new Error('expected the pipeline to fail');
}

describe('stage runner', () => {
  it('runs stages in order, merges what they return, and cleans up in reverse after success', async () => {
    const h = harness();
    const stages: Stage<S>[] = [
      h.stage('a'),
      {
        ...h.stage('b'),
        run: async (ctx) => (
          h.events.push('run b'),
          await Promise.resolve(),
          { value: (ctx.state.value ?? 0) + 41 }
        ),
      },
      {
        ...h.stage('c'),
        run: async (ctx) => (
          h.events.push('run c'),
          await Promise.resolve(),
          { value: ctx.state.value! + 1 }
        ),
      },
    ];
    const { state, records } = await runStages(stages, h.options());
    expect(state.value).to.equal(42);
    expect(h.events).to.deep.equal([
      'run a',
      'run b',
      'run c',
      'cleanup c (success)',
      'cleanup b (success)',
      'cleanup a (success)',
    ]);
    expect(records.map((r) => `${r.name}:${r.status}:${r.cleanup}`)).to.deep.equal([
      'a:done:done',
      'b:done:done',
      'c:done:done',
    ]);
  });

  it('cleans up the failing stage too, and never runs the stages after it', async () => {
    const h = harness();
    const err = await failure(
      runStages([h.stage('a'), h.stage('b', { fail: true }), h.stage('c')], h.options()),
    );
    expect(h.events).to.deep.equal(['run a', 'run b', 'cleanup b (failure)', 'cleanup a (failure)']);
    expect(err.records.map((r) => r.status)).to.deep.equal(['done', 'failed']);
    expect((err.error as Error).message).to.equal('b broke');
  });

  it('records a stage before awaiting it, so a stage that throws synchronously is cleaned up', async () => {
    const h = harness();
    const sync: Stage<S> = {
      ...h.stage('sync'),
      run: () => {
        throw hostError(STAGE_BROKE, 'thrown before any await');
      },
    };
    await failure(runStages([h.stage('a'), sync], h.options()));
    expect(h.events).to.deep.equal(['run a', 'cleanup sync (failure)', 'cleanup a (failure)']);
  });

  it('collects cleanup errors without hiding the first error, and still runs the other cleanups', async () => {
    const h = harness();
    const err = await failure(
      runStages(
        [h.stage('a', { cleanupFails: true }), h.stage('b', { cleanupFails: true, fail: true })],
        h.options(),
      ),
    );
    expect((err.error as Error).message).to.equal('b broke');
    expect(err.cleanupErrors.map((c) => c.stage)).to.deep.equal(['b', 'a']);
    expect(h.events).to.deep.equal(['run a', 'run b', 'cleanup b (failure)', 'cleanup a (failure)']);
    expect(h.warnings.join('\n'))
      .to.match(/cleanup of b failed/)
      .and.match(/cleanup of a failed/);
  });

  it('fails a successful run whose cleanup failed, with CLEANUP_FAILED', async () => {
    const h = harness();
    const err = await failure(runStages([h.stage('a', { cleanupFails: true })], h.options()));
    expect(isInstallGuestError(err.error) && err.error.code).to.equal('CLEANUP_FAILED');
  });

  it('turns an abort into INTERRUPTED (exit 130) after running the cleanups, and starts no further stage', async () => {
    const h = harness();
    const ac = new AbortController();
    const waiting: Stage<S> = {
      ...h.stage('waits'),
      run: (ctx) =>
        new Promise((_resolve, reject) => {
          h.events.push('run waits');
          ctx.signal.addEventListener('abort', () => reject(new Error('aborted while waiting')));
          setImmediate(() => ac.abort(Object.assign(new Error('SIGINT'), { signal: 'SIGINT' })));
        }),
    };
    const err = await failure(runStages([h.stage('a'), waiting, h.stage('never')], h.options(ac.signal)));
    expect(isInstallGuestError(err.error) && err.error.exitCode).to.equal(130);
    expect((err.error as Error).message).to.include('SIGINT');
    expect(h.events).to.deep.equal([
      'run a',
      'run waits',
      'cleanup waits (interrupted)',
      'cleanup a (interrupted)',
    ]);
  });

  it('with onError keep, skips cleanups after a failure but not after success', async () => {
    const h = harness();
    const err = await failure(
      runStages([h.stage('a'), h.stage('b', { fail: true })], { ...h.options(), onError: 'keep' }),
    );
    expect(h.events).to.deep.equal(['run a', 'run b']);
    expect(err.records.map((r) => r.cleanup)).to.deep.equal(['kept', 'kept']);
    const ok = harness();
    await runStages([ok.stage('a')], { ...ok.options(), onError: 'keep' });
    expect(ok.events).to.deep.equal(['run a', 'cleanup a (success)']);
  });

  it('in a dry run, plans the stages that change the host instead of running them', async () => {
    const h = harness();
    const stages: Stage<S>[] = [
      h.stage('reads'),
      h.stage('binds', { changesHost: true, plan: () => ({ value: 7 }) }),
      h.stage('starts-qemu', { changesHost: true }),
    ];
    const { state, records } = await runStages(stages, { ...h.options(), dryRun: true });
    expect(h.events).to.deep.equal(['run reads', 'cleanup reads (success)']);
    expect(state.value).to.equal(7);
    expect(records.map((r) => r.status)).to.deep.equal(['done', 'planned', 'skipped']);
  });

  it("gives a failing stage's cleanup what it recorded before failing", async () => {
    const h = harness();
    const seen: S[] = [];
    const halfway: Stage<S> = {
      name: 'halfway',
      changesHost: true,
      async run(ctx) {
        ctx.record({ trail: ['made 1'] });
        expect(ctx.state.trail, 'a record is in the state at once').to.deep.equal(['made 1']);
        await Promise.resolve();
        throw hostError(STAGE_BROKE, 'made 1, failed on 2');
      },
      cleanup: (ctx) => (seen.push({ ...ctx.state }), Promise.resolve()),
    };
    const err = await failure(runStages([halfway], h.options()));
    expect(seen).to.deep.equal([{ trail: ['made 1'] }]);
    expect((err.state as S).trail).to.deep.equal(['made 1']);
  });

  it('checks what a stage needs before it runs, naming the missing field', async () => {
    const h = harness();
    const err = await failure(
      runStages([h.stage('a'), { ...h.stage('needs-value'), needs: ['trail', 'value'] }], h.options()),
    );
    expect(err.message).to.match(/^stage needs-value needs value, which no stage before it wrote/);
    expect(h.events).to.deep.equal(['run a', 'cleanup needs-value (failure)', 'cleanup a (failure)']);
    const ok = harness();
    await runStages(
      [{ ...ok.stage('writes'), run: () => Promise.resolve({ value: 1 }) }, { ...ok.stage('reads'), needs: ['value'] }],
      ok.options(),
    );
    expect(ok.events).to.include('run reads');
  });

  it("gives cleanups their own signal, not the run's aborted one", async () => {
    const h = harness();
    const ac = new AbortController();
    const signals: boolean[] = [];
    const stage: Stage<S> = {
      ...h.stage('a'),
      run: () => (ac.abort(Object.assign(new Error('SIGINT'), { signal: 'SIGINT' })), Promise.resolve()),
      cleanup: (ctx) => (signals.push(ctx.signal.aborted), Promise.resolve()),
    };
    await failure(runStages([stage, h.stage('never')], h.options(ac.signal)));
    expect(signals).to.deep.equal([false]);
  });

  it('goes on without a cleanup that outlives its deadline (CLEANUP_TIMEOUT), aborting its signal', async () => {
    const h = harness();
    let abortedWith: unknown;
    const hung: Stage<S> = {
      ...h.stage('hangs'),
      cleanup: (ctx) =>
        new Promise(() => {
          ctx.signal.addEventListener('abort', () => (abortedWith = ctx.signal.reason));
        }),
    };
    const err = await failure(
      runStages([h.stage('first'), hung, h.stage('fails', { fail: true })], { ...h.options(), cleanupTimeoutMs: 50 }),
    );
    expect(h.events).to.deep.equal(['run first', 'run hangs', 'run fails', 'cleanup fails (failure)', 'cleanup first (failure)']);
    expect(err.records.map((r) => r.cleanup)).to.deep.equal(['done', 'failed', 'done']);
    expect(err.cleanupErrors.map((c) => isInstallGuestError(c.error) && c.error.code)).to.deep.equal(['CLEANUP_TIMEOUT']);
    expect(isInstallGuestError(abortedWith) && abortedWith.code).to.equal('CLEANUP_TIMEOUT');
  });
  it('need() gives a field as present, and names the stage and the field when it is not', async () => {
    const h = harness();
    const seen: number[] = [];
    await runStages(
      [
        { ...h.stage('writes'), run: () => Promise.resolve({ value: 7 }) },
        { ...h.stage('reads'), run: (ctx) => (seen.push(need(ctx.state, 'value') + 1), Promise.resolve()) },
      ],
      h.options(),
    );
    expect(seen).to.deep.equal([8]);

    const bad = harness();
    const err = await failure(
      runStages(
        [{ ...bad.stage('undeclared'), run: (ctx) => (need(ctx.state, 'value'), Promise.resolve()) }],
        bad.options(),
      ),
    );
    expect(err.message).to.match(/stage undeclared read the state field value, which no stage wrote/);
    // a cleanup reading a field its stage never wrote is named the same way, and collected
    const c = harness();
    const cleanupReads: Stage<S> = {
      ...c.stage('cleans'),
      cleanup: (ctx) => (need(ctx.state, 'value'), Promise.resolve()),
    };
    const e2 = await failure(runStages([cleanupReads, c.stage('fails', { fail: true })], c.options()));
    expect(String((e2.cleanupErrors[0]?.error as Error).message)).to.match(/stage cleans read the state field value/);
    expect(() => need<S, 'value'>({ trail: [] }, 'value')).to.throw(/a stage run outside the runner read the state field value/);
  });
});
