import { expect } from 'chai';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { makeSeedIso, SEED_LABEL, smbiosSerial, writeSeedDir } from '../../../src/cloudinit/seed.js';
import { createHost } from '../../../src/host/host.js';
import { IsoImage } from '../../../src/media/iso9660.js';

describe('cloudinit/seed: the NoCloud cidata volume (real xorriso, read back with the ISO 9660 reader)', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ig-ci-seed-'));
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  it('holds user-data, meta-data and network-config under their exact names, labelled cidata, private', async () => {
    const seedDir = path.join(dir, 'cidata');
    const files = {
      userData: '#cloud-config\nruncmd:\n  - [echo, hi]\n',
      metaData: 'instance-id: iid-1\nlocal-hostname: h\n',
      networkConfig: 'version: 2\n',
    };
    expect(await writeSeedDir(seedDir, files)).to.deep.equal(['user-data', 'meta-data', 'network-config']);
    expect((await stat(seedDir)).mode & 0o777).to.equal(0o700);
    expect((await stat(path.join(seedDir, 'user-data'))).mode & 0o777).to.equal(0o600);
    const iso = path.join(dir, 'cidata.iso');
    await makeSeedIso(createHost().exec, seedDir, iso);
    expect((await stat(iso)).mode & 0o777).to.equal(0o600);
    const img = await IsoImage.open(iso);
    try {
      expect(img.volumeLabel).to.equal(SEED_LABEL);
      const names = ((await img.readDir('')) ?? []).map((e) => e.name).sort();
      expect(names).to.deep.equal(['meta-data', 'network-config', 'user-data']);
      expect((await img.readFile('user-data'))!.toString()).to.equal(files.userData);
      expect((await img.readFile('meta-data'))!.toString()).to.equal(files.metaData);
      expect((await img.readFile('network-config'))!.toString()).to.equal(files.networkConfig);
    } finally {
      await img.close();
    }
  });

  it('leaves network-config out when there is none', async () => {
    const d = path.join(dir, 'two');
    expect(
      await writeSeedDir(d, { userData: '#cloud-config\n', metaData: 'instance-id: a\n' }),
    ).to.deep.equal(['user-data', 'meta-data']);
  });

  it('the SMBIOS serial form points NoCloud at the seed URL (with its trailing slash)', () => {
    expect(smbiosSerial('http://10.0.2.2:8000')).to.equal('ds=nocloud;s=http://10.0.2.2:8000/');
    expect(smbiosSerial('http://10.0.2.2:8000/')).to.equal('ds=nocloud;s=http://10.0.2.2:8000/');
  });
});
