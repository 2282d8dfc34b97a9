#!/bin/sh
# /init of the installed tiny system's initramfs: load the disk and file-system drivers, find
# root=LABEL=…, mount it and switch_root to its /sbin/init.
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec 0</dev/console 1>/dev/console 2>&1
KVER=$(uname -r)
while read -r m; do
  [ -n "$m" ] && insmod "/lib/modules/$KVER/$m" 2>/dev/null
done </etc/modules.base

ROOT=""
FSTYPE=ext4
for w in $(cat /proc/cmdline); do
  case "$w" in
    root=*) ROOT=${w#root=} ;;
    rootfstype=*) FSTYPE=${w#rootfstype=} ;;
  esac
done
dev=""
t=0
while [ $t -lt 50 ]; do
  case "$ROOT" in
    LABEL=* | UUID=*) dev=$(findfs "$ROOT" 2>/dev/null) ;;
    *) [ -b "$ROOT" ] && dev=$ROOT ;;
  esac
  [ -n "$dev" ] && break
  sleep 0.1
  t=$((t + 1))
done
mkdir -p /newroot
if [ -z "$dev" ] || ! mount -t "$FSTYPE" "$dev" /newroot; then
  echo "tiny initramfs: cannot mount root ${ROOT:-?} (device ${dev:-not found})"
  echo c >/proc/sysrq-trigger
fi
umount /proc /sys
mount --move /dev /newroot/dev
exec switch_root /newroot /sbin/init
