/**
 * Rules for debian-installer (Debian, Ubuntu's legacy installer) on a serial console. d-i draws
 * newt dialogs inside GNU screen with cursor addressing and DEC line drawing; the watcher turns
 * that into lines (dialog titles, wrapped text lines, the progress percentage on its own).
 * Failure texts are d-i's debconf templates (main-menu, choose-mirror, base-installer,
 * grub-installer, partman, preseed, network-preseed).
 */
import type { RulePack } from './types.js';

const STAGES = [
  'Detecting hardware',
  'Detecting network hardware',
  'Loading additional components',
  'Configuring the network with DHCP',
  'Checking the Debian archive mirror',
  'Detecting link on',
  'Waiting for link-local address',
  'Attempting IPv6 autoconfiguration',
  'Installing the base system',
  'Installing the system',
  'Configuring apt',
  'Select and install software',
  'Installing GRUB boot loader',
  'Installing GRUB',
  'Finishing the installation',
  'Partitioning disks',
  'Setting up the clock',
  'Setting up users and passwords',
  'Starting up the partitioner',
];

export const debianInstaller: RulePack = {
  family: 'debian-installer',
  description: 'debian-installer (newt or text frontend) on a serial console',
  rules: [
    // ---- ignore
    {
      id: 'di-screen-status-line',
      kind: 'ignore',
      pattern: '\\d\\*?-?\\s*(?:start|shell|installer|log)\\s+\\d\\*?-?\\s*(?:start|shell|installer|log)',
      message: "GNU screen's window list that d-i redraws at the bottom of the console",
      source: 'debian-installer rootskel: screen hardstatus "(1*installer) 2 shell 3 shell 4- log"',
      examples: ['2 shell  3 shell  4- log'],
    },

    // ---- fatal
    {
      id: 'di-installation-step-failed',
      kind: 'fatal',
      pattern: 'Installation step failed',
      message: 'a debian-installer step failed',
      hint: 'the failing step is named in the serial log; d-i keeps its syslog in /var/log/syslog inside the installer',
      collect: { mode: 'line', pattern: 'failing step is:', maxLines: 12, maxWaitMs: 1000 },
      source:
        'main-menu templates: debian-installer/main-menu/item-failure "Installation step failed … The failing step is: ${ITEM}"',
      examples: ['Installation step failed'],
    },
    {
      id: 'di-preseed-retrieve-failed',
      kind: 'fatal',
      pattern:
        'Failed to retrieve the preconfiguration file|Failed to process the preconfiguration file|Failed to load installer component',
      message: 'debian-installer could not load its preseed file or a component',
      hint: 'check the url= / preseed/url on the kernel command line and that the guest can reach it',
      source:
        'preseed templates: preseed/retrieve_error "Failed to retrieve the preconfiguration file"; anna/install_failed "Failed to load installer component"',
      examples: ['Failed to retrieve the preconfiguration file', 'Failed to load installer component'],
    },
    {
      id: 'di-component-download-failed',
      kind: 'fatal',
      pattern: 'The installer failed to download a file from the mirror',
      message: 'debian-installer could not download an installer component from the mirror (at: {progress})',
      hint: 'the mirror must serve the installer components (udebs, dists/<suite>/main/debian-installer/binary-<arch>) matching these installer images; a mirror or proxy that serves only .deb packages fails here. Set mirror.host / mirror.directory (--ks-set) to a full mirror',
      source:
        'net-retriever templates: retriever/net/error "The installer failed to download a file from the mirror. This may be a problem with your network, or with the mirror. …"',
      examples: [
        'The installer failed to download a file from the mirror. This may be',
        'The installer failed to download a file from the mirror. This may be a problem with your network, or with the mirror.',
      ],
    },
    {
      id: 'di-bad-mirror',
      kind: 'fatal',
      pattern: 'Bad archive mirror',
      message: 'the Debian archive mirror is unusable',
      hint: 'check mirror/http/hostname and mirror/http/directory in the preseed, and the guest network',
      source: 'choose-mirror templates: mirror/bad "Bad archive mirror"',
      examples: ['Bad archive mirror', '[!!] Choose a mirror of the Debian archive   Bad archive mirror'],
    },
    {
      id: 'di-debootstrap-error',
      kind: 'fatal',
      pattern:
        'Debootstrap [Ee]rror|Failed to install the base system|Failed to determine the codename for the release',
      message: 'debootstrap could not install the base system',
      hint: 'usually the mirror or the suite name; see /var/log/syslog in the installer',
      source:
        'base-installer templates: base-installer/debootstrap/error/* "Debootstrap Error", base-installer/debootstrap-failed "Failed to install the base system"',
      examples: ['Debootstrap Error', 'Failed to install the base system'],
    },
    {
      id: 'di-kernel-install-failed',
      kind: 'fatal',
      pattern:
        'No installable kernel was found|Unable to install the selected kernel|No kernel modules were found',
      message: 'no usable kernel could be installed',
      hint: 'the installer and the mirror disagree on the kernel version: use matching installer images',
      source:
        'base-installer templates: base-installer/kernel/no-kernels-found, base-installer/kernel/failed-install; anna: "No kernel modules were found"',
      examples: [
        'No installable kernel was found in the defined APT sources.',
        'No kernel modules were found',
      ],
    },
    {
      id: 'di-partition-failed',
      kind: 'fatal',
      pattern: 'Failed to partition the selected disk|No root file system is defined|No root file system',
      message: 'partman could not partition the disk',
      hint: 'check the partman-auto recipe and that the disk is big enough',
      source:
        'partman-auto templates: partman-auto/no_recipe "Failed to partition the selected disk"; partman-target: "No root file system is defined."',
      examples: ['Failed to partition the selected disk', 'No root file system is defined.'],
    },
    {
      id: 'di-bootloader-failed',
      kind: 'fatal',
      pattern: "Unable to install GRUB in (?<dev>\\S+)|Executing 'grub-install .*' failed",
      message: 'the boot loader could not be installed {dev}',
      source:
        'grub-installer templates: grub-installer/grub-install-failed "Unable to install GRUB in ${BOOTDEV}" / "Executing \'grub-install ${BOOTDEV}\' failed."',
      examples: ['Unable to install GRUB in /dev/vda', "Executing 'grub-install /dev/vda' failed."],
    },
    {
      id: 'di-fatal-error',
      kind: 'fatal',
      pattern: 'This is a fatal error\\.|The installer (?:failed|was unable) to',
      message: 'debian-installer reported a fatal error',
      source: 'grub-installer/base-installer templates: "… This is a fatal error."',
      examples: ['This is a fatal error.'],
    },

    // ---- warnings
    {
      id: 'di-no-network-interface',
      kind: 'warning',
      pattern: 'No network interfaces detected',
      message: 'debian-installer found no network interface',
      source: 'netcfg templates: netcfg/no_interfaces "No network interfaces detected"',
      examples: ['No network interfaces detected'],
    },
    {
      id: 'di-repository-unreachable',
      kind: 'warning',
      pattern: 'Cannot access repository',
      message: 'a package repository could not be reached; d-i continues without it',
      source: 'apt-setup templates: apt-setup/service-failed "Cannot access repository"',
      examples: ['Cannot access repository'],
    },

    // ---- progress
    {
      id: 'di-percent',
      kind: 'progress',
      pattern: '^\\s*(?<percent>\\d{1,3})%\\s*$',
      message: '',
      source: 'cdebconf newt frontend progress bar: the percentage drawn in the bar',
      examples: ['95%', '  100%'],
    },
    {
      id: 'di-text-percent',
      kind: 'progress',
      pattern: '\\.\\.\\. ?(?<percent>\\d{1,3})%(?:\\.\\.\\.)?\\s*$',
      message: '',
      source: 'cdebconf text frontend progress: "... 10%... 20%..."',
      examples: ['Loading additional components... 10%... 20%... 30%...'],
    },
    {
      id: 'di-package-step',
      kind: 'progress',
      pattern:
        '^\\s*(?<action>Retrieving|Validating|Extracting|Unpacking|Configuring|Setting up|Installing) (?<item>[a-z0-9][a-z0-9+.-]+)(?: \\(\\S+\\))?\\.{0,3}\\s*$',
      message: '{action} {item}',
      source:
        'base-installer/debootstrap and pkgsel progress info: "Retrieving %s", "Unpacking %s", "Configuring %s"',
      examples: ['Retrieving libc6', 'Unpacking base-files', 'Configuring apt'],
    },
    {
      id: 'di-stage',
      kind: 'progress',
      pattern: `^\\s*(?:\\[[!?. ]*\\] )?(?<stage>${STAGES.join('|')})\\b`,
      message: '{stage}',
      source: 'd-i progress titles and main-menu items',
      examples: [
        'Detecting network hardware',
        'Configuring the network with DHCP',
        'Checking the Debian archive mirror',
        'Installing the base system',
      ],
    },

    // ---- milestones
    {
      id: 'di-network-configured',
      kind: 'milestone',
      pattern: 'Network autoconfiguration has succeeded',
      message: 'network configured',
      source: 'netcfg templates: netcfg/dhcp_success_note',
      examples: ['Network autoconfiguration has succeeded'],
    },
    {
      id: 'di-installation-complete',
      kind: 'milestone',
      pattern:
        '^\\s*Installation complete\\b|Installation is complete, so it is time to boot into your new system',
      message: 'installation complete',
      source:
        'finish-install templates: finish-install/reboot_in_progress "Installation complete … Installation is complete, so it is time to boot into your new system."',
      examples: [
        'Installation complete',
        'Installation is complete, so it is time to boot into your new system. Make sure to remove',
      ],
    },
  ],
};
