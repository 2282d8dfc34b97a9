import { expect } from 'chai';
import { componentFiles, parseMirror } from '../../bench/debian-install.js';

describe('bench/debian-install helpers', () => {
  it('parses --mirror HOST/DIR, with or without http://, HOST alone meaning /debian', () => {
    expect(parseMirror('deb.debian.org/debian')).to.deep.equal({
      host: 'deb.debian.org',
      directory: '/debian',
    });
    expect(parseMirror('http://10.0.2.2:3142/debian/')).to.deep.equal({
      host: '10.0.2.2:3142',
      directory: '/debian',
    });
    expect(parseMirror('ftp.de.debian.org')).to.deep.equal({
      host: 'ftp.de.debian.org',
      directory: '/debian',
    });
    expect(() => parseMirror('https://x y')).to.throw(/HOST\/DIR/);
  });

  it('finds the pool files of named components in a d-i Packages index, and names the missing ones', () => {
    const index = [
      'Package: anna\nVersion: 1.91\nFilename: pool/main/a/anna/anna_1.91_amd64.udeb\nSize: 1',
      'Package: grub-installer\nFilename: pool/main/g/grub-installer/grub-installer_1.194_amd64.udeb',
      '',
    ].join('\n\n');
    expect(componentFiles(index, ['grub-installer', 'anna'])).to.deep.equal([
      'pool/main/g/grub-installer/grub-installer_1.194_amd64.udeb',
      'pool/main/a/anna/anna_1.91_amd64.udeb',
    ]);
    expect(() => componentFiles(index, ['anna', 'finish-install'])).to.throw(/lists no finish-install/);
  });
});
