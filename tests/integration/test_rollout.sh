#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Rollouts through bootwaved's orchestrator, with real agents: four
# machines whose disks are files (as in test_agent), in one pool over two
# update domains. The machines do what a netbooting server does: ask
# bootwaved for their boot script, run the reimage agent when it says so,
# and once booted send heartbeats with the heartbeat agent (its probe
# fails on version v4, the broken one). They have no BMC, so bootwaved waits for
# them to boot by themselves. Asserted through the CLI and the API only:
# first provisioning by a manual rollout, one node per batch and update
# domains in order; an automatic rollout when a new latest is published to
# a pool with auto_upgrade; a broken version rolled back on its first node,
# and the rollout Faulted by the upgraded-unhealthy rule; cancel; history;
# the bad inputs; and the data of every node untouched throughout.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" -eq 0 ] || { echo "test_rollout needs root (as test_agent)" >&2; exit 1; }

BUILD_DIR=$(cd "$BW_BIN/../.." && pwd)
AGENT=$BW_BIN/bootwave-agent
cat >>"$CONF" <<EOF
[boot]
firmware_dir = $BUILD_DIR/firmware
[agent]
slot_size = 24M
[orch]
interval = 1
EOF
start_daemon

NODES="n1 n2 n3 n4"
mac_of() { printf '52:54:00:cd:00:%02x' "${1#n}"; }
for n in $NODES; do
	mkdir -p "$T/$n/dev"
	truncate -s 96M "$T/$n/dev/vda" # blank: first provisioning makes the layout
	mkdir -p "$T/$n/files"
	head -c 1000000 /dev/urandom >"$T/$n/files/db.bin"
	ext4_image "$T/$n/files" "$T/$n/dev/vdb" 8M
	sha256sum <"$T/$n/dev/vdb" | cut -d' ' -f1 >"$T/$n/data.sum"
done

for v in v1 v2 v3 v4; do
	os_tree "$T/$v" "$v"
	head -c 300000 /dev/urandom >"$T/$v/blob"
	tar -C "$T/$v" -czf "$T/$v.tar.gz" .
done
bw -q image create os
bw_rc 0 image publish os v1 "$T/v1.tar.gz"
bw_rc 0 pool create p1 --image os --image-version latest --auto-upgrade false --health-timeout 15 \
	--heartbeat-timeout 600 --max-unhealthy-upgraded-percent 20
ud=0
for n in $NODES; do
	bw_rc 0 node create "$n" --mac "$(mac_of "$n")" --os-disk /dev/vda --data-disks /dev/vdb --pool p1 \
		--update-domain $((ud++ / 2))
done

# machines: one round of every machine. The boot script says what it runs
# now: the agent (reimage) or the installed OS (heartbeats).
machines() {
	local n mac script cmdline probe
	for n in $NODES; do
		mac=$(mac_of "$n")
		script=$(curl -sS "$URL/boot/${mac//:/-}.ipxe")
		cmdline=$(grep -o 'bootwave\.[a-z]*=[^ ]*' <<<"$script" | tr '\n' ' ' || true)
		echo "$cmdline" >"$T/$n/cmdline"
		if grep -q 'bootwave\.token=' <<<"$script"; then
			"$AGENT" --cmdline "$T/$n/cmdline" --devroot "$T/$n" --no-reboot --retry 3 reimage \
				>>"$T/$n/agent.log" 2>&1 || true
		elif grep -q 'bootwave\.hbtoken=' <<<"$script"; then
			probe=true
			grep -q "/v4/kernel" <<<"$script" && probe=false
			"$AGENT" --cmdline "$T/$n/cmdline" --probe "$probe" --grace 0 --once heartbeat \
				>>"$T/$n/hb.log" 2>&1 || true
		fi
	done
}
status() { bw -o json rollout status p1 | jq -r "$1"; }
# run_machines_until JQ-CONDITION SECONDS: the machines run until the rollout status matches.
run_machines_until() {
	local end=$((SECONDS + $2))
	while [ $SECONDS -lt $end ]; do
		machines
		[ "$(status "$1")" = true ] && return 0
		sleep 0.3
	done
	fail "rollout: not $1 within $2 s: $(bw rollout status p1)"
}
# batches_ok: one node per batch (4 nodes: <= 5), update domain 0 before 1.
batches_ok() {
	local js
	js=$(bw -o json rollout status p1)
	check_eq "$1: one node per batch" "1" "$(jq '[.nodes[] | select(.batch > 0) | .batch] | group_by(.) | map(length) | max // 1' <<<"$js")"
	check_eq "$1: update domain 0 before 1" "n1 n2 n3 n4" "$(jq -r '[.nodes[] | select(.batch > 0)] | sort_by(.batch) | map(.node) | join(" ")' <<<"$js")"
}
data_ok() {
	for n in $NODES; do
		check_eq "$1: $n data disk unchanged" "$(cat "$T/$n/data.sum")" "$(sha256sum <"$T/$n/dev/vdb" | cut -d' ' -f1)"
	done
}

