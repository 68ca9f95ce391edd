#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Out-of-band control through bootwaved, the CLI and the API: a node behind
# ipmi_sim (OpenIPMI) driving a real QEMU process, and a node behind the
# Redfish simulator. Power on starts the machine, off stops it, status
# follows it; the boot override is kept; health; every operation and every
# failure lands in the node's event history; wrong credentials and a node
# without a BMC get clear errors; a viewer can read but not act; the
# password is never returned or logged.
. "$(dirname "$0")/lib.sh"
PATH=$PATH:/usr/sbin:/sbin
TOOLS=$BW_BIN/../tests
for t in ipmi_sim ipmitool qemu-system-x86_64; do
	command -v $t >/dev/null || { echo "test_bmc needs $t (scripts/setup-deps rack)" >&2; exit 1; }
done

LAN=$((30000 + $$ % 15000 * 2)) RF=$((LAN + 2))
ipmi_bmc "$T/bmc" "$LAN" ipmi-pw-17 -machine pc,accel=tcg -m 64 -display none -nodefaults
"$TOOLS/redfish_sim" --root "$(dirname "$0")/../redfish/public-rackmount1" --port "$RF" --user root \
	--password rf-pw-42 --stats "$T/rf.stats" >"$T/rf.log" 2>&1 &
RFSIM=$!
trap 'kill $RFSIM 2>/dev/null || true; cleanup' EXIT
for _ in $(seq 50); do
	curl -sf "http://127.0.0.1:$RF/redfish/v1" >/dev/null && break
	sleep 0.2
done
vm_pid() { bmc_vm_pid "$T/bmc"; }

cat >>"$CONF" <<EOF
[bmc]
min_poll = 30
timeout = 3
retries = 1
EOF
start_daemon
echo ipmi-pw-17 >"$T/ipmi.pw"
echo rf-pw-42 >"$T/rf.pw"
bw_rc 0 node create ipmi1 --mac 52:54:00:0b:00:01 --bmc-driver ipmi --bmc-address 127.0.0.1 --bmc-port $LAN \
	--bmc-username admin --bmc-password-file "$T/ipmi.pw"
bw_rc 0 node create rf1 --mac 52:54:00:0b:00:02 --bmc-driver redfish --bmc-address 127.0.0.1 --bmc-port $RF \
	--bmc-username root --bmc-password-file "$T/rf.pw" --bmc-scheme http
bw_rc 0 node create nobmc --mac 52:54:00:0b:00:03

# ---- IPMI: power follows the QEMU process ----
bw_rc 0 -o json node power ipmi1 status --fresh
check_eq "ipmi: off at first" "off" "$(jq -r .power <<<"$OUT")"
bw_rc 0 node power ipmi1 on
bmc_wait_vm "$T/bmc" yes
check_eq "ipmi: power on started QEMU" "yes" "$([ -n "$(vm_pid)" ] && echo yes || echo no)"
bw_rc 0 -o json node power ipmi1 status --fresh
check_eq "ipmi: status follows: on" "on" "$(jq -r .power <<<"$OUT")"
bw_rc 0 -o json node power ipmi1 status
check_eq "ipmi: a poll within min_poll is answered from the last result" "true on" "$(jq -r '"\(.cached) \(.power)"' <<<"$OUT")"
bw_rc 0 node power ipmi1 off
bmc_wait_vm "$T/bmc" no
check_eq "ipmi: power off stopped QEMU" "" "$(vm_pid)"
bw_rc 0 -o json node power ipmi1 status
check_eq "ipmi: an action makes the next poll fresh" "false off" "$(jq -r '"\(.cached) \(.power)"' <<<"$OUT")"
bw_rc 0 -o json node health ipmi1
check_eq "ipmi: health" "OK off 0" "$(jq -r '"\(.rollup) \(.power) \(.sel_critical)"' <<<"$OUT")"
ev=$(bw -o json node events ipmi1 | jq -r '.[] | select(.kind == "bmc") | .message')
check_contains "ipmi: power on recorded" "power on: ok, by admin" "$ev"
check_contains "ipmi: power off recorded" "power off: ok, by admin" "$ev"
check_contains "ipmi: status recorded" "power status: on" "$ev"

# ---- session slots: a session logged out (new credentials, a failure) gives its slot back ----
sessions_open() { curl -sS -H "Authorization: Bearer $ADMIN" "$URL/metrics" | awk '$1 == "bootwave_bmc_sessions_open" { print $2 }'; }
check_eq "ipmi: one session open" "1" "$(sessions_open)"
echo wrong-now >"$T/ipmi-wrong.pw"
bw_rc 0 node set ipmi1 --bmc-password-file "$T/ipmi-wrong.pw"
bw_rc 7 node power ipmi1 status --fresh
check_eq "new credentials refused: the old session's slot is free again, none open" "0" "$(sessions_open)"
bw_rc 0 node set ipmi1 --bmc-password-file "$T/ipmi.pw"
for _ in 1 2 3; do bw_rc 0 node power ipmi1 status --fresh; done
check_eq "credentials back: one session again, reused" "1" "$(sessions_open)"

