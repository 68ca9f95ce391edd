#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# TLS: a CA and a certificate made with openssl (the peer tool); bootwaved
# refuses bad TLS settings with the key and file named; with them right the
# API and the console speak only HTTPS (TLS 1.2 or later), the CLI trusts
# the server only with the CA it is given (--ca, BOOTWAVE_CA, config), the
# plain-HTTP boot listener serves booting machines and nothing else, the
# reimage script hands the agent the API's https URL and a ramdisk piece
# (ca.cpio) holding the CA, and the agent writes an image over HTTPS
# trusting that CA only (and refuses the server with another CA).
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" -eq 0 ] || { echo "test_tls needs root (loop devices)" >&2; exit 1; }

BUILD_DIR=$(cd "$BW_BIN/../.." && pwd)
AGENT=$BW_BIN/bootwave-agent
MAC=52:54:00:ab:00:21
mkdir -p "$T/pki" "$T/dev" "$T/img"
P=$T/pki

# ---- a CA, a server certificate for 127.0.0.1 signed by it, and another CA ----
mkca() { # mkca NAME
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj "/CN=$1" \
		-keyout "$P/$1.key" -out "$P/$1.pem" 2>/dev/null
}
mkca ca
mkca other
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=bootwave test" \
	-keyout "$P/server.key" -out "$P/server.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$P/san.ext"
openssl x509 -req -in "$P/server.csr" -CA "$P/ca.pem" -CAkey "$P/ca.key" -CAcreateserial -days 30 \
	-extfile "$P/san.ext" -out "$P/server.pem" 2>/dev/null
