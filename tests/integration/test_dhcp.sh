#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The DHCP server against busybox udhcpc, in network namespaces this test
# creates: a "server" namespace with a bridge where bootwaved runs, and one
# namespace per client on a veth into that bridge. Offer, request, renew,
# release, decline (a squatter answers the ARP check), a reserved MAC, PXE
# and iPXE boot answers, a full pool, leases surviving a crash, and bad
# packets that are dropped while everyone else is still served.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" -eq 0 ] || { echo "test_dhcp needs root for network namespaces" >&2; exit 1; }

NET=10.77.9
S=bws$RUN_ID
netns_add "$S"
ip -n "$S" link add br0 type bridge
ip -n "$S" addr add $NET.1/24 dev br0
ip -n "$S" link set br0 up
NSX=(ip netns exec "$S")

cat >>"$CONF" <<EOF
[boot]
interface = br0
firmware_dir = $BW_BIN/../../firmware
[dhcp]
range = $NET.100-$NET.103
lease_time = 60
router = $NET.1
dns = $NET.1
EOF
sed -i 's/^listen = .*/listen = 0.0.0.0:0/' "$CONF"

# client N: namespace bwcN with eth0 on the bridge, MAC 52:54:00:09:00:0N.
client() {
	local ns=bwc$1$RUN_ID
	netns_add "$ns"
	ip -n "$S" link add "v$1$RUN_ID" type veth peer name eth0 netns "$ns"
	ip -n "$S" link set "v$1$RUN_ID" master br0 up
	ip -n "$ns" link set eth0 address "52:54:00:09:00:0$1" up
}

udhcpc_script

# dhcp N [udhcpc args]: one lease, then exit; the script's lines go to $T/cN.log.
dhcp() {
	local n=$1
	shift
	ip netns exec "bwc$n$RUN_ID" env LOG="$T/c$n.log" busybox udhcpc -i eth0 -q -n -t 3 -T 1 -A 1 \
		-s "$T/udhcpc.sh" "$@" >>"$T/c$n.out" 2>&1
}
last() { grep "^$2 " "$T/c$1.log" | tail -1; }
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"; }

