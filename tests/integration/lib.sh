# SPDX-License-Identifier: Apache-2.0
# Shared helpers of the integration tests: a real bootwaved on loopback in a
# temporary state directory, driven with the real CLI and curl. Sourced by
# each test_*.sh; BW_BIN names the directory of the binaries under test.
set -euo pipefail

: "${BW_BIN:?BW_BIN must name the directory holding bootwaved and bootwave}"
T=$(mktemp -d "${TMPDIR:-/tmp}/bw-it.XXXXXX")
STATE=$T/state
CONF=$T/bootwaved.conf
DB=$STATE/bootwave.db
DAEMON_PID=
# A test that runs bootwaved in a network namespace sets NSX=(ip netns exec NAME):
# the daemon, the CLI and curl then run there.
NSX=()
NETNS=()
FAILS=0
CHECKS=0

cleanup() {
	declare -F bmc_cleanup >/dev/null && bmc_cleanup
	if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
		kill -9 "$DAEMON_PID" 2>/dev/null || true
	fi
	local ns
	for ns in "${NETNS[@]}"; do
		# Everything started in the namespace goes with it.
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
		ip netns del "$ns" 2>/dev/null || true
	done
	# A test that mounted something under $T defines cleanup_mounts.
	declare -F cleanup_mounts >/dev/null && cleanup_mounts
	if [ "$FAILS" -eq 0 ] && [ -z "${BW_KEEP:-}" ]; then
		rm -rf "$T"
	else
		echo "   (kept $T for inspection)"
	fi
}
trap cleanup EXIT

# The default configuration of a test; a test may append to $CONF before start.
write_conf() {
	cat >"$CONF" <<CONF
[daemon]
state_dir = $STATE
log_level = debug
[api]
listen = 127.0.0.1:0
threads = 4
max_body = 64K
CONF
}
write_conf

fail() {
	FAILS=$((FAILS + 1))
	echo "   FAIL: $*" >&2
}

ok() {
	CHECKS=$((CHECKS + 1))
}

# check DESCRIPTION: the previous command's success is the check
check_eq() { # check_eq WHAT EXPECTED ACTUAL
	if [ "$2" == "$3" ]; then ok; else fail "$1: expected [$2], got [$3]"; fi
}

check_contains() { # check_contains WHAT NEEDLE HAYSTACK
	if [[ "$3" == *"$2"* ]]; then ok; else fail "$1: [$2] not found in [$3]"; fi
}

# wait_for WHAT SECONDS COMMAND...: runs COMMAND every $WAIT_EVERY seconds
# (2 unless set) until it succeeds, for at most SECONDS; $WAITED is the
# seconds it took. A test may define wait_alive (waiting stops early when it
# fails: what would make COMMAND succeed is gone, a VM died) and wait_failed
# (called once the failure is recorded: say what was seen, a console tail).
wait_for() {
	local what=$1 limit=$2 start
	shift 2
	start=$(date +%s)
	WAITED=''
	while [ $(($(date +%s) - start)) -lt "$limit" ]; do
		if "$@"; then WAITED=$(($(date +%s) - start)); return 0; fi
		if declare -F wait_alive >/dev/null && ! wait_alive; then break; fi
		sleep "${WAIT_EVERY:-2}"
	done
	fail "$what: not within $limit s"
	if declare -F wait_failed >/dev/null; then wait_failed; fi
	return 1
}

check_not_contains() {
	if [[ "$3" != *"$2"* ]]; then ok; else fail "$1: [$2] should not appear in [$3]"; fi
}

start_daemon() {
	rm -f "$T/port"
	"${NSX[@]}" "$BW_BIN/bootwaved" -c "$CONF" -p "$T/port" >>"$T/daemon.log" 2>&1 &
	DAEMON_PID=$!
	for _ in $(seq 100); do
		[ -s "$T/port" ] && break
		kill -0 "$DAEMON_PID" 2>/dev/null || { cat "$T/daemon.log" >&2; echo "bootwaved died at start" >&2; exit 1; }
		sleep 0.05
	done
	[ -s "$T/port" ] || { echo "bootwaved did not start" >&2; exit 1; }
	URL="http://$(cat "$T/port")"
	export BOOTWAVE_URL=$URL
	ADMIN=$(cat "$STATE/admin.token")
	export BOOTWAVE_TOKEN=$ADMIN
}

# Stops with SIGTERM and checks a clean exit (under ASan this also proves no leak).
stop_daemon() {
	local rc=0
	kill -TERM "$DAEMON_PID"
	wait "$DAEMON_PID" || rc=$?
	DAEMON_PID=
	if [ "$rc" -ne 0 ]; then
		fail "bootwaved exited with $rc on SIGTERM"
		tail -30 "$T/daemon.log" >&2
	fi
}

