#!/bin/sh
# install-guest-confirm: tells the host which PCI devices and network interfaces this guest sees.
# Installed by install-guest as /usr/local/sbin/install-guest-confirm and run at every boot.
# Prints machine-readable lines (one per device, then a final marker), reading /sys only:
#   IG-CONFIRM begin boot=<boot id>
#   IG-CONFIRM pci addr=0000:00:03.0 id=8086:10d3 subsys=8086:0000 class=0x020000 driver=e1000e
#   IG-CONFIRM net name=eth0 mac=52:54:00:12:34:56 state=up pci=0000:00:03.0
#   IG-CONFIRM tpm name=tpm0 version=2
#   IG-CONFIRM end pci=1 net=1 tpm=1
# Without arguments the lines go to stdout; with --console they go to the serial console
# (/dev/ttyS0) and to /dev/console, each written once. POSIX sh (busybox ash compatible).
# IG_SYSFS_ROOT replaces /sys (used by install-guest's own tests with a fake tree).

SYS=${IG_SYSFS_ROOT:-/sys}
LF='
'

# rd FILE DEFAULT: sets v to the first line of FILE with blanks removed (sysfs values carry
# none), or to DEFAULT when the file is missing or empty; no subshell per value
rd() {
  v=
  if [ -r "$1" ]; then
    IFS= read -r v <"$1" || true
  fi
  case $v in
    *[[:space:]]*) v=$(printf '%s' "$v" | tr -d ' \t\r') ;;
  esac
  [ -n "$v" ] || v=$2
}

# hex4 VALUE: sets h to a 4-digit id without 0x, lowercase
hex4() {
  h=${1#0x}
  case $h in
    *[A-F]*) h=$(printf '%s' "$h" | tr 'ABCDEF' 'abcdef') ;;
  esac
}

# pci_of PATH: sets pci to the last PCI-address component of PATH resolved (so a virtio0 or usb
# interface maps to its PCI parent), or none
pci_of() {
  rest=$(cd -P "$1" 2>/dev/null && pwd -P) || rest=
  pci=none
  while [ -n "$rest" ]; do
    comp=${rest##*/}
    case $comp in
      [0-9a-f][0-9a-f][0-9a-f][0-9a-f]:[0-9a-f][0-9a-f]:[0-9a-f][0-9a-f].[0-7] | \
        [0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]:[0-9a-f][0-9a-f]:[0-9a-f][0-9a-f].[0-7])
        pci=$comp
        return 0
        ;;
    esac
    case $rest in
      */*) rest=${rest%/*} ;;
      *) rest= ;;
    esac
  done
}

rd /proc/sys/kernel/random/boot_id ""
boot=$v
if [ -z "$boot" ]; then
  rd /proc/uptime unknown
  boot=${v%%.*}
fi

out="IG-CONFIRM begin boot=$boot$LF"
npci=0
for d in "$SYS"/bus/pci/devices/*; do
  [ -e "$d" ] || continue
  addr=${d##*/}
  rd "$d/vendor" 0xffff
  hex4 "$v"
  id=$h
  rd "$d/device" 0xffff
  hex4 "$v"
  id=$id:$h
  rd "$d/subsystem_vendor" 0x0000
  hex4 "$v"
  subsys=$h
  rd "$d/subsystem_device" 0x0000
  hex4 "$v"
  subsys=$subsys:$h
  rd "$d/class" 0x000000
  class=$v
  driver=none
  if [ -e "$d/driver" ]; then
    drv=$(cd -P "$d/driver" 2>/dev/null && pwd -P) || drv=
    [ -n "$drv" ] && driver=${drv##*/}
  fi
  out="${out}IG-CONFIRM pci addr=$addr id=$id subsys=$subsys class=$class driver=$driver$LF"
  npci=$((npci + 1))
done

nnet=0
for n in "$SYS"/class/net/*; do
  [ -e "$n" ] || continue
  name=${n##*/}
  rd "$n/address" none
  mac=$v
  rd "$n/operstate" unknown
  state=$v
  pci=none
  [ -e "$n/device" ] && pci_of "$n/device"
  out="${out}IG-CONFIRM net name=$name mac=$mac state=$state pci=$pci$LF"
  nnet=$((nnet + 1))
done
ntpm=0
for t in "$SYS"/class/tpm/*; do
  [ -e "$t" ] || continue
  rd "$t/tpm_version_major" unknown
  out="${out}IG-CONFIRM tpm name=${t##*/} version=$v$LF"
  ntpm=$((ntpm + 1))
done
out="${out}IG-CONFIRM end pci=$npci net=$nnet tpm=$ntpm$LF"

if [ "${1:-}" = "--console" ]; then
  # kernel messages printed meanwhile (a NIC's link coming up) would split these lines on the
  # console: quiet the console log level while writing, then put it back
  printk=
  if [ -w /proc/sys/kernel/printk ]; then
    IFS= read -r printk </proc/sys/kernel/printk || printk=
    [ -n "$printk" ] && echo 1 >/proc/sys/kernel/printk 2>/dev/null
  fi
  # /dev/console is attached to the last console in .../active; skip ttyS0 when it is that one
  active=
  [ -r "$SYS/class/tty/console/active" ] && { IFS= read -r active <"$SYS/class/tty/console/active" || true; }
  last=${active##* }
  if [ "$last" != "ttyS0" ] && [ -c /dev/ttyS0 ]; then
    printf '%s' "$out" >/dev/ttyS0 2>/dev/null || true
  fi
  if [ -c /dev/console ]; then
    printf '%s' "$out" >/dev/console 2>/dev/null || true
  fi
  # the first field (console level) only; the other three are unchanged by the write above
  [ -n "$printk" ] && echo "${printk%%[[:space:]]*}" >/proc/sys/kernel/printk 2>/dev/null
else
  printf '%s' "$out"
fi
exit 0