# ---- bad input ----
bw_rc 5 rollout cancel p1
check_contains "cancel with nothing running" "no rollout rolling forward" "$ERR"
bw_rc 3 rollout status p1
bw_rc 3 rollout start p1 --version v9
check_contains "unknown version" "no version 'v9'" "$ERR"
bw_rc 3 rollout start nosuchpool
bw_rc 2 rollout start
bw_rc 2 rollout history p1 --limit x

# ---- first provisioning: a manual rollout of v1 ----
bw_rc 0 -o json rollout start p1
check_eq "started by the user" "user admin" "$(jq -r '"\(.started_by) \(.started_by_name)"' <<<"$OUT")"
bw_rc 5 rollout start p1
check_contains "a second start is refused" "already has a rollout rolling forward" "$ERR"
run_machines_until '.status != "RollingForward"' 240
check_eq "v1: completed" "Completed 4 4" "$(status '"\(.status) \(.progress.successful) \(.batches)"')"
batches_ok "v1"
for n in $NODES; do
	check_eq "v1: $n runs v1 from slot a" "v1 a" "$(bw -o json node show $n | jq -r '"\(.installed_version) \(.active_slot)"')"
done
data_ok "v1"
bw_rc 0 -o json rollout start p1
check_eq "a rollout with every node on the target skips them all" "4" "$(jq -r .progress.skipped <<<"$OUT")"
run_machines_until '.status == "Completed"' 30

# ---- automatic: publishing a new latest to a pool with auto_upgrade; canaries first ----
# Two hardware models: the canaries are the first node of each (n1, then n3
# of update domain 1), one at a time, then 4 s of bake, then the waves.
for n in n1 n2; do bw -q node set $n --hw-model r650; done
for n in n3 n4; do bw -q node set $n --hw-model r750; done
bw_rc 0 pool set p1 --auto-upgrade true --canary true --canary-bake 4
# The live view of the next rollout (without a terminal: a line per change).
bw rollout watch p1 --wait --interval 1 >"$T/watch-v2" 2>&1 &
watch_pid=$!
sleep 1.5
check_contains "watch: waits for the next rollout" "rollout 2 ended Completed; waiting for the next one" "$(cat "$T/watch-v2")"
bw_rc 0 image publish os v2 "$T/v2.tar.gz"
check_eq "v2: started by the platform" "platform v2 RollingForward" "$(status '"\(.started_by) \(.version) \(.status)"')"
run_machines_until '.status != "RollingForward"' 240
check_eq "v2: completed" "Completed 4" "$(status '"\(.status) \(.progress.successful)"')"
js=$(bw -o json rollout status p1)
check_eq "v2: canaries of each model first, then the rest" "n1 n3 n2 n4" \
	"$(jq -r '[.nodes[] | select(.batch > 0)] | sort_by(.batch) | map(.node) | join(" ")' <<<"$js")"
check_eq "v2: the wave waited for the bake" "yes" "$(jq -r '
	([.nodes[] | select(.batch == 2)][0].finished_at) as $c | ([.nodes[] | select(.batch == 3)][0].started_at) as $w |
	if $w - $c >= 4 then "yes" else "no: \($w - $c) s" end' <<<"$js")"
