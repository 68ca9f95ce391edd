#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The CLI's contract: where it finds the server and token, its exit codes,
# table and JSON output, and the upload progress bar on a terminal.
. "$(dirname "$0")/lib.sh"
start_daemon

# Server and token from flags, environment, or a config file.
echo "$ADMIN" >"$T/token"
env -u BOOTWAVE_URL -u BOOTWAVE_TOKEN "$BW_BIN/bootwave" --url "$URL" --token-file "$T/token" whoami >/dev/null && ok || fail "flags"
printf '[bootwave]\nurl = %s\ntoken_file = %s\n' "$URL" "$T/token" >"$T/cli.conf"
env -u BOOTWAVE_URL -u BOOTWAVE_TOKEN "$BW_BIN/bootwave" -c "$T/cli.conf" whoami >/dev/null && ok || fail "config file"
env -u BOOTWAVE_URL -u BOOTWAVE_TOKEN BOOTWAVE_CONFIG="$T/cli.conf" "$BW_BIN/bootwave" whoami >/dev/null && ok || fail "BOOTWAVE_CONFIG"
printf '[bootwave]\nserver = x\n' >"$T/bad.conf"
bw_rc 2 -c "$T/bad.conf" whoami
check_contains "bad config key named" "bad.conf:2: [bootwave] server" "$ERR"
mkdir -p "$T/home/.config/bootwave"
cp "$T/cli.conf" "$T/home/.config/bootwave/cli.conf"
env -u BOOTWAVE_URL -u BOOTWAVE_TOKEN HOME="$T/home" "$BW_BIN/bootwave" whoami >/dev/null && ok || fail "~/.config/bootwave/cli.conf"

# Exit codes.
bw_rc 0 site create s1
bw_rc 5 site create s1
bw_rc 3 site show nope
bw_rc 6 site create "Not A Name"
bw_rc 2 site frobnicate s1
bw_rc 2 site show
BOOTWAVE_TOKEN= bw_rc 4 site list
BOOTWAVE_URL=http://127.0.0.1:1 bw_rc 8 site list
check_contains "unreachable named" "no answer from the server" "$ERR"

# Output formats.
bw_rc 0 site list
check_eq "table" "NAME  DESCRIPTION  PAIRED WITH
s1    -            -" "$OUT"
check_eq "json list" "s1" "$(bw site list -o json | jq -r '.[0].name')"
check_eq "json first" "s1" "$(bw -o json site list | jq -r '.[0].name')"
bw_rc 0 -q site create s2
check_eq "quiet create prints nothing" "" "$OUT"

# Many pages are fetched and joined.
for i in $(seq 1 25); do bw -q rack create "r$i" --zone "$( [ "$i" = 1 ] && bw -q zone create z1 --site s1; echo z1)" ; done
check_eq "all pages" "25" "$(bw -o json rack list | jq length)"
stop_daemon
echo "page_size = 10" >>"$CONF"
start_daemon
check_eq "all pages of 10" "25" "$(bw -o json rack list | jq length)"

# A progress bar when stderr is a terminal (script gives the CLI a pty).
os_tree "$T/tree"
head -c 8000000 /dev/urandom >"$T/tree/payload"
ext4_image "$T/tree" "$T/disk.img" 12M
bw -q image create os
script -qec "$BW_BIN/bootwave image publish os 1 $T/disk.img" /dev/null >"$T/tty.out" 2>&1 || true
check_contains "progress bar" "upload [" "$(cat "$T/tty.out")"
check_contains "reaches 100%" "100%" "$(cat "$T/tty.out")"
check_eq "published" "1" "$(bw -o json image version os 1 | jq -r .version)"
bw_rc 0 image publish os 2 "$T/disk.img"
check_not_contains "no bar when not a terminal" "upload [" "$ERR"
stop_daemon
finish
