#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# 50 IPMI BMCs (ipmi_sim instances on loopback ports, lib.sh ipmi_bmc)
# polled together through bootwaved: every call succeeds, and from the
# BMCs' side (their chassis_control programs log when each command starts
# and ends, CLOCK_MONOTONIC via date +%s%N) no BMC ever handles two
# commands at once; bootwaved's own counters stay within the per-BMC and
# global limits (4 sessions for 50 BMCs, so sessions are evicted and
# reused). ipmi_sim cannot report its sessions, so the global session count
# from the BMCs' side is asserted in test_bmc_fleet, with Redfish simulators.
. "$(dirname "$0")/lib.sh"
PATH=$PATH:/usr/sbin:/sbin
for t in ipmi_sim ipmitool; do
	command -v $t >/dev/null || { echo "test_ipmi_fleet needs $t (scripts/setup-deps rack)" >&2; exit 1; }
done
N=50
BASE=$((20000 + $$ % 4000 * 2))
export BMC_EVENTS=$T/events
: >"$BMC_EVENTS"
# The BMCs start in subshells (in parallel), out of cleanup's sight.
trap 'pkill -9 -f "ipmi_sim -c $T/" 2>/dev/null || true; cleanup' EXIT

start=$(date +%s%3N)
for i in $(seq $N); do
	ipmi_bmc "$T/bmc$i" $((BASE + i * 2)) "pw$i" -machine pc,accel=tcg -m 32 -display none -nodefaults &
done
wait
echo "   $N ipmi_sim BMCs answering after $(($(date +%s%3N) - start)) ms"
cat >>"$CONF" <<EOF
[bmc]
workers = 16
max_sessions = 4
min_poll = 0
retries = 1
timeout = 5
EOF
start_daemon
for i in $(seq $N); do
	echo "pw$i" >"$T/pw$i"
	bw -q node create "n$i" --mac "52:54:00:0f:$(printf '%02x' $((i / 256))):$(printf '%02x' $((i % 256)))" \
		--bmc-driver ipmi --bmc-address 127.0.0.1 --bmc-port $((BASE + i * 2)) --bmc-username admin \
		--bmc-password-file "$T/pw$i"
done
: >"$BMC_EVENTS"

# 3 rounds of power status and health on every node, 32 clients at once,
# node by node so that each BMC gets several jobs at the same time.
for i in $(seq $N); do for _ in 1 2 3; do echo "node power n$i status --fresh"; echo "node health n$i --fresh"; done; done >"$T/calls"
start=$(date +%s%3N)
rc=0
xargs -P 32 -L 1 "$BW_BIN/bootwave" -q <"$T/calls" >"$T/out" 2>"$T/err" || rc=$?
took=$(($(date +%s%3N) - start))
check_eq "all $((N * 6)) calls succeeded" "0" "$rc"
check_eq "no error output" "" "$(head -c 500 "$T/err")"

# The BMCs' side: per port, commands never overlap.
read -r per_bmc_max busy_max commands < <(sort -n -k1,1 -k3,3r "$BMC_EVENTS" | awk '
	$3 == "begin" { n[$2]++; if (n[$2] > m) m = n[$2]; busy += (n[$2] == 1); if (busy > bm) bm = busy; c++ }
	$3 == "end"   { n[$2]--; busy -= (n[$2] == 0) }
	END { print m + 0, bm + 0, c + 0 }')
check_eq "from the BMCs' side: one command at a time per BMC" "1" "$per_bmc_max"
check_eq "from the BMCs' side: no more BMCs busy at once than sessions" "yes" \
	"$([ "$busy_max" -le 4 ] && [ "$busy_max" -ge 1 ] && echo yes || echo "no: $busy_max")"
metrics=$(curl -sS -H "Authorization: Bearer $ADMIN" "$URL/metrics")
m() { awk -v n="$1" '$1 == n { print $2 }' <<<"$metrics"; }
check_eq "bootwaved: at most 4 sessions open at once" "yes" "$([ "$(m bootwave_bmc_sessions_open_max)" -le 4 ] && echo yes || echo no)"
check_eq "bootwaved: sessions were evicted for others" "yes" "$([ "$(m bootwave_bmc_evictions_total)" -gt 0 ] && echo yes || echo no)"
check_eq "bootwaved: sessions reused (fewer logins than jobs)" "yes" \
	"$([ "$(m bootwave_bmc_logins_total)" -lt "$(m bootwave_bmc_jobs_total)" ] && echo yes || echo no)"
echo "   $((N * 6)) calls by 32 clients in $took ms; $commands commands seen by the BMCs, at most $busy_max BMCs busy at once;" \
	"bootwaved: sessions_open_max $(m bootwave_bmc_sessions_open_max), logins $(m bootwave_bmc_logins_total)," \
	"evictions $(m bootwave_bmc_evictions_total)"
stop_daemon
pkill -9 -f "ipmi_sim -c $T/" 2>/dev/null || true
finish
