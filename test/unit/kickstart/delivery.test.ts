import { expect } from 'chai';
import { execa } from 'execa';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { InstallGuestError } from '../../../src/errors.js';
import { sequentialIds } from '../../../src/host/host.js';
import { injectIntoInitrd, withParentDirs, writeNewc } from '../../../src/kickstart/cpio.js';
import { serveKickstart } from '../../../src/kickstart/http.js';
import { makeOemdrvImage } from '../../../src/kickstart/oemdrv.js';

function get(url: string, method = 'GET'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

describe('kickstart/cpio', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ig-cpio-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('writes newc records on 4-byte boundaries, ending with TRAILER!!!', () => {
    const buf = writeNewc([{ name: 'a', mode: 0o644, data: 'xyz' }]);
    expect(buf.subarray(0, 6).toString()).to.equal('070701');
    // header 110 + "a\0" = 112 (aligned), data 3 + 1 padding
    expect(buf.subarray(110, 112).toString()).to.equal('a\0');
    expect(buf.subarray(112, 115).toString()).to.equal('xyz');
    expect(buf[115]).to.equal(0);
    expect(buf.subarray(116, 122).toString()).to.equal('070701');
    expect(buf.subarray(116 + 110, 116 + 110 + 11).toString()).to.equal('TRAILER!!!\0');
    expect(buf.length % 4).to.equal(0);
    const mode = Number.parseInt(buf.subarray(14, 22).toString(), 16);
    expect(mode).to.equal(0o100644);
  });

  it('is read back by cpio: names, contents, modes, directories and symlinks', async () => {
    const big = Buffer.alloc(70_001, 0xab);
    const archive = writeNewc(
      withParentDirs([
        { name: 'ks.cfg', mode: 0o600, data: 'text\npoweroff\n' },
        { name: '/usr/local/sbin/tool', mode: 0o755, data: '#!/bin/sh\necho hi\n' },
        { name: 'data/big.bin', mode: 0o644, data: big },
        { name: 'data/link', mode: 0o120777, data: 'big.bin' },
      ]),
    );
    const list = await execa('cpio', ['-t', '--quiet'], { input: archive });
    expect(list.stdout.split('\n')).to.deep.equal([
      'ks.cfg',
      'usr',
      'usr/local',
      'usr/local/sbin',
      'usr/local/sbin/tool',
      'data',
      'data/big.bin',
      'data/link',
    ]);
    const out = path.join(dir, 'x');
    await execa('cpio', ['-i', '-d', '--quiet', '--no-absolute-filenames', '-D', out], { input: archive });
    expect(await readFile(path.join(out, 'ks.cfg'), 'utf8')).to.equal('text\npoweroff\n');
    expect((await stat(path.join(out, 'ks.cfg'))).mode & 0o777).to.equal(0o600);
    expect((await stat(path.join(out, 'usr/local/sbin/tool'))).mode & 0o777).to.equal(0o755);
    expect((await readFile(path.join(out, 'data/big.bin'))).equals(big)).to.equal(true);
    expect(await readFile(path.join(out, 'data/link'))).to.have.length(big.length);
  });

  it('refuses names that escape the archive root', () => {
    expect(() => writeNewc([{ name: '../etc/passwd', mode: 0o644, data: '' }])).to.throw(
      /invalid entry name/,
    );
    expect(() => writeNewc([{ name: '', mode: 0o644 }])).to.throw(/invalid entry name/);
  });

  it('appends a gzipped archive to a copy of the initrd, aligned, leaving the original untouched', async () => {
    const initrd = path.join(dir, 'initrd.gz');
    const original = Buffer.concat([Buffer.from([0x1f, 0x8b]), Buffer.alloc(1001, 7)]); // 1003 bytes: unaligned
    await writeFile(initrd, original);
    const out = path.join(dir, 'initrd-ks.gz');
    const appended = await injectIntoInitrd(initrd, [{ name: 'ks.cfg', data: 'text\n' }], out);
    expect((await readFile(initrd)).equals(original)).to.equal(true);
    const result = await readFile(out);
    expect(result.length).to.equal(original.length + appended);
    expect(result.subarray(0, original.length).equals(original)).to.equal(true);
    expect(result[original.length]).to.equal(0); // 1 zero byte pads 1003 to 1004
    const tail = result.subarray(1004);
    expect(tail.subarray(0, 2).toString('hex')).to.equal('1f8b');
    const list = await execa('cpio', ['-t', '--quiet'], { input: gunzipSync(tail) });
    expect(list.stdout).to.equal('ks.cfg');
    expect((await stat(out)).mode & 0o777).to.equal(0o600);
    let sameFile: Error | undefined;
    await injectIntoInitrd(initrd, [], initrd).catch((e: Error) => (sameFile = e));
    expect(sameFile?.message).to.match(/copy/);
  });
});