crash_daemon() {
	kill -9 "$DAEMON_PID"
	wait "$DAEMON_PID" 2>/dev/null || true
	DAEMON_PID=
}

bw() { "${NSX[@]}" "$BW_BIN/bootwave" "$@"; }

# bw_rc EXPECTED_RC ARGS...: runs the CLI, checks its exit code, keeps its output in $OUT/$ERR.
bw_rc() {
	local want=$1 rc=0
	shift
	OUT=$("${NSX[@]}" "$BW_BIN/bootwave" "$@" 2>"$T/stderr") || rc=$?
	ERR=$(cat "$T/stderr")
	if [ "$rc" -eq "$want" ]; then ok; else fail "bootwave $*: exit $rc, expected $want (stderr: $ERR)"; fi
}

# api METHOD PATH [curl args...]: sets $STATUS and $BODY.
api() {
	local method=$1 path=$2
	shift 2
	BODY=$("${NSX[@]}" curl -sS -o - -w '\n%{http_code}' -X "$method" -H "Authorization: Bearer ${TOKEN:-$ADMIN}" "$@" "$URL$path")
	STATUS=${BODY##*$'\n'}
	BODY=${BODY%$'\n'*}
}

# api_expect STATUS CODE METHOD PATH [curl args...]: checks status and the error code.
api_expect() {
	local want=$1 code=$2
	shift 2
	api "$@"
	check_eq "$1 $2 status" "$want" "$STATUS"
	if [ -n "$code" ]; then
		check_eq "$1 $2 error code" "$code" "$(jq -r '.error.code // empty' <<<"$BODY")"
	fi
}

# Everything the store holds, table by table, in a stable order. last_used_at
# of tokens is left out: reading with a token may record its use.
dump_store() {
	local t
	for t in $(sqlite3 "$DB" "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name"); do
		echo "== $t"
		if [ "$t" = tokens ]; then
			sqlite3 "$DB" "SELECT id, name, role, prefix, hex(hash), expires_at, created_at, updated_at FROM tokens ORDER BY id"
		else
			sqlite3 "$DB" "SELECT * FROM \"$t\" ORDER BY 1"
		fi
	done
	echo "== files"
	(cd "$STATE" && find images -printf '%p %s\n' | sort)
}

# snapshot / check_unchanged WHAT: the store and image files are exactly as at the snapshot.
snapshot() { dump_store >"$T/snapshot"; }
check_unchanged() {
	dump_store >"$T/after"
	if cmp -s "$T/snapshot" "$T/after"; then
		ok
	else
		fail "$1: the store changed"
		diff "$T/snapshot" "$T/after" | head -20 >&2
	fi
}

# slow_upload IMAGE VERSION FILE: starts a rate-limited upload in the
# background ($UPLOAD_PID) and returns once bootwaved is writing it.
slow_upload() {
	curl -sS -T "$3" --limit-rate 5M -H "Authorization: Bearer $ADMIN" \
		"$URL/api/v1/images/$1/versions/$2?filename=$(basename "$3")" >/dev/null 2>&1 &
	UPLOAD_PID=$!
	for _ in $(seq 100); do
		[ "$(uploads_in_progress "$1")" -gt 0 ] && break
		sleep 0.05
	done
	sleep 1
}

# uploads_in_progress IMAGE: how many temporary upload files it has.
uploads_in_progress() {
	ls -A "$STATE/images/$1" 2>/dev/null | grep -c '^\.upload-' || true
}

# os_tree DIR [VERSION]: a tiny root tree with what an image must hold: a
# kernel and an initrd in /boot (their content is not booted here).
os_tree() {
	mkdir -p "$1/boot" "$1/etc" "$1/bin"
	echo "kernel ${2:-1}" >"$1/boot/vmlinuz-6.1.0-test"
	echo "initrd ${2:-1}" >"$1/boot/initrd.img-6.1.0-test"
	echo "VERSION_ID=${2:-1}" >"$1/etc/os-release"
}

# ext4_image TREE OUT [SIZE]: a raw ext4 partition image of TREE (no root needed).
ext4_image() {
	rm -f "$2"
	truncate -s "${3:-8M}" "$2"
	mke2fs -q -F -t ext4 -d "$1" -E root_owner=0:0 "$2" >/dev/null
}

# netns_add NAME: a namespace that cleanup removes, with loopback up.
netns_add() {
	ip netns add "$1"
	NETNS+=("$1")
	ip -n "$1" link set lo up
}

# udhcpc_script: $T/udhcpc.sh, busybox udhcpc's script: appends one line
# per event ("bound ip=... router=... boot_file=...") to $LOG and sets the
# interface's address as told.
udhcpc_script() {
	cat >"$T/udhcpc.sh" <<'EOF'
#!/bin/sh
echo "$1 ip=$ip router=$router dns=$dns lease=$lease serverid=$serverid boot_file=$boot_file siaddr=$siaddr" >>"$LOG"
case "$1" in
bound | renew) ip addr flush dev "$interface"; ip addr add "$ip/${mask:-24}" dev "$interface" ;;
deconfig) ip addr flush dev "$interface" ;;
esac
EOF
	chmod +x "$T/udhcpc.sh"
}

