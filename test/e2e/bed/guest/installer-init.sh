#!/bin/sh
# The tiny installer: /init of the installer initramfs (busybox ash).
# Reads a kickstart subset (CONTRACTS.md §2), partitions the first virtio disk, makes ext4, copies
# the tiny system, installs extlinux + the syslinux MBR (BIOS) or, booted through UEFI, a GPT with an
# EFI System Partition holding systemd-boot as EFI/BOOT/BOOTX64.EFI, runs %post chrooted, prints anaconda-style
# progress and acts on shutdown/poweroff/reboot/halt. `ig.fail=traceback|panic|diskfull|hang` on the
# kernel command line (or a `#ig.fail=X` line in the kickstart) makes it fail like a real installer.
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
umask 022
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /tmp /run /mnt/sysimage /mnt/ks
exec 0</dev/console 1>/dev/console 2>&1

CMDLINE=$(cat /proc/cmdline)
KVER=$(uname -r)
LD=/tiny/lib/ld-linux-x86-64.so.2
TINYLIB=/tiny/lib
SYSROOT=/mnt/sysimage

say() { echo "$*"; }

# value of a kernel argument `name=value` (first match); fails when absent
karg() {
  for w in $CMDLINE; do
    case "$w" in "$1="*) echo "${w#*=}"; return 0 ;; esac
  done
  return 1
}

forever() {
  while :; do sleep 3600; done
}

load_list() {
  [ -f "/etc/modules.$1" ] || return 0
  while read -r m; do
    [ -n "$m" ] && insmod "/lib/modules/$KVER/$m" 2>/dev/null
  done <"/etc/modules.$1"
}

fail_install() {
  # like anaconda's unrecoverable error: one line, then wait (anaconda waits at its error dialog)
  say "Installation failed: $*"
  forever
}

# a blocking read makes the kernel gather jitter entropy now: mke2fs's UUIDs would otherwise wait
# (util-linux retries getrandom for ~1 s per UUID while the CRNG is not ready under TCG)
head -c 1 /dev/random >/dev/null 2>&1 &
say "Starting installer, one moment..."
load_list base
say "anaconda 40.22.3 for Tiny Linux 1 (pre-release) started."

# ---------------------------------------------------------------------------------------------
# network (for inst.ks=http://… and `network --bootproto=dhcp`)
NET_UP=""
net_dhcp() {
  [ -n "$NET_UP" ] && return 0
  for n in /sys/class/net/*; do
    i=${n##*/}
    [ "$i" = lo ] && continue
    ip link set "$i" up 2>/dev/null
  done
  ip link set lo up 2>/dev/null
  t=0
  while [ $t -lt 10 ]; do
    for n in /sys/class/net/*; do
      i=${n##*/}
      [ "$i" = lo ] && continue
      if [ "$(cat "$n/carrier" 2>/dev/null)" = 1 ]; then
        if udhcpc -i "$i" -n -q -t 4 -T 2 -s /etc/udhcpc.script >/tmp/udhcpc.log 2>&1; then
          NET_UP=$i
          return 0
        fi
      fi
    done
    sleep 1
    t=$((t + 1))
  done
  return 1
}

# ---------------------------------------------------------------------------------------------
# find the kickstart
KS=""
find_label() {
  # prints the device holding the file-system label $1 (waits for slow cdrom probing)
  t=0
  while [ $t -lt 20 ]; do
    d=$(findfs "LABEL=$1" 2>/dev/null) && [ -n "$d" ] && { echo "$d"; return 0; }
    sleep 0.3
    t=$((t + 1))
  done
  return 1
}

ks_from_dev() {
  # $1 device, $2 path on it
  mount -r "$1" /mnt/ks 2>/dev/null || mount -r -t iso9660 "$1" /mnt/ks 2>/dev/null || mount -r -t vfat "$1" /mnt/ks 2>/dev/null || return 1
  if [ -f "/mnt/ks$2" ]; then
    cp "/mnt/ks$2" /tmp/ks.cfg
    umount /mnt/ks
    return 0
  fi
  umount /mnt/ks
  return 1
}

