/**
 * Rules for what any Linux guest prints on its serial console, whatever installs it: the firmware
 * (SeaBIOS), the kernel (panics, the OOM killer, IOMMU faults), the initramfs (dracut,
 * initramfs-tools) and systemd. Used after every installer family's own pack.
 */
import type { RulePack } from './types.js';

export const genericLinux: RulePack = {
  family: 'generic-linux',
  description: 'firmware, kernel, initramfs (dracut, initramfs-tools) and systemd console messages',
  rules: [
    // ---- ignore: lines that look alarming but are not, or were already reported
    {
      id: 'kernel-panic-end-marker',
      kind: 'ignore',
      pattern: '---\\[ end Kernel panic - not syncing',
      message: 'the closing line of a panic report already taken from its first line',
      source: 'kernel/panic.c: pr_emerg("---[ end Kernel panic - not syncing: %s ]---\\n", buf)',
      examples: [
        '[    2.231503] ---[ end Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0) ]---',
      ],
    },
    {
      id: 'kernel-command-line-echo',
      kind: 'ignore',
      pattern: '^(?:\\[\\s*\\d+\\.\\d+\\] )?(?:Kernel c|C)ommand line: ',
      message: 'the kernel echoes its command line, whose words (rd.emergency=, oom=…) are not events',
      source: 'arch/x86/kernel/setup.c "Command line: %s"; init/main.c "Kernel command line: %s"',
      examples: [
        '[    0.000000] Kernel command line: console=ttyS0 rd.shell=0 rd.emergency=poweroff panic=-1',
      ],
    },
    {
      id: 'soft-lockup-under-emulation',
      kind: 'ignore',
      pattern: 'watchdog: BUG: soft lockup - CPU#\\d+ stuck for|rcu: INFO: rcu_\\w+ (?:self-)?detected stall',
      message:
        'watchdog reports that emulated (TCG) or overcommitted guests print while they are merely slow',
      source: 'kernel/watchdog.c "BUG: soft lockup - CPU#%d stuck for %us!"; kernel/rcu/tree_stall.h',
      examples: ['[  123.456789] watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [swapper/0:1]'],
    },
    {
      id: 'systemd-oomd-unit',
      kind: 'ignore',
      pattern: 'systemd-oomd\\.(?:service|socket)',
      message: 'systemd starting its userspace OOM killer service is not an OOM',
      source: 'systemd: "Started systemd-oomd.service - Userspace Out-Of-Memory (OOM) Killer."',
      examples: ['[  OK  ] Started systemd-oomd.service - Userspace Out-Of-Memory (OOM) Killer.'],
    },

    // ---- fatal: kernel
    {
      id: 'kernel-panic',
      kind: 'fatal',
      pattern: 'Kernel panic - not syncing: ?(?<reason>.*)',
      message: 'the guest kernel panicked: {reason}',
      hint: 'read the lines before the panic in the serial log; a missing root device or initramfs is the usual cause',
      source: 'kernel/panic.c: pr_emerg("Kernel panic - not syncing: %s\\n", buf)',
      examples: [
        '[    2.221223] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)',
        '[   12.345678] Kernel panic - not syncing: sysrq triggered crash',
        '[    1.912312] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000100',
      ],
    },
    {
      id: 'initramfs-unpack-failed',
      kind: 'fatal',
      pattern: 'Initramfs unpacking failed: (?<why>.*)',
      message: 'the kernel could not unpack the initramfs: {why}',
      hint: 'give the guest more memory or check the initrd file (newc cpio, complete, not truncated)',
      source: 'init/initramfs.c: printk(KERN_EMERG "Initramfs unpacking failed: %s\\n", err)',
      examples: [
        '[    1.412121] Initramfs unpacking failed: write error',
        '[    0.983215] Initramfs unpacking failed: invalid magic at start of compressed archive',
      ],
    },
    {
      id: 'oom-killer-invoked',
      kind: 'fatal',
      pattern: '(?<task>\\S+) invoked oom-killer:',
      message: 'the guest ran out of memory ({task} invoked the OOM killer)',
      hint: 'give the guest more memory (installers typically need 1.5-4 GiB)',
      collect: {
        mode: 'line',
        pattern: '(?:Out of memory|Memory cgroup out of memory): Kill(?:ed)? process|Killed process \\d+',
        maxLines: 400,
        maxWaitMs: 1500,
      },
      source:
        'mm/oom_kill.c: pr_warn("%s invoked oom-killer: gfp_mask=%#x(%pGg), order=%d, oom_score_adj=%hd\\n", …)',
      examples: [
        '[   41.503810] anaconda invoked oom-killer: gfp_mask=0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP), order=0, oom_score_adj=0',
      ],
    },
    {
      id: 'oom-kill',
      kind: 'fatal',
      pattern:
        '(?:Out of memory(?: and no killable processes)?|Memory cgroup out of memory)[:.]|Killed process \\d+ \\(',
      message: 'the guest ran out of memory and the kernel killed a process',
      hint: 'give the guest more memory (installers typically need 1.5-4 GiB)',
      source:
        'mm/oom_kill.c: "Out of memory: Killed process %d (%s) total-vm:…", "Out of memory and no killable processes..."',
      examples: [
        '[   41.642317] Out of memory: Killed process 1312 (anaconda) total-vm:1851232kB, anon-rss:611436kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:2408kB oom_score_adj:0',
        '[   17.000112] Out of memory: Kill process 873 (python3) score 912 or sacrifice child',
        '[    3.118204] Out of memory and no killable processes...',
      ],
    },

    // ---- fatal: firmware
    {
      id: 'no-bootable-device',
      kind: 'fatal',
      pattern: '^No bootable device\\.',
      message: 'the firmware found nothing to boot',
      hint: 'check the boot order and that the install media (or, after the install, the disk) is attached and bootable',
      source: 'SeaBIOS src/boot.c: printf("No bootable device.")',
      examples: ['No bootable device.', 'No bootable device.  Retrying in 60 seconds.'],
    },

    // ---- fatal: initramfs and early userspace
    {
      id: 'dracut-initqueue-timeout',
      kind: 'fatal',
      pattern: 'dracut-initqueue(?:\\[\\d+\\])?: Warning: dracut-initqueue(?: timeout|: timeout)',
      message: 'dracut gave up waiting for the root or install source device',
      hint: 'the kernel did not find the install media or disk: check the drivers in the initrd and inst.stage2=/root= on the kernel command line',
      source:
        'dracut modules.d/98dracut-systemd/dracut-initqueue.sh: warn "dracut-initqueue timeout - starting timeout scripts"',
      examples: [
        '[  199.103720] dracut-initqueue[450]: Warning: dracut-initqueue timeout - starting timeout scripts',
        '[  181.020201] dracut-initqueue[617]: Warning: dracut-initqueue: timeout, still waiting for following initqueue hooks:',
      ],
    },
    {
      id: 'dracut-could-not-boot',
      kind: 'fatal',
      pattern: 'Warning: Could not boot\\.',
      message: 'dracut could not boot the system',
      source: 'dracut modules.d/99base/dracut-lib.sh: warn "Could not boot."',
      examples: ['[  200.129861] dracut-initqueue[450]: Warning: Could not boot.'],
    },
    {
      id: 'dracut-device-missing',
      kind: 'fatal',
      pattern: 'Warning: (?<dev>/dev/\\S+) does not exist',
      message: 'dracut: {dev} does not exist',
      hint: 'the root or install device named on the kernel command line never appeared',
      source:
        'dracut modules.d/98dracut-systemd/dracut-emergency.sh / rootfs-generator: warn "$_dev does not exist"',
      examples: ['Warning: /dev/mapper/rhel-root does not exist', 'Warning: /dev/root does not exist'],
    },
    {
      id: 'initramfs-tools-root-missing',
      kind: 'fatal',
      pattern: 'ALERT!\\s+(?<dev>\\S+) does not exist\\.\\s+Dropping to a shell!',
      message: 'initramfs-tools: {dev} does not exist',
      source: 'initramfs-tools scripts/local: panic "ALERT!  ${ROOT} does not exist.  Dropping to a shell!"',
      examples: ['ALERT!  UUID=fbf1c3fe-02ca-4347-93ae-458f0bce93a6 does not exist.  Dropping to a shell!'],
    },
    {
      id: 'emergency-mode',
      kind: 'fatal',
      pattern: 'Entering emergency mode\\.|You are in emergency mode\\.|Give root password for maintenance',
      message: 'the guest dropped to an emergency shell',
      hint: 'read the lines before it in the serial log for the unit or device that failed',
      source:
        'dracut-emergency / systemd emergency.service: "Entering emergency mode. Exit the shell to continue."',
      examples: [
        'Entering emergency mode. Exit the shell to continue.',
        'You are in emergency mode. After logging in, type "journalctl -xb" to view',
        'Give root password for maintenance',
      ],
    },
    {
      id: 'sysroot-mount-failed',
      kind: 'fatal',
      pattern: '\\[FAILED\\] Failed to mount (?<what>/sysroot|sysroot\\.mount)',
      message: 'systemd in the initramfs could not mount the root file system',
      source: 'systemd: "[FAILED] Failed to mount /sysroot."',
      examples: ['[FAILED] Failed to mount /sysroot.'],
    },

    // ---- fatal: storage
    {
      id: 'no-space-left',
      kind: 'fatal',
      pattern: 'No space left on device',
      message: 'a file system in the guest is full',
      hint: 'give the guest a bigger disk (--disk-size) or install fewer packages',
      source: 'strerror(ENOSPC), printed by the failing program (cp, tar, rpm, dpkg, anaconda)',
      examples: [
        "dd: error writing '/mnt/sysimage/fill': No space left on device",
        'Installation failed: [Errno 28] No space left on device',
        'tar: ./usr/lib/x86_64-linux-gnu/libLLVM-15.so.1: Cannot write: No space left on device',
      ],
    },

    // ---- fatal: IOMMU and device assignment
    {
      id: 'dmar-fault',
      kind: 'fatal',
      pattern: 'DMAR: DRHD: handling fault status reg',
      message:
        'the (virtual) Intel IOMMU blocked a DMA: an assigned device misbehaves or its mapping is wrong',
      hint: 'check the device, its driver and the IOMMU group; try the device on the host first',
      collect: {
        mode: 'line',
        pattern: 'DMAR: \\[(?:DMA (?:Read|Write)|INTR-REMAP)[^\\]]*\\] Request device',
        maxLines: 4,
        maxWaitMs: 300,
      },
      source: 'drivers/iommu/intel/dmar.c: pr_err("DRHD: handling fault status reg %x\\n", fault_status)',
      examples: ['[   14.412012] DMAR: DRHD: handling fault status reg 2'],
    },
    {
      id: 'dmar-dma-fault',
      kind: 'fatal',
      pattern: 'DMAR: \\[(?:DMA (?:Read|Write)|INTR-REMAP)[^\\]]*\\] Request device \\[(?<dev>[^\\]]+)\\]',
      message: 'the Intel IOMMU blocked a DMA from device {dev}',
      hint: 'check the device, its driver and the IOMMU group; try the device on the host first',
      source:
        'drivers/iommu/intel/dmar.c: dmar_fault_do_one(): "[%s NO_PASID] Request device [%02x:%02x.%d] fault addr 0x%llx [fault reason 0x%02x] %s"',
      examples: [
        '[   14.412345] DMAR: [DMA Read NO_PASID] Request device [0x00:0x03.0] fault addr 0x7f000 [fault reason 0x06] PTE Read access is not set',
        '[    9.876543] DMAR: [DMA Write] Request device [01:00.0] fault addr 7ffff000 [fault reason 05] PTE Write access is not set',
        '[    3.210000] DMAR: [INTR-REMAP] Request device [f0:1f.0] fault index 0x0 [fault reason 0x25] Blocked a compatibility format interrupt request',
      ],
    },
    {
      id: 'amd-vi-page-fault',
      kind: 'fatal',
      pattern: 'AMD-Vi: Event logged \\[IO_PAGE_FAULT',
      message: 'the AMD IOMMU blocked a DMA (IO_PAGE_FAULT)',
      hint: 'check the device, its driver and the IOMMU group; try the device on the host first',
      source:
        'drivers/iommu/amd/iommu.c: amd_iommu_report_page_fault(): "Event logged [IO_PAGE_FAULT domain=0x%04x address=0x%llx flags=0x%04x]"',
      examples: [
        '[   22.000001] vfio-pci 0000:01:00.0: AMD-Vi: Event logged [IO_PAGE_FAULT domain=0x0000 address=0xfffffffdf8000000 flags=0x0020]',
        'AMD-Vi: Event logged [IO_PAGE_FAULT device=01:00.0 domain=0x000d address=0x000000fdf9103300 flags=0x0020]',
      ],
    },
    {
      id: 'vfio-pci-failed',
      kind: 'fatal',
      pattern: '\\bvfio-pci\\b.*\\b[Ff]ailed\\b',
      message: 'vfio-pci failed in the guest',
      source: 'drivers/base/dd.c "probe of %s failed with error %d" for vfio-pci; drivers/vfio/pci',
      examples: ['[    5.312011] vfio-pci: probe of 0000:00:03.0 failed with error -22'],
    },

    // ---- warnings: worth a line, not a reason to stop
    {
      id: 'kernel-bug-or-oops',
      kind: 'warning',
      pattern: '\\bBUG: (?<what>.*)|\\bOops: (?<oops>.*)',
      message: 'the guest kernel reported a bug: {what}{oops}',
      source:
        'arch/x86/mm/fault.c "BUG: unable to handle page fault for address"; "BUG: kernel NULL pointer dereference"',
      examples: [
        '[   33.120000] BUG: kernel NULL pointer dereference, address: 0000000000000008',
        '[   33.120100] Oops: 0000 [#1] PREEMPT SMP NOPTI',
      ],
    },
    {
      id: 'systemd-unit-failed',
      kind: 'warning',
      pattern: '\\[FAILED\\] Failed to start (?<unit>.+?)\\.?$',
      message: 'a systemd unit failed: {unit}',
      source: 'systemd: "[FAILED] Failed to start %s."',
      examples: [
        '[FAILED] Failed to start systemd-networkd-wait-online.service - Wait for Network to be Configured.',
      ],
    },

    // ---- milestones
    {
      id: 'firmware-started',
      kind: 'milestone',
      pattern: 'SeaBIOS \\(version (?<version>[^)]+)\\)',
      message: 'firmware started (SeaBIOS {version})',
      source: 'SeaBIOS src/bootsplash.c / post.c: printf("SeaBIOS (version %s)\\n", VERSION)',
      examples: ['SeaBIOS (version 1.16.2-debian-1.16.2-1)'],
    },
    {
      id: 'kernel-booting',
      kind: 'milestone',
      pattern: '^(?:\\[\\s*\\d+\\.\\d+\\] )?Linux version (?<version>\\S+)',
      message: 'kernel {version} booting',
      source: 'init/version.c linux_banner',
      examples: [
        '[    0.000000] Linux version 6.1.0-50-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14+deb12u1) 12.2.0, GNU ld (GNU Binutils for Debian) 2.40) #1 SMP PREEMPT_DYNAMIC Debian 6.1.176-1 (2026-07-02)',
      ],
    },
    {
      id: 'init-started',
      kind: 'milestone',
      pattern: 'Run (?<init>\\S+) as init process',
      message: 'init started ({init})',
      source: 'init/main.c: pr_info("Run %s as init process\\n", init_filename)',
      examples: ['[    4.353539] Run /init as init process'],
    },
    {
      id: 'login-prompt',
      kind: 'milestone',
      pattern: '^\\S+ login:\\s*$',
      message: 'login prompt',
      source: 'agetty/getty: "<hostname> login: "',
      examples: ['tiny login: ', 'localhost login:'],
    },
    {
      id: 'confirmation-complete',
      kind: 'milestone',
      pattern: '^IG-CONFIRM end\\b',
      message: 'confirmation report complete',
      source: 'install-guest confirmation unit (CONTRACTS §1)',
      examples: ['IG-CONFIRM end pci=2 net=1'],
    },
    {
      id: 'kernel-power-down',
      kind: 'milestone',
      pattern: 'reboot: (?<what>Power down|Restarting system|System halted)',
      message: 'guest kernel: {what}',
      source:
        'kernel/reboot.c: pr_emerg("Power down\\n"), "Restarting system\\n", "System halted\\n" (pr_fmt "reboot: ")',
      examples: ['[   88.120931] reboot: Power down', '[   88.120931] reboot: Restarting system'],
    },
  ],
};
