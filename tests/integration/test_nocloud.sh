#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Custom data of pools and nodes, and the NoCloud seed that cloud-init in
# the installed OS reads it from. Through the CLI and the API: set, get
# (bytes exact, binary and gzip too), clear, by name and by MAC; the limit
# ([api] max_custom_data: 413 naming it, before or during the body); roles;
# unknown names. Then nodes installed through the agent protocol (the task,
# its one-time token from the boot script, a succeeded result: test_agent
# covers the agent itself) boot the active script, whose kernel line
# carries the seed of that boot: meta-data (instance-id of the installed
# OS, new after a reimage, stable across boots and the commit; hostname;
# the appliance's SSH key), user-data (the node's data, else its pool's,
# else empty), vendor-data and network-config (empty). A seed answers only
# to the heartbeat token of the node's current boot: never another node's
# data, not with a reimage token, an old boot's token or garbage; and the
# token never reaches the log. Last, the real peer: cloud-init's own NoCloud
# datasource (Debian's package, unpacked, not installed) reads the seed from
# the kernel line bootwaved wrote.
. "$(dirname "$0")/lib.sh"

BUILD_DIR=$(cd "$BW_BIN/../.." && pwd)
cat >>"$CONF" <<EOF
[boot]
firmware_dir = $BUILD_DIR/firmware
EOF
start_daemon
LIMIT=65536 # the default [api] max_custom_data

mac_of() { printf '52:54:00:ee:00:%02x' "${1#n}"; }
node_id() { sqlite3 "$DB" "SELECT id FROM nodes WHERE name = '$1'"; }
# put_raw KIND NAME FILE [curl args...]: PUT FILE as the custom data through the API.
put_raw() {
	local kind=$1 name=$2 file=$3
	shift 3
	api PUT "/api/v1/$kind/$name/custom-data" -H 'Content-Type: application/octet-stream' --data-binary "@$file" "$@"
}
# get_raw KIND NAME OUT: GET the custom data into OUT; sets STATUS.
get_raw() {
	STATUS=$(curl -sS -o "$3" -w '%{http_code}' -H "Authorization: Bearer ${TOKEN:-$ADMIN}" "$URL/api/v1/$1/$2/custom-data")
}
same() { # same WHAT FILE1 FILE2: byte for byte
	if cmp -s "$2" "$3"; then ok; else fail "$1: $2 and $3 differ ($(stat -c %s "$2") and $(stat -c %s "$3") bytes)"; fi
}

# ---- inventory and an image to install ----
os_tree "$T/v1" v1
tar -C "$T/v1" -czf "$T/v1.tar.gz" .
bw -q image create os
bw_rc 0 image publish os v1 "$T/v1.tar.gz"
SHA=$(bw -o json image version os v1 | jq -r .sha256)
bw_rc 0 pool create p1 --image os --image-version v1
bw_rc 0 pool create p2 --image os --image-version v1
for n in n1 n2 n3; do
	bw_rc 0 node create $n --mac "$(mac_of $n)" --os-disk /dev/vda --pool p1
done
VIEWER=$(bw -o json token create viewer1 --role viewer | jq -r .token)
OPERATOR=$(bw -o json token create operator1 --role operator | jq -r .token)

# ---- custom data through the CLI ----
printf '#cloud-config\nwrite_files:\n  - path: /etc/bw-pool\n    content: p1\n' >"$T/pool.yaml"
printf '#cloud-config\nwrite_files:\n  - path: /etc/bw-node\n    content: n1\n' | gzip -9n >"$T/n1.gz"
/usr/bin/python3 -c 'import sys; sys.stdout.buffer.write(bytes(range(256)) * 8)' >"$T/bytes.bin"

bw_rc 3 node custom-data get n1
check_contains "none yet: says so" "node n1 has no custom data" "$ERR"
bw_rc 0 -o json pool custom-data set p1 "$T/pool.yaml"
check_eq "set: size and sha256 in the reply" "p1 $(stat -c %s "$T/pool.yaml") $(sha256sum <"$T/pool.yaml" | cut -d' ' -f1)" \
	"$(jq -r '"\(.pool) \(.size) \(.sha256)"' <<<"$OUT")"
