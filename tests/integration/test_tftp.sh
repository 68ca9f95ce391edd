#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The TFTP server (server/boot/tftp.c, run alone by tests/tftpd_test) against
# real clients: tftp-hpa (plain RFC 1350, netascii), atftp (blksize,
# windowsize, tsize, timeout) and curl. Every download is compared by
# sha256. Every bad request gets the ERROR (code and message naming the
# check) or has its option ignored, as tftp_packet.h documents, and a good
# download still works after it. A client that stops acknowledging is given
# up after the retries while another transfer completes; a packet from a
# wrong transfer ID gets ERROR 5 and does not disturb the download; past
# max_transfers a request gets ERROR 0 "server busy".
. "$(dirname "$0")/lib.sh"

TESTS_BIN=$(cd "$BW_BIN/../tests" 2>/dev/null && pwd) || true
TFTPD=$TESTS_BIN/tftpd_test
UDPSEND=$TESTS_BIN/udpsend
for b in "$TFTPD" "$UDPSEND"; do
	[ -x "$b" ] || { echo "   missing $b (built by make build-<variant>)" >&2; exit 1; }
done
for c in tftp atftp curl sha256sum od; do
	command -v "$c" >/dev/null || { echo "   missing client $c (scripts/setup-deps test)" >&2; exit 1; }
done

ROOT=$T/root
DL=$T/dl
mkdir -p "$ROOT/sub/dir" "$DL"
head -c 1234 /dev/urandom >"$ROOT/small"
head -c $((512 * 100 + 77)) /dev/urandom >"$ROOT/odd"
head -c $((512 * 64)) /dev/urandom >"$ROOT/exact512"
head -c $((1468 * 20)) /dev/urandom >"$ROOT/exact1468"
head -c $((40 * 1024 * 1024)) /dev/urandom >"$ROOT/big"
: >"$ROOT/empty"
head -c 3000 /dev/urandom >"$ROOT/sub/dir/nested.bin"
# netascii: bytes with many CR, LF and NUL, across block boundaries
head -c 20000 /dev/urandom | tr -c 'a-z\r\n\000' 'a' >"$ROOT/text"
ln -s /etc/passwd "$ROOT/evil"
ln -s small "$ROOT/inner-link"
ln -s /etc "$ROOT/etc-link"
mkfifo "$ROOT/fifo"
printf 'outside the root\n' >"$T/secret"

sha() { sha256sum "$1" | cut -d' ' -f1; }

# check_file WHAT NAME OUT: OUT has exactly the bytes of ROOT/NAME
check_file() {
	if [ -f "$3" ] && [ "$(sha "$ROOT/$2")" == "$(sha "$3")" ]; then
		ok
	else
		fail "$1: $3 differs from $2 ($(stat -c %s "$3" 2>/dev/null || echo missing) bytes)"
	fi
	rm -f "$3"
}

# start_tftpd [tftpd_test options]: sets TFTPD_PID and PORT
TFTPD_N=0
start_tftpd() {
	TFTPD_N=$((TFTPD_N + 1))
	rm -f "$T/tftp.port"
	"$TFTPD" -v -p "$T/tftp.port" "$@" 127.0.0.1:0 "$ROOT" >"$T/tftpd.$TFTPD_N.out" 2>>"$T/daemon.log" &
	TFTPD_PID=$!
	DAEMON_PID=$TFTPD_PID # lib.sh's cleanup kills it if the test dies
	for _ in $(seq 100); do
		[ -s "$T/tftp.port" ] && break
		kill -0 "$TFTPD_PID" 2>/dev/null || { tail "$T/daemon.log" >&2; echo "tftpd_test died at start" >&2; exit 1; }
		sleep 0.05
	done
	[ -s "$T/tftp.port" ] || { echo "tftpd_test did not start" >&2; exit 1; }
	PORT=$(cat "$T/tftp.port")
	LOG_FROM=$(wc -l <"$T/daemon.log")
}

# stop_tftpd: SIGTERM, a clean exit (under ASan: no leak), its counters in $STATS
stop_tftpd() {
	local rc=0
	kill -TERM "$TFTPD_PID"
	wait "$TFTPD_PID" || rc=$?
	DAEMON_PID=
	check_eq "tftpd_test exit status" 0 "$rc"
	STATS=$(tail -1 "$T/tftpd.$TFTPD_N.out")
}

stat_of() { sed -n "s/.*\b$1=\([0-9]*\).*/\1/p" <<<"$STATS"; }

# The log lines of the running daemon.
daemon_log() { tail -n +"$((LOG_FROM + 1))" "$T/daemon.log"; }

