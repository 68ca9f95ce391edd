#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Extensions, end to end on loopback, with real agents and real SSH servers:
# machines whose disks are files (as in test_rollout), each with its own
# dropbear (tests/tools/dropbear-sandbox: a private /root and
# /var/lib/bootwave) on its own loopback address, whose host key the
# machine's heartbeat agent reports. Asserted through the CLI and the API:
#   - after the first provisioning every extension of the pool runs over
#     SSH in provision_after order with its settings; the rollout waits for
#     them (a node is healthy only when all succeeded); output kept, and
#     capped at [extensions] output_cap;
#   - a run again by hand: a script that hangs is cut at its timeout, one
#     that fails is recorded with its exit status and stderr, the one that
#     runs after it is skipped, and the others go on;
#   - bootwaved killed in the middle of a node's runs: the cut one is
#     recorded as interrupted, and the node's runs go again, whole;
#   - a host key other than the one the agent reported is refused and
#     flagged; an SSH port with nothing behind it fails clearly;
#   - an automatic minor upgrade of an extension rolls out; a bad one is
#     rolled back to the previous version, the rollout Faulted, and tried
#     again after [extensions] retry_interval; a new major never rolls out
#     by itself;
#   - bad input: unknown extension or version, cycles, a name others need.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" -eq 0 ] || { echo "test_extensions needs root (dropbear-sandbox, as test_agent)" >&2; exit 1; }

HERE=$(cd "$(dirname "$0")" && pwd)
SANDBOX=$HERE/../tools/dropbear-sandbox
BUILD_DIR=$(cd "$BW_BIN/../.." && pwd)
AGENT=$BW_BIN/bootwave-agent
cat >>"$CONF" <<EOF
[boot]
firmware_dir = $BUILD_DIR/firmware
[agent]
slot_size = 24M
[orch]
interval = 1
[extensions]
output_cap = 4K
retry_interval = 15
EOF
start_daemon
APPKEY=$(cat "$STATE/ssh_ed25519.pub")
check_contains "the appliance has an SSH key" "ssh-ed25519 " "$APPKEY"

# Nodes: n1 n2 in pool p1 (good), n3 (its SSH server has another key than
# the one its agent reports) and n4 (nothing listens on its SSH port) in p2.
NODES="n1 n2 n3 n4"
mac_of() { printf '52:54:00:ce:00:%02x' "${1#n}"; }
ip_of() { echo "127.0.0.1${1#n}"; } # each machine its own loopback address
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
SB_PIDS=()
stop_sandboxes() {
	local p
	for p in "${SB_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${SB_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap 'stop_sandboxes; cleanup' EXIT
for n in $NODES; do
	mkdir -p "$T/$n/dev" "$T/$n/sb"
	truncate -s 96M "$T/$n/dev/vda"
	mkdir -p "$T/$n/files"
	head -c 100000 /dev/urandom >"$T/$n/files/db.bin"
	ext4_image "$T/$n/files" "$T/$n/dev/vdb" 8M
	sha256sum <"$T/$n/dev/vdb" | cut -d' ' -f1 >"$T/$n/data.sum"
	port=$(free_port)
	echo "$port" >"$T/$n/port"
	[ "$n" = n4 ] && continue # nothing listens there
	SANDBOX_VARLIB=$T/$n/varlib "$SANDBOX" "$T/$n/sb" "$(ip_of $n):$port" "$APPKEY" >"$T/$n/sb.log" 2>&1 &
	SB_PIDS+=($!)
done
for n in n1 n2 n3; do
	for _ in $(seq 100); do [ -s "$T/$n/sb/pid" ] && break; sleep 0.1; done
	[ -s "$T/$n/sb/pid" ] || fail "$n: dropbear did not start: $(cat "$T/$n/sb.log")"
done
# What each machine's agent reports: its own key, but n3's reports n1's.
for n in n1 n2; do cp "$T/$n/sb/host_key.pub" "$T/$n/reported.pub"; done
cp "$T/n1/sb/host_key.pub" "$T/n3/reported.pub"
: >"$T/n4/reported.pub"
cp "$T/n1/sb/host_key.pub" "$T/n4/reported.pub"

os_tree "$T/v1" v1
tar -C "$T/v1" -czf "$T/v1.tar.gz" .
bw -q image create os
bw_rc 0 image publish os v1 "$T/v1.tar.gz"
for p in p1 p2; do
	bw_rc 0 pool create $p --image os --image-version latest --auto-upgrade false --health-timeout 40 \
		--heartbeat-timeout 600 --max-unhealthy-upgraded-percent 100 --max-unhealthy-percent 100
done
for n in $NODES; do
	pool=p1
	case $n in n3 | n4) pool=p2 ;; esac
	bw_rc 0 node create "$n" --mac "$(mac_of "$n")" --os-disk /dev/vda --data-disks /dev/vdb --pool $pool \
		--ip-address "$(ip_of $n)" --ssh-port "$(cat "$T/$n/port")"
