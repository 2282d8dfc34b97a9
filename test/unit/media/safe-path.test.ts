import { expect } from 'chai';
import { requireSafeRelPath, safeRelPath } from '../../../src/media/safe-path.js';

describe('media/safe-path', () => {
  const TABLE: [string, string, string | null][] = [
    ['images/pxeboot/vmlinuz', '', 'images/pxeboot/vmlinuz'],
    [
      './netboot/debian-installer/amd64/linux',
      'current/images',
      'current/images/netboot/debian-installer/amd64/linux',
    ],
    ['images/../images/install.img', '', 'images/install.img'],
    ['a//b/./c', '', 'a/b/c'],
    ['../etc/passwd', '', null],
    ['images/../../x', '', null],
    ['../../x', 'a/b', 'x'],
    ['../../../x', 'a/b', null],
    ['/etc/passwd', '', null],
    ['\\windows\\system32', '', null],
    ['C:/boot.ini', '', null],
    ['http://evil.example/vmlinuz', '', null],
    ['file:///etc/shadow', '', null],
    ['a\0b', '', null],
    ['', '', null],
    ['.', '', null],
  ];
  for (const [p, base, want] of TABLE) {
    it(`${JSON.stringify(p)} under ${JSON.stringify(base)} → ${JSON.stringify(want)}`, () => {
      expect(safeRelPath(p, base)).to.equal(want);
    });
  }

  it('names the metadata and the offending path in the error (exit 2)', () => {
    try {
      requireSafeRelPath('../../etc/shadow', '.treeinfo [images-x86_64] kernel');
      expect.fail('no error');
    } catch (e) {
      const err = e as { code: string; exitCode: number; message: string };
      expect(err.code).to.equal('MEDIA_UNSAFE_PATH');
      expect(err.exitCode).to.equal(2);
      expect(err.message).to.include('../../etc/shadow').and.include('.treeinfo');
    }
  });
});
