# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# Shared helpers of the benchmark scripts of tests/bench (make bench).
# Every benchmark runs bootwaved and the peer tool side by side in the same
# run, on the same files, in network namespaces it creates, bounds its own
# duration, prints its figures and then its ratios last, and writes them to
# $BENCH_OUT/<name>.json (default build/bench/) for comparison between runs.
#
#   bench_begin NAME LIMIT-SECONDS   work directory $BT, a deadline, cleanup on exit
#   bench_ns NAME                    a network namespace with lo up (removed at exit); sets NSX_<NAME>
#   bench_result JSON-OBJECT         one measured case, e.g. {"server":"nginx","clients":64,"goodput_mib_s":812}
#   bench_ratio WHAT VALUE OP TARGET  a ratio and its target (OP: >= or <=), e.g. "goodput vs nginx, 64 clients" 1.04 >= 1
#   bench_end                        prints the ratios last, writes the JSON; exit 0 (targets missed are reported, not failed)
#   bench_cpu PID                    CPU seconds (user + system) of PID and its reaped children so far
#   bench_peer PACKAGE               a Debian package's files unpacked (apt-get download, not installed) under
#                                    $BENCH_PEERS/PACKAGE; prints that directory
#   bench_left                       seconds left before the deadline
set -euo pipefail
BENCH_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
: "${BW_BIN:=$BENCH_TOP/build/release/bin}"
: "${BENCH_OUT:=$BENCH_TOP/build/bench}"
: "${BENCH_PEERS:=$BENCH_TOP/build/bench/peers}"
BENCH_NAME=
BENCH_T0=
BENCH_LIMIT=
BENCH_NS=()
BENCH_PIDS=()
BENCH_RESULTS=()
BENCH_RATIOS=()

bench_cleanup() {
	local p ns
	for p in "${BENCH_PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	for ns in "${BENCH_NS[@]}"; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
		ip netns del "$ns" 2>/dev/null || true
	done
	[ -n "${BT:-}" ] && [ -z "${BENCH_KEEP:-}" ] && rm -rf "$BT"
	return 0
}

bench_begin() {
	BENCH_NAME=$1
	BENCH_LIMIT=$2
	BENCH_T0=$(date +%s)
	[ "$(id -u)" -eq 0 ] || { echo "$BENCH_NAME: needs root (network namespaces)" >&2; exit 1; }
	BT=$(mktemp -d "${TMPDIR:-/var/tmp}/bw-bench-$BENCH_NAME.XXXXXX")
	trap bench_cleanup EXIT
	trap 'echo "$BENCH_NAME: interrupted" >&2; exit 130' INT TERM HUP
	mkdir -p "$BENCH_OUT"
	echo "== bench $BENCH_NAME (at most $BENCH_LIMIT s)"
}

bench_left() { echo $((BENCH_LIMIT - ($(date +%s) - BENCH_T0))); }

# bench_ns NAME: a namespace (name made unique per run) with lo up; NSX_NAME=(ip netns exec ...).
bench_ns() {
	local ns
	ns="bwb$(printf '%04x' $(($$ % 65536)))$1"
	ip netns add "$ns"
	BENCH_NS+=("$ns")
	ip -n "$ns" link set lo up
	eval "NSX_$1=(ip netns exec $ns)"
	eval "NS_$1=$ns"
}

bench_result() {
	jq -e . >/dev/null <<<"$1" || { echo "$BENCH_NAME: bad result JSON: $1" >&2; exit 1; }
	BENCH_RESULTS+=("$1")
}

bench_ratio() { # WHAT VALUE OP TARGET
	local met
	met=$(awk -v v="$2" -v t="$4" -v op="$3" 'BEGIN { print (op == ">=" ? v >= t : v <= t) ? "true" : "false" }')
	BENCH_RATIOS+=("$(jq -nc --arg w "$1" --argjson v "$2" --arg op "$3" --argjson t "$4" --argjson m "$met" \
		'{what: $w, value: $v, target: "\($op) \($t)", met: $m}')")
}

bench_end() {
	local json r
	json=$(jq -n --arg name "$BENCH_NAME" --argjson t0 "$BENCH_T0" --argjson t1 "$(date +%s)" \
		--arg host "$(uname -n)" --argjson cpus "$(nproc)" \
		--slurpfile res <(printf '%s\n' "${BENCH_RESULTS[@]}") --slurpfile rat <(printf '%s\n' "${BENCH_RATIOS[@]}") \
		'{bench: $name, started: ($t0 | todate), duration_s: ($t1 - $t0), host: $host, cpus: $cpus,
		  results: $res, ratios: $rat}')
	echo "$json" >"$BENCH_OUT/$BENCH_NAME.json"
	echo "-- $BENCH_NAME: ratios (bootwaved / peer; $BENCH_OUT/$BENCH_NAME.json)"
	for r in "${BENCH_RATIOS[@]}"; do
		jq -r '"   \(.what): \(.value * 100 | round / 100) (target \(.target)) \(if .met then "met" else "MISSED" end)"' <<<"$r"
	done
}

bench_cpu() {
	awk '{ printf "%.2f\n", ($14 + $15 + $16 + $17) / '"$(getconf CLK_TCK)"' }' "/proc/$1/stat"
}

bench_peer() {
	local pkg=$1 dir=$BENCH_PEERS/$1
	if [ ! -e "$dir/.stamp" ]; then
		rm -rf "$dir" && mkdir -p "$dir/deb"
		(cd "$dir/deb" && apt-get download -q "$pkg" >/dev/null 2>&1) || { echo "bench_peer: apt-get download $pkg failed" >&2; return 1; }
		dpkg-deb -x "$dir"/deb/*.deb "$dir"
		touch "$dir/.stamp"
	fi
	echo "$dir"
}
