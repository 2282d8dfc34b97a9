#!/bin/sh
# /init of the L1 host initramfs (busybox ash).
#
# ig.run=<dir> (a directory of the host, seen through the hostroot 9p share): mount the host's root
#   read-only as the lower layer of an overlay (tmpfs upper), bind /proc /sys /dev, tmpfs on /tmp
#   /run /var/tmp /var/lib/install-guest, the L1 kernel's modules on /lib/modules, then run
#   <dir>/run.sh chrooted, with stdout and stderr on the virtio-serial ports ig.stdout/ig.stderr and
#   the exit status written to ig.status; then power off.
# ig.probe (used as the initramfs of a nested L2 guest): load the NIC drivers, print one
#   `IG-PCI addr=… id=vvvv:dddd driver=…` line per PCI device and `IG-NET name=… carrier=…` per
#   link, then power off.
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec 0</dev/console 1>/dev/console 2>&1
KVER=$(uname -r)
CMDLINE=$(cat /proc/cmdline)
karg() {
  for w in $CMDLINE; do
    case "$w" in "$1="*) echo "${w#*=}"; return 0 ;; "$1") echo ""; return 0 ;; esac
  done
  return 1
}
load_list() {
  [ -f "/etc/modules.$1" ] || return 0
  while read -r m; do
    [ -n "$m" ] && insmod "/lib/modules/$KVER/$m" 2>/dev/null
  done <"/etc/modules.$1"
}
die() {
  echo "IG-L1 error: $*"
  sync
  poweroff -f
  sleep 60
}

if karg ig.probe >/dev/null; then
  # nested guests are ~40x slower than L1: load only the NIC drivers
  load_list nic
  for n in /sys/class/net/*; do ip link set "${n##*/}" up 2>/dev/null; done
  t=0
  while [ $t -lt 100 ]; do
    pending=0
    for n in /sys/class/net/*; do
      [ -e "$n/device" ] || continue
      [ "$(cat "$n/carrier" 2>/dev/null)" = 1 ] || pending=1
    done
    [ $pending = 0 ] && break
    sleep 0.2
    t=$((t + 1))
  done
  for d in /sys/bus/pci/devices/*; do
    drv=none
    [ -e "$d/driver" ] && drv=$(basename "$(readlink "$d/driver")")
    v=$(cat "$d/vendor")
    p=$(cat "$d/device")
    echo "IG-PCI addr=${d##*/} id=${v#0x}:${p#0x} class=$(cat "$d/class") driver=$drv"
  done
  for n in /sys/class/net/*; do
    [ "${n##*/}" = lo ] && continue
    irq=$(grep -c "${n##*/}" /proc/interrupts)
    echo "IG-NET name=${n##*/} mac=$(cat "$n/address") carrier=$(cat "$n/carrier" 2>/dev/null) operstate=$(cat "$n/operstate") irqlines=$irq"
  done
  echo "IG-PROBE done"
  sync
  poweroff -f
fi

# gather jitter entropy now, so getrandom() users (node, qemu, mke2fs) do not stall later
head -c 1 /dev/random >/dev/null 2>&1 &
load_list base

RUN=$(karg ig.run) || die "no ig.run= or ig.probe on the kernel command line"
ROOTTAG=$(karg ig.roottag) || ROOTTAG=hostroot
MODDIR=$(karg ig.moddir) || MODDIR=""

mkdir -p /lower /upper /newroot
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose "$ROOTTAG" /lower ||
  mount -t 9p -o trans=virtio,version=9p2000.L,ro "$ROOTTAG" /lower || die "cannot mount the host root (9p tag $ROOTTAG)"
[ -f "/lower$RUN/run.sh" ] || die "$RUN/run.sh not found on the host root"
mount -t tmpfs -o mode=0755 tmpfs /upper
mkdir -p /upper/u /upper/w
if ! mount -t overlay overlay -o lowerdir=/lower,upperdir=/upper/u,workdir=/upper/w /newroot 2>/dev/null; then
  echo "IG-L1 note: overlay over 9p refused; the root is read-only apart from the tmpfs mounts"
  mount --bind /lower /newroot
