import { expect } from 'chai';
import { sequentialIds } from '../../../src/host/host.js';
import { parsePreseed, userSetupQuestions } from '../../../src/kickstart/preseed-check.js';
import { renderKickstart } from '../../../src/kickstart/render.js';

const HASH =
  '$6$KnownSaltValue00$hNbKkVSlbfXMBNh7CBTmyjpkH3V3wQ7ORHzDlmA.kYS.NDZJgUzpuj/I62WUCVDLS4WUx5BgCP8Qh5ZeZ2oSE.';
const USER = [
  'd-i passwd/user-fullname string Ops',
  'd-i passwd/username string ops',
  `d-i passwd/user-password-crypted password ${HASH}`,
];

describe('kickstart/preseed-check', () => {
  it('parses answers: owner, type, value (empty allowed, continuation lines joined, last wins)', () => {
    const a = parsePreseed(
      [
        '# comment',
        'd-i netcfg/get_domain string ',
        'd-i preseed/late_command string in-target \\',
        '  true',
        'tasksel tasksel/first multiselect',
        'd-i passwd/root-login boolean true',
        'd-i passwd/root-login boolean false',
      ].join('\n'),
    );
    expect(a.get('netcfg/get_domain')).to.deep.equal({ owner: 'd-i', type: 'string', value: '' });
    expect(a.get('preseed/late_command')?.value).to.equal('in-target   true');
    expect(a.get('tasksel/first')).to.deep.equal({ owner: 'tasksel', type: 'multiselect', value: '' });
    expect(a.get('passwd/root-login')?.value).to.equal('false');
  });

  const table: Array<[string, string[], string[]]> = [
    [
      'root login off and no user: user-setup forces a user and asks for it',
      ['d-i passwd/root-login boolean false', 'd-i passwd/make-user boolean false'],
      ['passwd/user-fullname', 'passwd/username', 'passwd/user-password', 'passwd/user-password-again'],
    ],
    [
      'nothing preseeded: the root password, then a user (make-user defaults to true)',
      [],
      [
        'passwd/root-password',
        'passwd/root-password-again',
        'passwd/user-fullname',
        'passwd/username',
        'passwd/user-password',
        'passwd/user-password-again',
      ],
    ],
    [
      'a bare "!" root hash counts as not set',
      [
        'd-i passwd/root-login boolean true',
        'd-i passwd/root-password-crypted password !',
        'd-i passwd/make-user boolean false',
      ],
      ['passwd/root-password', 'passwd/root-password-again'],
    ],
    [
      'a locked root ("!*") and no user: nothing asked',
      [
        'd-i passwd/root-login boolean true',
        'd-i passwd/root-password-crypted password !*',
        'd-i passwd/make-user boolean false',
      ],
      [],
    ],
    [
      'a root hash and no user: nothing asked',
      [`d-i passwd/root-password-crypted password ${HASH}`, 'd-i passwd/make-user boolean false'],
      [],
    ],
    [
      'plain root passwords that differ: the mismatch note',
      [
        'd-i passwd/root-password password a',
        'd-i passwd/root-password-again password b',
        'd-i passwd/make-user boolean false',
      ],
      ['user-setup/password-mismatch'],
    ],
    [
      'root login off with a complete user: nothing asked',
      ['d-i passwd/root-login boolean false', ...USER],
      [],
    ],
    [
      'a user whose name is invalid: the username is asked again',
      [
        'd-i passwd/root-login boolean false',
        'd-i passwd/user-fullname string',
        'd-i passwd/username string Ops',
        `d-i passwd/user-password-crypted password ${HASH}`,
      ],
      ['passwd/username'],
    ],
  ];
  for (const [title, lines, expected] of table) {
    it(title, () => {
      expect(userSetupQuestions(lines.join('\n'))).to.deep.equal(expected);
    });
  }

  it('the debian template asks nothing in user-setup, with or without a root password or a user', async () => {
    const variants: Array<Record<string, unknown>> = [
      {},
      { rootPasswordHash: HASH },
      { user: { name: 'ops', passwordHash: HASH } },
      { rootPasswordHash: HASH, user: { name: 'ops', passwordHash: HASH } },
    ];
    for (const vars of variants) {
      const r = await renderKickstart('debian', vars, { ids: sequentialIds(1) });
      expect(userSetupQuestions(r.text), JSON.stringify(vars)).to.deep.equal([]);
    }
  });

  it('the debian template without a root password or a user locks root instead of disabling root login', async () => {
    const r = await renderKickstart('debian', {}, { ids: sequentialIds(1) });
    const a = parsePreseed(r.text);
    expect(a.get('passwd/root-login')?.value).to.equal('true');
    expect(a.get('passwd/root-password-crypted')?.value).to.equal('!*');
    expect(a.get('passwd/make-user')?.value).to.equal('false');
  });
});
