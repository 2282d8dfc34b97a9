import { expect } from 'chai';
import { mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { planBatch } from '../../../src/batch/plan.js';
import { fileResultStore, guestInputsKey, inputFiles } from '../../../src/batch/resume.js';
import type { GuestOutcome } from '../../../src/batch/scheduler.js';

describe('resume records', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ig-resume-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const guestOf = (extra: string) =>
    planBatch(`guests:\n  - name: a\n    cdrom: media.iso\n${extra}`, {
      manifestPath: path.join(dir, 'm.yaml'),
      cwd: dir,
    }).plan!.guests[0]!;

  it('keys a guest by its resolved inputs, not by where its logs go', () => {
    const base = guestOf('');
    const k = guestInputsKey(base, {});
    expect(guestInputsKey(guestOf('    on-error: keep\n'), {})).to.equal(k);
    for (const extra of ['    memory: 2G\n', '    vars: { x: 1 }\n', '    hostdev: auto\n'])
      expect(guestInputsKey(guestOf(extra), {}), extra).to.not.equal(k);
    expect(guestInputsKey(base, { [path.join(dir, 'media.iso')]: { size: 1, mtimeMs: 2 } })).to.not.equal(k);
    expect(guestInputsKey(base, {}, '9.9.9')).to.not.equal(k);
    expect(inputFiles(base.request)).to.deep.equal([path.join(dir, 'media.iso')]);
  });

  it('finds a passed guest again, until a file it reads changes', async () => {
    const iso = path.join(dir, 'media.iso');
    await writeFile(iso, 'iso');
    const g = guestOf('');
    const store = fileResultStore(path.join(dir, 'state'));
    expect(await store.passedBefore(g)).to.equal(false);
    await store.record(g, { devices: [], endedAt: 1 } as unknown as GuestOutcome);
    expect(await store.passedBefore(g)).to.equal(true);
    expect(await readdir(path.join(dir, 'state', 'guests'))).to.deep.equal([`${await store.keyOf(g)}.json`]);
    await utimes(iso, new Date(2020, 0, 1), new Date(2020, 0, 1));
    expect(await store.passedBefore(g), 'the ISO changed').to.equal(false);
  });
});
