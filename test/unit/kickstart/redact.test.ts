import { expect } from 'chai';
import { REDACTED, redactSecrets } from '../../../src/kickstart/redact.js';

describe('kickstart/redact', () => {
  const cases: [string, string][] = [
    ['rootpw --iscrypted $6$salt$hash', `rootpw --iscrypted ${REDACTED}`],
    ['rootpw hunter2', `rootpw ${REDACTED}`],
    ['rootpw --plaintext password', `rootpw --plaintext ${REDACTED}`],
    ['rootpw --lock', 'rootpw --lock'],
    [
      'user --name=ops --iscrypted --password=$6$a$b --groups=wheel',
      `user --name=ops --iscrypted --password=${REDACTED} --groups=wheel`,
    ],
    ['user --name=ops --password "two words"', `user --name=ops --password ${REDACTED}`],
    ['sshpw --username=root --iscrypted $6$x$y', `sshpw --username=root --iscrypted ${REDACTED}`],
    ['sshpw --username root secret', `sshpw --username root ${REDACTED}`],
    ['bootloader --location=mbr --password=grubpw', `bootloader --location=mbr --password=${REDACTED}`],
    [
      'd-i passwd/root-password-crypted password $6$a$b',
      `d-i passwd/root-password-crypted password ${REDACTED}`,
    ],
    ['d-i passwd/user-password password plain text pw', `d-i passwd/user-password password ${REDACTED}`],
    [
      'd-i grub-installer/password-crypted password $6$c$d',
      `d-i grub-installer/password-crypted password ${REDACTED}`,
    ],
    ['d-i passwd/username string ops', 'd-i passwd/username string ops'],
    ['network --device=eth0 --bootproto=dhcp', 'network --device=eth0 --bootproto=dhcp'],
  ];
  for (const [line, want] of cases) {
    it(`redacts ${JSON.stringify(line)}`, () => {
      expect(redactSecrets(`text\n${line}\n`)).to.equal(`text\n${want}\n`);
    });
  }

  it('leaves script sections alone (a rootpw-looking line in %post is script text)', () => {
    const ks = 'rootpw x\n%post\nrootpw y\n%end\nrootpw z\n';
    expect(redactSecrets(ks)).to.equal(`rootpw ${REDACTED}\n%post\nrootpw y\n%end\nrootpw ${REDACTED}\n`);
  });
});
