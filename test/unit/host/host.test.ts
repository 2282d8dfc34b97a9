import { expect } from 'chai';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createHost, fixedClock, sequentialIds } from '../../../src/host/host.js';

describe('host boundary', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'ig-host-'));
    await mkdir(path.join(root, 'sys/bus/pci/drivers/e1000e'), { recursive: true });
    await mkdir(path.join(root, 'sys/bus/pci/devices/0000:03:00.0'), { recursive: true });
    await symlink(
      '../../../bus/pci/drivers/e1000e',
      path.join(root, 'sys/bus/pci/devices/0000:03:00.0/driver'),
    );
    await writeFile(path.join(root, 'sys/bus/pci/devices/0000:03:00.0/vendor'), '0x8086\n');
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  it('maps host paths as path.join/normalize would, through its fast path for normal paths too', () => {
    const paths = [
      '/',
      '/sys',
      '/sys/',
      '/sys/bus/pci/devices/0000:03:00.0/config',
      '/sys//bus',
      '/sys/./bus',
      '/proc/self/mountinfo',
      '/run/.hidden',
      '/x.y/z',
    ];
    for (const r of [root, '/']) {
      const host = createHost({ root: r });
      for (const p of paths)
        expect(host.resolve(p), `${r} + ${p}`).to.equal(r === '/' ? path.normalize(p) : path.join(r, p));
    }
  });

  it('reads under the configured root, never the real /', async () => {
    const host = createHost({ root });
    expect(host.isRealRoot).to.equal(false);
    expect(host.resolve('/sys/bus/pci')).to.equal(path.join(root, 'sys/bus/pci'));
    expect(await host.readTrimmed('/sys/bus/pci/devices/0000:03:00.0/vendor')).to.equal('0x8086');
    expect(await host.readTrimmed('/sys/bus/pci/devices/0000:03:00.0/missing')).to.equal(null);
    expect(await host.linkName('/sys/bus/pci/devices/0000:03:00.0/driver')).to.equal('e1000e');
    expect(await host.list('/sys/bus/pci/devices')).to.deep.equal(['0000:03:00.0']);
    expect(await host.list('/nowhere')).to.deep.equal([]);
  });

  it('offers synchronous reads under the root that agree with the asynchronous ones', async () => {
    const dev = '/sys/bus/pci/devices/0000:03:00.0';
    const big = Buffer.alloc(10_000, 'x');
    await writeFile(path.join(root, 'sys/bus/pci/devices/0000:03:00.0/table'), big);
    const host = createHost({ root });
    const sync = host.sync!;
    expect(sync.readBytes(`${dev}/vendor`, 64)?.toString()).to.equal('0x8086\n');
    expect(sync.readBytes(`${dev}/vendor`, 64)).to.deep.equal(await host.readBytes(`${dev}/vendor`, 64));
    expect(sync.readBytes(`${dev}/vendor`, 4)?.toString()).to.equal('0x80');
    expect(sync.readBytes(`${dev}/missing`, 64)).to.equal(null);
    // a directory opens but cannot be read: null, like the asynchronous read
    expect(sync.readBytes(dev, 64)).to.equal(null);
    // more than a page: read until end of file (procfs tables come a page at a time)
    expect(sync.readBytes(`${dev}/table`, 1 << 20)?.length).to.equal(10_000);
    expect(sync.readBytes(`${dev}/table`, 4096)?.length).to.equal(4096);
    expect(sync.readLink(`${dev}/driver`)).to.equal(await host.readLink(`${dev}/driver`));
    expect(sync.readLink(`${dev}/vendor`)).to.equal(null);
    expect(sync.list(dev)).to.deep.equal(await host.list(dev));
    expect(sync.list(dev)).to.deep.equal(['driver', 'table', 'vendor']);
    expect(sync.list('/nowhere')).to.deep.equal([]);
    expect(sync.exists(`${dev}/driver`)).to.equal(true);
    expect(sync.exists(`${dev}/missing`)).to.equal(false);
    // never the real /: a path that exists on the machine but not under the root
    expect(sync.exists('/proc/self')).to.equal(false);
    expect(createHost({ root, syncReads: false }).sync).to.equal(undefined);
  });

  it('refuses relative host paths', () => {
    const host = createHost({ root });
    expect(() => host.resolve('sys/bus')).to.throw(/absolute/);
  });

  it('sends every write through the one writer', async () => {
    const seen: string[] = [];
    const host = createHost({
      root,
      writer: (_abs, p, v) => {
        seen.push(`${p}=${v}`);
        return Promise.resolve();
      },
    });
    await host.write('/sys/bus/pci/devices/0000:03:00.0/driver_override', 'vfio-pci');
    expect(seen).to.deep.equal(['/sys/bus/pci/devices/0000:03:00.0/driver_override=vfio-pci']);
    const plain = createHost({ root });
    await plain.write('/sys/bus/pci/devices/0000:03:00.0/driver_override', 'vfio-pci');
    expect(
      await readFile(path.join(root, 'sys/bus/pci/devices/0000:03:00.0/driver_override'), 'utf8'),
    ).to.equal('vfio-pci');
  });

  it('runs programs with an argv array and reports a missing program', async () => {
    const host = createHost({ root });
    const r = await host.exec('printf', ['%s|', 'a,b', '$(x)']);
    expect(r.stdout).to.equal('a,b|$(x)|');
    const missing = await host.exec('/nonexistent/program', []);
    expect(missing.notFound).to.equal(true);
  });

  it('gives deterministic ids and time when injected', async () => {
    const ids = sequentialIds();
    expect(ids.mac()).to.equal('52:54:00:00:00:01');
    expect(ids.token(4)).to.equal('00000002');
    const clock = fixedClock(1000);
    await clock.sleep(500);
    expect(clock.now()).to.equal(1500);
  });

  it('refuses any path with a ".." segment, in every method, under a tree root and under /', async () => {
    const outside = await mkdtemp(path.join(os.tmpdir(), 'ig-outside-'));
    try {
      await writeFile(path.join(outside, 'victim'), 'untouched');
      const rel = path.relative(root, outside);
      const escapes = [
        `/sys/bus/pci/drivers/../../../../${rel}/victim`,
        `/../${rel}/victim`,
        '/sys/bus/pci/devices/..',
        '/sys/\0/x',
      ];
      for (const r of [root, '/']) {
        const host = createHost({
          root: r,
          writer: () => Promise.reject(new Error('the writer must not be called')),
        });
        for (const p of escapes) {
          expect(() => host.resolve(p), p).to.throw(/refused host path/);
          const e = await host.write(p, 'x').then(
            () => null,
            (err: unknown) => err as { code?: string },
          );
          expect(e?.code, p).to.equal('HOST_PATH_OUTSIDE_ROOT');
          await host.readText(p).then(
            () => expect.fail(`read ${p}`),
            (err: { code?: string }) => expect(err.code).to.equal('HOST_PATH_OUTSIDE_ROOT'),
          );
        }
      }
      expect(await readFile(path.join(outside, 'victim'), 'utf8')).to.equal('untouched');
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
  });

  it('refuses a write that a link in the tree leads out of the root', async () => {
    const outside = await mkdtemp(path.join(os.tmpdir(), 'ig-outside-'));
    try {
      await writeFile(path.join(outside, 'bind'), 'untouched');
      await symlink(outside, path.join(root, 'sys/bus/pci/drivers/evil'));
      const host = createHost({ root });
      const e = await host.write('/sys/bus/pci/drivers/evil/bind', '0000:03:00.0').then(
        () => null,
        (err: unknown) => err as { code?: string; message: string },
      );
      expect(e?.code).to.equal('HOST_PATH_OUTSIDE_ROOT');
      expect(await readFile(path.join(outside, 'bind'), 'utf8')).to.equal('untouched');
      // a write inside the tree still goes through
      await host.write('/sys/bus/pci/devices/0000:03:00.0/vendor', '0x1234');
      expect(await readFile(path.join(root, 'sys/bus/pci/devices/0000:03:00.0/vendor'), 'utf8')).to.equal(
        '0x1234',
      );
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
  });

  it('reads processes from the real /proc, never from under the root', async () => {
    // the tree claims a process that does not exist and lacks this one
    await mkdir(path.join(root, 'proc/999999'), { recursive: true });
    await writeFile(
      path.join(root, 'proc/999999/stat'),
      '999999 (fake) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 42 0 0',
    );
    await mkdir(path.join(root, 'proc/sys/kernel/random'), { recursive: true });
    await writeFile(path.join(root, 'proc/sys/kernel/random/boot_id'), 'fake-boot\n');
    const host = createHost({ root });
    expect(await host.processes.stat(999999)).to.equal(null);
    const field22 = (text: string | null): string | undefined =>
      text?.slice(text.lastIndexOf(')') + 2).split(' ')[19];
    expect(field22(await host.processes.stat(process.pid))).to.equal(
      field22(await readFile(`/proc/${process.pid}/stat`, 'utf8')),
    );
    expect(await host.processes.bootId()).to.equal(
      (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim(),
    );
    for (const bad of [0, -1, 1.5, Number.NaN]) expect(await host.processes.stat(bad)).to.equal(null);
  });
});