done

# ---- the catalog: bundles built here ----
OUTDIR=$T/out # where the scripts leave their marks (the sandboxes share /tmp)
mkdir -p "$OUTDIR"
bundle() { # bundle NAME VERSION SCRIPT-BODY: a tar.gz with an executable run
	local d="$T/src/$1-$2"
	mkdir -p "$d"
	printf '#!/bin/sh\nout=%s/$BW_NODE; mkdir -p "$out"\n%s\n' "$OUTDIR" "$3" >"$d/run"
	chmod 755 "$d/run"
	echo "$1 $2" >"$d/VERSION"
	tar -C "$d" -czf "$T/src/$1-$2.tar.gz" .
	bw -q extension create "$1" 2>/dev/null || true
	bw_rc 0 extension upload "$1" "$2" "$T/src/$1-$2.tar.gz"
}
bundle base 1.0 'echo "base $BW_VERSION settings: $(cat settings.json)"; date +%s.%N >"$out/base.done"; echo 1.0 >"$out/base.version"'
bundle app 1.0 '[ -e "$out/base.done" ] || { echo "base has not run" >&2; exit 1; }; date +%s.%N >"$out/app.start"; echo app ok'
bundle flood 1.0 'head -c 3000000 /dev/zero | tr "\0" x; echo; echo to-stderr >&2'
bundle hang 1.0 'echo hanging; sleep 600'
bundle fails 1.0 'echo "it went wrong" >&2; exit 3'
bundle after-fails 1.0 'touch "$out/after-fails.ran"'

# ---- bad input on a pool's extensions ----
bw_rc 6 pool extension add p1 nosuch --version 1.0
check_contains "unknown extension" "no extension nosuch" "$ERR"
bw_rc 6 pool extension add p1 base --version 9.9
check_contains "unknown version" "has no version 9.9" "$ERR"
bw_rc 2 pool extension add p1 base --version 1.0 --settings '[1,2]'
check_contains "settings must be an object" "JSON object" "$ERR"
bw_rc 0 pool extension add p1 base --version 1.0 --settings '{"greeting": "hello"}'
bw_rc 6 pool extension add p1 app --version 1.0 --provision-after ghost
check_contains "provision_after an extension not in the pool" "no extension ghost" "$ERR"
bw_rc 0 pool extension add p1 app --version 1.0 --provision-after base
bw_rc 6 pool extension set p1 base --provision-after app
check_contains "a cycle is refused" "cycle" "$ERR"
bw_rc 5 pool extension remove p1 base
check_contains "base is needed by app" "app runs after it" "$ERR"
bw_rc 0 pool extension add p1 flood --version 1.0
bw_rc 0 pool extension add p2 base --version 1.0 --timeout 20
bw_rc 0 -o json pool extension list p1
check_eq "p1 runs three extensions" "base app flood" "$(jq -r '[.[].name] | join(" ")' <<<"$OUT")"

# machines: one round of every machine, as in test_rollout.
machines() {
	local n mac script
	for n in $NODES; do
		mac=$(mac_of "$n")
		script=$(curl -sS "$URL/boot/${mac//:/-}.ipxe")
		grep -o 'bootwave\.[a-z]*=[^ ]*' <<<"$script" | tr '\n' ' ' >"$T/$n/cmdline" || true
		if grep -q 'bootwave\.token=' <<<"$script"; then
			"$AGENT" --cmdline "$T/$n/cmdline" --devroot "$T/$n" --no-reboot --retry 3 reimage \
				>>"$T/$n/agent.log" 2>&1 || true
		elif grep -q 'bootwave\.hbtoken=' <<<"$script"; then
			"$AGENT" --cmdline "$T/$n/cmdline" --probe true --grace 0 --once --host-key "$T/$n/reported.pub" \
				--authorized-keys "$T/$n/authorized_keys" heartbeat >>"$T/$n/hb.log" 2>&1 || true
		fi
	done
}
status() { bw -o json rollout status "$1" | jq -r "$2"; }
run_machines_until() { # POOL JQ-CONDITION SECONDS
	local end=$((SECONDS + $3))
	while [ $SECONDS -lt $end ]; do
		machines
		[ "$(status "$1" "$2")" = true ] && return 0
		sleep 0.5
	done
	fail "rollout of $1: not $2 within $3 s: $(bw rollout status "$1")"
}
runs() { bw -o json node extensions "$1" | jq -r "$2"; }

