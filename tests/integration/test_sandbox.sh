#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Privilege separation of the two processes that read what the network
# sends: the TFTP server (server/boot/tftp_proc.h) and the DHCP listener
# (server/boot/dhcp_listen.h). When bootwaved runs as root with TFTP and
# DHCP on, each is its own process (bootwaved-tftp, bootwaved-dhcp), read
# off /proc as the kernel sees it: the [daemon] user (uid, gid, no groups),
# no capability in any set, no new privileges, a seccomp filter, chrooted
# (TFTP into firmware_dir, DHCP into <state_dir>/empty, empty and mode
# 0555), no descriptor of the store or the key (the DHCP listener: exactly
# its two UDP sockets, ports 67 and 4011, and its record socket to
# bootwaved), an empty environment, and neither the admin token nor the
# sealing key anywhere in its memory. The TFTP server serves files
# (tftp-hpa), the DHCP listener gets a client (busybox udhcpc) an address;
# each is started again when killed, sandboxed again and serving, and both
# go with bootwaved. A missing user stops the start with the user named.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" -eq 0 ] || { echo "test_sandbox needs root (namespaces, another user)" >&2; exit 1; }
command -v tftp >/dev/null || { echo "   missing tftp (scripts/setup-deps test)" >&2; exit 1; }
command -v busybox >/dev/null || { echo "   missing busybox (udhcpc; scripts/setup-deps test)" >&2; exit 1; }
getent passwd bootwave >/dev/null || { echo "   missing the user bootwave (scripts/setup-deps test)" >&2; exit 1; }

NET=10.77.11
S=bwsb$$
netns_add "$S"
ip -n "$S" link add br0 type bridge
ip -n "$S" addr add $NET.1/24 dev br0
ip -n "$S" link set br0 up
NSX=(ip netns exec "$S")
FW=$T/firmware
mkdir -p "$FW"
cp -r "$BW_BIN/../../firmware/templates" "$FW/"
head -c 300000 /dev/urandom >"$FW/undionly.kpxe"

# One DHCP client: namespace C with eth0 on a veth into the bridge.
C=bwsbc$$
netns_add "$C"
ip -n "$S" link add "vsb$RUN_ID" type veth peer name eth0 netns "$C"
ip -n "$S" link set "vsb$RUN_ID" master br0 up
ip -n "$C" link set eth0 address 52:54:00:11:00:01 up

# ---- a user that does not exist: refused at start, named ----
# (a second [daemon] section adds to the first; the DHCP listener is
# started before the TFTP server, so it is the one that refuses)
{ cat "$CONF"; printf '[daemon]\nuser = nosuchuser-bw\n[boot]\ninterface = br0\nfirmware_dir = %s\n[dhcp]\nrange = %s.100-%s.110\n' "$FW" $NET $NET; } >"$T/bad.conf"
rc=0
out=$(timeout 30 "${NSX[@]}" "$BW_BIN/bootwaved" -c "$T/bad.conf" 2>&1) || rc=$?
check_eq "a missing user: exit" 1 "$rc"
check_contains "a missing user: named" '[daemon] user "nosuchuser-bw": no such user' "$out"
check_contains "a missing user: the DHCP listener did not start" "dhcp: the sandboxed DHCP listener did not start" "$out"
check_not_contains "a missing user: the TFTP server was not started after it" "the TFTP server runs sandboxed" "$out"

cat >>"$CONF" <<EOF
[boot]
interface = br0
firmware_dir = $FW
[dhcp]
range = $NET.100-$NET.110
EOF
sed -i 's/^listen = .*/listen = 127.0.0.1:0/' "$CONF"
start_daemon
KEY_HEX=$(od -An -tx1 -v "$STATE/secret.key" | tr -d ' \n')
U=$(id -u bootwave) G=$(id -g bootwave)

fetch() { # fetch NAME OUT: tftp-hpa from a client address on the bridge
	rm -f "$2"
	"${NSX[@]}" tftp -m binary $NET.1 -c get "$1" "$2" >/dev/null 2>&1
	cmp -s "$FW/$1" "$2"
}

udhcpc_script
# lease: one address for the client's current MAC, then exit; prints the address bound.
lease() {
	: >"$T/client.log"
	ip netns exec "$C" env LOG="$T/client.log" busybox udhcpc -i eth0 -q -n -t 3 -T 1 -A 1 \
		-s "$T/udhcpc.sh" >>"$T/client.out" 2>&1 || true
	sed -n 's/^bound ip=\([^ ]*\).*/\1/p' "$T/client.log" | tail -1
}