hexs() { printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n'; }

# req OPCODE NAME MODE [OPTION VALUE]...: a request in hex
req() {
	local op=$1 name=$2 mode=$3 h
	shift 3
	h="000${op}$(hexs "$name")00$(hexs "$mode")00"
	while [ $# -gt 0 ]; do
		h+="$(hexs "$1")00$(hexs "$2")00"
		shift 2
	done
	echo "$h"
}

# raw HEX: the server's first answer in hex in $REPLY ("timeout" if none)
raw() { REPLY=$("$UDPSEND" -t 1500 127.0.0.1 "$PORT" "$1" || true); }

err_hex() { printf '0005%04x%s00' "$1" "$(hexs "$2")"; }

# expect_error WHAT HEX CODE MESSAGE
expect_error() {
	raw "$2"
	check_eq "$1: ERROR $3 \"$4\"" "$(err_hex "$3" "$4")" "$REPLY"
}

# A good download right after a bad request: the server is still serving.
still_serving() {
	curl -sS -o "$DL/after" "tftp://127.0.0.1:$PORT/small" 2>"$T/curl.err" || fail "$1: curl failed after it: $(cat "$T/curl.err")"
	check_file "download after $1" small "$DL/after"
}

hpa() { tftp -m "$1" 127.0.0.1 "$PORT" -c get "$2" "$3" 2>&1; }
now_ms() { date +%s%3N; }

echo "   -- downloads (tftp-hpa, atftp, curl)"
start_tftpd -m 24 -t 1000 -r 5 -b 1468 -w 64
for f in small odd exact512 empty sub/dir/nested.bin; do
	hpa octet "$f" "$DL/hpa" >/dev/null
	check_file "tftp-hpa octet $f" "$f" "$DL/hpa"
done
# netascii both ways: the server encodes, tftp-hpa decodes, the bytes come back.
hpa netascii text "$DL/na" >/dev/null
check_file "tftp-hpa netascii text" text "$DL/na"
hpa netascii odd "$DL/na" >/dev/null
check_file "tftp-hpa netascii binary" odd "$DL/na"
for f in small odd exact512 exact1468; do
	atftp -g -r "$f" -l "$DL/a" 127.0.0.1 "$PORT" >/dev/null 2>&1 || fail "atftp $f"
	check_file "atftp $f" "$f" "$DL/a"
	atftp --option "blksize 1468" --option "tsize 0" -g -r "$f" -l "$DL/a" 127.0.0.1 "$PORT" >/dev/null 2>&1 ||
		fail "atftp blksize 1468 $f"
	check_file "atftp blksize 1468 $f" "$f" "$DL/a"
	curl -sS --tftp-blksize 1468 -o "$DL/c" "tftp://127.0.0.1:$PORT/$f" || fail "curl $f"
	check_file "curl blksize 1468 $f" "$f" "$DL/c"
done
atftp --option "timeout 2" --option "windowsize 4" -g -r odd -l "$DL/a" 127.0.0.1 "$PORT" >/dev/null 2>&1 || fail "atftp timeout 2"
check_file "atftp timeout 2 windowsize 4" odd "$DL/a"

# tsize (RFC 2349) is answered with the file size, in the OACK before any data.
raw "$(req 1 odd octet tsize 0)"
check_eq "tsize in OACK" "0006$(hexs tsize)00$(hexs $((512 * 100 + 77)))00" "$REPLY"
raw "$(req 1 odd octet blksize 1468 tsize 0 windowsize 16 timeout 3)"
check_eq "all options in OACK" \
	"0006$(hexs blksize)00$(hexs 1468)00$(hexs timeout)00$(hexs 3)00$(hexs tsize)00$(hexs $((512 * 100 + 77)))00$(hexs windowsize)00$(hexs 16)00" "$REPLY"
# Beyond the server's limits: answered with its maximum (RFC 2348, RFC 7440).
raw "$(req 1 odd octet blksize 8192 windowsize 1000)"
check_eq "blksize and windowsize lowered to the server's limits" \
	"0006$(hexs blksize)00$(hexs 1468)00$(hexs windowsize)00$(hexs 64)00" "$REPLY"
# netascii: no tsize (the encoded size is not known without reading the file).
raw "$(req 1 odd netascii tsize 0)"
check_eq "netascii: tsize not answered, DATA 1 at once" "00030001" "${REPLY:0:8}"

# 40 MiB with 512-byte blocks: 81920 blocks, the block number wraps at 65535.
t0=$(now_ms)
hpa octet big "$DL/big" >/dev/null
t1=$(now_ms)
check_file "tftp-hpa 40 MiB, blksize 512 (block number rollover)" big "$DL/big"
curl -sS -o "$DL/big" "tftp://127.0.0.1:$PORT/big" || fail "curl 40 MiB"
check_file "curl 40 MiB, blksize 512 (rollover)" big "$DL/big"
t2=$(now_ms)
atftp --option "blksize 1468" --option "windowsize 1" -g -r big -l "$DL/big" 127.0.0.1 "$PORT" >/dev/null 2>&1 || fail "atftp big w1"
t3=$(now_ms)
check_file "atftp 40 MiB blksize 1468 windowsize 1" big "$DL/big"
t4=$(now_ms)
atftp --option "blksize 1468" --option "windowsize 16" -g -r big -l "$DL/big" 127.0.0.1 "$PORT" >/dev/null 2>&1 || fail "atftp big w16"
t5=$(now_ms)
check_file "atftp 40 MiB blksize 1468 windowsize 16" big "$DL/big"
echo "   40 MiB: tftp-hpa blksize 512 $((t1 - t0)) ms; atftp blksize 1468 windowsize 1 $((t3 - t2)) ms, windowsize 16 $((t5 - t4)) ms"
check_eq "completed transfers logged with size" 1 "$(daemon_log | grep -c 'sent "big" .*: 41943040 bytes in .* blksize 1468, windowsize 16,')"

echo "   -- bad requests"
expect_error "'..'" "$(req 1 ../secret octet)" 2 "'..' in filename"
still_serving "'..'"
expect_error "'..' inside" "$(req 1 sub/../../secret octet)" 2 "'..' in filename"
out=$(hpa octet ../secret "$DL/x")
check_contains "tftp-hpa sees the refusal" "Error code 2: '..' in filename" "$out"
[ -s "$DL/x" ] && fail "tftp-hpa got bytes for ../secret"
rm -f "$DL/x"
expect_error "absolute path" "$(req 1 /etc/passwd octet)" 2 "absolute path"
still_serving "absolute path"
expect_error "absolute path to a file that is in the root" "$(req 1 /small octet)" 2 "absolute path"
expect_error "missing file" "$(req 1 nope octet)" 1 "file not found"
rc=0
curl -sS -o "$DL/x" "tftp://127.0.0.1:$PORT/nope" 2>/dev/null || rc=$?
check_eq "curl: missing file" 68 "$rc"
still_serving "missing file"
expect_error "missing directory" "$(req 1 nodir/x octet)" 1 "file not found"
expect_error "a file as a directory" "$(req 1 small/x octet)" 1 "file not found"
expect_error "symlink out of the root" "$(req 1 evil octet)" 2 "symbolic links are not followed"
still_serving "symlink out of the root"
expect_error "symlinked directory on the way" "$(req 1 etc-link/passwd octet)" 2 "symbolic links are not followed"
expect_error "symlink inside the root (documented: never followed)" "$(req 1 inner-link octet)" 2 "symbolic links are not followed"
expect_error "FIFO" "$(req 1 fifo octet)" 2 "not a regular file"
still_serving "FIFO (the loop did not block on it)"
expect_error "directory" "$(req 1 sub octet)" 2 "not a regular file"
expect_error "backslash" "$(req 1 'sub\dir' octet)" 2 "backslash in filename"
expect_error "control character" "$(req 1 "$(printf 'a\033b')" octet)" 2 "control character in filename"
expect_error "unknown mode" "$(req 1 small mail)" 4 "unsupported mode (octet or netascii only)"
expect_error "garbage mode" "$(req 1 small xyzzy)" 4 "unsupported mode (octet or netascii only)"
still_serving "unknown mode"
expect_error "WRQ" "$(req 2 upload octet)" 2 "server is read-only"
printf 'x' >"$T/up"
rc=0
curl -sS -T "$T/up" "tftp://127.0.0.1:$PORT/up" 2>/dev/null || rc=$?
check_eq "curl upload refused" 69 "$rc"
[ -e "$ROOT/up" ] && fail "an upload created a file"
still_serving "WRQ"
expect_error "duplicate option" "$(req 1 small octet blksize 1024 BLKSIZE 1024)" 8 "option blksize given twice"
still_serving "duplicate option"
expect_error "filename not NUL-terminated" "0001$(hexs small)" 4 "filename not NUL-terminated"
expect_error "mode missing" "0001$(hexs small)00" 4 "mode missing"
expect_error "empty filename" "000100$(hexs octet)00" 4 "empty filename"
expect_error "filename of 256 bytes" "$(req 1 "$(printf 'n%.0s' $(seq 256))" octet)" 4 "filename longer than 255 bytes"
expect_error "request over 512 bytes" "$(req 1 small octet x-pad "$(printf 'p%.0s' $(seq 500))")" 4 "request longer than 512 bytes"
still_serving "truncated requests"
# Not answered at all: not a request, or not even an opcode.
for h in 00 0009000100 00040001 000500006869; do
	raw "$h"
	check_eq "no answer to $h on the request port" timeout "$REPLY"
done
still_serving "garbage on the request port"
# Bad option values are ignored (RFC 2347): no OACK for them, 512-byte blocks.
for v in 0 7 70000 abc ""; do
	raw "$(req 1 small octet blksize "$v")"
	check_eq "blksize '$v' ignored: DATA 1 at once" "00030001" "${REPLY:0:8}"
	check_eq "blksize '$v' ignored: 512-byte block" $(((4 + 512) * 2)) "${#REPLY}"
done
for v in 0 100000 -1; do
	raw "$(req 1 small octet windowsize "$v")"
	check_eq "windowsize '$v' ignored: DATA 1 at once" "00030001" "${REPLY:0:8}"
done
raw "$(req 1 small octet blksize 1024 windowsize 0 timeout 0)"
check_eq "only the good option in the OACK" "0006$(hexs blksize)00$(hexs 1024)00" "$REPLY"
check_contains "ignored option logged" 'option windowsize out of range 1..65535: option ignored' "$(daemon_log)"
for o in "blksize 7" "blksize 0" "windowsize 0"; do
	atftp --option "$o" -g -r odd -l "$DL/a" 127.0.0.1 "$PORT" >/dev/null 2>&1 || fail "atftp --option $o"
	check_file "atftp --option '$o' (ignored)" odd "$DL/a"
done
still_serving "bad option values"

echo "   -- wrong transfer ID"
out=$("$UDPSEND" -t 2000 -s 127.0.0.1 "$PORT" odd "$DL/stray")
check_eq "stray ACK answered with ERROR 5" "stray=$(err_hex 5 'unknown transfer ID')" "$out"
check_file "download with a stray packet in the middle" odd "$DL/stray"
check_eq "wrong TID logged once" 1 "$(daemon_log | grep -c 'a wrong transfer ID: answered ERROR 5')"

echo "   -- 20 parallel downloads"
pids=()
for i in $(seq 20); do
	f=odd
	[ $((i % 2)) -eq 0 ] && f=exact1468
	atftp --option "blksize 1468" --option "windowsize 8" -g -r $f -l "$DL/p$i.$f" 127.0.0.1 "$PORT" >/dev/null 2>&1 &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail "a parallel atftp failed"; done
for i in $(seq 20); do
	f=odd
	[ $((i % 2)) -eq 0 ] && f=exact1468
	check_file "parallel download $i" $f "$DL/p$i.$f"
done
still_serving "parallel downloads"

stop_tftpd
check_eq "no transfer left" 0 "$(stat_of active)"
# The only failed transfers: those udpsend ended with ERROR 0 after the first answer.
check_eq "failed = transfers ended by udpsend" "$(daemon_log | grep -c 'ended the transfer with ERROR 0 "udpsend"')" \
	"$(stat_of failed)"
check_eq "requests = completed + failed + refused + dropped + duplicates + active" "$(stat_of requests)" \
	"$(($(stat_of completed) + $(stat_of failed) + $(stat_of refused) + $(stat_of dropped) + $(stat_of duplicates) + $(stat_of active)))"
check_eq "dropped: garbage and stray packets on the request port" 1 "$([ "$(stat_of dropped)" -ge 4 ] && echo 1)"
echo "   stats: $STATS"

echo "   -- a client that stops acknowledging; busy"
# 200 ms, then 400, 800, 1600: given up 3 s after the first block.
start_tftpd -m 3 -t 200 -r 3 -b 1468 -w 16
"$UDPSEND" -t 3000 -n 127.0.0.1 "$PORT" big >"$T/noack1" &
noack=$!
sleep 0.2
t0=$(now_ms)
atftp --option "blksize 1468" -g -r odd -l "$DL/a" 127.0.0.1 "$PORT" >/dev/null 2>&1 || fail "atftp beside a silent client"
t1=$(now_ms)
check_file "download beside a silent client" odd "$DL/a"
if kill -0 "$noack" 2>/dev/null; then ok; else fail "the silent client was given up before the other download ended"; fi
check_eq "the other download was not slowed down" 1 "$([ $((t1 - t0)) -lt 2000 ] && echo 1)"
wait "$noack" || fail "no ERROR for the silent client"
check_eq "silent client: first block sent 1 + 3 times, then ERROR 0" \
	"data=4 oack=0 first=1 error=0 timed out waiting for ACK" "$(cat "$T/noack1")"
"$UDPSEND" -t 3000 -n 127.0.0.1 "$PORT" small blksize 1024 >"$T/noack2" || true
check_eq "silent client after an OACK: OACK sent 1 + 3 times" \
	"data=0 oack=4 first=-1 error=0 timed out waiting for ACK" "$(cat "$T/noack2")"
check_eq "giving up logged once per transfer" 2 "$(daemon_log | grep -c 'gave up on .*no ACK after 3 retransmissions')"

# Lost packets (udpsend drops every Nth DATA it receives): the server
# retransmits on its timer (windowsize 1; duplicate ACKs never trigger a
# resend) or rewinds to the block after the client's ACK (RFC 7440). Each
# client sends its RRQ twice: the second is a duplicate, not a new transfer.
out=$("$UDPSEND" -t 100 -w 1 -d 7 127.0.0.1 "$PORT" odd "$DL/l1") || fail "lossy windowsize 1"
check_file "windowsize 1, 1 DATA in 7 lost ($out)" odd "$DL/l1"
out=$("$UDPSEND" -t 100 -w 8 -d 13 127.0.0.1 "$PORT" odd "$DL/l8") || fail "lossy windowsize 8"
check_file "windowsize 8, 1 DATA in 13 lost ($out)" odd "$DL/l8"
t0=$(now_ms)
out=$("$UDPSEND" -t 100 -w 16 -d 997 127.0.0.1 "$PORT" big "$DL/l16") || fail "lossy windowsize 16, 40 MiB"
t1=$(now_ms)
check_file "40 MiB, windowsize 16, blksize 512 (rollover), 1 DATA in 997 lost ($out)" big "$DL/l16"
echo "   40 MiB, blksize 512, windowsize 16, 1 DATA in 997 lost: $((t1 - t0)) ms ($out)"

# Busy: three silent clients hold the three slots.
pids=()
for i in 1 2 3; do
	"$UDPSEND" -t 3000 -n 127.0.0.1 "$PORT" "small" >/dev/null &
	pids+=($!)
done
sleep 0.3
expect_error "past max_transfers" "$(req 1 small octet)" 0 "server busy, try again later"
rc=0
curl -sS -o "$DL/x" "tftp://127.0.0.1:$PORT/small" 2>/dev/null || rc=$?
check_eq "curl when busy" 1 "$([ "$rc" -ne 0 ] && echo 1)"
check_contains "busy logged" 'server busy, try again later (ERROR 0)' "$(daemon_log)"
for p in "${pids[@]}"; do wait "$p" || true; done
still_serving "busy (slots free again)"
# Stopped in the middle of a transfer: the client is told, nothing leaks.
"$UDPSEND" -t 3000 -n 127.0.0.1 "$PORT" big >"$T/noack3" &
noack=$!
sleep 0.1
stop_tftpd
wait "$noack" || fail "no ERROR at shutdown"
check_eq "a transfer cut by the shutdown" "data=1 oack=0 first=1 error=0 server shutting down" "$(cat "$T/noack3")"
# The counters are printed as the loop stops, before the running transfer is cut.
check_eq "silent clients counted as failed" 5 "$(stat_of failed)"
check_eq "the transfer cut by the shutdown was active" 1 "$(stat_of active)"
check_eq "RRQs sent twice counted as duplicates" 3 "$(stat_of duplicates)"
check_eq "requests = completed + failed + refused + dropped + duplicates + active" "$(stat_of requests)" \
	"$(($(stat_of completed) + $(stat_of failed) + $(stat_of refused) + $(stat_of dropped) + $(stat_of duplicates) + $(stat_of active)))"
check_eq "retransmissions counted" 1 "$([ "$(stat_of retransmits)" -ge 15 ] && echo 1)"
echo "   stats: $STATS"

if ip -6 addr show dev lo 2>/dev/null | grep -q '::1'; then
	echo "   -- IPv6"
	rm -f "$T/tftp.port"
	"$TFTPD" -p "$T/tftp.port" "[::1]:0" "$ROOT" >"$T/tftpd.v6.out" 2>>"$T/daemon.log" &
	TFTPD_PID=$!
	DAEMON_PID=$TFTPD_PID
	for _ in $(seq 100); do [ -s "$T/tftp.port" ] && break; sleep 0.05; done
	PORT=$(cat "$T/tftp.port")
	curl -sS --tftp-blksize 1468 -o "$DL/v6" "tftp://[::1]:$PORT/odd" || fail "curl over IPv6"
	check_file "IPv6 download" odd "$DL/v6"
	TFTPD_N=v6
	stop_tftpd
fi

finish
