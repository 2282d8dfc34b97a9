import { expect } from 'chai';
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import {
  hashPassword,
  isCryptHash,
  saltFromBytes,
  sha512Crypt,
} from '../../../src/kickstart/sha512-crypt.js';

// The test vectors published with Ulrich Drepper's SHA-crypt specification.
const SPEC_VECTORS: [setting: string, key: string, expected: string][] = [
  [
    '$6$saltstring',
    'Hello world!',
    '$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1',
  ],
  [
    '$6$rounds=10000$saltstringsaltstring',
    'Hello world!',
    '$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.',
  ],
  [
    '$6$rounds=5000$toolongsaltstring',
    'This is just a test',
    '$6$rounds=5000$toolongsaltstrin$lQ8jolhgVRVhY4b5pZKaysCLi0QBxGoNeKQzQ3glMhwllF7oGDZxUhx1yxdYcz/e1JSbq3y6JMxxl8audkUEm0',
  ],
  [
    '$6$rounds=1400$anotherlongsaltstring',
    'a very much longer text to encrypt.  This one even stretches over morethan one line.',
    '$6$rounds=1400$anotherlongsalts$POfYwTEok97VWcjxIiSOjiykti.o/pQs.wPvMxQ6Fm7I6IoYN3CmLs66x9t0oSwbtEW7o7UmJEiDwGqd8p4ur1',
  ],
  [
    '$6$rounds=77777$short',
    'we have a short salt string but not a short password',
    '$6$rounds=77777$short$WuQyW2YR.hBNpjjRhpYD/ifIw05xdfeEyQoMxIXbkvr0gge1a1x3yRULJ5CCaUeOxFmtlcGZelFl5CxtgfiAc0',
  ],
  [
    '$6$rounds=123456$asaltof16chars..',
    'a short string',
    '$6$rounds=123456$asaltof16chars..$BtCwjqMJGx5hrJhZywWvt0RLE8uZ4oPwcelCjmw2kSYu.Ec6ycULevoBK25fs2xXgMNrCzIMVcgEJAstJeonj1',
  ],
  [
    '$6$rounds=10$roundstoolow',
    'the minimum number is still observed',
    '$6$rounds=1000$roundstoolow$kUMsbe306n21p9R.FRkW3IGn.S9NPN0x50YhH1xhLsPuWGsUSklZt58jaTfF4ZEQpyUNGc0dqbpBYYBaHHrsX.',
  ],
];

describe('kickstart/sha512-crypt', () => {
  for (const [setting, key, expected] of SPEC_VECTORS) {
    it(`matches the specification vector ${setting}`, function () {
      this.timeout(60_000); // up to 123456 rounds
      expect(sha512Crypt(key, setting)).to.equal(expected);
    });
  }

  it('agrees with `openssl passwd -6` on passwords of many lengths and characters', async () => {
    const passwords = [
      'x',
      'pässwörd ☃',
      'a'.repeat(63),
      'b'.repeat(64),
      'c'.repeat(65),
      'd'.repeat(200),
      ' lead and trail ',
    ];
    for (const pw of passwords) {
      const salt = saltFromBytes(randomBytes(12));
      // the password goes on stdin, never on argv
      const r = await execa('openssl', ['passwd', '-6', '-salt', salt, '-stdin'], { input: `${pw}\n` });
      expect(sha512Crypt(pw, `$6$${salt}`), `password of length ${pw.length}`).to.equal(r.stdout.trim());
    }
  });

  it('hashes the empty password as glibc crypt(3) does', () => {
    // value from glibc's crypt('', '$6$abc') (python3 crypt module)
    expect(sha512Crypt('', '$6$abc')).to.equal(
      '$6$abc$mJP3a6FyA8uCnzRtlnNypPwjnvpi5TP9qOrInzrfDmwxUQG38PkpCPdqfTb8JQfAngapMxeim4AZ..hSdRRzD.',
    );
  });

  it('makes 16-character salts from the crypt alphabet and fresh salts per hash', () => {
    const salt = saltFromBytes(Buffer.from('000102030405060708090a0bff', 'hex'));
    expect(salt).to.match(/^[./0-9A-Za-z]{16}$/);
    const a = hashPassword('same');
    const b = hashPassword('same');
    expect(a).to.match(/^\$6\$[./0-9A-Za-z]{16}\$[./0-9A-Za-z]{86}$/);
    expect(a).to.not.equal(b);
    expect(sha512Crypt('same', a)).to.equal(a);
    expect(() => saltFromBytes(Buffer.alloc(4))).to.throw(/12 bytes/);
  });

  it('recognises crypt hashes and rejects plain text', () => {
    expect(isCryptHash(SPEC_VECTORS[0]![2])).to.equal(true);
    expect(isCryptHash('$y$j9T$abc$def')).to.equal(true);
    expect(isCryptHash('hunter2')).to.equal(false);
    expect(isCryptHash('$6$salt$has space')).to.equal(false);
    expect(() => sha512Crypt('x', '$5$salt')).to.throw(/\$6\$/);
  });
});
