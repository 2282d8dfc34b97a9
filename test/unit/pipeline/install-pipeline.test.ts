/**
 * The install stage list's order, checked through the stages' declared `needs`: the real list in a
 * dry run (every stage that plans or runs has what it needs), and the same list with a stage moved
 * before the one that writes its input, which the runner refuses by name.
 */
import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createHost, fixedClock, sequentialIds } from '../../../src/host/host.js';
import { createInstallPipeline } from '../../../src/pipeline/install-pipeline.js';
import { PipelineError, runStages } from '../../../src/pipeline/runner.js';

const FIXTURES = path.resolve('fixtures');

describe('install pipeline: the stage list', () => {
  let cwd: string;
  beforeEach(async () => (cwd = await mkdtemp(path.join(os.tmpdir(), 'ig-pipeline-'))));
  afterEach(() => rm(cwd, { recursive: true, force: true }));

  const dryRun = (stages: ReturnType<typeof createInstallPipeline>) =>
    runStages(stages, {
      host: createHost({ root: path.join(FIXTURES, 'cases', '_empty-host'), clock: fixedClock(), ids: sequentialIds() }),
      log: { info: () => undefined, warn: () => undefined },
      signal: new AbortController().signal,
      dryRun: true,
      initial: {
        raw: {
          name: 'tiny',
          memory: '512',
          disk: [`path=${cwd}/tiny.qcow2,size=4`],
          accel: 'tcg',
          boot: `kernel=${FIXTURES}/cases/_media/vmlinuz,initrd=${FIXTURES}/cases/_media/initrd.img`,
          logDir: path.join(cwd, 'logs'),
        },
        cwd,
        cacheDir: path.join(cwd, 'cache'),
      },
    });

  it('is a new list for every run', () => {
    expect(createInstallPipeline()).to.not.equal(createInstallPipeline());
  });

  it("gives every stage the fields it needs, in a dry run of the real list", async () => {
    const stages = createInstallPipeline();
    expect(stages.filter((s) => s.needs?.length).length, 'stages declare what they read').to.be.at.least(8);
    const { records, state } = await dryRun(stages);
    expect(records.map((r) => r.status)).to.not.include('failed');
    expect(state.argv?.install.length).to.be.greaterThan(0);
  });

  it('refuses a list where a stage comes before the stage that writes what it needs', async () => {
    const stages = createInstallPipeline();
    const build = stages.findIndex((s) => s.name === 'build-command');
    const [moved] = stages.splice(build, 1);
    stages.splice(1, 0, moved!); // right after validate-request, before prepare-workdir
    let caught: unknown;
    try {
      await dryRun(stages);
    } catch (e) {
      caught = e;
    }
    expect(caught).to.be.instanceOf(PipelineError);
    expect((caught as PipelineError).message).to.match(
      /^stage build-command needs media, workDir, uuid, mac, accel, which no stage before it wrote/,
    );
  });
});
