/**
 * `kickstart lint` / `kickstart render` with hostile inputs: files that are not regular files (a
 * FIFO that would block an open forever, /dev/zero, a directory), an %include of another file's
 * secrets, a non-template rendered as a template; and the preseed linter picked by content.
 */
import { expect } from 'chai';
import { execa } from 'execa';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { main } from '../../../src/cli/main.js';
import { createHost } from '../../../src/host/host.js';
import { lintPreseed, looksLikePreseed } from '../../../src/kickstart/preseed-lint.js';
import { renderKickstart } from '../../../src/kickstart/render.js';

async function run(argv: string[], cwd: string): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main({
    argv,
    env: {},
    cwd,
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
    host: createHost({ root: cwd }),
  });
  return { code, out, err };
}

/** One line on stderr, naming the code, and no stack trace. */
function oneLineError(r: { code: number; out: string; err: string }, code: string): void {
  expect(r.code, r.err).to.equal(2);
  expect(r.err.trimEnd().split('\n')).to.have.length(1);
  expect(r.err)
    .to.include(`[${code}]`)
    .and.not.match(/\n\s+at /);
}

const SECRET = 'root:$6$saltsalt$Zm9vYmFyYmF6cXV4c2VjcmV0aGFzaA:19000:0:99999:7:::';

describe('kickstart lint and render: hostile inputs', function () {
  this.timeout(20_000);
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ig-ks-hostile-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('a FIFO is refused at once (NOT_A_REGULAR_FILE, exit 2), never waited on', async () => {
    await execa('mkfifo', [path.join(dir, 'ks.fifo')]);
    const started = Date.now();
    const r = await run(['kickstart', 'lint', 'ks.fifo'], dir);
    oneLineError(r, 'NOT_A_REGULAR_FILE');
    expect(r.err).to.include('is a FIFO');
    expect(Date.now() - started).to.be.lessThan(5000);
  });

  for (const [target, kind] of [
    ['/dev/zero', 'a character device'],
    ['/dev/null', 'a character device'],
    ['.', 'a directory'],
  ] as const) {
    it(`${target} is refused (${kind})`, async () => {
      const r = await run(['kickstart', 'lint', target], dir);
      oneLineError(r, 'NOT_A_REGULAR_FILE');
      expect(r.err).to.include(kind);
    });
  }

  it('an %include of a FIFO is refused too', async () => {
    await execa('mkfifo', [path.join(dir, 'part.fifo')]);
    await writeFile(path.join(dir, 'ks.cfg'), 'text\n%include part.fifo\n');
    oneLineError(await run(['kickstart', 'lint', 'ks.cfg'], dir), 'NOT_A_REGULAR_FILE');
  });

  it('%include of a shadow-like file names the file and lines, never their content (text and JSON)', async () => {
    await writeFile(path.join(dir, 'shadow'), `${SECRET}\ndaemon:*:19000:0:99999:7:::\n`);
    await writeFile(path.join(dir, 'ks.cfg'), 'text\n%include shadow\n');
    const r = await run(['kickstart', 'lint', 'ks.cfg'], dir);
    expect(r.code).to.equal(2);
    expect(r.out)
      .to.include('shadow:1: error UNKNOWN_COMMAND')
      .and.include('shadow:2: error UNKNOWN_COMMAND');
    for (const piece of ['$6$', 'saltsalt', 'daemon:*', 'root:']) expect(r.out).not.to.include(piece);
    const j = await run(['kickstart', 'lint', 'ks.cfg', '--json'], dir);
    expect(j.out).not.to.include('saltsalt').and.not.to.include('$6$');
    expect(JSON.parse(j.out)).to.include({ family: 'kickstart' });
  });

  it('render of a file that is not a .hbs template is refused without printing it', async () => {
    await writeFile(path.join(dir, 'passwd'), `${SECRET}\n`);
    for (const target of ['/etc/passwd', './passwd']) {
      const r = await run(['kickstart', 'render', target], dir);
      oneLineError(r, 'KICKSTART_TEMPLATE_NOT_HBS');
      expect(r.out).to.equal('');
      expect(r.err).not.to.include('saltsalt').and.not.to.include('root:x');
    }
  });

  it('render refuses a .hbs path that is a FIFO', async () => {
    await execa('mkfifo', [path.join(dir, 't.hbs')]);
    oneLineError(await run(['kickstart', 'render', './t.hbs'], dir), 'NOT_A_REGULAR_FILE');
  });
});

describe('preseed lint (kickstart lint picks it by content)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ig-preseed-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it("passes on the tool's own rendered preseeds (root login, and a user account)", async () => {
    for (const vars of [{}, { user: { name: 'ann', password: '$6$abc$def' }, rootPassword: '$6$abc$def' }]) {
      const r = await renderKickstart('debian', vars, { cwd: dir });
      expect(looksLikePreseed(r.text)).to.equal(true);
      expect(lintPreseed(r.text).filter((f) => f.severity === 'error')).to.deep.equal([]);
      await writeFile(path.join(dir, 'preseed.cfg'), r.text);
      const out = await run(['kickstart', 'lint', 'preseed.cfg', '--json'], dir);
      expect(out.code, out.out).to.equal(0);
      expect(JSON.parse(out.out)).to.include({ family: 'preseed', errors: 0 });
    }
  });

  it('finds syntax errors, unknown types, bad booleans and unanswered critical questions, by line', () => {
    const text = [
      '# a preseed',
      'd-i passwd/root-login boolean false',
      'd-i passwd/make-user boolean maybe',
      'd-i foo/bar strung x',
      'd-i mirror/http/hostname string \\',
      '  deb.debian.org',
      'root:x:0:0:root:/root:/bin/bash',
      'd-i finish-install/reboot_in_progress note',
      'd-i passwd/user-password password plain',
      'd-i passwd/user-password-again password plain',
    ].join('\n');
    const f = lintPreseed(text);
    const at = (code: string): number[] => f.filter((x) => x.code === code).map((x) => x.line);
    expect(at('PRESEED_BAD_BOOLEAN')).to.deep.equal([3]);
    expect(at('PRESEED_UNKNOWN_TYPE')).to.deep.equal([4]);
    expect(at('PRESEED_SYNTAX')).to.deep.equal([7]);
    expect(at('PLAINTEXT_PASSWORD')).to.deep.equal([9]);
    expect(f.filter((x) => x.code === 'PRESEED_UNANSWERED').map((x) => x.message)).to.deep.equal([
      'd-i would stop to ask passwd/user-fullname (critical priority, not answered)',
      'd-i would stop to ask passwd/username (critical priority, not answered)',
    ]);
    expect(JSON.stringify(f)).not.to.include('/root:/bin/bash');
    expect(at('PRESEED_NO_END_ACTION')).to.deep.equal([]);
  });

  it('a kickstart is not taken for a preseed', () => {
    expect(looksLikePreseed('text\nlang en_US.UTF-8\n')).to.equal(false);
    expect(looksLikePreseed('# c\nd-i debian-installer/locale string en_US\n')).to.equal(true);
  });
});
