#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The daemon itself: `bootwaved -n` prints the effective configuration,
# bad configuration files are refused with the file, line and key named,
# /metrics speaks the Prometheus text format, and the store refuses a schema
# newer than the binary.
. "$(dirname "$0")/lib.sh"

out=$("$BW_BIN/bootwaved" -c "$CONF" -n)
check_contains "-n shows the state dir" "state_dir = $STATE" "$out"
check_contains "-n shows defaults" "page_size = 100" "$out"
check_contains "-n resolves paths" "path = $STATE/bootwave.db" "$out"
# The printed configuration is itself a valid configuration.
printf '%s\n' "$out" >"$T/printed.conf"
check_eq "-n output loads again" "$out" "$("$BW_BIN/bootwaved" -c "$T/printed.conf" -n | sed "s|$T/printed.conf|$CONF|")"
check_eq "-n leaves no state behind" "no" "$([ -e "$STATE" ] && echo yes || echo no)"

bad() { # bad WHAT EXPECTED-TEXT CONFIG-LINES...
	local what=$1 want=$2 rc=0
	shift 2
	printf '%s\n' "$@" >"$T/bad.conf"
	out=$("$BW_BIN/bootwaved" -c "$T/bad.conf" -n 2>&1) || rc=$?
	check_eq "$what: exit code" "1" "$rc"
	check_contains "$what: message" "$want" "$out"
}
bad "unknown key" "bad.conf:2: [api] colour: unknown key" "[api]" "colour = red"
bad "unknown section" "bad.conf:3: [nope] x: unknown section" "[daemon]" "[nope]" "x = 1"
bad "range" "bad.conf:2: [api] threads = \"0\": out of range 1..256" "[api]" "threads = 0"
bad "listen" "expected HOST:PORT" "[api]" "listen = localhost"
bad "size" "expected a size such as 64M" "[api]" "max_body = lots"
bad "relative state dir" "must be an absolute path" "[daemon]" "state_dir = var/lib"
bad "syntax" "bad.conf:1: syntax error" "this is not ini"
rc=0
out=$("$BW_BIN/bootwaved" -c "$T/missing.conf" -n 2>&1) || rc=$?
check_eq "missing file" "1" "$rc"
check_contains "missing file named" "missing.conf: cannot read" "$out"

start_daemon
bw_rc 0 site create s1
bw_rc 0 zone create z1 --site s1
bw_rc 0 node create n1 --mac 52:54:00:00:00:01 --zone z1
bw_rc 0 node create n2 --mac 52:54:00:00:00:02 --zone z1
curl -sS -o /dev/null "$URL/api/v1/nodes/nope" -H "Authorization: Bearer $ADMIN"
code=$(curl -sS -o /dev/null -w '%{http_code}' "$URL/metrics")
check_eq "metrics need a token by default" "401" "$code"
m=$(curl -sS -H "Authorization: Bearer $ADMIN" "$URL/metrics")
check_contains "nodes by state" 'bootwave_nodes{state="new"} 2' "$m"
check_contains "zero states are exported" 'bootwave_nodes{state="active"} 0' "$m"
check_contains "requests by route and status" 'bootwave_api_requests_total{method="POST",route="/api/v1/nodes",status="201"} 2' "$m"
check_contains "404s counted by route" 'route="/api/v1/nodes/{}",status="404"} 1' "$m"
check_contains "store latency histogram" 'bootwave_store_operation_seconds_bucket{op="write",le="+Inf"}' "$m"
check_contains "histogram type" '# TYPE bootwave_store_operation_seconds histogram' "$m"
stop_daemon
echo "[api]" >>"$CONF"
sed -i 's/^\[api\]$/[api]\nmetrics_auth = false/' "$CONF"
start_daemon
check_eq "metrics_auth = false opens /metrics" "200" "$(curl -sS -o /dev/null -w '%{http_code}' "$URL/metrics")"
check_eq "but not the API" "401" "$(curl -sS -o /dev/null -w '%{http_code}' "$URL/api/v1/nodes")"
stop_daemon

# A store written by a newer bootwaved is refused, and left untouched.
sqlite3 "$DB" "PRAGMA user_version = 99"
before=$(sha256sum <"$DB")
rc=0
"$BW_BIN/bootwaved" -c "$CONF" >"$T/start.log" 2>&1 || rc=$?
check_eq "newer schema refused" "1" "$rc"
check_contains "newer schema named" "schema version 99 is newer" "$(cat "$T/start.log")"
check_eq "store untouched" "$before" "$(sha256sum <"$DB")"
finish
