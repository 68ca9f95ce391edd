#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Auth and secrets: the first admin token in a 0600 file, roles on every
# route, token expiry and revocation, and BMC passwords that are never
# returned, never logged and not stored in clear.
. "$(dirname "$0")/lib.sh"
start_daemon

check_eq "admin token file mode" "600" "$(stat -c %a "$STATE/admin.token")"
check_eq "secret key mode" "600" "$(stat -c %a "$STATE/secret.key")"
check_eq "whoami" "admin admin" "$(bw -o json whoami | jq -r '"\(.name) \(.role)"')"
VIEWER=$(bw -q token create v1 --role viewer)
OPERATOR=$(bw -q token create o1 --role operator)
check_contains "token format" "bw_" "$VIEWER"
H=(-H "Content-Type: application/json")

# Every route, every role: the least role each needs (docs/api.md).
routes=(
	"GET /api/v1 viewer"
	"GET /api/v1/whoami viewer"
	"GET /api/v1/sites viewer"
	"GET /api/v1/nodes viewer"
	"GET /api/v1/pools viewer"
	"GET /api/v1/images viewer"
	"GET /metrics viewer"
	"POST /api/v1/sites operator"
	"GET /api/v1/tokens admin"
	"POST /api/v1/tokens admin"
)
rank() { case $1 in viewer) echo 1 ;; operator) echo 2 ;; admin) echo 3 ;; esac; }
n=0
for route in "${routes[@]}"; do
	read -r method path need <<<"$route"
	for who in viewer operator admin; do
		case $who in viewer) TOKEN=$VIEWER ;; operator) TOKEN=$OPERATOR ;; admin) TOKEN=$ADMIN ;; esac
		n=$((n + 1))
		body='{}'
		[ "$path" = /api/v1/sites ] && body="{\"name\":\"s$n\"}"
		[ "$path" = /api/v1/tokens ] && body="{\"name\":\"t$n\",\"role\":\"viewer\"}"
		if [ "$method" = GET ]; then api "$method" "$path"; else api "$method" "$path" "${H[@]}" -d "$body"; fi
		if [ "$(rank $who)" -ge "$(rank "$need")" ]; then
			[[ "$STATUS" == 2* ]] && ok || fail "$who on $method $path: $STATUS, expected 2xx"
		else
			check_eq "$who on $method $path" "403" "$STATUS"
		fi
	done
done
unset TOKEN

# The CLI reports refusals with exit code 4.
BOOTWAVE_TOKEN=$VIEWER bw_rc 4 site create nope
check_contains "refusal names the role" "operator" "$ERR"
BOOTWAVE_TOKEN=bw_nottherightlength bw_rc 4 node list

# Expired and revoked tokens stop working.
EXP=$(bw -q token create short --role viewer --expires-at "$(date -u -d '+2 seconds' +%Y-%m-%dT%H:%M:%SZ)")
BOOTWAVE_TOKEN=$EXP bw_rc 0 node list
sleep 3
BOOTWAVE_TOKEN=$EXP bw_rc 4 node list
check_contains "expiry named" "expired" "$ERR"
bw_rc 6 token create past --role viewer --expires-at 2001-01-01T00:00:00Z
bw_rc 0 token revoke v1
TOKEN=$VIEWER api_expect 401 unauthorized GET /api/v1/nodes
bw_rc 5 token revoke admin
check_contains "own token kept" "making this request" "$ERR"
check_eq "token list shows prefixes, never secrets" "0" "$(bw -o json token list | grep -c "$OPERATOR" || true)"

# BMC passwords: sealed at rest, never returned, never logged.
PW="Sup3r-Secret-BMC-pw"
bw_rc 0 node create n1 --mac 52:54:00:12:34:56 --bmc-driver ipmi --bmc-address 10.0.0.9 --bmc-username admin \
	--bmc-password-file <(echo "$PW")
api GET /api/v1/nodes/n1
check_not_contains "password not returned" "$PW" "$BODY"
check_eq "password set" "true" "$(jq -r .bmc_password_set <<<"$BODY")"
api PATCH /api/v1/nodes/n1 "${H[@]}" -d "{\"bmc_password\":\"$PW-2\"}"
check_not_contains "password not returned by PATCH" "$PW" "$BODY"
stop_daemon
check_eq "password in no log line" "0" "$(grep -c "$PW" "$T/daemon.log" || true)"
check_eq "password not in clear in the store" "0" "$(cat "$STATE"/bootwave.db* | grep -ac "$PW" || true)"
check_eq "admin token not in clear in the store" "0" "$(cat "$STATE"/bootwave.db* | grep -ac "$ADMIN" || true)"
# A key file readable by others is refused at start.
chmod 644 "$STATE/secret.key"
rc=0
"$BW_BIN/bootwaved" -c "$CONF" >"$T/start.log" 2>&1 || rc=$?
check_eq "world-readable key refused" "1" "$rc"
check_contains "key refusal says how to fix" "chmod 600" "$(cat "$T/start.log")"
chmod 600 "$STATE/secret.key"
start_daemon
check_eq "token file unchanged across restarts" "$ADMIN" "$(cat "$STATE/admin.token")"
check_eq "one admin token" "1" "$(bw -o json token list | jq '[.[] | select(.role == "admin")] | length')"
stop_daemon
finish
