#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The Redfish driver (hw/redfish.c, run by tests/hwctl) against redfish_sim
# serving the DMTF public-rackmount1 mockup: power follows ComputerSystem.Reset
# (a power cycle is ForceOff + On when the BMC lists no PowerCycle, PowerCycle
# when it lists no AllowableValues), the boot override is kept and read back,
# health reads the rollup, the chassis, the sensors and the log entries after a
# marker. A whole hwctl run is one session, logged out at the end. Failures
# come back as hw.h's errno with a message naming the step and what the BMC
# did: refused credentials (EACCES), nothing listening (EHOSTUNREACH), a
# missing property (EPROTO naming it), bytes that are not JSON, an answer
# past 4 MiB (EPROTO), a BMC that stops answering (ETIMEDOUT within about the
# timeout), a session deleted on the BMC (ENOTCONN), TLS verification on by
# default. The password appears in no output.
. "$(dirname "$0")/lib.sh"

TESTS_BIN=$(cd "$BW_BIN/../tests" 2>/dev/null && pwd) || true
HWCTL=$TESTS_BIN/hwctl
SIM=$TESTS_BIN/redfish_sim
MOCKUP=${BW_REDFISH_MOCKUP:-$(cd "$(dirname "$0")/.." && pwd)/redfish/public-rackmount1}
for b in "$HWCTL" "$SIM"; do
	[ -x "$b" ] || { echo "   missing $b (built by make build-<variant>)" >&2; exit 1; }
done
[ -f "$MOCKUP/index.json" ] || { echo "   no Redfish mockup at $MOCKUP (set BW_REDFISH_MOCKUP)" >&2; exit 1; }
for c in curl jq openssl timeout; do
	command -v "$c" >/dev/null || { echo "   missing $c (scripts/setup-deps test)" >&2; exit 1; }
done

USER_NAME='admin'
PASSWORD='Rf-s3cret-pw-7Qx'
SYS=/redfish/v1/Systems/437XR1138R2
OUTPUTS=$T/outputs # everything hwctl, curl and the simulator printed
: >"$OUTPUTS"

# start_sim [redfish_sim options]: a simulator on an ephemeral port ($PORT, $SIM_PID)
SIM_N=0
SIM_PID=
SCHEME=http
start_sim() {
	SIM_N=$((SIM_N + 1))
	rm -f "$T/sim.port"
	"$SIM" --root "${ROOT:-$MOCKUP}" --port 0 --user "$USER_NAME" --password "$PASSWORD" --portfile "$T/sim.port" \
		--stats "$T/sim.$SIM_N.stats" "$@" >"$T/sim.$SIM_N.out" 2>&1 &
	SIM_PID=$!
	DAEMON_PID=$SIM_PID # lib.sh's cleanup kills it if the test dies
	for _ in $(seq 100); do
		[ -s "$T/sim.port" ] && break
		kill -0 "$SIM_PID" 2>/dev/null || { cat "$T/sim.$SIM_N.out" >&2; echo "redfish_sim died at start" >&2; exit 1; }
		sleep 0.05
	done
	[ -s "$T/sim.port" ] || { echo "redfish_sim did not start" >&2; exit 1; }
	PORT=$(cat "$T/sim.port")
}

# stop_sim: SIGTERM, a clean exit (under ASan: no leak), its counters in $STATS
stop_sim() {
	local rc=0
	kill -TERM "$SIM_PID"
	timeout 20 tail --pid="$SIM_PID" -f /dev/null || kill -9 "$SIM_PID"
	wait "$SIM_PID" || rc=$?
	DAEMON_PID=
	check_eq "redfish_sim $SIM_N exit status on SIGTERM" 0 "$rc"
	STATS=$(cat "$T/sim.$SIM_N.stats" 2>/dev/null || echo '{}')
	cat "$T/sim.$SIM_N.out" >>"$OUTPUTS"
}

stat_of() { jq -r ".$1 // 0" <<<"$STATS"; }
# live_stats: the running simulator's counters in $STATS
live_stats() { STATS=$(timeout 10 curl -sSk "$SCHEME://127.0.0.1:$PORT/sim/stats"); }