KSARG=$(karg inst.ks) || KSARG=$(karg ks) || KSARG=""
case "$KSARG" in
  file:*)
    p=${KSARG#file:}
    [ -f "$p" ] && cp "$p" /tmp/ks.cfg && KS=/tmp/ks.cfg
    ;;
  hd:*)
    load_list cdrom
    spec=${KSARG#hd:}
    case "$spec" in
      LABEL=*) lbl=${spec#LABEL=}; lbl=${lbl%%:*}; p=${spec#LABEL=$lbl}; p=${p#:}; dev=$(find_label "$lbl") ;;
      UUID=*) u=${spec#UUID=}; u=${u%%:*}; p=${spec#UUID=$u}; p=${p#:}; dev=$(findfs "UUID=$u" 2>/dev/null) ;;
      *) d=${spec%%:*}; p=${spec#"$d"}; p=${p#:}; dev=/dev/${d#/dev/} ;;
    esac
    [ -n "$p" ] || p=/ks.cfg
    [ -n "$dev" ] && ks_from_dev "$dev" "$p" && KS=/tmp/ks.cfg
    ;;
  http://* | https://* | ftp://*)
    if net_dhcp; then
      t=0
      while [ $t -lt 3 ] && [ -z "$KS" ]; do
        wget -q -O /tmp/ks.cfg "$KSARG" 2>/tmp/wget.log && KS=/tmp/ks.cfg
        t=$((t + 1))
      done
      [ -n "$KS" ] || say "kickstart: fetching $KSARG failed: $(tail -n 1 /tmp/wget.log)"
    else
      say "kickstart: no network link got a DHCP lease: $(tail -n 1 /tmp/udhcpc.log 2>/dev/null)"
    fi
    ;;
  "")
    # anaconda looks for a volume labelled OEMDRV by itself
    load_list cdrom
    dev=$(find_label OEMDRV) && ks_from_dev "$dev" /ks.cfg && KS=/tmp/ks.cfg
    ;;
esac

if [ -z "$KS" ]; then
  if [ -n "$KSARG" ]; then
    say "Starting automated install."
    fail_install "the kickstart file $KSARG could not be read"
  fi
  say "Not asking for VNC because we don't have a network"
  say "Installation cannot start: no kickstart file found and interactive mode is not supported"
  forever
fi

# ---------------------------------------------------------------------------------------------
# parse the kickstart subset
DISK=""
ONDISK=""
FSTYPE=ext4
ACTION=""
ROOTPW=""
ROOTPW_CRYPTED=""
HOSTNAME=""
FAIL=$(karg ig.fail) || FAIL=""
NPOST=0
NPRE=0
NPREINST=0
: >/tmp/network.conf

# value of --name=VALUE or --name VALUE among the remaining words
optval() {
  name=$1
  shift
  while [ $# -gt 0 ]; do
    case "$1" in
      "--$name="*) echo "${1#*=}"; return 0 ;;
      "--$name") [ $# -gt 1 ] && { echo "$2"; return 0; } ;;
    esac
    shift
  done
  return 1
}
hasflag() {
  name=$1
  shift
  for w in "$@"; do [ "$w" = "--$name" ] && return 0; done
  return 1
}

section=""
secfile=""
while IFS= read -r line || [ -n "$line" ]; do
  line=$(printf '%s' "$line" | tr -d '\r')
  if [ -n "$section" ]; then
    case "$line" in
      %end*) section=""; continue ;;
    esac
    [ -n "$secfile" ] && printf '%s\n' "$line" >>"$secfile"
    continue
  fi
  case "$line" in
    "#ig.fail="* | "# ig.fail="*) [ -z "$FAIL" ] && FAIL=${line#*=}; continue ;;
    "#"* | "") continue ;;
  esac
  # split into words without pathname expansion (a password may hold * or ?)
  set -f
  # shellcheck disable=SC2086
  set -- $line
  set +f
  cmd=$1
  shift
  case "$cmd" in
    %post)
      NPOST=$((NPOST + 1))
      section=post
      secfile=/tmp/post-$NPOST.sh
      : >"$secfile"
      hasflag nochroot "$@" && : >"/tmp/post-$NPOST.nochroot"
      hasflag erroronfail "$@" && : >"/tmp/post-$NPOST.erroronfail"
      ;;
    %pre)
      NPRE=$((NPRE + 1))
      section=pre
      secfile=/tmp/pre-$NPRE.sh
      : >"$secfile"
      ;;
    %pre-install)
      NPREINST=$((NPREINST + 1))
      section=preinstall
      secfile=/tmp/preinstall-$NPREINST.sh
      : >"$secfile"
      ;;
    %*)
      # %packages, %addon, %anaconda, %onerror …: accepted, not acted upon
      section=other
      secfile=""
      ;;
    ignoredisk)
      v=$(optval only-use "$@") && DISK=${v%%,*}
      ;;
    clearpart | zerombr) : ;;
    autopart)
      v=$(optval fstype "$@") && FSTYPE=$v
      ;;
    part | partition)
      if [ "$1" = / ]; then
        v=$(optval fstype "$@") && FSTYPE=$v
        v=$(optval ondisk "$@") && ONDISK=$v
      else
        say "ignoring kickstart partition: $1"
      fi
      ;;
    network)
      dev=$(optval device "$@") || dev=""
      bp=$(optval bootproto "$@") || bp=dhcp
      ip=$(optval ip "$@") || ip=""
      nm=$(optval netmask "$@") || nm=""
      gw=$(optval gateway "$@") || gw=""
      hn=$(optval hostname "$@") && HOSTNAME=$hn
      echo "device=$dev bootproto=$bp ip=$ip netmask=$nm gateway=$gw" >>/tmp/network.conf
      ;;
    rootpw)
      ROOTPW_CRYPTED=""
      for w in "$@"; do
        case "$w" in
          --iscrypted) ROOTPW_CRYPTED=1 ;;
          --plaintext | --lock | --allow-ssh) : ;;
          --*) : ;;
          *) ROOTPW=$w ;;
        esac
      done
      ;;
    shutdown | poweroff | reboot | halt)
      ACTION=$cmd
      ;;
    *)
      say "ignoring kickstart command: $cmd"
      ;;
  esac