start_daemon
PORT=${URL##*:}
for i in 1 2 3 4 5; do client $i; done
# Room for a burst: the DHCP socket's receive buffer is 4 MiB (the kernel shows it doubled), not the 212 KiB default.
rb=$("${NSX[@]}" ss -uanm 'sport = :67' | sed -n 's/.*skmem:(r[0-9]*,rb\([0-9]*\),.*/\1/p' | head -1)
check_eq "the DHCP socket's receive buffer" "8388608" "$rb"

# A machine nobody enrolled: an address from the range, recorded as discovered.
dhcp 1 -x hostname:one && ok || fail "client 1 got no lease: $(cat "$T/c1.out")"
b=$(last 1 bound)
check_eq "first address of the range" "$NET.100" "$(field "$b" ip)"
check_eq "router" "$NET.1" "$(field "$b" router)"
check_eq "lease time" "60" "$(field "$b" lease)"
check_eq "server id" "$NET.1" "$(field "$b" serverid)"
check_eq "no boot file for a plain client" "" "$(field "$b" boot_file)"
check_eq "discovered" "52:54:00:09:00:01" "$(bw -o json discovered list | jq -r '.[].mac')"
check_eq "lease stored" "$NET.100 bound one" "$(bw -o json lease show 52:54:00:09:00:01 | jq -r '"\(.ip) \(.state) \(.hostname)"')"

# A reserved MAC: its node's address, outside the range; BIOS PXE gets undionly.kpxe by TFTP.
bw_rc 0 node create n2 --mac 52:54:00:09:00:02 --ip-address $NET.50
dhcp 2 -V "PXEClient:Arch:00000:UNDI:002001" -x 0x5d:0000 && ok || fail "client 2 got no lease"
b=$(last 2 bound)
check_eq "reserved address" "$NET.50" "$(field "$b" ip)"
check_eq "BIOS boot file" "undionly.kpxe" "$(field "$b" boot_file)"
check_eq "TFTP server" "$NET.1" "$(field "$b" siaddr)"
check_eq "an enrolled node is not discovered" "52:54:00:09:00:01" "$(bw -o json discovered list | jq -r '[.[].mac] | join(" ")')"

# UEFI PXE gets snponly.efi; iPXE (user class) gets the HTTP script.
dhcp 3 -V "PXEClient:Arch:00007:UNDI:003016" -x 0x5d:0007 && ok || fail "client 3 got no lease"
check_eq "UEFI boot file" "snponly.efi" "$(field "$(last 3 bound)" boot_file)"
check_eq "UEFI client address" "$NET.101" "$(field "$(last 3 bound)" ip)"
dhcp 3 -V "PXEClient:Arch:00007:UNDI:003016" -x 0x5d:0007 -x 0x4d:69505845 && ok || fail "client 3 as iPXE got no lease"
check_eq "iPXE gets the script" "http://$NET.1:$PORT/boot.ipxe" "$(field "$(last 3 bound)" boot_file)"
check_eq "the same address again" "$NET.101" "$(field "$(last 3 bound)" ip)"

# Decline: a squatter holds .102 without asking; the client's ARP check finds it.
netns_add "bwsq$RUN_ID"
ip -n "$S" link add "vsq$RUN_ID" type veth peer name eth0 netns "bwsq$RUN_ID"
ip -n "$S" link set "vsq$RUN_ID" master br0 up
ip -n "bwsq$RUN_ID" addr add $NET.102/24 dev eth0
ip -n "bwsq$RUN_ID" link set eth0 up
dhcp 4 -a 500 && ok || fail "client 4 got no lease after its decline: $(cat "$T/c4.out")"
check_eq "after a decline, the next address" "$NET.103" "$(field "$(last 4 bound)" ip)"
check_contains "decline logged" "declined $NET.102" "$(cat "$T/daemon.log")"

# The pool is full now (.100 .101 .103 bound, .102 set aside): client 5 gets nothing.
rc=0
dhcp 5 || rc=$?
check_eq "full pool: no lease" "1" "$rc"
check_eq "full pool: no bound line" "" "$(last 5 bound)"
check_contains "full pool logged" "dropped a packet from 52:54:00:09:00:05: address pool is full" "$(cat "$T/daemon.log")"

# Renew and release with a client that keeps running.
ip netns exec "bwc1$RUN_ID" env LOG="$T/c1.log" busybox udhcpc -i eth0 -f -t 3 -T 1 -A 1 \
	-s "$T/udhcpc.sh" >>"$T/c1.out" 2>&1 &
UPID=$!
for _ in $(seq 50); do [ "$(grep -c '^bound' "$T/c1.log")" -ge 2 ] && break; sleep 0.1; done
before=$(bw -o json lease show 52:54:00:09:00:01 | jq -r .expires_at)
sleep 1.2
kill -USR1 $UPID
for _ in $(seq 50); do grep -q '^renew' "$T/c1.log" && break; sleep 0.1; done
check_eq "renew keeps the address" "$NET.100" "$(field "$(last 1 renew)" ip)"
after=$(bw -o json lease show 52:54:00:09:00:01 | jq -r .expires_at)
[[ "$after" > "$before" ]] && ok || fail "renew did not extend the lease ($before -> $after)"

# Leases survive a crash of bootwaved: acknowledged means committed.
crash_daemon
start_daemon
check_eq "leases after a crash" "$NET.100 $NET.101 $NET.103 $NET.50" \
	"$(bw -o json lease list | jq -r '[.[] | select(.state == "bound") | .ip] | sort | join(" ")')"
kill -USR1 $UPID
for _ in $(seq 50); do [ "$(grep -c '^renew' "$T/c1.log")" -ge 2 ] && break; sleep 0.1; done
check_eq "renew after the restart" "2" "$(grep -c '^renew' "$T/c1.log")"

kill -USR2 $UPID
for _ in $(seq 50); do bw -o json lease show 52:54:00:09:00:01 | jq -e '.state == "released"' >/dev/null && break; sleep 0.1; done
check_eq "release" "released" "$(bw -o json lease show 52:54:00:09:00:01 | jq -r .state)"
kill $UPID
wait $UPID 2>/dev/null || true
dhcp 5 && ok || fail "client 5 got no lease once an address was released"
check_eq "the released address goes to the next client" "$NET.100" "$(field "$(last 5 bound)" ip)"

# Bad packets, sent from a client namespace with udpsend (tests/tools):
# dropped, logged, and serving goes on.
UDPSEND=$BW_BIN/../tests/udpsend
hdr="0101060000003903000000000000000000000000000000000000000052540009000500000000000000000000"  # 44 bytes: op..chaddr
zeros() { printf '0%.0s' $(seq "$1"); }
fixed="${hdr}$(zeros 384)"  # op..chaddr, then sname and file: 236 bytes
send() { ip netns exec "bwc5$RUN_ID" "$UDPSEND" -t 200 $NET.1 67 "$1" >/dev/null 2>&1 || true; }
send "0101"                                                    # truncated
send "${fixed}00000000350101ff"                                # wrong magic cookie
send "${fixed}638253633501"                                    # option runs past the end
send "${fixed}638253633400350101ff"                            # overload option of length 0
send "${fixed}63825363340101350101ff"                          # overload into an empty file field: no type
send "${hdr}$(zeros 128)340101$(zeros 250)63825363340101350101ff" # overload inside the overloaded file field
send "${fixed}63825363350101$(printf '0c01%.0s' $(seq 700))ff" # oversized
send "${fixed}6382536335010aff"                                # unknown message type
check_contains "bad packets logged" "dhcp: dropped a packet from $NET.100" "$(cat "$T/daemon.log")"
dropped=$(grep -c "dhcp: dropped a packet" "$T/daemon.log")
[ "$dropped" -le 2 ] && ok || fail "drops are logged at most once per 10 s (logged $dropped times)"
dhcp 1 && ok || fail "no lease after the bad packets"
check_contains "served after the bad packets" "$NET.10" "$(field "$(last 1 bound)" ip)"

stop_daemon
finish