chmod 600 "$P"/*.key
BOOT_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# ---- bad settings: refused with the key and the file named ----
base_conf=$(cat "$CONF")
conf_err() { # conf_err WHAT EXPECTED-SUBSTRING: the config (appended lines on stdin) is refused
	{ echo "$base_conf"; cat; } >"$T/bad.conf"
	local out rc=0
	out=$("$BW_BIN/bootwaved" -c "$T/bad.conf" -n 2>&1) || rc=$?
	if [ $rc -eq 0 ]; then
		fail "$1: accepted"
	else
		check_contains "$1" "$2" "$out"
	fi
}
start_err() { # start_err WHAT EXPECTED-SUBSTRING: bootwaved with this config stops at start
	{ echo "$base_conf"; cat; } >"$T/bad.conf"
	local out rc=0
	out=$(timeout 20 "$BW_BIN/bootwaved" -c "$T/bad.conf" 2>&1) || rc=$?
	check_eq "$1: exit" 1 "$rc"
	check_contains "$1" "$2" "$out"
}
conf_err "cert without key" "[api] tls_key: required when tls_cert is set" <<EOF
tls_cert = $P/server.pem
EOF
conf_err "boot listener without TLS" "[boot] http_listen: only with TLS" <<EOF
[boot]
http_listen = 127.0.0.1:$BOOT_PORT
EOF
conf_err "an api_url that is not a URL" '[boot] api_url = "ftp://x": expected an http:// or https:// URL' <<EOF
[boot]
api_url = ftp://x
EOF
cp "$P/server.key" "$P/open.key"
chmod 644 "$P/open.key"
start_err "key readable by others" "tls_key $P/open.key: readable by others" <<EOF
tls_cert = $P/server.pem
tls_key = $P/open.key
EOF
start_err "key of another certificate" "tls_key $P/other.key does not match the certificate of tls_cert $P/server.pem" <<EOF
tls_cert = $P/server.pem
tls_key = $P/other.key
EOF
start_err "a key as the certificate" "tls_cert $P/server.key: no PEM certificate in it" <<EOF
tls_cert = $P/server.key
tls_key = $P/server.key
EOF
start_err "missing CA file" "tls_ca $P/nope.pem: cannot read" <<EOF
tls_cert = $P/server.pem
tls_key = $P/server.key
tls_ca = $P/nope.pem
EOF

# ---- TLS on ----
cat >>"$CONF" <<EOF
tls_cert = $P/server.pem
tls_key = $P/server.key
tls_ca = $P/ca.pem
[boot]
firmware_dir = $BUILD_DIR/firmware
http_listen = 127.0.0.1:$BOOT_PORT
[agent]
slot_size = 48M
stall_timeout = 5
EOF
start_daemon
URL="https://$(cat "$T/port")"
BOOT_URL="http://127.0.0.1:$BOOT_PORT"
export BOOTWAVE_URL=$URL
check_contains "the log says HTTPS" "(HTTPS)" "$(cat "$T/daemon.log")"
check_contains "the log names the boot listener" "plain HTTP for booting machines on 127.0.0.1 port $BOOT_PORT" "$(cat "$T/daemon.log")"

# The CLI: only with the CA it is given.
bw_rc 8 whoami
check_contains "no CA: the certificate is not trusted" "checked against the system's CAs" "$ERR"
bw_rc 8 --ca "$P/other.pem" whoami
check_contains "another CA: not trusted, the CA named" "checked against the CA in $P/other.pem" "$ERR"
bw_rc 0 --ca "$P/ca.pem" -o json whoami
check_eq "with the CA: whoami" "admin" "$(jq -r .role <<<"$OUT")"
BOOTWAVE_CA=$P/ca.pem bw_rc 0 whoami
printf '[bootwave]\nca = %s\n' "$P/ca.pem" >"$T/cli.conf"
bw_rc 0 -c "$T/cli.conf" whoami
bw_rc 2 --ca "$P/nope.pem" whoami
check_contains "a CA file that is not there" "--ca: cannot read the CA $P/nope.pem" "$ERR"
export BOOTWAVE_CA=$P/ca.pem

# curl, the peer: HTTPS with the CA; plain HTTP and TLS 1.1 get no answer.
check_contains "boot files over the TLS port: an https script" "chain --replace https://127.0.0.1:${URL##*:}/boot/" \
	"$(curl -s --cacert "$P/ca.pem" "$URL/boot.ipxe")"
check_eq "curl over HTTPS" "200" "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$P/ca.pem" "$URL/ui/")"
check_eq "plain HTTP on the TLS port" "000" "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://$(cat "$T/port")/api/v1" || true)"
check_eq "TLS 1.1 refused" "000" \
	"$(curl -s -o /dev/null -w '%{http_code}' --cacert "$P/ca.pem" --tls-max 1.1 --max-time 5 "$URL/api/v1" || true)"

# The boot listener: booting machines only.
check_eq "boot listener: boot.ipxe" "200" "$(curl -s -o /dev/null -w '%{http_code}' "$BOOT_URL/boot.ipxe")"
for p in /api/v1 /api/v1/whoami /ui/ /metrics /api/v1/agent/task; do
	check_eq "boot listener refuses $p" "403" "$(curl -s -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $ADMIN" "$BOOT_URL$p")"
done
check_eq "refusal names the code" "tls_required" "$(jq -r .error.code <"$T/body")"
check_eq "boot listener: the ramdisk's hello is served (a wrong token: 401)" "401" \
	"$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
		--data '{"node":"t1","mac":"52:54:00:ab:00:21","token":"bwa_00","stage":"initrd"}' "$BOOT_URL/api/v1/agent/hello")"
check_contains "refusal names the API port" "HTTPS on port ${URL##*:}" "$(jq -r .error.message <"$T/body")"
curl -sf "$BOOT_URL/boot/agent/ca.cpio" >"$T/ca.cpio"
check_eq "ca.cpio's length is a multiple of 4 (the agent's initrd follows it)" 0 $(($(stat -c %s "$T/ca.cpio") % 4))
(cd "$T" && mkdir -p unpacked && cd unpacked && cpio -id --quiet <"$T/ca.cpio")
check_eq "ca.cpio holds the CA at etc/bootwave/ca.pem" "$(cat "$P/ca.pem")" "$(cat "$T/unpacked/etc/bootwave/ca.pem")"

# ---- the agent over HTTPS ----
os_tree "$T/img/v1" v1
ext4_image "$T/img/v1" "$T/v1.img" 16M
bw -q image create os
bw_rc 0 image publish os r1 "$T/v1.img"
bw -q node create t1 --mac $MAC --os-disk /dev/vda
truncate -s 120M "$T/dev/vda"
sgdisk -n1:1M:+48M -c1:bw-os-a -n2:0:+48M -c2:bw-os-b -n3:0:0 -c3:bw-data "$T/dev/vda" >/dev/null
r=$(sgdisk -i 3 "$T/dev/vda" | awk '/^First sector/ { f = $3 } /^Last sector/ { l = $3 } END { print f * 512, (l - f + 1) * 512 }')
head -c $((${r#* })) /dev/urandom | dd of="$T/dev/vda" bs=1M seek=$((${r% *})) oflag=seek_bytes conv=notrunc status=none
data_sum() { dd if="$T/dev/vda" bs=1M iflag=skip_bytes,count_bytes skip=${r% *} count=${r#* } status=none | sha256sum; }
DATA=$(data_sum)
boot_cmdline() {
	curl -sS "$BOOT_URL/boot/${MAC//:/-}.ipxe" >"$T/script"
	grep -o 'bootwave\.[a-z]*=[^ ]*' "$T/script" | tr '\n' ' ' >"$T/cmdline"
}
bw_rc 0 node reimage t1 --image os --version r1
boot_cmdline
check_contains "the script boots from the boot listener" "kernel $BOOT_URL/boot/agent/vmlinuz" "$(cat "$T/script")"
check_contains "the script loads the CA as the first initrd" "initrd --name ca $BOOT_URL/boot/agent/ca.cpio" "$(grep '^initrd' "$T/script" | head -1)"
check_contains "the agent is told the API's https URL" "bootwave.api=$URL " "$(cat "$T/cmdline")"
agent() { # agent CA: $ARC, $ALOG
	ARC=0
	"$AGENT" --cmdline "$T/cmdline" --devroot "$T" --no-reboot --retry 3 --ca "$1" reimage >"$T/agent.log" 2>&1 || ARC=$?
	ALOG=$(cat "$T/agent.log")
}
agent "$P/other.pem"
check_eq "agent with another CA: no task" "1" "$ARC"
check_contains "agent with another CA: says why" "checked against the CA in $P/other.pem" "$ALOG"
agent "$T/unpacked/etc/bootwave/ca.pem"
check_eq "agent with the ramdisk's CA: exit" "0" "$ARC"
check_contains "agent: over TLS" "over TLS, checked with $T/unpacked/etc/bootwave/ca.pem" "$ALOG"
check_contains "agent: image written" "done: os@r1 in slot a" "$ALOG"
check_eq "the task succeeded" "succeeded" "$(bw -o json node tasks t1 | jq -r '.[0].state')"
check_eq "the data partition is unchanged" "$DATA" "$(data_sum)"
# The installed OS heartbeats over the boot listener (it has no CA).
boot_cmdline
check_contains "the OS boots from the boot listener" "bootwave.server=$BOOT_URL" "$(cat "$T/cmdline")"
"$AGENT" --cmdline "$T/cmdline" --probe true --grace 0 --once heartbeat >"$T/hb.log" 2>&1 || true
check_eq "heartbeat over the boot listener commits" "active a r1" \
	"$(bw -o json node show t1 | jq -r '"\(.state) \(.active_slot) \(.installed_version)"')"

stop_daemon
finish