bw pool custom-data get p1 >"$T/out"
same "pool get = set" "$T/pool.yaml" "$T/out"
# stdin, binary (gzip), the node named by its MAC
bw_rc 0 node custom-data set "$(mac_of n1)" - <"$T/n1.gz"
bw node custom-data get n1 >"$T/out"
same "gzip from stdin, read back exact" "$T/n1.gz" "$T/out"
bw_rc 0 node custom-data set n2 "$T/bytes.bin"
bw node custom-data get "$(mac_of n2)" >"$T/out"
same "every byte value, read back exact" "$T/bytes.bin" "$T/out"
bw_rc 0 node custom-data clear n2
check_eq "clear says so" "cleared the custom data of node n2" "$OUT"
bw_rc 3 node custom-data get n2
bw_rc 0 node custom-data clear n2
check_eq "clearing twice is fine" "cleared the custom data of node n2" "$OUT"
bw_rc 0 -q node custom-data set n2 "$T/bytes.bin"
check_eq "-q prints nothing" "" "$OUT"
# bad command lines: nothing is sent
for args in "node custom-data" "node custom-data frob n1" "node custom-data get" "node custom-data get n1 extra" \
	"pool custom-data clear p1 x" "node custom-data set n1 a b"; do
	# shellcheck disable=SC2086
	bw_rc 2 $args
done
check_contains "usage names the verbs" "custom-data get NAME | set NAME [FILE|-] | clear NAME" "$ERR"
bw_rc 2 node custom-data set n1 "$T/nonexistent"
check_contains "missing file named" "nonexistent" "$ERR"
bw_rc 2 node custom-data set n1 /dev/null
check_contains "not a regular file" "not a regular file" "$ERR"
# unknown names
bw_rc 3 node custom-data get nosuch
check_contains "unknown node" "no node named nosuch" "$ERR"
bw_rc 3 pool custom-data set nosuch "$T/pool.yaml"
check_contains "unknown pool" "no pool named nosuch" "$ERR"
bw_rc 3 pool custom-data clear nosuch
# roles: a viewer reads, an operator writes
BOOTWAVE_TOKEN=$VIEWER bw_rc 4 node custom-data set n1 "$T/pool.yaml"
check_contains "viewer cannot set" "needs the operator role" "$ERR"
BOOTWAVE_TOKEN=$VIEWER bw_rc 4 node custom-data clear n1
BOOTWAVE_TOKEN=$VIEWER bw node custom-data get n1 >"$T/out"
same "viewer reads" "$T/n1.gz" "$T/out"
BOOTWAVE_TOKEN=$OPERATOR bw_rc 0 node custom-data set n3 "$T/pool.yaml"
BOOTWAVE_TOKEN=$OPERATOR bw_rc 0 node custom-data clear n3
# the history of a node says who changed it
check_contains "events record the change" "set to $(stat -c %s "$T/n1.gz") bytes" \
	"$(bw -o json node events n1 | jq -r '.[] | select(.kind == "custom-data") | .message')"
check_contains "events name the token" "by admin" "$(bw -o json node events n1 | jq -r '.[] | select(.kind == "custom-data") | .message')"
check_contains "events record a clear" "cleared, by operator1" \
	"$(bw -o json node events n3 | jq -r '.[] | select(.kind == "custom-data") | .message')"

# ---- custom data through the API ----
put_raw pools p2 "$T/bytes.bin"
check_eq "API PUT" "200" "$STATUS"
get_raw pools p2 "$T/out"
check_eq "API GET" "200" "$STATUS"
same "API bytes exact" "$T/bytes.bin" "$T/out"
check_eq "API GET content type" "application/octet-stream" \
	"$(curl -sS -o /dev/null -w '%{content_type}' -H "Authorization: Bearer $ADMIN" "$URL/api/v1/pools/p2/custom-data")"