# boot_net NAME NET TAPS: a namespace NAME (NSX runs there) with a bridge
# br0 at NET.1/24 and taps tap1..tapTAPS on it, and the [boot] and [dhcp]
# settings of a bootwaved serving it (agent kernel $KERNEL, ramdisk $INITRD,
# firmware of $BUILD_DIR, DHCP range NET.100-150), listening on all addresses.
boot_net() {
	local ns=$1 net=$2 i
	netns_add "$ns"
	ip -n "$ns" link add br0 type bridge
	ip -n "$ns" addr add "$net.1/24" dev br0
	ip -n "$ns" link set br0 up
	for i in $(seq "$3"); do
		ip -n "$ns" tuntap add "tap$i" mode tap
		ip -n "$ns" link set "tap$i" master br0 up
	done
	NSX=(ip netns exec "$ns")
	cat >>"$CONF" <<BOOT
[boot]
interface = br0
firmware_dir = $BUILD_DIR/firmware
agent_kernel = $KERNEL
agent_initrd = $INITRD
kernel_cmdline = console=ttyS0 panic=5
[dhcp]
range = $net.100-$net.150
BOOT
	sed -i 's/^listen = .*/listen = 0.0.0.0:0/' "$CONF"
}

# A short unique prefix for this run's namespaces and links (names are global).
RUN_ID=$(printf '%04x' $(($$ % 65536)))

finish() {
	if [ "$FAILS" -gt 0 ]; then
		echo "   $FAILS of $((CHECKS + FAILS)) checks failed; daemon log: $T/daemon.log"
		exit 1
	fi
	echo "   $CHECKS checks"
}

# ipmi_bmc DIR PORT PASSWORD QEMU-ARGS...: an ipmi_sim BMC (OpenIPMI) on
# 127.0.0.1:PORT, user admin, whose machine is a QEMU process: its
# chassis_control program starts QEMU with QEMU-ARGS on power on (boot order
# n after a PXE boot override, c otherwise), stops it on power off, resets
# it, asks it to power down (ACPI, through its monitor on 127.0.0.1:PORT+1)
# on soft-off, and reads power from the process. Every call of ipmi_sim is
# logged to DIR/calls (the BMC's view); with BMC_EVENTS=FILE, also when each
# starts and ends ("NS PORT begin CALL", "NS PORT end"). Sets BMC_PID; cleanup stops it all.
# Optional, from the environment: BMC_EMU_EXTRA, more emulator commands
# (ipmi_sim_cmd(5): sensors, SDRs) run before the BMC is enabled; its
# default has no SDRs. BMC_CONSOLE=TCP-PORT opens the emulator console on
# 127.0.0.1 (bmc_console runs commands there at runtime). BMC_NSX (an array,
# e.g. the NSX of boot_net) runs ipmi_sim, and so its machine, in a network
# namespace (127.0.0.1 is then that namespace's). BMC_BOOT_ORDER=n boots the
# machine from the network first always, as a rack's servers are set up.
ipmi_bmc() {
	local d=$1 port=$2 pw=$3
	shift 3
	mkdir -p "$d/state"
	cat >"$d/chassis" <<CHASSIS
#!/bin/bash
# ipmi_sim chassis_control: "get NAME..." prints NAME:VALUE lines, "set NAME VALUE...".
d=$d
echo "\$*" >>"\$d/calls"
events=${BMC_EVENTS:-}
if [ -n "\$events" ]; then
	# When each command starts and ends (BMC_EVENTS): the BMC's own view.
	echo "\$(date +%s%N) $port begin \$*" >>"\$events"
	trap 'echo "\$(date +%s%N) $port end" >>"\$events"' EXIT
fi
while [ \$# -gt 0 ] && [ "\$1" != get ] && [ "\$1" != set ]; do shift; done
op=\$1
shift
running() { [ -s "\$d/qemu.pid" ] && kill -0 "\$(cat "\$d/qemu.pid")" 2>/dev/null; }
start() {
	local order=${BMC_BOOT_ORDER:-c}
	[ "\$(cat "\$d/boot" 2>/dev/null)" = pxe ] && order=n
	( exec setsid qemu-system-x86_64 -name "bwbmc-$port" -boot order=\$order \\
		-monitor tcp:127.0.0.1:$((port + 1)),server,nowait $* </dev/null >>"\$d/qemu.log" 2>&1 ) &
	echo \$! >"\$d/qemu.pid"
}
stop() { # a hard power off: the plug is pulled
	running || return 0
	kill -9 "\$(cat "\$d/qemu.pid")"
	for _ in \$(seq 50); do running || break; sleep 0.02; done
	rm -f "\$d/qemu.pid"
}
case \$op in
get)
	for n; do
		case \$n in
		power) if running; then echo power:1; else echo power:0; fi ;;
		boot) echo "boot:\$(cat "\$d/boot" 2>/dev/null || echo none)" ;;
		esac
	done ;;
