#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Real firmware boots from bootwaved alone. In a network namespace this test
# creates, two QEMU machines network-boot with nothing but bootwaved on the
# wire (no dnsmasq, no other HTTP or TFTP server):
#   - SeaBIOS with the ipxe-qemu ROM: DHCP (iPXE) -> HTTP /boot.ipxe
#   - OVMF (UEFI): DHCP (arch 7) -> TFTP snponly.efi -> iPXE DHCP -> HTTP
# Both are enrolled and asked to reimage, so their script loads the agent
# kernel and initrd (rootfs/) with a one-time token; the initrd calls back
# POST /api/v1/agent/hello, which the test reads from the node's history.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" -eq 0 ] || { echo "test_pxe_boot needs root for network namespaces" >&2; exit 1; }

BUILD_DIR=$(cd "$BW_BIN/../.." && pwd)
KERNEL=$BUILD_DIR/rootfs/cache/vmlinuz
INITRD=$BUILD_DIR/rootfs/initrd.gz
for f in "$KERNEL" "$INITRD" "$BUILD_DIR/firmware/snponly.efi"; do
	[ -e "$f" ] || { echo "missing $f (make builds it)" >&2; exit 1; }
done

NET=10.77.8
S=bwp$RUN_ID
boot_net "$S" $NET 3
cat >>"$CONF" <<EOF
[boot]
retry = 5
EOF
start_daemon

bw_rc 0 site create lab
bw_rc 0 zone create lab-z1 --site lab
bw_rc 0 node create bios1 --mac 52:54:00:08:00:01 --zone lab-z1
bw_rc 0 node create uefi1 --mac 52:54:00:08:00:02 --zone lab-z1
os_tree "$T/os"
tar -C "$T/os" -czf "$T/os.tar.gz" .
bw_rc 0 image create os
bw_rc 0 image publish os 1 "$T/os.tar.gz"
bw_rc 0 node reimage bios1 --image os
bw_rc 0 node reimage uefi1 --image os

vm() { # vm N NIC-OPTIONS FIRMWARE-ARGS...: one machine on tapN, its console in vmN.log
	local n=$1 nic=$2
	shift 2
	ip netns exec "$S" timeout 400 qemu-system-x86_64 -machine pc,accel=tcg -m 512 -display none \
		-monitor none -serial "file:$T/vm$n.log" -no-reboot -boot order=n "$@" \
		-netdev "tap,id=n0,ifname=tap$n,script=no,downscript=no" \
		-device "virtio-net-pci,netdev=n0,$nic" >"$T/qemu$n.out" 2>&1 &
	eval "VM$n=\$!"
}
cp /usr/share/OVMF/OVMF_VARS.fd "$T/vars.fd"
start=$(date +%s)
# BIOS: the NIC's option ROM is iPXE (ipxe-qemu). UEFI: no option ROM, so
# OVMF's own virtio driver and PXE boot, which load snponly.efi by TFTP.
vm 1 mac=52:54:00:08:00:01
vm 2 mac=52:54:00:08:00:02,romfile= -drive if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE.fd \
	-drive "if=pflash,format=raw,file=$T/vars.fd"

hello() { bw -o json node events "$1" | jq -r '[.[] | select(.kind == "agent-hello")] | length'; }
done1='' done2=''
while [ $(($(date +%s) - start)) -lt 400 ]; do
	[ -z "$done1" ] && [ "$(hello bios1)" -ge 1 ] && done1=$(($(date +%s) - start))
	[ -z "$done2" ] && [ "$(hello uefi1)" -ge 1 ] && done2=$(($(date +%s) - start))
	[ -n "$done1" ] && [ -n "$done2" ] && break
	sleep 2
done
echo "   BIOS machine called back after ${done1:-never} s, UEFI machine after ${done2:-never} s"
check_eq "BIOS (SeaBIOS + iPXE) called back" "yes" "$([ -n "$done1" ] && echo yes || echo no)"
check_eq "UEFI (OVMF) called back" "yes" "$([ -n "$done2" ] && echo yes || echo no)"
# The machines power themselves off after the callback.
wait "$VM1" 2>/dev/null || true
wait "$VM2" 2>/dev/null || true

