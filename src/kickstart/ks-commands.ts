/**
 * The kickstart command and section names the linter knows, as data. Taken from pykickstart's
 * handler tables for current Fedora (F43) and RHEL 9/10: `commandMap` keys, with the commands that
 * pykickstart marks as RemovedCommand/DeprecatedCommand listed separately. `rhsm` and `syspurpose`
 * exist in the RHEL 8/9 handlers only.
 */

export const KNOWN_COMMANDS: readonly string[] = [
  'authselect',
  'autopart',
  'bootc',
  'bootloader',
  'btrfs',
  'cdrom',
  'clearpart',
  'cmdline',
  'driverdisk',
  'eula',
  'fcoe',
  'firewall',
  'firstboot',
  'graphical',
  'group',
  'halt',
  'harddrive',
  'hmc',
  'ignoredisk',
  'iscsi',
  'iscsiname',
  'keyboard',
  'lang',
  'liveimg',
  'logging',
  'logvol',
  'mediacheck',
  'mount',
  'network',
  'nfs',
  'ostreecontainer',
  'ostreesetup',
  'part',
  'partition',
  'poweroff',
  'raid',
  'realm',
  'reboot',
  'repo',
  'reqpart',
  'rescue',
  'rhsm',
  'rootpw',
  'selinux',
  'services',
  'shutdown',
  'skipx',
  'snapshot',
  'sshkey',
  'sshpw',
  'syspurpose',
  'text',
  'timesource',
  'timezone',
  'updates',
  'url',
  'user',
  'vnc',
  'volgroup',
  'xconfig',
  'zerombr',
  'zfcp',
  'zipl',
];

/** Still parsed, but announced as going away. */
export const DEPRECATED_COMMANDS: readonly string[] = ['module', 'nvdimm'];

/** Refused by current pykickstart (RemovedCommand) or gone from its handlers long ago. */
export const REMOVED_COMMANDS: readonly string[] = [
  'auth',
  'authconfig',
  'autostep',
  'device',
  'deviceprobe',
  'dmraid',
  'install',
  'interactive',
  'key',
  'langsupport',
  'lilo',
  'lilocheck',
  'method',
  'monitor',
  'mouse',
  'multipath',
  'upgrade',
];

/** Sections that run until `%end`. */
export const SECTIONS: readonly string[] = [
  'packages',
  'pre',
  'pre-install',
  'post',
  'onerror',
  'traceback',
  'addon',
  'anaconda',
];

/** Commands that may appear once; a second one overrides the first (warned). */
export const SINGLETON_COMMANDS: readonly string[] = [
  'autopart',
  'bootloader',
  'clearpart',
  'firstboot',
  'ignoredisk',
  'keyboard',
  'lang',
  'rootpw',
  'selinux',
  'timezone',
  'zerombr',
  'url',
  'cdrom',
  'harddrive',
  'nfs',
  'liveimg',
];

export const DISPLAY_MODES: readonly string[] = ['text', 'cmdline', 'graphical'];
export const END_ACTIONS: readonly string[] = ['shutdown', 'poweroff', 'reboot', 'halt'];
export const STORAGE_COMMANDS: readonly string[] = [
  'autopart',
  'part',
  'partition',
  'logvol',
  'volgroup',
  'raid',
  'btrfs',
  'reqpart',
  'mount',
];
