import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { mkdtemp, mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  baseKey,
  basePaths,
  baseRequestSubset,
  defaultCacheDir,
  imageFormatOf,
  overlayArgv,
  publishBase,
  readBaseMeta,
  templatesHash,
} from '../../../src/batch/provision.js';
import type { BaseKeyInputs } from '../../../src/batch/provision.js';
import { stableStringify } from '../../../src/base/hash.js';
import { parseInstallRequest } from '../../../src/request/request.js';

const inputs = (): BaseKeyInputs => ({
  mediaChecksum: 'a'.repeat(64),
  kickstartText: 'lang en_US\nrootpw --plaintext secret\n',
  templatesHash: 'b'.repeat(64),
  toolVersion: '0.1.0',
  request: {
    machine: 'q35',
    memoryMiB: 2048,
    disks: [{ sizeGiB: 8, format: 'qcow2', bus: 'virtio' }],
    osVariant: 'fedora40',
  },
});

describe('CI provisioning building blocks', () => {
  it('baseKey is a sha256 that ignores key order and changes with every input', () => {
    const k = baseKey(inputs());
    expect(k).to.match(/^[0-9a-f]{64}$/);
    const i = inputs();
    const reordered = {
      toolVersion: i.toolVersion,
      request: {
        osVariant: 'fedora40',
        disks: [{ bus: 'virtio', format: 'qcow2', sizeGiB: 8 }],
        memoryMiB: 2048,
        machine: 'q35',
      },
      kickstartText: i.kickstartText,
      templatesHash: i.templatesHash,
      mediaChecksum: i.mediaChecksum,
    } as BaseKeyInputs;
    expect(baseKey(reordered)).to.equal(k);
    const changes: ((x: BaseKeyInputs) => void)[] = [
      (x) => (x.mediaChecksum = 'c'.repeat(64)),
      (x) => (x.kickstartText += '# one more line\n'),
      (x) => (x.templatesHash = 'd'.repeat(64)),
      (x) => (x.toolVersion = '0.2.0'),
      (x) => (x.request.memoryMiB = 4096),
      (x) => (x.request.disks[0]!.sizeGiB = 9),
      (x) => (x.request.osVariant = 'fedora41'),
    ];
    const keys = new Set([k]);
    for (const change of changes) {
      const x = inputs();
      change(x);
      keys.add(baseKey(x));
    }
    expect(keys.size).to.equal(changes.length + 1);
  });

  it('keeps secrets of the kickstart out of the hashed text', () => {
    // the key input carries only the kickstart's hash
    const i = inputs();
    const { kickstartText: _k, ...rest } = i;
    expect(stableStringify(rest)).to.not.include('secret');
  });

  it('takes from the request only what changes the installed disk', () => {
    const a = parseInstallRequest(
      { name: 'a', location: 'https://m/os/', memory: '2G', disk: ['size=8'], hostdev: ['03:00.0'] },
      '/w',
    );
    const b = parseInstallRequest(
      { name: 'b', location: 'https://m/os/', memory: '2G', disk: ['size=8'], network: 'none' },
      '/x',
    );
    expect(baseRequestSubset(a)).to.deep.equal(baseRequestSubset(b));
    expect(baseRequestSubset(a)).to.deep.equal({
      machine: 'q35',
      memoryMiB: 2048,
      disks: [{ sizeGiB: 8, format: 'qcow2', bus: 'virtio' }],
      location: 'https://m/os/',
    });
  });

  it('lays out the cache by key and publishes a base atomically; a second publication of the key is refused and loses nothing', async () => {
    const cache = await mkdtemp(path.join(os.tmpdir(), 'ig-cache-'));
    try {
      const key = baseKey(inputs());
      expect(basePaths(cache, key)).to.deep.equal({
        dir: path.join(cache, 'bases', key),
        disk: path.join(cache, 'bases', key, 'disk.qcow2'),
        meta: path.join(cache, 'bases', key, 'meta.json'),
      });
      expect(await readBaseMeta(cache, key)).to.equal(null);
      const first = path.join(cache, 'first.qcow2');
      const second = path.join(cache, 'second.qcow2');
      await writeFile(first, 'first');
      await writeFile(second, 'second');
      await publishBase(cache, key, first, {
        createdAt: '2026-01-01T00:00:00Z',
        toolVersion: '0.1.0',
        name: 'base',
      });
      const err = await publishBase(cache, key, second, {
        createdAt: '2026-01-02T00:00:00Z',
        toolVersion: '0.1.0',
      }).catch((e: unknown) => e as { code?: string; message: string; hint?: string });
      expect(err).to.include({ code: 'BASE_EXISTS' });
      expect((err as { hint: string }).hint).to.include(`install-guest base rm ${key}`);
      const meta = await readBaseMeta(cache, key);
      expect(meta).to.deep.include({ key, name: 'base', createdAt: '2026-01-01T00:00:00Z' });
      expect(await readdir(path.join(cache, 'bases'))).to.deep.equal([key]);
      expect(existsSync(first), 'the published disk moved into the cache').to.equal(false);
      expect(await readFile(second, 'utf8'), 'the refused disk is left where it was').to.equal('second');
      const disk = await stat(basePaths(cache, key).disk);
      expect(disk.mode & 0o777, 'a base is read-only').to.equal(0o444);
    } finally {
      await rm(cache, { recursive: true, force: true });
    }
  });

  it('hashes a templates folder by names and contents', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ig-tpl-'));
    try {
      await mkdir(path.join(dir, 'qemu'));
      await writeFile(path.join(dir, 'qemu', 'a.hbs'), 'a');
      const h1 = await templatesHash(dir);
      await writeFile(path.join(dir, 'qemu', 'a.hbs'), 'b');
      const h2 = await templatesHash(dir);
      await writeFile(path.join(dir, 'qemu', 'b.hbs'), 'b');
      const h3 = await templatesHash(dir);
      expect(new Set([h1, h2, h3]).size).to.equal(3);
      expect(await templatesHash(path.resolve('templates'))).to.match(/^[0-9a-f]{64}$/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('builds the overlay argv with an absolute backing file and its format', () => {
    expect(overlayArgv('/c/bases/k/disk.qcow2', 'qcow2', '/w/o.qcow2')).to.deep.equal([
      'create',
      '-q',
      '-f',
      'qcow2',
      '-F',
      'qcow2',
      '-b',
      '/c/bases/k/disk.qcow2',
      '/w/o.qcow2',
    ]);
    expect(() => overlayArgv('base.qcow2', 'qcow2', '/w/o.qcow2')).to.throw(/absolute/);
  });

  it('finds the cache from the environment', () => {
    expect(defaultCacheDir({ INSTALL_GUEST_CACHE: '/c' })).to.equal('/c');
    expect(defaultCacheDir({ XDG_CACHE_HOME: '/x', HOME: '/h' })).to.equal('/x/install-guest');
    expect(defaultCacheDir({ HOME: '/h' })).to.equal('/h/.cache/install-guest');
  });

  it('tells a disk image (qcow2 v2/v3, raw with MBR or GPT) from anything else', () => {
    const qcow = (v: number): Buffer => {
      const b = Buffer.alloc(4608);
      b.set([0x51, 0x46, 0x49, 0xfb]);
      b.writeUInt32BE(v, 4);
      return b;
    };
    expect(imageFormatOf(qcow(3))).to.equal('qcow2');
    expect(imageFormatOf(qcow(2))).to.equal('qcow2');
    expect(imageFormatOf(qcow(9))).to.equal(null);
    const mbr = Buffer.alloc(4608);
    mbr[510] = 0x55;
    mbr[511] = 0xaa;
    expect(imageFormatOf(mbr)).to.equal('raw');
    const gpt4k = Buffer.alloc(4608);
    gpt4k.write('EFI PART', 4096, 'latin1');
    expect(imageFormatOf(gpt4k)).to.equal('raw');
    expect(imageFormatOf(Buffer.from('root:x:0:0:root:/root:/bin/bash\n'))).to.equal(null);
    expect(imageFormatOf(Buffer.alloc(4608))).to.equal(null);
    expect(imageFormatOf(Buffer.alloc(0))).to.equal(null);
  });
});
