#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Crash safety of rollouts: bootwaved is killed with SIGKILL at 50 random
# points while rollouts run, and restarted each time on the same address.
# Twelve machines (file-backed disks, the real agents, as in test_rollout)
# over two zones, three update domains and six fault domains keep booting
# in the background throughout: they ask for their boot script, run the
# reimage agent or send heartbeats, and simply retry while bootwaved is down.
# At the end, through the API: every rollout finished, every node is
# accounted for and runs what its phase says, and every rule held in every
# batch (size, one update domain, one zone, one node per fault domain, one
# batch at a time); the data disks are untouched.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/rollout-lib.sh"
[ "$(id -u)" -eq 0 ] || { echo "test_rollout_crash needs root (as test_agent)" >&2; exit 1; }

KILLS=${KILLS:-50}
BUILD_DIR=$(cd "$BW_BIN/../.." && pwd)
AGENT=$BW_BIN/bootwave-agent
cat >>"$CONF" <<EOF
[boot]
firmware_dir = $BUILD_DIR/firmware
[agent]
slot_size = 16M
[orch]
interval = 1
EOF
start_daemon
# The same address after every restart: the machines keep asking it.
sed -i "s/^listen = .*/listen = $(cat "$T/port")/" "$CONF"

N=12
NODES=$(seq -f 'n%g' 1 $N | tr '\n' ' ')
mac_of() { printf '52:54:00:ce:00:%02x' "${1#n}"; }
machines_disks 64M
for v in v1 v2 v3 v4 v5 v6 v7 v8; do
	os_tree "$T/$v" "$v"
	tar -C "$T/$v" -czf "$T/$v.tar.gz" .
done
rollout_fleet

# The machines, in the background until the end (rollout-lib.sh).
machines_start
trap 'machines_kill; cleanup' EXIT

running() { [ "$(bw -o json rollout status p1 2>/dev/null | jq -r .status)" = RollingForward ]; }
bw_rc 0 rollout start p1
next=2
kills=0
start=$SECONDS
while [ $kills -lt "$KILLS" ] || running; do
	[ $((SECONDS - start)) -lt 900 ] || { fail "rollouts did not finish within 900 s"; break; }
	if [ $kills -lt "$KILLS" ]; then
		# A random point: 0.1 to 2.5 s into whatever bootwaved is doing.
		sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.2f", 0.1 + 2.4 * r / 32768 }')"
		crash_daemon
		kills=$((kills + 1))
		start_daemon
	else
		sleep 1
	fi
	# When one finished, the next version: published, so the pool's rollout starts by itself.
	if ! running && [ $next -le 8 ] && [ $kills -lt "$KILLS" ]; then
		bw -q image publish os "v$next" "$T/v$next.tar.gz" || true
		next=$((next + 1))
	fi
done
machines_stop
last=v$((next - 1))
echo "   $kills kills of bootwaved during $((next - 1)) rollouts in $((SECONDS - start)) s"
check_eq "every kill done" "$KILLS" "$kills"

# ---- the verdict, through the API ----
# Batch size 3 (25% of 12), one update domain, one zone, one node per fault domain.
rollout_verdict p1 "$last" 3
check_eq "none faulted" "" "$(jq -r '.[] | select(.status == "Faulted") | "\(.id) \(.error_code)"' <<<"$HIST")"
for n in $NODES; do
	check_eq "$n: data disk unchanged" "$(cat "$T/$n/data.sum")" "$(sha256sum <"$T/$n/dev/vdb" | cut -d' ' -f1)"
done
echo "   results: $(jq -r 'map("\(.version) \(.status) ok \(.progress.successful) skipped \(.progress.skipped) failed \(.progress.failed)") | join("; ")' <<<"$HIST")"
finish