describe('kickstart/oemdrv (xorriso)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ig-oemdrv-test-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('builds an ISO 9660 volume labelled OEMDRV holding /ks.cfg, and removes its staging dir', async function () {
    this.timeout(60_000); // two xorriso runs
    const img = path.join(dir, 'oemdrv.iso');
    const ks = 'text\nrootpw --iscrypted $6$x$y\npoweroff\n';
    await makeOemdrvImage(ks, img, { tmpDir: dir });
    const bytes = await readFile(img);
    // primary volume descriptor at sector 16: type 1, "CD001", volume id at offset 40 (32 bytes)
    const pvd = bytes.subarray(16 * 2048, 17 * 2048);
    expect(pvd[0]).to.equal(1);
    expect(pvd.subarray(1, 6).toString()).to.equal('CD001');
    expect(pvd.subarray(40, 72).toString().trim()).to.equal('OEMDRV');
    expect((await stat(img)).mode & 0o777).to.equal(0o600);
    const extracted = path.join(dir, 'ks.out');
    await execa('xorriso', ['-osirrox', 'on', '-indev', img, '-extract', '/ks.cfg', extracted], {
      reject: true,
    });
    expect(await readFile(extracted, 'utf8')).to.equal(ks);
    expect((await readdir(dir)).filter((f) => f.startsWith('ig-oemdrv-'))).to.deep.equal([]);
  });

  it('reports a missing xorriso as a host error', async () => {
    let err: InstallGuestError | undefined;
    await makeOemdrvImage('text\n', path.join(dir, 'x.iso'), {
      exec: () => Promise.resolve({ exitCode: 127, stdout: '', stderr: '', notFound: true }),
    }).catch((e: InstallGuestError) => (err = e));
    expect(err?.code).to.equal('XORRISO_MISSING');
    expect(err?.exitCode).to.equal(3);
  });
});

describe('kickstart/http', () => {
  it('serves the text only at its unguessable path, on the given address, until closed', async () => {
    const fetched: string[] = [];
    const served = await serveKickstart('text\npoweroff\n', {
      bindAddress: '127.0.0.1',
      onFetch: (a) => fetched.push(a),
    });
    try {
      const u = new URL(served.url);
      expect(u.hostname).to.equal('127.0.0.1');
      expect(Number(u.port)).to.be.greaterThan(0);
      expect(u.pathname).to.match(/^\/ks\/[0-9a-f]{32}\/ks\.cfg$/);
      expect(await get(served.url)).to.deep.equal({ status: 200, body: 'text\npoweroff\n' });
      expect((await get(served.url, 'HEAD')).status).to.equal(200);
      expect((await get(`http://127.0.0.1:${u.port}/`)).status).to.equal(404);
      expect((await get(`http://127.0.0.1:${u.port}/ks/${'0'.repeat(32)}/ks.cfg`)).status).to.equal(404);
      expect((await get(served.url, 'POST')).status).to.equal(404);
      expect(served.fetches).to.equal(1);
      expect(fetched).to.deep.equal(['127.0.0.1']);
    } finally {
      await served.close();
    }
    await served.close(); // idempotent
    let refused: NodeJS.ErrnoException | undefined;
    await get(served.url).catch((e: NodeJS.ErrnoException) => (refused = e));
    expect(refused?.code).to.equal('ECONNREFUSED');
  });

  it('uses the token source and the guest-facing host in the URL', async () => {
    const served = await serveKickstart('x', {
      bindAddress: '127.0.0.1',
      urlHost: '10.0.2.2',
      ids: sequentialIds(255),
      fileName: 'preseed.cfg',
    });
    try {
      expect(served.url).to.match(/^http:\/\/10\.0\.2\.2:\d+\/ks\/0{30}ff\/preseed\.cfg$/);
    } finally {
      await served.close();
    }
  });

  it('refuses wildcard and non-IP bind addresses', async () => {
    for (const bindAddress of ['0.0.0.0', '::', 'localhost']) {
      let err: InstallGuestError | undefined;
      await serveKickstart('x', { bindAddress }).catch((e: InstallGuestError) => (err = e));
      expect(err?.code, bindAddress).to.equal('KICKSTART_HTTP_BIND');
    }
  });
});
