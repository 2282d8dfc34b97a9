import { expect } from 'chai';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { lintKickstart } from '../../../src/kickstart/lint.js';
import { confirmInstallSnippet } from '../../../src/kickstart/render.js';
import {
  MAX_INCLUDE_DEPTH,
  addConfirmUnit,
  loadUserKickstart,
  mapFindings,
  resolveIncludes,
} from '../../../src/kickstart/user-kickstart.js';
import { rejection } from '../../helpers/typed-error.js';

describe('kickstart/user-kickstart', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ig-userks-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it("inlines local includes relative to the including file, keeping each line's origin", async () => {
    await mkdir(path.join(dir, 'parts'));
    await writeFile(path.join(dir, 'main.ks'), 'text\n%include parts/storage.ks\npoweroff\n');
    await writeFile(path.join(dir, 'parts/storage.ks'), 'ignoredisk --only-use=vda\n%include more.ks\n');
    await writeFile(path.join(dir, 'parts/more.ks'), 'autopart\n');
    const r = await resolveIncludes(path.join(dir, 'main.ks'));
    expect(r.text).to.equal('text\nignoredisk --only-use=vda\nautopart\npoweroff\n');
    expect(r.origins.map((o) => `${path.relative(dir, o.file)}:${o.line}`)).to.deep.equal([
      'main.ks:1',
      'parts/storage.ks:1',
      'parts/more.ks:1',
      'main.ks:3',
    ]);
    const findings = mapFindings(lintKickstart(`${r.text}bogus\n`, {}), [
      ...r.origins,
      { file: 'x', line: 9 },
    ]);
    expect(findings.find((f) => f.code === 'UNKNOWN_COMMAND')).to.include({ file: 'x', line: 9 });
  });

  it('refuses remote includes with an explanation', async () => {
    await writeFile(path.join(dir, 'main.ks'), 'text\n%include http://192.0.2.1/part.ks\n');
    const e = await rejection(resolveIncludes(path.join(dir, 'main.ks')));
    expect(e.code).to.equal('KICKSTART_INCLUDE_REMOTE');
    expect(e.message).to.include('main.ks:2');
    expect(e.hint).to.include('download it yourself');
  });

  it('refuses a missing include, unless it is absolute and a %pre section may create it', async () => {
    await writeFile(path.join(dir, 'rel.ks'), 'text\n%include nope.ks\n');
    const e = await rejection(resolveIncludes(path.join(dir, 'rel.ks')));
    expect(e.code).to.equal('KICKSTART_INCLUDE_MISSING');
    expect(e.message).to.include(path.join(dir, 'nope.ks'));
    await writeFile(path.join(dir, 'abs.ks'), 'text\n%include /tmp/ig-none/part-include\n');
    expect((await rejection(resolveIncludes(path.join(dir, 'abs.ks')))).code).to.equal(
      'KICKSTART_INCLUDE_MISSING',
    );
    const withPre =
      'text\n%include /tmp/ig-none/part-include\n%pre\necho autopart > /tmp/ig-none/part-include\n%end\n';
    await writeFile(path.join(dir, 'pre.ks'), withPre);
    const r = await resolveIncludes(path.join(dir, 'pre.ks'));
    expect(r.text).to.equal(withPre);
    expect(r.kept).to.deep.equal([{ file: path.join(dir, 'pre.ks'), line: 2 }]);
  });

  it('stops include cycles and nesting deeper than the limit', async () => {
    await writeFile(path.join(dir, 'a.ks'), '%include b.ks\n');
    await writeFile(path.join(dir, 'b.ks'), '%include a.ks\n');
    expect((await rejection(resolveIncludes(path.join(dir, 'a.ks')))).code).to.equal(
      'KICKSTART_INCLUDE_CYCLE',
    );
    for (let i = 0; i <= MAX_INCLUDE_DEPTH + 1; i++)
      await writeFile(path.join(dir, `d${i}.ks`), `%include d${i + 1}.ks\n`);
    await writeFile(path.join(dir, `d${MAX_INCLUDE_DEPTH + 2}.ks`), 'text\n');
    expect((await rejection(resolveIncludes(path.join(dir, 'd0.ks')))).code).to.equal(
      'KICKSTART_INCLUDE_DEPTH',
    );
  });

  it('does not touch %include lines inside scripts', async () => {
    const ks = 'text\n%post\n%include not-here.ks\n%end\n';
    await writeFile(path.join(dir, 'main.ks'), ks);
    expect((await resolveIncludes(path.join(dir, 'main.ks'))).text).to.equal(ks);
  });

  it('appends the confirmation unit once, as a %post section', () => {
    const once = addConfirmUnit('text\npoweroff');
    expect(once).to.equal(`text\npoweroff\n\n%post\n${confirmInstallSnippet()}%end\n`);
    expect(addConfirmUnit(once)).to.equal(once);
    expect(
      lintKickstart(once, {}).filter((f) => f.code.startsWith('SECTION') || f.code === 'END_WITHOUT_SECTION'),
    ).to.deep.equal([]);
  });

  it('refuses to append after a section that is not closed', () => {
    expect(() => addConfirmUnit('text\n%packages\n@core\n')).to.throw(/not closed/);
  });

  it('loads a user kickstart with the unit (or without), with its redacted copy', async () => {
    await writeFile(path.join(dir, 'ks.cfg'), 'text\nrootpw --iscrypted $6$abc$secrethash\npoweroff\n');
    const withUnit = await loadUserKickstart(path.join(dir, 'ks.cfg'));
    expect(withUnit.confirmAdded).to.equal(true);
    expect(withUnit.text).to.include('install-guest-confirm');
    expect(withUnit.redacted).to.not.include('secrethash');
    const without = await loadUserKickstart(path.join(dir, 'ks.cfg'), { confirmUnit: false });
    expect(without.confirmAdded).to.equal(false);
    expect(without.text).to.equal('text\nrootpw --iscrypted $6$abc$secrethash\npoweroff\n');
    expect((await rejection(loadUserKickstart(path.join(dir, 'missing.cfg')))).code).to.equal(
      'KICKSTART_UNREADABLE',
    );
  });
});
