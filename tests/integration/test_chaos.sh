#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Chaos during a rollout. Twelve simulated machines (rollout-lib.sh:
# file-backed disks, the real agents, as in test_rollout_crash) are
# provisioned with v1, their data partitions get data, and v2 is published
# to the pool (auto_upgrade). While that rollout runs, for real:
#   - bootwaved is killed with SIGKILL and restarted, a few times;
#   - the store's disk stalls: the state directory is an ext4 image on a
#     loop device, frozen with fsfreeze for several seconds; the API may be
#     slow then, but must answer again after, with nothing lost;
#   - BMC answers are dropped: n3 and n9 have Redfish BMCs (redfish_sim),
#     stopped with SIGSTOP from the rollout's start until well past
#     [bmc] timeout x attempts after their own batch began, so their power
#     cycle and health polls get no answer;
#   - a node's network is cut mid-download: n5 runs in a network namespace
#     of its own behind a veth (rate-limited with tbf so that the download
#     lasts seconds), set down once its task shows bytes written, for longer
#     than [agent] stall_timeout, then up again (its agent gives up, zeroes
#     the slot's start and reports failure: the node is failed and rolled
#     back, per the pool's rules);
#   - a node is powered off mid-write: n8 (in its own namespace too) has
#     its agent killed with SIGKILL once its task shows bytes written, and
#     boots again 3 s later (its next agent writes the slot again).
# bootwaved runs in a network namespace of its own (so the veths touch
# nothing of the host). At the end, through the API: the rollouts ended
# (Completed, or Faulted by a rule it names), every node is accounted for
# and runs what its phase says, every rule held in every batch
# (rollout_verdict); the slot each node boots holds the version it is said
# to run (read with debugfs), no data disk nor data partition changed
# (sha256), bootwaved stops cleanly and the store passes integrity_check.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/rollout-lib.sh"
[ "$(id -u)" -eq 0 ] || { echo "test_chaos needs root (loop mounts, namespaces)" >&2; exit 1; }
PATH=$PATH:/usr/sbin:/sbin
for c in fsfreeze losetup tc debugfs sgdisk; do
	command -v $c >/dev/null || { echo "test_chaos needs $c (scripts/setup-deps test)" >&2; exit 1; }
done

KILLS=${KILLS:-3}
FREEZE_S=8     # the store's disk stalls this long (< stall_timeout: downloads wait)
CUT_S=20       # n5's link is down this long (> stall_timeout)
STALL_S=12     # [agent] stall_timeout
BMC_TIMEOUT=2  # [bmc] timeout; with retries = 1: two attempts
BUILD_DIR=$(cd "$BW_BIN/../.." && pwd)
AGENT=$BW_BIN/bootwave-agent
SIM=$(cd "$BW_BIN/../tests" && pwd)/redfish_sim
MOCKUP=$(cd "$(dirname "$0")/.." && pwd)/redfish/public-rackmount1
[ -x "$SIM" ] || { echo "missing $SIM (make build-<variant>)" >&2; exit 1; }

# bootwaved in a namespace of its own, with loopback only, until the veths come.
S=bwch$RUN_ID
netns_add "$S"
NSX=(ip netns exec "$S")

# The store on a file system of its own, to freeze.
truncate -s 128M "$T/store.img"
mkfs.ext4 -q -F "$T/store.img"
mkdir -p "$STATE"
mount -o loop "$T/store.img" "$STATE"
FROZEN=
cleanup_mounts() {
	local i
	for i in $(seq 50); do
		mountpoint -q "$STATE" || return 0
		umount "$STATE" 2>/dev/null && return 0
		sleep 0.1
	done
	umount -l "$STATE" 2>/dev/null || true
}
SIM_PIDS=()
WATCH_PIDS=()
on_exit() {
	local p
	[ -n "$FROZEN" ] && fsfreeze -u "$STATE" 2>/dev/null
	for p in "${WATCH_PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	for p in "${SIM_PIDS[@]}"; do kill -CONT "$p" 2>/dev/null || true; kill -9 "$p" 2>/dev/null || true; done
	machines_kill
	cleanup
}
trap on_exit EXIT