# ---- Redfish: reset changes PowerState, the boot override is kept ----
bw_rc 0 -o json node power rf1 status --fresh
check_eq "redfish: the mockup's system is on" "on" "$(jq -r .power <<<"$OUT")"
bw_rc 0 node power rf1 off
bw_rc 0 -o json node power rf1 status
check_eq "redfish: off after ForceOff" "off" "$(jq -r .power <<<"$OUT")"
bw_rc 0 node bootdev rf1 pxe --uefi
bw_rc 0 -o json node bootdev rf1
check_eq "redfish: boot override kept" "pxe false true" "$(jq -r '"\(.device) \(.persistent) \(.uefi)"' <<<"$OUT")"
bw_rc 0 node power rf1 on
bw_rc 0 -o json node health rf1 --fresh
check_contains "redfish: health rollup" "$(jq -r .rollup <<<"$OUT")" "OK Warning Critical"
stats=$(curl -s "http://127.0.0.1:$RF/sim/stats")
check_eq "redfish: one session for all of it (reused)" "1" "$(jq -r .sessions_created <<<"$stats")"

# ---- bad input ----
echo wrong >"$T/bad.pw"
bw_rc 0 node create badpw --mac 52:54:00:0b:00:04 --bmc-driver ipmi --bmc-address 127.0.0.1 --bmc-port $LAN \
	--bmc-username admin --bmc-password-file "$T/bad.pw"
start=$(date +%s)
bw_rc 7 node power badpw status
check_contains "wrong password: named, with the step" "login: BMC 127.0.0.1:$LAN refused the credentials of user admin" "$ERR"
check_eq "wrong password: not retried for long" "yes" "$([ $(($(date +%s) - start)) -le 5 ] && echo yes || echo no)"
api GET /api/v1/nodes/badpw/power
check_eq "wrong password: API 502 bmc_auth" "502 bmc_auth" "$STATUS $(jq -r .error.code <<<"$BODY")"
check_contains "wrong password: in the history" "power status FAILED at login" \
	"$(bw -o json node events badpw | jq -r '.[] | select(.kind == "bmc") | .message')"
api GET /api/v1/nodes/nobmc/power
check_eq "no BMC: 409 no_bmc" "409 no_bmc" "$STATUS $(jq -r .error.code <<<"$BODY")"
api POST /api/v1/nodes/ipmi1/power -H 'Content-Type: application/json' -d '{"action":"explode"}'
check_eq "unknown action: 422" "422 action" "$STATUS $(jq -r .error.field <<<"$BODY")"
api POST /api/v1/nodes/rf1/bootdev -H 'Content-Type: application/json' -d '{"device":"floppy"}'
check_eq "unknown boot device: 422" "422 device" "$STATUS $(jq -r .error.field <<<"$BODY")"
api GET '/api/v1/nodes/ipmi1/health?since=abc'
check_eq "bad marker: 422" "422 since" "$STATUS $(jq -r .error.field <<<"$BODY")"
# Nothing listens: a clear error within the bounded time.
bw_rc 0 node create gone --mac 52:54:00:0b:00:05 --bmc-driver redfish --bmc-address 127.0.0.1 \
	--bmc-port $((LAN + 3)) --bmc-username root --bmc-password-file "$T/rf.pw" --bmc-scheme http
start=$(date +%s)
bw_rc 7 node power gone status
check_contains "unreachable: named, with the step" "login: no answer from BMC 127.0.0.1:$((LAN + 3))" "$ERR"
check_contains "unreachable: API 504" "504 bmc_unreachable" "$ERR"
check_eq "unreachable: within timeout x attempts + backoff" "yes" "$([ $(($(date +%s) - start)) -le 10 ] && echo yes || echo no)"

# A BMC that answers garbage (RMCP-looking datagrams of random bytes):
# libfreeipmi drops what does not verify, so it is a login without a valid
# answer, named, within timeout x attempts + backoff.
"$TOOLS/udpsend" -g 127.0.0.1 $((LAN + 5)) &
GARBAGE=$!
bw_rc 0 node create garbage --mac 52:54:00:0b:00:06 --bmc-driver ipmi --bmc-address 127.0.0.1 \
	--bmc-port $((LAN + 5)) --bmc-username admin --bmc-password-file "$T/ipmi.pw"
start=$(date +%s)
bw_rc 7 node power garbage status
check_contains "garbage: named, with the step" "login: BMC 127.0.0.1:$((LAN + 5))" "$ERR"
check_eq "garbage: bounded" "yes" "$([ $(($(date +%s) - start)) -le 10 ] && echo yes || echo no)"
kill $GARBAGE 2>/dev/null || true
wait $GARBAGE 2>/dev/null || true
# The other nodes were not held up meanwhile (checked at scale in test_bmc_fleet).
bw_rc 0 -o json node power rf1 status --fresh
check_eq "after the garbage BMC, another node answers" "on" "$(jq -r .power <<<"$OUT")"

# Roles: a viewer reads, an operator acts.
bw_rc 0 -o json token create ro --role viewer
VIEWER=$(jq -r .token <<<"$OUT")
TOKEN=$VIEWER api GET /api/v1/nodes/rf1/power
check_eq "viewer may read power" "200" "$STATUS"
TOKEN=$VIEWER api POST /api/v1/nodes/rf1/power -H 'Content-Type: application/json' -d '{"action":"off"}'
check_eq "viewer may not act" "403" "$STATUS"

check_not_contains "passwords never logged" "ipmi-pw-17" "$(cat "$T/daemon.log")"
check_not_contains "passwords never logged (redfish)" "rf-pw-42" "$(cat "$T/daemon.log")"
check_not_contains "passwords never returned" "rf-pw-42" "$(bw -o json node show rf1)"
stop_daemon
finish
