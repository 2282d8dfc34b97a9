/**
 * Rules for anaconda (Fedora, RHEL, CentOS Stream, Rocky, Alma…) in text or cmdline mode on a
 * serial console, and for the tiny test installer that prints the same lines (CONTRACTS §2).
 * Failure texts are anaconda's own (pyanaconda), dnf's and yum's; several are also the ones
 * lorax's livemedia-creator and openscap's test harness watch for.
 */
import type { RulePack } from './types.js';

const STAGES = [
  'Setting up the installation environment',
  'Configuring storage',
  'Running pre-installation scripts',
  'Running pre-installation tasks',
  'Installing the software',
  'Starting package installation process',
  'Downloading packages',
  'Preparing transaction from installation source',
  'Performing post-installation setup tasks',
  'Installing boot loader',
  'Running post-installation scripts',
  'Configuring installed system',
  'Writing network configuration',
  'Creating users',
  'Configuring addons',
  'Generating initramfs',
  'Storing configuration files and kickstarts',
  'Running post-installation tasks',
];

export const anaconda: RulePack = {
  family: 'anaconda',
  description: 'anaconda text/cmdline installs (and the test installer that mimics them)',
  rules: [
    // ---- fatal
    {
      id: 'anaconda-unknown-error',
      kind: 'fatal',
      pattern: 'An unknown error has occurr?ed',
      message: 'anaconda crashed with an unhandled exception',
      hint: 'the exception line is in the serial log; anaconda also wrote /tmp/anaconda-tb-* in the guest',
      collect: { mode: 'python-traceback', maxLines: 200, maxWaitMs: 2000 },
      source:
        'pyanaconda/exception.py: print("\\nAn unknown error has occured, look at the /tmp/anaconda-tb* file(s) for more details")',
      examples: [
        'An unknown error has occured, look at the /tmp/anaconda-tb* file(s) for more details',
        'An unknown error has occurred',
      ],
    },
    {
      id: 'python-traceback',
      kind: 'fatal',
      pattern: '^\\s*Traceback \\(most recent call last\\):',
      message: 'the installer crashed with a Python exception',
      hint: 'the exception line names the failing step; see the serial log for the whole traceback',
      collect: { mode: 'python-traceback', maxLines: 200, maxWaitMs: 2000 },
      source:
        'CPython traceback.print_exception (anaconda, its modules and python-meh print it on the console)',
      examples: ['Traceback (most recent call last):'],
    },
    {
      id: 'anaconda-cmdline-error',
      kind: 'fatal',
      pattern:
        'The installation was stopped due to an error which occurred while running in non-interactive cmdline mode',
      message: 'anaconda stopped: the kickstart left a question it cannot ask in cmdline mode',
      hint: 'fix the kickstart: the exact error message is in the serial log after this line',
      collect: { mode: 'line', pattern: '^(?!The exact error message is:)\\S', maxLines: 8, maxWaitMs: 1000 },
      source:
        'pyanaconda/errors.py / exception.py cmdline_error_msg: "The installation was stopped due to an error which occurred while running in non-interactive cmdline mode. …The exact error message is: …"',
      examples: [
        'The installation was stopped due to an error which occurred while running in non-interactive cmdline mode. Since there cannot be any questions in cmdline mode, edit your kickstart file and retry installation.',
      ],
    },
    {
      id: 'anaconda-noninteractive-failed',
      kind: 'fatal',
      pattern: 'Non interactive installation failed: ?(?<reason>.*)',
      message: 'anaconda could not continue without asking: {reason}',
      hint: 'complete the kickstart (the named setting is missing or wrong)',
      source:
        'pyanaconda/errors.py: raise NonInteractiveError("Non interactive installation failed: %s" % exn)',
      examples: [
        'pyanaconda.errors.NonInteractiveError: Non interactive installation failed: Failed to set up installation source',
      ],
    },
    {
      id: 'anaconda-question-in-cmdline',
      kind: 'fatal',
      pattern: "Can't have a question in command line mode!",
      message: 'anaconda needs an answer the kickstart does not give',
      hint: 'complete the kickstart (rootpw, storage, network, …)',
      source: 'pyanaconda/ui/tui/hubs/summary.py: errtxt = _("Can\'t have a question in command line mode!")',
      examples: ["Can't have a question in command line mode!"],
    },
    {
      id: 'anaconda-kickstart-script-error',
      kind: 'fatal',
      pattern: 'There was an error running the kickstart script at line (?<line>\\d+)',
      message: 'a kickstart %pre/%post script failed (kickstart line {line})',
      hint: 'the script runs with --erroronfail; its output is in the serial log and /tmp/ks-script-* in the guest',
      source:
        'pyanaconda/kickstart.py: _("There was an error running the kickstart script at line %(lineno)s. …")',
      examples: [
        'There was an error running the kickstart script at line 42.  This is a fatal error and installation will be aborted.  The details of this error are:',
      ],
    },
    {
      id: 'anaconda-payload-fatal',
      kind: 'fatal',
      pattern: 'The following error occurred while installing\\.\\s+This is a fatal error',
      message: 'anaconda could not install the software',
      hint: 'check the repository and the package list in the kickstart',
      source:
        'pyanaconda/errors.py _payloadInstallHandler: "The following error occurred while installing.  This is a fatal error and installation will be aborted."',
      examples: [
        'The following error occurred while installing.  This is a fatal error and installation will be aborted.',
      ],
    },
    {
      id: 'anaconda-transaction-error',
      kind: 'fatal',
      pattern: '[Ee]rror populating transaction',
      message: 'the package transaction could not be built',
      hint: 'a package in the kickstart is missing or conflicts; check the repository',
      source:
        'pyanaconda payload: "Error populating transaction after %d anaconda retries: %s" (also watched by lorax)',
      examples: [
        'error populating transaction after 10 anaconda retries: failure: repodata/repomd.xml from anaconda: [Errno 256] No more mirrors to try.',
      ],
    },
    {
      id: 'package-install-failed',
      kind: 'fatal',
      pattern:
        'Failed to install package (?<pkg>\\S+)|Error in POSTIN scriptlet in rpm package (?<scriptlet>\\S+)',
      message: 'a package failed to install: {pkg}{scriptlet}',
      source: 'anaconda PayloadInstallationError text; rpm: "Error in POSTIN scriptlet in rpm package %s"',
      examples: [
        'Failed to install package tiny-base',
        'Error in POSTIN scriptlet in rpm package kernel-core',
      ],
    },
    {
      id: 'payload-error',
      kind: 'fatal',
      pattern:
        '\\bPayload (?:setup |installation )?error\\b|\\bPayload(?:Setup|Installation)Error\\b|\\bSourceSetupError\\b',
      flags: 'i',
      message: 'the installation source or payload failed',
      hint: 'check inst.repo/inst.stage2 and the repository contents',
      source:
        'pyanaconda/modules/common/errors/payload.py: SourceSetupError, PayloadSetupError, PayloadInstallationError',
      examples: [
        'pyanaconda.modules.common.errors.payload.SourceSetupError: Failed to set up the installation source',
        'Payload error',
      ],
    },
    {
      id: 'package-download-failed',
      kind: 'fatal',
      pattern:
        'Error downloading packages|Failed to download the following packages|Some packages, groups or modules are missing',
      message: 'packages could not be downloaded or are missing from the repository',
      hint: 'check the repository URL, its reachability from the guest, and the package list',
      source:
        'dnf: "Error downloading packages:"; pyanaconda dnf payload: "Failed to download the following packages: %s", "Some packages, groups or modules are missing."',
      examples: [
        'Error downloading packages:',
        'Failed to download the following packages: tiny-base-1.0-1.x86_64',
      ],
    },
    {
      id: 'repository-unreachable',
      kind: 'fatal',
      pattern:
        'Cannot find a valid baseurl for repo|Failed to download metadata for repo|Cannot download repomd\\.xml|Error setting up base repository',
      message: 'the package repository could not be reached',
      hint: 'check the repository URL and that the guest has network access to it',
      source:
        'yum: "Cannot find a valid baseurl for repo: %s"; dnf: "Failed to download metadata for repo \'%s\'"; anaconda: "Error setting up base repository"',
      examples: [
        'Cannot find a valid baseurl for repo: base/7/x86_64',
        "Error: Failed to download metadata for repo 'fedora': Cannot download repomd.xml: Cannot download repodata/repomd.xml: All mirrors were tried",
      ],
    },
    {
      id: 'anaconda-disk-space',
      kind: 'fatal',
      pattern:
        'Not enough (?:disk )?space|[Ii]nsufficient disk space|Not enough free space on disks for automatic partitioning|needs \\d+[KMG]B (?:more space )?on the \\S+ filesystem',
      message: 'the target disk is too small for this install',
      hint: 'give the guest a bigger disk (--disk-size) or select fewer packages',
      source:
        'anaconda: "Not enough space in file systems for the current software selection. An additional %s is needed."; blivet autopart: "Not enough free space on disks for automatic partitioning"; rpm: "installing package %s needs %dMB more space on the %s filesystem"',
      examples: [
        'Not enough space in file systems for the current software selection. An additional 1.2 GiB is needed.',
        'Not enough free space on disks for automatic partitioning',
        'installing package kernel-core-6.5.6-300.fc39.x86_64 needs 52MB more space on the / filesystem',
      ],
    },
    {
      id: 'anaconda-installation-failed',
      kind: 'fatal',
      pattern: '^Installation failed: ?(?<reason>.*)|packaging: Installation failed',
      message: 'the installation failed: {reason}',
      source: 'anaconda installation task error; lorax watches "packaging: Installation failed"',
      examples: ['Installation failed: [Errno 28] No space left on device'],
    },
    {
      id: 'anaconda-crashed-on-signal',
      kind: 'fatal',
      pattern: 'crashed on signal \\d+|anaconda (?:exited|died) on signal',
      message: 'anaconda crashed on a signal',
      source: 'anaconda: "anaconda crashed on signal %s" (also watched by lorax)',
      examples: ['anaconda crashed on signal 11'],
    },

    // ---- progress
    {
      id: 'anaconda-package-progress',
      kind: 'progress',
      pattern: 'Installing (?<item>\\S+) \\((?<done>\\d+)/(?<total>\\d+)\\)',
      message: 'installing {item} ({done}/{total})',
      source: 'pyanaconda payload progress: "Installing %s (%d/%d)"',
      examples: [
        'Installing the software: Installing tiny-base-1.0-1.x86_64 (1/6)',
        'Installing libgcc-13.2.1-1.fc39.x86_64 (1/383)',
      ],
    },
    {
      id: 'anaconda-storage-progress',
      kind: 'progress',
      pattern: '^(?<action>Creating (?<fs>\\S+) on (?<dev>/dev/\\S+))$',
      message: '{action}',
      source: 'pyanaconda storage installation progress: "Creating %s on %s"',
      examples: [
        'Creating disklabel on /dev/vda',
        'Creating ext4 on /dev/vda1',
        'Creating xfs on /dev/mapper/fedora-root',
      ],
    },
    {
      id: 'anaconda-stage',
      kind: 'progress',
      pattern: `^\\s*(?<stage>${STAGES.join('|')})\\.*\\s*$`,
      message: '{stage}',
      source: 'pyanaconda installation task names, printed one per line in text/cmdline mode',
      examples: [
        'Setting up the installation environment',
        'Installing boot loader',
        'Running post-installation scripts',
      ],
    },

    // ---- milestones
    {
      id: 'anaconda-starting',
      kind: 'milestone',
      pattern: '^Starting installer, one moment\\.\\.\\.',
      message: 'installer starting',
      source: 'anaconda: print(_("Starting installer, one moment..."))',
      examples: ['Starting installer, one moment...'],
    },
    {
      id: 'anaconda-started',
      kind: 'milestone',
      pattern: '^anaconda (?<version>\\S+) for (?<product>.+?) started\\.',
      message: 'anaconda {version} started ({product})',
      source: 'anaconda: "anaconda %s for %s started."',
      examples: [
        'anaconda 40.22.3 for Tiny Linux 1 (pre-release) started.',
        'anaconda 34.24.9-1.fc34 for Fedora 34 started.',
      ],
    },
    {
      id: 'anaconda-automated-install',
      kind: 'milestone',
      pattern: '^Starting automated install',
      message: 'automated (kickstart) install started',
      source: 'pyanaconda/ui/tui: "Starting automated install"',
      examples: ['Starting automated install.......'],
    },
    {
      id: 'anaconda-installation-complete',
      kind: 'milestone',
      pattern: '^Installation complete\\b',
      message: 'installation complete',
      source: 'pyanaconda/ui/tui/spokes/installation_progress.py: _("Installation complete")',
      examples: ['Installation complete', 'Installation complete. Press ENTER to quit:'],
    },
  ],
};