for n in bios1 uefi1; do
	ev=$(bw -o json node events $n)
	check_contains "$n: the reimage script was served" "reimage script served to $NET." "$ev"
	check_contains "$n: hello from the initrd" "stage initrd, from $NET." "$ev"
done
check_contains "BIOS console: callback" "bootwave-test: callback sent, HTTP status 200" "$(cat "$T/vm1.log")"
check_contains "UEFI console: callback" "bootwave-test: callback sent, HTTP status 200" "$(tr -d '\r' <"$T/vm2.log")"
log=$(cat "$T/daemon.log")
check_contains "UEFI firmware loaded snponly.efi over TFTP" "tftp: sent \"snponly.efi\" to $NET.101" "$log"
check_contains "UEFI PXE seen as UEFI" "ACK $NET.101 to 52:54:00:08:00:02 (uefi) node uefi1" "$log"
check_contains "BIOS iPXE ROM seen as BIOS" "ACK $NET.100 to 52:54:00:08:00:01 (bios) node bios1" "$log"
check_contains "leases for both" "$NET.1" "$(bw -o json lease list | jq -r '[.[].ip] | join(" ")')"

# The one-time token: only for its node, and replaced by the next one.
api GET /boot/52-54-00-08-00-01.ipxe
tok=$(sed -n 's/.*bootwave.token=\(bwa_[0-9a-f]*\).*/\1/p' <<<"$BODY")
check_eq "reimage script carries a token" "52" "${#tok}"
hello_as() { api POST /api/v1/agent/hello -H "Content-Type: application/json" \
	-d "{\"node\":\"$1\",\"mac\":\"$2\",\"token\":\"$3\",\"stage\":\"test\"}"; }
hello_as uefi1 52:54:00:08:00:02 "$tok"
check_eq "token of another node refused" "401" "$STATUS"
hello_as bios1 52:54:00:08:00:02 "$tok"
check_eq "MAC of another node refused" "401" "$STATUS"
hello_as bios1 52:54:00:08:00:01 "$tok"
check_eq "its own token accepted" "200" "$STATUS"
api GET /boot/52-54-00-08-00-01.ipxe
hello_as bios1 52:54:00:08:00:01 "$tok"
check_eq "a new script replaces the token" "401" "$STATUS"
check_contains "refusal recorded" "agent-refused" "$(bw -o json node events bios1)"

stop_daemon

# proxyDHCP: another DHCP server (busybox udhcpd, on its own host $NET.2)
# hands out the addresses, bootwaved only the boot answers. A BIOS machine
# boots the same way.
D=bwpd$RUN_ID
netns_add "$D"
ip -n "$S" link add "vd$RUN_ID" type veth peer name eth0 netns "$D"
ip -n "$S" link set "vd$RUN_ID" master br0 up
ip -n "$D" addr add $NET.2/24 dev eth0
ip -n "$D" link set eth0 up
cat >"$T/udhcpd.conf" <<EOF
start $NET.200
end $NET.220
interface eth0
option subnet 255.255.255.0
lease_file $T/udhcpd.leases
EOF
touch "$T/udhcpd.leases"
ip netns exec "$D" busybox udhcpd -f "$T/udhcpd.conf" >"$T/udhcpd.log" 2>&1 &
sed -i 's/^range = .*/mode = proxy/' "$CONF"
start_daemon
bw_rc 0 node create proxy1 --mac 52:54:00:08:00:03 --zone lab-z1
bw_rc 0 node reimage proxy1 --image os
start=$(date +%s)
vm 3 mac=52:54:00:08:00:03
done3=''
while [ $(($(date +%s) - start)) -lt 300 ]; do
	[ "$(hello proxy1)" -ge 1 ] && { done3=$(($(date +%s) - start)); break; }
	sleep 2
done
echo "   behind proxyDHCP, the BIOS machine called back after ${done3:-never} s"
check_eq "proxyDHCP: the machine called back" "yes" "$([ -n "$done3" ] && echo yes || echo no)"
check_contains "proxyDHCP: address from the other server" "stage initrd, from $NET.2" "$(bw -o json node events proxy1)"
check_eq "proxyDHCP: no lease of ours" "0" "$(bw -o json lease list | jq '[.[] | select(.mac == "52:54:00:08:00:03")] | length')"
wait "$VM3" 2>/dev/null || true
stop_daemon
finish