api DELETE /api/v1/pools/p2/custom-data
check_eq "API DELETE" "204" "$STATUS"
api_expect 404 not_found GET /api/v1/pools/p2/custom-data
check_contains "API 404 says why" "pool p2 has no custom data" "$BODY"
api_expect 404 not_found PUT /api/v1/nodes/nosuch/custom-data --data-binary @"$T/pool.yaml"
api_expect 404 not_found DELETE /api/v1/pools/nosuch/custom-data
TOKEN=$VIEWER api_expect 403 forbidden PUT /api/v1/nodes/n1/custom-data --data-binary @"$T/pool.yaml"
TOKEN=$VIEWER api_expect 403 forbidden DELETE /api/v1/nodes/n1/custom-data
TOKEN=$VIEWER get_raw nodes n1 "$T/out"
check_eq "viewer GET" "200" "$STATUS"
TOKEN=bw_nope api_expect 401 unauthorized PUT /api/v1/nodes/n1/custom-data --data-binary @"$T/pool.yaml"
: >"$T/empty"
put_raw nodes n3 "$T/empty"
check_eq "empty body refused" "400 empty_upload" "$STATUS $(jq -r .error.code <<<"$BODY")"
check_contains "empty body: says how to clear" "DELETE" "$BODY"
bw_rc 6 node custom-data set n3 "$T/empty"
api PUT "/api/v1/nodes/n3/custom-data?x=1" --data-binary @"$T/pool.yaml"
check_eq "query parameters refused" "400 unknown_parameter" "$STATUS $(jq -r .error.code <<<"$BODY")"
# the limit: exactly at it is fine, one byte over is refused, naming it, and changes nothing
head -c $LIMIT /dev/urandom >"$T/max.bin"
head -c $((LIMIT + 1)) /dev/urandom >"$T/over.bin"
put_raw nodes n3 "$T/max.bin"
check_eq "exactly [api] max_custom_data" "200" "$STATUS"
put_raw nodes n3 "$T/over.bin"
check_eq "one byte over: 413" "413 body_too_large" "$STATUS $(jq -r .error.code <<<"$BODY")"
check_contains "413 names the limit" "[api] max_custom_data ($LIMIT bytes)" "$BODY"
# without a Content-Length (chunked): refused while the body streams in
put_raw nodes n3 "$T/over.bin" -H 'Transfer-Encoding: chunked'
check_eq "chunked, over the limit: 413" "413 body_too_large" "$STATUS $(jq -r .error.code <<<"$BODY")"
bw_rc 6 node custom-data set n3 "$T/over.bin"
check_contains "CLI: 413 names the limit" "[api] max_custom_data ($LIMIT bytes)" "$ERR"
head -c $((LIMIT * 3)) /dev/urandom >"$T/big.bin"
bw_rc 6 node custom-data set n3 - <"$T/big.bin"
get_raw nodes n3 "$T/out"
same "refusals changed nothing" "$T/max.bin" "$T/out"
# a deleted node or pool takes its data along
bw_rc 0 node delete n3
check_eq "deleted node: its data is gone" "0" "$(sqlite3 "$DB" "SELECT count(*) FROM custom_data WHERE owner = 'node'
	AND owner_id NOT IN (SELECT id FROM nodes)")"
bw_rc 0 pool custom-data set p2 "$T/pool.yaml"
bw_rc 0 pool delete p2
check_eq "deleted pool: its data is gone" "0" "$(sqlite3 "$DB" "SELECT count(*) FROM custom_data WHERE owner = 'pool'
	AND owner_id NOT IN (SELECT id FROM pools)")"

