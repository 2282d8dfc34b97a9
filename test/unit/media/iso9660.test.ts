import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat, symlink, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { IsoImage, blkidLabel as ourBlkidLabel, looksLikeIso } from '../../../src/media/iso9660.js';
import type { IsoEntry } from '../../../src/media/iso9660.js';
import { blkidLabel, makeIso, xorrisoList } from './iso-tools.js';
import type { IsoMaker } from './iso-tools.js';

async function collect(img: IsoImage): Promise<IsoEntry[]> {
  const out: IsoEntry[] = [];
  for await (const e of img.walk()) out.push(e);
  return out;
}

describe('media/iso9660 (images built by xorriso and genisoimage, xorriso as the oracle)', function () {
  this.timeout(60_000);
  let tmp: string;
  let src: string;
  const big = randomBytes(3 * 1024 * 1024 + 123);
  const kernel = Buffer.concat([Buffer.alloc(0x202), Buffer.from('HdrS'), randomBytes(5000)]);
  const isos = new Map<IsoMaker, string>();
  const MAKERS: IsoMaker[] = [
    'xorriso-rr-joliet',
    'xorriso-native',
    'genisoimage-rr',
    'genisoimage-joliet',
    'genisoimage-plain',
  ];

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'ig-iso-'));
    src = path.join(tmp, 'src');
    await mkdir(path.join(src, 'images/pxeboot'), { recursive: true });
    await mkdir(path.join(src, 'Many.Files'), { recursive: true });
    await mkdir(path.join(src, 'a/b/c/d/e/f/g/h/i'), { recursive: true });
    await writeFile(path.join(src, 'images/pxeboot/vmlinuz'), kernel);
    await writeFile(path.join(src, 'images/install.img'), big);
    await writeFile(path.join(src, 'Mixed_Case.TXT'), 'mixed\n');
    await writeFile(path.join(src, 'a/b/c/d/e/f/g/h/i/deep.txt'), 'deep\n');
    // enough entries that the directory spans several sectors
    for (let i = 0; i < 120; i++)
      await writeFile(path.join(src, 'Many.Files', `entry-with-a-long-name-${i}.txt`), `${i}\n`);
    await writeFile(path.join(src, 'Many.Files', 'Ünïcödé name.txt'), 'unicode\n');
    await symlink('images/pxeboot', path.join(src, 'pxe'));
    for (const m of MAKERS) {
      const out = path.join(tmp, `${m}.iso`);
      await makeIso(m, src, out, 'Fedora-S-dvd-x86_64-39');
      isos.set(m, out);
    }
  });
  after(() => rm(tmp, { recursive: true, force: true }));

  const NAMES: Record<IsoMaker, string> = {
    'xorriso-rr-joliet': 'rockridge',
    'xorriso-native': 'rockridge',
    'genisoimage-rr': 'rockridge',
    'genisoimage-joliet': 'joliet',
    'genisoimage-plain': 'iso9660',
  };

  for (const maker of MAKERS) {
    it(`${maker}: lists the same entries, sizes and link targets as xorriso`, async () => {
      const iso = isos.get(maker)!;
      const img = await IsoImage.open(iso);
      try {
        expect(img.names).to.equal(NAMES[maker]);
        const ours = (await collect(img))
          .map((e) => ({
            type: e.isSymlink ? 'l' : e.isDir ? 'd' : '-',
            size: e.isDir || e.isSymlink ? 0 : e.size,
            path: e.path,
            ...(e.target !== undefined ? { target: e.target } : {}),
          }))
          .sort((a, b) => a.path.localeCompare(b.path));
        const oracle = (await xorrisoList(iso)).sort((a, b) => a.path.localeCompare(b.path));
        expect(ours).to.deep.equal(oracle);
        expect(ours.length).to.be.greaterThan(100);
      } finally {
        await img.close();
      }
    });

    it(`${maker}: reports the label blkid reports`, async () => {
      const img = await IsoImage.open(isos.get(maker)!);
      try {
        expect(img.volumeLabel).to.equal(await blkidLabel(isos.get(maker)!));
      } finally {
        await img.close();
      }
    });
  }

  it('reads names with Rock Ridge: case, dots, long and non-ASCII names, deep directories', async () => {
    const img = await IsoImage.open(isos.get('genisoimage-rr')!);
    try {
      expect(img.hasRockRidge).to.equal(true);
      expect(await img.readFile('Many.Files/Ünïcödé name.txt')).to.deep.equal(Buffer.from('unicode\n'));
      // genisoimage relocates directories deeper than 8 levels (rr_moved, CL/RE): the path still works
      expect((await img.readFile('a/b/c/d/e/f/g/h/i/deep.txt'))?.toString()).to.equal('deep\n');
      expect(await img.readFile('mixed_case.txt'), 'Rock Ridge names are case-sensitive').to.equal(null);
      expect((await img.stat('images/pxeboot/vmlinuz'))?.mode).to.equal(0o100644);
    } finally {
      await img.close();
    }
  });

  it('follows symlinks inside the image, never outside', async () => {
    const img = await IsoImage.open(isos.get('xorriso-rr-joliet')!);
    try {
      expect(await img.readFile('pxe/vmlinuz')).to.deep.equal(kernel);
      const link = await img.stat('pxe', false);
      expect(link).to.include({ isSymlink: true, target: 'images/pxeboot' });
    } finally {
      await img.close();
    }
  });

  it('looks plain ISO 9660 names up ignoring case (NAME.EXT;1)', async () => {
    const img = await IsoImage.open(isos.get('genisoimage-plain')!);
    try {
      expect(img.names).to.equal('iso9660');
      expect((await img.readDir('images/pxeboot'))?.map((e) => e.name)).to.deep.equal(['VMLINUZ']);
      expect(await img.readFile('images/pxeboot/vmlinuz')).to.deep.equal(kernel);
      expect(await img.readFile('IMAGES/INSTALL.IMG')).to.deep.equal(big);
    } finally {
      await img.close();
    }
  });

  it('reads Joliet names (UCS-2) when there is no Rock Ridge', async () => {
    const img = await IsoImage.open(isos.get('genisoimage-joliet')!);
    try {
      expect(img.jolietLabel).to.equal('Fedora-S-dvd-x86');
      expect(img.volumeLabel).to.equal('Fedora-S-dvd-x86_64-39');
      expect((await img.readFile('Many.Files/Ünïcödé name.txt'))?.toString()).to.equal('unicode\n');
    } finally {
      await img.close();
    }
  });

  it('reads only the sectors it needs: the kernel out of an image holding a 3 MiB file', async () => {
    const iso = isos.get('xorriso-rr-joliet')!;
    const img = await IsoImage.open(iso);
    try {
      const data = await img.readFile('images/pxeboot/vmlinuz');
      expect(data).to.deep.equal(kernel);
      const { size } = await stat(iso);
      expect(size).to.be.greaterThan(3 * 1024 * 1024);
      // descriptors, the root, images/, images/pxeboot/ and the kernel's own sectors
      expect(img.stats.bytesRead).to.be.lessThan(kernel.length + 64 * 1024);
    } finally {
      await img.close();
    }
  });

  it('extracts a file to a private path and returns its digests', async () => {
    const img = await IsoImage.open(isos.get('xorriso-native')!);
    try {
      const dest = path.join(tmp, 'install.img');
      const r = await img.extract('images/install.img', dest, 'md5');
      expect(await readFile(dest)).to.deep.equal(big);
      expect(r.size).to.equal(big.length);
      expect(r.sha256).to.equal(createHash('sha256').update(big).digest('hex'));
      expect(r.digest).to.equal(createHash('md5').update(big).digest('hex'));
      expect((await stat(dest)).mode & 0o777).to.equal(0o600);
      try {
        await img.extract('no/such/file', path.join(tmp, 'x'));
        expect.fail('extracted a missing file');
      } catch (e) {
        expect(e).to.have.property('code', 'MEDIA_FILE_MISSING');
      }
    } finally {
      await img.close();
    }
  });

  it('refuses what is not an ISO, and a cut-short image, with MEDIA_BAD_ISO (exit 2)', async () => {
    const notIso = path.join(tmp, 'not.iso');
    await writeFile(notIso, randomBytes(40_000));
    expect(await looksLikeIso(notIso)).to.equal(false);
    expect(await looksLikeIso(isos.get('xorriso-native')!)).to.equal(true);
    try {
      await IsoImage.open(notIso);
      expect.fail('opened a non-ISO');
    } catch (e) {
      expect(e).to.have.property('code', 'MEDIA_BAD_ISO');
      expect(e).to.have.property('exitCode', 2);
    }
    const cut = path.join(tmp, 'cut.iso');
    await writeFile(cut, await readFile(isos.get('xorriso-rr-joliet')!));
    await truncate(cut, 64 * 1024);
    const img = await IsoImage.open(cut);
    try {
      await img.readFile('images/install.img');
      expect.fail('read past the end');
    } catch (e) {
      expect(e).to.have.property('code', 'MEDIA_BAD_ISO');
      expect((e as Error).message).to.match(/ends at byte/);
    } finally {
      await img.close();
    }
  });

  const LABELS: [string, string | null, string][] = [
    ['Fedora-S-dvd-x86_64-39', 'Fedora-S-dvd-x86', 'Fedora-S-dvd-x86_64-39'],
    ['FEDORA-S-DVD-X86_64-39', 'Fedora-S-dvd-x86', 'Fedora-S-dvd-x86_64-39'],
    ['CDROM', null, 'CDROM'],
    ['PRIMARY', 'Something else', 'PRIMARY'],
    ['Ubuntu-Server_22.04.3_LTS_amd64', 'Ubuntu-Server 22', 'Ubuntu-Server 22.04.3_LTS_amd64'],
  ];
  for (const [primary, joliet, want] of LABELS) {
    it(`merges the labels like blkid: ${JSON.stringify(primary)} + ${JSON.stringify(joliet)} → ${JSON.stringify(want)}`, () => {
      expect(ourBlkidLabel(primary, joliet)).to.equal(want);
    });
  }
});