bw_rc 0 pool set p1 --canary false
rc=0
timeout 10 tail --pid=$watch_pid -f /dev/null || rc=$?
wait $watch_pid || rc=$?
out=$(cat "$T/watch-v2")
check_eq "watch: ends with the rollout, 0 when Completed" "0" "$rc"
check_contains "watch: the rollout's headline" "rollout 3 of pool p1: os v2, RollingForward (by platform" "$out"
check_contains "watch: a node's phases as they change" "n3 (zone -, rack -, UD 1): batch 2, booting" "$out"
check_contains "watch: ... until it succeeded" "n3 (zone -, rack -, UD 1): batch 2, succeeded" "$out"
check_contains "watch: the last view, by zone and rack" "n4    0      1  v2 (slot b)  active         Healthy          4  succeeded" "$out"
check_contains "watch: the end" "os v2, Completed (by platform" "$out"
bw_rc 0 -o json rollout watch p1
check_eq "watch: nothing running, -o json ignored, it shows the last and ends" "0" "$(grep -c RollingForward <<<"$OUT")"
bw_rc 2 rollout watch p1 --interval 0
check_contains "watch: a bad interval" "unexpected \"--interval\"" "$ERR"
bw_rc 3 rollout watch nosuchpool
for n in $NODES; do
	check_eq "v2: $n runs v2 from slot b" "v2 b" "$(bw -o json node show $n | jq -r '"\(.installed_version) \(.active_slot)"')"
done
data_ok "v2"
# A version excluded from latest starts nothing.
bw_rc 0 image publish os v3 "$T/v3.tar.gz" --exclude-from-latest
sleep 2
check_eq "an excluded version starts no rollout" "v2 Completed" "$(status '"\(.version) \(.status)"')"

# ---- a broken version (v4: its probe fails): rolled back, and the rollout stops ----
bw rollout watch p1 --wait --interval 1 >"$T/watch-v4" 2>&1 &
watch_pid=$!
bw_rc 0 image publish os v4 "$T/v4.tar.gz"
run_machines_until '.status != "RollingForward"' 240
rc=0
wait $watch_pid || rc=$?
check_eq "watch: 1 when the rollout Faulted" "1" "$rc"
check_contains "watch: the rollback" "n1 (zone -, rack -, UD 0): batch 1, rolled-back: not healthy within health_timeout" "$(cat "$T/watch-v4")"
js=$(bw -o json rollout status p1)
check_eq "broken: Faulted by the upgraded-unhealthy rule" \
	"Faulted MaxUnhealthyUpgradedInstancePercentExceededInRollingUpgrade" "$(jq -r '"\(.status) \(.error_code)"' <<<"$js")"
check_eq "broken: one node rolled back, three never touched" "1 0 3" \
	"$(jq -r '"\(.rollback.rolled_back) \(.rollback.failed) \(.progress.pending)"' <<<"$js")"
check_contains "broken: the reason names the health gate" "not healthy within health_timeout (15 s): heartbeat Unhealthy" \
	"$(jq -r '.nodes[] | select(.node == "n1") | .reason' <<<"$js")"
for n in $NODES; do
	check_eq "broken: $n runs v2 from slot b" "v2 b" "$(bw -o json node show $n | jq -r '"\(.installed_version) \(.active_slot)"')"
done
machines
check_eq "broken: n1 is Healthy again on v2" "Healthy" "$(bw -o json node show n1 | jq -r .health)"
data_ok "broken"

# ---- cancel: the batch in flight finishes, no new one starts ----
bw_rc 0 rollout start p1 --version v3
bw_rc 0 -o json rollout cancel p1
check_eq "cancel asked" "true" "$(jq -r .cancel_requested <<<"$OUT")"
run_machines_until '.status != "RollingForward"' 120
check_eq "cancelled after its first batch" "Cancelled 1 1 3" \
	"$(status '"\(.status) \(.batches) \(.progress.successful) \(.progress.pending)"')"