sed -i 's/^listen = .*/listen = 0.0.0.0:0/' "$CONF"
cat >>"$CONF" <<EOF
[boot]
firmware_dir = $BUILD_DIR/firmware
[agent]
slot_size = 16M
stall_timeout = $STALL_S
[orch]
interval = 1
[bmc]
timeout = $BMC_TIMEOUT
retries = 1
min_poll = 0
EOF
start_daemon
sed -i "s/^listen = .*/listen = $(cat "$T/port")/" "$CONF"
PORT=${URL##*:}

N=12
NODES=$(seq -f 'n%g' 1 $N | tr '\n' ' ')
mac_of() { printf '52:54:00:cf:00:%02x' "${1#n}"; }
machines_disks 40M # slots a and b, 6 MiB of data partition
# 3 MB that do not compress: at 2 Mbit/s, n5 and n8 download for 12 s.
for v in v1 v2; do
	os_tree "$T/$v" "$v"
	head -c 3000000 /dev/urandom >"$T/$v/blob"
	tar -C "$T/$v" -czf "$T/$v.tar.gz" .
done

# machine_net N SUBNET: machine N in a namespace of its own, on a veth to
# bootwaved's (10.77.SUBNET.1 there, .2 on its side), bootwaved's side
# limited to 2 Mbit/s.
machine_net() {
	local ns=bw$1$RUN_ID v=v$1$RUN_ID
	netns_add "$ns"
	ip -n "$S" link add "$v" type veth peer name eth0 netns "$ns"
	ip -n "$S" addr add "10.77.$2.1/24" dev "$v"
	ip -n "$S" link set "$v" up
	ip -n "$ns" addr add "10.77.$2.2/24" dev eth0
	ip -n "$ns" link set eth0 up
	ip netns exec "$S" tc qdisc add dev "$v" root tbf rate 2mbit burst 32kbit latency 500ms
	MACHINE_NS[$1]=$ns
	MACHINE_URL[$1]=http://10.77.$2.1:$PORT
	VETH[$1]=$v
}
declare -A VETH SIM_PID SIM_PORT
machine_net n5 51
machine_net n8 81

# start_bmc N: a Redfish BMC for node N in bootwaved's namespace.
printf 'chaos-Pw-1' >"$T/bmc.pw"
start_bmc() {
	"${NSX[@]}" "$SIM" --root "$MOCKUP" --port 0 --user admin --password chaos-Pw-1 --portfile "$T/$1.bmcport" \
		>"$T/$1.bmc.log" 2>&1 &
	SIM_PID[$1]=$!
	SIM_PIDS+=($!)
	for _ in $(seq 100); do [ -s "$T/$1.bmcport" ] && break; sleep 0.05; done
	[ -s "$T/$1.bmcport" ] || { echo "redfish_sim for $1 did not start" >&2; exit 1; }
	SIM_PORT[$1]=$(cat "$T/$1.bmcport")
}
BMC_NODES="n3 n9"
for n in $BMC_NODES; do start_bmc "$n"; done

# node_args N (rollout_fleet): the BMC of the nodes that have one.
node_args() {
	[[ " $BMC_NODES " == *" $1 "* ]] || return 0
	echo "--bmc-driver redfish --bmc-address 127.0.0.1 --bmc-port ${SIM_PORT[$1]} --bmc-username admin" \
		"--bmc-password-file $T/bmc.pw --bmc-scheme http"
}
rollout_fleet

status() { timeout 10 "${NSX[@]}" "$BW_BIN/bootwave" -o json rollout status p1 2>/dev/null || true; }
running() { [ "$(status | jq -r .status 2>/dev/null)" = RollingForward ]; }
ended() { ! running && [ -n "$(status)" ]; }

# ---- v1: first provisioning, no chaos ----
machines_start
t0=$SECONDS
bw_rc 0 rollout start p1
wait_for "v1 rollout ended" 300 ended
echo "   v1 provisioned in $((SECONDS - t0)) s: $(status | jq -c '{status, progress}')"

# data_part_sum N: the sha256 of the bw-data partition of N's OS disk.
part_range() { sgdisk -p "$T/$1/dev/vda" | awk -v l="$2" '$7 == l { print $2 * 512, ($3 - $2 + 1) * 512 }'; }
data_part_sum() {
	local r
	r=$(part_range "$1" bw-data)
	[ -n "$r" ] || { echo none; return; }
	dd if="$T/$1/dev/vda" bs=1M skip="${r% *}" count="${r#* }" iflag=skip_bytes,count_bytes 2>/dev/null | sha256sum | cut -d' ' -f1
}
# Data of their own in every data partition (nothing runs on the nodes that mounts it).
for n in $NODES; do
	r=$(part_range "$n" bw-data)
	if [ -z "$r" ]; then fail "$n: no data partition after v1"; continue; fi
	head -c 1000000 /dev/urandom | dd of="$T/$n/dev/vda" bs=1M seek="${r% *}" oflag=seek_bytes conv=notrunc 2>/dev/null
	data_part_sum "$n" >"$T/$n/part.sum"
done

# ---- v2, with chaos ----
phase_in() { jq -r --arg n "$2" '.nodes[]? | select(.node == $n) | .phase' <<<"$1" 2>/dev/null || true; }

# The network cut and the power cut, each watched by a process of its own
# (the main loop is busy with the rest): once the node's v2 task shows bytes
# written, through the API. Each writes what it did to $T/NODE.fault.
writing() {
	"${NSX[@]}" curl -sS --max-time 3 -H "Authorization: Bearer $ADMIN" "$URL/api/v1/nodes/$1/tasks" 2>/dev/null |
		jq -e '[(.items // .)[] | select(.version == "v2" and .state == "running" and (.bytes_done // 0) > 0)] | length > 0' >/dev/null 2>&1
}
watch_fault() { # watch_fault NODE ACTION
	while [ ! -e "$T/stop" ]; do
		if writing "$1"; then "$2" "$1"; return 0; fi
		sleep 0.3
	done
}
cut_net() {
	local b
	b=$(curl_tasks_bytes "$1")
	ip -n "$S" link set "${VETH[$1]}" down
	sleep "$CUT_S"
	ip -n "$S" link set "${VETH[$1]}" up
	echo "network cut for $CUT_S s at ${b:-?} bytes written" >"$T/$1.fault"
}
power_cut() {
	local pid b
	b=$(curl_tasks_bytes "$1")
	pid=$(machine_power_off "$1")
	sleep 3
	machine_power_on "$1"
	echo "powered off for 3 s at ${b:-?} bytes written${pid:+ (agent $pid killed)}" >"$T/$1.fault"
}
curl_tasks_bytes() {
	"${NSX[@]}" curl -sS --max-time 3 -H "Authorization: Bearer $ADMIN" "$URL/api/v1/nodes/$1/tasks" 2>/dev/null |
		jq -r '[(.items // .)[] | select(.version == "v2") | .bytes_done // 0] | max' 2>/dev/null || true
}
watch_fault n5 cut_net &
WATCH_PIDS=($!)
watch_fault n8 power_cut &
WATCH_PIDS+=($!)

for n in $BMC_NODES; do kill -STOP "${SIM_PID[$n]}"; done
bmc_frozen=$BMC_NODES
declare -A bmc_since
bw_rc 0 image publish os v2 "$T/v2.tar.gz"
t0=$SECONDS
kills=0 froze=0
next_kill=$((SECONDS + 4 + RANDOM % 6))
while :; do
	[ $((SECONDS - t0)) -lt 600 ] || { fail "the v2 rollout did not end within 600 s"; break; }
	js=$(status)
	st=$(jq -r .status <<<"$js" 2>/dev/null || true)
	if [ "$st" != RollingForward ] && [ -n "$st" ] && [ -z "$bmc_frozen" ] && [ $kills -ge "$KILLS" ]; then break; fi
	# BMCs: answered again once their node's batch began more than timeout x 2 attempts + backoff ago,
	# even when the rollout ended sooner (a simulated machine netboots by itself: its phase may
	# succeed within seconds, while bootwaved still waits on the BMC); or at the rollout's end,
	# if their node's batch never began.
	for n in $bmc_frozen; do
		ph=$(phase_in "$js" "$n")
		if [ -n "$ph" ] && [ "$ph" != pending ] && [ -z "${bmc_since[$n]:-}" ]; then bmc_since[$n]=$SECONDS; fi
		if { [ -n "${bmc_since[$n]:-}" ] && [ $((SECONDS - bmc_since[$n])) -ge $((BMC_TIMEOUT * 2 + 4)) ]; } ||
			{ [ -z "${bmc_since[$n]:-}" ] && [ -n "$st" ] && [ "$st" != RollingForward ]; }; then
			kill -CONT "${SIM_PID[$n]}"
			bmc_frozen=$(tr ' ' '\n' <<<"$bmc_frozen" | grep -vx "$n" | tr '\n' ' ' | xargs || true)
			echo "   $n: its BMC answered nothing for $((SECONDS - t0)) s (phase $ph)"
		fi
	done
	# The store's disk stalls, once some nodes are done and others in flight.
	if [ $froze -eq 0 ] && [ "$(jq -r '.progress.successful // 0' <<<"$js" 2>/dev/null)" -ge 2 ]; then
		froze=1
		sync
		fsfreeze -f "$STATE"
		FROZEN=1
		f0=$(date +%s%3N)
		# An API call during the stall: slow or failing, but it must not hang past its timeout.
		rc=0
		"${NSX[@]}" curl -sS --max-time 4 -o /dev/null -H "Authorization: Bearer $ADMIN" "$URL/api/v1/pools/p1/rollout" \
			2>"$T/freeze.err" || rc=$?
		echo "   store frozen: an API call during the stall ended with curl exit $rc ($(head -c 100 "$T/freeze.err"))"
		sleep "$(awk -v t="$FREEZE_S" -v e="$(($(date +%s%3N) - f0))" 'BEGIN { s = t - e / 1000; print (s > 0 ? s : 0) }')"
		fsfreeze -u "$STATE"
		FROZEN=
		check_eq "bootwaved lived through the stalled store" "yes" "$(kill -0 "$DAEMON_PID" 2>/dev/null && echo yes || echo no)"
		WAIT_EVERY=0.2 wait_for "the API answers after the stall" 30 eval '[ -n "$(status)" ]' &&
			echo "   store frozen for $FREEZE_S s; the API answered again $WAITED s after"
		continue
	fi
	# bootwaved killed at random points, a few times.
	if [ $kills -lt "$KILLS" ] && [ $SECONDS -ge $next_kill ]; then
		crash_daemon
		kills=$((kills + 1))
		start_daemon
		next_kill=$((SECONDS + 4 + RANDOM % 8))
		continue
	fi
	sleep 0.5
done
echo "   v2 rollout with chaos ended in $((SECONDS - t0)) s: $(status | jq -c '{status, error_code, progress}')"
check_eq "bootwaved killed $KILLS times" "$KILLS" "$kills"
check_eq "the store was frozen" "1" "$froze"
# The machines settle: a node rolled back or failed still boots its old slot.
sleep 3
machines_stop # (the watchers too)
for p in "${WATCH_PIDS[@]}"; do wait "$p" || true; done
for n in n5 n8; do
	check_eq "$n: its fault came mid-download" "yes" "$([ -s "$T/$n.fault" ] && echo yes || echo no)"
	echo "   $n: $(cat "$T/$n.fault" 2>/dev/null || echo 'no fault: its download was never seen')"
done

# ---- the verdict ----
rollout_verdict p1 v2 3
check_eq "each rollout Completed, or Faulted by a rule it names" "" \
	"$(jq -r '.[] | select(.status != "Completed" and (.status != "Faulted" or (.error_code // "") == "")) | "\(.id) \(.status)"' <<<"$HIST")"
for n in $BMC_NODES; do
	check_contains "$n: bootwaved saw its BMC not answer" "failed" \
		"$(bw -o json node events "$n" | jq -r '.[] | select(.kind == "bmc") | .message' | tr '\n' ' ')"
done
grep -v -E 'peak RSS|: (checking|mkfs|extracting|verifying)$' "$T/n5/agent.log" | tail -n 6 | sed 's/^/     n5 agent: /' || true
# The slot each node boots holds what it is said to run.
for n in $NODES; do
	x=$(bw -o json node show "$n")
	slot=$(jq -r .active_slot <<<"$x")
	r=$(part_range "$n" "bw-os-$slot")
	dd if="$T/$n/dev/vda" of="$T/slot.img" bs=1M skip="${r% *}" count="${r#* }" iflag=skip_bytes,count_bytes 2>/dev/null
	check_eq "$n: slot $slot holds $(jq -r .installed_version <<<"$x")" "VERSION_ID=$(jq -r .installed_version <<<"$x")" \
		"$(debugfs -R 'cat /etc/os-release' "$T/slot.img" 2>/dev/null)"
	check_eq "$n: data disk unchanged" "$(cat "$T/$n/data.sum")" "$(sha256sum <"$T/$n/dev/vdb" | cut -d' ' -f1)"
	check_eq "$n: data partition unchanged" "$(cat "$T/$n/part.sum")" "$(data_part_sum "$n")"
done
api GET /api/v1/pools/p1/rollout
echo "   v2 phases: $(jq -r '[.nodes[] | "\(.node) \(.phase)"] | join(", ")' <<<"$BODY")"
stop_daemon
for p in "${SIM_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
SIM_PIDS=()
check_eq "the store passes integrity_check" "ok" "$(sqlite3 "$DB" 'PRAGMA integrity_check')"
echo "   results: $(jq -r 'map("\(.version) \(.status) ok \(.progress.successful) skipped \(.progress.skipped) failed \(.progress.failed) rolled back \(.rollback.rolled_back // 0)") | join("; ")' <<<"$HIST")"
finish
