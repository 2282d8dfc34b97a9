import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { findPackageRoot, kickstartsDir, packageRoot, templatesDir } from '../../src/paths.js';

describe('package root (templates/, kickstarts/)', () => {
  let tmp = '';
  after(() => (tmp ? rm(tmp, { recursive: true, force: true }) : undefined));

  it('is found from this module: the root holds package.json, templates/ and kickstarts/', () => {
    const root = packageRoot();
    for (const entry of ['package.json', 'templates', 'kickstarts', path.join('kickstarts', 'partials')])
      expect(existsSync(path.join(root, entry)), entry).to.equal(true);
    expect(templatesDir()).to.equal(path.join(root, 'templates'));
    expect(kickstartsDir()).to.equal(path.join(root, 'kickstarts'));
  });

  it('is the same root from src/ (tsx), dist/src/ (tsc) and a bundled chunk anywhere under dist/', () => {
    const root = packageRoot();
    for (const start of [
      'src/kickstart',
      'dist/src/kickstart',
      'dist/bin',
      'dist/bin/chunks',
      'dist/bundle/chunks',
      'dist',
    ])
      expect(findPackageRoot(path.join(root, start)), start).to.equal(root);
  });

  it('passes a package.json without templates/ beside it, and gives null where no root is above', async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'ig-paths-'));
    const pkg = path.join(tmp, 'pkg');
    await mkdir(path.join(pkg, 'templates'), { recursive: true });
    await mkdir(path.join(pkg, 'dist', 'bundle', 'chunks'), { recursive: true });
    await writeFile(path.join(pkg, 'package.json'), '{}\n');
    await writeFile(path.join(pkg, 'dist', 'package.json'), '{"type":"module"}\n');
    expect(findPackageRoot(path.join(pkg, 'dist', 'bundle', 'chunks'))).to.equal(pkg);
    expect(findPackageRoot(path.join(tmp, 'elsewhere'))).to.equal(null);
  });
});