set)
	while [ \$# -ge 2 ]; do
		case \$1 in
		power) if [ "\$2" = 1 ]; then running || start; else stop; fi ;;
		reset) stop; start ;;
		shutdown) running && { exec 3<>/dev/tcp/127.0.0.1/$((port + 1)) && echo system_powerdown >&3; exec 3>&-; } ;;
		boot) echo "\$2" >"\$d/boot" ;;
		esac
		shift 2
	done ;;
esac
exit 0
CHASSIS
	chmod +x "$d/chassis"
	cat >"$d/lan.conf" <<LAN
name "bmc$port"
set_working_mc 0x20
  startlan 1
    addr 127.0.0.1 $port
    priv_limit admin
    allowed_auths_admin md5 straight
    guid a123456789abcdefa123456789abcdef
  endlan
  chassis_control "$d/chassis"
  user 2 true "admin" "$pw" admin 10 md5 straight
LAN
	if [ -n "${BMC_CONSOLE:-}" ]; then
		echo "  console 127.0.0.1 $BMC_CONSOLE" >>"$d/lan.conf"
		echo "$BMC_CONSOLE" >"$d/console"
	fi
	{
		printf 'mc_setbmc 0x20\nmc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr\nsel_enable 0x20 1000 0x0a\n'
		if [ -n "${BMC_EMU_EXTRA:-}" ]; then printf '%s\n' "$BMC_EMU_EXTRA"; fi
		printf 'mc_enable 0x20\n'
	} >"$d/node.emu"
	"${BMC_NSX[@]}" ipmi_sim -c "$d/lan.conf" -f "$d/node.emu" -s "$d/state" -n >>"$d/sim.log" 2>&1 &
	BMC_PID=$!
	BMC_PIDS+=("$BMC_PID")
	BMC_DIRS+=("$d")
	local i
	# -C 3: without it ipmitool asks for the cipher suites, which ipmi_sim
	# does not answer, and waits 10 s before it goes on with suite 3.
	for i in $(seq 50); do
		"${BMC_NSX[@]}" ipmitool -I lanplus -C 3 -H 127.0.0.1 -p "$port" -U admin -P "$pw" mc info >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	echo "ipmi_sim on port $port did not answer" >&2
	return 1
}
# bmc_console DIR COMMAND: runs one emulator command (ipmi_sim_cmd(5), e.g.
# sensor_set_value) in the console of the BMC (started with BMC_CONSOLE) and
# returns once the BMC has run it; fails with its complaint, if any.
bmc_console() {
	local fd out
	exec {fd}<>"/dev/tcp/127.0.0.1/$(cat "$1/console")"
	printf '%s\n' "$2" >&"$fd"
	# The console prompts with ">" when it is ready: once before the
	# command, once after it ran.
	read -r -t 5 -d '>' out <&"$fd" || true
	if ! read -r -t 5 -d '>' out <&"$fd"; then
		exec {fd}>&-
		echo "BMC console: no answer to $2" >&2
		return 1
	fi
	exec {fd}>&-
	if [[ "$out" == *'**'* ]]; then
		echo "BMC console: $2: ${out//$'\r'/}" >&2
		return 1
	fi
}
# bmc_vm_pid DIR: the pid of the BMC's QEMU process, or nothing.
bmc_vm_pid() {
	[ -s "$1/qemu.pid" ] && kill -0 "$(cat "$1/qemu.pid")" 2>/dev/null && cat "$1/qemu.pid"
	return 0
}
# bmc_wait_vm DIR yes|no: until the BMC's machine runs (or not), 20 s at most.
bmc_wait_vm() {
	local i
	for i in $(seq 100); do
		if [ "$2" = yes ] && [ -n "$(bmc_vm_pid "$1")" ]; then return 0; fi
		if [ "$2" = no ] && [ -z "$(bmc_vm_pid "$1")" ]; then return 0; fi
		sleep 0.2
	done
	return 1
}
BMC_PIDS=()
BMC_DIRS=()
BMC_NSX=()
# Stops every BMC and its machine (called by cleanup).
bmc_cleanup() {
	local p d
	for p in "${BMC_PIDS[@]}"; do
		kill -9 "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	for d in "${BMC_DIRS[@]}"; do
		[ -s "$d/qemu.pid" ] && kill -9 "$(cat "$d/qemu.pid")" 2>/dev/null || true
	done
	return 0
}
