#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A BMC that answers late must not power cycle a machine that has already
# netbooted. A rollout asks the node's BMC (redfish_sim) for "boot device
# pxe (once)" then "power cycle", in that order; here the BMC is stopped
# (SIGSTOP) when the rollout starts, so the first job waits on it, and
# meanwhile the machine netboots by itself (as a machine rebooting anyway
# does) and its agent writes the image. Then the BMC answers again. The
# power cycle, asked before the machine booted, is not sent: the node's
# events say it was skipped and why, the BMC saw no reset, and the rollout
# completes once the node reports healthy. (Found by test_chaos: the late
# cycle rebooted a node already committed while the rollout went on.)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/rollout-lib.sh"
[ "$(id -u)" -eq 0 ] || { echo "test_bmc_late needs root (as test_agent)" >&2; exit 1; }

BUILD_DIR=$(cd "$BW_BIN/../.." && pwd)
AGENT=$BW_BIN/bootwave-agent
SIM=$(cd "$BW_BIN/../tests" && pwd)/redfish_sim
MOCKUP=$(cd "$(dirname "$0")/.." && pwd)/redfish/public-rackmount1
[ -x "$SIM" ] || { echo "missing $SIM (make build-<variant>)" >&2; exit 1; }
cat >>"$CONF" <<EOF
[boot]
firmware_dir = $BUILD_DIR/firmware
[agent]
slot_size = 16M
[orch]
interval = 1
[bmc]
timeout = 5
retries = 1
min_poll = 0
EOF
start_daemon

"$SIM" --root "$MOCKUP" --port 0 --user admin --password late-Pw-1 --portfile "$T/bmc.port" >"$T/bmc.log" 2>&1 &
SIM_PID=$!
trap 'kill -CONT $SIM_PID 2>/dev/null; kill $SIM_PID 2>/dev/null; cleanup' EXIT
for _ in $(seq 100); do [ -s "$T/bmc.port" ] && break; sleep 0.05; done
[ -s "$T/bmc.port" ] || { echo "redfish_sim did not start" >&2; exit 1; }
printf 'late-Pw-1' >"$T/bmc.pw"
resets() { curl -sS --max-time 5 "http://127.0.0.1:$(cat "$T/bmc.port")/sim/stats" | jq -c '.resets // {}'; }

NODES=n1
mac_of() { echo 52:54:00:1a:7e:01; }
machines_disks 64M
os_tree "$T/v1" v1
tar -C "$T/v1" -czf "$T/v1.tar.gz" .
bw -q image create os
bw_rc 0 image publish os v1 "$T/v1.tar.gz"
bw -q site create s1
bw -q zone create z1 --site s1
bw_rc 0 pool create p1 --image os --image-version v1 --health-timeout 120 --heartbeat-timeout 600
bw_rc 0 node create n1 --mac "$(mac_of n1)" --os-disk /dev/vda --data-disks /dev/vdb --pool p1 --zone z1 \
	--bmc-driver redfish --bmc-address 127.0.0.1 --bmc-port "$(cat "$T/bmc.port")" --bmc-username admin \
	--bmc-password-file "$T/bmc.pw" --bmc-scheme http
check_eq "the BMC has seen no reset yet" "{}" "$(resets)"

kill -STOP $SIM_PID
bw_rc 0 rollout start p1
task_state() { bw -o json node tasks n1 | jq -r 'max_by(.id) | .state // empty'; }
WAIT_EVERY=0.2 wait_for "the rollout's task for n1" 30 eval '[ -n "$(task_state)" ]'
# The machine netboots by itself while bootwaved still waits on its BMC.
machine_boot n1
check_eq "the machine's agent wrote the image (the BMC still silent)" "succeeded" "$(task_state)"
kill -CONT $SIM_PID
bmc_events() { bw -o json node events n1 | jq -r '.[] | select(.kind == "bmc") | .message'; }
wait_for "both BMC jobs ended" 60 eval '[ "$(bmc_events | grep -c "boot device\|power cycle")" -ge 2 ]'
echo "   n1's BMC events: $(bmc_events | tr '\n' ';')"
check_contains "the power cycle was skipped, and why" \
	"power cycle skipped: the machine already netbooted: its task" "$(bmc_events)"
check_not_contains "no power cycle was sent" "power cycle failed" "$(bmc_events)"
sleep 2 # (a request the BMC took while stopped is answered by now)
check_eq "the BMC saw no reset" "{}" "$(resets)"

# The next boot: the new slot, whose heartbeat commits it; the rollout completes.
machine_boot n1
wait_for "the rollout completed" 60 eval '[ "$(bw -o json rollout status p1 | jq -r .status)" = Completed ]'
check_eq "n1 runs v1" "v1 active" "$(bw -o json node show n1 | jq -r '"\(.installed_version) \(.state)"')"
check_eq "data disk unchanged" "$(cat "$T/n1/data.sum")" "$(sha256sum <"$T/n1/dev/vdb" | cut -d' ' -f1)"
stop_daemon
finish