# sandboxed WHAT PID ROOT LOGLINE: the process PID (WHAT in check names) is
# sandboxed, chrooted into ROOT, and bootwaved logged LOGLINE for it.
sandboxed() {
	local what=$1 pid=$2 root=$3 logline=$4 c fds
	st() { awk -v k="$1:" '$1 == k { $1 = ""; sub(/^ /, ""); print }' "/proc/$pid/status"; }
	check_eq "$what: uids: bootwave" "$U $U $U $U" "$(st Uid)"
	check_eq "$what: gids: bootwave's" "$G $G $G $G" "$(st Gid)"
	check_eq "$what: no supplementary groups" "" "$(st Groups)"
	for c in CapInh CapPrm CapEff CapBnd CapAmb; do
		check_eq "$what: $c empty" "0000000000000000" "$(st $c)"
	done
	check_eq "$what: no new privileges" "1" "$(st NoNewPrivs)"
	check_eq "$what: seccomp filter on" "2" "$(st Seccomp)"
	check_eq "$what: chrooted into $root" "$root" "$(readlink "/proc/$pid/root")"
	fds=$(ls -l "/proc/$pid/fd" | awk 'NR > 1 { print $NF }')
	check_not_contains "$what: no descriptor of the store" "bootwave.db" "$fds"
	check_not_contains "$what: no descriptor of the key" "secret.key" "$fds"
	check_not_contains "$what: no descriptor of the admin token" "admin.token" "$fds"
	# (the DHCP listener's root is inside the state directory; its
	# descriptors are checked one by one below)
	[[ "$root" == "$STATE"/* ]] || check_not_contains "$what: no descriptor of the state directory" "$STATE" "$fds"
	# (the sanitizer builds pass their options on, nothing else)
	check_eq "$what: an empty environment" "" "$(tr '\0' '\n' <"/proc/$pid/environ" | grep -v -E '^(ASAN|UBSAN)_OPTIONS=' || true)"
	# Its whole memory, read as root: no admin token, no sealing key.
	python3 - "$pid" "$ADMIN" "$KEY_HEX" >"$T/memscan" 2>&1 <<'EOF' || fail "$what: memory scan: $(cat "$T/memscan")"
import re, sys
pid, token, key = sys.argv[1], sys.argv[2].encode(), bytes.fromhex(sys.argv[3])
found, scanned = [], 0
with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
    for line in maps:
        m = re.match(r"([0-9a-f]+)-([0-9a-f]+) (\S+)", line)
        lo, hi, perm = int(m[1], 16), int(m[2], 16), m[3]
        if perm[0] != "r" or "[vvar]" in line or "[vsyscall]" in line:
            continue
        if hi - lo > 1 << 32:  # a sanitizer's shadow memory, not data
            continue
        tail = b""
        for off in range(lo, hi, 1 << 24):  # 16 MiB at a time, overlapping by a needle
            try:
                mem.seek(off)
                data = tail + mem.read(min(1 << 24, hi - off))
            except OSError:
                break
            scanned += len(data) - len(tail)
            for what, needle in (("admin token", token), ("sealing key", key)):
                if needle in data:
                    found.append(f"{what} at {line.strip()}")
            tail = data[-64:]
print(f"scanned {scanned} bytes")
if found or scanned == 0:
    print("\n".join(found) or "nothing scanned")
    sys.exit(1)
EOF
	check_contains "$what: memory scanned" "scanned" "$(cat "$T/memscan")"
	check_contains "$what: the log says so" "$logline" "$(cat "$T/daemon.log")"
}

# dhcp_fds PID: the DHCP listener holds stdin..stderr, its UDP sockets on
# ports 67 (fd 3) and 4011 (fd 4), a SOCK_SEQPACKET unix socket to
# bootwaved (fd 5), and past those only its own event loop (an epoll and an
# eventfd, anonymous inodes): no file, no other socket.
dhcp_fds() {
	local pid=$1 ino fd other=
	for fd in $(ls "/proc/$pid/fd" | sort -n); do
		[ "$fd" -le 5 ] && continue
		case $(readlink "/proc/$pid/fd/$fd") in
		anon_inode:\[eventpoll\] | anon_inode:\[eventfd\]) ;;
		*) other+=" $fd:$(readlink "/proc/$pid/fd/$fd")" ;;
		esac
	done
	check_eq "DHCP listener: nothing past fd 5 but its event loop" "" "$other"
	inode() { readlink "/proc/$pid/fd/$1" | sed -n 's/^socket:\[\([0-9]*\)\]$/\1/p'; }
	# /proc/PID/net/udp: local address in hex (port after the colon), inode in column 10.
	udp_port() {
		local hex
		hex=$([ -n "$1" ] && awk -v i="$1" 'NR > 1 && $10 == i { split($2, a, ":"); print a[2] }' "/proc/$pid/net/udp")
		[ -n "$hex" ] && echo $((16#$hex))
		return 0
	}
	check_eq "DHCP listener: fd 3 is the port 67 socket" "67" "$(udp_port "$(inode 3)")"
	check_eq "DHCP listener: fd 4 is the port 4011 socket" "4011" "$(udp_port "$(inode 4)")"
	ino=$(inode 5)
	# /proc/PID/net/unix: column 5 is the type (0005: SOCK_SEQPACKET), column 7 the inode.
	check_eq "DHCP listener: fd 5 is a SOCK_SEQPACKET unix socket" "0005" \
		"$([ -n "$ino" ] && awk -v i="$ino" 'NR > 1 && $7 == i { print $5 }' "/proc/$pid/net/unix")"
}

child() { pgrep -P "$DAEMON_PID" -x "$1" || true; }
# restarted NAME OLD: waits (10 s) for a process NAME other than OLD under
# bootwaved that has entered its sandbox (seccomp on) and is still there a
# second later; sets NEW (empty if none).
restarted() {
	NEW=
	# shellcheck disable=SC2016
	if wait_for "a new $1 process, sandboxed, that stays" 10 bash -c '
		p=$(pgrep -P '"$DAEMON_PID"' -x '"$1"') && [ "$p" != '"$2"' ] &&
		grep -q "^Seccomp:[[:space:]]*2$" /proc/$p/status 2>/dev/null && sleep 1 &&
		[ "$(pgrep -P '"$DAEMON_PID"' -x '"$1"')" = "$p" ]'; then
		NEW=$(child "$1")
		ok
	fi
}

# ---- the TFTP server ----
fetch undionly.kpxe "$T/got" && ok || fail "the sandboxed TFTP server serves a file"
TPID=$(child bootwaved-tftp)
[ -n "$TPID" ] && ok || fail "no bootwaved-tftp process under bootwaved"
sandboxed "TFTP server" "$TPID" "$FW" "tftp: the TFTP server runs sandboxed as bootwave (pid $TPID)"

# ---- the DHCP listener ----
DPID=$(child bootwaved-dhcp)
[ -n "$DPID" ] && ok || fail "no bootwaved-dhcp process under bootwaved"
check_eq "the empty directory: a directory, root's, mode 555" "directory 0 555" "$(stat -c '%F %u %a' "$STATE/empty")"
check_eq "the empty directory is empty" "" "$(ls -A "$STATE/empty")"
sandboxed "DHCP listener" "$DPID" "$STATE/empty" "dhcp: the DHCP listener runs sandboxed as bootwave (pid $DPID)"
dhcp_fds "$DPID"
check_eq "a client gets an address through the sandboxed listener" "$NET.100" "$(lease)"
check_eq "the lease is stored" "$NET.100 bound" "$(bw -o json lease show 52:54:00:11:00:01 | jq -r '"\(.ip) \(.state)"')"

# ---- killed: started again, sandboxed, serving ----
# killed WHAT TAG COMM PID ROOT: kill -9 the process PID (COMM, bootwaved's
# "TAG: the WHAT ..." in the log): its death and its restart are logged and
# the new one is sandboxed too; sets NEW (empty if none came).
killed() {
	local what=$1 tag=$2 comm=$3 pid=$4 root=$5
	kill -9 "$pid"
	restarted "$comm" "$pid"
	check_contains "$what: the death is logged" "$tag: the sandboxed $what (pid $pid) was killed by signal 9 (Killed) after" "$(cat "$T/daemon.log")"
	check_contains "$what: the restart is announced" "starting it again in 1 s" "$(grep "$what (pid $pid)" "$T/daemon.log")"
	check_contains "$what: the restart is logged" "$tag: the $what runs again (pid" "$(cat "$T/daemon.log")"
	if [ -n "$NEW" ]; then
		sandboxed "$what again" "$NEW" "$root" "$tag: the $what runs again (pid $NEW)"
	fi
}
killed "TFTP server" tftp bootwaved-tftp "$TPID" "$FW"
TNEW=$NEW
fetch undionly.kpxe "$T/got" && ok || fail "the new TFTP process serves"

killed "DHCP listener" dhcp bootwaved-dhcp "$DPID" "$STATE/empty"
DNEW=$NEW
[ -z "$DNEW" ] || dhcp_fds "$DNEW"
# A new machine (another MAC) and the first one asking again: both answered.
ip -n "$C" link set eth0 address 52:54:00:11:00:02
check_eq "a new client gets an address from the new listener" "$NET.101" "$(lease)"
ip -n "$C" link set eth0 address 52:54:00:11:00:01
check_eq "the first client again: its address" "$NET.100" "$(lease)"
[ -z "$TNEW" ] || check_eq "the TFTP server was not touched by the DHCP listener's death" "$TNEW" "$(child bootwaved-tftp)"

stop_daemon
for p in $TPID $TNEW $DPID $DNEW; do
	check_eq "process $p went with bootwaved" "" "$(ps -o pid= -p "$p" || true)"
done
check_eq "no bootwaved-tftp or bootwaved-dhcp left in the namespace" "" \
	"$(ip netns pids "$S" | xargs -r ps -o comm= -p | grep -E '^bootwaved-(tftp|dhcp)$' || true)"
finish