done <"$KS"
set --

say "Starting automated install."

for f in /tmp/pre-*.sh; do
  [ -f "$f" ] && sh "$f" >"/tmp/${f##*/}.log" 2>&1
done

say "Setting up the installation environment"

# ---------------------------------------------------------------------------------------------
# storage
say "Configuring storage"
[ -n "$ONDISK" ] && [ -z "$DISK" ] && DISK=$ONDISK
if [ -z "$DISK" ]; then
  for b in /sys/block/vd*; do
    [ -e "$b" ] && { DISK=${b##*/}; break; }
  done
fi
DISK=${DISK#/dev/}
if [ -z "$DISK" ] || [ ! -b "/dev/$DISK" ]; then
  fail_install "no usable disk found (wanted ${DISK:-the first virtio disk})"
fi
case "$FSTYPE" in
  ext2 | ext3 | ext4) : ;;
  *) say "ignoring file system type $FSTYPE: using ext4"; FSTYPE=ext4 ;;
esac
case "$DISK" in
  *[0-9]) PARTPFX=/dev/${DISK}p ;;
  *) PARTPFX=/dev/${DISK} ;;
esac
# booted through UEFI (the kernel's EFI stub saw the firmware): a GPT, an EFI System Partition and an
# EFI boot loader, as anaconda does; else an msdos label and extlinux
EFI=""
[ -d /sys/firmware/efi ] && EFI=1
SECTORS=$(cat "/sys/block/$DISK/size")
dd if=/dev/zero of="/dev/$DISK" bs=1k count=1024 conv=notrunc 2>/dev/null

if [ -n "$EFI" ]; then
  ESP=${PARTPFX}1
  PART=${PARTPFX}2
  # 64 MiB ESP (the kernel and initramfs live on it: systemd-boot reads only the ESP) + the root
  [ "$SECTORS" -gt $((256 * 2048)) ] || fail_install "/dev/$DISK is too small for UEFI ($SECTORS sectors)"
  say "Creating disklabel on /dev/$DISK (gpt)"
  # sfdisk re-reads the table itself; the type aliases U/L are the ESP and Linux filesystem GUIDs
  if ! printf 'label: gpt\nstart=2048, size=64MiB, type=U, name="EFI System Partition"\ntype=L, name="tiny-root"\n' |
    "$LD" --library-path "$TINYLIB" /tiny/bin/sfdisk -q "/dev/$DISK" >/tmp/sfdisk.log 2>&1; then
    cat /tmp/sfdisk.log
    fail_install "sfdisk could not write a GPT on /dev/$DISK"
  fi
else
  PART=${PARTPFX}1
  say "Creating disklabel on /dev/$DISK"
  # an msdos label with one bootable Linux partition from 1 MiB to the end, written directly
  # (busybox fdisk sleeps a second after writing); the kernel re-reads it through BLKRRPART
  le32() {
    printf "\\$(printf %03o $(($1 & 255)))\\$(printf %03o $((($1 >> 8) & 255)))\\$(printf %03o $((($1 >> 16) & 255)))\\$(printf %03o $((($1 >> 24) & 255)))"
  }
  [ "$SECTORS" -gt 4096 ] || fail_install "/dev/$DISK is too small ($SECTORS sectors)"
  {
    le32 $(( $(date +%s) ^ $$ ))
    printf '\000\000\200\376\377\377\203\376\377\377'
    le32 2048
    le32 $((SECTORS - 2048))
  } >/tmp/mbr-table
  dd if=/tmp/mbr-table of="/dev/$DISK" bs=1 seek=440 conv=notrunc 2>/dev/null
  printf '\125\252' | dd of="/dev/$DISK" bs=1 seek=510 conv=notrunc 2>/dev/null
  blockdev --rereadpt "/dev/$DISK" 2>/dev/null || partprobe "/dev/$DISK" 2>/dev/null
