#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The operator console end to end: a real bootwaved with a fleet made
# through the CLI (two sites, three zones, four racks, nodes in racks, in a
# zone only, and nowhere; pools; one quarantined), its console driven in
# Debian's headless Chromium by tests/web/console.mjs (playwright-core;
# every view also audited with axe-core). The screenshots go to $BW_SHOTS
# (default build/web-shots/). Usage:
# BW_BIN=build/release/bin tests/web/test_console.sh
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../integration/lib.sh"
SIM=$(cd "$BW_BIN/../tests" && pwd)/redfish_sim
MOCKUP=$here/../redfish/public-rackmount1
[ -x "$SIM" ] || { echo "   missing $SIM (built by make build-<variant>)" >&2; exit 1; }
# Small pages, so that the console has to follow "next" through every list.
sed -i 's/^max_body = 64K$/&\npage_size = 5/' "$CONF"
grep -q '^page_size = 5$' "$CONF" || { echo "test_console: cannot set page_size" >&2; exit 1; }
start_daemon

# Node n9's BMC: the Redfish simulator of the integration tests (its machine is on).
"$SIM" --root "$MOCKUP" --port 0 --user root --password rf-pw-42 --portfile "$T/sim.port" >"$T/sim.out" 2>&1 &
SIM_PID=$!
BMC_PIDS+=("$SIM_PID") # lib.sh's cleanup stops it if the test dies
for _ in $(seq 100); do
	[ -s "$T/sim.port" ] && break
	sleep 0.05
done
[ -s "$T/sim.port" ] || { cat "$T/sim.out" >&2; echo "redfish_sim did not start" >&2; exit 1; }
echo rf-pw-42 >"$T/rf.pw"

# The console's files: served from memory, with a policy that allows nothing
# from elsewhere.
check_eq "/ redirects" "302 /ui/" "$(curl -sS -o /dev/null -w '%{http_code} %{redirect_url}' "$URL/" | sed "s|$URL||")"
hdrs=$(curl -sS -D - -o "$T/index.html" "$URL/ui/" | tr -d '\r')
check_contains "index is HTML" "Content-Type: text/html" "$hdrs"
check_contains "CSP" "Content-Security-Policy: default-src 'self'" "$hdrs"
check_eq "index is the file" "$(sha256sum <"$here/../../server/web/index.html")" "$(sha256sum <"$T/index.html")"
etag=$(sed -n 's/^ETag: //p' <<<"$hdrs")
check_eq "unchanged file: 304" "304" "$(curl -sS -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "$URL/ui/")"
check_eq "app.js type" "text/javascript; charset=utf-8" "$(curl -sS -o /dev/null -w '%{content_type}' "$URL/ui/app.js")"
for bad in /ui/nope.js /ui/..%2fapp.js /ui/app.js/x /ui/%2e%2e; do
	check_eq "no file $bad" "404" "$(curl -sS -o /dev/null -w '%{http_code}' "$URL$bad")"
done

# The fleet (pool web: r1-r3 and no BMCs, so a rollout's first node waits
# to boot for the whole health timeout; pool db: f1).
bw_rc 0 site create ams1
bw_rc 0 site create fra1
bw_rc 0 zone create ams1-z1 --site ams1
bw_rc 0 zone create ams1-z2 --site ams1
bw_rc 0 zone create fra1-z1 --site fra1
bw_rc 0 rack create r1 --zone ams1-z1 --fault-domain 1
bw_rc 0 rack create r2 --zone ams1-z1 --fault-domain 2
bw_rc 0 rack create r3 --zone ams1-z2 --fault-domain 3
bw_rc 0 rack create f1 --zone fra1-z1 --fault-domain 1
bw_rc 0 image create os
os_tree "$T/v1" v1
tar -C "$T/v1" -czf "$T/v1.tar.gz" .
bw_rc 0 image publish os v1 "$T/v1.tar.gz"
bw_rc 0 pool create web --image os
bw_rc 0 pool create db --image os
i=0
for rack in r1 r1 r1 r2 r2 r3 r3 r3 f1 f1; do
	i=$((i + 1))
	pool=web
	[ "$rack" = f1 ] && pool=db
	bmc=()
	[ "$i" = 9 ] && bmc=(--bmc-driver redfish --bmc-address 127.0.0.1 --bmc-port "$(cat "$T/sim.port")"
		--bmc-scheme http --bmc-username root --bmc-password-file "$T/rf.pw")
	bw_rc 0 node create "n$i" --mac "$(printf '52:54:00:00:10:%02x' "$i")" --rack "$rack" --pool "$pool" \
		--update-domain $((i % 3)) "${bmc[@]}"
done
bw_rc 0 node create loose --mac 52:54:00:00:10:f0 --zone ams1-z2
bw_rc 0 node create spare --mac 52:54:00:00:10:f1
curl -sS -o /dev/null -X PATCH -H "Authorization: Bearer $ADMIN" -H "Content-Type: application/json" \
	-d '{"quarantined": true}' "$URL/api/v1/nodes/n5"
check_eq "n5 quarantined" "true" "$(bw -o json node show n5 | jq -r .quarantined)"
VIEWER=$(bw -q token create watcher --role viewer)
OPERATOR=$(bw -q token create oper --role operator)
fleet=$(curl -sS -H "Authorization: Bearer $ADMIN" "$URL/api/v1/nodes?limit=100" | jq -c '.items')
check_eq "fleet size" "12" "$(jq length <<<"$fleet")"

if BW_URL=$URL BW_VIEWER=$VIEWER BW_OPERATOR=$OPERATOR BW_ADMIN=$ADMIN BW_FLEET=$fleet BW_SHOTS=${BW_SHOTS:-$here/../../build/web-shots} \
	node "$here/console.mjs"; then
	ok
else
	fail "the console in Chromium (above)"
fi
# What the browser did went through the API: the rollout is
# cancel-requested, by the operator's click, and n9's machine is off.
check_eq "n9 powered off from the console" "off" "$(bw -o json node power n9 status --fresh | jq -r .power)"
check_eq "rollout cancel requested" "true" "$(bw -o json rollout status db | jq -r .cancel_requested)"
# A stream ends within seconds of its token's revocation.
SHORT=$(bw -q token create short --role viewer)
curl -sS -N -H "Authorization: Bearer $SHORT" "$URL/api/v1/pools/web/rollout/events" >"$T/stream-short" 2>&1 &
STREAM_PID=$!
sleep 1
bw_rc 0 token revoke short
ended=no
for _ in $(seq 50); do
	kill -0 "$STREAM_PID" 2>/dev/null || { ended=yes; break; }
	sleep 0.1
done
check_eq "stream ends when its token is revoked" "yes" "$ended"
kill "$STREAM_PID" 2>/dev/null || true
wait "$STREAM_PID" 2>/dev/null || true
check_contains "revoked stream had sent the rollout" "event: rollout" "$(cat "$T/stream-short")"
check_eq "and a new one is refused" "401" \
	"$(curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $SHORT" "$URL/api/v1/pools/web/rollout/events")"

# A stream open while bootwaved stops does not hold it up: it ends cleanly.
curl -sS -N -H "Authorization: Bearer $ADMIN" "$URL/api/v1/pools/web/rollout/events" >"$T/stream" 2>&1 &
STREAM_PID=$!
sleep 1
stop_daemon
wait "$STREAM_PID"
check_eq "stream ended with the daemon" "0" "$?"
check_contains "stream sent the rollout" "event: rollout" "$(cat "$T/stream")"
kill "$SIM_PID"
wait "$SIM_PID" || true
finish
