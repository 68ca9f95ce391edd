#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Privilege separation of the TFTP server (server/boot/tftp_proc.h): when
# bootwaved runs as root with TFTP on, the server is its own process, read
# off /proc as the kernel sees it: the [daemon] user (uid, gid, no groups),
# no capability in any set, no new privileges, a seccomp filter, chrooted
# into firmware_dir, no descriptor of the store or the key, an empty
# environment, and neither the admin token nor the sealing key anywhere in
# its memory. It serves files (tftp-hpa), is started again when killed, and
# goes with bootwaved. A missing user stops the start with the user named.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" -eq 0 ] || { echo "test_sandbox needs root (namespaces, another user)" >&2; exit 1; }
command -v tftp >/dev/null || { echo "   missing tftp (scripts/setup-deps test)" >&2; exit 1; }
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

# ---- a user that does not exist: refused at start, named ----
# (a second [daemon] section adds to the first)
{ cat "$CONF"; printf '[daemon]\nuser = nosuchuser-bw\n[boot]\ninterface = br0\nfirmware_dir = %s\n[dhcp]\nmode = off\n' "$FW"; } >"$T/bad.conf"
rc=0
out=$(timeout 30 "${NSX[@]}" "$BW_BIN/bootwaved" -c "$T/bad.conf" 2>&1) || rc=$?
check_eq "a missing user: exit" 1 "$rc"
check_contains "a missing user: named" '[daemon] user "nosuchuser-bw": no such user' "$out"
check_contains "a missing user: TFTP did not start" "the sandboxed TFTP server did not start" "$out"

cat >>"$CONF" <<EOF
[boot]
interface = br0
firmware_dir = $FW
[dhcp]
mode = off
EOF
sed -i 's/^listen = .*/listen = 127.0.0.1:0/' "$CONF"
start_daemon
KEY_HEX=$(od -An -tx1 -v "$STATE/secret.key" | tr -d ' \n')

fetch() { # fetch NAME OUT: tftp-hpa from a client address on the bridge
	rm -f "$2"
	"${NSX[@]}" tftp -m binary $NET.1 -c get "$1" "$2" >/dev/null 2>&1
	cmp -s "$FW/$1" "$2"
}
fetch undionly.kpxe "$T/got" && ok || fail "the sandboxed server serves a file"

child() { pgrep -P "$DAEMON_PID" -x bootwaved-tftp || true; }
PID=$(child)
[ -n "$PID" ] && ok || fail "no bootwaved-tftp process under bootwaved"
st() { awk -v k="$1:" '$1 == k { $1 = ""; sub(/^ /, ""); print }' "/proc/$PID/status"; }
U=$(id -u bootwave) G=$(id -g bootwave)
check_eq "uids: bootwave" "$U $U $U $U" "$(st Uid)"
check_eq "gids: bootwave's" "$G $G $G $G" "$(st Gid)"
check_eq "no supplementary groups" "" "$(st Groups)"
for c in CapInh CapPrm CapEff CapBnd CapAmb; do
	check_eq "$c empty" "0000000000000000" "$(st $c)"
done
check_eq "no new privileges" "1" "$(st NoNewPrivs)"
check_eq "seccomp filter on" "2" "$(st Seccomp)"
check_eq "chrooted into firmware_dir" "$FW" "$(readlink /proc/$PID/root)"
fds=$(ls -l /proc/$PID/fd | awk 'NR > 1 { print $NF }')
check_not_contains "no descriptor of the store" "bootwave.db" "$fds"
check_not_contains "no descriptor of the key" "secret.key" "$fds"
check_not_contains "no descriptor of the state directory" "$STATE" "$fds"
# (the sanitizer builds pass their options on, nothing else)
check_eq "an empty environment" "" "$(tr '\0' '\n' </proc/$PID/environ | grep -v -E '^(ASAN|UBSAN)_OPTIONS=' || true)"
# Its whole memory, read as root: no admin token, no sealing key.
python3 - "$PID" "$ADMIN" "$KEY_HEX" >"$T/memscan" 2>&1 <<'EOF' || fail "memory scan: $(cat "$T/memscan")"
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
check_contains "memory scanned" "scanned" "$(cat "$T/memscan")"
check_contains "the log says so" "the TFTP server runs sandboxed as bootwave (pid $PID)" "$(cat "$T/daemon.log")"

# ---- killed: started again, serving ----
kill -9 "$PID"
wait_for "a new TFTP process" 10 bash -c "p=\$(pgrep -P $DAEMON_PID -x bootwaved-tftp); [ -n \"\$p\" ] && [ \"\$p\" != $PID ]"
check_contains "the death is logged" "the sandboxed TFTP server (pid $PID) was killed by signal 9" "$(cat "$T/daemon.log")"
check_contains "the restart is logged" "the TFTP server runs again" "$(cat "$T/daemon.log")"
NEW=$(child)
check_eq "the new one is sandboxed too" "2 $U" "$(awk '$1 == "Seccomp:" { s = $2 } $1 == "Uid:" { u = $2 } END { print s, u }' /proc/$NEW/status)"
fetch undionly.kpxe "$T/got" && ok || fail "the new process serves"

stop_daemon
check_eq "the TFTP process went with bootwaved" "" "$(ps -o pid= -p "$NEW" || true)"
finish