check_eq "cancel: n1 on v3, n2 still on v2" "v3 v2" \
	"$(echo "$(bw -o json node show n1 | jq -r .installed_version) $(bw -o json node show n2 | jq -r .installed_version)")"

# ---- history ----
# A sixth rollout: v3 goes on (n1 is on it: skipped), outside its maintenance
# window first (no batch starts), then cancelled after one batch.
closed=$(date -u -d tomorrow +%a)
bw_rc 6 pool set p1 --maintenance-windows "Mon 25:00-26:00"
check_contains "a bad window is refused, saying why" "maintenance_windows: \"25:00-26:00\": expected HH:MM-HH:MM (UTC)" "$ERR"
bw_rc 0 pool set p1 --maintenance-windows "$closed 00:00-00:01"
bw_rc 0 rollout start p1 --version v3
for _ in 1 2 3; do machines; sleep 1; done
check_eq "outside the window: no batch" "RollingForward 0" "$(status '"\(.status) \(.batches)"')"
api GET /metrics
check_contains "metrics: the rollout's nodes by phase" 'bootwave_rollout_nodes{pool="p1",phase="pending"} 3' "$BODY"
bw_rc 0 pool set p1 --maintenance-windows "* 00:00-24:00"
run_machines_until '.batches >= 1' 60
bw_rc 0 rollout cancel p1
run_machines_until '.status != "RollingForward"' 120
check_eq "the sixth: n1 skipped, one batch" "Cancelled 1 1" "$(status '"\(.status) \(.progress.skipped) \(.batches)"')"
bw_rc 0 -o json rollout history p1
check_eq "history: the last 5 by default, newest first" "5 Cancelled" "$(jq -r '"\(length) \(.[0].status)"' <<<"$OUT")"
bw_rc 0 -o json rollout history p1 --limit 0
check_eq "history: all on request" "6" "$(jq length <<<"$OUT")"
api GET "/api/v1/pools/p1/rollouts?limit=2"
check_eq "history in the API" "200 2" "$STATUS $(jq length <<<"$BODY")"
id=$(jq -r '.[0].id' <<<"$BODY")
api GET "/api/v1/rollouts/$id"
check_eq "one rollout with its nodes" "200 4" "$STATUS $(jq '.nodes | length' <<<"$BODY")"
api_expect 400 invalid_query GET "/api/v1/pools/p1/rollouts?limit=-1"
api_expect 404 not_found GET "/api/v1/rollouts/999"
bw_rc 6 pool set p1 --max-batch-percent 0
check_contains "a policy out of range is refused" "max_batch_percent" "$ERR"
bw_rc 0 -o json node events n1
check_contains "the node's history names the rollout's phases" "rolling-back" "$OUT"

# ---- the pool's probe, run by bootwaved against the node ----
# n3 (on v2, first of update domain 1; n1 and n2 are on v3) answers on
# 127.0.0.1, where nothing listens on port 1.
bw_rc 0 node set n3 --ip-address 127.0.0.1
bw_rc 0 pool set p1 --health-probe tcp:1
bw_rc 0 rollout start p1 --version v3
run_machines_until '.status != "RollingForward"' 120
js=$(bw -o json rollout status p1)
# The probe fails on the previous version too: the rollback did not make it healthy.
check_eq "probe failing: n3 rollback-failed, Faulted" "Faulted rollback-failed" \
	"$(jq -r '"\(.status) \(.nodes[] | select(.node == "n3") | .phase)"' <<<"$js")"
check_contains "probe failing: the reason is the probe's" "probe failed: tcp 127.0.0.1:1: Connection refused" \
	"$(jq -r '.nodes[] | select(.node == "n3") | .reason' <<<"$js")"
# An HTTP probe that answers 200 (bootwaved's own chain script): the rollout goes through.
bw_rc 0 pool set p1 --health-probe "$URL/boot.ipxe"
bw_rc 0 rollout start p1 --version v3
run_machines_until '.status != "RollingForward"' 120
check_eq "probe passing: completed" "Completed 2 2" "$(status '"\(.status) \(.progress.successful) \(.progress.skipped)"')"
data_ok "the end"
finish
