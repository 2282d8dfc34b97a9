/**
 * Kickstarts for the bed's own tests. The confirmation script is the fixture in
 * fixtures/confirm.sh (CONTRACTS.md §1); the project's real unit comes from its kickstart templates.
 */
import { readFixture } from './util.js';

export { readFixture };

/**
 * A kickstart for the tiny installer whose %post installs the fixture confirmation script as
 * /usr/local/sbin/install-guest-confirm and calls it from /etc/rc.local, as CONTRACTS.md §1 says.
 */
export async function confirmKickstart(
  options: {
    disk?: string;
    rootpw?: string;
    hostname?: string;
    action?: 'poweroff' | 'reboot' | 'shutdown' | 'halt';
    extra?: readonly string[];
  } = {},
): Promise<string> {
  const confirm = await readFixture('confirm.sh');
  if (confirm.includes('IG_CONFIRM_EOF'))
    throw new Error('testbed: confirm.sh must not contain the heredoc marker');
  return [
    '# tiny installer kickstart (test bed)',
    'text',
    'lang en_US.UTF-8',
    `ignoredisk --only-use=${options.disk ?? 'vda'}`,
    'clearpart --all --initlabel',
    'part / --fstype=ext4 --size=100 --grow',
    `network --bootproto=dhcp --hostname=${options.hostname ?? 'tiny-confirm'}`,
    `rootpw --plaintext ${options.rootpw ?? 'tiny-secret'}`,
    ...(options.extra ?? []),
    '%packages',
    '@core',
    '%end',
    '%post',
    "cat > /usr/local/sbin/install-guest-confirm <<'IG_CONFIRM_EOF'",
    confirm.trimEnd(),
    'IG_CONFIRM_EOF',
    'chmod 755 /usr/local/sbin/install-guest-confirm',
    "[ -e /etc/rc.local ] || printf '#!/bin/sh\\n' > /etc/rc.local",
    'echo /usr/local/sbin/install-guest-confirm >> /etc/rc.local',
    'chmod 755 /etc/rc.local',
    '%end',
    options.action ?? 'poweroff',
    '',
  ].join('\n');
}
