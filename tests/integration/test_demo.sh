#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `make demo` stays true: the demo script starts bootwaved, enrolls its
# sample inventory through the CLI and shows it.
. "$(dirname "$0")/lib.sh"
out=$(BW_BIN="$BW_BIN" BW_DEMO_DIR="$T/demo" BW_DEMO_PORT=0 BW_DEMO_ONESHOT=1 \
	"$(dirname "$0")/../../scripts/demo" 2>&1) || fail "demo failed: $out"
check_contains "nodes listed" "node5  52:54:00:00:00:05  ams1-z2" "$out"
check_contains "latest moved to 1.1" "1.1      tar     gzip" "$out"
check_contains "next steps" "The appliance is running" "$out"
check_eq "demo daemon stopped" "0" "$(pgrep -f "$T/demo/bootwaved.conf" | wc -l)"
finish