# ---- first provisioning: the extensions run after the image, in order ----
bw_rc 0 rollout start p1
bw_rc 0 rollout start p2
run_machines_until p1 '.status != "RollingForward"' 180
run_machines_until p2 '.status != "RollingForward"' 120
check_eq "p1: completed with every node healthy" "Completed 2" "$(status p1 '"\(.status) \(.progress.successful)"')"
for n in n1 n2; do
	check_eq "$n: three runs, all succeeded" "base:succeeded app:succeeded flood:succeeded" \
		"$(runs $n '[.[] | "\(.extension):\(.state)"] | join(" ")')"
	check_eq "$n: app ran after base finished" "yes" \
		"$(awk -v b="$(cat "$OUTDIR/$n/base.done")" -v a="$(cat "$OUTDIR/$n/app.start")" 'BEGIN { print (a > b) ? "yes" : "no" }')"
	check_eq "$n: the agent installed the appliance's key" "$APPKEY" "$(cat "$T/$n/authorized_keys")"
	check_eq "$n: the reported host key is pinned" "$(cat "$T/$n/reported.pub")" \
		"$(bw -o json node show $n | jq -r .ssh_host_key)"
	check_eq "$n: data disk unchanged" "$(cat "$T/$n/data.sum")" "$(sha256sum <"$T/$n/dev/vdb" | cut -d' ' -f1)"
done
id=$(runs n1 '.[] | select(.extension == "base") | .id')
bw_rc 0 -o json node extension-output "$id"
check_contains "base saw its settings and version" 'base 1.0 settings: {"greeting":"hello"}' "$(jq -r .stdout <<<"$OUT")"
id=$(runs n1 '.[] | select(.extension == "flood") | .id')
bw_rc 0 -o json node extension-output "$id"
check_eq "flood: 4 KiB of stdout kept" "4096" "$(jq -r '.stdout | length' <<<"$OUT")"
check_eq "flood: every byte counted, marked truncated" "3000001 10 true" \
	"$(jq -r '"\(.stdout_bytes) \(.stderr_bytes) \(.truncated)"' <<<"$OUT")"
check_eq "flood: stderr kept apart" "to-stderr" "$(jq -r .stderr <<<"$OUT" | tr -d '\n')"

# ---- host key mismatch and unreachable SSH: clear errors, the node fails its health ----
check_eq "p2: both nodes failed" "2" "$(status p2 '.progress.failed')"
check_contains "n3: the other host key is refused" "host key" "$(runs n3 '.[0].error')"
bw_rc 0 -o json node events n3
check_contains "n3: a mismatch event" "ssh-host-key-mismatch" "$(jq -r '[.[].kind] | join(" ")' <<<"$OUT")"
check_contains "n4: connect to its port failed" "$(ip_of n4):$(cat "$T/n4/port")" "$(runs n4 '.[0].error')"
check_contains "n4: the step is named" "connect" "$(runs n4 '.[0].error')"
check_contains "p2's nodes failed on their extensions" "extension" "$(status p2 '[.nodes[].reason] | join(" ")')"

