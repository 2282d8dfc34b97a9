import { expect } from 'chai';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createHost } from '../../../src/host/host.js';
import type { StageContext } from '../../../src/pipeline/stage.js';
import type { InstallState } from '../../../src/pipeline/state.js';
import { prepareWorkdir } from '../../../src/stages/prepare-workdir.js';

const workDirs = async (): Promise<Set<string>> =>
  new Set((await readdir(os.tmpdir())).filter((n) => n.startsWith('install-guest-')));

const contextFor = (logDir: string): StageContext<InstallState> =>
  ({
    state: { request: { logDir } },
    host: createHost({ root: '/' }),
    log: { info() {}, warn() {}, progress() {} },
    signal: new AbortController().signal,
    dryRun: false,
  }) as unknown as StageContext<InstallState>;

describe('prepare-workdir', () => {
  let tmp: string;
  beforeEach(async () => (tmp = await mkdtemp(path.join(os.tmpdir(), 'ig-wd-test-'))));
  afterEach(() => rm(tmp, { recursive: true, force: true }));

  it('makes a private work dir and the log dir, and its cleanup removes only the work dir', async () => {
    const logDir = path.join(tmp, 'a', 'logs');
    const ctx = contextFor(logDir);
    const out = (await prepareWorkdir.run(ctx)) as Partial<InstallState>;
    try {
      expect((await stat(out.workDir!)).mode & 0o777).to.equal(0o700);
      expect((await stat(logDir)).mode & 0o777).to.equal(0o700);
    } finally {
      await prepareWorkdir.cleanup!({ ...ctx, state: { ...ctx.state, ...out } }, 'success');
    }
    await stat(out.workDir!).then(
      () => expect.fail('work dir still there'),
      (e: NodeJS.ErrnoException) => expect(e.code).to.equal('ENOENT'),
    );
    expect((await stat(logDir)).isDirectory()).to.equal(true);
  });

  it('names a --log-dir that cannot be created (exit 2) and leaves no work dir behind', async () => {
    const before = await workDirs();
    let caught: unknown;
    try {
      await prepareWorkdir.run(contextFor('/dev/null/logs'));
    } catch (e) {
      caught = e;
    }
    expect(caught).to.include({ code: 'BAD_LOG_DIR', exitCode: 2 });
    expect((caught as Error).message).to.equal("--log-dir '/dev/null/logs' cannot be created: ENOTDIR");
    const after = await workDirs();
    expect([...after].filter((n) => !before.has(n))).to.deep.equal([]);
  });
});
