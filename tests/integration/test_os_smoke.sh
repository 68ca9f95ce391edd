#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The test OS images of rootfs/build-os boot under QEMU straight from a disk
# (no PXE, no bootwaved): console marker, SSH login with a key of the run,
# the health probe, a heartbeat from this build's agent, a clean power-off
# with a clean filesystem, an untouched data partition. The healthy v1 and
# the broken version (its probe fails). See tests/rack/os-smoke.
set -euo pipefail
: "${BW_BIN:?BW_BIN must name the directory holding bootwave-agent}"
BOOTWAVE_AGENT=$BW_BIN/bootwave-agent "$(dirname "$0")/../rack/os-smoke" v1 broken 2>&1 | sed 's/^/   /'