# ---- run again by hand: hang, fail, skip; the others go on ----
bw_rc 0 pool extension add p1 hang --version 1.0 --timeout 5
bw_rc 0 pool extension add p1 fails --version 1.0
bw_rc 0 pool extension add p1 after-fails --version 1.0 --provision-after fails
before=$(runs n1 'length')
start=$SECONDS
bw_rc 0 node run-extensions n1
for _ in $(seq 60); do
	[ "$(runs n1 "[.[$before:][] | select(.state == \"queued\" or .state == \"running\")] | length")" = 0 ] &&
		[ "$(runs n1 ".[$before:] | length")" = 6 ] && break
	sleep 0.5
done
check_eq "n1: the six runs of the second round" \
	"base:succeeded app:succeeded flood:succeeded hang:failed fails:failed after-fails:skipped" \
	"$(runs n1 "[.[$before:][] | \"\(.extension):\(.state)\"] | join(\" \")")"
check_contains "hang: cut at its timeout" "timed out after 5 s" "$(runs n1 '[.[] | select(.extension == "hang")][-1].error')"
check_eq "hang: the round took the timeout, not the sleep" "yes" "$([ $((SECONDS - start)) -lt 60 ] && echo yes || echo no)"
check_eq "fails: its exit status" "3" "$(runs n1 '[.[] | select(.extension == "fails")][-1].exit_status')"
id=$(runs n1 '[.[] | select(.extension == "fails")][-1].id')
check_eq "fails: its stderr" "it went wrong" "$(bw -o json node extension-output "$id" | jq -r .stderr | tr -d '\n')"
check_contains "after-fails: skipped, naming why" "fails" "$(runs n1 '[.[] | select(.extension == "after-fails")][-1].error')"
check_eq "after-fails never ran" "no" "$([ -e "$OUTDIR/n1/after-fails.ran" ] && echo yes || echo no)"
check_eq "no sleep left on the node" "" "$(pgrep -f 'sleep 600' || true)"

# ---- bootwaved killed in the middle of a node's runs: they run again, whole ----
before=$(runs n2 'length')
bw_rc 0 node run-extensions n2
for _ in $(seq 100); do
	[ "$(runs n2 "[.[$before:][] | select(.extension == \"hang\" and .state == \"running\")] | length")" = 1 ] && break
	sleep 0.2
done
crash_daemon
start_daemon
for _ in $(seq 80); do
	[ "$(runs n2 "[.[$before:][] | select(.state == \"queued\" or .state == \"running\")] | length")" = 0 ] &&
		[ "$(runs n2 "[.[$before:][] | select(.extension == \"after-fails\")] | length")" = 1 ] && break
	sleep 0.5
done
check_eq "n2: the run cut by the crash is failed, saying so" "hang:failed" \
	"$(runs n2 "[.[$before:][] | select(.error | test(\"interrupted by a restart\"))] | map(\"\(.extension):\(.state)\") | join(\" \")")"
check_eq "n2: then the whole round ran again" "base app flood hang fails after-fails" \
	"$(runs n2 "[.[$before:][] | select(.error | test(\"interrupted\") | not)] | .[-6:] | map(.extension) | join(\" \")")"
check_eq "n2: nothing left queued or running" "0" "$(runs n2 '[.[] | select(.state == "queued" or .state == "running")] | length')"

bw_rc 0 pool extension remove p1 after-fails
bw_rc 0 pool extension remove p1 fails
bw_rc 0 pool extension remove p1 hang

# ---- automatic extension upgrades: good, bad (rolled back, retried), major ----
bw_rc 0 pool set p1 --max-unhealthy-upgraded-percent 20
bw_rc 0 pool extension set p1 base --auto-upgrade true
bundle base 1.1 'echo 1.1 >"$out/base.version"; date +%s.%N >"$out/base.done"'
run_machines_until p1 '.extension == "base" and .version == "1.1" and .status != "RollingForward"' 120
check_eq "base 1.1: completed by the platform" "Completed platform 2" "$(status p1 '"\(.status) \(.started_by) \(.progress.successful)"')"
for n in n1 n2; do check_eq "$n runs base 1.1" "1.1" "$(cat "$OUTDIR/$n/base.version")"; done
check_eq "the pool now runs base 1.1" "1.1 1.0" "$(bw -o json pool extension show p1 base | jq -r '"\(.version) \(.previous_version)"')"
bundle base 2.0 'echo 2.0 >"$out/base.version"'
bundle base 1.2 'echo 1.2 >"$out/base.version"; echo "1.2 is broken" >&2; exit 1'
run_machines_until p1 '.version == "1.2" and .status != "RollingForward"' 120
check_eq "base 1.2: Faulted, its node rolled back" "Faulted 1" "$(status p1 '"\(.status) \(.rollback.rolled_back)"')"
for n in n1 n2; do check_eq "$n runs base 1.1 again" "1.1" "$(cat "$OUTDIR/$n/base.version")"; done
js=$(bw -o json pool extension show p1 base)
check_eq "the pool stays on 1.1, 1.2 marked failed" "1.1 1.2" "$(jq -r '"\(.version) \(.failed_version)"' <<<"$js")"
first=$(status p1 .id)
# The retry comes after retry_interval (15 s here); 2.0 (a new major) never does.
run_machines_until p1 ".id != $first and .status != \"RollingForward\"" 150
check_eq "base 1.2 tried again after the interval, Faulted again" "1.2 Faulted" "$(status p1 '"\(.version) \(.status)"')"
bw_rc 0 -o json rollout history p1 --limit 0 --days 0
check_eq "no automatic rollout to the new major" "0" "$(jq '[.[] | select(.version == "2.0")] | length' <<<"$OUT")"
retry_gap=$(jq '[.[] | select(.version == "1.2")] | sort_by(.id) | (.[1].started_at - .[0].completed_at)' <<<"$OUT")
check_eq "the retry waited the interval" "yes" "$([ "$retry_gap" -ge 15 ] && echo yes || echo no)"
bw_rc 0 pool extension set p1 base --auto-upgrade false
# A user may move to the new major.
bw_rc 0 rollout start p1 --extension base --version 2.0
run_machines_until p1 '.status != "RollingForward"' 120
check_eq "base 2.0 by hand" "Completed 2.0" "$(status p1 '"\(.status) \(.version)"')"
check_eq "n1 runs base 2.0" "2.0" "$(cat "$OUTDIR/n1/base.version")"

stop_sandboxes
stop_daemon
finish