fi
t=0
while { [ ! -b "$PART" ] || { [ -n "$EFI" ] && [ ! -b "$ESP" ]; }; } && [ $t -lt 30 ]; do
  sleep 0.2
  t=$((t + 1))
done
[ -b "$PART" ] || fail_install "partition $PART did not appear after partitioning /dev/$DISK"
if [ -n "$EFI" ]; then
  [ -b "$ESP" ] || fail_install "partition $ESP did not appear after partitioning /dev/$DISK"
  say "Creating efi on $ESP"
  if ! "$LD" --library-path "$TINYLIB" /tiny/bin/mkfs.fat -n ESP "$ESP" >/tmp/mkfs.fat.log 2>&1; then
    cat /tmp/mkfs.fat.log
    fail_install "mkfs.fat failed on $ESP"
  fi
fi

say "Creating $FSTYPE on $PART"
# ext4 without 64bit/metadata_csum_seed: extlinux (syslinux 6.04) reads such file systems
if ! "$LD" --library-path "$TINYLIB" /tiny/bin/mke2fs -q -F -t "$FSTYPE" -O ^64bit -E lazy_itable_init=1,lazy_journal_init=1,nodiscard -L tiny-root "$PART" >/tmp/mke2fs.log 2>&1; then
  cat /tmp/mke2fs.log
  fail_install "mke2fs failed on $PART"
fi
mount -t "$FSTYPE" "$PART" "$SYSROOT" || fail_install "cannot mount $PART"

say "Running pre-installation scripts"
for f in /tmp/preinstall-*.sh; do
  [ -f "$f" ] && sh "$f" >"/tmp/${f##*/}.log" 2>&1
done

# ---------------------------------------------------------------------------------------------
# payload
traceback() {
  cat <<'EOF'
Traceback (most recent call last):
  File "/usr/lib64/python3.12/site-packages/pyanaconda/core/threads.py", line 280, in run
    threading.Thread.run(self)
  File "/usr/lib64/python3.12/threading.py", line 1010, in run
    self._target(*self._args, **self._kwargs)
  File "/usr/lib64/python3.12/site-packages/pyanaconda/modules/common/task/task.py", line 94, in _thread_run_callback
    self._task_run_callback()
  File "/usr/lib64/python3.12/site-packages/pyanaconda/modules/common/task/task.py", line 107, in _task_run_callback
    self._set_result(self.run())
                     ^^^^^^^^^^
  File "/usr/lib64/python3.12/site-packages/pyanaconda/modules/payloads/payload/dnf/installation.py", line 356, in run
    raise PayloadInstallationError("Failed to install package tiny-base")
pyanaconda.modules.common.errors.installation.PayloadInstallationError: Failed to install package tiny-base
EOF
}

NPKG=$(grep -c . /tiny/packages.list)
i=0
while read -r nevra dir; do
  i=$((i + 1))
  say "Installing the software: Installing $nevra ($i/$NPKG)"
  (cd "/tiny/pkgs/$dir" && cp -a . "$SYSROOT/") || fail_install "copying $nevra failed"
  if [ $i -eq 2 ]; then
    case "$FAIL" in
      traceback) traceback; forever ;;
      panic) sync; echo c >/proc/sysrq-trigger; forever ;;
      hang) forever ;;
    esac
  fi
  if [ $i -eq 3 ] && [ "$FAIL" = diskfull ]; then
    mkdir -p "$SYSROOT/var/cache/dnf"
    if ! dd if=/dev/zero of="$SYSROOT/var/cache/dnf/tiny-payload.rpm" bs=1M; then
      say "Installation failed: [Errno 28] No space left on device"
      forever
    fi
  fi
done </tiny/packages.list

# ---------------------------------------------------------------------------------------------
say "Performing post-installation setup tasks"
[ -n "$HOSTNAME" ] && echo "$HOSTNAME" >"$SYSROOT/etc/hostname"
cp /tmp/network.conf "$SYSROOT/etc/tiny-network.conf"
if [ -n "$ROOTPW" ]; then
  if [ -n "$ROOTPW_CRYPTED" ]; then
    hash=$ROOTPW
  else
    hash=$(mkpasswd -m sha512 "$ROOTPW")
  fi
  sed -i "s|^root:[^:]*:|root:$hash:|" "$SYSROOT/etc/shadow"
  hash=""