# ---- installing nodes: a reimage as the agent reports it ----
# install NODE: a task for os@v1, the one-time token of the reimage script,
# a succeeded result with the version's sha256. Sets TASK, RTOKEN.
install() {
	local script
	bw_rc 0 -o json node reimage "$1" --image os --version v1
	TASK=$(jq -r .id <<<"$OUT")
	script=$(curl -sS "$URL/boot/$(mac_of "$1" | tr : -).ipxe")
	check_not_contains "$1: the reimage script has no NoCloud seed" "ds=nocloud" "$script"
	RTOKEN=$(grep -o 'bootwave\.token=[^ ]*' <<<"$script" | cut -d= -f2)
	# The agent's token is not a heartbeat token: no seed for it.
	check_eq "$1: a reimage token opens no seed" "404" \
		"$(curl -s -o /dev/null -w '%{http_code}' "$URL/nocloud/$RTOKEN/meta-data")"
	TOKEN=$RTOKEN api POST /api/v1/agent/result -H 'Content-Type: application/json' \
		-d "{\"task\": $TASK, \"status\": \"succeeded\", \"sha256\": \"$SHA\"}"
	check_eq "$1: result accepted" "200 succeeded" "$STATUS $(jq -r .state <<<"$BODY")"
}
# boot NODE: the node boots: its active script, the seed URL on its kernel
# line ($SEED), this boot's heartbeat token ($HB), the kernel line ($KLINE).
boot() {
	local script
	script=$(curl -sS "$URL/boot/$(mac_of "$1" | tr : -).ipxe")
	KLINE=$(grep '^kernel ' <<<"$script" | sed 's/^kernel [^ ]* //; s/ || goto retry$//')
	HB=$(grep -o 'bootwave\.hbtoken=[^ ]*' <<<"$script" | cut -d= -f2)
	SEED=$(grep -o 'ds=nocloud;s=[^; ]*' <<<"$script" | sed 's/^ds=nocloud;s=//')
}
# fetch FILE [curl args]: GET $SEED/FILE into $T/nc.out; sets STATUS.
fetch() {
	local f=$1
	shift
	STATUS=$(curl -sS -o "$T/nc.out" -w '%{http_code}' "$@" "$SEED$f")
}
# yaml KEY: a key of the meta-data just fetched, as YAML parses it (JSON).
yaml() { /usr/bin/python3 -c 'import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))[sys.argv[2]]))' "$T/nc.out" "$1"; }

install n1
TASK1=$TASK
boot n1
check_contains "active script: the seed on the kernel line" "ds=nocloud;s=$URL/nocloud/$HB/;dsmode=net" "$KLINE"
check_eq "the seed is this boot's heartbeat token" "$URL/nocloud/$HB/" "$SEED"
fetch meta-data
check_eq "meta-data" "200" "$STATUS"
N1=$(node_id n1)
check_eq "instance-id: node, slot, the task that wrote it" "\"bw-$N1-a-$TASK1\"" "$(yaml instance-id)"
check_eq "local-hostname" '"n1"' "$(yaml local-hostname)"
check_eq "public-keys: the appliance's key" "[\"$(cat "$STATE/ssh_ed25519.pub")\"]" "$(yaml public-keys)"
check_contains "meta-data values quoted" "local-hostname: \"n1\"" "$(cat "$T/nc.out")"
fetch user-data
check_eq "user-data" "200" "$STATUS"
same "user-data: the node's own (gzip, exact)" "$T/n1.gz" "$T/nc.out"
HEAD=$(curl -sS -I "${SEED}user-data" | tr -d '\r')
check_contains "HEAD user-data: 200" "HTTP/1.1 200" "$HEAD"
check_eq "HEAD user-data: its length" "$(stat -c %s "$T/n1.gz")" "$(sed -n 's/^content-length: //Ip' <<<"$HEAD")"
for f in vendor-data network-config; do
	fetch $f
	check_eq "$f: empty 200" "200 0" "$STATUS $(stat -c %s "$T/nc.out")"
done
fetch nosuch
check_eq "unknown file" "404" "$STATUS"
check_contains "unknown file: names the files" "meta-data, user-data" "$(cat "$T/nc.out")"
SEED1=$SEED HB1=$HB

install n2
boot n2
fetch user-data
same "n2: its own data" "$T/bytes.bin" "$T/nc.out"
bw_rc 0 node custom-data clear n2
fetch user-data
same "n2 has none: its pool's" "$T/pool.yaml" "$T/nc.out"
fetch meta-data
check_eq "n2's own hostname" '"n2"' "$(yaml local-hostname)"
# n1's seed still reads n1's data only (the token names the node)
SEED=$SEED1 fetch user-data
same "n1's token: n1's data, not n2's" "$T/n1.gz" "$T/nc.out"
SEED2=$SEED
bw_rc 0 node custom-data clear n1
SEED=$SEED1 fetch user-data
same "n1's data cleared: its pool's" "$T/pool.yaml" "$T/nc.out"
bw_rc 0 pool custom-data clear p1
SEED=$SEED1 fetch user-data
check_eq "no data anywhere: empty 200" "200 0" "$STATUS $(stat -c %s "$T/nc.out")"
bw_rc 0 node set n2 --pool ''
SEED=$SEED2 fetch user-data
check_eq "no pool: empty 200" "200 0" "$STATUS $(stat -c %s "$T/nc.out")"
bw_rc 0 node custom-data set n1 "$T/n1.gz"

