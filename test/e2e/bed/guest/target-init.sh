#!/bin/sh
# /sbin/init of the installed tiny system: mount the API file systems, load the NIC drivers that
# are present, bring the links up (static addresses and DHCP from /etc/tiny-network.conf), run
# /etc/rc.local (where the confirmation unit hooks in) and power off when it has finished.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec 0</dev/console 1>/dev/console 2>&1
mount -o remount,rw /
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
echo "Tiny Linux 1 (kernel $(uname -r)) starting"
[ -s /etc/hostname ] && hostname -F /etc/hostname
modprobe -a e1000e virtio_net 2>/dev/null
ip link set lo up
for n in /sys/class/net/*; do
  i=${n##*/}
  [ "$i" = lo ] && continue
  ip link set "$i" up 2>/dev/null
done
if [ -s /etc/tiny-network.conf ]; then
  while read -r line; do
    dev="" bootproto="" ip="" netmask="" gateway=""
    for kv in $line; do
      case "$kv" in
        device=*) dev=${kv#device=} ;;
        bootproto=*) bootproto=${kv#bootproto=} ;;
        ip=*) ip=${kv#ip=} ;;
        netmask=*) netmask=${kv#netmask=} ;;
        gateway=*) gateway=${kv#gateway=} ;;
      esac
    done
    # --device may be a MAC address or an interface name
    ifc=""
    for n in /sys/class/net/*; do
      i=${n##*/}
      # no --device: the first link with a device (anaconda takes the first with a link)
      if [ -z "$dev" ] && [ -z "$ifc" ] && [ "$i" != lo ] && [ -e "$n/device" ]; then ifc=$i; fi
      if [ "$i" = "$dev" ] || [ "$(cat "$n/address" 2>/dev/null)" = "$(echo "$dev" | tr 'A-F' 'a-f')" ]; then ifc=$i; fi
    done
    [ -n "$ifc" ] || continue
    if [ "$bootproto" = static ] && [ -n "$ip" ]; then
      ip addr add "$ip/${netmask:-255.255.255.0}" dev "$ifc"
      [ -n "$gateway" ] && ip route add default via "$gateway" dev "$ifc"
    elif [ "$bootproto" = dhcp ]; then
      udhcpc -i "$ifc" -b -q -t 3 -T 1 -s /etc/udhcpc.script >/run/udhcpc-$ifc.log 2>&1 &
    fi
  done </etc/tiny-network.conf
fi
# wait (bounded) for the links that have a driver to report carrier
t=0
while [ $t -lt 30 ]; do
  pending=0
  for n in /sys/class/net/*; do
    [ "${n##*/}" = lo ] && continue
    [ -e "$n/device" ] || continue
    [ "$(cat "$n/carrier" 2>/dev/null)" = 1 ] || pending=1
  done
  [ $pending = 0 ] && break
  sleep 0.2
  t=$((t + 1))
done
if [ -x /etc/rc.local ]; then
  /etc/rc.local
  echo "Tiny Linux 1: /etc/rc.local finished with status $?"
fi
echo "Tiny Linux 1: powering off"
sync
mount -o remount,ro / 2>/dev/null
poweroff -f