# hw [hwctl options] COMMAND...: one hwctl run against $PORT; $OUT, $ERR, $RC, $MS (wall time)
hw() {
	local t0
	RC=0
	t0=$(date +%s%3N)
	OUT=$(timeout 60 "$HWCTL" -d redfish -H 127.0.0.1 -p "$PORT" -u "$USER_NAME" "$@" 2>"$T/hw.err") || RC=$?
	MS=$(($(date +%s%3N) - t0))
	ERR=$(cat "$T/hw.err")
	printf '%s\n%s\n' "$OUT" "$ERR" >>"$OUTPUTS"
}
# rf COMMAND...: hw over HTTP with the right password and a 2 s timeout
rf() { hw -P "$PASSWORD" --http -t 2000 "$@"; }

# bmc METHOD PATH [curl args]: the simulator's resource with Basic auth; $BODY and $STATUS
bmc() {
	local method=$1 path=$2
	shift 2
	BODY=$(timeout 10 curl -sSk -u "$USER_NAME:$PASSWORD" -o - -w '\n%{http_code}' -X "$method" "$@" \
		"$SCHEME://127.0.0.1:$PORT$path")
	STATUS=${BODY##*$'\n'}
	BODY=${BODY%$'\n'*}
	printf '%s\n' "$BODY" >>"$OUTPUTS"
}

lines() { printf '%s\n' "$@"; }

echo "   -- power, one session"
start_sim
rf power status , power off , power status , power on , power status , power soft-off , power status , \
	power on , power cycle , power status , power reset , power status
check_eq "power sequence exit status (stderr: $ERR)" 0 "$RC"
check_eq "power follows ComputerSystem.Reset" \
	"$(lines 'power: on' ok 'power: off' ok 'power: on' ok 'power: off' ok ok 'power: on' ok 'power: on')" "$OUT"
live_stats
check_eq "one login for the whole run" 1 "$(stat_of sessions_created)"
check_eq "logged out at the end" 1 "$(stat_of sessions_deleted)"
check_eq "no session left open" 0 "$(stat_of sessions_open)"
check_eq "one request at a time" 1 "$(stat_of max_in_flight)"
# off: ForceOff; soft-off: GracefulShutdown; cycle without PowerCycle allowed: ForceOff + On; reset: ForceRestart
check_eq "ResetTypes sent" '{"ForceOff":2,"On":3,"GracefulShutdown":1,"ForceRestart":1}' \
	"$(jq -c '.resets | {ForceOff, On, GracefulShutdown, ForceRestart}' <<<"$STATS")"
check_eq "no PowerCycle (the mockup does not allow it)" null "$(jq -c .resets.PowerCycle <<<"$STATS")"
rf power on
check_eq "power on when on: nothing sent" '0 ok 3' "$RC $OUT $(curl -sS "http://127.0.0.1:$PORT/sim/stats" | jq .resets.On)"
rf power off , power off , power status
check_eq "power off twice" "$(lines ok ok 'power: off')" "$OUT"
bmc GET "$SYS"
check_eq "the BMC's PowerState (Basic auth)" "200 Off" "$STATUS $(jq -r .PowerState <<<"$BODY")"
bmc GET /redfish/v1/Chassis/1U
check_eq "the chassis follows" "Off" "$(jq -r .PowerState <<<"$BODY")"
rf power cycle , power status
check_eq "power cycle when off: on" "$(lines ok 'power: on')" "$OUT"
# The BMC itself refuses what it does not list.
bmc POST "$SYS/Actions/ComputerSystem.Reset" -H 'Content-Type: application/json' -d '{"ResetType":"PowerCycle"}'
check_eq "simulator: ResetType not allowed" "400 Base.1.5.0.PropertyValueNotInList" \
	"$STATUS $(jq -r '.error["@Message.ExtendedInfo"][0].MessageId' <<<"$BODY")"
bmc POST "$SYS/Actions/ComputerSystem.Reset" -H 'Content-Type: application/json' -d '{"ResetType":"Sideways"}'
check_eq "simulator: unknown ResetType" 400 "$STATUS"
bmc GET "$SYS" -H "X-Auth-Token: not-a-token"
check_eq "simulator: a bad token is refused" 401 "$STATUS"
STATUS=$(curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT$SYS")
check_eq "simulator: no credentials, 401" 401 "$STATUS"

echo "   -- boot override"
rf bootdev pxe once uefi , getboot , bootdev disk persistent , getboot
check_eq "set and read back (stderr: $ERR)" "$(lines ok 'boot: pxe once uefi' ok 'boot: disk persistent legacy')" "$OUT"
bmc GET "$SYS"
check_eq "kept by the BMC" "Hdd Continuous Legacy" \
	"$(jq -r '.Boot | "\(.BootSourceOverrideTarget) \(.BootSourceOverrideEnabled) \(.BootSourceOverrideMode)"' <<<"$BODY")"
rf getboot
check_eq "read back in another session" "boot: disk persistent legacy" "$OUT"
rf bootdev pxe uefi , getboot
check_eq "pxe once uefi again" "$(lines ok 'boot: pxe once uefi')" "$OUT"
bmc PATCH "$SYS" -H 'Content-Type: application/json' -d '{"Boot":{"BootSourceOverrideTarget":"Floppy"}}'
check_eq "simulator: a target outside AllowableValues" "400 Base.1.5.0.PropertyValueNotInList" \
	"$STATUS $(jq -r .error.code <<<"$BODY")"
rf getboot
check_eq "a refused PATCH changed nothing" "boot: pxe once uefi" "$OUT"

echo "   -- health"
rf health , health 2 , health 1
check_eq "health exit status (stderr: $ERR)" 0 "$RC"
check_eq "health, first time" "health: Warning power=on chassis=[power supply Power Supply Bay: Warning] sel_marker=2 sel_new=2 sel_critical=2 sel_last=[2012-03-07T14:45:00Z Temperature threshold exceeded] sensors_crossed=0 sensors=[]" \
	"$(sed -n 1p <<<"$OUT")"
check_contains "health after the marker: nothing new" "sel_marker=2 sel_new=0 sel_critical=0 sel_last=[]" "$(sed -n 2p <<<"$OUT")"
check_contains "health after entry 1" "sel_marker=2 sel_new=1 sel_critical=1 sel_last=[2012-03-07T14:45:00Z" "$(sed -n 3p <<<"$OUT")"
rf power off , health 2
check_contains "health of a machine that is off" "health: Warning power=off" "$OUT"

echo "   -- sessions"
rf power status , sleep 1500 , power status &
hw_pid=$!
sleep 0.7
bmc GET /redfish/v1/SessionService/Sessions
check_eq "the open session is listed (beside the mockup's own)" 2 "$(jq '.Members | length' <<<"$BODY")"
live_stats
check_eq "one session open during a run" 1 "$(stat_of sessions_open)"
wait "$hw_pid"
live_stats
check_eq "none after it" 0 "$(stat_of sessions_open)"
# A session ended on the BMC in the middle of a run: ENOTCONN.
rf power status , sleep 1500 , power status &
hw_pid=$!
sleep 0.7
bmc GET /redfish/v1/SessionService/Sessions
live=$(jq -r '.Members[-1]["@odata.id"]' <<<"$BODY")
bmc DELETE "$live"
check_eq "simulator: DELETE of the session" 204 "$STATUS"
wait "$hw_pid" || true
rf_out=$(tail -2 "$OUTPUTS")
check_contains "session gone: ENOTCONN" "hwctl: power status: BMC 127.0.0.1:$PORT no longer knows the session: HTTP 401" "$rf_out"
check_contains "session gone: errno" "(ENOTCONN)" "$rf_out"
live_stats
before_failed=$(stat_of logins_failed)
before_created=$(stat_of sessions_created)
hw -P wrong-password --http -t 2000 power status
check_eq "wrong password: exit status" 1 "$RC"
check_contains "wrong password: the step and the BMC" "hwctl: login: BMC 127.0.0.1:$PORT refused the credentials of user admin (HTTP 401" "$ERR"
check_contains "wrong password: EACCES" "(EACCES)" "$ERR"
live_stats
check_eq "wrong password: counted by the BMC" $((before_failed + 1)) "$(stat_of logins_failed)"
check_eq "wrong password: no session" "$before_created" "$(stat_of sessions_created)"
stop_sim
# The session deleted by bmc DELETE above counts as deleted too.
check_eq "every session created was deleted" "$(stat_of sessions_created)" "$(stat_of sessions_deleted)"
check_eq "never two requests at once" 1 "$(stat_of max_in_flight)"

echo "   -- nothing listening"
# The port of the simulator just stopped: nothing listens there.
rf power status
check_eq "nothing listening: exit status" 1 "$RC"
check_contains "nothing listening: names host:port" "hwctl: login: no answer from BMC 127.0.0.1:$PORT" "$ERR"
check_contains "nothing listening: EHOSTUNREACH" "(EHOSTUNREACH)" "$ERR"
check_eq "nothing listening: at once (${MS} ms)" 1 "$([ "$MS" -lt 2000 ] && echo 1)"

echo "   -- PowerCycle when the BMC lists no AllowableValues"
start_sim --drop-property 'ResetType@Redfish.AllowableValues'
rf power cycle , power status
check_eq "power cycle (stderr: $ERR)" "$(lines ok 'power: on')" "$OUT"
stop_sim
check_eq "sent as PowerCycle" '{"PowerCycle":1}' "$(jq -c .resets <<<"$STATS")"

echo "   -- missing properties"
start_sim --drop-property PowerState
rf power status
check_eq "no PowerState: exit status" 1 "$RC"
check_contains "no PowerState: path and property" "hwctl: power status: BMC 127.0.0.1:$PORT: GET $SYS has no PowerState" "$ERR"
check_contains "no PowerState: EPROTO" "(EPROTO)" "$ERR"
rf health
check_contains "no PowerState in health: EPROTO" "hwctl: health: BMC 127.0.0.1:$PORT: GET $SYS has no PowerState (EPROTO)" "$ERR"
rf getboot
check_eq "no PowerState: the boot override is still read" "boot: pxe once uefi" "$OUT"
stop_sim
check_eq "no PowerState: sessions logged out" "3 3" "$(stat_of sessions_created) $(stat_of sessions_deleted)"
start_sim --drop-property Members
rf power status
check_contains "no Members: path and property" "hwctl: discover: BMC 127.0.0.1:$PORT: GET /redfish/v1/Systems has no Members (EPROTO)" "$ERR"
stop_sim
check_eq "no Members: the session opened is logged out" "1 1" "$(stat_of sessions_created) $(stat_of sessions_deleted)"
start_sim --drop-property LogServices --drop-property Thermal --drop-property Power --drop-property Sensors
rf health 7
check_eq "optional resources missing: not an error (stderr: $ERR)" \
	"health: OK power=on chassis=[] sel_marker=7 sel_new=0 sel_critical=0 sel_last=[] sensors_crossed=0 sensors=[]" "$OUT"
stop_sim

echo "   -- garbage"
start_sim --garbage
rf power status
check_eq "garbage: exit status" 1 "$RC"
check_contains "garbage: not JSON" "hwctl: discover: BMC 127.0.0.1:$PORT: the answer to GET /redfish/v1/Systems is not JSON" "$ERR"
check_contains "garbage: EPROTO" "(EPROTO)" "$ERR"
stop_sim
check_eq "garbage: logged in once" 1 "$(stat_of sessions_created)"

echo "   -- an answer past 4 MiB"
ROOT=$T/bigtree
cp -r "$MOCKUP" "$ROOT"
head -c 4300000 /dev/zero | tr '\0' x >"$T/pad"
jq --rawfile pad "$T/pad" '.Oem.Pad = $pad' "$MOCKUP/Systems/437XR1138R2/index.json" >"$ROOT/Systems/437XR1138R2/index.json"
start_sim
rf power status
check_contains "4 MiB: bounded" "hwctl: power status: answer of BMC 127.0.0.1:$PORT to GET $SYS is longer than 4194304 bytes (EPROTO)" "$ERR"
stop_sim
unset ROOT

echo "   -- a BMC that stops answering"
start_sim --hang-after 3
hw -P "$PASSWORD" --http -t 1000 power status
check_eq "hang: exit status" 1 "$RC"
check_contains "hang: ETIMEDOUT naming the request" "hwctl: power status: BMC 127.0.0.1:$PORT stopped answering: GET $SYS got no answer within 1000 ms" "$ERR"
check_contains "hang: errno" "(ETIMEDOUT)" "$ERR"
check_eq "hang: given up after about the timeout (${MS} ms)" 1 "$([ "$MS" -ge 900 ] && [ "$MS" -lt 2500 ] && echo 1)"
# From now on nothing is answered, not even the login: no answer at all.
hw -P "$PASSWORD" --http -t 1000 power status
check_contains "hang at login: EHOSTUNREACH" "hwctl: login: no answer from BMC 127.0.0.1:$PORT within 1000 ms" "$ERR"
check_eq "hang at login: after about the timeout (${MS} ms)" 1 "$([ "$MS" -ge 900 ] && [ "$MS" -lt 2500 ] && echo 1)"
stop_sim
check_eq "hang: no logout sent to a BMC that stopped answering" "1 0" "$(stat_of sessions_created) $(stat_of sessions_deleted)"

echo "   -- TLS"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=bmc-test \
	-addext 'subjectAltName=IP:127.0.0.1,DNS:localhost' -keyout "$T/bmc.key" -out "$T/bmc.pem" 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=other \
	-addext 'subjectAltName=DNS:other.example' -keyout "$T/other.key" -out "$T/other.pem" 2>/dev/null
SCHEME=https
start_sim --tls-cert "$T/bmc.pem" --tls-key "$T/bmc.key"
hw -P "$PASSWORD" -t 3000 power status
check_eq "TLS, verification on by default: refused" 1 "$RC"
check_contains "TLS: a clear error" "hwctl: login: TLS: the certificate of BMC 127.0.0.1:$PORT is not trusted (SSL certificate problem: self-signed certificate)" "$ERR"
hw -P "$PASSWORD" -t 3000 --insecure power status , health
check_eq "TLS --insecure (stderr: $ERR)" 0 "$RC"
check_contains "TLS --insecure: power" "power: on" "$OUT"
hw -P "$PASSWORD" -t 3000 --ca "$T/bmc.pem" power status , bootdev pxe once uefi , getboot
check_eq "TLS --ca with the BMC's certificate (stderr: $ERR)" "$(lines 'power: on' ok 'boot: pxe once uefi')" "$OUT"
hw -P "$PASSWORD" -t 3000 --ca "$T/other.pem" power status
check_contains "TLS --ca with another certificate: refused" "hwctl: login: TLS: the certificate of BMC 127.0.0.1:$PORT is not trusted" "$ERR"
hw -P "$PASSWORD" -t 3000 --ca "$T/missing.pem" power status
check_contains "TLS --ca of a file that is not there: EINVAL" "(EINVAL)" "$ERR"
hw -P "$PASSWORD" -t 3000 --http power status
check_eq "plain HTTP to a TLS port: refused (stderr: $ERR)" 1 "$RC"
stop_sim
check_eq "TLS: the sessions that logged in were logged out" "2 2" "$(stat_of sessions_created) $(stat_of sessions_deleted)"
start_sim --tls-cert "$T/other.pem" --tls-key "$T/other.key"
hw -P "$PASSWORD" -t 3000 --ca "$T/other.pem" power status
check_contains "TLS: a certificate for another host name" "is not trusted (SSL: no alternative certificate subject name matches target host name '127.0.0.1')" "$ERR"
hw -P "$PASSWORD" -t 3000 --ca "$T/other.pem" --insecure power status
check_eq "TLS: --insecure skips the host name check too" "power: on" "$OUT"
stop_sim
SCHEME=http

echo "   -- secrets"
check_eq "the password appears in no output" 0 "$(grep -cF -- "$PASSWORD" "$OUTPUTS" || true)"
check_eq "nor in what the simulators printed" 0 "$(cat "$T"/sim.*.out | grep -cF -- "$PASSWORD" || true)"

finish