# bad tokens: a plain-text 404 that reveals nothing
for tok in "bwa_$(printf '0%.0s' $(seq 48))" garbage "$ADMIN" "$RTOKEN"; do
	STATUS=$(curl -sS -o "$T/nc.out" -w '%{http_code}' "$URL/nocloud/$tok/user-data")
	check_eq "bad token ${tok:0:8}...: 404" "404" "$STATUS"
	check_contains "bad token: says why, in text" "not the heartbeat token of a node's current boot" "$(cat "$T/nc.out")"
	check_eq "bad token: not JSON" "" "$(jq -r .error 2>/dev/null <"$T/nc.out" || true)"
	check_not_contains "bad token: no data" "cloud-config" "$(cat "$T/nc.out")"
done
STATUS=$(curl -sS -o "$T/nc.out" -w '%{http_code}' "$URL/nocloud/$HB1/")
check_eq "the bare seed directory lists its files" "200" "$STATUS"
check_eq "the listing" "meta-data user-data vendor-data network-config" "$(xargs <"$T/nc.out")"
STATUS=$(curl -sS -o /dev/null -w '%{http_code}' "$URL/nocloud/$HB1/meta-data/x")
check_eq "below a file: nothing" "404" "$STATUS"

# a new boot: a new token, the old one is dead, the same installed OS
boot n1
check_eq "a new boot, a new token" "yes" "$([ "$HB" != "$HB1" ] && echo yes || echo no)"
SEED=$SEED1 fetch meta-data
check_eq "the previous boot's seed is dead" "404" "$STATUS"
fetch meta-data
check_eq "same installed OS, same instance-id" "\"bw-$N1-a-$TASK1\"" "$(yaml instance-id)"
# Healthy commits slot a: still the same OS
TOKEN=$HB api POST /api/v1/agent/heartbeat -H 'Content-Type: application/json' -d '{"state": "Healthy"}'
check_eq "heartbeat with the seed's token" "200" "$STATUS"
check_eq "committed" "active a" "$(bw -o json node show n1 | jq -r '"\(.state) \(.active_slot)"')"
fetch meta-data
check_eq "committed: same instance-id" "\"bw-$N1-a-$TASK1\"" "$(yaml instance-id)"
# a reimage: slot b, a new instance-id
install n1
TASK2=$TASK
boot n1
fetch meta-data
check_eq "after a reimage: a new instance-id" "\"bw-$N1-b-$TASK2\"" "$(yaml instance-id)"
check_eq "task ids differ" "yes" "$([ "$TASK2" != "$TASK1" ] && echo yes || echo no)"
check_contains "meta-data served: an event" "instance-id bw-$N1-b-$TASK2" \
	"$(bw -o json node events n1 | jq -r '.[] | select(.kind == "nocloud") | .message')"
# the token is a secret: never in the log
check_eq "heartbeat tokens stay out of the log" "0" "$(grep -c -e "$HB" -e "$HB1" "$T/daemon.log" || true)"