fi
R=/newroot
mount -t proc proc $R/proc
mount -t sysfs sysfs $R/sys
mount --bind /dev $R/dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts $R/dev/pts 2>/dev/null
mount -t tmpfs tmpfs $R/dev/shm 2>/dev/null
for d in /tmp /run /var/tmp; do
  mount -t tmpfs -o mode=1777 tmpfs "$R$d" 2>/dev/null
done
# a checkout under /tmp, /run or /var/tmp (a CI clone, say) would be hidden by those tmpfs mounts:
# bind it back from the host root
KEEP=$(karg ig.keep) || KEEP=""
case "$KEEP" in
  /tmp/* | /run/* | /var/tmp/*) mkdir -p "$R$KEEP" && mount --bind "/lower$KEEP" "$R$KEEP" ;;
esac
mkdir -p $R/var/lib/install-guest 2>/dev/null
mount -t tmpfs -o mode=0755 tmpfs $R/var/lib/install-guest 2>/dev/null
mkdir -p $R/root 2>/dev/null
if [ -n "$MODDIR" ] && [ -d "$R$MODDIR" ]; then
  mkdir -p $R/lib/modules 2>/dev/null
  mount -t tmpfs tmpfs $R/lib/modules 2>/dev/null
  mkdir -p "$R/lib/modules/$KVER"
  mount --bind "$R$MODDIR" "$R/lib/modules/$KVER"
fi
# module tools: the host may have no kmod (and its modules.dep.bin would not exist anyway);
# busybox's work against the bound modules.dep. busybox modprobe ignores softdeps: the one that
# matters here (vfio → vfio_iommu_type1) is added by the wrapper. The kernel's own request_module
# goes through the same wrapper in the chroot.
mkdir -p $R/usr/local/sbin 2>/dev/null
if cp /bin/busybox $R/usr/local/sbin/busybox.ig 2>/dev/null; then
  for a in insmod rmmod lsmod depmod modinfo; do
    chroot $R /bin/sh -c "command -v $a" >/dev/null 2>&1 || ln -s busybox.ig "$R/usr/local/sbin/$a"
  done
  cat >$R/usr/local/sbin/modprobe <<'EOS'
#!/bin/sh
# modprobe in L1: busybox modprobe over the L1 kernel's modules, plus the vfio softdep
/usr/local/sbin/busybox.ig modprobe "$@" || exit $?
remove=0
for a in "$@"; do
  case "$a" in
    -r | --remove) remove=1 ;;
    vfio | vfio-pci | vfio_pci) [ $remove = 0 ] && /usr/local/sbin/busybox.ig modprobe vfio_iommu_type1 ;;
  esac
done
exit 0
EOS
  chmod 755 $R/usr/local/sbin/modprobe
  printf '#!/bin/sh\nexec chroot /newroot /usr/local/sbin/modprobe "$@"\n' >/sbin/ig-modprobe
  chmod 755 /sbin/ig-modprobe
  echo /sbin/ig-modprobe >/proc/sys/kernel/modprobe
fi
OUTTAG=$(karg ig.outtag) || OUTTAG=""
OUTDIR=$(karg ig.outdir) || OUTDIR=""
if [ -n "$OUTTAG" ] && [ -n "$OUTDIR" ]; then
  mkdir -p "$R$OUTDIR" 2>/dev/null
  mount -t 9p -o trans=virtio,version=9p2000.L "$OUTTAG" "$R$OUTDIR" || echo "IG-L1 note: cannot mount $OUTTAG at $OUTDIR"
fi
for m in $(karg ig.preload | tr ',' ' '); do
  chroot $R /usr/local/sbin/modprobe "$m" || echo "IG-L1 note: modprobe $m failed"
done

OUT=/dev/null
ERR=/dev/null
STATUS=/dev/console
for p in /sys/class/virtio-ports/*; do
  [ -e "$p/name" ] || continue
  case "$(cat "$p/name")" in
    ig.stdout) OUT=/dev/${p##*/} ;;
    ig.stderr) ERR=/dev/${p##*/} ;;
    ig.status) STATUS=/dev/${p##*/} ;;
  esac
done
echo "IG-L1 running $RUN/run.sh"
chroot $R /bin/sh "$RUN/run.sh" <$R/dev/null >"$OUT" 2>"$ERR"
rc=$?
echo "$rc" >"$STATUS"
echo "IG-L1 exit status $rc"
sync
poweroff -f
sleep 60