fi
ROOTPW=""
echo "LABEL=tiny-root / $FSTYPE defaults 1 1" >"$SYSROOT/etc/fstab"

say "Installing boot loader"
KARGS="root=LABEL=tiny-root rootfstype=$FSTYPE console=tty0 console=ttyS0,115200 @FASTARGS@ panic=-1"
if [ -n "$EFI" ]; then
  # systemd-boot at the removable-media path (found without a boot entry in the vars store), one
  # loader entry, no menu; the kernel and initramfs beside it on the ESP
  load_list efi
  mkdir -p "$SYSROOT/boot/efi"
  mount -t vfat "$ESP" "$SYSROOT/boot/efi" || fail_install "cannot mount the EFI System Partition $ESP"
  E=$SYSROOT/boot/efi
  mkdir -p "$E/EFI/BOOT" "$E/loader/entries" &&
    cp /tiny/share/systemd-bootx64.efi "$E/EFI/BOOT/BOOTX64.EFI" &&
    cp "$SYSROOT/boot/vmlinuz-$KVER" "$E/vmlinuz-$KVER" &&
    cp "$SYSROOT/boot/initramfs-$KVER.img" "$E/initramfs-$KVER.img" ||
    fail_install "copying the boot loader to $ESP failed"
  printf 'default tiny.conf\ntimeout 0\n' >"$E/loader/loader.conf"
  cat >"$E/loader/entries/tiny.conf" <<EOF
title Tiny Linux 1
linux /vmlinuz-$KVER
initrd /initramfs-$KVER.img
options $KARGS
EOF
  echo "LABEL=ESP /boot/efi vfat umask=0077,noauto 0 2" >>"$SYSROOT/etc/fstab"
  sync
  umount "$SYSROOT/boot/efi" || fail_install "cannot unmount $ESP"
else
  mkdir -p "$SYSROOT/boot/extlinux"
  cat >"$SYSROOT/boot/extlinux/extlinux.conf" <<EOF
SERIAL 0 115200
DEFAULT tiny
PROMPT 0
TIMEOUT 0
LABEL tiny
  LINUX /boot/vmlinuz-$KVER
  INITRD /boot/initramfs-$KVER.img
  APPEND $KARGS
EOF
  if ! "$LD" --library-path "$TINYLIB" /tiny/bin/extlinux --install "$SYSROOT/boot/extlinux" >/tmp/extlinux.log 2>&1; then
    cat /tmp/extlinux.log
    fail_install "extlinux --install failed"
  fi
  dd if=/tiny/share/mbr.bin of="/dev/$DISK" bs=440 count=1 conv=notrunc 2>/dev/null
fi

say "Running post-installation scripts"
mkdir -p "$SYSROOT/proc" "$SYSROOT/sys" "$SYSROOT/dev" "$SYSROOT/tmp" "$SYSROOT/var/log/anaconda"
mount -t proc proc "$SYSROOT/proc"
mount -t sysfs sysfs "$SYSROOT/sys"
mount --bind /dev "$SYSROOT/dev"
n=0
while [ $n -lt $NPOST ]; do
  n=$((n + 1))
  f=/tmp/post-$n.sh
  log=$SYSROOT/var/log/anaconda/ks-script-$n.log
  if [ -f "/tmp/post-$n.nochroot" ]; then
    ANA_INSTALL_PATH=$SYSROOT sh "$f" >"$log" 2>&1
  else
    cp "$f" "$SYSROOT/tmp/ks-script-$n.sh"
    chroot "$SYSROOT" /bin/sh "/tmp/ks-script-$n.sh" >"$log" 2>&1
  fi
  rc=$?
  rm -f "$SYSROOT/tmp/ks-script-$n.sh"
  if [ $rc -ne 0 ] && [ -f "/tmp/post-$n.erroronfail" ]; then
    fail_install "%post script $n failed with exit status $rc"
  fi
done
umount "$SYSROOT/dev" "$SYSROOT/sys" "$SYSROOT/proc"

say "Configuring installed system"
cp /tmp/ks.cfg "$SYSROOT/root/anaconda-ks.cfg" 2>/dev/null
sed -i 's/^\(rootpw\).*/\1 --iscrypted <redacted>/' "$SYSROOT/root/anaconda-ks.cfg" 2>/dev/null
sync
umount "$SYSROOT"
sync

say "Installation complete"
case "$ACTION" in
  poweroff | shutdown) poweroff -f ;;
  reboot) reboot -f ;;
  halt) halt -f ;;
  *)
    say "Installation complete. Press ENTER to quit:"
    read -r _ </dev/console
    reboot -f
    ;;
esac
forever