# ---- the real peer: cloud-init's NoCloud datasource ----
# Debian 12's cloud-init, unpacked (not installed: installing it enables its
# boot services) into a cache under build/; its Python dependencies are
# Debian packages (scripts/setup-deps test). It reads the kernel line of the
# active script as a node's /proc/cmdline, in its network stage.
CI_CACHE=$BUILD_DIR/cloud-init
ci_root() {
	if /usr/bin/python3 -c 'import cloudinit' 2>/dev/null; then
		echo "" # installed
		return 0
	fi
	if [ ! -d "$CI_CACHE/root/usr/lib/python3/dist-packages/cloudinit" ]; then
		rm -rf "$CI_CACHE/dl" && mkdir -p "$CI_CACHE/dl"
		(cd "$CI_CACHE/dl" && apt-get download -q cloud-init >/dev/null 2>&1) || return 1
		rm -rf "$CI_CACHE/root.tmp"
		dpkg-deb -x "$CI_CACHE"/dl/cloud-init_*.deb "$CI_CACHE/root.tmp" && mv "$CI_CACHE/root.tmp" "$CI_CACHE/root" || return 1
	fi
	echo "$CI_CACHE/root/usr/lib/python3/dist-packages"
}
cat >"$T/ci.py" <<'PY'
# cloud-init's DataSourceNoCloudNet as cloud-init's network stage runs it,
# on a kernel command line given as argv[1]; prints what it found as JSON.
import hashlib, json, sys
from cloudinit import distros, helpers, util
from cloudinit.sources import DataSourceNoCloud as nc
util.get_cmdline = lambda: sys.argv[1]      # /proc/cmdline of the node
nc.dmi.read_dmi_data = lambda key: None    # no SMBIOS seed here
paths = helpers.Paths({"cloud_dir": sys.argv[2] + "/cloud", "run_dir": sys.argv[2] + "/run"})
distro = distros.fetch("debian")("debian", {}, paths)
# fs_label None: no search for a cidata disk (blkid) on this machine.
ds = nc.DataSourceNoCloudNet({"datasource": {"NoCloud": {"fs_label": None}}}, distro, paths)
found = ds.get_data()
parts = [p for p in ds.get_userdata().walk() if not p.is_multipart()] if found else []
print(json.dumps({
    "found": found, "dsmode": ds.dsmode, "instance_id": ds.get_instance_id() if found else None,
    "hostname": ds.metadata.get("local-hostname"), "keys": ds.get_public_ssh_keys() if found else [],
    "userdata_sha256": hashlib.sha256(ds.get_userdata_raw() or b"").hexdigest(),
    "parts": [[p.get_content_type(), p.get_payload(decode=True).decode()] for p in parts],
}))
PY
if ! pyroot=$(ci_root) || ! PYTHONPATH=$pyroot /usr/bin/python3 -c 'import cloudinit.sources.DataSourceNoCloud' 2>"$T/ci.err"; then
	echo "   (cloud-init's NoCloud datasource not run: cloud-init could not be fetched or imported: $(tail -1 "$T/ci.err" 2>/dev/null))"
else
	t0=$SECONDS
	boot n1
	mkdir -p "$T/ci"
	CI=$(PYTHONPATH=$pyroot NO_PROXY='*' timeout 60 /usr/bin/python3 "$T/ci.py" "$KLINE" "$T/ci" 2>"$T/ci.log" | tail -1)
	echo "   cloud-init $(PYTHONPATH=$pyroot /usr/bin/python3 -c 'from cloudinit import version; print(version.version_string())') read the seed in $((SECONDS - t0)) s"
	check_eq "cloud-init: found the NoCloud seed, network mode" "true net" "$(jq -r '"\(.found) \(.dsmode)"' <<<"$CI")"
	check_eq "cloud-init: instance-id" "bw-$N1-b-$TASK2" "$(jq -r .instance_id <<<"$CI")"
	check_eq "cloud-init: hostname" "n1" "$(jq -r .hostname <<<"$CI")"
	check_eq "cloud-init: the appliance's key" "$(cat "$STATE/ssh_ed25519.pub")" "$(jq -r '.keys | join(",")' <<<"$CI")"
	check_eq "cloud-init: user-data bytes" "$(sha256sum <"$T/n1.gz" | cut -d' ' -f1)" "$(jq -r .userdata_sha256 <<<"$CI")"
	check_eq "cloud-init: the gzip user-data is a cloud-config" "text/cloud-config" "$(jq -r '.parts[0][0]' <<<"$CI")"
	check_contains "cloud-init: its content" "path: /etc/bw-node" "$(jq -r '.parts[0][1]' <<<"$CI")"
	[ "$(jq -r .found <<<"$CI")" = true ] || tail -20 "$T/ci.log" >&2
fi

stop_daemon
finish
